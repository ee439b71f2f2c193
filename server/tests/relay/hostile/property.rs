//! The property behind "nobody locked out": whatever an enrolled device sends, every other
//! device's honest changes (earlier, concurrent or later, offline or online) are still
//! taken. Generated runs interleave honest work and syncs of a coordinator's phone and two
//! volunteers' phones with an attacker's forged changes under any actor (each victim's,
//! the relay's, one nobody registered) at the victim's next sequence number, into any
//! document. The attacker is a second enrolled phone of the first volunteer, so it may
//! write the very document that volunteer's phone and the coordinator's write. Then every
//! honest phone's changes must be on the relay and none forged.

use std::collections::HashSet;

use automerge::{ActorId, ChangeHash, ReadDoc};
use axum::http::StatusCode;
use proptest::prelude::*;
use timebank_engine::DocId;

use crate::support::{Phone, TestRelay, forged_change, push};

#[derive(Clone, Debug)]
enum Step {
    /// An honest phone (0, 1: volunteers; 2: the coordinator) works offline.
    Work(usize),
    /// An honest phone syncs.
    Sync(usize),
    /// The attacker forges a change as `victim` (0..3: the honest phones, 3: the relay,
    /// 4: nobody) into document `doc` (0: its member's, which volunteer 0's phone and the
    /// coordinator's also write; 1: volunteer 1's; 2: the station's).
    Forge { victim: usize, doc: usize },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..3_usize).prop_map(Step::Work),
        (0..3_usize).prop_map(Step::Sync),
        (0..5_usize, 0..3_usize).prop_map(|(victim, doc)| Step::Forge { victim, doc }),
    ]
}

fn work(phone: &mut Phone, elder: &timebank_engine::model::MemberId, volunteer: &timebank_engine::model::MemberId, n: usize) {
    if phone.member.role == timebank_engine::model::Role::Coordinator {
        let order = phone.engine.place_order(Some(elder), "companionship", &format!("order {n}")).unwrap();
        phone.engine.dispatch(&order, volunteer).unwrap();
    } else {
        if let Some(offer) = phone.engine.assignments().into_iter().find(|a| a.assignment.response.is_none()) {
            phone.engine.accept(&offer.assignment.order).unwrap();
        }
        phone.log_visit(elder, &format!("visit {n}"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn no_device_can_make_another_devices_honest_changes_unacceptable(steps in proptest::collection::vec(step(), 4..20)) {
        let relay = TestRelay::new();
        let volunteers = [relay.member("volunteer", "Li Wei"), relay.member("volunteer", "Zhao Lei")];
        let elder = relay.member("elder", "Wang Fang");
        let coordinator = relay.member("coordinator", "Zhang Min");
        let mut phones = vec![relay.phone(&volunteers[0]), relay.phone(&volunteers[1]), relay.phone(&coordinator)];
        let mut mallory = relay.phone(&volunteers[0]);
        for phone in &mut phones {
            relay.sync_phone(phone);
        }
        relay.sync_phone(&mut mallory);
        let mut forged: HashSet<ChangeHash> = HashSet::new();
        for (n, step) in steps.into_iter().enumerate() {
            match step {
                Step::Work(who) => work(&mut phones[who], &elder.id, &volunteers[0].id, n),
                Step::Sync(who) => {
                    let phone = &mut phones[who];
                    let synced = phone.engine.sync(&mut relay.transport(&phone.token));
                    prop_assert!(synced.is_ok(), "an honest sync failed: {:?}", synced.err());
                }
                Step::Forge { victim, doc } => {
                    let actor = match victim {
                        0..=2 => phones[victim].actor.clone(),
                        3 => relay.relay.actor().clone(),
                        _ => ActorId::random(),
                    };
                    let target = match doc {
                        0 => DocId::Member(volunteers[0].id.clone()),
                        1 => DocId::Member(volunteers[1].id.clone()),
                        _ => DocId::Station(relay.station.id.clone()),
                    };
                    let (change, _) = forged_change(&relay.document(&target), &actor, |tx| {
                        automerge::transaction::Transactable::put(tx, automerge::ROOT, "forged", n as u64).unwrap();
                    });
                    forged.insert(automerge::Change::from_bytes(change.clone()).unwrap().hash());
                    let answer = relay.sync(&mallory.token, &push(&target.to_string(), &[], vec![change]));
                    prop_assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", String::from_utf8_lossy(&answer.body));
                }
            }
        }
        // Every honest phone syncs until quiet: all its changes are on the relay.
        for _ in 0..2 {
            for phone in &mut phones {
                let synced = phone.engine.sync(&mut relay.transport(&phone.token));
                prop_assert!(synced.is_ok(), "an honest sync failed: {:?}", synced.err());
            }
        }
        for phone in &phones {
            prop_assert_eq!(phone.engine.status().unwrap().unsynced_changes, 0, "{:?} kept changes back", phone);
            for id in phone.engine.document_ids() {
                let on_relay = relay.document(&id);
                prop_assert!(on_relay.get_missing_deps(&phone.engine.heads(&id)).is_empty(), "{id} lacks {:?}'s changes", phone);
                prop_assert!(forged.iter().all(|h| on_relay.get_change_by_hash(h).is_none()), "a forged change was stored in {id}");
            }
        }
    }
}
