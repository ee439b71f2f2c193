//! The elder's name on a dispatch (ADR 0021): a coordinator's phone copies the name it
//! knows from the elder's profile into the volunteer's assignment, so the volunteer's
//! phone shows 王芳 without holding the elder's document; dispatches made before names
//! were copied still read, without a name.

use automerge::transaction::Transactable;
use automerge::{ActorId, ROOT};
use timebank_engine::documents::{self, fields, member as member_doc_fields};
use timebank_engine::model::{OrderId, OrderState, Profile, Role, Verification};

use crate::support::{COORDINATOR, Device, ELDER, OTHER_ELDER, VOLUNTEER, carry, member, member_doc, station};

/// The elder's name, as the station registered it.
const NAME: &str = "王芳";

/// The elder's document as the relay writes it at registration: genesis and the profile.
fn registered_elder_doc(raw: &str, name: &str) -> Vec<u8> {
    registered_doc(raw, Role::Elder, name)
}

/// A member's document as the relay writes it at registration: genesis and the profile.
fn registered_doc(raw: &str, role: Role, name: &str) -> Vec<u8> {
    let id = member_doc(raw);
    let mut doc = documents::genesis(&id, ActorId::random()).unwrap();
    let profile = Profile {
        id: member(raw),
        role,
        station: station(),
        display_name: name.to_owned(),
        birth_year: Some(1941),
        household: None,
        verification: Verification::Verified,
    };
    doc.transact::<_, _, automerge::AutomergeError>(|tx| member_doc_fields::put_profile(tx, &profile)).unwrap();
    doc.save()
}

/// A coordinator's phone that synced the station's registered volunteer (whom it
/// dispatches to) and the elder's registered document, with an order for the elder
/// placed on it.
fn coordinator_with_order(elder_name: &str) -> (Device, OrderId) {
    let mut coordinator = coordinator_knowing_the_volunteer();
    coordinator.receive_changes(&member_doc(ELDER), &registered_elder_doc(ELDER, elder_name)).unwrap();
    let order = coordinator.place_order(Some(&member(ELDER)), "meals", "lunch, Tuesday noon").unwrap();
    (coordinator, order)
}

/// A coordinator's phone that synced the volunteer's registered document: a dispatch goes
/// to a member the phone knows as a volunteer (ADR 0022).
fn coordinator_knowing_the_volunteer() -> Device {
    let mut coordinator = Device::create(COORDINATOR, Role::Coordinator);
    coordinator.receive_changes(&member_doc(VOLUNTEER), &registered_doc(VOLUNTEER, Role::Volunteer, "Li Wei")).unwrap();
    coordinator
}

#[test]
fn the_volunteer_sees_the_elders_name_without_holding_the_elders_document() {
    let (mut coordinator, order) = coordinator_with_order(NAME);
    coordinator.dispatch(&order, &member(VOLUNTEER)).unwrap();

    let mut volunteer = Device::create(VOLUNTEER, Role::Volunteer);
    assert!(carry(&member_doc(VOLUNTEER), &coordinator, &mut volunteer) > 0);
    let offered = volunteer.assignments();
    assert_eq!(offered.len(), 1);
    assert_eq!(offered[0].assignment.elder, member(ELDER));
    assert_eq!(offered[0].assignment.elder_name.as_deref(), Some(NAME));
    assert_eq!(offered[0].state, OrderState::Dispatched);
    // The name came with the volunteer's own document; the elder's is not on the phone.
    assert!(!volunteer.document_ids().contains(&member_doc(ELDER)), "{:?}", volunteer.document_ids());

    // A visit for the order shows the name too; a visit without an order does not guess.
    volunteer.accept(&order).unwrap();
    volunteer.wait_minutes(30);
    let visit = volunteer.start_visit(&member(ELDER), "meals", Some(&order)).unwrap();
    volunteer.wait_minutes(45);
    assert_eq!(volunteer.end_visit(&visit, None, None).unwrap().elder_name.as_deref(), Some(NAME));
    volunteer.wait_minutes(30);
    let other = volunteer.start_visit(&member(OTHER_ELDER), "meals", None).unwrap();
    assert_eq!(volunteer.visit_view(&other).unwrap().elder_name, None);

    // The name survives a restart of the phone.
    volunteer.reopen();
    assert_eq!(volunteer.assignments()[0].assignment.elder_name.as_deref(), Some(NAME));
    assert_eq!(volunteer.visit_view(&visit).unwrap().elder_name.as_deref(), Some(NAME));

    // The coordinator reads the same name back from the volunteer's document.
    assert!(carry(&member_doc(VOLUNTEER), &volunteer, &mut coordinator) > 0);
    let queue = coordinator.review_queue().unwrap();
    let reviewed = queue.iter().find(|item| item.visit.visit.id == visit).unwrap();
    assert_eq!(reviewed.visit.elder_name.as_deref(), Some(NAME));
}

