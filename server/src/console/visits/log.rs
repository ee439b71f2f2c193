//! The merged visit log of a station: every visit the phones brought, with the device that
//! logged it, when it first reached the relay, its history in the arrival log, the
//! ledger's outcome and the coordinators' review; filtered by volunteer, elder, day, month
//! and words. Days and months are the stations' (UTC+8).

use std::collections::HashMap;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Offset, TimeZone};
use timebank_engine::documents::desk::Review;
use timebank_engine::documents::ledger::Outcome;
use timebank_engine::model::{BackEntered, MemberId, OutcomeStatus, Service, StationId, Visit};

use crate::console::Lang;
use crate::console::i18n::DISPLAY_OFFSET_SECONDS;
use crate::console::pinyin_order::name_matches;
use crate::desk::StationDocs;
use crate::ledger::event::{EventBody, ReversalEvent, ReviewEvent, TransferEvent, VisitEvent};
use crate::ledger::evidence::{EvidenceBook, EvidenceState};
use crate::ledger::rules::StationRules;
use crate::store::{DeviceRecord, Millis, RelayStore, StoreError, StoreResult};

/// One version of a visit as it reached the relay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VisitArrival {
    /// Arrival sequence number.
    pub seq: i64,
    /// When the relay received it (ms).
    pub received_at: Millis,
    /// The visit as it was then.
    pub event: VisitEvent,
}

/// One review as it reached the relay (from a phone or the console).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReviewArrival {
    /// Arrival sequence number.
    pub seq: i64,
    /// When the relay received it (ms).
    pub received_at: Millis,
    /// The review.
    pub event: ReviewEvent,
}

/// One reversal of a review as it reached the relay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReversalArrival {
    /// When the relay received it (ms).
    pub received_at: Millis,
    /// The reversal.
    pub event: ReversalEvent,
}

/// The arrival log read for visits, reviews and their reversals, by visit id, the
/// stations' rules, the moves of members who moved (ADR 42), and each visit's evidence
/// of presence folded as the ledger folds it.
#[derive(Debug, Default)]
pub struct Arrivals {
    visits: HashMap<String, Vec<VisitArrival>>,
    reviews: HashMap<String, Vec<ReviewArrival>>,
    reversals: HashMap<String, Vec<ReversalArrival>>,
    rules: HashMap<StationId, StationRules>,
    moves: HashMap<MemberId, Vec<TransferEvent>>,
    presence: EvidenceBook,
}

impl Arrivals {
    /// Reads the whole arrival log.
    pub fn read(store: &dyn RelayStore) -> StoreResult<Arrivals> {
        let mut arrivals = Arrivals::default();
        for record in store.ledger_events(0)? {
            let body: EventBody = serde_json::from_str(&record.body)
                .map_err(|e| StoreError::Corrupt(format!("ledger event {} cannot be read: {e}", record.seq)))?;
            let (seq, received_at) = (record.seq, record.received_at);
            match body {
                EventBody::Visit(event) => {
                    arrivals.visits.entry(event.id.to_string()).or_default().push(VisitArrival { seq, received_at, event });
                }
                EventBody::Review(event) => {
                    arrivals.reviews.entry(event.visit.to_string()).or_default().push(ReviewArrival { seq, received_at, event });
                }
                EventBody::Reversal(event) => {
                    arrivals.reversals.entry(event.visit.clone()).or_default().push(ReversalArrival { received_at, event });
                }
                EventBody::Rules { station, rules } => {
                    arrivals.rules.insert(station, rules);
                }
                EventBody::Transfer(event) => {
                    arrivals.moves.entry(event.member.clone()).or_default().push(event);
                }
                EventBody::Evidence(event) => {
                    arrivals.presence.apply(&event);
                }
                _ => {}
            }
        }
        Ok(arrivals)
    }

    /// Every version of `visit` that arrived, first first.
    pub fn of_visit(&self, visit: &str) -> &[VisitArrival] {
        self.visits.get(visit).map_or(&[], Vec::as_slice)
    }

    /// Every review of `visit` that arrived, first first.
    pub fn reviews_of(&self, visit: &str) -> &[ReviewArrival] {
        self.reviews.get(visit).map_or(&[], Vec::as_slice)
    }

