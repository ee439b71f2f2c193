//! The `station/<id>/desk` document, for the station's coordinators only: member
//! directory, reviews of visits (and the reversal of a review), decisions on requests and
//! corrections of balances.

use automerge::transaction::Transactable;
use automerge::{AutomergeError, ROOT, ReadDoc};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::documents::fields::{i64_at, map_at, put_time, record, str_at, time_at};
use crate::model::{MemberId, RedemptionAction, RequestId, ReviewDecision, VisitId};

/// Map of member id → directory entry (verification status).
pub const DIRECTORY: &str = "directory";
/// Map of visit id → review.
pub const REVIEWS: &str = "reviews";
/// Map of request id → decision.
pub const DECISIONS: &str = "decisions";
/// Map of correction id (`c-…`) → a coordinator's correction of a member's balance.
pub const CORRECTIONS: &str = "corrections";

/// A coordinator's review of one visit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    /// Approve, reject or flag.
    pub decision: ReviewDecision,
    /// The reason given (required to reject).
    pub reason: String,
    /// The coordinator.
    pub by: MemberId,
    /// When, by the coordinator's device clock.
    pub at: DateTime<Utc>,
}

/// Writes a review of `visit`.
pub fn put_review(tx: &mut impl Transactable, visit: &VisitId, review: &Review) -> Result<(), AutomergeError> {
    let obj = record(tx, &ROOT, REVIEWS, visit.as_str())?;
    tx.put(&obj, "decision", review.decision.as_str())?;
    tx.put(&obj, "reason", review.reason.as_str())?;
    tx.put(&obj, "by", review.by.as_str())?;
    put_time(tx, &obj, "at", review.at)
}

/// Reads the review of `visit`, if there is one. A review whose decision this build does
/// not know (a newer app's, another implementation's) reads as no review: the visit stays
/// in the queue, and the ledger does not act on it.
pub fn review(doc: &impl ReadDoc, visit: &VisitId) -> Option<Review> {
    let reviews = map_at(doc, &ROOT, REVIEWS)?;
    let obj = map_at(doc, &reviews, visit.as_str())?;
    Some(Review {
        decision: ReviewDecision::parse(&str_at(doc, &obj, "decision")?).ok()?,
        reason: str_at(doc, &obj, "reason").unwrap_or_default(),
        by: MemberId::parse(&str_at(doc, &obj, "by")?).ok()?,
        at: time_at(doc, &obj, "at")?,
    })
}

/// A coordinator's reversal of a review (an approval or a rejection made by mistake), with
/// the reason: the visit goes back to the queue, and the ledger takes back what the
/// approval earned. Kept in the review's own record beside the review it reverses, which
/// it names by its time: a later review (written over the record with its own time) is
/// not reversed, so a visit approved, reversed and approved again earns once. Nothing is
/// ever removed from the record (the document's shape allows no removals).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reversal {
    /// The decision reversed (approve or reject).
    pub decision: ReviewDecision,
    /// When that review was made (its `at`): the reversal holds while the record still
    /// holds that review.
    pub review_at: DateTime<Utc>,
    /// Why (required: the volunteer sees it).
    pub reason: String,
    /// The coordinator who reversed it.
    pub by: MemberId,
    /// When, by the coordinator's clock.
    pub at: DateTime<Utc>,
}

/// Writes the reversal of the review of `visit` into its record.
pub fn put_reversal(tx: &mut impl Transactable, visit: &VisitId, reversal: &Reversal) -> Result<(), AutomergeError> {
    let obj = record(tx, &ROOT, REVIEWS, visit.as_str())?;
    put_time(tx, &obj, "reversal_of", reversal.review_at)?;
    tx.put(&obj, "reversal_reason", reversal.reason.as_str())?;
    tx.put(&obj, "reversal_by", reversal.by.as_str())?;
    put_time(tx, &obj, "reversal_at", reversal.at)
}

/// What the desk holds for a visit: the review recorded and, when that review was
/// reversed, the reversal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReviewRecord {
    /// The review recorded last.
    pub review: Review,
    /// Its reversal, if it was reversed (a reversal of an earlier review, since written
    /// over, is not kept here).
    pub reversal: Option<Reversal>,
}

impl ReviewRecord {
    /// The review, unless it was reversed.
    pub fn standing(&self) -> Option<&Review> {
        self.reversal.is_none().then_some(&self.review)
    }
}

/// The review of `visit` with its reversal, if there is a review.
pub fn review_record(doc: &impl ReadDoc, visit: &VisitId) -> Option<ReviewRecord> {
    let review = review(doc, visit)?;
    let reviews = map_at(doc, &ROOT, REVIEWS)?;
    let obj = map_at(doc, &reviews, visit.as_str())?;
    let reversal = (|| {
        let review_at = time_at(doc, &obj, "reversal_of").filter(|of| *of == review.at)?;
        Some(Reversal {
            decision: review.decision,
            review_at,
            reason: str_at(doc, &obj, "reversal_reason").unwrap_or_default(),
            by: MemberId::parse(&str_at(doc, &obj, "reversal_by")?).ok()?,
            at: time_at(doc, &obj, "reversal_at")?,
        })
    })();
    Some(ReviewRecord { review, reversal })
}

