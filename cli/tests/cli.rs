//! Drives the `timebank` binary as a tester or script would: flows, JSON output, and
//! bad input that must give a clear error and change nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] functions

use assert_cmd::Command;
use chrono::{Duration, SecondsFormat, Utc};
use serde_json::Value;
use tempfile::TempDir;

struct Phone {
    dir: TempDir,
}

impl Phone {
    fn volunteer() -> Phone {
        let phone = Phone { dir: tempfile::tempdir().unwrap() };
        phone.ok(&["init", "--member", "v-1001", "--station", "s-caoyang"]);
        phone
    }

    fn cmd(&self, args: &[&str]) -> assert_cmd::assert::Assert {
        Command::cargo_bin("timebank").unwrap().arg("--data").arg(self.dir.path()).args(args).assert()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args).success().get_output().stdout.clone();
        String::from_utf8(out).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        serde_json::from_str(&self.ok(&all)).unwrap()
    }

    /// Runs a command that must fail with exit code `code`; returns its stderr.
    fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.cmd(args).code(code).get_output().stderr.clone();
        String::from_utf8(out).unwrap()
    }

    fn store_file(&self) -> std::path::PathBuf {
        self.dir.path().join("timebank.sqlite3")
    }
}

fn rfc3339(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[test]
fn check_in_and_out_lists_the_visit_as_saved_on_phone() {
    let phone = Phone::volunteer();
    let arrived = rfc3339(Utc::now() - Duration::minutes(50));
    let id = phone.ok(&["visit", "start", "--elder", "e-2001", "--service", "companionship", "--at", &arrived]);
    let id = id.trim();
    assert!(id.starts_with("v-"), "visit start prints the id: {id}");

    let visits = phone.json(&["visits"]);
    assert_eq!(visits[0]["state"], "checked in");
    assert_eq!(visits[0]["end"], Value::Null);

    let ended = phone.json(&["visit", "end", id, "--note", "read the paper together"]);
    assert_eq!(ended["id"], id);

    let visits = phone.json(&["visits"]);
    let visit = &visits.as_array().unwrap()[0];
    for key in ["id", "elder", "service", "start", "end", "minutes", "state"] {
        assert!(visit.get(key).is_some(), "visits --json lacks {key}: {visit}");
    }
    assert_eq!(visit["elder"], "e-2001");
    assert_eq!(visit["service"], "companionship");
    assert_eq!(visit["minutes"], 50);
    assert_eq!(visit["state"], "saved on phone");
    assert_eq!(visit["note"], "read the paper together");

    let status = phone.json(&["status"]);
    assert_eq!(status["visits"], 1);
    assert_eq!(status["open_visits"], 0);
    assert!(status["unsynced_changes"].as_u64().unwrap() >= 2, "{status}");
    assert!(status["store_bytes"].as_u64().unwrap() > 0, "{status}");
}

#[test]
fn a_paper_visit_keeps_the_service_date_and_the_entry_date() {
    let phone = Phone::volunteer();
    let start = Utc::now() - Duration::days(3);
    let end = start + Duration::minutes(90);
    phone.ok(&["visit", "log", "--elder", "e-2001", "--service", "meals", "--start", &rfc3339(start), "--end", &rfc3339(end)]);
    let visits = phone.json(&["visits"]);
    let visit = &visits[0];
    assert_eq!(visit["minutes"], 90);
    assert_eq!(visit["source"], "paper");
    assert_eq!(visit["start"], rfc3339(start));
    let recorded: chrono::DateTime<Utc> = visit["recorded_at"].as_str().unwrap().parse().unwrap();
    assert!(recorded - Utc::now() < Duration::minutes(1) && recorded > start + Duration::days(2));
}

#[test]
fn the_elder_confirms_on_the_volunteers_phone() {
    let phone = Phone::volunteer();
    let start = Utc::now() - Duration::hours(2);
    let id = phone.ok(&[
        "visit",
        "log",
        "--elder",
        "e-2001",
        "--service",
        "cleaning",
        "--start",
        &rfc3339(start),
        "--end",
        &rfc3339(start + Duration::hours(1)),
    ]);
    let confirmed = phone.json(&["visit", "confirm", id.trim(), "--by", "family"]);
    assert_eq!(confirmed["confirmed_by"], "family");
}

#[test]
fn spending_requests_wait_on_the_phone_and_reserve_coins() {
    let phone = Phone::volunteer();
    let redeem = phone.json(&["redeem", "--service", "tcm-physiotherapy", "--minutes", "60"]);
    assert_eq!(redeem["state"], "saved on phone");
    phone.json(&["gift", "--to", "e-2001", "--minutes", "30"]);
    let balance = phone.json(&["balance"]);
    assert_eq!(balance["confirmed_minutes"], 0);
    assert_eq!(balance["reserved_minutes"], 90);
    let requests = phone.json(&["requests"]);
    assert_eq!(requests.as_array().unwrap().len(), 2);
    assert_eq!(requests[0]["state_label"], "saved on phone");
}

#[test]
fn bad_input_is_refused_clearly_and_changes_nothing() {
    let phone = Phone::volunteer();
    let start = Utc::now() - Duration::hours(5);
    let id = phone.ok(&[
        "visit",
        "log",
        "--elder",
        "e-2001",
        "--service",
        "meals",
        "--start",
        &rfc3339(start),
        "--end",
        &rfc3339(start + Duration::hours(1)),
    ]);
    let id = id.trim().to_owned();
    let before = phone.ok(&["visits", "--json"]);
    let status_before = phone.json(&["status"]);

    let s = rfc3339(start);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["visit", "log", "--elder", "e-2001", "--service", "meals", "--start", &s, "--end", &s], "shorter than one minute"),
        (
            vec![
                "visit",
                "log",
                "--elder",
                "e-2001",
                "--service",
                "meals",
                "--start",
                "2026-11-28T10:00:00Z",
                "--end",
                "2026-11-28T09:00:00Z",
            ],
            "before it starts",
        ),
        (vec!["visit", "log", "--elder", "e-2001", "--service", "karaoke", "--start", &s, "--end", &s], "not a known service"),
        (vec!["visit", "log", "--elder", "E 2001", "--service", "meals", "--start", &s, "--end", &s], "not a valid member id"),
        (vec!["visit", "start", "--elder", "e-2001", "--service", "housekeeping"], "not a service volunteers give"),
        (vec!["visit", "end", &id], "is not open"),
        (vec!["visit", "end", "v-doesnotexist"], "not on this phone"),
        (vec!["redeem", "--service", "tcm-physiotherapy", "--minutes", "0"], "positive number of minutes"),
        (vec!["gift", "--to", "v-1001", "--minutes", "30"], "cannot give coins to yourself"),
    ];
    for (args, expected) in cases {
        let stderr = phone.fails(&args, 1);
        assert!(stderr.contains(expected), "{args:?}: expected {expected:?} in {stderr}");
    }
    // An over-long visit.
    let long_start = rfc3339(Utc::now() - Duration::hours(11));
    let long_end = rfc3339(Utc::now() - Duration::hours(1));
    let stderr =
        phone.fails(&["visit", "log", "--elder", "e-2001", "--service", "meals", "--start", &long_start, "--end", &long_end], 1);
    assert!(stderr.contains("over the station's maximum"), "{stderr}");

    assert_eq!(phone.ok(&["visits", "--json"]), before, "a refused command changed the visits");
    assert_eq!(phone.json(&["status"])["unsynced_changes"], status_before["unsynced_changes"]);
}

