//! A station's ledger rules as versioned data ([`StationRules`]), with the defaults from
//! DOMAIN.md: 1 coin per hour, quarter hours, 2 coins a day, 600 in a lifetime, overflow
//! to the station's donation pool, redemption from 65 (60 in hardship), gifts within the
//! household or to the pool.

use serde::{Deserialize, Serialize};
use timebank_engine::model::visit::DEFAULT_BACKDATE_TOLERANCE_MINUTES;
use timebank_engine::model::{VerifiedVisits, VisitRules};

/// Minutes in one coin (1 hour of service = 1 coin).
pub const MINUTES_PER_COIN: i64 = 60;

/// One station's rules. Every posting names the version it was made under (its
/// idempotency key carries it), and a new version never rewrites what was posted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StationRules {
    /// Bumped on every change; 1 for the defaults.
    pub version: u32,
    /// Minutes credited per hour served (60: one coin per hour).
    pub minutes_per_hour: i64,
    /// Posted minutes are rounded to a multiple of this (15: quarter hours), to the
    /// nearest, halves up. The raw log is never rounded.
    pub round_to_minutes: i64,
    /// Longest visit credited, in minutes; longer ones go to review and earn at most this.
    pub max_visit_minutes: i64,
    /// Most minutes one volunteer earns per day of service; the rest goes to the pool.
    pub daily_cap_minutes: i64,
    /// Most minutes one volunteer earns in a lifetime; the rest goes to the pool.
    pub lifetime_cap_minutes: i64,
    /// A visit received later than this after it ended goes to review.
    pub late_submission_days: i64,
    /// A device clock more than this ahead of the relay's receipt time sends its visit to review.
    pub clock_skew_minutes: i64,
    /// The station's day starts at midnight in this offset from UTC (480: China).
    pub utc_offset_minutes: i64,
    /// Age from which a member may redeem.
    pub redeem_age: i32,
    /// Age from which a member in special hardship may redeem.
    pub redeem_age_hardship: i32,
    /// Whether gifts to relatives in the same household are accepted (the pool always is).
    pub gifts_to_household: bool,
    /// A live check-in or check-out entered on the phone more than this after the time it
    /// claims sends its visit to review (filled in afterwards). Rules logged before it
    /// existed read as the default, which is left out when written, so they keep their bytes.
    #[serde(default = "default_backdate_tolerance", skip_serializing_if = "is_default_backdate_tolerance")]
    pub backdate_tolerance_minutes: i64,
    /// What visits verified at both ends get (ADR 30): the queue (the default, not
    /// written, so rules stored before it read and encode as they were), bulk approval, or
    /// approval without a coordinator within the other rules.
    #[serde(default, skip_serializing_if = "is_queue")]
    pub verified_visits: VerifiedVisits,
}

fn default_backdate_tolerance() -> i64 {
    i64::from(DEFAULT_BACKDATE_TOLERANCE_MINUTES)
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_default_backdate_tolerance(minutes: &i64) -> bool {
    *minutes == default_backdate_tolerance()
}

fn is_queue(rule: &VerifiedVisits) -> bool {
    *rule == VerifiedVisits::Queue
}

impl Default for StationRules {
    fn default() -> Self {
        let visit = VisitRules::default();
        StationRules {
            version: 1,
            minutes_per_hour: MINUTES_PER_COIN,
            round_to_minutes: 15,
            max_visit_minutes: i64::from(visit.max_visit_minutes),
            daily_cap_minutes: 2 * MINUTES_PER_COIN,
            lifetime_cap_minutes: 600 * MINUTES_PER_COIN,
            late_submission_days: i64::from(visit.late_submission_days),
            clock_skew_minutes: i64::from(visit.clock_skew_minutes),
            utc_offset_minutes: 8 * 60,
            redeem_age: 65,
            redeem_age_hardship: 60,
            gifts_to_household: true,
            backdate_tolerance_minutes: i64::from(visit.backdate_tolerance_minutes),
            verified_visits: VerifiedVisits::Queue,
        }
    }
}

/// The cap that sent a visit's minutes to the station's pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cap {
    /// The most a volunteer earns in one day of service.
    Daily,
    /// The most a volunteer earns in a lifetime.
    Lifetime,
}

impl Cap {
    /// The word the ledger's memos and reasons use.
    pub fn as_str(self) -> &'static str {
        match self {
            Cap::Daily => "daily",
            Cap::Lifetime => "lifetime",
        }
    }
}

