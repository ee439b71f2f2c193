//! Two `timebank-relay` processes on one PostgreSQL database (`scripts/postgres.sh`): admin
//! commands on the database, a phone enrolled through one relay and syncing through the
//! other after the first is killed, a coordinator's review through the second reaching the
//! phone's coins, and the ledger equal to its rebuild; what an operator does on the
//! database as on SQLite (metrics and `/readyz`, a member's export and erasure, a member's
//! move to another station), the backup commands pointing at the database's own tools and
//! the backup drill with them (`pg_dump` while the relay serves, `pg_restore` into a new
//! database), and a dispatch through one relay heard on a phone's live channel held by the other.

use std::process::Command;
use std::time::Instant;

use timebank_engine::DocId;
use timebank_engine::model::{MemberId, ReviewDecision};
use timebank_engine::sync::live::LiveEvent;
use timebank_testing::postgres::TestDatabase;
use timebank_testing::{Heard, LiveListener};

use crate::process::{BIN, RelayProcess, Store, admin_on, agent, enrolled_phone_on, transport, visit};

/// The flags of each relay process on the test database.
const RELAY_FLAGS: [&str; 4] = ["--db-pool", "4", "--db-statement-timeout-ms", "5000"];

/// A station made on `store` with admin commands, and its volunteer, elder and coordinator.
fn station_of_three(store: Store<'_>) -> [String; 3] {
    let station = admin_on(store, &["station", "create", "--name", "Caoyang"])["id"].as_str().unwrap().to_owned();
    let create = |role: &str, name: &str| {
        let args = ["member", "create", "--station", &station, "--role", role, "--name", name, "--birth-year", "1950"];
        admin_on(store, &args)["id"].as_str().unwrap().to_owned()
    };
    [create("volunteer", "Li Wei"), create("elder", "Wang Fang"), create("coordinator", "Chen Jing")]
}

