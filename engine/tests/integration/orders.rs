//! Orders across devices (点单 → 派单 → 接单 → visit → confirmation), with the documents
//! carried between phones by hand (`document_bytes` → `receive_changes`), and damaged
//! bytes refused without harm.

use timebank_engine::model::{ConfirmedBy, OrderState, Response, Role};
use timebank_engine::{Error, PastVisit};

use crate::support::{COORDINATOR, Device, ELDER, VOLUNTEER, carry, member, member_doc, paper_visit, seen};

/// The three phones of the order flow.
struct Phones {
    elder: Device,
    coordinator: Device,
    volunteer: Device,
}

/// The three phones; the coordinator's holds the volunteer's document (its profile says
/// volunteer), as after a sync, so it may dispatch to them (ADR 0022).
fn phones() -> Phones {
    let volunteer = Device::create(VOLUNTEER, Role::Volunteer);
    let mut coordinator = Device::create(COORDINATOR, Role::Coordinator);
    carry(&member_doc(VOLUNTEER), &volunteer, &mut coordinator);
    Phones { elder: Device::create(ELDER, Role::Elder), coordinator, volunteer }
}

fn order_state(device: &Device) -> Vec<OrderState> {
    device.orders().into_iter().map(|o| o.state).collect()
}

#[test]
fn an_order_goes_from_the_elder_through_the_coordinator_to_a_volunteer_and_back() {
    let Phones { mut elder, mut coordinator, mut volunteer } = phones();

    // 点单: the elder orders on their own phone.
    let order = elder.place_order(None, "meals", "lunch, Tuesday noon").unwrap();
    let placed = elder.orders();
    assert_eq!(placed.len(), 1);
    assert_eq!(placed[0].order.id, order);
    assert_eq!(placed[0].order.elder, member(ELDER));
    assert_eq!(placed[0].order.requested_by, member(ELDER));
    assert_eq!(placed[0].state, OrderState::Requested);

    // The coordinator receives the elder's document and sees the order.
    assert!(coordinator.orders().is_empty());
    assert!(carry(&member_doc(ELDER), &elder, &mut coordinator) > 0);
    assert_eq!(coordinator.orders().len(), 1);
    assert_eq!(order_state(&coordinator), [OrderState::Requested]);

    // 派单: dispatched to the volunteer, written into both documents.
    coordinator.wait_minutes(10);
    coordinator.dispatch(&order, &member(VOLUNTEER)).unwrap();
    let dispatched = coordinator.orders();
    assert_eq!(dispatched[0].state, OrderState::Dispatched);
    assert_eq!(dispatched[0].order.dispatched_to, Some(member(VOLUNTEER)));
    assert_eq!(dispatched[0].order.dispatched_at, Some(coordinator.now()));

    // The volunteer's phone receives its document from the coordinator's.
    assert!(volunteer.assignments().is_empty());
    assert!(carry(&member_doc(VOLUNTEER), &coordinator, &mut volunteer) > 0);
    let offered = volunteer.assignments();
    assert_eq!(offered.len(), 1);
    assert_eq!(offered[0].assignment.order, order);
    assert_eq!(offered[0].assignment.elder, member(ELDER));
    assert_eq!(offered[0].assignment.service, "meals");
    assert_eq!(offered[0].assignment.note, "lunch, Tuesday noon");
    assert_eq!(offered[0].assignment.offered_by, member(COORDINATOR));
    assert_eq!(offered[0].state, OrderState::Dispatched);
    // The volunteer's own profile survived the merge.
    assert_eq!(volunteer.status().unwrap().visits, 0);

    // 接单.
    volunteer.accept(&order).unwrap();
    let accepted = volunteer.assignments();
    assert_eq!(accepted[0].state, OrderState::Accepted);
    assert_eq!(accepted[0].assignment.response, Some(Response::Accepted));

    // The visit for the order, logged live with the order id.
    volunteer.wait_minutes(60);
    let visit = volunteer.start_visit(&member(ELDER), "meals", Some(&order)).unwrap();
    volunteer.wait_minutes(40);
    let done = volunteer.end_visit(&visit, None, Some("noodles")).unwrap();
    assert_eq!(done.visit.order, Some(order.clone()));
    assert_eq!(volunteer.assignments()[0].state, OrderState::Visited);
    volunteer.confirm_visit(&visit, ConfirmedBy::Elder).unwrap();
    assert_eq!(volunteer.assignments()[0].state, OrderState::Confirmed);

    // Everything survives a restart of the volunteer's phone.
    let volunteer_seen = seen(&volunteer);
    volunteer.reopen();
    assert_eq!(seen(&volunteer), volunteer_seen);

    // The elder's document carried back shows the dispatch.
    assert_eq!(order_state(&elder), [OrderState::Requested]);
    assert!(carry(&member_doc(ELDER), &coordinator, &mut elder) > 0);
    assert_eq!(order_state(&elder), [OrderState::Dispatched]);
    assert_eq!(elder.orders()[0].order.dispatched_to, Some(member(VOLUNTEER)));
    elder.reopen();
    assert_eq!(order_state(&elder), [OrderState::Dispatched]);

    // The coordinator, once it has the volunteer's document back, sees the whole story.
    assert!(carry(&member_doc(VOLUNTEER), &volunteer, &mut coordinator) > 0);
    assert_eq!(order_state(&coordinator), [OrderState::Confirmed]);
}

