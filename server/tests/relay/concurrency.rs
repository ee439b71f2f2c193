//! Many phones syncing at once over real HTTP (issue 12): syncs of different members run in
//! parallel, a member's document is written by one request at a time, group commits store
//! several syncs per flush, and the ledger's poster folds behind them; nothing is lost or
//! doubled, and the ledger equals its rebuild.

use std::thread;

use timebank_engine::DocId;
use timebank_engine::documents::member;
use timebank_server::ledger::rebuild::rebuild_check;

use crate::support::TestRelay;

#[test]
fn twenty_phones_of_ten_members_syncing_at_once_lose_and_double_nothing() {
    let relay = TestRelay::new();
    let elder = relay.member("elder", "Wang Fang");
    let volunteers: Vec<_> = (0..10).map(|n| relay.member("volunteer", &format!("Volunteer {n}"))).collect();
    // Two phones per volunteer: their syncs write the same document at the same time.
    let mut phones: Vec<_> = volunteers.iter().flat_map(|v| [relay.http_phone(v), relay.http_phone(v)]).collect();
    let handles: Vec<_> = phones
        .drain(..)
        .enumerate()
        .map(|(n, mut phone)| {
            let elder = elder.id.clone();
            thread::spawn(move || {
                for round in 0..3 {
                    phone.log_visit_at(&elder, 200 - (n as i64) * 6 - round * 2, 60, &format!("round {round}"));
                    phone.sync().unwrap();
                }
                phone
            })
        })
        .collect();
    let mut phones: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for phone in &mut phones {
        phone.sync().unwrap();
    }
    for (volunteer, pair) in volunteers.iter().zip(phones.chunks(2)) {
        let doc = relay.document(&DocId::Member(volunteer.id.clone()));
        assert_eq!(member::visits(&doc, &volunteer.id).len(), 6, "both phones' three visits each");
        for phone in pair {
            assert_eq!(phone.engine.status().unwrap().unsynced_changes, 0);
            assert_eq!(phone.engine.heads(&DocId::Member(volunteer.id.clone())), doc.get_heads());
        }
    }
    let logged = relay.store().ledger_events(0).unwrap();
    assert_eq!(logged.iter().filter(|e| e.key.starts_with("visit:")).count(), 60, "each visit logged once");
    assert!(rebuild_check(relay.store()).unwrap().is_empty());
}

#[test]
fn two_relays_on_one_store_post_every_arrival_once_whichever_received_it() {
    let relay = TestRelay::new();
    let other = relay.second_relay();
    let volunteer = relay.member("volunteer", "Li Wei");
    let elder = relay.member("elder", "Wang Fang");
    let coordinator = relay.member("coordinator", "Zhang Min");
    let mut phone = relay.phone(&volunteer);
    let mut desk = relay.phone(&coordinator);
    // The visit arrives through the other relay, the review through this one.
    let visit = phone.log_visit(&elder.id, "via the other relay");
    phone.engine.sync(&mut relay.transport_via(&other, &phone.token)).unwrap();
    relay.sync_phone(&mut desk);
    desk.engine.review_visit(&visit, timebank_engine::model::ReviewDecision::Approve, "").unwrap();
    relay.sync_phone(&mut desk);
    // The phone, back on the other relay, sees the coins once that relay's poster has
    // folded what this one logged (at once, or within its idle fold).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        phone.engine.sync(&mut relay.transport_via(&other, &phone.token)).unwrap();
        if phone.visit_states() == ["approved"] || std::time::Instant::now() > deadline {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(phone.visit_states(), ["approved"]);
    assert_eq!(phone.engine.balance().confirmed_minutes, 60);
    let earns: Vec<_> = relay.store().postings().unwrap().into_iter().filter(|p| p.kind == "earn").collect();
    assert_eq!(earns.len(), 1, "posted once: {earns:?}");
    assert!(rebuild_check(relay.store()).unwrap().is_empty());
}