    /// Every reversal of a review of `visit` that arrived, first first.
    pub fn reversals_of(&self, visit: &str) -> &[ReversalArrival] {
        self.reversals.get(visit).map_or(&[], Vec::as_slice)
    }

    /// The latest version of every visit of `volunteer` that arrived.
    pub fn latest_of(&self, volunteer: &MemberId) -> Vec<&VisitEvent> {
        self.visits.values().filter_map(|v| v.last()).map(|a| &a.event).filter(|e| &e.volunteer == volunteer).collect()
    }

    /// The moves of every member who moved (ADR 42), by member, in the order logged.
    pub fn moves(&self) -> &HashMap<MemberId, Vec<TransferEvent>> {
        &self.moves
    }

    /// Where `visit`'s evidence of presence stands, if any arrived.
    pub fn evidence(&self, visit: &str) -> Option<&EvidenceState> {
        self.presence.state(visit)
    }

    /// The rules of `station` as the ledger applies them now.
    pub fn rules(&self, station: &StationId) -> StationRules {
        self.rules.get(station).cloned().unwrap_or_default()
    }
}

/// One visit of the merged log with everything a coordinator checks.
#[derive(Clone, Debug)]
pub struct VisitRecord {
    /// The visit as the volunteer's document holds it now.
    pub visit: Visit,
    /// The volunteer's name.
    pub volunteer_name: String,
    /// The elder's name.
    pub elder_name: String,
    /// The enrolled device (`d-…`) whose actor created the record, if known.
    pub device: Option<String>,
    /// When it first reached the relay (ms); `None` for a visit still open.
    pub arrived_at: Option<Millis>,
    /// The ledger's outcome.
    pub outcome: Option<Outcome>,
    /// The coordinators' review.
    pub review: Option<Review>,
    /// The service as the station's catalogue names it, if it is there.
    pub service: Option<Service>,
    /// How late its check-in and check-out were entered on the phone, beyond the station's
    /// tolerance (a live visit filled in afterwards: 补录).
    pub back_entered: BackEntered,
}

impl VisitRecord {
    /// Where it stands: `open`, `waiting` (for review), or the ledger's status.
    pub fn status(&self) -> &'static str {
        match (self.visit.is_open(), self.outcome_status()) {
            (true, _) => "open",
            (false, Some(status)) => status.as_str(),
            (false, None) => "waiting",
        }
    }

    /// The ledger's status of the finished visit; `None` while it is open or undecided.
    pub fn outcome_status(&self) -> Option<OutcomeStatus> {
        self.outcome.as_ref().filter(|_| !self.visit.is_open()).map(|o| o.status)
    }

    /// The service's name in `lang` (its id when the catalogue lacks it).
    pub fn service_label(&self, lang: Lang) -> String {
        service_label(self.service.as_ref(), &self.visit.service, lang)
    }

    /// Logged minutes (exact, as the volunteer logged them).
    pub fn minutes(&self) -> i64 {
        self.visit.minutes().map_or(0, i64::from)
    }
}

/// A service's name in `lang`, or `id` when the catalogue lacks it.
pub fn service_label(service: Option<&Service>, id: &str, lang: Lang) -> String {
    service.map_or_else(|| id.to_owned(), |s| lang.pick(&s.name_zh, &s.name_en).clone())
}

/// The device id of every enrolled actor (hex).
pub fn devices_by_actor(devices: &[DeviceRecord]) -> HashMap<String, String> {
    devices.iter().map(|d| (d.actor.clone(), d.id.clone())).collect()
}

/// Every visit of the station, oldest check-in first.
pub fn records(docs: &StationDocs, arrivals: &Arrivals, devices: &HashMap<String, String>) -> Vec<VisitRecord> {
    let catalogue = docs.catalogue();
    let tolerance = arrivals.rules(&docs.station).backdate_tolerance_minutes;
    docs.visits()
        .into_iter()
        .map(|visit| VisitRecord {
            back_entered: visit.back_entered(tolerance),
            service: catalogue.iter().find(|s| s.id == visit.service).cloned(),
            volunteer_name: docs.name(&visit.volunteer),
            elder_name: docs.name(&visit.elder),
            device: devices.get(&visit.device).cloned(),
            arrived_at: arrivals.of_visit(visit.id.as_str()).first().map(|a| a.received_at),
            outcome: docs.outcome(&visit.volunteer, visit.id.as_str()),
            review: docs.review(&visit.id),
            visit,
        })
        .collect()
}

