//! Real engines syncing through the relay in-process: one round trip in the common case,
//! visits turning from "saved on phone" to "sent", orders crossing devices, retries and
//! lost answers, the Bloom fallback, and two relays sharing one store.

use std::sync::Arc;

use chrono::{Duration, Utc};
use timebank_engine::DocId;
use timebank_engine::documents::member;
use timebank_engine::model::MemberId;
use timebank_engine::sync::wire::{self, SyncRequest, SyncResponse};
use timebank_server::store::SqliteStore;
use timebank_server::{Relay, app};

use crate::support::{Phone, TestRelay};

fn visits_on(phone: &Phone, of: &MemberId) -> usize {
    member::visits(&phone.document(&DocId::Member(of.clone())), of).len()
}

#[test]
fn two_phones_of_one_volunteer_each_get_the_others_visits_in_one_round_trip() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let elder = relay.member("elder", "Wang Fang");
    let mut phone = relay.phone(&volunteer);
    let mut tablet = relay.phone(&volunteer);

    phone.log_visit(&elder.id, "read the newspaper");
    assert_eq!(phone.visit_states(), ["saved on phone"]);
    let report = relay.sync_phone(&mut phone);
    assert_eq!(report.round_trips, 1);
    assert_eq!(phone.visit_states(), ["sent"]);
    // Durably: the reopened store says the same.
    let reopened = timebank_engine::Engine::open(phone.dir.path()).unwrap();
    assert_eq!(reopened.visits().unwrap()[0].state_label, "sent");
    drop(reopened);

    relay.sync_phone(&mut tablet);
    tablet.log_visit(&elder.id, "went to the market");
    let report = relay.sync_phone(&mut tablet);
    assert_eq!((report.round_trips, report.changes_sent), (1, 1));
    assert_eq!(tablet.visit_states(), ["sent", "sent"]);

    let report = relay.sync_phone(&mut phone);
    assert_eq!((report.round_trips, report.changes_received), (1, 1));
    assert_eq!(phone.visit_states(), ["sent", "sent"]);
    let own = DocId::Member(volunteer.id.clone());
    assert_eq!(phone.engine.heads(&own), tablet.engine.heads(&own));
    assert_eq!(relay.document(&own.to_string()).get_heads(), phone.engine.heads(&own));

    // Nothing new: the answer is empty and nothing is written.
    let generation = relay.generation(&own.to_string());
    let report = relay.sync_phone(&mut phone);
    assert_eq!((report.round_trips, report.changes_received, report.docs_changed), (1, 0, 0));
    assert!(report.bytes_down < 16, "an idle sync answered {} bytes", report.bytes_down);
    assert_eq!(relay.generation(&own.to_string()), generation);
}

#[test]
fn an_order_goes_from_the_elder_through_the_coordinator_to_the_volunteer_and_back() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let elder = relay.member("elder", "Wang Fang");
    let coordinator = relay.member("coordinator", "Chen Jing");
    let mut elder_phone = relay.phone(&elder);
    let mut desk = relay.phone(&coordinator);
    let mut phone = relay.phone(&volunteer);

    let order = elder_phone.engine.place_order(None, "companionship", "afternoon, please").unwrap();
    relay.sync_phone(&mut elder_phone);

    relay.sync_phone(&mut desk);
    assert_eq!(desk.engine.orders().len(), 1);
    desk.engine.dispatch(&order, &volunteer.id).unwrap();
    relay.sync_phone(&mut desk);

    relay.sync_phone(&mut phone);
    let offered = phone.engine.assignments();
    assert_eq!(offered.len(), 1);
    assert_eq!(offered[0].assignment.order, order);
    phone.engine.accept(&order).unwrap();
    phone.log_order_visit(&elder.id, Some(&order), "companionship", 2, "played chess");
    assert_eq!(phone.visit_states(), ["saved on phone"]);
    relay.sync_phone(&mut phone);
    assert_eq!(phone.visit_states(), ["sent"]);

    relay.sync_phone(&mut desk);
    assert_eq!(visits_on(&desk, &volunteer.id), 1);
    relay.sync_phone(&mut elder_phone);
    let orders = elder_phone.engine.orders();
    assert_eq!(orders[0].order.dispatched_to.as_ref(), Some(&volunteer.id));
    // The elder's phone never holds the volunteer's document.
    assert!(!elder_phone.documents().contains(&format!("member/{}", volunteer.id)));
    assert!(relay.store().security_events().unwrap().is_empty());
}

