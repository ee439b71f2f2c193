//! The elder's name on a dispatch (ADR 0021), through the relay: the console's dispatch
//! and a coordinator's phone both copy the name into the dispatched volunteer's document,
//! so that volunteer's phone shows it after a sync; another volunteer of the station can
//! read neither that document nor the elder's.

use axum::http::StatusCode;
use timebank_engine::DocId;
use timebank_engine::model::OrderState;
use timebank_server::desk;

use crate::support::{TestRelay, own_docs, push};

#[test]
fn the_consoles_dispatch_names_the_elder_to_the_dispatched_volunteer_only() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let bystander = relay.member("volunteer", "Chen Jie");
    let elder = relay.member("elder", "王芳");
    let coordinator = relay.member("coordinator", "Zhang Min");
    let mut phone = relay.phone(&volunteer);
    let mut other = relay.phone(&bystander);

    let order = desk::place_order(&relay.relay, &coordinator.id, &elder.id, "meals", "lunch, Tuesday noon", None).unwrap();
    desk::dispatch(&relay.relay, &coordinator.id, &order, &volunteer.id, None).unwrap();

    relay.sync_phone(&mut phone);
    let offered = phone.engine.assignments();
    assert_eq!(offered.len(), 1);
    assert_eq!(offered[0].assignment.elder, elder.id);
    assert_eq!(offered[0].assignment.elder_name.as_deref(), Some("王芳"));
    assert_eq!(offered[0].state, OrderState::Dispatched);
    // The name came in the volunteer's own document: the phone holds no elder's document.
    assert_eq!(phone.documents(), own_docs(&volunteer.id, &relay.station.id));

    // A visit for the order shows the name too.
    phone.engine.accept(&order).unwrap();
    let visit = phone.engine.start_visit(&elder.id, "meals", Some(&order)).unwrap();
    assert_eq!(phone.engine.visit_view(&visit).unwrap().elder_name.as_deref(), Some("王芳"));
    relay.sync_phone(&mut phone);

    // Another volunteer of the station gets neither the assignment nor any name: its phone
    // holds its own documents only, and asking for the dispatched volunteer's or the
    // elder's document is refused.
    relay.sync_phone(&mut other);
    assert!(other.engine.assignments().is_empty());
    assert!(other.engine.orders().is_empty());
    assert_eq!(other.documents(), own_docs(&bystander.id, &relay.station.id));
    for doc in [DocId::Member(volunteer.id.clone()), DocId::Member(elder.id.clone())] {
        let answer = relay.sync(&other.token, &push(&doc.to_string(), &[], vec![]));
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{doc}: {}", answer.error());
        assert!(other.engine.document_bytes(&doc).is_none(), "{doc}");
    }

    // The station's coordinators read the name on the volunteer's document.
    let mut desk_phone = relay.phone(&coordinator);
    relay.sync_phone(&mut desk_phone);
    let seen = timebank_engine::documents::member::assignments(&desk_phone.document(&DocId::Member(volunteer.id.clone())));
    assert_eq!(seen[0].elder_name.as_deref(), Some("王芳"));
}

#[test]
fn a_coordinators_phone_names_the_elder_it_synced_from_the_relay() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let elder = relay.member("elder", "王芳");
    let coordinator = relay.member("coordinator", "Zhang Min");
    let mut desk_phone = relay.phone(&coordinator);
    let mut phone = relay.phone(&volunteer);

    // The coordinator's phone knows the elder's name from the profile the relay wrote at
    // registration, and dispatches offline.
    relay.sync_phone(&mut desk_phone);
    let order = desk_phone.engine.place_order(Some(&elder.id), "escort", "clinic, Friday 9:00").unwrap();
    desk_phone.engine.dispatch(&order, &volunteer.id).unwrap();
    relay.sync_phone(&mut desk_phone);

    relay.sync_phone(&mut phone);
    let offered = phone.engine.assignments();
    assert_eq!(offered.len(), 1);
    assert_eq!(offered[0].assignment.order, order);
    assert_eq!(offered[0].assignment.elder_name.as_deref(), Some("王芳"));
}
