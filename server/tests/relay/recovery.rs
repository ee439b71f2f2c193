//! A relay restored from an older backup gets back what the phones hold (ADR 25): each
//! phone sends its own changes again and, under this relay's vouchers, the changes of
//! others it received from the relay; a change whose dependencies nobody can vouch for
//! waits on its phone, blocking nothing, until their author sends them.

use std::sync::Arc;

use axum::Router;
use chrono::{Duration, Utc};
use tempfile::TempDir;
use timebank_engine::PastVisit;
use timebank_engine::documents::member;
use timebank_engine::model::{MemberId, OrderId, Response};
use timebank_server::{Relay, SqliteStore, app, desk};

use crate::support::{Phone, TestRelay, write_outcomes_on};

/// A consistent copy of the relay's store, as a nightly backup would take.
fn backup(relay: &TestRelay) -> TempDir {
    let backup = tempfile::tempdir().unwrap();
    let conn = rusqlite::Connection::open(relay.dir.path().join("relay.sqlite3")).unwrap();
    conn.execute("VACUUM INTO ?1", [backup.path().join("relay.sqlite3").to_str().unwrap()]).unwrap();
    backup
}

/// A relay process on the restored backup.
fn restore(relay: &TestRelay, backup: &TempDir) -> (Arc<Relay>, Router) {
    let restored = Arc::new(Relay::new(Arc::new(SqliteStore::open(backup.path()).unwrap()), relay.clock.clone()).unwrap());
    let router = app(restored.clone());
    (restored, router)
}

fn document(relay: &Relay, id: &str) -> automerge::Automerge {
    automerge::Automerge::load(&relay.store().document(id).unwrap().unwrap().bytes).unwrap()
}

/// Logs the visit that served `order`.
fn serve(phone: &mut Phone, elder: &MemberId, order: &OrderId) {
    let now = Utc::now();
    phone
        .engine
        .log_visit(&PastVisit {
            elder: elder.clone(),
            service: "companionship".into(),
            order: Some(order.clone()),
            start: now - Duration::hours(3),
            end: now - Duration::hours(2),
            note: "served the order".into(),
        })
        .unwrap();
}

#[test]
fn a_restored_relay_gets_back_a_console_dispatch_and_the_visit_that_served_it() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let elder = relay.member("elder", "Wang Fang");
    let coordinator = relay.member("coordinator", "Zhang Min");
    let mut phone = relay.phone(&volunteer);
    let mut desk_phone = relay.phone(&coordinator);
    relay.sync_phone(&mut phone);
    let saved = backup(&relay);

    // After the backup: the console places and dispatches an order (changes the relay
    // itself wrote), the volunteer accepts it and logs the visit.
    let order = desk::place_order(&relay.relay, &coordinator.id, &elder.id, "companionship", "", None).unwrap();
    desk::dispatch(&relay.relay, &coordinator.id, &order, &volunteer.id, None).unwrap();
    relay.sync_phone(&mut phone);
    relay.sync_phone(&mut desk_phone);
    phone.engine.accept(&order).unwrap();
    serve(&mut phone, &elder.id, &order);
    relay.sync_phone(&mut phone);
    assert_eq!(phone.visit_states(), ["sent"]);

    // The relay's disk dies; it comes back from the backup, which has none of it.
    let (restored, router) = restore(&relay, &saved);
    let own = format!("member/{}", volunteer.id);
    assert!(member::assignments(&document(&restored, &own)).is_empty());
    let report = phone.engine.sync(&mut relay.transport_via(&router, &phone.token)).unwrap();
    assert!(report.round_trips > 1, "{report:?}");

    // The volunteer's phone gave back the console's dispatch (vouched), its acceptance and
    // the visit: the restored relay holds the volunteer's document as it was.
    let doc = document(&restored, &own);
    let assignments = member::assignments(&doc);
    assert_eq!(assignments.len(), 1);
    assert_eq!((&assignments[0].order, assignments[0].response), (&order, Some(Response::Accepted)));
    assert_eq!(member::visits(&doc, &volunteer.id).len(), 1);
    assert_eq!(doc.get_heads(), phone.engine.heads(&timebank_engine::DocId::Member(volunteer.id.clone())));
    // The elder's order comes back from the coordinator's phone, which holds it.
    let elders = format!("member/{}", elder.id);
    assert!(member::orders(&document(&restored, &elders)).is_empty());
    desk_phone.engine.sync(&mut relay.transport_via(&router, &desk_phone.token)).unwrap();
    assert_eq!(member::orders(&document(&restored, &elders)).len(), 1);
    assert!(restored.store().security_events().unwrap().is_empty());
    assert_eq!(phone.visit_states(), ["sent"]);
    // And the phones are quiet again.
    let again = phone.engine.sync(&mut relay.transport_via(&router, &phone.token)).unwrap();
    assert_eq!((again.round_trips, again.changes_received), (1, 0), "{again:?}");
}

