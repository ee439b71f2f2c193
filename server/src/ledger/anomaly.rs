//! Anomalies that send a visit to the coordinators' review queue (outcome `under-review`
//! with the evidence) instead of accepting or dropping it: impossible timings, a device
//! clock far ahead of the relay, a visit logged long after the fact, a live check-in or
//! check-out filled in long after the time it claims, a volunteer serving their own
//! household, overlapping visits, the same visit logged from two phones.

use timebank_engine::model::{VisitSource, entered_late};

use crate::ledger::event::VisitEvent;
use crate::ledger::rules::StationRules;

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 24 * 60 * MINUTE_MS;

/// Most other visits one visit's evidence names as overlapping it: the first few show a
/// coordinator the problem, and the visit is under review either way. Past it, more
/// overlaps add nothing, so a device that logs thousands of visits at the same hour cannot
/// make the ledger's work per visit grow with their number (ADR 0024).
pub const MAX_OVERLAPS_NAMED: usize = 5;

/// Most reasons one visit's evidence holds: its own (at most four kinds besides overlaps),
/// failed evidence of presence (one reason naming its checks), the visits it overlaps, and
/// the later visits that overlap it.
pub const MAX_REASONS: usize = 4 + 1 + 2 * MAX_OVERLAPS_NAMED;

/// One reason a visit needs a coordinator's eyes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Anomaly {
    /// The check-out is before the check-in (no monotonic length).
    EndsBeforeStart,
    /// Shorter than one minute.
    ZeroLength,
    /// Longer than the station's maximum.
    TooLong {
        /// Logged minutes.
        minutes: i64,
        /// The maximum.
        max: i64,
    },
    /// The device's clock was ahead of the relay's receipt time by more than the tolerance.
    ClockAhead {
        /// By how many minutes.
        minutes: i64,
    },
    /// Received long after the visit ended.
    Late {
        /// Days between the end and the relay's receipt (or the phone's entry).
        days: i64,
    },
    /// A live check-in was entered on the phone this long after the time it claims.
    CheckInEnteredLate {
        /// Minutes between the time claimed and the entry.
        minutes: i64,
    },
    /// A live check-out was entered on the phone this long after the time it claims.
    CheckOutEnteredLate {
        /// Minutes between the time claimed and the entry.
        minutes: i64,
    },
    /// The volunteer served their own household (or themselves).
    OwnHousehold,
    /// Overlaps another visit of the same volunteer.
    Overlaps {
        /// The other visit.
        other: String,
    },
    /// The same visit logged from two phones: same elder, overlapping times, another device.
    LoggedTwice {
        /// The other visit.
        other: String,
    },
}

impl Anomaly {
    /// In words, for the coordinator and the volunteer.
    pub fn reason(&self) -> String {
        match self {
            Anomaly::EndsBeforeStart => "the visit ends before it starts".into(),
            Anomaly::ZeroLength => "the visit has no length (shorter than one minute)".into(),
            Anomaly::TooLong { minutes, max } => {
                format!("the visit lasts {} h {} min, over the station's maximum of {} h", minutes / 60, minutes % 60, max / 60)
            }
            Anomaly::ClockAhead { minutes } => {
                format!("the phone's clock was {minutes} min ahead of the station's when the visit arrived")
            }
            Anomaly::Late { days } => format!("the visit was logged {days} days after it happened"),
            Anomaly::CheckInEnteredLate { minutes } => format!("the check-in was entered {minutes} min after the time it claims"),
            Anomaly::CheckOutEnteredLate { minutes } => format!("the check-out was entered {minutes} min after the time it claims"),
            Anomaly::OwnHousehold => "the volunteer served their own household".into(),
            Anomaly::Overlaps { other } => format!("overlaps visit {other}"),
            Anomaly::LoggedTwice { other } => format!("the same visit seems logged twice, also as {other} from another phone"),
        }
    }
}