#[test]
fn a_retried_request_changes_nothing_and_gets_the_same_answer() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let elder = relay.member("elder", "Wang Fang");
    let mut phone = relay.phone(&volunteer);
    relay.sync_phone(&mut phone);
    phone.log_visit(&elder.id, "tea");
    let mut transport = relay.transport(&phone.token);
    phone.engine.sync(&mut transport).unwrap();
    let (request, answer) = transport.exchanges.pop().unwrap();
    let own = format!("member/{}", volunteer.id);
    let generation = relay.generation(&own);
    let acked = relay.store().acked_heads(&phone.device).unwrap();

    for _ in 0..2 {
        // The relay's record already moved past the request's manifest, so the retry is
        // told to list every document, and nothing is stored or acknowledged again.
        let again = relay.post("/v1/sync", Some(&phone.token), request.clone()).sync_response();
        assert_eq!(again, SyncResponse { list_all: true, ..SyncResponse::default() });
        assert_ne!(wire::encode(&again), answer);
        assert_eq!(relay.generation(&own), generation);
        assert_eq!(relay.store().acked_heads(&phone.device).unwrap(), acked);
    }
    // The same request listing every document is answered with what the device lacks.
    let mut listed: SyncRequest = wire::decode(&request).unwrap();
    listed.manifest = None;
    let full = relay.post("/v1/sync", Some(&phone.token), wire::encode(&listed)).sync_response();
    assert!(!full.list_all);
    assert_eq!(relay.generation(&own), generation, "a retried push is not stored twice");
    assert_eq!(member::visits(&relay.document(&own), &volunteer.id).len(), 1);
}

#[test]
fn a_lost_answer_is_made_good_at_the_next_sync() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let elder = relay.member("elder", "Wang Fang");
    let mut phone = relay.phone(&volunteer);
    relay.sync_phone(&mut phone);
    phone.log_visit(&elder.id, "first");

    let mut transport = relay.transport(&phone.token);
    transport.drop_answers = 1;
    let err = phone.engine.sync(&mut transport).unwrap_err().to_string();
    assert!(err.contains("could not reach the relay"), "{err}");
    assert_eq!(phone.visit_states(), ["saved on phone"]);
    let own = format!("member/{}", volunteer.id);
    assert_eq!(member::visits(&relay.document(&own), &volunteer.id).len(), 1, "the relay stored it before the answer was lost");

    phone.log_visit(&elder.id, "second");
    let report = relay.sync_phone(&mut phone);
    // One exchange learns that the relay's record moved on (the lost answer), the next
    // lists every document and settles everything.
    assert_eq!(report.round_trips, 2);
    assert_eq!(phone.visit_states(), ["sent", "sent"]);
    let id = DocId::Member(volunteer.id.clone());
    assert_eq!(relay.document(&own).get_heads(), phone.engine.heads(&id));
    // The next sync is quiet again.
    let quiet = relay.sync_phone(&mut phone);
    assert_eq!((quiet.round_trips, quiet.changes_received, quiet.docs_changed), (1, 0, 0));
}

#[test]
fn a_phone_whose_sync_state_the_relay_lost_recovers_it_in_a_few_round_trips() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let elder = relay.member("elder", "Wang Fang");
    let mut phone = relay.phone(&volunteer);
    phone.log_visit(&elder.id, "first");
    relay.sync_phone(&mut phone);
    phone.log_visit(&elder.id, "second");
    let conn = rusqlite::Connection::open(relay.dir.path().join("relay.sqlite3")).unwrap();
    conn.execute("DELETE FROM sync_state", []).unwrap();
    drop(conn);

    let report = relay.sync_phone(&mut phone);
    assert!(report.round_trips > 1, "{report:?}");
    assert_eq!(phone.visit_states(), ["sent", "sent"]);
    let own = DocId::Member(volunteer.id.clone());
    assert_eq!(member::visits(&relay.document(&own.to_string()), &volunteer.id).len(), 2);
    assert_eq!(relay.document(&own.to_string()).get_heads(), phone.engine.heads(&own));
    let again = relay.sync_phone(&mut phone);
    assert_eq!((again.round_trips, again.changes_received), (1, 0), "{again:?}");
}

