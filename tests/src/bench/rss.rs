//! Resident memory of a fresh process that opens a store: a cross-check that sees what
//! the counting allocator cannot (SQLite's own `malloc`, the allocator's slack, memory
//! used while opening and not handed back to the system). Anonymous pages only, so the
//! program's code paged in on first use does not count. Linux only.
//!
//! The bench binary runs itself as the child, through its hidden `probe` subcommand:
//! `timebank-bench probe --engine DIR` or `timebank-bench probe --automerge FILE` prints
//! how many bytes the resident set grew by while opening.

use std::path::{Path, PathBuf};
use std::process::Command;

use automerge::Automerge;
use timebank_engine::Engine;

use super::BenchError;

/// What a probe opens.
#[derive(Clone, Debug)]
pub enum ProbeTarget {
    /// A store directory, opened with `Engine::open`.
    Engine(PathBuf),
    /// A saved automerge document, read and then opened with `Automerge::load`.
    Automerge(PathBuf),
}

/// The process's resident anonymous memory in bytes (`RssAnon`), where `/proc` has it.
pub fn resident_bytes() -> Option<u64> {
    resident_bytes_of("self")
}

/// The resident anonymous memory of process `pid` (`self`, or a number), in bytes.
pub fn resident_bytes_of(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("RssAnon:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// In the child: how many bytes the resident set grows by while `target` is opened (what
/// was opened is still held when the second reading is taken).
pub fn probe(target: &ProbeTarget) -> Result<u64, BenchError> {
    let resident = || resident_bytes().ok_or("no /proc/self/status here");
    let (before, after) = match target {
        ProbeTarget::Engine(dir) => {
            let before = resident()?;
            let engine = Engine::open(dir)?;
            let after = resident()?;
            drop(engine);
            (before, after)
        }
        ProbeTarget::Automerge(file) => {
            let bytes = std::fs::read(file)?;
            let before = resident()?;
            let doc = Automerge::load(&bytes)?;
            let after = resident()?;
            drop(doc);
            (before, after)
        }
    };
    Ok(after.saturating_sub(before))
}

/// In the parent: runs `exe probe ...` in a fresh process and returns what it printed.
pub fn probe_in_child(exe: &Path, target: &ProbeTarget) -> Result<u64, BenchError> {
    let mut command = Command::new(exe);
    command.arg("probe");
    match target {
        ProbeTarget::Engine(dir) => command.arg("--engine").arg(dir),
        ProbeTarget::Automerge(file) => command.arg("--automerge").arg(file),
    };
    let output = command.output()?;
    if !output.status.success() {
        return Err(format!("the probe failed: {}", String::from_utf8_lossy(&output.stderr).trim()).into());
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().parse()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_a_plausible_resident_set() {
        let rss = resident_bytes().unwrap();
        assert!(rss > 0 && rss < 64 * 1024 * 1024 * 1024, "{rss}");
    }
}