/// The reversal of the review `visit` holds now, if that review was reversed.
pub fn reversal(doc: &impl ReadDoc, visit: &VisitId) -> Option<Reversal> {
    review_record(doc, visit)?.reversal
}

/// The review of `visit` that stands: its review unless that was reversed (then the visit
/// waits for a new decision, as if never reviewed).
pub fn standing_review(doc: &impl ReadDoc, visit: &VisitId) -> Option<Review> {
    review_record(doc, visit)?.standing().cloned()
}

/// A coordinator's decision on an accepted redemption: the service was given (`fulfil`)
/// or will not be (`release`: the held coins go back).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Fulfil or release.
    pub action: RedemptionAction,
    /// The coordinator.
    pub by: MemberId,
    /// When, by the coordinator's device clock.
    pub at: DateTime<Utc>,
}

/// Writes the decision on `request`.
pub fn put_decision(tx: &mut impl Transactable, request: &RequestId, decision: &Decision) -> Result<(), AutomergeError> {
    let obj = record(tx, &ROOT, DECISIONS, request.as_str())?;
    tx.put(&obj, "action", decision.action.as_str())?;
    tx.put(&obj, "by", decision.by.as_str())?;
    put_time(tx, &obj, "at", decision.at)
}

/// Reads the decision on `request`, if there is one. A decision whose action this build
/// does not know reads as none (the ledger does not act on it).
pub fn decision(doc: &impl ReadDoc, request: &RequestId) -> Option<Decision> {
    let decisions = map_at(doc, &ROOT, DECISIONS)?;
    let obj = map_at(doc, &decisions, request.as_str())?;
    Some(Decision {
        action: RedemptionAction::parse(&str_at(doc, &obj, "action")?).ok()?,
        by: MemberId::parse(&str_at(doc, &obj, "by")?).ok()?,
        at: time_at(doc, &obj, "at")?,
    })
}

/// A coordinator's correction of a member's balance: coins added (positive minutes) or
/// taken back (negative), with the reason. The ledger posts it as an adjusting posting;
/// it is never edited (a wrong correction is corrected by another).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Correction {
    /// Whose balance.
    pub member: MemberId,
    /// Minutes added (> 0) or taken back (< 0); never 0.
    pub minutes: i64,
    /// Why (required).
    pub reason: String,
    /// The coordinator.
    pub by: MemberId,
    /// When, by the coordinator's clock.
    pub at: DateTime<Utc>,
}

/// Writes correction `id` (`c-…`).
pub fn put_correction(tx: &mut impl Transactable, id: &str, correction: &Correction) -> Result<(), AutomergeError> {
    let obj = record(tx, &ROOT, CORRECTIONS, id)?;
    tx.put(&obj, "member", correction.member.as_str())?;
    tx.put(&obj, "minutes", correction.minutes)?;
    tx.put(&obj, "reason", correction.reason.as_str())?;
    tx.put(&obj, "by", correction.by.as_str())?;
    put_time(tx, &obj, "at", correction.at)
}

/// Reads correction `id`, if there is a complete one.
pub fn correction(doc: &impl ReadDoc, id: &str) -> Option<Correction> {
    let corrections = map_at(doc, &ROOT, CORRECTIONS)?;
    let obj = map_at(doc, &corrections, id)?;
    Some(Correction {
        member: MemberId::parse(&str_at(doc, &obj, "member")?).ok()?,
        minutes: i64_at(doc, &obj, "minutes")?,
        reason: str_at(doc, &obj, "reason")?,
        by: MemberId::parse(&str_at(doc, &obj, "by")?).ok()?,
        at: time_at(doc, &obj, "at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::documents::{DocId, genesis};
    use crate::model::StationId;

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_772_442_000_000 + minute * 60_000).unwrap_or_default()
    }

    #[test]
    fn a_reversal_holds_for_the_review_it_names_and_not_for_a_later_one() {
        let mut doc = genesis(&DocId::Desk(StationId::parse("s-1").unwrap()), automerge::ActorId::random()).unwrap();
        let visit = VisitId::parse("v-1").unwrap();
        let by = MemberId::parse("m-c").unwrap();
        let approve = Review { decision: ReviewDecision::Approve, reason: String::new(), by: by.clone(), at: at(0) };
        doc.transact(|tx| put_review(tx, &visit, &approve)).unwrap();
        assert_eq!(standing_review(&doc, &visit), Some(approve.clone()));
        assert_eq!(reversal(&doc, &visit), None);

        let undo =
            Reversal { decision: ReviewDecision::Approve, review_at: at(0), reason: "wrong elder".into(), by: by.clone(), at: at(5) };
        doc.transact(|tx| put_reversal(tx, &visit, &undo)).unwrap();
        assert_eq!(reversal(&doc, &visit), Some(undo));
        assert_eq!(standing_review(&doc, &visit), None, "a reversed review no longer stands");
        assert_eq!(review(&doc, &visit), Some(approve), "the review it reversed is still read");

        let again = Review { decision: ReviewDecision::Approve, reason: "checked with the elder".into(), by, at: at(9) };
        doc.transact(|tx| put_review(tx, &visit, &again)).unwrap();
        assert_eq!(reversal(&doc, &visit), None, "the reversal named the earlier review");
        assert_eq!(standing_review(&doc, &visit), Some(again));
    }
}
