//! Documents as other writers leave them: a desk and a ledger written with plain automerge
//! puts of the stored spellings (what this engine wrote before decisions and statuses were
//! enums, and what another implementation writes) read into the enums, the engine's own
//! helpers still write those very bytes, and a spelling this build does not know is
//! skipped, never a panic. Strings stored as automerge text objects (the JavaScript
//! library's default for a string) read like scalar strings: the records show on screen.

use automerge::transaction::{CommitOptions, Transactable, Transaction};
use automerge::{ActorId, Automerge, AutomergeError, ObjId, ObjType, ROOT, ScalarValue};
use chrono::{DateTime, Duration, Utc};
use timebank_engine::documents::fields::map_at;
use timebank_engine::documents::{self, desk, ledger};
use timebank_engine::model::{OrderState, OutcomeStatus, RedemptionAction, RequestId, ReviewDecision, Role, VisitId};
use timebank_engine::{DocId, VisitState};

use crate::support::{COORDINATOR, Device, ELDER, VOLUNTEER, carry, member, member_doc, station};

const AT_MS: i64 = 1_772_442_000_000;

fn at() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(AT_MS).unwrap()
}

fn actor() -> ActorId {
    ActorId::from(b"another-writer".as_slice())
}

/// Document `id` from genesis with one change by [`actor`] at [`AT_MS`], made by `edit`.
fn written(id: &DocId, edit: impl FnOnce(&mut automerge::transaction::Transaction<'_>) -> Result<(), AutomergeError>) -> Automerge {
    let mut doc = documents::genesis(id, actor()).unwrap();
    doc.transact_with(|_| CommitOptions::default().with_time(AT_MS), edit).unwrap();
    doc
}

/// A record `key` in collection `collection`, with string fields and a time `at`.
fn plain_record(
    tx: &mut automerge::transaction::Transaction<'_>,
    collection: &str,
    key: &str,
    fields: &[(&str, &str)],
) -> Result<(), AutomergeError> {
    let parent = map_at(tx, &ROOT, collection).unwrap();
    let obj = tx.put_object(&parent, key, ObjType::Map)?;
    for (field, value) in fields {
        tx.put(&obj, *field, *value)?;
    }
    tx.put(&obj, "at", ScalarValue::Timestamp(AT_MS))
}

#[test]
fn a_desk_written_with_the_stored_spellings_reads_into_the_enums_and_the_engine_writes_the_same_bytes() {
    let desk_id = DocId::Desk(station());
    let (visit, request) = (VisitId::parse("v-1").unwrap(), RequestId::parse("r-1").unwrap());
    let before = written(&desk_id, |tx| {
        plain_record(tx, desk::REVIEWS, "v-1", &[("decision", "reject"), ("reason", "the elder was away"), ("by", COORDINATOR)])?;
        plain_record(tx, desk::DECISIONS, "r-1", &[("action", "release"), ("by", COORDINATOR)])
    });

    let review = desk::review(&before, &visit).unwrap();
    assert_eq!(
        (review.decision, review.reason.as_str(), &review.by, review.at),
        (ReviewDecision::Reject, "the elder was away", &member(COORDINATOR), at())
    );
    let decision = desk::decision(&before, &request).unwrap();
    assert_eq!((decision.action, &decision.by), (RedemptionAction::Release, &member(COORDINATOR)));

    // The typed helpers write what the plain puts wrote, byte for byte.
    let now = written(&desk_id, |tx| {
        desk::put_review(tx, &visit, &review)?;
        desk::put_decision(tx, &request, &decision)
    });
    assert_eq!(now.save(), before.save());
}

#[test]
fn a_ledger_written_with_the_stored_spellings_reads_into_the_enums_and_the_engine_writes_the_same_bytes() {
    let ledger_id = DocId::Ledger(member("v-1001"));
    let spellings = [
        ("approved", OutcomeStatus::Approved),
        ("rejected", OutcomeStatus::Rejected),
        ("under-review", OutcomeStatus::UnderReview),
        ("accepted", OutcomeStatus::Accepted),
        ("refused", OutcomeStatus::Refused),
        ("fulfilled", OutcomeStatus::Fulfilled),
        ("released", OutcomeStatus::Released),
    ];
    let before = written(&ledger_id, |tx| {
        let outcomes = map_at(tx, &ROOT, ledger::OUTCOMES).unwrap();
        for (i, (spelling, _)) in spellings.iter().enumerate() {
            let obj = tx.put_object(&outcomes, format!("s-{i}").as_str(), ObjType::Map)?;
            tx.put(&obj, "status", *spelling)?;
            tx.put(&obj, "reason", "")?;
            tx.put(&obj, "minutes", 60_i64)?;
        }
        Ok(())
    });
    for (i, (_, status)) in spellings.iter().enumerate() {
        assert_eq!(ledger::outcome(&before, &format!("s-{i}")).map(|o| o.status), Some(*status));
    }

    let now = written(&ledger_id, |tx| {
        for (i, (_, status)) in spellings.iter().enumerate() {
            ledger::put_outcome(tx, &format!("s-{i}"), &ledger::Outcome { status: *status, reason: String::new(), minutes: 60 })?;
        }
        Ok(())
    });
    assert_eq!(now.save(), before.save());
}

#[test]
fn a_spelling_this_build_does_not_know_is_skipped_not_a_panic() {
    let desk_doc = written(&DocId::Desk(station()), |tx| {
        plain_record(tx, desk::REVIEWS, "v-1", &[("decision", "escalate"), ("reason", ""), ("by", COORDINATOR)])?;
        plain_record(tx, desk::REVIEWS, "v-2", &[("decision", "approve"), ("reason", ""), ("by", COORDINATOR)])?;
        plain_record(tx, desk::DECISIONS, "r-1", &[("action", "refund"), ("by", COORDINATOR)])
    });
    assert_eq!(desk::review(&desk_doc, &VisitId::parse("v-1").unwrap()), None);
    assert_eq!(desk::review(&desk_doc, &VisitId::parse("v-2").unwrap()).map(|r| r.decision), Some(ReviewDecision::Approve));
    assert_eq!(desk::decision(&desk_doc, &RequestId::parse("r-1").unwrap()), None);

    let ledger_doc = written(&DocId::Ledger(member("v-1001")), |tx| {
        let outcomes = map_at(tx, &ROOT, ledger::OUTCOMES).unwrap();
        let obj = tx.put_object(&outcomes, "v-1", ObjType::Map)?;
        tx.put(&obj, "status", "postponed")
    });
    assert_eq!(ledger::outcome(&ledger_doc, "v-1"), None, "a status of a newer relay reads as not decided yet");
    assert!(ledger::outcomes(&ledger_doc).is_empty());
}

/// Puts `value` under `key` as an automerge text object, as the JavaScript library does.
fn put_text(tx: &mut Transaction<'_>, obj: &ObjId, key: &str, value: &str) -> Result<(), AutomergeError> {
    let text = tx.put_object(obj, key, ObjType::Text)?;
    tx.splice_text(&text, 0, 0, value)
}

/// Edits document `id` of `device` as another implementation would (its own actor), and
/// hands the device the new changes as a sync would.
fn edited_elsewhere(device: &mut Device, id: &DocId, edit: impl FnOnce(&mut Transaction<'_>) -> Result<(), AutomergeError>) {
    let mut doc = Automerge::load(&device.document_bytes(id).unwrap()).unwrap().with_actor(actor());
    let heads = doc.get_heads();
    doc.transact_with(|_| CommitOptions::default().with_time(device.now().timestamp_millis()), edit).unwrap();
    assert!(device.receive_changes(id, &doc.save_after(&heads)).unwrap() > 0);
}

#[test]
fn a_visit_an_order_and_an_outcome_written_as_text_objects_show_on_the_phones() {
    let mut volunteer = Device::volunteer();
    let visit = VisitId::generate();
    let (start, end) = (volunteer.now() - Duration::hours(3), volunteer.now() - Duration::hours(2));
    edited_elsewhere(&mut volunteer, &member_doc(VOLUNTEER), |tx| {
        let visits = map_at(tx, &ROOT, "visits").unwrap();
        let obj = tx.put_object(&visits, visit.as_str(), ObjType::Map)?;
        put_text(tx, &obj, "elder", ELDER)?;
        put_text(tx, &obj, "service", "companionship")?;
        put_text(tx, &obj, "source", "paper")?;
        put_text(tx, &obj, "note", "读报纸 read the newspaper")?;
        tx.put(&obj, "check_in", ScalarValue::Timestamp(start.timestamp_millis()))?;
        tx.put(&obj, "check_out", ScalarValue::Timestamp(end.timestamp_millis()))
    });
    let shown = volunteer.visits().unwrap();
    assert_eq!(shown.len(), 1, "the visit written as text shows on the volunteer's phone");
    let v = &shown[0].visit;
    assert_eq!(
        (&v.id, &v.elder, v.service.as_str(), v.note.as_str()),
        (&visit, &member(ELDER), "companionship", "读报纸 read the newspaper")
    );
    assert_eq!(shown[0].minutes, Some(60));
    assert_eq!(volunteer.balance().pending_minutes, 60);

    // A coordinator's phone holding the volunteer's document has it in the review queue.
    let mut coordinator = Device::create(COORDINATOR, Role::Coordinator);
    carry(&member_doc(VOLUNTEER), &volunteer, &mut coordinator);
    let queue = coordinator.review_queue().unwrap();
    assert_eq!(queue.iter().map(|item| &item.visit.visit.id).collect::<Vec<_>>(), [&visit]);

    // The ledger's outcome, status and reason as text, reaches the volunteer's screen.
    let ledger_id = DocId::Ledger(member(VOLUNTEER));
    let mut relay_side = documents::genesis(&ledger_id, actor()).unwrap();
    relay_side
        .transact_with(
            |_| CommitOptions::default().with_time(AT_MS),
            |tx| {
                let outcomes = map_at(tx, &ROOT, ledger::OUTCOMES).unwrap();
                let obj = tx.put_object(&outcomes, visit.as_str(), ObjType::Map)?;
                put_text(tx, &obj, "status", "rejected")?;
                put_text(tx, &obj, "reason", "the elder was away")
            },
        )
        .unwrap();
    volunteer.receive_changes(&ledger_id, &relay_side.save()).unwrap();
    assert_eq!(volunteer.visits().unwrap()[0].state, VisitState::Rejected("the elder was away".into()));

    // An order placed by another app for the elder, with text fields, reaches the desk.
    let mut elder = Device::create(ELDER, Role::Elder);
    let order = elder.place_order(None, "meals", "").unwrap();
    edited_elsewhere(&mut elder, &member_doc(ELDER), |tx| {
        let orders = map_at(tx, &ROOT, "orders").unwrap();
        let obj = map_at(tx, &orders, order.as_str()).unwrap();
        put_text(tx, &obj, "note", "lunch, less salt")
    });
    carry(&member_doc(ELDER), &elder, &mut coordinator);
    let orders = coordinator.orders();
    assert_eq!(
        orders.iter().map(|o| (&o.order.id, o.order.note.as_str(), o.state)).collect::<Vec<_>>(),
        [(&order, "lunch, less salt", OrderState::Requested)]
    );
}
