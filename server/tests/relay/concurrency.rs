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