#[test]
fn a_coordinator_orders_for_an_elder_and_a_paper_visit_fulfils_it() {
    let Phones { elder: _, mut coordinator, mut volunteer } = phones();
    let order = coordinator.place_order(Some(&member(ELDER)), "escort", "hospital on Friday").unwrap();
    assert_eq!(coordinator.orders()[0].order.requested_by, member(COORDINATOR));
    coordinator.dispatch(&order, &member(VOLUNTEER)).unwrap();
    carry(&member_doc(VOLUNTEER), &coordinator, &mut volunteer);
    volunteer.accept(&order).unwrap();
    volunteer.wait_minutes(24 * 60);
    let past = PastVisit { order: Some(order.clone()), service: "escort".into(), ..paper_visit(&volunteer, 1, 120) };
    let visit = volunteer.log_visit(&past).unwrap();
    assert_eq!(volunteer.visit_view(&visit).unwrap().visit.order, Some(order));
    assert_eq!(volunteer.assignments()[0].state, OrderState::Visited);
}

#[test]
fn a_declined_order_cannot_be_visited_until_it_is_accepted() {
    let Phones { mut elder, mut coordinator, mut volunteer } = phones();
    let order = elder.place_order(None, "cleaning", "").unwrap();
    carry(&member_doc(ELDER), &elder, &mut coordinator);
    coordinator.dispatch(&order, &member(VOLUNTEER)).unwrap();
    carry(&member_doc(VOLUNTEER), &coordinator, &mut volunteer);

    volunteer.decline(&order, "away this week").unwrap();
    let declined = volunteer.assignments();
    assert_eq!(declined[0].state, OrderState::Declined);
    assert_eq!(declined[0].assignment.decline_reason, "away this week");
    let error = volunteer.start_visit(&member(ELDER), "cleaning", Some(&order)).unwrap_err();
    assert!(error.to_string().contains("you declined order"), "{error}");
    assert_eq!(volunteer.status().unwrap().visits, 0);

    // The coordinator learns of the refusal from the volunteer's document.
    carry(&member_doc(VOLUNTEER), &volunteer, &mut coordinator);
    assert_eq!(order_state(&coordinator), [OrderState::Declined]);

    volunteer.accept(&order).unwrap();
    assert_eq!(volunteer.assignments()[0].state, OrderState::Accepted);
    volunteer.start_visit(&member(ELDER), "cleaning", Some(&order)).unwrap();
    assert_eq!(volunteer.assignments()[0].state, OrderState::Visited);
}

