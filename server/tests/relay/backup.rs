//! The backup drill against the real binary: the relay serves, `admin backup` copies its
//! store while phones sync, the phones go on (visits, a coordinator's reviews), the relay's
//! disk dies, `admin restore` puts the older backup into a new directory, a relay serves it
//! and the phones sync again: what the restored relay lacks comes back from the phones
//! (ADR 25), nothing it had acknowledged is lost, and the ledger equals its rebuild. The
//! PostgreSQL suite runs the same drill with `pg_dump` and `pg_restore`.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;
use timebank_engine::SystemClock;
use timebank_engine::model::{HouseholdId, MemberId, ReviewDecision, Role, StationId, VisitId};
use timebank_server::store::MemberRecord;
use timebank_testing::Phone;

use crate::process::{BIN, RelayProcess, Store, admin, admin_on};

/// A member registered with `admin member create`, as the test phones take it.
fn register(store: Store<'_>, station: &str, role: &str, name: &str) -> MemberRecord {
    let made = admin_on(store, &["member", "create", "--station", station, "--role", role, "--name", name, "--birth-year", "1950"]);
    let text = |key: &str| made[key].as_str().unwrap().to_owned();
    MemberRecord {
        id: MemberId::parse(&text("id")).unwrap(),
        station: StationId::parse(&text("station")).unwrap(),
        role: Role::parse(&text("role")).unwrap(),
        display_name: text("name"),
        birth_year: Some(1950),
        household: made["household"].as_str().map(|h| HouseholdId::parse(h).unwrap()),
        hardship: false,
        created_at: 0,
    }
}

fn enroll(url: &str, store: Store<'_>, member: &MemberRecord) -> Phone {
    let code = admin_on(store, &["enroll-code", "--member", member.id.as_str()])["code"].as_str().unwrap().to_owned();
    Phone::enroll(url, &code, member, tempfile::tempdir().unwrap(), Arc::new(SystemClock)).unwrap()
}

/// Logs a one-hour visit to `elder` on a day of its own, `days_ago` (a volunteer earns at
/// most two coins a day: one visit a day keeps the sums plain).
fn visit(phone: &mut Phone, elder: &MemberRecord, days_ago: i64) -> VisitId {
    phone.log_visit_at(&elder.id, 24 * days_ago + 3, 60, "read the paper together")
}

/// The coordinator's phone approves every visit waiting in its queue.
fn approve_all(desk: &mut Phone) -> usize {
    desk.sync().unwrap();
    let waiting: Vec<VisitId> = desk.engine.review_queue().unwrap().into_iter().map(|item| item.visit.visit.id).collect();
    for visit in &waiting {
        desk.engine.review_visit(visit, ReviewDecision::Approve, "").unwrap();
    }
    desk.sync().unwrap();
    waiting.len()
}

