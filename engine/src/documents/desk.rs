//! The `station/<id>/desk` document, for the station's coordinators only: member
//! directory, reviews of visits and decisions on requests.

use automerge::transaction::Transactable;
use automerge::{AutomergeError, ROOT, ReadDoc};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::documents::fields::{map_at, put_time, record, str_at, time_at};
use crate::model::{MemberId, VisitId};

/// Map of member id → directory entry (verification status).
pub const DIRECTORY: &str = "directory";
/// Map of visit id → review.
pub const REVIEWS: &str = "reviews";
/// Map of request id → decision.
pub const DECISIONS: &str = "decisions";

/// A coordinator's review of one visit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    /// `approve`, `reject` or `flag`.
    pub decision: String,
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

/// Reads the review of `visit`, if there is one.
pub fn review(doc: &impl ReadDoc, visit: &VisitId) -> Option<Review> {
    let reviews = map_at(doc, &ROOT, REVIEWS)?;
    let obj = map_at(doc, &reviews, visit.as_str())?;
    Some(Review {
        decision: str_at(doc, &obj, "decision")?,
        reason: str_at(doc, &obj, "reason").unwrap_or_default(),
        by: MemberId::parse(&str_at(doc, &obj, "by")?).ok()?,
        at: time_at(doc, &obj, "at")?,
    })
}

/// A coordinator's decision on an accepted redemption: the service was given (`fulfil`)
/// or will not be (`release`: the held coins go back).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// `fulfil` or `release`.
    pub action: String,
    /// The coordinator.
    pub by: MemberId,
    /// When, by the coordinator's device clock.
    pub at: DateTime<Utc>,
}

/// Writes the decision on `request`.
pub fn put_decision(
    tx: &mut impl Transactable,
    request: &crate::model::RequestId,
    decision: &Decision,
) -> Result<(), AutomergeError> {
    let obj = record(tx, &ROOT, DECISIONS, request.as_str())?;
    tx.put(&obj, "action", decision.action.as_str())?;
    tx.put(&obj, "by", decision.by.as_str())?;
    put_time(tx, &obj, "at", decision.at)
}

/// Reads the decision on `request`, if there is one.
pub fn decision(doc: &impl ReadDoc, request: &crate::model::RequestId) -> Option<Decision> {
    let decisions = map_at(doc, &ROOT, DECISIONS)?;
    let obj = map_at(doc, &decisions, request.as_str())?;
    Some(Decision {
        action: str_at(doc, &obj, "action")?,
        by: MemberId::parse(&str_at(doc, &obj, "by")?).ok()?,
        at: time_at(doc, &obj, "at")?,
    })
}
