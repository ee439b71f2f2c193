//! Writer authority: what a device may read, and forged changes refused whole (403),
//! recorded as security events, with nothing of the batch stored.

use automerge::transaction::Transactable;
use automerge::{ActorId, ObjType, ROOT};
use axum::http::StatusCode;
use timebank_engine::DocId;
use timebank_engine::documents::{fields, member};
use timebank_engine::sync::wire::{DocPush, SyncRequest, heads_digest};

use crate::support::{TestRelay, forged_change, listing, own_docs, pulled, push, put_at};

#[test]
fn a_volunteer_receives_only_its_own_documents_and_a_coordinator_the_stations() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let other = relay.member("volunteer", "Zhao Min");
    let elder = relay.member("elder", "Wang Fang");
    let coordinator = relay.member("coordinator", "Chen Jing");
    let mut phone = relay.phone(&volunteer);

    let first = relay.sync(&phone.token, &SyncRequest::default()).sync_response();
    assert_eq!(pulled(&first), own_docs(&volunteer.id, &relay.station.id));
    relay.sync_phone(&mut phone);
    assert_eq!(phone.documents(), own_docs(&volunteer.id, &relay.station.id));
    // The profile written by the relay arrived.
    let doc = phone.document(&DocId::Member(volunteer.id.clone()));
    assert_eq!(member::profile(&doc).unwrap().display_name, "Li Wei");

    let mut desk = relay.phone(&coordinator);
    relay.sync_phone(&mut desk);
    let mut expected = vec![format!("station/{}", relay.station.id), format!("station/{}/desk", relay.station.id)];
    for m in [&volunteer, &other, &elder, &coordinator] {
        expected.push(format!("member/{}", m.id));
        expected.push(format!("ledger/{}", m.id));
    }
    expected.sort();
    assert_eq!(desk.documents(), expected);

    // Asking for another volunteer's document or the desk is refused and recorded.
    for doc in [format!("member/{}", other.id), format!("station/{}/desk", relay.station.id)] {
        let request = SyncRequest {
            manifest: None,
            docs: vec![DocPush { doc: doc.clone(), acked: heads_digest(&[]), changes: vec![], ..DocPush::default() }],
        };
        let answer = relay.sync(&phone.token, &request);
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{doc}");
        assert!(answer.error().contains(&format!("may not read or write {doc}")), "{}", answer.error());
    }
    let events = relay.store().security_events().unwrap();
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e.device.as_deref() == Some(phone.device.as_str())));
}

#[test]
fn a_change_to_another_volunteers_document_is_refused_and_recorded() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let victim = relay.member("volunteer", "Zhao Min");
    let mut phone = relay.phone(&volunteer);
    relay.sync_phone(&mut phone);
    let target = format!("member/{}", victim.id);
    let generation = relay.generation(&target);
    let (change, heads) = forged_change(&relay.document(&target), &phone.actor, |tx| {
        put_at(tx, &["profile"], "display_name", "hacked");
    });

    let answer = relay.sync(&phone.token, &push(&target, &heads, vec![change]));
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(answer.error().contains(&target), "{}", answer.error());
    assert_eq!(relay.generation(&target), generation);
    assert_eq!(member::profile(&relay.document(&target)).unwrap().display_name, "Zhao Min");
    let events = relay.store().security_events().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].doc.as_deref(), Some(target.as_str()));
    assert_eq!(events[0].member.as_deref(), Some(volunteer.id.as_str()));
}

#[test]
fn a_ledger_change_refuses_the_whole_batch() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let elder = relay.member("elder", "Wang Fang");
    let mut phone = relay.phone(&volunteer);
    relay.sync_phone(&mut phone);
    let own = format!("member/{}", volunteer.id);
    let ledger = format!("ledger/{}", volunteer.id);
    let acked = relay.store().acked_heads(&phone.device).unwrap();
    phone.log_visit(&elder.id, "tea");
    let visit_changes: Vec<Vec<u8>> = phone
        .document(&DocId::Member(volunteer.id.clone()))
        .get_changes(&acked[&own].cur)
        .iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect();
    let (forged, ledger_heads) = forged_change(&relay.document(&ledger), &phone.actor, |tx| {
        put_at(tx, &["balance"], "confirmed_minutes", "100000");
    });
    let mut request = push(&own, &acked[&own].cur, visit_changes);
    request.docs.extend(push(&ledger, &ledger_heads, vec![forged]).docs);
    let generations = (relay.generation(&own), relay.generation(&ledger));

    let answer = relay.sync(&phone.token, &request);
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    let message = answer.error();
    assert!(message.contains(&ledger) && message.contains("written only by the relay"), "{message}");
    assert!(message.contains("Nothing from this sync was stored"), "{message}");
    // Not even the honest visit of the same batch was stored.
    assert_eq!((relay.generation(&own), relay.generation(&ledger)), generations);
    assert!(member::visits(&relay.document(&own), &volunteer.id).is_empty());
    assert_eq!(relay.store().acked_heads(&phone.device).unwrap(), acked);
    let events = relay.store().security_events().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].doc.as_deref(), Some(ledger.as_str()));

    // The phone's own sync (which never forges) goes through.
    relay.sync_phone(&mut phone);
    assert_eq!(phone.visit_states(), ["sent"]);
    assert_eq!(member::visits(&relay.document(&own), &volunteer.id).len(), 1);
}