/// What the relay on `store` shows of a member's ledger: the balance, the postings (key,
/// kind, accounts, minutes) and the subjects with an outcome.
fn books(store: Store<'_>, member: &MemberRecord) -> (Value, BTreeSet<String>, BTreeSet<String>) {
    let ledger = admin_on(store, &["ledger", "--member", member.id.as_str()]);
    let postings = ledger["postings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| format!("{} {} {}->{} {}", p["key"], p["kind"], p["from"], p["to"], p["minutes"]))
        .collect();
    let outcomes = ledger["outcomes"].as_object().unwrap().keys().cloned().collect();
    (ledger["balance"].clone(), postings, outcomes)
}

/// Runs `timebank-relay admin --data DATA ARGS`, which must fail, and returns what it said.
fn refused(data: &Path, args: &[&str]) -> String {
    let output = Command::new(BIN).arg("admin").arg("--data").arg(data).args(args).output().unwrap();
    assert!(!output.status.success(), "admin {args:?} was not refused");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_backup_taken_while_phones_sync_restores_and_the_phones_bring_back_the_rest() {
    let (dir, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let data = dir.path();
    let file = out.path().join("nightly.sqlite3");
    let file_arg = file.to_str().unwrap();
    let restored = out.path().join("restored");
    let back_up = || {
        let taken = admin(data, &["backup", "--to", file_arg]);
        assert_eq!((taken["members"].as_i64(), taken["devices"].as_i64()), (Some(4), Some(3)), "{taken}");
        assert!(taken["events"].as_i64().unwrap() >= 2, "{taken}");
        assert!(refused(data, &["backup", "--to", file_arg]).contains("exists already"), "never overwritten");
        taken
    };
    let restore = |taken: Value| {
        // The backup cannot go back where the old store is, only into a new directory.
        assert!(refused(data, &["restore", "--from", file_arg]).contains("not empty"));
        let junk = out.path().join("notes.txt");
        std::fs::write(&junk, "the station's phone numbers, not a backup").unwrap();
        let elsewhere = out.path().join("elsewhere");
        assert!(refused(&elsewhere, &["restore", "--from", junk.to_str().unwrap()]).contains("is not a backup of a relay store"));
        let back = admin(&restored, &["restore", "--from", file_arg]);
        assert_eq!(back["events"], taken["events"]);
    };
    drill(Store::Data(data), Store::Data(&restored), back_up, restore);
}

/// The drill on `store`: `back_up` runs while a phone syncs beside it, the phones go on,
/// the relay dies, `restore` puts the backup into `restored`, a relay serves that on the
/// same address, and the phones' syncs bring back every posting and outcome.
pub fn drill<T>(store: Store<'_>, restored: Store<'_>, back_up: impl FnOnce() -> T, restore: impl FnOnce(T)) {
    let station = admin_on(store, &["station", "create", "--name", "Caoyang"])["id"].as_str().unwrap().to_owned();
    let li = register(store, &station, "volunteer", "Li Wei");
    let zhao = register(store, &station, "volunteer", "Zhao Lei");
    let elder = register(store, &station, "elder", "Wang Fang");
    let chen = register(store, &station, "coordinator", "Chen Jing");
    let relay = RelayProcess::start_on(store, None, &[]);
    let port = relay.port();
    let (mut phone, mut other, mut desk) =
        (enroll(&relay.url, store, &li), enroll(&relay.url, store, &zhao), enroll(&relay.url, store, &chen));

    // Before the backup: a visit, approved on the coordinator's phone, coins posted.
    visit(&mut phone, &elder, 1);
    phone.sync().unwrap();
    assert_eq!(approve_all(&mut desk), 1);
    phone.sync().unwrap();
    assert_eq!(phone.confirmed(), 60);

    // The backup runs while another phone logs and syncs visits beside it.
    let syncing = AtomicBool::new(true);
    let taken = std::thread::scope(|scope| {
        let busy = scope.spawn(|| {
            let mut rounds = 0;
            while syncing.load(Ordering::Relaxed) || rounds < 3 {
                visit(&mut other, &elder, 10 + rounds);
                other.sync().unwrap();
                rounds += 1;
            }
            rounds
        });
        let taken = back_up();
        syncing.store(false, Ordering::Relaxed);
        assert!(busy.join().unwrap() >= 3);
        taken
    });

    // After the backup the station goes on: more visits, approved on the coordinator's phone.
    visit(&mut phone, &elder, 2);
    visit(&mut phone, &elder, 3);
    phone.sync().unwrap();
    visit(&mut other, &elder, 2);
    other.sync().unwrap();
    assert!(approve_all(&mut desk) >= 3);
    phone.sync().unwrap();
    other.sync().unwrap();
    assert_eq!(phone.confirmed(), 180);
    let acknowledged: BTreeSet<VisitId> = phone.sent().union(&other.sent()).cloned().collect();
    assert_eq!(acknowledged.len(), phone.engine.visits().unwrap().len() + other.engine.visits().unwrap().len());
    let before = (books(store, &li), books(store, &zhao));

    // The relay's disk dies; the backup is restored and served on the same address.
    drop(relay);
    restore(taken);
    let relay = RelayProcess::start_on(restored, Some(port), &[]);
    assert_eq!(relay.port(), port, "the phones know the relay by its address");
    assert_ne!(books(restored, &li), before.0, "the backup is older than what the relay had acknowledged");

    // The phones sync with the restored relay and hand back what it lacks: their own
    // visits and reviews (and, under the relay's vouchers, what they received).
    for _ in 0..2 {
        for p in [&mut phone, &mut other, &mut desk] {
            p.sync().unwrap();
        }
    }
    assert_eq!((books(restored, &li), books(restored, &zhao)), before, "every posting and outcome is back");
    let check = admin_on(restored, &["rebuild-ledger", "--check"]);
    assert_eq!(check["identical"], true, "{check}");
    assert_eq!(admin_on(restored, &["security-events"]), serde_json::json!([]));
    assert_eq!(phone.confirmed(), 180);
    assert!(acknowledged.is_subset(&phone.sent().union(&other.sent()).cloned().collect()));
    relay.stop();
}