#[test]
fn errors_come_as_json_for_scripts() {
    let phone = Phone::volunteer();
    let stderr = phone.fails(&["visit", "end", "v-nope", "--json"], 1);
    let body: Value = serde_json::from_str(stderr.trim()).unwrap();
    assert_eq!(body["kind"], "not-found");
    assert!(body["error"].as_str().unwrap().contains("v-nope"));
}

#[test]
fn commands_before_init_say_how_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let stderr = Command::cargo_bin("timebank")
        .unwrap()
        .arg("--data")
        .arg(dir.path())
        .arg("visits")
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    assert!(String::from_utf8(stderr).unwrap().contains("timebank init"));
}

#[test]
fn init_twice_keeps_the_first_identity() {
    let phone = Phone::volunteer();
    let stderr = phone.fails(&["init", "--member", "v-9999", "--station", "s-other"], 1);
    assert!(stderr.contains("already exists"), "{stderr}");
    assert_eq!(phone.json(&["status"])["member"], "v-1001");
}

#[test]
fn a_damaged_store_is_reported_and_left_as_it_was() {
    let phone = Phone::volunteer();
    for f in ["timebank.sqlite3-wal", "timebank.sqlite3-shm"] {
        let _ = std::fs::remove_file(phone.dir.path().join(f));
    }
    let garbage: Vec<u8> = (0..8192_u32).map(|i| (i * 31 % 251) as u8).collect();
    std::fs::write(phone.store_file(), &garbage).unwrap();
    let stderr = phone.fails(&["visits"], 3);
    assert!(stderr.contains("damaged") && stderr.contains("nothing was changed"), "{stderr}");
    assert_eq!(std::fs::read(phone.store_file()).unwrap(), garbage);
}

