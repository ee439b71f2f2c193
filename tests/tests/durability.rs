//! Nothing acknowledged is lost: a writer process killed with SIGKILL at random moments,
//! again and again, never loses a visit it reported saved and never leaves a store that
//! will not open.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use timebank_engine::Engine;

#[test]
fn kill_9_mid_write_loses_no_acknowledged_visit() {
    let dir = tempfile::tempdir().unwrap();
    let mut acknowledged: HashSet<String> = HashSet::new();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..12 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_visit-writer"))
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Wait for the writer to get going (a few acknowledged visits, however slow the
        // disk), then kill it at a pseudo-random moment.
        for _ in 0..3 {
            let id = rx.recv_timeout(Duration::from_secs(30)).expect("the writer acknowledged nothing in 30 s");
            acknowledged.insert(id);
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_millis(5 + seed % 150);
        let until = Instant::now() + delay;
        while Instant::now() < until {
            if let Ok(id) = rx.recv_timeout(Duration::from_millis(1)) {
                acknowledged.insert(id);
            }
        }
        child.kill().unwrap(); // SIGKILL on Unix
        let status = child.wait().unwrap();
        assert!(!status.success(), "round {round}: the writer should have been killed");
        reader.join().unwrap();
        acknowledged.extend(rx.try_iter());

        let engine = Engine::open(dir.path()).unwrap_or_else(|e| panic!("round {round}: the store does not open after kill -9: {e}"));
        let stored: HashSet<String> = engine.visits().unwrap().into_iter().map(|v| v.visit.id.to_string()).collect();
        let lost: Vec<&String> = acknowledged.difference(&stored).collect();
        assert!(lost.is_empty(), "round {round}: acknowledged visits lost after kill -9: {lost:?}");
    }
    assert!(acknowledged.len() > 24, "too few writes to prove anything: {}", acknowledged.len());
}
