//! `timebank watch` against a real relay on 127.0.0.1: a coordinator dispatches at the
//! console's desk and the watching volunteer's phone has the assignment within a second,
//! without polling (one JSON line per event shows the sync came from the relay's hint);
//! revoked, the watch ends with the relay's words and exit code 5.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers outside #[test] functions

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;
use timebank_server::{desk, registry};
use timebank_testing::TestRelay;

const BIN: &str = env!("CARGO_BIN_EXE_timebank");

/// `timebank watch --json` running, and its lines as they come.
struct Watching {
    child: Child,
    lines: Receiver<Value>,
}

impl Watching {
    fn start(dir: &TempDir) -> Watching {
        let mut child = Command::new(BIN)
            .arg("--data")
            .arg(dir.path())
            .args(["watch", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                let value: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not one JSON object a line ({e}): {line}"));
                if sender.send(value).is_err() {
                    return;
                }
            }
        });
        Watching { child, lines }
    }

    /// The lines until one `wanted` picks, within `within`.
    fn until(&self, within: Duration, wanted: impl Fn(&Value) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + within;
        let mut seen = Vec::new();
        loop {
            let left = deadline.checked_duration_since(Instant::now()).unwrap_or_else(|| panic!("not within {within:?}: {seen:?}"));
            let line = self.lines.recv_timeout(left).unwrap_or_else(|_| panic!("not within {within:?}: {seen:?}"));
            let done = wanted(&line);
            seen.push(line);
            if done {
                return seen;
            }
        }
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn timebank(dir: &TempDir, args: &[&str]) -> std::process::Output {
    Command::new(BIN).arg("--data").arg(dir.path()).args(args).output().unwrap()
}

#[test]
fn a_dispatch_at_the_console_reaches_the_watching_phone_and_a_revoked_one_stops() {
    let relay = TestRelay::new();
    let (volunteer, elder, coordinator) =
        (relay.member("volunteer", "李伟"), relay.member("elder", "王芳"), relay.member("coordinator", "赵协调"));
    let phone = tempfile::tempdir().unwrap();
    let enrolled = timebank(&phone, &["enroll", "--relay", &relay.url(), "--code", &relay.code(&volunteer), "--json"]);
    assert!(enrolled.status.success(), "{}", String::from_utf8_lossy(&enrolled.stderr));

    let watching = Watching::start(&phone);
    let first = watching.until(Duration::from_secs(10), |line| line["event"] == "synced");
    assert_eq!(first[0]["event"], "connected", "{first:?}");

    // What the console's orders board does: place and dispatch as the station's coordinator.
    let order = desk::place_order(&relay.relay, &coordinator.id, &elder.id, "companionship", "周二下午", None).unwrap();
    let dispatched = Instant::now();
    desk::dispatch(&relay.relay, &coordinator.id, &order, &volunteer.id, None).unwrap();
    let lines = watching.until(Duration::from_secs(5), |line| line["event"] == "synced" && line["report"]["docs_changed"] != 0);
    let took = dispatched.elapsed();
    assert!(took < Duration::from_secs(1), "the dispatch reached the phone after {took:?}");
    let synced = lines.last().unwrap();
    assert_eq!(
        synced["hinted"],
        serde_json::json!([format!("member/{}", volunteer.id)]),
        "the relay's hint set the sync off: {lines:?}"
    );
    drop(watching);

    let assignments: Value = serde_json::from_slice(&timebank(&phone, &["assignments", "--json"]).stdout).unwrap();
    assert_eq!(assignments[0]["order"], order.as_str(), "{assignments}");

    // Watching again, then revoked at the station: the watch ends with the relay's words.
    let mut watching = Watching::start(&phone);
    watching.until(Duration::from_secs(10), |line| line["event"] == "synced");
    let device = relay.relay.store().devices().unwrap().into_iter().find(|d| d.member == volunteer.id).unwrap();
    registry::revoke_device(&relay.relay, &device.id, None).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = watching.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the watch of a revoked device did not end");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(5), "refused by the relay");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut watching.child.stderr.take().unwrap(), &mut stderr).unwrap();
    let error: Value = serde_json::from_str(stderr.trim()).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    assert!(error["error"].as_str().unwrap().contains("revoked"), "{error}");
    assert_eq!(error["kind"], "refused");
}

#[test]
fn watch_says_in_words_what_happens_and_needs_an_enrolled_phone() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "李伟");
    let phone = tempfile::tempdir().unwrap();
    let enrolled = timebank(&phone, &["enroll", "--relay", &relay.url(), "--code", &relay.code(&volunteer)]);
    assert!(enrolled.status.success());
    let mut child = Command::new(BIN).arg("--data").arg(phone.path()).arg("watch").stdout(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let connected = lines.next().unwrap().unwrap();
    assert!(connected.starts_with(&format!("watching {}: connected", relay.url())), "{connected}");
    let caught_up = lines.next().unwrap().unwrap();
    assert!(caught_up.starts_with("caught up: synced"), "{caught_up}");
    child.kill().unwrap();
    child.wait().unwrap();

    let local = tempfile::tempdir().unwrap();
    assert!(timebank(&local, &["init", "--member", "v-1001", "--station", "s-caoyang"]).status.success());
    let refused = timebank(&local, &["watch"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not enrolled with a relay"));
}
