//! Forged authorship: a device pushes only changes its own actor made. A change under any
//! other actor, one that may write the document or not (a coordinator's, the relay's, the
//! deterministic genesis actor, another volunteer's, one nobody registered), is refused
//! whole, and nobody's sequence numbers can be taken: the real author keeps syncing.

use automerge::{ActorId, ReadDoc};
use axum::http::StatusCode;
use timebank_engine::DocId;
use timebank_engine::documents::{genesis_actor, member};
use timebank_engine::sync::wire::{self, DocPush, Recovery, SyncRequest, Voucher};

use super::{events_of, nothing_stored};
use crate::support::{TestRelay, forged_change, listing, put_at};

#[test]
fn a_change_under_any_other_actor_is_refused_even_one_that_may_write_the_document() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let other = relay.member("volunteer", "Zhao Lei");
    let coordinator = relay.member("coordinator", "Zhang Min");
    let mut phone = relay.phone(&volunteer);
    let mut second = relay.phone(&volunteer);
    let other_phone = relay.phone(&other);
    let mut desk = relay.phone(&coordinator);
    for p in [&mut phone, &mut second, &mut desk] {
        relay.sync_phone(p);
    }
    let own = DocId::Member(volunteer.id.clone());
    let before = relay.document(&own).get_heads();
    let posing_as = [
        ("the coordinator's phone", desk.actor.clone()),
        ("the volunteer's own other phone", second.actor.clone()),
        ("another volunteer's phone", other_phone.actor.clone()),
        ("the relay", relay.relay.actor().clone()),
        ("the genesis", genesis_actor()),
        ("an actor nobody registered", ActorId::random()),
    ];
    for (who, actor) in posing_as {
        let (change, _) = forged_change(&relay.document(&own), &actor, |tx| {
            put_at(tx, &["profile"], "display_name", "posing");
        });
        let answer = relay.sync(&phone.token, &listing(&relay, &phone.device, &own.to_string(), vec![change]));
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{who}: {}", answer.error());
        assert!(answer.error().contains("not by itself"), "{who}: {}", answer.error());
        let hex = actor.to_hex_string();
        assert!(events_of(&relay, &phone.device).iter().any(|e| e.contains(&hex[..12])), "{who}: the event names the actor");
    }
    nothing_stored(&relay, &mut second, &own, &before);
    // Every one of them keeps syncing, the volunteer's phone too.
    for p in [&mut second, &mut desk, &mut phone] {
        assert!(p.engine.sync(&mut relay.transport(&p.token)).is_ok());
    }
}

#[test]
fn a_phone_posing_as_its_coordinator_cannot_lock_the_coordinator_out() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let elder = relay.member("elder", "Wang Fang");
    let coordinator = relay.member("coordinator", "Zhang Min");
    let mut phone = relay.phone(&volunteer);
    let mut desk = relay.phone(&coordinator);
    relay.sync_phone(&mut desk);
    let order = desk.engine.place_order(Some(&elder.id), "companionship", "").unwrap();
    desk.engine.dispatch(&order, &volunteer.id).unwrap();
    relay.sync_phone(&mut desk);
    relay.sync_phone(&mut phone);

    // The volunteer's phone reads the coordinator's actor off the dispatch in its own
    // document and makes a change at the coordinator's next sequence number there.
    let own = DocId::Member(volunteer.id.clone());
    let doc = relay.document(&own);
    let assignments = timebank_engine::documents::fields::map_at(&doc, &automerge::ROOT, member::ASSIGNMENTS).unwrap();
    let Some((_, automerge::ObjId::Id(_, coordinator_actor, _))) = doc.get(&assignments, order.as_str()).unwrap() else {
        panic!("the assignment is an object made by the coordinator's phone");
    };
    assert_eq!(coordinator_actor, desk.actor);
    let (forged, _) = forged_change(&doc, &coordinator_actor, |tx| {
        put_at(tx, &["assignments", order.as_str()], "note", "as the coordinator");
    });
    let before = doc.get_heads();
    let answer = relay.sync(&phone.token, &listing(&relay, &phone.device, &own.to_string(), vec![forged]));
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(events_of(&relay, &phone.device).len(), 1);
    nothing_stored(&relay, &mut desk, &own, &before);

    // The coordinator's own next change (the sequence number the forgery tried to take)
    // goes through in one round trip.
    let second = desk.engine.place_order(Some(&elder.id), "meals", "").unwrap();
    desk.engine.dispatch(&second, &volunteer.id).unwrap();
    let report = relay.sync_phone(&mut desk);
    assert_eq!(report.round_trips, 1, "{report:?}");
    relay.sync_phone(&mut phone);
    assert_eq!(phone.engine.assignments().len(), 2);
}

#[test]
fn a_voucher_the_relay_did_not_make_or_changes_it_does_not_cover_are_refused() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let coordinator = relay.member("coordinator", "Zhang Min");
    let mut phone = relay.phone(&volunteer);
    let mut desk = relay.phone(&coordinator);
    relay.sync_phone(&mut phone);
    relay.sync_phone(&mut desk);
    let own = DocId::Member(volunteer.id.clone());
    let doc = relay.document(&own);
    let before = doc.get_heads();
    let (foreign, _) = forged_change(&doc, &desk.actor, |tx| put_at(tx, &["profile"], "display_name", "x"));
    let recover = |voucher: Voucher| SyncRequest {
        manifest: None,
        docs: vec![DocPush {
            doc: own.to_string(),
            acked: wire::heads_digest(&before),
            changes: vec![foreign.clone()],
            recovery: Some(Recovery { heads: wire::to_wire_heads(&before), voucher: Some(voucher) }),
        }],
    };
    // A made-up code.
    let made_up = Voucher { heads: wire::to_wire_heads(&before), mac: [7; wire::VOUCHER_BYTES] };
    let answer = relay.sync(&phone.token, &recover(made_up));
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(answer.error().contains("a voucher this relay did not make"), "{}", answer.error());
    // A real voucher (for the heads the relay holds), claiming a change it does not cover.
    let real = Voucher { heads: wire::to_wire_heads(&before), mac: relay.relay.vouchers().vouch(&own.to_string(), &before) };
    let answer = relay.sync(&phone.token, &recover(real));
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(answer.error().contains("not by itself"), "{}", answer.error());
    assert_eq!(events_of(&relay, &phone.device).len(), 2);
    nothing_stored(&relay, &mut desk, &own, &before);
    assert!(phone.engine.sync(&mut relay.transport(&phone.token)).is_ok());
}
