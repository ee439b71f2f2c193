//! The `ledger` group: the relay's reconciliation over a district-year of visits.
//!
//! - `reconcile_1m_visits_seconds`: a full rebuild, reading the arrival log of one
//!   district-year (1,000,000 visits, each approved by a coordinator, plus redemptions)
//!   from a SQLite store and folding it into the books from nothing, as the relay's
//!   catch-up and `admin rebuild-ledger --check` do ([`rebuild`]). Baseline: the floor of
//!   any ledger, summing each visit's rounded minutes per volunteer with no rules,
//!   anomalies or double entry.
//! - `reconcile_incremental_per_visit_us`: one more visit and its approval folded into
//!   books that already hold the district-year, median per visit. Baseline: the same
//!   visits folded into empty books, so the ratio shows whether the cost grows with the
//!   history (DESIGN.md: it must not).
//!
//! Plain automerge has no ledger: these baselines are the nearest honest references.
//! DESIGN.md sets no target of its own for reconciliation.

use std::collections::HashMap;
use std::time::Instant;

use timebank_engine::model::{HouseholdId, MemberId, ReviewDecision, StationId};
use timebank_server::ledger::event::{RequestEvent, RequestWhat, ReviewEvent, VisitEvent};
use timebank_server::ledger::rebuild::rebuild;
use timebank_server::ledger::{Books, Event, EventBody};
use timebank_server::store::{NewLedgerEvent, RelayStore, SqliteStore};

use crate::bench::stats::median;
use crate::bench::{BenchError, Measurement, Target};

/// The size of the district-year.
#[derive(Clone, Debug)]
pub struct LedgerBench {
    /// Visits in the year.
    pub visits: usize,
    /// Volunteers (Putuo: 1,414).
    pub volunteers: usize,
    /// Elders (Putuo: 1,906).
    pub elders: usize,
    /// Stations of the district.
    pub stations: usize,
    /// Redemptions in the year (Putuo: 1,500+ in 18 months).
    pub redemptions: usize,
    /// New visits timed one by one for the incremental figure.
    pub incremental_visits: usize,
}

impl Default for LedgerBench {
    fn default() -> Self {
        LedgerBench {
            visits: 1_000_000,
            volunteers: 1_414,
            elders: 1_906,
            stations: 10,
            redemptions: 1_000,
            incremental_visits: 2_000,
        }
    }
}

const DAY_MS: i64 = 24 * 3_600_000;
const YEAR_START_MS: i64 = 1_767_196_800_000; // 2026-01-01T00:00+08:00

/// Builds the arrival log of the year: visits spread over 365 days, each volunteer's
/// visits back to back without overlap, each approved by its station's coordinator
/// right after it arrives, and redemptions here and there.
struct District {
    config: LedgerBench,
    volunteers: Vec<(MemberId, StationId, Option<HouseholdId>)>,
    elders: Vec<(MemberId, Option<HouseholdId>)>,
    coordinators: Vec<MemberId>,
    next_slot: HashMap<usize, i64>,
    seq: i64,
}

impl District {
    fn new(config: &LedgerBench) -> Result<District, BenchError> {
        let station = |i: usize| StationId::parse(&format!("s-{i:02}"));
        let volunteers = (0..config.volunteers)
            .map(|i| {
                Ok((
                    MemberId::parse(&format!("m-v{i:05}"))?,
                    station(i % config.stations)?,
                    Some(HouseholdId::parse(&format!("h-v{i}"))?),
                ))
            })
            .collect::<Result<Vec<_>, timebank_engine::Error>>()?;
        let elders = (0..config.elders)
            .map(|i| Ok((MemberId::parse(&format!("m-e{i:05}"))?, Some(HouseholdId::parse(&format!("h-e{i}"))?))))
            .collect::<Result<Vec<_>, timebank_engine::Error>>()?;
        let coordinators = (0..config.stations).map(|i| MemberId::parse(&format!("m-c{i:02}"))).collect::<Result<Vec<_>, _>>()?;
        Ok(District { config: config.clone(), volunteers, elders, coordinators, next_slot: HashMap::new(), seq: 0 })
    }

    fn next_seq(&mut self) -> i64 {
        self.seq += 1;
        self.seq
    }

