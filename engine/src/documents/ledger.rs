//! The `ledger/<member>` document, written by the relay only: balance, postings and the
//! outcome of every visit and request. Devices read it; the ledger issue fills it.

use automerge::{ROOT, ReadDoc};
use serde::{Deserialize, Serialize};

use crate::documents::fields::{entries, i64_at, map_at, str_at};

/// Map of posting id → posting.
pub const POSTINGS: &str = "postings";
/// Map of visit or request id → outcome.
pub const OUTCOMES: &str = "outcomes";
/// Map with the balance figures.
pub const BALANCE: &str = "balance";

/// What the relay decided about one visit or request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// `approved`, `rejected`, `under-review`, `accepted`, `refused`, `fulfilled`, `released`.
    pub status: String,
    /// Why, in words for the member ("overlaps visit v-…").
    pub reason: String,
    /// Minutes posted for it, if any.
    pub minutes: i64,
}

/// Balance figures the relay last wrote, in minutes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerBalance {
    /// Confirmed balance: the sum of the member's postings.
    pub confirmed_minutes: i64,
    /// Coins held for redemptions that are accepted but not yet fulfilled.
    pub reserved_minutes: i64,
}

/// The outcome recorded for `subject` (a visit or request id).
pub fn outcome(doc: &impl ReadDoc, subject: &str) -> Option<Outcome> {
    let outcomes = map_at(doc, &ROOT, OUTCOMES)?;
    let obj = map_at(doc, &outcomes, subject)?;
    Some(Outcome {
        status: str_at(doc, &obj, "status")?,
        reason: str_at(doc, &obj, "reason").unwrap_or_default(),
        minutes: i64_at(doc, &obj, "minutes").unwrap_or(0),
    })
}

/// Every outcome recorded, by subject id.
pub fn outcomes(doc: &impl ReadDoc) -> Vec<(String, Outcome)> {
    entries(doc, &ROOT, OUTCOMES)
        .into_iter()
        .filter_map(|(subject, _)| outcome(doc, &subject).map(|o| (subject, o)))
        .collect()
}

/// The balance figures.
pub fn balance(doc: &impl ReadDoc) -> LedgerBalance {
    let Some(obj) = map_at(doc, &ROOT, BALANCE) else { return LedgerBalance::default() };
    LedgerBalance {
        confirmed_minutes: i64_at(doc, &obj, "confirmed_minutes").unwrap_or(0),
        reserved_minutes: i64_at(doc, &obj, "reserved_minutes").unwrap_or(0),
    }
}