/// What approving a visit credits under a station's rules ([`StationRules::credit`]): what
/// the volunteer logged, what that is worth (capped at the longest visit, rounded), and
/// how it splits between the volunteer and the station's pool (over a cap).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Credit {
    /// Minutes logged (exact, never negative).
    pub logged: i64,
    /// Minutes credited: capped at the maximum length, scaled by the rate, rounded.
    pub credited: i64,
    /// Of those, minutes the volunteer earns.
    pub earned: i64,
    /// Of those, minutes over the cap, to the station's pool.
    pub overflow: i64,
    /// The cap that held the rest back, when one did.
    pub cap: Option<Cap>,
}

impl StationRules {
    /// What approving a visit of `logged` minutes credits to a volunteer who earned
    /// `that_day` minutes on the visit's day and `in_all` minutes in all before it: the one
    /// computation the ledger posts by and the review queue shows.
    pub fn credit(&self, logged: i64, that_day: i64, in_all: i64) -> Credit {
        let logged = logged.max(0);
        let credited = self.credited_minutes(logged);
        let day_room = (self.daily_cap_minutes - that_day).max(0);
        let life_room = (self.lifetime_cap_minutes - in_all).max(0);
        let earned = credited.min(day_room).min(life_room);
        let overflow = credited - earned;
        let cap = (overflow > 0).then_some(if life_room < day_room { Cap::Lifetime } else { Cap::Daily });
        Credit { logged, credited, earned, overflow, cap }
    }

    /// Minutes credited for `exact` logged minutes: capped at the maximum length, scaled
    /// by the rate, rounded to the granularity (nearest, halves up). Never negative.
    pub fn credited_minutes(&self, exact: i64) -> i64 {
        let capped = exact.clamp(0, self.max_visit_minutes.max(0));
        let scaled = capped * self.minutes_per_hour / MINUTES_PER_COIN;
        let step = self.round_to_minutes.max(1);
        (scaled + step / 2) / step * step
    }

    /// The station's day (days since the epoch, in its offset) of an instant in ms.
    pub fn day_of(&self, at_ms: i64) -> i64 {
        (at_ms + self.utc_offset_minutes * 60_000).div_euclid(24 * 60 * 60 * 1000)
    }

    /// These rules with the visit limits a station's coordinators set in `station/<id>`.
    pub fn with_visit_rules(mut self, visit: &VisitRules) -> Self {
        self.max_visit_minutes = i64::from(visit.max_visit_minutes);
        self.clock_skew_minutes = i64::from(visit.clock_skew_minutes);
        self.late_submission_days = i64::from(visit.late_submission_days);
        self.backdate_tolerance_minutes = i64::from(visit.backdate_tolerance_minutes);
        self
    }

    /// These rules with what the station's coordinators chose for verified visits.
    pub fn with_verified_visits(mut self, rule: VerifiedVisits) -> Self {
        self.verified_visits = rule;
        self
    }

    /// Whether the same rules apply (everything but the version equal).
    pub fn same_terms(&self, other: &StationRules) -> bool {
        StationRules { version: other.version, ..self.clone() } == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posting_rounds_to_quarter_hours_and_caps_the_length() {
        let rules = StationRules::default();
        assert_eq!(rules.credited_minutes(0), 0);
        assert_eq!(rules.credited_minutes(7), 0);
        assert_eq!(rules.credited_minutes(8), 15);
        assert_eq!(rules.credited_minutes(67), 60);
        assert_eq!(rules.credited_minutes(68), 75);
        assert_eq!(rules.credited_minutes(-30), 0);
        assert_eq!(rules.credited_minutes(100 * 60), 8 * 60);
    }

    #[test]
    fn a_credit_is_rounded_then_split_at_the_daily_or_lifetime_cap() {
        let rules = StationRules::default();
        assert_eq!(rules.credit(95, 0, 0), Credit { logged: 95, credited: 90, earned: 90, overflow: 0, cap: None });
        assert_eq!(rules.credit(95, 60, 0), Credit { logged: 95, credited: 90, earned: 60, overflow: 30, cap: Some(Cap::Daily) });
        let near_the_end = rules.credit(60, 0, rules.lifetime_cap_minutes - 15);
        assert_eq!((near_the_end.earned, near_the_end.overflow, near_the_end.cap), (15, 45, Some(Cap::Lifetime)));
        assert_eq!(rules.credit(-5, 0, 0), Credit { logged: 0, credited: 0, earned: 0, overflow: 0, cap: None });
    }

    #[test]
    fn defaults_follow_the_domain() {
        let rules = StationRules::default();
        assert_eq!((rules.daily_cap_minutes, rules.lifetime_cap_minutes), (120, 36_000));
        assert_eq!((rules.redeem_age, rules.redeem_age_hardship), (65, 60));
        // 23:30 UTC is the next morning in Shanghai.
        assert_eq!(rules.day_of(23 * 3_600_000 + 30 * 60_000), 1);
        assert!(rules.same_terms(&StationRules { version: 7, ..StationRules::default() }));
    }
}
