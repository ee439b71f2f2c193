//! Documents as other writers leave them: a desk and a ledger written with plain automerge
//! puts of the stored spellings (what this engine wrote before decisions and statuses were
//! enums, and what another implementation writes) read into the enums, the engine's own
//! helpers still write those very bytes, and a spelling this build does not know is
//! skipped, never a panic.

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, Automerge, AutomergeError, ObjType, ROOT, ScalarValue};
use chrono::{DateTime, Utc};
use timebank_engine::DocId;
use timebank_engine::documents::fields::map_at;
use timebank_engine::documents::{self, desk, ledger};
use timebank_engine::model::{OutcomeStatus, RedemptionAction, RequestId, ReviewDecision, VisitId};

use crate::support::{COORDINATOR, member, station};

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
    assert_eq!((review.decision, review.reason.as_str(), &review.by, review.at), (ReviewDecision::Reject, "the elder was away", &member(COORDINATOR), at()));
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
