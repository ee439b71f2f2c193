//! Requests to spend coins: redemption for a service (兑换) or a gift to another member.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::model::ids::{MemberId, RequestId};

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

/// Checks an amount typed by the member.
pub fn check_minutes(minutes: i64) -> Result<u32, Error> {
    if minutes <= 0 {
        return Err(Error::invalid(format!(
            "{minutes} minutes is not an amount you can spend; give a positive number of minutes (60 = one coin)"
        )));
    }
    match u32::try_from(minutes) {
        Ok(m) if m <= MAX_REQUEST_MINUTES => Ok(m),
        _ => Err(Error::invalid(format!(
            "{minutes} minutes is more than any balance can hold (at most {MAX_REQUEST_MINUTES})"
        ))),
    }
}