/// The anomalies of `visit`, received at `received_at` under `rules`. `others` are the
/// volunteer's other visits still standing (not rejected); the first
/// [`MAX_OVERLAPS_NAMED`] that overlap it are named, and no more of `others` is read.
pub fn detect<'a>(
    visit: &VisitEvent,
    received_at: i64,
    rules: &StationRules,
    others: impl IntoIterator<Item = &'a VisitEvent>,
) -> Vec<Anomaly> {
    let mut found = Vec::new();
    let length = visit.length_ms();
    if visit.monotonic_ms.is_none() && visit.check_out < visit.check_in {
        found.push(Anomaly::EndsBeforeStart);
    } else if length < MINUTE_MS {
        found.push(Anomaly::ZeroLength);
    } else if length > rules.max_visit_minutes * MINUTE_MS {
        found.push(Anomaly::TooLong { minutes: length / MINUTE_MS, max: rules.max_visit_minutes });
    }
    let latest_device_time = visit.check_out.max(visit.recorded_at).max(visit.check_in);
    let ahead = latest_device_time - received_at;
    if ahead > rules.clock_skew_minutes * MINUTE_MS {
        found.push(Anomaly::ClockAhead { minutes: ahead / MINUTE_MS });
    }
    let end = visit.check_out.max(visit.check_in);
    let late = received_at.max(visit.recorded_at) - end;
    if late > rules.late_submission_days * DAY_MS {
        found.push(Anomaly::Late { days: late / DAY_MS });
    }
    if visit.source == Some(VisitSource::Live) {
        let tolerance = rules.backdate_tolerance_minutes;
        if let Some(minutes) = entered_late(visit.check_in, visit.recorded_at, tolerance) {
            found.push(Anomaly::CheckInEnteredLate { minutes });
        }
        if let Some(minutes) = entered_late(visit.check_out, visit.check_out_recorded_at.unwrap_or(visit.check_out), tolerance) {
            found.push(Anomaly::CheckOutEnteredLate { minutes });
        }
    }
    let same_household = visit.volunteer_household.is_some() && visit.volunteer_household == visit.elder_household;
    if same_household || visit.volunteer == visit.elder {
        found.push(Anomaly::OwnHousehold);
    }
    let (start, stop) = visit.interval();
    let mut named = 0;
    for other in others {
        if other.id == visit.id {
            continue;
        }
        let (o_start, o_stop) = other.interval();
        if start < o_stop && o_start < stop {
            if other.elder == visit.elder && other.device != visit.device {
                found.push(Anomaly::LoggedTwice { other: other.id.to_string() });
            } else {
                found.push(Anomaly::Overlaps { other: other.id.to_string() });
            }
            named += 1;
            if named == MAX_OVERLAPS_NAMED {
                break;
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use timebank_engine::model::{HouseholdId, MemberId, StationId};

    const H: i64 = 3_600_000;

    fn visit(id: &str, start_h: i64, end_h: i64, device: &str) -> VisitEvent {
        VisitEvent {
            id: id.into(),
            volunteer: MemberId::parse("m-v").unwrap(),
            station: StationId::parse("s-1").unwrap(),
            elder: MemberId::parse("m-e").unwrap(),
            check_in: 100 * H + start_h * H,
            check_out: 100 * H + end_h * H,
            monotonic_ms: None,
            recorded_at: 100 * H + end_h * H,
            device: device.into(),
            volunteer_household: None,
            elder_household: None,
            source: Some(VisitSource::Paper),
            check_out_recorded_at: None,
            order: None,
        }
    }

    #[test]
    fn an_ordinary_visit_has_no_anomaly() {
        let v = visit("v-1", 0, 1, "a");
        assert!(detect(&v, 102 * H, &StationRules::default(), []).is_empty());
    }

    #[test]
    fn impossible_timings_and_clocks_are_found() {
        let rules = StationRules::default();
        let received = 200 * H;
        let cases = [
            (visit("v-1", 2, 1, "a"), "ends before it starts"),
            (visit("v-1", 1, 1, "a"), "no length"),
            (visit("v-1", 0, 9, "a"), "over the station's maximum"),
            (visit("v-1", 200, 201, "a"), "ahead of the station's"),
        ];
        for (v, expected) in cases {
            let found = detect(&v, received, &rules, []);
            assert!(found.iter().any(|a| a.reason().contains(expected)), "{expected}: {found:?}");
        }
        let late = detect(&visit("v-1", 0, 1, "a"), 101 * H + 31 * 24 * H, &rules, []);
        assert_eq!(late, [Anomaly::Late { days: 31 }]);
    }

    #[test]
    fn a_live_check_in_or_out_entered_long_after_it_claims_is_found() {
        let rules = StationRules::default();
        let live = |check_in_entered_h: i64, check_out_entered: Option<i64>| VisitEvent {
            source: Some(VisitSource::Live),
            recorded_at: 100 * H + check_in_entered_h,
            check_out_recorded_at: check_out_entered,
            ..visit("v-1", 0, 2, "a")
        };
        assert!(detect(&live(0, None), 110 * H, &rules, []).is_empty(), "tapped as it happened");
        assert!(detect(&live(60 * 60_000, None), 110 * H, &rules, []).is_empty(), "within the station's hour");
        assert_eq!(detect(&live(95 * 60_000, None), 110 * H, &rules, []), [Anomaly::CheckInEnteredLate { minutes: 95 }]);
        let out_late = live(0, Some(102 * H + 70 * 60_000));
        assert_eq!(detect(&out_late, 110 * H, &rules, []), [Anomaly::CheckOutEnteredLate { minutes: 70 }]);
        let lenient = StationRules { backdate_tolerance_minutes: 120, ..rules.clone() };
        assert!(detect(&live(95 * 60_000, None), 110 * H, &lenient, []).is_empty(), "the station sets the tolerance");
        let paper = VisitEvent { recorded_at: 105 * H, ..visit("v-1", 0, 2, "a") };
        assert!(detect(&paper, 110 * H, &rules, []).is_empty(), "a paper record is entered afterwards by its nature");
        let before_it_was_kept = VisitEvent { source: None, ..live(95 * 60_000, None) };
        assert!(detect(&before_it_was_kept, 110 * H, &rules, []).is_empty(), "events logged before the source was kept");
    }

    #[test]
    fn overlaps_duplicates_and_own_household_are_found() {
        let rules = StationRules::default();
        let first = visit("v-1", 0, 2, "a");
        let again = visit("v-2", 1, 3, "b");
        assert_eq!(detect(&again, 110 * H, &rules, [&first]), [Anomaly::LoggedTwice { other: "v-1".into() }]);
        let same_phone = visit("v-3", 1, 3, "a");
        assert_eq!(detect(&same_phone, 110 * H, &rules, [&first]), [Anomaly::Overlaps { other: "v-1".into() }]);
        let after = visit("v-4", 2, 3, "a");
        assert!(detect(&after, 110 * H, &rules, [&first]).is_empty());
        let household = Some(HouseholdId::parse("h-1").unwrap());
        let own = VisitEvent { volunteer_household: household.clone(), elder_household: household, ..first };
        assert_eq!(detect(&own, 110 * H, &rules, []), [Anomaly::OwnHousehold]);
    }

    #[test]
    fn a_visit_names_the_first_few_it_overlaps_and_reads_no_further() {
        let rules = StationRules::default();
        let others: Vec<VisitEvent> = (0..1000).map(|i| visit(&format!("v-{i}"), 0, 2, "a")).collect();
        let mut read = 0;
        let found = detect(&visit("v-new", 1, 2, "a"), 110 * H, &rules, others.iter().inspect(|_| read += 1));
        let named: Vec<Anomaly> = (0..MAX_OVERLAPS_NAMED).map(|i| Anomaly::Overlaps { other: format!("v-{i}") }).collect();
        assert_eq!(found, named);
        assert_eq!(read, MAX_OVERLAPS_NAMED);
    }
}