#[test]
fn a_store_from_a_newer_app_is_refused_untouched() {
    let phone = Phone::volunteer();
    let conn = rusqlite::Connection::open(phone.store_file()).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let stderr = phone.fails(&["status"], 3);
    assert!(stderr.contains("newer timebank") && stderr.contains("update the app"), "{stderr}");
    let conn = rusqlite::Connection::open(phone.store_file()).unwrap();
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, 99);
}

#[test]
fn only_volunteers_check_in() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| Command::cargo_bin("timebank").unwrap().arg("--data").arg(dir.path()).args(args).assert();
    run(&["init", "--member", "e-2001", "--station", "s-caoyang", "--role", "elder"]).success();
    let out = run(&["visit", "start", "--elder", "e-2002", "--service", "meals"]).code(1).get_output().stderr.clone();
    assert!(String::from_utf8(out).unwrap().contains("for volunteer devices"));
    let order =
        run(&["order", "place", "--service", "meals", "--note", "lunch on Tuesday", "--json"]).success().get_output().stdout.clone();
    let order: Value = serde_json::from_slice(&order).unwrap();
    let orders = run(&["orders", "--json"]).success().get_output().stdout.clone();
    let orders: Value = serde_json::from_slice(&orders).unwrap();
    assert_eq!(orders[0]["id"], order["id"]);
    assert_eq!(orders[0]["state"], "requested");
}

#[test]
fn reviewing_is_for_coordinators_and_a_rejection_needs_a_reason() {
    let volunteer = Phone::volunteer();
    let stderr = volunteer.fails(&["review", "list"], 1);
    assert!(stderr.contains("for coordinator devices"), "{stderr}");

    let desk = Phone { dir: tempfile::tempdir().unwrap() };
    desk.ok(&["init", "--member", "c-3001", "--station", "s-caoyang", "--role", "coordinator"]);
    assert_eq!(desk.json(&["review", "list"]), serde_json::json!([]));
    let stderr = desk.fails(&["review", "reject", "v-0123456789abcdef"], 1);
    assert!(stderr.contains("--reason"), "{stderr}");
    let stderr = desk.fails(&["review", "approve", "v-0123456789abcdef"], 1);
    assert!(stderr.contains("not on this phone"), "{stderr}");

    assert_eq!(desk.json(&["redemption", "list"]), serde_json::json!([]));
    let stderr = desk.fails(&["redemption", "fulfil", "r-0123456789abcdef"], 1);
    assert!(stderr.contains("not on this phone"), "{stderr}");
    let stderr = volunteer.fails(&["redemption", "list"], 1);
    assert!(stderr.contains("for coordinator devices"), "{stderr}");
}

#[test]
fn enrolling_and_syncing_explain_what_is_missing_and_leave_no_half_made_store() {
    let local = Phone::volunteer();
    let stderr = local.fails(&["sync"], 1);
    assert!(stderr.contains("not enrolled") && stderr.contains("timebank enroll"), "{stderr}");

    let fresh = Phone { dir: tempfile::tempdir().unwrap() };
    let stderr = fresh.fails(&["enroll", "--relay", "http://relay.example.org", "--code", "K7MQ2XH9PA"], 1);
    assert!(stderr.contains("https://"), "{stderr}");
    // Nothing listens on port 1: the phone is offline, and says so.
    let stderr = fresh.fails(&["enroll", "--relay", "http://127.0.0.1:1", "--code", "K7MQ2XH9PA"], 4);
    assert!(stderr.contains("could not reach the relay"), "{stderr}");
    // The slip's link names its relay; a code alone needs one; a link and another relay conflict.
    let link = "timebank://enroll?relay=http%3A%2F%2F127.0.0.1%3A1&code=K7MQ2XH9PA";
    let stderr = fresh.fails(&["enroll", "--link", link], 4);
    assert!(stderr.contains("could not reach the relay"), "the link's relay was tried: {stderr}");
    let stderr = fresh.fails(&["enroll", "--code", "K7MQ2XH9PA"], 1);
    assert!(stderr.contains("relay's address") && stderr.contains("link"), "{stderr}");
    let stderr = fresh.fails(&["enroll", "--relay", "https://other.example.org", "--code", link], 1);
    assert!(stderr.contains("give the link alone"), "{stderr}");
    let stderr = fresh.fails(&["enroll", "--link", "timebank://enroll?code=K7MQ2XH9PA"], 1);
    assert!(stderr.contains("names no relay"), "{stderr}");
    assert!(!fresh.store_file().exists(), "a failed enrollment leaves no store behind");
}

