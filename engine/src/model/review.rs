//! A coordinator's review of a visit: approve, reject (with a reason) or flag for a closer look.

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::model::text;

/// What a coordinator decided about a visit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReviewDecision {
    /// The visit happened as logged: it earns coins.
    Approve,
    /// The visit is not accepted; the reason reaches the volunteer.
    Reject,
    /// Keep it in the queue for a closer look (a phone call to the elder, ...).
    Flag,
}

impl ReviewDecision {
    /// The stored and typed spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewDecision::Approve => "approve",
            ReviewDecision::Reject => "reject",
            ReviewDecision::Flag => "flag",
        }
    }

    /// Reads the stored or typed spelling.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        match raw {
            "approve" => Ok(ReviewDecision::Approve),
            "reject" => Ok(ReviewDecision::Reject),
            "flag" => Ok(ReviewDecision::Flag),
            other => Err(Error::invalid(format!("{other:?} is not a review decision; use approve, reject or flag"))),
        }
    }

    /// Checks the reason that goes with the decision: a rejection must say why, since the
    /// volunteer sees it, and any reason keeps to the limits of [`text::check_reason`].
    pub fn check_reason(self, reason: &str) -> Result<(), Error> {
        if self == ReviewDecision::Reject && reason.trim().is_empty() {
            return Err(Error::invalid("say why the visit is rejected (--reason); the volunteer sees it"));
        }
        text::check_reason(reason.trim())
    }
}

impl std::fmt::Display for ReviewDecision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rejection_needs_a_reason() {
        assert!(ReviewDecision::Reject.check_reason("  ").is_err());
        assert!(ReviewDecision::Reject.check_reason("the elder was in hospital that day").is_ok());
        assert!(ReviewDecision::Approve.check_reason("").is_ok());
        assert_eq!(ReviewDecision::parse("flag").unwrap(), ReviewDecision::Flag);
        assert!(ReviewDecision::parse("maybe").is_err());
    }
}