#[test]
fn a_blank_or_unknown_name_is_not_copied() {
    // The registered name is blank.
    let (mut coordinator, order) = coordinator_with_order("   ");
    coordinator.dispatch(&order, &member(VOLUNTEER)).unwrap();
    let mut volunteer = Device::create(VOLUNTEER, Role::Volunteer);
    carry(&member_doc(VOLUNTEER), &coordinator, &mut volunteer);
    assert_eq!(volunteer.assignments()[0].assignment.elder_name, None);

    // The coordinator's phone has no profile for the elder at all.
    let mut coordinator = coordinator_knowing_the_volunteer();
    let order = coordinator.place_order(Some(&member(OTHER_ELDER)), "escort", "").unwrap();
    coordinator.dispatch(&order, &member(VOLUNTEER)).unwrap();
    let mut volunteer = Device::create(VOLUNTEER, Role::Volunteer);
    carry(&member_doc(VOLUNTEER), &coordinator, &mut volunteer);
    let offered = volunteer.assignments();
    assert_eq!(offered[0].assignment.elder, member(OTHER_ELDER));
    assert_eq!(offered[0].assignment.elder_name, None);
}

#[test]
fn a_dispatch_written_before_names_were_copied_still_reads_without_a_name() {
    // The volunteer's document with an assignment in the old shape (no `elder_name`),
    // written field by field as an older coordinator's phone wrote it.
    let mut volunteer = Device::create(VOLUNTEER, Role::Volunteer);
    let mut old = automerge::Automerge::load(&volunteer.document_bytes(&member_doc(VOLUNTEER)).unwrap()).unwrap();
    old.set_actor(ActorId::random());
    old.transact::<_, _, automerge::AutomergeError>(|tx| {
        let obj = fields::record(tx, &ROOT, member_doc_fields::ASSIGNMENTS, "o-old-dispatch")?;
        tx.put(&obj, "elder", ELDER)?;
        tx.put(&obj, "service", "meals")?;
        tx.put(&obj, "note", "before names")?;
        tx.put(&obj, "offered_by", COORDINATOR)?;
        fields::put_time(tx, &obj, "offered_at", volunteer.now())
    })
    .unwrap();
    assert!(volunteer.receive_changes(&member_doc(VOLUNTEER), &old.save()).unwrap() > 0);

    let offered = volunteer.assignments();
    assert_eq!(offered.len(), 1);
    assert_eq!(offered[0].assignment.order.as_str(), "o-old-dispatch");
    assert_eq!(offered[0].assignment.note, "before names");
    assert_eq!(offered[0].assignment.elder_name, None);
    // It can still be accepted and visited.
    let order = offered[0].assignment.order.clone();
    volunteer.accept(&order).unwrap();
    let visit = volunteer.start_visit(&member(ELDER), "meals", Some(&order)).unwrap();
    assert_eq!(volunteer.visit_view(&visit).unwrap().elder_name, None);

    // An assignment serialized without the field (an older app's JSON) reads as None too.
    let mut json = serde_json::to_value(&offered[0].assignment).unwrap();
    json.as_object_mut().unwrap().remove("elder_name");
    let read: timebank_engine::model::Assignment = serde_json::from_value(json).unwrap();
    assert_eq!(read.elder_name, None);
}