/// Copies document `doc` from one phone's store to another's, as a sync through the relay would.
fn carry(doc: &timebank_engine::DocId, from: &Phone, to: &Phone) {
    let bytes = timebank_engine::Engine::open(from.dir.path()).unwrap().document_bytes(doc).unwrap();
    timebank_engine::Engine::open(to.dir.path()).unwrap().receive_changes(doc, &bytes).unwrap();
}

#[test]
fn assignments_name_the_elder_when_the_dispatch_carried_the_name() {
    use timebank_engine::documents::{self, member};
    use timebank_engine::model::{MemberId, Profile, Role, StationId, Verification};

    let desk = Phone { dir: tempfile::tempdir().unwrap() };
    desk.ok(&["init", "--member", "c-3001", "--station", "s-caoyang", "--role", "coordinator"]);
    // The coordinator's phone holds e-2001's document as registered at the station, with
    // the name; of e-2002 it knows only the id.
    let elder = timebank_engine::DocId::Member(MemberId::parse("e-2001").unwrap());
    let mut registered = documents::genesis(&elder, automerge::ActorId::random()).unwrap();
    let profile = Profile {
        id: MemberId::parse("e-2001").unwrap(),
        role: Role::Elder,
        station: StationId::parse("s-caoyang").unwrap(),
        display_name: "王芳".into(),
        birth_year: None,
        household: None,
        verification: Verification::Verified,
    };
    registered.transact::<_, _, automerge::AutomergeError>(|tx| member::put_profile(tx, &profile)).unwrap();
    timebank_engine::Engine::open(desk.dir.path()).unwrap().receive_changes(&elder, &registered.save()).unwrap();

    let named = desk.json(&["order", "place", "--elder", "e-2001", "--service", "meals", "--note", "lunch, Tuesday"]);
    let named = named["id"].as_str().unwrap().to_owned();
    let unnamed = desk.json(&["order", "place", "--elder", "e-2002", "--service", "escort", "--note", "clinic"]);
    let unnamed = unnamed["id"].as_str().unwrap().to_owned();
    // The desk holds the volunteer's document, as after a sync: it dispatches to a
    // member it knows as a volunteer (ADR 0022).
    let phone = Phone::volunteer();
    let volunteer = timebank_engine::DocId::Member(MemberId::parse("v-1001").unwrap());
    carry(&volunteer, &phone, &desk);
    desk.ok(&["order", "dispatch", &named, "--to", "v-1001"]);
    desk.ok(&["order", "dispatch", &unnamed, "--to", "v-1001"]);

    carry(&volunteer, &desk, &phone);

    let text = phone.ok(&["assignments"]);
    assert!(text.contains(&format!("{named}  meals for 王芳 (e-2001)  [dispatched]  lunch, Tuesday")), "{text}");
    assert!(text.contains(&format!("{unnamed}  escort for e-2002  [dispatched]  clinic")), "{text}");
    let list = phone.json(&["assignments"]);
    let by_order = |id: &str| list.as_array().unwrap().iter().find(|a| a["order"] == id).unwrap().clone();
    assert_eq!(by_order(&named)["elder_name"], "王芳");
    assert_eq!(by_order(&named)["elder"], "e-2001");
    assert_eq!(by_order(&unnamed)["elder_name"], Value::Null);

    // A visit for the named order shows the name as well.
    phone.ok(&["accept", &named]);
    let arrived = rfc3339(Utc::now() - Duration::minutes(30));
    phone.ok(&["visit", "start", "--elder", "e-2001", "--service", "meals", "--order", &named, "--at", &arrived]);
    let visits = phone.ok(&["visits"]);
    assert!(visits.contains("meals for 王芳 (e-2001)  [checked in]"), "{visits}");
    assert_eq!(phone.json(&["visits"])[0]["elder_name"], "王芳");
}
