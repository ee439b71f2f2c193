//! A coordinator's review queue and decisions: the visits of the station's volunteers that
//! reached the coordinator's device, approve / reject / flag written into the desk.

use timebank_engine::model::{ReviewDecision, Role, VisitId};
use timebank_engine::{DocId, Error};

use crate::support::{COORDINATOR, Device, VOLUNTEER, carry, member_doc, station};

/// A volunteer with two finished visits and one open, and a coordinator holding them.
fn desk_with_visits() -> (Device, Device, Vec<VisitId>) {
    let mut volunteer = Device::volunteer();
    let first = volunteer.log_paper(3, 60).unwrap();
    let second = volunteer.log_paper(2, 90).unwrap();
    volunteer.start_visit(&crate::support::member(crate::support::ELDER), "meals", None).unwrap();
    let mut coordinator = Device::create(COORDINATOR, Role::Coordinator);
    carry(&member_doc(VOLUNTEER), &volunteer, &mut coordinator);
    (volunteer, coordinator, vec![first, second])
}

fn queue_ids(coordinator: &Device) -> Vec<VisitId> {
    coordinator.review_queue().unwrap().into_iter().map(|item| item.visit.visit.id).collect()
}

#[test]
fn the_queue_holds_finished_unreviewed_visits_oldest_first() {
    let (_volunteer, coordinator, visits) = desk_with_visits();
    assert_eq!(queue_ids(&coordinator), visits, "open visits wait until check-out");
    let first = &coordinator.review_queue().unwrap()[0];
    assert_eq!(first.visit.minutes, Some(60));
    assert_eq!(first.anomaly, None);
    assert_eq!(first.review, None);
}

#[test]
fn approving_and_rejecting_take_visits_off_the_queue_flagging_keeps_them() {
    let (_volunteer, mut coordinator, visits) = desk_with_visits();
    coordinator.review_visit(&visits[0], ReviewDecision::Approve, "").unwrap();
    assert_eq!(queue_ids(&coordinator), vec![visits[1].clone()]);

    coordinator.review_visit(&visits[1], ReviewDecision::Flag, "call the elder to confirm").unwrap();
    let flagged = coordinator.review_queue().unwrap();
    assert_eq!(flagged.len(), 1);
    assert_eq!(flagged[0].review.as_ref().map(|r| r.reason.as_str()), Some("call the elder to confirm"));

    coordinator.review_visit(&visits[1], ReviewDecision::Reject, "the elder was in hospital that day").unwrap();
    assert!(queue_ids(&coordinator).is_empty());
    let review = coordinator.review(&visits[1]).unwrap();
    assert_eq!((review.decision.as_str(), review.by.as_str()), ("reject", COORDINATOR));

    // The decision is in the station desk, written durably: it survives a restart.
    coordinator.reopen();
    assert!(queue_ids(&coordinator).is_empty());
    assert!(coordinator.document_ids().contains(&DocId::Desk(station())));
}

#[test]
fn a_rejection_without_a_reason_and_an_unknown_visit_are_refused() {
    let (_volunteer, mut coordinator, visits) = desk_with_visits();
    let err = coordinator.review_visit(&visits[0], ReviewDecision::Reject, " ").unwrap_err();
    assert!(err.to_string().contains("say why"), "{err}");
    let err = coordinator.review_visit(&VisitId::parse("v-unknown").unwrap(), ReviewDecision::Approve, "").unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert_eq!(queue_ids(&coordinator), visits, "nothing changed");
}

#[test]
fn only_coordinators_review() {
    let (mut volunteer, _coordinator, visits) = desk_with_visits();
    let err = volunteer.review_visit(&visits[0], ReviewDecision::Approve, "").unwrap_err();
    assert!(matches!(err, Error::NotAllowed(_)), "{err:?}");
    assert!(volunteer.review_queue().is_err());
}

#[test]
fn a_reversed_approval_or_rejection_puts_the_visit_back_in_the_queue() {
    let (_volunteer, mut coordinator, visits) = desk_with_visits();
    coordinator.review_visit(&visits[0], ReviewDecision::Approve, "").unwrap();
    coordinator.review_visit(&visits[1], ReviewDecision::Reject, "the elder was away").unwrap();
    assert!(queue_ids(&coordinator).is_empty());

    let err = coordinator.reverse_review(&visits[0], "  ").unwrap_err();
    assert!(err.to_string().contains("say why the decision is reversed"), "{err}");
    coordinator.reverse_review(&visits[0], "approved the wrong visit").unwrap();
    coordinator.reverse_review(&visits[1], "the daughter confirms the visit").unwrap();
    assert_eq!(queue_ids(&coordinator), visits, "both wait again");
    assert_eq!(coordinator.review(&visits[0]).map(|r| r.decision), Some(ReviewDecision::Approve), "the reversed review is kept");
    let again = coordinator.reverse_review(&visits[0], "twice").unwrap_err();
    assert!(again.to_string().contains("no approval or rejection standing"), "{again}");

    // Decided again: the new review stands (the reversal named the earlier one).
    coordinator.review_visit(&visits[0], ReviewDecision::Approve, "checked with the elder").unwrap();
    coordinator.reopen();
    assert_eq!(queue_ids(&coordinator), vec![visits[1].clone()]);
}