#[test]
fn a_relay_restored_from_a_backup_gets_back_what_the_phones_hold() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let elder = relay.member("elder", "Wang Fang");
    let mut phone = relay.phone(&volunteer);
    relay.sync_phone(&mut phone);
    let backup = tempfile::tempdir().unwrap();
    let conn = rusqlite::Connection::open(relay.dir.path().join("relay.sqlite3")).unwrap();
    conn.execute("VACUUM INTO ?1", [backup.path().join("relay.sqlite3").to_str().unwrap()]).unwrap();
    drop(conn);

    let lost = phone.log_visit(&elder.id, "lost by the relay");
    relay.sync_phone(&mut phone);
    relay.write_outcome(&volunteer.id, lost.as_str(), "under-review");
    relay.sync_phone(&mut phone);
    assert_eq!(phone.visit_states(), ["under review: "]);
    phone.log_visit(&elder.id, "after the restore");

    // The relay's disk died; it comes back from the backup, without the first visit.
    let restored = Arc::new(Relay::new(Arc::new(SqliteStore::open(backup.path()).unwrap()), relay.clock.clone()).unwrap());
    let router = app(restored.clone());
    let mut transport = relay.transport_via(&router, &phone.token);
    let report = phone.engine.sync(&mut transport).unwrap();
    assert!(report.round_trips > 1, "{report:?}");
    let own = DocId::Member(volunteer.id.clone());
    let stored = restored.store().document(&own.to_string()).unwrap().unwrap();
    let doc = automerge::Automerge::load(&stored.bytes).unwrap();
    assert_eq!(member::visits(&doc, &volunteer.id).len(), 2);
    // The ledger is the relay's alone: the phone's newer copy is not taken back (a device
    // may not write it) and does not block the sync either.
    let ledger = restored.store().document(&format!("ledger/{}", volunteer.id)).unwrap().unwrap();
    let ledger = automerge::Automerge::load(&ledger.bytes).unwrap();
    assert!(timebank_engine::documents::ledger::outcome(&ledger, lost.as_str()).is_none());
    assert!(restored.store().security_events().unwrap().is_empty());
    assert_eq!(phone.visit_states(), ["under review: ", "sent"]);

    // The restored relay writes the ledger again. It writes as a new actor of its own:
    // with the old one it would reuse a sequence number the phone already holds from the
    // lost relay, and the phone could not take its changes.
    let second = phone.engine.visits().unwrap()[1].visit.id.clone();
    crate::support::write_outcome_on(&restored, &volunteer.id, second.as_str(), "under-review");
    phone.engine.sync(&mut transport).unwrap();
    assert_eq!(phone.visit_states(), ["under review: ", "under review: "]);
}

#[test]
fn a_second_relay_on_the_same_store_never_serves_stale_documents() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let elder = relay.member("elder", "Wang Fang");
    let coordinator = relay.member("coordinator", "Chen Jing");
    let other = relay.second_relay();
    let mut phone = relay.phone(&volunteer);
    let mut desk = relay.phone(&coordinator);
    relay.sync_phone(&mut phone);
    relay.sync_phone(&mut desk);

    // The phone syncs through the other relay; the first one still has the old copy cached.
    phone.log_visit(&elder.id, "via the other relay");
    phone.engine.sync(&mut relay.transport_via(&other, &phone.token)).unwrap();
    relay.sync_phone(&mut desk);
    assert_eq!(visits_on(&desk, &volunteer.id), 1);

    // And back: the first relay's copy is fresh enough to take the next change directly.
    phone.log_visit(&elder.id, "via the first relay");
    let report = relay.sync_phone(&mut phone);
    assert_eq!(report.round_trips, 1);
    phone.engine.sync(&mut relay.transport_via(&other, &phone.token)).unwrap();
    assert_eq!(phone.visit_states(), ["sent", "sent"]);
    relay.sync_phone(&mut desk);
    assert_eq!(visits_on(&desk, &volunteer.id), 2);
}

