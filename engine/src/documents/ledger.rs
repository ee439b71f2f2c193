//! The `ledger/<member>` document, written by the relay only: balance, postings, the
//! outcome of every visit and request, and for an elder how far each of their orders was
//! served (what the elder's and family's phones cannot read in the volunteer's document).

use automerge::transaction::Transactable;
use automerge::{AutomergeError, ROOT, ReadDoc};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::documents::fields::{entries, i64_at, map_at, put_time, record, str_at, time_at};
use crate::model::{OrderState, OutcomeStatus};

/// Map of posting id → posting.
pub const POSTINGS: &str = "postings";
/// Map of visit, request or order id → outcome. An order's outcome (in an elder's ledger)
/// says how far it was served: its status is `visited`, `confirmed` or `settled`.
pub const OUTCOMES: &str = "outcomes";
/// Map with the balance figures.
pub const BALANCE: &str = "balance";

/// What the relay decided about one visit or request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// Approved, rejected, under review (visits); accepted, refused, fulfilled, released (requests).
    pub status: OutcomeStatus,
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

/// The outcome recorded for `subject` (a visit or request id). An outcome whose status this
/// build does not know (a newer relay's) reads as none: the subject shows as not decided.
pub fn outcome(doc: &impl ReadDoc, subject: &str) -> Option<Outcome> {
    let outcomes = map_at(doc, &ROOT, OUTCOMES)?;
    let obj = map_at(doc, &outcomes, subject)?;
    Some(Outcome {
        status: OutcomeStatus::parse(&str_at(doc, &obj, "status")?)?,
        reason: str_at(doc, &obj, "reason").unwrap_or_default(),
        minutes: i64_at(doc, &obj, "minutes").unwrap_or(0),
    })
}

/// Every outcome recorded, by subject id.
pub fn outcomes(doc: &impl ReadDoc) -> Vec<(String, Outcome)> {
    entries(doc, &ROOT, OUTCOMES).into_iter().filter_map(|(subject, _)| outcome(doc, &subject).map(|o| (subject, o))).collect()
}

/// How far the elder's order `order` was served, as the relay's ledger knows it from the
/// visit that names it: visited, confirmed by the elder or family, or settled (approved);
/// `None` before a visit for it arrived (or for a status this build does not know).
pub fn order_progress(doc: &impl ReadDoc, order: &str) -> Option<OrderState> {
    let outcomes = map_at(doc, &ROOT, OUTCOMES)?;
    let obj = map_at(doc, &outcomes, order)?;
    let status = str_at(doc, &obj, "status")?;
    [OrderState::Visited, OrderState::Confirmed, OrderState::Settled].into_iter().find(|s| s.as_str() == status)
}

/// Writes how far order `order` was served (the relay only).
pub fn put_order_progress(tx: &mut impl Transactable, order: &str, progress: OrderState) -> Result<(), AutomergeError> {
    let obj = record(tx, &ROOT, OUTCOMES, order)?;
    tx.put(&obj, "status", progress.as_str())?;
    tx.put(&obj, "reason", "")?;
    tx.put(&obj, "minutes", 0_i64)
}

/// The balance figures.
pub fn balance(doc: &impl ReadDoc) -> LedgerBalance {
    let Some(obj) = map_at(doc, &ROOT, BALANCE) else { return LedgerBalance::default() };
    LedgerBalance {
        confirmed_minutes: i64_at(doc, &obj, "confirmed_minutes").unwrap_or(0),
        reserved_minutes: i64_at(doc, &obj, "reserved_minutes").unwrap_or(0),
    }
}

/// One posting as the member's phone shows it (the relay's ledger holds the double entry).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostingLine {
    /// `earn`, `redeem`, `reserve`, `release`, `gift-out`, `gift-in`, `donation`, `overflow`, `reversal`.
    pub kind: String,
    /// Signed minutes for this member's account.
    pub minutes: i64,
    /// The member's balance after it.
    pub balance_after: i64,
    /// The visit or request it belongs to.
    pub subject: String,
    /// Words for the member ("companionship for m-…, 1 h 15 min, rounded to 1 h 15 min").
    pub memo: String,
    /// When the relay posted it.
    pub at: DateTime<Utc>,
}

/// Writes the outcome of `subject` (the relay only).
pub fn put_outcome(tx: &mut impl Transactable, subject: &str, outcome: &Outcome) -> Result<(), AutomergeError> {
    let obj = record(tx, &ROOT, OUTCOMES, subject)?;
    tx.put(&obj, "status", outcome.status.as_str())?;
    tx.put(&obj, "reason", outcome.reason.as_str())?;
    tx.put(&obj, "minutes", outcome.minutes)
}

