//! What the relay's ledger decided about a visit or a request: the status it writes into
//! the member's `ledger/<id>` document, which every phone and the console read.

use serde::{Deserialize, Serialize};

/// The ledger's status of one visit or request. The serde names are the stored spellings
/// (`approved`, `under-review`, ...), so documents and the arrival log keep their bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutcomeStatus {
    /// A visit approved: coins posted.
    Approved,
    /// A visit rejected, with the reason.
    Rejected,
    /// A visit waiting for a coordinator, with the evidence (an anomaly, a flag).
    UnderReview,
    /// A request accepted: coins reserved (redemption) or moved (gift).
    Accepted,
    /// A request refused, with the reason; no coins taken.
    Refused,
    /// A redemption fulfilled: the service was given.
    Fulfilled,
    /// A redemption released: the held coins are back.
    Released,
}

impl OutcomeStatus {
    /// Every status, in the order above.
    pub const ALL: [OutcomeStatus; 7] = [
        OutcomeStatus::Approved,
        OutcomeStatus::Rejected,
        OutcomeStatus::UnderReview,
        OutcomeStatus::Accepted,
        OutcomeStatus::Refused,
        OutcomeStatus::Fulfilled,
        OutcomeStatus::Released,
    ];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeStatus::Approved => "approved",
            OutcomeStatus::Rejected => "rejected",
            OutcomeStatus::UnderReview => "under-review",
            OutcomeStatus::Accepted => "accepted",
            OutcomeStatus::Refused => "refused",
            OutcomeStatus::Fulfilled => "fulfilled",
            OutcomeStatus::Released => "released",
        }
    }

    /// Reads the stored spelling; `None` for one this build does not know (written by a
    /// newer relay): the subject then reads as not decided yet.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Whether the ledger has settled the subject: every status but `under-review`, which
    /// still waits for a coordinator.
    pub fn is_decided(self) -> bool {
        self != OutcomeStatus::UnderReview
    }

    /// Whether a visit with this status is in the station's hands (approved, rejected or
    /// under review), so its volunteer can no longer change it.
    pub fn closes_visit(self) -> bool {
        matches!(self, OutcomeStatus::Approved | OutcomeStatus::Rejected | OutcomeStatus::UnderReview)
    }
}

impl std::fmt::Display for OutcomeStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_status_reads_back_from_its_stored_spelling_and_serde_agrees() {
        for status in OutcomeStatus::ALL {
            assert_eq!(OutcomeStatus::parse(status.as_str()), Some(status));
            assert_eq!(serde_json::to_string(&status).unwrap(), format!("\"{}\"", status.as_str()));
        }
        assert_eq!(OutcomeStatus::parse("escalated"), None);
    }
}