#[test]
fn changes_built_on_changes_the_relay_lacks_wait_store_nothing_yet_and_ask_for_recovery() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let mut phone = relay.phone(&volunteer);
    relay.sync_phone(&mut phone);
    let own = format!("member/{}", volunteer.id);
    let mut doc = relay.document(&own).with_actor(phone.actor.clone());
    let mut raw_change = |note: &str| {
        doc.transact::<_, _, automerge::AutomergeError>(|tx| {
            let visits = timebank_engine::documents::fields::map_at(tx, &automerge::ROOT, "visits").unwrap();
            let draft = match timebank_engine::documents::fields::map_at(tx, &visits, "v-draft") {
                Some(draft) => draft,
                None => automerge::transaction::Transactable::put_object(tx, &visits, "v-draft", automerge::ObjType::Map)?,
            };
            automerge::transaction::Transactable::put(tx, &draft, "note", note)?;
            Ok(())
        })
        .unwrap();
        doc.get_last_local_change().unwrap().raw_bytes().to_vec()
    };
    let first = raw_change("one");
    let second = raw_change("two");
    let generation = relay.generation(&own);

    let response =
        relay.sync(&phone.token, &crate::support::listing(&relay, &phone.device, &own, vec![second.clone()])).sync_response();
    assert_eq!(response.recover.len(), 1);
    assert_eq!(response.recover[0].doc, own);
    assert!(response.docs.is_empty(), "{:?}", crate::support::pulled(&response));
    assert_eq!(relay.generation(&own), generation);

    let response =
        relay.sync(&phone.token, &crate::support::listing(&relay, &phone.device, &own, vec![first, second])).sync_response();
    assert!(response.recover.is_empty());
    // Taken whole: the answer does not name the document.
    assert_eq!(crate::support::pulled(&response), Vec::<String>::new());
    assert_eq!(relay.generation(&own), generation + 1);
}

#[test]
fn a_synced_phone_sends_one_visit_in_one_exchange_of_little_more_than_the_change() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let elder = relay.member("elder", "Wang Fang");
    let mut phone = relay.phone(&volunteer);
    relay.sync_phone(&mut phone);

    // A quiet sync costs the manifest digest and a few bytes of framing, whatever the
    // number of documents held.
    let quiet = relay.sync_phone(&mut phone);
    assert_eq!(quiet.round_trips, 1);
    assert!(quiet.bytes_up <= 16 && quiet.bytes_down <= 8, "{quiet:?}");

    let id = DocId::Member(volunteer.id.clone());
    let acked = phone.engine.heads(&id);
    phone.log_visit(&elder.id, "");
    let report = relay.sync_phone(&mut phone);
    let own = format!("member/{}", volunteer.id);
    let change_bytes: usize = relay.document(&own).get_changes(&acked).iter().map(|c| c.raw_bytes().len()).sum();
    assert_eq!(report.round_trips, 1);
    // Up: the change, the document's name and digest, framing. Down: the acknowledgement.
    assert!(report.bytes_up <= change_bytes + own.len() + 24, "{report:?}, change {change_bytes} B");
    assert!(report.bytes_down <= own.len() + 8, "{report:?}");
    assert_eq!(phone.visit_states(), ["sent"]);
}

#[test]
fn a_family_proxy_orders_for_the_elder_of_its_household_and_no_one_else() {
    use automerge::transaction::Transactable as _;
    use timebank_server::registry::{self, NewMember};
    let relay = TestRelay::new();
    let register = |role: &str, name: &str, household: Option<&str>| {
        registry::create_member(
            &relay.relay,
            &NewMember {
                station: relay.station.id.as_str(),
                role,
                name,
                birth_year: if role == "elder" { 1938 } else { 1970 },
                household,
                hardship: false,
            },
        )
        .unwrap()
    };
    let elder = register("elder", "Wang Fang", Some("h-7"));
    let neighbour = register("elder", "Zhou Min", Some("h-8"));
    let daughter = register("family-proxy", "Wang Li", Some("h-7"));
    let mut proxy = relay.phone(&daughter);
    relay.sync_phone(&mut proxy);
    assert!(proxy.documents().contains(&format!("member/{}", elder.id)));
    assert!(!proxy.documents().contains(&format!("member/{}", neighbour.id)));

    let order = proxy.engine.place_order(Some(&elder.id), "meals", "lunch on Tuesday").unwrap();
    relay.sync_phone(&mut proxy);
    let mut elder_phone = relay.phone(&elder);
    relay.sync_phone(&mut elder_phone);
    let orders = elder_phone.engine.orders();
    assert_eq!(orders.len(), 1);
    assert_eq!((&orders[0].order.id, &orders[0].order.requested_by), (&order, &daughter.id));

    // An order for an elder of another household is refused on the phone, with the way
    // out, so nothing the relay would refuse ever waits in the outbox.
    let refused = proxy.engine.place_order(Some(&neighbour.id), "meals", "").unwrap_err().to_string();
    assert!(refused.contains("does not act for elder"), "{refused}");
    assert_eq!(proxy.engine.status().unwrap().unsynced_changes, 0);

    // A tampered phone that pushes such an order anyway is refused by the relay.
    let (forged, base) = {
        let doc = relay.document(&format!("member/{}", neighbour.id));
        crate::support::forged_change(&doc, &proxy.actor, |tx| {
            let orders = timebank_engine::documents::fields::map_at(tx, &automerge::ROOT, "orders").unwrap();
            tx.put_object(&orders, "o-forged", automerge::ObjType::Map).unwrap();
        })
    };
    let answer = relay.post(
        "/v1/sync",
        Some(&proxy.token),
        wire::encode(&crate::support::push(&format!("member/{}", neighbour.id), &base, vec![forged])),
    );
    assert_eq!(answer.status.as_u16(), 403, "{}", answer.error());
    assert!(member::orders(&relay.document(&format!("member/{}", neighbour.id))).is_empty());
}

