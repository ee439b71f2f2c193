//! Visits: a volunteer's check-in and check-out at an elder's home, or a paper record logged later.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::model::evidence::Evidence;
use crate::model::ids::{MemberId, OrderId, VisitId};

/// How a visit came to be recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VisitSource {
    /// Checked in and out on the phone as it happened.
    Live,
    /// Logged afterwards from a paper record; the entry date is kept beside the service date.
    Paper,
}

impl VisitSource {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            VisitSource::Live => "live",
            VisitSource::Paper => "paper",
        }
    }

    /// Reads the stored spelling.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "live" => Some(VisitSource::Live),
            "paper" => Some(VisitSource::Paper),
            _ => None,
        }
    }
}

/// Who confirmed that the visit happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConfirmedBy {
    /// The elder, in person on the volunteer's phone.
    Elder,
    /// A family member, in person on the volunteer's phone.
    Family,
}

impl ConfirmedBy {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfirmedBy::Elder => "elder",
            ConfirmedBy::Family => "family",
        }
    }

    /// Reads the stored or typed spelling.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        match raw {
            "elder" => Ok(ConfirmedBy::Elder),
            "family" => Ok(ConfirmedBy::Family),
            other => Err(Error::invalid(format!("{other:?} cannot confirm a visit; use elder or family"))),
        }
    }
}

/// The elder's (or family's) confirmation of a visit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// Who confirmed.
    pub by: ConfirmedBy,
    /// When, by the device clock.
    pub at: DateTime<Utc>,
}

/// One visit as recorded in the volunteer's `member/<id>` document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visit {
    /// The visit.
    pub id: VisitId,
    /// Who served.
    pub volunteer: MemberId,
    /// Who was served.
    pub elder: MemberId,
    /// Catalogue id of the service given.
    pub service: String,
    /// The order (派单) this visit fulfils, if any.
    pub order: Option<OrderId>,
    /// Check-in time by the device's wall clock.
    pub check_in: DateTime<Utc>,
    /// Check-out time by the device's wall clock; `None` while the visit is open.
    pub check_out: Option<DateTime<Utc>>,
    /// Length by the device's monotonic clock when check-in and check-out happened in
    /// one boot; immune to the wall clock being changed mid-visit.
    pub monotonic_ms: Option<u64>,
    /// Live on the phone, or from paper.
    pub source: VisitSource,
    /// Free text from the volunteer.
    pub note: String,
    /// When the record was entered on the phone (differs from `check_in` for paper, and for
    /// a check-in back-dated with `--at`).
    pub recorded_at: DateTime<Utc>,
    /// When the check-out was entered on the phone, when that differs from the check-out
    /// it claims (a check-out back-dated with `--at`); `None` otherwise.
    #[serde(default)]
    pub check_out_recorded_at: Option<DateTime<Utc>>,
    /// The device (automerge actor, hex) that created it.
    pub device: String,
    /// The elder's or family's confirmation.
    pub confirmation: Option<Confirmation>,
    /// The taps of the elder's tag and the elder's phone's co-signature, as stored.
    pub evidence: Evidence,
}

impl Visit {
    /// Whether the volunteer is still checked in.
    pub fn is_open(&self) -> bool {
        self.check_out.is_none()
    }

    /// How late a live visit's check-in and check-out were entered on the phone after the
    /// times they claim, each when later than `tolerance_minutes` ([`entered_late`]); a
    /// paper visit is entered afterwards by its nature and has neither.
    pub fn back_entered(&self, tolerance_minutes: i64) -> BackEntered {
        if self.source != VisitSource::Live {
            return BackEntered::default();
        }
        let ms = |t: DateTime<Utc>| t.timestamp_millis();
        BackEntered {
            check_in: entered_late(ms(self.check_in), ms(self.recorded_at), tolerance_minutes),
            check_out: self
                .check_out
                .and_then(|out| entered_late(ms(out), ms(self.check_out_recorded_at.unwrap_or(out)), tolerance_minutes)),
        }
    }

    /// Exact length in whole minutes (rounded down), as the volunteer logged it.
    /// The monotonic length wins over the wall clocks when both exist; rounding to
    /// quarter hours happens only when the relay posts coins, never here.
    pub fn minutes(&self) -> Option<u32> {
        let end = self.check_out?;
        let millis = match self.monotonic_ms {
            Some(ms) => i64::try_from(ms).unwrap_or(i64::MAX),
            None => (end - self.check_in).num_milliseconds(),
        };
        u32::try_from(millis.max(0) / 60_000).ok()
    }
}