#[test]
fn a_visit_for_an_order_must_be_at_that_orders_elder() {
    let Phones { mut elder, mut coordinator, mut volunteer } = phones();
    let order = elder.place_order(None, "meals", "").unwrap();
    carry(&member_doc(ELDER), &elder, &mut coordinator);
    coordinator.dispatch(&order, &member(VOLUNTEER)).unwrap();
    carry(&member_doc(VOLUNTEER), &coordinator, &mut volunteer);
    volunteer.accept(&order).unwrap();
    let before = seen(&volunteer);
    let error = volunteer.start_visit(&member("e-9999"), "meals", Some(&order)).unwrap_err();
    assert!(error.to_string().contains(&format!("order {order} is for elder {ELDER}")), "{error}");
    assert_eq!(seen(&volunteer), before);
}

#[test]
fn receiving_the_same_changes_twice_adds_nothing() {
    let Phones { mut elder, mut coordinator, .. } = phones();
    elder.place_order(None, "meals", "").unwrap();
    let bytes = elder.document_bytes(&member_doc(ELDER)).unwrap();
    assert!(coordinator.receive_changes(&member_doc(ELDER), &bytes).unwrap() > 0);
    let after_first = seen(&coordinator);
    assert_eq!(coordinator.receive_changes(&member_doc(ELDER), &bytes).unwrap(), 0);
    assert_eq!(seen(&coordinator), after_first);
    coordinator.reopen();
    assert_eq!(seen(&coordinator), after_first);
}

/// Damages `bytes` in several ways a transfer could: a flipped byte in the middle, a cut
/// off end, garbage appended, and nothing but garbage.
fn damaged(bytes: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let mut flipped = bytes.to_vec();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x5a;
    let mut appended = bytes.to_vec();
    appended.extend_from_slice(b"\x85\x6f\x4a\x83garbage after the end");
    vec![
        ("a flipped byte", flipped),
        ("a cut-off end", bytes[..bytes.len() * 2 / 3].to_vec()),
        ("garbage appended", appended),
        ("only garbage", b"this is not an automerge document at all".to_vec()),
    ]
}

#[test]
fn damaged_changes_for_a_document_already_held_are_refused_and_change_nothing() {
    let Phones { mut elder, mut coordinator, .. } = phones();
    elder.place_order(None, "meals", "first").unwrap();
    carry(&member_doc(ELDER), &elder, &mut coordinator);
    elder.wait_minutes(5);
    elder.place_order(None, "cleaning", "second").unwrap();
    let good = elder.document_bytes(&member_doc(ELDER)).unwrap();
    let before = seen(&coordinator);
    assert_eq!(before.orders.len(), 1);

    for (how, bytes) in damaged(&good) {
        let error = coordinator.receive_changes(&member_doc(ELDER), &bytes).expect_err(how);
        assert!(error.to_string().contains("damaged"), "{how}: {error}");
        assert!(error.to_string().contains("nothing was stored"), "{how}: {error}");
        assert_eq!(seen(&coordinator), before, "{how}");
        coordinator.reopen();
        assert_eq!(seen(&coordinator), before, "{how}");
    }

    // The undamaged bytes still merge afterwards.
    assert!(coordinator.receive_changes(&member_doc(ELDER), &good).unwrap() > 0);
    assert_eq!(coordinator.orders().len(), 2);
}

#[test]
fn damaged_bytes_for_a_new_document_are_refused_and_leave_no_document_behind() {
    let Phones { mut elder, mut coordinator, .. } = phones();
    elder.place_order(None, "meals", "").unwrap();
    let good = elder.document_bytes(&member_doc(ELDER)).unwrap();
    let before = seen(&coordinator);

    for (how, bytes) in damaged(&good) {
        let error = coordinator.receive_changes(&member_doc(ELDER), &bytes).expect_err(how);
        assert!(matches!(error, Error::Invalid(_)), "{how}: {error:?}");
        assert!(error.to_string().contains("damaged"), "{how}: {error}");
        assert!(!coordinator.document_ids().contains(&member_doc(ELDER)), "{how}");
        assert_eq!(seen(&coordinator), before, "{how}");
        coordinator.reopen();
        assert_eq!(seen(&coordinator), before, "{how}");
    }
}