/// A calendar month of the stations (UTC+8), as `YYYY-MM`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Month {
    /// The year.
    pub year: i32,
    /// 1 to 12.
    pub month: u32,
}

impl Month {
    /// Reads `YYYY-MM`, or `None` when it is not a month.
    pub fn parse(raw: &str) -> Option<Month> {
        let (y, m) = raw.trim().split_once('-')?;
        if y.len() != 4 || m.len() != 2 {
            return None;
        }
        let month = Month { year: y.parse().ok()?, month: m.parse().ok()? };
        NaiveDate::from_ymd_opt(month.year, month.month, 1).map(|_| month)
    }

    /// The month `at` falls in.
    pub fn of(at: Millis) -> Month {
        let day = local_day(at);
        Month { year: day.year(), month: day.month() }
    }

    /// The month after this one.
    pub fn next(self) -> Month {
        if self.month == 12 { Month { year: self.year + 1, month: 1 } } else { Month { year: self.year, month: self.month + 1 } }
    }

    /// The month before this one.
    pub fn previous(self) -> Month {
        if self.month == 1 { Month { year: self.year - 1, month: 12 } } else { Month { year: self.year, month: self.month - 1 } }
    }

    /// Its first instant (ms, inclusive) and the next month's (exclusive).
    pub fn range(self) -> (Millis, Millis) {
        (start_of(self), start_of(self.next()))
    }

    /// Whether `at` falls in it.
    pub fn contains(self, at: Millis) -> bool {
        let (start, end) = self.range();
        (start..end).contains(&at)
    }

    /// Its days, first to last.
    pub fn days(self) -> Vec<NaiveDate> {
        (1..=31).filter_map(|d| NaiveDate::from_ymd_opt(self.year, self.month, d)).collect()
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

fn offset() -> FixedOffset {
    FixedOffset::east_opt(DISPLAY_OFFSET_SECONDS).unwrap_or(chrono::Utc.fix())
}

fn start_of(month: Month) -> Millis {
    NaiveDate::from_ymd_opt(month.year, month.month, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|t| offset().from_local_datetime(&t).single())
        .map_or(0, |t| t.timestamp_millis())
}

/// The stations' calendar day of `at`.
pub fn local_day(at: Millis) -> NaiveDate {
    DateTime::from_timestamp_millis(at).map_or(NaiveDate::MIN, |t| t.with_timezone(&offset()).date_naive())
}

/// What the visit log is narrowed to (each part optional).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VisitFilter {
    /// Visits by this volunteer.
    pub volunteer: Option<MemberId>,
    /// Visits to this elder.
    pub elder: Option<MemberId>,
    /// Visits that started on this day.
    pub day: Option<NaiveDate>,
    /// Visits that started in this month.
    pub month: Option<Month>,
    /// Words found in the names (or their pinyin or initials), ids, service, note or
    /// status (case-insensitive).
    pub q: String,
}

impl VisitFilter {
    /// Whether `record` passes.
    pub fn matches(&self, record: &VisitRecord) -> bool {
        let visit = &record.visit;
        let at = visit.check_in.timestamp_millis();
        if self.volunteer.as_ref().is_some_and(|v| v != &visit.volunteer)
            || self.elder.as_ref().is_some_and(|e| e != &visit.elder)
            || self.day.is_some_and(|d| d != local_day(at))
            || self.month.is_some_and(|m| !m.contains(at))
        {
            return false;
        }
        let q = self.q.trim().to_lowercase();
        if q.is_empty() || name_matches(&record.volunteer_name, &q) || name_matches(&record.elder_name, &q) {
            return true;
        }
        [
            record.volunteer_name.as_str(),
            record.elder_name.as_str(),
            visit.id.as_str(),
            visit.volunteer.as_str(),
            visit.elder.as_str(),
            visit.service.as_str(),
            visit.note.as_str(),
            record.status(),
            record.device.as_deref().unwrap_or_default(),
        ]
        .iter()
        .any(|field| field.to_lowercase().contains(&q))
    }
}

/// A finished visit record for the console's unit tests.
#[cfg(test)]
pub(crate) mod fixture {
    use chrono::{DateTime, Duration, Utc};
    use timebank_engine::model::{MemberId, Visit, VisitId, VisitSource};