/// Minutes by which a time was entered on the phone (`entered_ms`) after the time it claims
/// (`claimed_ms`), when that is more than `tolerance_minutes`: a check-in or check-out
/// filled in afterwards (补录) rather than tapped as it happened. One rule for the relay's
/// ledger (an anomaly with this evidence) and the console (the visit's source).
pub fn entered_late(claimed_ms: i64, entered_ms: i64, tolerance_minutes: i64) -> Option<i64> {
    let late = entered_ms.saturating_sub(claimed_ms) / 60_000;
    (late > tolerance_minutes.max(0)).then_some(late)
}

/// How late a live visit's times were entered ([`Visit::back_entered`]), in minutes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackEntered {
    /// The check-in was entered this many minutes after the time it claims.
    pub check_in: Option<i64>,
    /// The check-out was entered this many minutes after the time it claims.
    pub check_out: Option<i64>,
}

impl BackEntered {
    /// Whether either time was filled in afterwards.
    pub fn any(self) -> bool {
        self.check_in.is_some() || self.check_out.is_some()
    }
}

/// Limits a visit must respect before the device accepts it. The station's rules
/// (station document) supply them; these defaults follow DOMAIN.md.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitRules {
    /// Longest visit accepted, in minutes.
    pub max_visit_minutes: u32,
    /// How far into the future a logged time may lie (device clock skew), in minutes.
    pub clock_skew_minutes: u32,
    /// How old a paper visit may be when logged, in days.
    pub late_submission_days: u32,
    /// How long after the time it claims a check-in or check-out may be entered on the
    /// phone (`--at`) before the relay holds the visit for review as filled in afterwards.
    #[serde(default = "default_backdate_tolerance")]
    pub backdate_tolerance_minutes: u32,
}

/// The default of [`VisitRules::backdate_tolerance_minutes`]: an hour, for a volunteer who
/// forgot to tap on arrival.
pub const DEFAULT_BACKDATE_TOLERANCE_MINUTES: u32 = 60;

fn default_backdate_tolerance() -> u32 {
    DEFAULT_BACKDATE_TOLERANCE_MINUTES
}

impl Default for VisitRules {
    fn default() -> Self {
        VisitRules {
            max_visit_minutes: 8 * 60,
            clock_skew_minutes: 10,
            late_submission_days: 30,
            backdate_tolerance_minutes: DEFAULT_BACKDATE_TOLERANCE_MINUTES,
        }
    }
}

impl VisitRules {
    /// Checks a back-dated check-in time: not in the future, and not so long ago that
    /// the visit could never be checked out within the maximum length. Returns it.
    pub fn check_start(&self, start: DateTime<Utc>, now: DateTime<Utc>) -> Result<DateTime<Utc>, Error> {
        if start > now + Duration::minutes(i64::from(self.clock_skew_minutes)) {
            return Err(Error::invalid("the check-in time is in the future; check the phone's clock and the time"));
        }
        if now - start > Duration::minutes(i64::from(self.max_visit_minutes)) {
            return Err(Error::invalid(format!(
                "the check-in time is more than {} h ago; log the whole visit afterwards instead (visit log)",
                self.max_visit_minutes / 60
            )));
        }
        Ok(start)
    }