#[test]
fn profile_assignments_and_dispatch_are_for_coordinators() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let mut phone = relay.phone(&volunteer);
    relay.sync_phone(&mut phone);
    let own = format!("member/{}", volunteer.id);
    let generation = relay.generation(&own);
    type Edit = Box<dyn FnOnce(&mut automerge::transaction::Transaction<'_>)>;
    let cases: Vec<(Edit, &str)> = vec![
        (Box::new(|tx| put_at(tx, &["profile"], "display_name", "Someone Else")), "profile/display_name"),
        (
            Box::new(|tx| {
                let assignments = fields::map_at(tx, &ROOT, member::ASSIGNMENTS).unwrap();
                let a = tx.put_object(&assignments, "o-1", ObjType::Map).unwrap();
                tx.put(&a, "elder", "m-x").unwrap();
            }),
            "only coordinators create or remove assignments",
        ),
        (
            Box::new(|tx| {
                let orders = fields::map_at(tx, &ROOT, member::ORDERS).unwrap();
                let o = tx.put_object(&orders, "o-2", ObjType::Map).unwrap();
                tx.put(&o, "dispatched_to", "m-y").unwrap();
            }),
            "only coordinators dispatch orders",
        ),
        (Box::new(|tx| tx.put(ROOT, "kind", "ledger").unwrap()), "\"kind\" is fixed"),
    ];
    for (i, (edit, expected)) in cases.into_iter().enumerate() {
        let (change, heads) = forged_change(&relay.document(&own), &phone.actor, edit);
        let answer = relay.sync(&phone.token, &push(&own, &heads, vec![change]));
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{expected}");
        assert!(answer.error().contains(expected), "{}", answer.error());
        assert_eq!(relay.generation(&own), generation, "{expected}");
        assert_eq!(relay.store().security_events().unwrap().len(), i + 1);
    }
    assert_eq!(member::profile(&relay.document(&own)).unwrap().display_name, "Li Wei");
}

#[test]
fn a_change_by_an_actor_no_device_registered_is_refused() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let mut phone = relay.phone(&volunteer);
    relay.sync_phone(&mut phone);
    let own = format!("member/{}", volunteer.id);
    let (change, heads) = forged_change(&relay.document(&own), &ActorId::random(), |tx| {
        put_at(tx, &["visits"], "note", "x");
    });
    let answer = relay.sync(&phone.token, &push(&own, &heads, vec![change]));
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(answer.error().contains("not by itself; a device sends only its own changes"), "{}", answer.error());
    let (as_relay, heads) = forged_change(&relay.document(&own), relay.relay.actor(), |tx| {
        put_at(tx, &["visits"], "note", "x");
    });
    let answer = relay.sync(&phone.token, &push(&own, &heads, vec![as_relay]));
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    // The relay's own actor is another author like any: a device sends only its own.
    assert!(answer.error().contains("not by itself; a device sends only its own changes"), "{}", answer.error());
}

#[test]
fn a_coordinator_of_the_station_may_correct_a_profile_and_the_member_receives_it() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let coordinator = relay.member("coordinator", "Chen Jing");
    let mut phone = relay.phone(&volunteer);
    let mut desk = relay.phone(&coordinator);
    relay.sync_phone(&mut phone);
    relay.sync_phone(&mut desk);
    let own = format!("member/{}", volunteer.id);
    let (change, _) = forged_change(&relay.document(&own), &desk.actor, |tx| {
        put_at(tx, &["profile"], "display_name", "Li Wei (Caoyang)");
    });
    let answer = relay.sync(&desk.token, &listing(&relay, &desk.device, &own, vec![change]));
    let response = answer.sync_response();
    // Taken whole at the coordinator's heads: the answer names nothing, so the change is
    // not sent back and nothing else is either.
    assert_eq!(pulled(&response), Vec::<String>::new(), "the changed document is taken whole");
    assert!(response.recover.is_empty());

    relay.sync_phone(&mut phone);
    let doc = phone.document(&DocId::Member(volunteer.id.clone()));
    assert_eq!(member::profile(&doc).unwrap().display_name, "Li Wei (Caoyang)");
    assert!(relay.store().security_events().unwrap().is_empty());
}

#[test]
fn an_edit_to_a_reviewed_visit_made_offline_is_not_refused() {
    // The phone cannot know the station reviewed the visit while it was offline: refusing
    // the edit would refuse every later sync of this phone.
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let elder = relay.member("elder", "Wang Fang");
    let mut phone = relay.phone(&volunteer);
    let visit = phone.log_visit(&elder.id, "tea");
    relay.sync_phone(&mut phone);
    relay.write_outcome(&volunteer.id, visit.as_str(), "approved");
    phone.engine.confirm_visit(&visit, timebank_engine::model::ConfirmedBy::Elder).unwrap();

    relay.sync_phone(&mut phone);
    assert_eq!(phone.visit_states(), ["approved"]);
    let own = format!("member/{}", volunteer.id);
    let stored = member::visits(&relay.document(&own), &volunteer.id);
    assert!(stored[0].confirmation.is_some());
    assert!(relay.store().security_events().unwrap().is_empty());
}