#[test]
fn a_change_nobody_can_vouch_for_yet_waits_on_its_phone_and_blocks_nothing() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let other = relay.member("volunteer", "Zhao Lei");
    let elder = relay.member("elder", "Wang Fang");
    let coordinator = relay.member("coordinator", "Zhang Min");
    let mut phone = relay.phone(&volunteer);
    let mut other_phone = relay.phone(&other);
    let mut desk_phone = relay.phone(&coordinator);
    for p in [&mut phone, &mut other_phone, &mut desk_phone] {
        relay.sync_phone(p);
    }
    let saved = backup(&relay);

    // The coordinator's phone places and dispatches an order; the volunteer serves it.
    let order = desk_phone.engine.place_order(Some(&elder.id), "companionship", "").unwrap();
    desk_phone.engine.dispatch(&order, &volunteer.id).unwrap();
    relay.sync_phone(&mut desk_phone);
    relay.sync_phone(&mut phone);
    phone.engine.accept(&order).unwrap();
    serve(&mut phone, &elder.id, &order);
    relay.sync_phone(&mut phone);
    // An older app kept no vouchers: this phone cannot hand back the coordinator's dispatch.
    let conn = rusqlite::Connection::open(phone.dir.path().join("timebank.sqlite3")).unwrap();
    conn.execute("DELETE FROM vouchers", []).unwrap();
    drop(conn);

    let (restored, router) = restore(&relay, &saved);
    phone.engine.sync(&mut relay.transport_via(&router, &phone.token)).unwrap();
    // Its acceptance and visit build on the dispatch: they wait, on the phone (which still
    // shows the visit as sent: the relay acknowledged it before its disk died).
    let own = format!("member/{}", volunteer.id);
    assert!(member::visits(&document(&restored, &own), &volunteer.id).is_empty());
    assert_eq!(phone.engine.visits().unwrap().len(), 1);
    // Nothing else waits: another volunteer's visit goes straight through.
    other_phone.log_visit(&elder.id, "independent");
    other_phone.engine.sync(&mut relay.transport_via(&router, &other_phone.token)).unwrap();
    assert_eq!(other_phone.visit_states(), ["sent"]);

    // The coordinator's phone sends its dispatch again; the waiting changes then go.
    desk_phone.engine.sync(&mut relay.transport_via(&router, &desk_phone.token)).unwrap();
    phone.engine.sync(&mut relay.transport_via(&router, &phone.token)).unwrap();
    let doc = document(&restored, &own);
    assert_eq!(member::visits(&doc, &volunteer.id).len(), 1);
    assert_eq!(member::assignments(&doc)[0].response, Some(Response::Accepted));
    assert!(restored.store().security_events().unwrap().is_empty());
}

#[test]
fn a_restored_relay_is_not_sent_back_its_own_ledger_changes_however_large() {
    use timebank_engine::DocId;
    use timebank_engine::sync::bounds::PUSH;
    use timebank_engine::sync::wire::{self, SyncRequest};

    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let mut phone = relay.phone(&volunteer);
    relay.sync_phone(&mut phone);
    let saved = backup(&relay);

    // After the backup the relay writes the volunteer's ledger in one change of more
    // operations than a phone may push in one request (as a rebuild of a long history
    // may), and the phone receives it.
    let subjects: Vec<String> = (0..=PUSH.change_ops / 2).map(|i| format!("v-{i}")).collect();
    write_outcomes_on(&relay.relay, &volunteer.id, &subjects, "approved");
    relay.sync_phone(&mut phone);
    let ledger = DocId::Ledger(volunteer.id.clone());
    let largest = relay.document(&ledger).get_changes(&[]).iter().map(automerge::Change::len).max().unwrap();
    assert!(largest as u64 > PUSH.change_ops, "{largest} operations");
    assert_eq!(phone.engine.heads(&ledger), relay.document(&ledger).get_heads());

    // The restored relay asks the phone what it holds; the phone answers with its heads
    // and sends none of the relay's ledger changes back (the relay would take none of
    // them), so the sync is not refused as too large.
    let (restored, router) = restore(&relay, &saved);
    let mut transport = relay.transport_via(&router, &phone.token);
    phone.engine.sync(&mut transport).unwrap();
    assert!(restored.store().security_events().unwrap().is_empty());
    let name = ledger.to_string();
    let ledger_pushes: Vec<usize> = transport
        .exchanges
        .iter()
        .flat_map(|(request, _)| wire::decode::<SyncRequest>(request).unwrap().docs)
        .filter(|push| push.doc == name)
        .map(|push| push.changes.len())
        .collect();
    assert!(!ledger_pushes.is_empty(), "the relay asked the phone to recover its ledger");
    assert!(ledger_pushes.iter().all(|&changes| changes == 0), "{ledger_pushes:?}");
}
