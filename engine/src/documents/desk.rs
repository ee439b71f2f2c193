//! The `station/<id>/desk` document, for the station's coordinators only: member
//! directory, reviews of visits, decisions on requests and corrections of balances.

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
pub fn put_review(
    tx: &mut impl Transactable,
    visit: &VisitId,
    review: &Review,
) -> Result<(), AutomergeError> {
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
pub fn put_decision(
    tx: &mut impl Transactable,
    request: &RequestId,
    decision: &Decision,
) -> Result<(), AutomergeError> {
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