    /// Visit number `n` and its approval, as two arrival-log events.
    fn visit(&mut self, n: usize) -> [Event; 2] {
        let who = n % self.volunteers.len();
        let (volunteer, station, household) = self.volunteers[who].clone();
        let (elder, elder_household) = self.elders[(n * 7) % self.elders.len()].clone();
        let per_volunteer = (self.config.visits / self.volunteers.len()).max(1) as i64;
        // Spread each volunteer's visits over the year, one after the other.
        let step = (365 * DAY_MS / per_volunteer).max(3 * 3_600_000);
        let slot = self.next_slot.entry(who).or_insert(YEAR_START_MS + (who as i64 % 24) * 600_000);
        let check_in = *slot;
        *slot += step;
        let length = 30 * 60_000 + ((n as i64 * 37) % 91) * 60_000; // 30 to 120 minutes
        let id = format!("v-{n:016x}");
        let received_at = check_in + length + 3_600_000;
        let visit = Event {
            seq: self.next_seq(),
            received_at,
            body: EventBody::Visit(VisitEvent {
                id: id.as_str().into(),
                volunteer,
                station: station.clone(),
                elder,
                check_in,
                check_out: check_in + length,
                monotonic_ms: Some(length),
                recorded_at: check_in,
                device: format!("{who:032x}"),
                volunteer_household: household,
                elder_household,
                source: Some(timebank_engine::model::VisitSource::Live),
                check_out_recorded_at: None,
                order: None,
            }),
        };
        let coordinator = self.coordinators[who % self.coordinators.len()].clone();
        let approval = Event {
            seq: self.next_seq(),
            received_at: received_at + 60_000,
            body: EventBody::Review(ReviewEvent {
                visit: id.into(),
                station,
                decision: ReviewDecision::Approve,
                reason: String::new(),
                by: coordinator,
                at: received_at + 60_000,
            }),
        };
        [visit, approval]
    }

    fn redemption(&mut self, n: usize, at: i64) -> Event {
        let (member, station, household) = self.volunteers[(n * 13) % self.volunteers.len()].clone();
        Event {
            seq: self.next_seq(),
            received_at: at,
            body: EventBody::Request(RequestEvent {
                id: format!("r-{n:016x}"),
                member,
                station,
                what: RequestWhat::Redeem { service: "tcm-physiotherapy".into(), at: None, at_unknown: false },
                minutes: 60,
                created_at: at,
                birth_year: Some(1955),
                household,
                hardship: false,
            }),
        }
    }

    /// The whole year's log, in arrival order.
    fn year(&mut self) -> Vec<Event> {
        let every = (self.config.visits / self.config.redemptions.max(1)).max(1);
        let mut log = Vec::with_capacity(self.config.visits * 2 + self.config.redemptions);
        for n in 0..self.config.visits {
            let [visit, approval] = self.visit(n);
            let at = approval.received_at;
            log.push(visit);
            log.push(approval);
            if n % every == every - 1 {
                log.push(self.redemption(n / every, at));
            }
        }
        log
    }
}

/// Events stored per transaction when the log is written into the store.
const EVENTS_PER_WRITE: usize = 4_096;

/// Writes `log` into the arrival log of `store` as a relay would (the store numbers the
/// events), a few thousand per transaction, each received when the newest of them was.
/// The events in `log` take that arrival time too, so the log in memory is the stored one.
fn store_log(store: &dyn RelayStore, log: &mut [Event]) -> Result<(), BenchError> {
    for batch in log.chunks_mut(EVENTS_PER_WRITE) {
        let at = batch.iter().map(|e| e.received_at).max().unwrap_or_default();
        let new: Vec<NewLedgerEvent> = batch.iter().map(|e| NewLedgerEvent { key: e.body.key(), body: e.body.encode() }).collect();
        let logged = store.append_ledger_events(&new, at)?;
        if logged.len() != batch.len() {
            return Err(format!("the store logged {} of {} events", logged.len(), batch.len()).into());
        }
        for (event, record) in batch.iter_mut().zip(&logged) {
            event.seq = record.seq;
            event.received_at = at;
        }
    }
    Ok(())
}

/// The floor of any ledger: each visit's minutes rounded to the quarter hour, summed per
/// volunteer, nothing else.
fn naive_sum(log: &[Event]) -> HashMap<&MemberId, i64> {
    let mut sums: HashMap<&MemberId, i64> = HashMap::new();
    for event in log {
        if let EventBody::Visit(v) = &event.body {
            let minutes = v.length_ms() / 60_000;
            *sums.entry(&v.volunteer).or_default() += (minutes + 7) / 15 * 15;
        }
    }
    sums
}

