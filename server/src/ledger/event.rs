//! What reconciliation reads: the events of the arrival log (a visit, a coordinator's
//! review, a redemption or gift request, a coordinator's decision on a redemption, a
//! station's rules), each as the relay first received it, with its arrival sequence
//! number. The content is kept with the sequence number, so a rebuild folds exactly
//! what the incremental run folded, whatever the documents hold now.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use timebank_engine::model::{HouseholdId, MemberId, StationId};

use crate::ledger::rules::StationRules;

/// One event of the arrival log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Arrival sequence number: strictly increasing in the order the relay stored them.
    pub seq: i64,
    /// When the relay received it (ms).
    pub received_at: i64,
    /// What arrived.
    pub body: EventBody,
}

/// What arrived.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum EventBody {
    /// A finished visit (or a later edit of one).
    Visit(VisitEvent),
    /// A coordinator's review of a visit (or a change of it).
    Review(ReviewEvent),
    /// A redemption or gift request.
    Request(RequestEvent),
    /// A coordinator's decision on an accepted redemption.
    Decision(DecisionEvent),
    /// A coordinator's correction of a member's balance.
    Correction(CorrectionEvent),
    /// A station's rules (a new version).
    Rules {
        /// The station.
        station: StationId,
        /// Its rules.
        rules: StationRules,
    },
}

/// No visit is longer than this (two days); a longer logged length is clamped to it.
pub const MAX_PLAUSIBLE_MS: i64 = 2 * 24 * 3_600_000;

/// A finished visit as logged, with what the relay knew of the people at arrival.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitEvent {
    /// `v-…`.
    pub id: String,
    /// Who served.
    pub volunteer: MemberId,
    /// The volunteer's station (its rules apply).
    pub station: StationId,
    /// Who was served.
    pub elder: MemberId,
    /// Check-in, device wall clock (ms).
    pub check_in: i64,
    /// Check-out, device wall clock (ms).
    pub check_out: i64,
    /// Length by the device's monotonic clock, when measured.
    pub monotonic_ms: Option<i64>,
    /// When it was entered on the phone (ms).
    pub recorded_at: i64,
    /// The device (actor hex) that created it.
    pub device: String,
    /// The volunteer's household.
    pub volunteer_household: Option<HouseholdId>,
    /// The elder's household.
    pub elder_household: Option<HouseholdId>,
}

impl VisitEvent {
    /// Logged length in ms: the monotonic length when measured, else the wall clocks.
    /// Bounded to two days either way: every field comes from a phone, and anything longer
    /// is an anomaly already (over the maximum length), never a reason to overflow.
    pub fn length_ms(&self) -> i64 {
        self.monotonic_ms
            .unwrap_or_else(|| self.check_out.saturating_sub(self.check_in))
            .clamp(-MAX_PLAUSIBLE_MS, MAX_PLAUSIBLE_MS)
    }

    /// The interval it covers, `[start, end)`, for overlap checks.
    pub fn interval(&self) -> (i64, i64) {
        (self.check_in, self.check_in.saturating_add(self.length_ms().max(0)))
    }
}

/// A coordinator's review, as written in `station/<id>/desk`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewEvent {
    /// The visit.
    pub visit: String,
    /// The desk's station.
    pub station: StationId,
    /// `approve`, `reject` or `flag`.
    pub decision: String,
    /// The reason given.
    pub reason: String,
    /// The coordinator.
    pub by: MemberId,
    /// When, by the coordinator's clock (ms).
    pub at: i64,
}

/// What a request asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum RequestWhat {
    /// Redeem coins for a service.
    Redeem {
        /// The service.
        service: String,
    },
    /// Give coins to a member.
    Gift {
        /// The receiver.
        to: MemberId,
        /// The receiver's household, if the relay knows the receiver.
        to_household: Option<HouseholdId>,
        /// Whether the relay knows the receiver as a member of the same station.
        to_known: bool,
    },
    /// Give coins to the station's donation pool.
    Donate,
}

/// A redemption or gift request, with what the relay knew of the member at arrival.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestEvent {
    /// `r-…`.
    pub id: String,
    /// Who asks.
    pub member: MemberId,
    /// Their station.
    pub station: StationId,
    /// What for.
    pub what: RequestWhat,
    /// Amount, minutes.
    pub minutes: i64,
    /// When made, device clock (ms).
    pub created_at: i64,
    /// Their birth year (age gate).
    pub birth_year: Option<u16>,
    /// Their household (gifts).
    pub household: Option<HouseholdId>,
    /// Whether they are recognised in special hardship (the lower age gate).
    pub hardship: bool,
}

/// A coordinator's decision on a redemption, as written in `station/<id>/desk`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionEvent {
    /// The request.
    pub request: String,
    /// The desk's station.
    pub station: StationId,
    /// `fulfil` or `release`.
    pub action: String,
    /// The coordinator.
    pub by: MemberId,
    /// When, by the coordinator's clock (ms).
    pub at: i64,
}

/// A coordinator's correction of a member's balance, as written in `station/<id>/desk`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrectionEvent {
    /// `c-…`.
    pub id: String,
    /// The desk's station.
    pub station: StationId,
    /// Whose balance (a member of that station).
    pub member: MemberId,
    /// Minutes added (> 0) or taken back (< 0).
    pub minutes: i64,
    /// Why.
    pub reason: String,
    /// The coordinator.
    pub by: MemberId,
    /// When, by the coordinator's clock (ms).
    pub at: i64,
}

impl EventBody {
    /// The key under which the arrival log keeps it: a request or correction under its id (requests
    /// and corrections are never edited), everything else under its id and a digest of its content, so
    /// an edited visit or a changed review arrives as a new event, and the same content
    /// arriving again has the same key and is logged once.
    pub fn key(&self) -> String {
        let digest = || {
            let json = serde_json::to_vec(self).unwrap_or_default();
            let hash = Sha256::digest(&json);
            hash[..8].iter().map(|b| format!("{b:02x}")).collect::<String>()
        };
        match self {
            EventBody::Visit(v) => format!("visit:{}@{}", v.id, digest()),
            EventBody::Request(r) => format!("request:{}", r.id),
            EventBody::Correction(c) => format!("correction:{}", c.id),
            EventBody::Review(r) => format!("review:{}@{}", r.visit, digest()),
            EventBody::Decision(d) => format!("decision:{}@{}", d.request, digest()),
            EventBody::Rules { station, rules } => format!("rules:{station}:{}", rules.version),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visit(check_in: i64, check_out: i64, monotonic_ms: Option<i64>) -> VisitEvent {
        VisitEvent {
            id: "v-1".into(),
            volunteer: MemberId::parse("m-1").unwrap(),
            station: StationId::parse("s-1").unwrap(),
            elder: MemberId::parse("m-2").unwrap(),
            check_in,
            check_out,
            monotonic_ms,
            recorded_at: check_in,
            device: "aa".into(),
            volunteer_household: None,
            elder_household: None,
        }
    }

    #[test]
    fn lengths_a_phone_made_up_are_bounded_and_never_overflow() {
        let forged = visit(i64::MAX - 10, i64::MAX, Some(i64::MAX));
        assert_eq!(forged.length_ms(), MAX_PLAUSIBLE_MS);
        assert_eq!(forged.interval().1, i64::MAX);
        let backwards = visit(i64::MAX, i64::MIN, None);
        assert_eq!(backwards.length_ms(), -MAX_PLAUSIBLE_MS);
        assert_eq!(visit(0, 3_600_000, None).interval(), (0, 3_600_000));
    }
}