#[test]
fn the_elder_and_the_family_follow_their_order_to_visited_confirmed_and_settled() {
    use timebank_engine::model::{ConfirmedBy, OrderState, ReviewDecision};
    use timebank_server::registry::{self, NewMember};
    let relay = TestRelay::new();
    let register = |role: &str, name: &str| {
        let birth_year = if role == "elder" { 1938 } else { 1960 };
        let new = NewMember { station: relay.station.id.as_str(), role, name, birth_year, household: Some("h-7"), hardship: false };
        registry::create_member(&relay.relay, &new).unwrap()
    };
    let elder = register("elder", "Wang Fang");
    let daughter = register("family-proxy", "Wang Li");
    let volunteer = relay.member("volunteer", "Li Wei");
    let coordinator = relay.member("coordinator", "Chen Jing");
    let (mut elder_phone, mut proxy, mut desk, mut phone) =
        (relay.phone(&elder), relay.phone(&daughter), relay.phone(&coordinator), relay.phone(&volunteer));
    relay.sync_phone(&mut proxy);
    let start = chrono::DateTime::from_timestamp_millis((Utc::now() + Duration::hours(20)).timestamp_millis()).unwrap();
    let order = proxy.engine.place_order_for(Some(&elder.id), "meals", "lunch", Some((start, start + Duration::hours(2)))).unwrap();
    relay.sync_phone(&mut proxy);
    relay.sync_phone(&mut desk);
    desk.engine.dispatch(&order, &volunteer.id).unwrap();
    relay.sync_phone(&mut desk);
    relay.sync_phone(&mut phone);
    let offered = &phone.engine.assignments()[0];
    assert_eq!(
        offered.assignment.slot.map(|s| (s.start, s.end)),
        Some((start, start + Duration::hours(2))),
        "the volunteer learns when"
    );
    phone.engine.accept(&order).unwrap();

    let state = |phone: &mut Phone| {
        relay.sync_phone(phone);
        phone.engine.orders().into_iter().find(|o| o.order.id == order).map(|o| o.state)
    };
    assert_eq!(state(&mut elder_phone), Some(OrderState::Dispatched));
    let visit = phone.log_order_visit(&elder.id, Some(&order), "meals", 2, "");
    relay.sync_phone(&mut phone);
    assert_eq!(state(&mut elder_phone), Some(OrderState::Visited));
    assert_eq!(state(&mut proxy), Some(OrderState::Visited));
    phone.engine.confirm_visit(&visit, ConfirmedBy::Family).unwrap();
    relay.sync_phone(&mut phone);
    assert_eq!(state(&mut elder_phone), Some(OrderState::Confirmed), "a confirmation arriving after the visit");
    relay.sync_phone(&mut desk);
    desk.engine.review_visit(&visit, ReviewDecision::Approve, "").unwrap();
    relay.sync_phone(&mut desk);
    assert_eq!(state(&mut elder_phone), Some(OrderState::Settled));
    assert_eq!(state(&mut proxy), Some(OrderState::Settled));
    assert_eq!(state(&mut desk), Some(OrderState::Settled), "the coordinator reads the same from the volunteer's document");
    assert!(!elder_phone.documents().contains(&format!("member/{}", volunteer.id)), "still without the volunteer's document");
    assert!(timebank_server::ledger::rebuild::rebuild_check(relay.store()).unwrap().is_empty());
}