    use super::VisitRecord;

    /// Visit `id` of `volunteer` to `elder` from `start` (RFC 3339) for `minutes`, not
    /// confirmed, reviewed or decided.
    pub fn record(id: &str, volunteer: &str, elder: &str, start: &str, minutes: i64) -> VisitRecord {
        let check_in: DateTime<Utc> = start.parse().unwrap_or_default();
        let member = |raw: &str| MemberId::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
        VisitRecord {
            visit: Visit {
                id: VisitId::parse(id).unwrap_or_else(|e| panic!("{id}: {e}")),
                volunteer: member(volunteer),
                elder: member(elder),
                service: "companionship".into(),
                order: None,
                check_in,
                check_out: Some(check_in + Duration::minutes(minutes)),
                monotonic_ms: None,
                source: VisitSource::Live,
                note: String::new(),
                recorded_at: check_in,
                check_out_recorded_at: None,
                device: String::new(),
                confirmation: None,
                evidence: Default::default(),
            },
            volunteer_name: String::new(),
            elder_name: String::new(),
            device: None,
            arrived_at: None,
            outcome: None,
            review: None,
            service: None,
            back_entered: timebank_engine::model::BackEntered::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use timebank_engine::model::VisitId;

    use super::*;

    fn record(volunteer: &str, elder: &str, check_in: &str, note: &str) -> VisitRecord {
        let mut record = fixture::record(VisitId::generate().as_str(), volunteer, elder, check_in, 90);
        record.visit.note = note.into();
        record.volunteer_name = "李伟".into();
        record.elder_name = "Wang Fang".into();
        record.device = Some("d-1".into());
        record
    }

    #[test]
    fn months_follow_the_stations_calendar() {
        let month = Month::parse("2026-11").unwrap();
        assert_eq!(month.to_string(), "2026-11");
        assert_eq!(month.next().to_string(), "2026-12");
        assert_eq!(Month::parse("2026-12").unwrap().next().to_string(), "2027-01");
        assert_eq!(Month::parse("2026-01").unwrap().previous().to_string(), "2025-12");
        for bad in ["2026-13", "2026-1", "26-11", "november", "", "2026-00"] {
            assert_eq!(Month::parse(bad), None, "{bad}");
        }
        // 2026-10-31 16:00 UTC is midnight, 1 November, in Shanghai.
        let at = "2026-10-31T16:00:00Z".parse::<DateTime<Utc>>().unwrap().timestamp_millis();
        assert!(month.contains(at));
        assert_eq!(Month::of(at), month);
        assert!(!month.contains(at - 1));
        assert_eq!(month.days().len(), 30);
    }

    #[test]
    fn the_filter_narrows_by_person_day_and_words() {
        let a = record("m-vol1", "m-eld1", "2026-11-03T02:00:00Z", "read the newspaper");
        let b = record("m-vol2", "m-eld1", "2026-11-04T02:00:00Z", "cleaned the kitchen");
        let all = [&a, &b];
        let count = |f: &VisitFilter| all.iter().filter(|r| f.matches(r)).count();
        assert_eq!(count(&VisitFilter::default()), 2);
        assert_eq!(count(&VisitFilter { volunteer: Some(MemberId::parse("m-vol2").unwrap()), ..Default::default() }), 1);
        assert_eq!(count(&VisitFilter { elder: Some(MemberId::parse("m-eld1").unwrap()), ..Default::default() }), 2);
        assert_eq!(count(&VisitFilter { day: NaiveDate::from_ymd_opt(2026, 11, 3), ..Default::default() }), 1);
        assert_eq!(count(&VisitFilter { q: "KITCHEN".into(), ..Default::default() }), 1);
        assert_eq!(count(&VisitFilter { q: "李伟".into(), ..Default::default() }), 2);
        assert_eq!(count(&VisitFilter { q: "LW".into(), ..Default::default() }), 2, "by the initials of 李伟");
        assert_eq!(count(&VisitFilter { q: "nothing like it".into(), ..Default::default() }), 0);
        assert_eq!(count(&VisitFilter { month: Month::parse("2026-10"), ..Default::default() }), 0);
    }
}