#[test]
fn any_relay_serves_any_phone_and_one_may_die() {
    let Some(database) = TestDatabase::create("relays") else { return };
    let store = Store::Database(database.url());
    let [volunteer, elder, coordinator] = station_of_three(store);

    let mut first = RelayProcess::start_on(store, None, &RELAY_FLAGS);
    let second = RelayProcess::start_on(store, None, &RELAY_FLAGS);
    let (phone_dir, desk_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut phone = enrolled_phone_on(&first.url, store, &volunteer, phone_dir.path());
    let mut desk = enrolled_phone_on(&second.url, store, &coordinator, desk_dir.path());

    // The visit goes up through the first relay; the coordinator reviews it through the second.
    phone.log_visit(&visit(&elder, 3)).unwrap();
    phone.sync(&mut transport(&phone, &first.url)).unwrap();
    assert_eq!(phone.visits().unwrap()[0].state_label, "sent");
    let mut desk_link = transport(&desk, &second.url);
    desk.sync(&mut desk_link).unwrap();
    let queue = desk.review_queue().unwrap();
    assert_eq!(queue.len(), 1, "the second relay serves what the first stored");
    desk.review_visit(&queue[0].visit.visit.id, ReviewDecision::Approve, "").unwrap();
    desk.sync(&mut desk_link).unwrap();

    // The first relay dies; the phone carries on through the second, which knows what it
    // last told the phone (the acknowledged heads are in the database): one round trip.
    first.kill();
    phone.log_visit(&visit(&elder, 2)).unwrap();
    let report = phone.sync(&mut transport(&phone, &second.url)).unwrap();
    assert_eq!(report.round_trips, 1, "{report:?}");
    let mut states: Vec<String> = phone.visits().unwrap().into_iter().map(|v| v.state_label).collect();
    states.sort();
    assert_eq!(states, ["approved", "sent"]);
    assert_eq!(phone.balance().confirmed_minutes, 60);

    let ledger = admin_on(store, &["ledger", "--member", &volunteer]);
    assert_eq!(ledger["balance"]["confirmed_minutes"], 60, "{ledger}");
    let check = admin_on(store, &["rebuild-ledger", "--check"]);
    assert_eq!(check["identical"], true, "{check}");
    assert_eq!(check["events"], 3, "two visits and a review, each logged once: {check}");
    second.stop();
}

#[test]
fn a_dispatch_through_one_relay_reaches_a_phone_watching_the_other() {
    let Some(database) = TestDatabase::create("live") else { return };
    let store = Store::Database(database.url());
    let [volunteer, elder, coordinator] = station_of_three(store).map(|id| MemberId::parse(&id).unwrap());
    let (first, second) = (RelayProcess::start_on(store, None, &RELAY_FLAGS), RelayProcess::start_on(store, None, &RELAY_FLAGS));
    let (phone_dir, desk_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut phone = enrolled_phone_on(&second.url, store, volunteer.as_str(), phone_dir.path());
    let mut desk = enrolled_phone_on(&first.url, store, coordinator.as_str(), desk_dir.path());
    let mut desk_link = transport(&desk, &first.url);
    desk.sync(&mut desk_link).unwrap();
    let token = phone.relay_link().unwrap().unwrap().token;
    let watching = LiveListener::device(&second.url, &token).unwrap();

    let order = desk.place_order(Some(&elder), "companionship", "Tuesday afternoon").unwrap();
    desk.dispatch(&order, &volunteer).unwrap();
    desk.sync(&mut desk_link).unwrap();
    let sent = Instant::now();
    let hinted = DocId::Member(volunteer.clone()).to_string();
    loop {
        let left = std::time::Duration::from_secs(5).checked_sub(sent.elapsed());
        match left.and_then(|left| watching.next(left)) {
            Some(Heard::Event(LiveEvent::Changed { docs, .. })) if docs.contains(&hinted) => break,
            Some(Heard::Heartbeat | Heard::Event(LiveEvent::Changed { .. })) => {}
            other => panic!("the second relay's channel did not hint the dispatch stored through the first: {other:?}"),
        }
    }
    assert!(sent.elapsed() < std::time::Duration::from_secs(2), "the hint took {:?}", sent.elapsed());
    phone.sync(&mut transport(&phone, &second.url)).unwrap();
    assert!(phone.assignments().iter().any(|a| a.assignment.order == order), "the hinted sync brings the assignment");
    drop(watching);
    first.stop();
    second.stop();
}

#[test]
fn postgres_that_cannot_be_reached_is_named_and_nothing_starts() {
    // Nothing listens on port 1: no server needed.
    let database = "postgres://relay:secret@127.0.0.1:1/timebank";
    for args in [&["admin", "device", "list"][..], &["--listen", "127.0.0.1:0"][..]] {
        let output = Command::new(BIN).args(args).args(["--database", database]).output().unwrap();
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("could not connect to PostgreSQL at relay@127.0.0.1:1/timebank"), "{stderr}");
        assert!(!stderr.contains("secret"), "the password stays out of messages: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?}: {}", String::from_utf8_lossy(&output.stdout));
    }
}

#[test]
fn postgres_metrics_and_readyz_read_the_database() {
    let Some(database) = TestDatabase::create("metrics") else { return };
    crate::metrics::counters_move_after_a_sync(Store::Database(database.url()));

    // A database that lost a table the read needs: the load balancer's check says so.
    let relay = RelayProcess::start_on(Store::Database(database.url()), None, &[]);
    let readyz = format!("{}/readyz", relay.url);
    assert_eq!(agent().get(&readyz).call().unwrap().status().as_u16(), 200);
    database.query("DROP TABLE ledger_state").unwrap();
    let mut answer = agent().get(&readyz).call().unwrap();
    assert_eq!(answer.status().as_u16(), 503);
    let said = answer.body_mut().read_to_string().unwrap();
    assert!(said.contains("store cannot be read") && !said.contains("ledger_state"), "{said}");
    assert_eq!(agent().get(&format!("{}/healthz", relay.url)).call().unwrap().status().as_u16(), 200);
}

#[test]
fn postgres_member_export_and_erasure() {
    let Some(database) = TestDatabase::create("personal") else { return };
    crate::personal::export_and_erase(Store::Database(database.url()));
}

/// Runs PostgreSQL's own tool `name` (`pg_dump`, `pg_restore`: Debian's postgresql package
/// puts them on the PATH) with `args`; it must succeed.
fn pg_tool(name: &str, args: &[&std::ffi::OsStr]) {
    let output = Command::new(name).args(args).output().unwrap_or_else(|e| {
        panic!("{name} could not run ({e}): install Debian's postgresql-client (scripts/postgres.sh installs postgresql)")
    });
    assert!(output.status.success(), "{name}: {}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn postgres_backup_with_pg_dump_restores_and_the_phones_bring_back_the_rest() {
    let Some(database) = TestDatabase::create("drill") else { return };
    let Some(restored) = TestDatabase::create("restored") else { return };
    let out = tempfile::tempdir().unwrap();
    let dump = out.path().join("timebank.dump");
    let (from, into) = (format!("--dbname={}", database.url()), format!("--dbname={}", restored.url()));
    // As server/README.md says: a dump while the relay serves, restored into a new database.
    let back_up = || pg_tool("pg_dump", &["-Fc".as_ref(), "-f".as_ref(), dump.as_os_str(), from.as_ref()]);
    let restore = |()| pg_tool("pg_restore", &["--no-owner".as_ref(), into.as_ref(), dump.as_os_str()]);
    crate::backup::drill(Store::Database(database.url()), Store::Database(restored.url()), back_up, restore);
}

#[test]
fn a_postgres_store_is_backed_up_with_the_databases_own_tools() {
    // Refused before any connection: no server needed.
    let database = "postgres://relay:secret@127.0.0.1:1/timebank";
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("nightly.sqlite3");
    for args in [["backup", "--to"], ["restore", "--from"]] {
        let output = Command::new(BIN).arg("admin").args(args).arg(&file).args(["--database", database]).output().unwrap();
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("PostgreSQL database") && stderr.contains("pg_dump") && !stderr.contains("secret"), "{stderr}");
        assert!(!file.exists());
    }
}

/// A member's move (ADR 42) while a relay serves the database: as on SQLite.
#[test]
fn a_member_moves_on_postgres() {
    let Some(database) = TestDatabase::create("moves") else { return };
    crate::binary::member_moves_while_the_relay_serves(Store::Database(database.url()));
}