    /// Checks a finished visit's times against the rules; `now` is the device clock.
    /// `monotonic_ms`, when known, is the length measured by the monotonic clock.
    pub fn check_times(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        monotonic_ms: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M").to_string();
        // With a monotonic length the wall clock may have been set back during the visit:
        // the length decides, not the order of the two wall-clock readings.
        if monotonic_ms.is_none() && end < start {
            return Err(Error::invalid(format!("the visit ends ({}) before it starts ({}); check the times", fmt(end), fmt(start))));
        }
        let length_ms = monotonic_ms.and_then(|ms| i64::try_from(ms).ok()).unwrap_or_else(|| (end - start).num_milliseconds());
        if length_ms < 60_000 {
            return Err(Error::invalid(
                "the visit is shorter than one minute; a visit must have a length (zero-length visits earn nothing)",
            ));
        }
        let max = Duration::minutes(i64::from(self.max_visit_minutes));
        if length_ms > max.num_milliseconds() {
            return Err(Error::invalid(format!(
                "the visit lasts {} h {} min, over the station's maximum of {} h; give the real check-out time (--at), or split it into separate visits",
                length_ms / 3_600_000,
                (length_ms / 60_000) % 60,
                self.max_visit_minutes / 60
            )));
        }
        let skew = Duration::minutes(i64::from(self.clock_skew_minutes));
        if end > now + skew {
            return Err(Error::invalid(format!("the visit ends in the future ({}); check the phone's clock and the times", fmt(end))));
        }
        let oldest = now - Duration::days(i64::from(self.late_submission_days));
        if start < oldest {
            return Err(Error::invalid(format!(
                "the visit on {} is older than the station's {}-day limit for late records; ask your coordinator to enter it",
                fmt(start),
                self.late_submission_days
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 2, h, m, 0).single().unwrap_or_default()
    }

    #[test]
    fn accepts_an_ordinary_visit() {
        let rules = VisitRules::default();
        assert!(rules.check_times(at(9, 0), at(10, 30), None, at(12, 0)).is_ok());
    }

    #[test]
    fn refuses_reversed_zero_long_future_and_stale_visits() {
        let rules = VisitRules::default();
        let cases = [
            (at(10, 0), at(9, 0), "before it starts"),
            (at(9, 0), at(9, 0), "shorter than one minute"),
            (at(1, 0), at(10, 0), "over the station's maximum"),
            (at(13, 0), at(14, 0), "in the future"),
        ];
        for (start, end, expected) in cases {
            let err = rules.check_times(start, end, None, at(12, 0)).unwrap_err();
            assert!(err.to_string().contains(expected), "{err}");
        }
        let long_ago = at(9, 0) - Duration::days(40);
        let err = rules.check_times(long_ago, long_ago + Duration::hours(1), None, at(12, 0)).unwrap_err();
        assert!(err.to_string().contains("30-day limit"), "{err}");
    }

    #[test]
    fn a_wall_clock_set_back_during_a_measured_visit_does_not_block_check_out() {
        let rules = VisitRules::default();
        // Checked in at 10:00; 45 minutes later the clock reads 9:30.
        assert!(rules.check_times(at(10, 0), at(9, 30), Some(45 * 60_000), at(9, 30)).is_ok());
        // The measured length still has to be a real one.
        let err = rules.check_times(at(10, 0), at(9, 30), Some(0), at(9, 30)).unwrap_err();
        assert!(err.to_string().contains("shorter than one minute"), "{err}");
    }

    /// A visit checked in and out on the phone at `check_in` and `check_out`, entered as it happened.
    fn live_visit(check_in: DateTime<Utc>, check_out: DateTime<Utc>) -> Visit {
        Visit {
            id: VisitId::generate(),
            volunteer: MemberId::parse("v-1").unwrap(),
            elder: MemberId::parse("e-1").unwrap(),
            service: "meals".into(),
            order: None,
            check_in,
            check_out: Some(check_out),
            monotonic_ms: None,
            source: VisitSource::Live,
            note: String::new(),
            recorded_at: check_in,
            check_out_recorded_at: None,
            device: "aa".into(),
            confirmation: None,
            evidence: Evidence::default(),
        }
    }

    #[test]
    fn monotonic_length_beats_a_changed_wall_clock() {
        // The wall clock jumped an hour forward.
        let visit = Visit { monotonic_ms: Some(2 * 3_600_000), ..live_visit(at(9, 0), at(12, 0)) };
        assert_eq!(visit.minutes(), Some(120));
    }

    #[test]
    fn a_time_entered_long_after_it_claims_is_back_entered_and_a_paper_visit_is_not() {
        assert_eq!(entered_late(0, 95 * 60_000, 30), Some(95));
        assert_eq!(entered_late(0, 30 * 60_000, 30), None, "within the tolerance");
        assert_eq!(entered_late(95 * 60_000, 0, 30), None, "entered before the time it claims is no back-dating");
        let mut visit = Visit { recorded_at: at(10, 35), ..live_visit(at(9, 0), at(10, 0)) };
        assert_eq!(visit.back_entered(30), BackEntered { check_in: Some(95), check_out: None });
        visit.check_out_recorded_at = Some(at(12, 0));
        assert_eq!(visit.back_entered(30).check_out, Some(120));
        assert!(!visit.back_entered(200).any());
        visit.source = VisitSource::Paper;
        assert!(!visit.back_entered(30).any(), "a paper record is entered afterwards by its nature");
    }
}