/// Writes the balance figures (the relay only).
pub fn put_balance(tx: &mut impl Transactable, balance: &LedgerBalance) -> Result<(), AutomergeError> {
    let obj = match map_at(tx, &ROOT, BALANCE) {
        Some(obj) => obj,
        None => tx.put_object(ROOT, BALANCE, automerge::ObjType::Map)?,
    };
    tx.put(&obj, "confirmed_minutes", balance.confirmed_minutes)?;
    tx.put(&obj, "reserved_minutes", balance.reserved_minutes)
}

/// Writes one posting line under its ledger key (the relay only; never rewritten).
pub fn put_posting(tx: &mut impl Transactable, key: &str, line: &PostingLine) -> Result<(), AutomergeError> {
    let obj = record(tx, &ROOT, POSTINGS, key)?;
    tx.put(&obj, "kind", line.kind.as_str())?;
    tx.put(&obj, "minutes", line.minutes)?;
    tx.put(&obj, "balance_after", line.balance_after)?;
    tx.put(&obj, "subject", line.subject.as_str())?;
    tx.put(&obj, "memo", line.memo.as_str())?;
    put_time(tx, &obj, "at", line.at)
}

/// The keys of every posting line written, without reading the lines.
pub fn posting_keys(doc: &impl ReadDoc) -> Vec<String> {
    map_at(doc, &ROOT, POSTINGS).map_or_else(Vec::new, |postings| doc.keys(&postings).collect())
}

/// Whether the posting line `key` is written.
pub fn has_posting(doc: &impl ReadDoc, key: &str) -> bool {
    map_at(doc, &ROOT, POSTINGS).is_some_and(|postings| map_at(doc, &postings, key).is_some())
}

/// Every posting line, oldest first.
pub fn postings(doc: &impl ReadDoc) -> Vec<(String, PostingLine)> {
    let mut all: Vec<(String, PostingLine)> = entries(doc, &ROOT, POSTINGS)
        .into_iter()
        .filter_map(|(key, obj)| {
            Some((
                key,
                PostingLine {
                    kind: str_at(doc, &obj, "kind")?,
                    minutes: i64_at(doc, &obj, "minutes")?,
                    balance_after: i64_at(doc, &obj, "balance_after")?,
                    subject: str_at(doc, &obj, "subject").unwrap_or_default(),
                    memo: str_at(doc, &obj, "memo").unwrap_or_default(),
                    at: time_at(doc, &obj, "at")?,
                },
            ))
        })
        .collect();
    all.sort_by(|a, b| a.1.at.cmp(&b.1.at).then_with(|| a.0.cmp(&b.0)));
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::documents::{DocId, genesis};
    use crate::model::MemberId;

    #[test]
    fn what_the_relay_writes_the_phone_reads() {
        let id = DocId::Ledger(MemberId::parse("m-1").unwrap());
        let mut doc = genesis(&id, automerge::ActorId::random()).unwrap();
        let at = DateTime::from_timestamp_millis(1_700_000_000_000).unwrap();
        let line = PostingLine {
            kind: "earn".into(),
            minutes: 75,
            balance_after: 75,
            subject: "v-1".into(),
            memo: "companionship".into(),
            at,
        };
        doc.transact(|tx| {
            put_outcome(tx, "v-1", &Outcome { status: OutcomeStatus::Approved, reason: String::new(), minutes: 75 })?;
            put_balance(tx, &LedgerBalance { confirmed_minutes: 75, reserved_minutes: 0 })?;
            put_posting(tx, "earn:v-1:1", &line)
        })
        .unwrap();
        assert_eq!(outcome(&doc, "v-1").unwrap().status, OutcomeStatus::Approved);
        assert_eq!(balance(&doc).confirmed_minutes, 75);
        assert_eq!(postings(&doc), vec![("earn:v-1:1".to_owned(), line)]);
    }

    #[test]
    fn an_orders_progress_sits_beside_the_outcomes_and_is_no_outcome_of_a_visit() {
        let id = DocId::Ledger(MemberId::parse("m-elder").unwrap());
        let mut doc = genesis(&id, automerge::ActorId::random()).unwrap();
        doc.transact(|tx| {
            put_outcome(tx, "v-1", &Outcome { status: OutcomeStatus::Approved, reason: String::new(), minutes: 60 })?;
            put_order_progress(tx, "o-1", OrderState::Confirmed)
        })
        .unwrap();
        assert_eq!(order_progress(&doc, "o-1"), Some(OrderState::Confirmed));
        assert_eq!(order_progress(&doc, "v-1"), None);
        assert_eq!(outcome(&doc, "o-1"), None, "an order's progress is not a visit's outcome");
        assert_eq!(outcomes(&doc).len(), 1);
        doc.transact(|tx| put_order_progress(tx, "o-1", OrderState::Settled)).unwrap();
        assert_eq!(order_progress(&doc, "o-1"), Some(OrderState::Settled));
    }
}