/// Runs the group.
pub fn run(config: &LedgerBench, progress: &mut dyn FnMut(&str)) -> Result<Vec<Measurement>, BenchError> {
    let mut district = District::new(config)?;
    progress(&format!(
        "building the arrival log of {} visits ({} volunteers, {} elders)",
        config.visits, config.volunteers, config.elders
    ));
    let mut log = district.year();
    progress("writing the arrival log into a SQLite store");
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(dir.path())?;
    store_log(&store, &mut log)?;

    progress("full rebuild from the store");
    let cpu = || timebank_testing::cluster::cpu_time_of(std::process::id());
    let (started, cpu_started) = (Instant::now(), cpu());
    let mut books = rebuild(&store)?;
    let rebuild = started.elapsed().as_secs_f64();
    // On a shared machine the wall time includes waiting for a core; the CPU time does not.
    let rebuild_cpu = match (cpu_started, cpu()) {
        (Some(before), Some(after)) => format!("{:.2} s", after.saturating_sub(before).as_secs_f64()),
        _ => "unknown".to_owned(),
    };
    drop(store);
    drop(dir);
    let postings = books.postings().len();
    let total_balance: i64 = books.balances().values().sum();
    if total_balance != 0 {
        return Err(format!("the books do not balance after the rebuild: {total_balance}").into());
    }

    progress("the same log folded in memory");
    let started = Instant::now();
    let mut in_memory = Books::new();
    in_memory.apply_all(&log);
    let fold = started.elapsed().as_secs_f64();
    if in_memory.postings() != books.postings() || in_memory.balances() != books.balances() {
        return Err("the books folded in memory differ from the books rebuilt from the store".into());
    }
    drop(in_memory);
    let started = Instant::now();
    let sums = naive_sum(&log);
    let naive = started.elapsed().as_secs_f64();
    let volunteers_paid = sums.len();

    progress("incremental: new visits one by one, on the year's books and on empty books");
    let extra: Vec<[Event; 2]> = (config.visits..config.visits + config.incremental_visits).map(|n| district.visit(n)).collect();
    let mut on_year = Vec::with_capacity(extra.len());
    let mut empty = Books::new();
    let mut on_empty = Vec::with_capacity(extra.len());
    for pair in &extra {
        let started = Instant::now();
        books.apply_all(pair.iter());
        on_year.push(started.elapsed().as_secs_f64() * 1e6);
        let started = Instant::now();
        empty.apply_all(pair.iter());
        on_empty.push(started.elapsed().as_secs_f64() * 1e6);
    }
    let (year_median, empty_median) = (median(&on_year).unwrap_or(f64::NAN), median(&on_empty).unwrap_or(f64::NAN));

    Ok(vec![
        Measurement {
            scenario: "reconcile_1m_visits_seconds".into(),
            ours: rebuild,
            baseline: Some(naive),
            unit: "s",
            // DESIGN.md, "Targets": a full rebuild of a district-year within 5 s.
            target: Some(Target::AtMost(5.0)),
            note: Some(format!(
                "{} log events ({} visits, each approved, {} redemptions) read from a SQLite store and folded from nothing into {postings} postings \
                 (ledger::rebuild::rebuild, as the relay's catch-up and admin rebuild-ledger --check); the books balance to 0; the rebuild's CPU time {rebuild_cpu}; \
                 the same events folded in memory, without the store: {fold:.2} s, the same books. \
                 Baseline: rounded minutes summed per volunteer ({volunteers_paid} volunteers), no rules, caps, anomalies or double entry",
                log.len(),
                config.visits,
                config.redemptions
            )),
        },
        Measurement {
            scenario: "reconcile_incremental_per_visit_us".into(),
            ours: year_median,
            baseline: Some(empty_median),
            unit: "us",
            target: None,
            note: Some(format!(
                "median over {} new visits (visit + approval), folded into books holding the {}-visit year; baseline: the same visits into empty books. \
                 Equal figures mean the cost does not grow with the history",
                config.incremental_visits, config.visits
            )),
        },
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_district_balances_and_pays_every_volunteer() {
        let config = LedgerBench { visits: 2_000, volunteers: 20, elders: 30, stations: 2, redemptions: 10, incremental_visits: 5 };
        let results = run(&config, &mut |_| {}).unwrap();
        assert_eq!(results.len(), 2);
        assert!(results.iter().all(|m| m.ours.is_finite() && m.ours > 0.0));
        let mut district = District::new(&config).unwrap();
        let log = district.year();
        let mut books = Books::new();
        books.apply_all(&log);
        // Every visit was approved, none overlaps: every volunteer earned something.
        let paid = books.members().len();
        assert!(paid >= 20, "{paid}");
    }
}
