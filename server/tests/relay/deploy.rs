//! `deploy/` as an operator installs it: the systemd units verify with `systemd-analyze
//! verify` (in a root holding the real binary, so its paths are checked too), the relay's
//! sandbox rates "OK" with `systemd-analyze security`, the system user is one
//! `systemd-sysusers` creates, and the example settings and the unit's flags pass
//! `timebank-relay config check`. The units cannot be started here (systemd is not PID 1 in
//! CI's container); these are the checks that can run.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::process::BIN;

const UNITS: [&str; 3] = ["timebank-relay.service", "timebank-relay-backup.service", "timebank-relay-backup.timer"];

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

fn installed() -> bool {
    ["systemd-analyze", "systemd-sysusers"]
        .iter()
        .all(|tool| Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success()))
}

fn said(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// A root as the units would find it: the system's units, the relay at its path, the
/// shell and `find` the backup uses.
fn root_with_units() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let at = |path: &str| root.path().join(path.trim_start_matches('/'));
    fs::create_dir_all(at("/etc/systemd/system")).unwrap();
    fs::create_dir_all(at("/usr/lib/systemd")).unwrap();
    assert!(Command::new("cp").arg("-r").arg("/usr/lib/systemd/system").arg(at("/usr/lib/systemd/")).status().unwrap().success());
    for (from, to) in [(BIN, "/usr/local/bin/timebank-relay"), ("/bin/sh", "/bin/sh"), ("/usr/bin/find", "/usr/bin/find")] {
        fs::create_dir_all(at(to).parent().unwrap()).unwrap();
        fs::copy(from, at(to)).unwrap();
    }
    for unit in UNITS {
        fs::copy(deploy().join(unit), at(&format!("/etc/systemd/system/{unit}"))).unwrap();
    }
    root
}

#[test]
fn the_systemd_units_verify_and_the_relay_runs_sandboxed() {
    if !installed() {
        // CI installs it (scripts/install-systemd-analyze.sh, run by scripts/test-all.sh);
        // a developer's `cargo test` without it is told, not failed.
        assert!(std::env::var_os("CI").is_none(), "systemd-analyze is missing: scripts/install-systemd-analyze.sh installs it");
        eprintln!("deploy test skipped: systemd-analyze is not installed (scripts/install-systemd-analyze.sh)");
        return;
    }
    let root = root_with_units();
    for unit in UNITS {
        let path = root.path().join("etc/systemd/system").join(unit);
        let output = Command::new("systemd-analyze")
            .arg("verify")
            .arg(format!("--root={}", root.path().display()))
            .arg(&path)
            .output()
            .unwrap();
        // Unknown keys and bad values are only warnings: a clean unit says nothing.
        assert!(output.status.success() && said(&output).trim().is_empty(), "{unit}: {}", said(&output));
    }
    for unit in ["timebank-relay.service", "timebank-relay-backup.service"] {
        let output = Command::new("systemd-analyze")
            .args(["security", "--offline=yes", "--threshold=20", "--no-pager"])
            .arg(format!("--root={}", root.path().display()))
            .arg(unit)
            .output()
            .unwrap();
        assert!(output.status.success(), "{unit} is exposed more than 2.0: {}", said(&output));
    }

    // The relay's own user, as systemd-sysusers creates it.
    let users = tempfile::tempdir().unwrap();
    fs::create_dir_all(users.path().join("etc")).unwrap();
    let output = Command::new("systemd-sysusers")
        .arg(format!("--root={}", users.path().display()))
        .arg(deploy().join("timebank-relay.sysusers"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", said(&output));
    let passwd = fs::read_to_string(users.path().join("etc/passwd")).unwrap();
    assert!(passwd.starts_with("timebank-relay:") && passwd.contains(":/var/lib/timebank-relay:"), "{passwd}");
}

#[test]
fn the_example_settings_and_the_units_flags_pass_config_check() {
    let example = deploy().join("relay.toml");
    let output = Command::new(BIN).arg("--config").arg(&example).args(["config", "check"]).output().unwrap();
    assert!(output.status.success(), "{}", said(&output));
    let shown: toml::Table = String::from_utf8_lossy(&output.stdout).parse().unwrap();
    assert_eq!(shown["metrics-listen"].as_str(), Some("127.0.0.1:9464"));

    // The service's command line, with the example as its file, is one the relay accepts.
    let unit = fs::read_to_string(deploy().join("timebank-relay.service")).unwrap();
    let exec = unit.lines().find_map(|l| l.strip_prefix("ExecStart=")).unwrap();
    let mut words = exec.split_whitespace();
    assert_eq!(words.next(), Some("/usr/local/bin/timebank-relay"));
    let flags: Vec<String> =
        words.map(|w| if w == "/etc/timebank-relay/relay.toml" { example.display().to_string() } else { w.to_owned() }).collect();
    let output = Command::new(BIN).args(&flags).args(["config", "check"]).output().unwrap();
    assert!(output.status.success(), "{exec}: {}", said(&output));
    let shown: toml::Table = String::from_utf8_lossy(&output.stdout).parse().unwrap();
    assert_eq!(shown["data"].as_str(), Some("/var/lib/timebank-relay"));
}
