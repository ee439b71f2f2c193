//! Requests to spend coins: redemption for a service (兑换) or a gift to another member.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::model::ids::{MemberId, RequestId, StationId};

/// Longest single request accepted on the device, in minutes (the Nanjing balance cap).
pub const MAX_REQUEST_MINUTES: u32 = 1_500 * 60;

/// What the member asks the coins to be spent on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum RequestKind {
    /// Exchange coins for a service of equal duration.
    Redeem {
        /// Catalogue id of a redeemable service.
        service: String,
        /// The station of the city that gives the service, when it is not the member's own
        /// (通存通兑): that station's coordinators fulfil or release it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<StationId>,
    },
    /// Give coins to another member (a relative, a friend) or to the station pool.
    Gift {
        /// The receiving member.
        to: MemberId,
    },
}

/// A request as kept in the member's `member/<id>` document. Whether it is accepted
/// is decided by the relay's ledger, which writes the outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendRequest {
    /// The request.
    pub id: RequestId,
    /// Redemption or gift.
    #[serde(flatten)]
    pub kind: RequestKind,
    /// Amount in minutes (60 = one coin).
    pub minutes: u32,
    /// When it was made, by the device clock.
    pub created_at: DateTime<Utc>,
}

/// A coordinator's decision on an accepted redemption.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RedemptionAction {
    /// The service was given: the held coins are spent.
    Fulfil,
    /// The service will not be given: the held coins go back to the member.
    Release,
}

impl RedemptionAction {
    /// The stored and typed spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RedemptionAction::Fulfil => "fulfil",
            RedemptionAction::Release => "release",
        }
    }

    /// Reads the stored or typed spelling.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        [RedemptionAction::Fulfil, RedemptionAction::Release]
            .into_iter()
            .find(|a| a.as_str() == raw)
            .ok_or_else(|| Error::invalid(format!("{raw:?} is not a decision on a redemption; use fulfil or release")))
    }
}

impl std::fmt::Display for RedemptionAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Checks an amount typed by the member.
pub fn check_minutes(minutes: i64) -> Result<u32, Error> {
    if minutes <= 0 {
        return Err(Error::invalid(format!(
            "{minutes} minutes is not an amount you can spend; give a positive number of minutes (60 = one coin)"
        )));
    }
    match u32::try_from(minutes) {
        Ok(m) if m <= MAX_REQUEST_MINUTES => Ok(m),
        _ => Err(Error::invalid(format!("{minutes} minutes is more than any balance can hold (at most {MAX_REQUEST_MINUTES})"))),
    }
}
