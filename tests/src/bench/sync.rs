//! The `sync` group: real engines syncing with a real relay (wire bytes, round trips,
//! batched upload overhead, merging 10,000 visits, relay throughput and latency), each
//! beside plain automerge sync doing the same job on the same documents in the same run.
//!
//! Ours runs through `Engine::sync` and the relay's router in-process (`app(relay)` +
//! tower `oneshot` on a tokio runtime), or over HTTP on 127.0.0.1 for the load
//! scenarios. Bytes are request + response bodies, as `SyncReport` counts them; HTTP
//! headers are not counted. Plain is [`super::plain_sync`]: two in-memory peers, each
//! keeping its `sync::State`.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use automerge::sync::State;
use automerge::transaction::{CommitOptions, Transactable as _};
use automerge::{ActorId, Automerge, Change, ChangeHash, ObjType, ROOT};
use chrono::{DateTime, Utc};
use timebank_engine::documents::{self, ledger, member};
use timebank_engine::model::{ConfirmedBy, MemberId, StationId};
use timebank_engine::sync::SyncReport;
use timebank_engine::{DocId, Engine};

use timebank_testing::FakeClock;

use super::clock::the_present;
use super::plain_sync::{self, Exchange, Pair, Side, raw_len};
use super::relay::{BenchRelay, Phone, Timed, on_ram_disk, phone_stores};
use super::stats::{median, percentile};
use super::workload::{Entry, Workload};
use super::{BenchError, Measurement, Target};

/// Seed of the made-up visits: every run logs the same ones.
const SEED: u64 = 0x5a4c_0b17;

/// Where "ours" runs, for the notes.
const IN_PROCESS: &str = "ours: real engines (Engine::sync) and a real Relay on a SQLite store on the disk, \
     in-process through app(relay) with tower oneshot on a 2-thread tokio runtime";

/// What the byte counts are.
const BODIES: &str = "bytes are request + response bodies as SyncReport counts them (HTTP headers not counted)";

/// Sizes of the `sync` group.
#[derive(Clone, Debug)]
pub struct SyncBench {
    /// Visits a single volunteer's phone synced before the one-visit syncs.
    pub history_visits: usize,
    /// One-visit syncs measured on that phone.
    pub single_visits: usize,
    /// Active volunteer devices at the station.
    pub station_devices: usize,
    /// Rounds in which every station device logs a visit and syncs before the measured one.
    pub station_rounds: usize,
    /// Visits on the phone before its day offline.
    pub day_history: usize,
    /// Visits in the day offline (check-in, check-out, confirmation each).
    pub day_visits: usize,
    /// Devices that merge their offline visits.
    pub merge_devices: usize,
    /// Offline visits on each of them.
    pub merge_visits: usize,
    /// Devices syncing at once over HTTP (0 leaves the load scenarios out).
    pub load_devices: usize,
    /// Offered rate for the latency run, syncs per second.
    pub load_rate: f64,
}

impl Default for SyncBench {
    fn default() -> Self {
        SyncBench {
            history_visits: 30,
            single_visits: 5,
            station_devices: 100,
            station_rounds: 3,
            day_history: 200,
            day_visits: 8,
            merge_devices: 100,
            merge_visits: 100,
            load_devices: 500,
            load_rate: 1_000.0,
        }
    }
}

/// Runs the group; `progress` hears what is going on (for stderr).
pub fn run(config: &SyncBench, progress: &mut dyn FnMut(&str)) -> Result<Vec<Measurement>, BenchError> {
    let mut bench = Bench::new()?;
    if !on_ram_disk(bench.stores.path()) {
        progress("no /dev/shm: phone stores go to the temporary directory (slower to build)");
    }
    progress(&format!(
        "one visit: a phone with {} synced visits logs {} visits, syncing after each",
        config.history_visits, config.single_visits
    ));
    let single = bench.one_visit(config)?;
    let mut results = single.measurements(config);
    progress(&format!(
        "a station with {} volunteer devices: {} rounds of one visit and a sync each, then the measured round",
        config.station_devices, config.station_rounds
    ));
    results.push(bench.station(config, &single)?);
    progress(&format!(
        "a day offline: {} visits (check-in, check-out, confirmation) on a phone with {} synced visits, one sync",
        config.day_visits, config.day_history
    ));
    results.push(bench.day_offline(config)?);
    progress(&format!(
        "merge: {} phones log {} offline visits each, then sync one after another",
        config.merge_devices, config.merge_visits
    ));
    results.push(bench.merge(config, progress)?);
    if config.load_devices > 0 {
        progress(&format!(
            "load: {} devices over HTTP on 127.0.0.1, all at once, then paced at {:.0}/s",
            config.load_devices, config.load_rate
        ));
        results.extend(bench.load(config, progress)?);
    }
    Ok(results)
}

/// What every scenario shares: the clock (relays and phones read it), where phone stores
/// go, and the made-up visits.
struct Bench {
    clock: Arc<FakeClock>,
    now: DateTime<Utc>,
    stores: tempfile::TempDir,
    work: Workload,
}

impl Bench {
    fn new() -> Result<Bench, BenchError> {
        let now = the_present()?;
        Ok(Bench { clock: FakeClock::new(now, "timebank-bench"), now, stores: phone_stores()?, work: Workload::new(SEED)? })
    }

    /// A relay on the shared clock.
    fn relay(&self) -> Result<BenchRelay, BenchError> {
        BenchRelay::start(self.clock.clone(), self.stores.path())
    }

    /// Moves the clock on by `minutes`.
    fn tick(&mut self, minutes: i64) {
        self.now += chrono::Duration::minutes(minutes);
        self.clock.set(self.now);
    }

    /// `count` new phones on `relay`, each of its own volunteer, each synced once (they
    /// hold their member document, ledger and station document).
    fn phones(&self, relay: &BenchRelay, count: usize) -> Result<Vec<Phone>, BenchError> {
        (0..count)
            .map(|i| {
                let member = relay.volunteer(&format!("Volunteer {}", i + 1))?;
                let mut phone = relay.phone(&member)?;
                relay.sync(&mut phone)?;
                Ok(phone)
            })
            .collect()
    }

    /// `visits` paper visits over the two weeks before now, logged on `phone` with the
    /// clock at each one's logging time; the clock is back at now afterwards.
    fn log_history(&mut self, phone: &mut Phone, visits: usize) -> Result<(), BenchError> {
        for entry in self.work.history(visits, 14, self.now) {
            self.clock.set(entry.logged_at);
            phone.engine.log_visit(&entry.visit)?;
        }
        self.clock.set(self.now);
        Ok(())
    }

    /// Scenarios 1 and 2: a phone in sync logs one visit and syncs, several times.
    fn one_visit(&mut self, config: &SyncBench) -> Result<OneVisit, BenchError> {
        let relay = self.relay()?;
        let mut phone = self.phones(&relay, 1)?.pop().ok_or("no phone was made")?;
        self.log_history(&mut phone, config.history_visits)?;
        relay.sync(&mut phone)?;
        let (idle, _) = relay.sync(&mut phone)?;
        let id = DocId::Member(phone.member.id.clone());
        let mut pair = Pair::new(&saved(&phone.engine, &id)?)?;
        let mut reloaded = Pair::new(&saved(&phone.engine, &id)?)?;
        let mut samples = Vec::with_capacity(config.single_visits);
        for _ in 0..config.single_visits {
            self.tick(30);
            let entry = self.work.logged_now(self.now);
            let before = phone.engine.heads(&id);
            phone.engine.log_visit(&entry.visit)?;
            let changes = changes_since(&phone.engine, &id, &before)?;
            let change_bytes = raw_len(&changes);
            let (ours, _) = relay.sync(&mut phone)?;
            pair.phone_makes(changes.clone())?;
            let plain = pair.sync()?;
            reloaded.phone_makes(changes)?;
            reloaded.reload_states()?;
            let plain_reloaded = reloaded.sync()?;
            samples.push(OneVisitSample { ours, plain, plain_reloaded, change_bytes });
        }
        let relay_heads = relay_heads(&relay, &id)?;
        if relay_heads != phone.engine.heads(&id) || pair.relay.get_heads() != pair.phone.get_heads() {
            return Err("after the one-visit syncs the relay does not hold what the phone holds".into());
        }
        Ok(OneVisit { samples, idle, history: config.history_visits })
    }

    /// Scenario 3: a station with many active volunteer devices; every device's sync of
    /// one visit in the measured round, against a shared station document in plain.
    fn station(&mut self, config: &SyncBench, single: &OneVisit) -> Result<Measurement, BenchError> {
        let single_bytes = single.median_bytes();
        let single_change = median_of(single.samples.iter().map(|s| s.change_bytes));
        let relay = self.relay()?;
        let mut phones = self.phones(&relay, config.station_devices)?;
        let station = StationId::parse("s-shared")?;
        let mut shared = shared_station_doc(&station)?;
        let mut plain = phones.iter().map(|phone| PlainDevice::new(&shared, &phone.member.id)).collect::<Result<Vec<_>, _>>()?;
        for device in &mut plain {
            device.sync(&mut shared)?;
        }
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        let mut ours_split = Vec::new();
        let mut theirs_split = Vec::new();
        for round in 0..=config.station_rounds {
            for (phone, device) in phones.iter_mut().zip(&mut plain) {
                self.tick(1);
                let entry = self.work.logged_now(self.now);
                phone.engine.log_visit(&entry.visit)?;
                let (report, _) = relay.sync(phone)?;
                device.log_visit(&entry, self.now)?;
                let exchange = device.sync(&mut shared)?;
                if round == config.station_rounds {
                    ours.push((report.bytes_up + report.bytes_down) as f64);
                    ours_split.push((report.bytes_up, report.bytes_down));
                    theirs.push(exchange.bytes() as f64);
                    theirs_split.push((exchange.bytes_up, exchange.bytes_down, exchange.messages));
                }
            }
        }
        let shared_changes = shared.get_changes(&[]);
        let mean_change = raw_len(&shared_changes) as f64 / shared_changes.len().max(1) as f64;
        let mean_deps = shared_changes.iter().map(|c| c.deps().len()).sum::<usize>() as f64 / shared_changes.len().max(1) as f64;
        let ours_median = median(&ours).ok_or("no station syncs")?;
        let theirs_median = median(&theirs).ok_or("no station syncs")?;
        let visits = config.station_devices * (config.station_rounds + 1);
        Ok(Measurement {
            scenario: format!("one_visit_bytes_{}_devices", config.station_devices),
            ours: ours_median,
            baseline: Some(theirs_median),
            unit: "B",
            target: Some(Target::AtMost(300.0)),
            note: Some(format!(
                "{n} volunteer devices at one station, each enrolled and synced, then {r} rounds in which every \
                 device logs a visit and syncs, then a measured round like them: median over the {n} syncs of the \
                 measured round (ours max {omax:.0} B, median up {oup:.0} / down {odown:.0}; with 1 device \
                 (one_visit_bytes) {single_bytes:.0} B); so between two syncs of a device the other {others} \
                 synced one visit each. Plain automerge has no per-member documents: one shared station document \
                 holds every visit ({visits} at the end, {shared_len} B saved), the relay keeps one sync State per \
                 device, each device its own; every device writes the same visits as ours with the engine's field \
                 layout, and each sync brings down what the others wrote since (median up {tup:.0} / down \
                 {tdown:.0} B, {tmsg:.0} messages; max {tmax:.0} B): devices write concurrently, so a change \
                 depends on every head its device saw (mean {mean_deps:.1} deps of 32 B each, mean change \
                 {mean_change:.0} B raw, against {single_change:.0} B for a visit in ours). {IN_PROCESS}; {BODIES}",
                n = config.station_devices,
                r = config.station_rounds,
                others = config.station_devices.saturating_sub(1),
                omax = ours.iter().copied().fold(0.0, f64::max),
                oup = median_of(ours_split.iter().map(|s| s.0)),
                odown = median_of(ours_split.iter().map(|s| s.1)),
                shared_len = shared.save().len(),
                tup = median_of(theirs_split.iter().map(|s| s.0)),
                tdown = median_of(theirs_split.iter().map(|s| s.1)),
                tmsg = median_of(theirs_split.iter().map(|s| s.2)),
                tmax = theirs.iter().copied().fold(0.0, f64::max),
            )),
        })
    }

    /// Scenario 4: a day offline (visits with check-in, check-out and the elder's
    /// confirmation), then one sync; overhead per visit over the raw changes.
    fn day_offline(&mut self, config: &SyncBench) -> Result<Measurement, BenchError> {
        let relay = self.relay()?;
        let mut phone = self.phones(&relay, 1)?.pop().ok_or("no phone was made")?;
        self.log_history(&mut phone, config.day_history)?;
        relay.sync(&mut phone)?;
        relay.sync(&mut phone)?;
        let id = DocId::Member(phone.member.id.clone());
        let mut pair = Pair::new(&saved(&phone.engine, &id)?)?;
        let before = phone.engine.heads(&id);
        // Twelve hours later the day begins: visit after visit.
        self.tick(12 * 60);
        for i in 0..config.day_visits {
            let Entry { visit: past, .. } = self.work.logged_now(self.now);
            let visit = phone.engine.start_visit(&past.elder, &past.service, None)?;
            self.tick(45 + 5 * (i as i64 % 10));
            phone.engine.end_visit(&visit, None, Some(past.note.as_str()))?;
            self.tick(2);
            phone.engine.confirm_visit(&visit, ConfirmedBy::Elder)?;
            self.tick(20);
        }
        self.tick(3 * 60);
        let changes = changes_since(&phone.engine, &id, &before)?;
        let (count, raw) = (changes.len(), raw_len(&changes));
        let (ours, _) = relay.sync(&mut phone)?;
        pair.phone_makes(changes)?;
        let plain = pair.sync()?;
        if relay_heads(&relay, &id)? != phone.engine.heads(&id) {
            return Err("after the day's sync the relay does not hold what the phone holds".into());
        }
        let visits = config.day_visits.max(1) as f64;
        let per_visit = |bytes: usize| bytes as f64 / visits;
        let overhead = |bytes: usize| (bytes as f64 - raw as f64) / visits;
        Ok(Measurement {
            scenario: "batch_upload_bytes_per_visit".into(),
            ours: overhead(ours.bytes_up),
            baseline: Some(overhead(plain.bytes_up)),
            unit: "B/visit",
            target: Some(Target::AtMost(30.0)),
            note: Some(format!(
                "a volunteer's phone with {h} synced visits spends a day offline: {v} visits, each checked in, checked \
                 out with a note and confirmed by the elder ({count} changes, {raw} B raw, {raw_pv:.0} B/visit), then \
                 one sync. Figure: (bytes up - raw change bytes) / visits. Absolute: ours {oup} B up ({oup_pv:.0} \
                 B/visit), {odown} B down, {ort} round trip(s); plain {pup} B up ({pup_pv:.0} B/visit), {pdown} B down, \
                 {pmsg} messages (same changes, the member document only, states kept since the last sync). \
                 {IN_PROCESS}; {BODIES}",
                h = config.day_history,
                v = config.day_visits,
                raw_pv = per_visit(raw),
                oup = ours.bytes_up,
                oup_pv = per_visit(ours.bytes_up),
                odown = ours.bytes_down,
                ort = ours.round_trips,
                pup = plain.bytes_up,
                pup_pv = per_visit(plain.bytes_up),
                pdown = plain.bytes_down,
                pmsg = plain.messages,
            )),
        })
    }

    /// Scenario 5: many phones each holding many offline visits sync one after another;
    /// the relay's wall time to take them all.
    fn merge(&mut self, config: &SyncBench, progress: &mut dyn FnMut(&str)) -> Result<Measurement, BenchError> {
        let relay = self.relay()?;
        let mut phones = self.phones(&relay, config.merge_devices)?;
        let mut before = Vec::with_capacity(phones.len());
        for phone in &phones {
            let id = DocId::Member(phone.member.id.clone());
            before.push((saved(&phone.engine, &id)?, phone.engine.heads(&id)));
        }
        let started = Instant::now();
        for phone in &mut phones {
            self.log_history(phone, config.merge_visits)?;
        }
        let build_s = started.elapsed().as_secs_f64();
        progress(&format!(
            "logged {} offline visits in {build_s:.1} s (not counted); merging",
            config.merge_devices * config.merge_visits
        ));
        let mut pairs = Vec::with_capacity(phones.len());
        for (phone, (saved_before, heads)) in phones.iter().zip(&before) {
            let id = DocId::Member(phone.member.id.clone());
            let mut pair = Pair::new(saved_before)?;
            pair.phone_makes(changes_since(&phone.engine, &id, heads)?)?;
            pairs.push(pair);
        }
        let mut log = OpenOptions::new().create(true).append(true).open(relay.data_dir().join("plain-relay.log"))?;
        let (mut ours_relay, mut ours_wall) = (Duration::ZERO, Duration::ZERO);
        let (mut plain_relay, mut plain_commit) = (Duration::ZERO, Duration::ZERO);
        let (mut ours_up, mut plain_up, mut plain_messages, mut ours_trips) = (0, 0, 0, 0);
        for (phone, pair) in phones.iter_mut().zip(&mut pairs) {
            let started = Instant::now();
            let (report, relay_time) = relay.sync(phone)?;
            ours_wall += started.elapsed();
            ours_relay += relay_time;
            ours_up += report.bytes_up;
            ours_trips = ours_trips.max(report.round_trips);
            if report.changes_sent < config.merge_visits {
                return Err(format!("a phone sent {} changes, expected {}", report.changes_sent, config.merge_visits).into());
            }
            let heads = pair.relay.get_heads();
            let exchange = pair.sync()?;
            let started = Instant::now();
            log.write_all(&pair.relay.save_after(&heads))?;
            log.sync_data()?;
            plain_commit += started.elapsed();
            plain_relay += exchange.relay_time;
            plain_up += exchange.bytes_up;
            plain_messages += exchange.messages;
        }
        // The poster folds each sync's arrivals after its answer (the next sync waits for
        // it, so that is counted); the last fold is counted here.
        let started = Instant::now();
        relay.relay.settle();
        let last_fold = started.elapsed();
        ours_relay += last_fold;
        let mut merged = 0;
        let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
        for (phone, pair) in phones.iter().zip(&pairs) {
            let doc = relay_doc(&relay, &DocId::Member(phone.member.id.clone()))?;
            merged += member::visits(&doc, &phone.member.id).len();
            if let Ok(ledger_doc) = relay_doc(&relay, &DocId::Ledger(phone.member.id.clone())) {
                for (_, outcome) in ledger::outcomes(&ledger_doc) {
                    *outcomes.entry(outcome.status.to_string()).or_default() += 1;
                }
            }
            if pair.relay.get_heads() != pair.phone.get_heads() {
                return Err("plain sync left a relay document behind its phone".into());
            }
        }
        let total = config.merge_devices * config.merge_visits;
        if merged != total {
            return Err(format!("the relay holds {merged} visits, expected {total}").into());
        }
        let (n, v) = (config.merge_devices, config.merge_visits);
        let reconciled = if outcomes.is_empty() {
            "the relay did not reconcile (no outcome in any ledger in its store), so that part of the target \
             is not measured"
                .to_owned()
        } else {
            let by_status: Vec<String> = outcomes.iter().map(|(status, n)| format!("{status} {n}")).collect();
            format!(
                "the relay reconciles right after each commit on its poster thread, each sync first waiting for \
                 the folds before it, the last one counted ({:.3} s) (outcomes in the members' ledgers afterwards: \
                 {}; a visit without an outcome waits for a coordinator's review)",
                last_fold.as_secs_f64(),
                by_status.join(", ")
            )
        };
        Ok(Measurement {
            scenario: format!("merge_{}_visits_{}_devices_seconds", thousands(total), n),
            ours: ours_relay.as_secs_f64(),
            baseline: Some((plain_relay + plain_commit).as_secs_f64()),
            unit: "s",
            // Issue 12: at most 1.5 times plain automerge's figure in the same run.
            target: Some(Target::AtMost(1.5 * (plain_relay + plain_commit).as_secs_f64())),
            note: Some(format!(
                "{n} enrolled phones, each with {v} visits logged offline (Engine::log_visit, fake clock, {build_s:.1} s \
                 to build, not counted), sync one after another; ours: the relay's wall time from each request handed \
                 to the router to its whole response, summed ({ours_relay_s:.3} s; with the phones' own work \
                 {ours_wall_s:.3} s; {ours_up} B up, max {ours_trips} round trip(s) per phone); the relay checks \
                 writers and field rules on a fork and commits each sync in one SQLite transaction \
                 (synchronous=FULL); {reconciled}. {merged} visits verified in the relay's store. Plain: the same {n} member \
                 documents, a relay-side copy of each and a phone-side one holding the same changes, states kept \
                 since their last sync; relay side: decode, receive_sync_message, generate_sync_message \
                 ({plain_relay_s:.3} s) plus appending save_after() of each document to a file + sync_data() \
                 ({plain_commit_s:.3} s); {plain_up} B up, {plain_messages} messages; no authority check. \
                 Interleaved phone by phone. {IN_PROCESS}",
                ours_relay_s = ours_relay.as_secs_f64(),
                ours_wall_s = ours_wall.as_secs_f64(),
                plain_relay_s = plain_relay.as_secs_f64(),
                plain_commit_s = plain_commit.as_secs_f64(),
            )),
        })
    }

    /// Scenario 6: many devices sync one visit each over HTTP: all at once (throughput),
    /// then paced at the target rate (latency).
    fn load(&mut self, config: &SyncBench, progress: &mut dyn FnMut(&str)) -> Result<Vec<Measurement>, BenchError> {
        let relay = self.relay()?;
        let started = Instant::now();
        let mut phones = self.phones(&relay, config.load_devices)?;
        progress(&format!(
            "{} devices enrolled over HTTP and synced in {:.1} s; syncing all at once",
            phones.len(),
            started.elapsed().as_secs_f64()
        ));
        self.log_one_visit_each(&mut phones)?;
        let burst = Run::of(&at_once(&mut phones, Duration::ZERO)?);
        progress(&format!("all at once: {:.0} syncs/s; now paced at {:.0}/s", burst.per_second, config.load_rate));
        self.log_one_visit_each(&mut phones)?;
        let interval = Duration::from_secs_f64(1.0 / config.load_rate.max(1.0));
        let paced = Run::of(&at_once(&mut phones, interval)?);
        // Below saturation: paced at half the capacity just measured.
        let easy_rate = (burst.per_second / 2.0).max(1.0);
        progress(&format!(
            "paced at {:.0}/s: p99 {:.1} ms; now paced at {easy_rate:.0}/s (half the capacity)",
            config.load_rate, paced.p99_ms
        ));
        self.log_one_visit_each(&mut phones)?;
        let easy = Run::of(&at_once(&mut phones, Duration::from_secs_f64(1.0 / easy_rate))?);
        // The relay alone: one sync at a time, in-process (no HTTP, no other clients).
        self.log_one_visit_each(&mut phones)?;
        let mut alone = Vec::with_capacity(phones.len());
        for phone in &mut phones {
            let (_, relay_time) = relay.sync(phone)?;
            alone.push(relay_time.as_secs_f64() * 1_000.0);
        }
        let alone_ms = median(&alone).unwrap_or(f64::NAN);
        let n = phones.len();
        let setup = format!(
            "{n} enrolled volunteer devices (real engines, stores on {}), each with one new visit, sync over real \
             HTTP to the relay on 127.0.0.1:0 (axum::serve, 2 tokio workers) with the CLI's HTTP transport, one \
             thread per device; clients and relay share the 2 cores",
            if on_ram_disk(self.stores.path()) { "a RAM disk" } else { "the disk" }
        );
        Ok(vec![
            Measurement {
                scenario: "relay_single_visit_syncs_per_second".into(),
                ours: burst.per_second,
                baseline: None,
                unit: "syncs/s",
                // DESIGN.md, "Targets": at least 2,000 single-visit syncs/s on 2 cores.
                target: Some(Target::AtLeast(2_000.0)),
                note: Some(format!(
                    "{setup}; all {n} released at once: {ok} syncs in {wall:.3} s (first start to last answer); \
                     latency while they queue p50 {p50:.1} ms, p99 {p99:.1} ms; {failed}. Paced at {rate:.0}/s: \
                     {paced_rate:.0} syncs/s achieved. The relay alone (in-process, one sync at a time, the same \
                     {n} devices, one more visit each): median {alone_ms:.2} ms of relay time per sync \
                     ({alone_rate:.0} syncs/s back to back). Baseline n/a: plain automerge has no relay server to \
                     load",
                    rate = config.load_rate,
                    alone_rate = 1_000.0 / alone_ms,
                    ok = burst.ok,
                    wall = burst.wall.as_secs_f64(),
                    p50 = burst.p50_ms,
                    p99 = burst.p99_ms,
                    failed = burst.failures(),
                    paced_rate = paced.per_second,
                )),
            },
            Measurement {
                scenario: "relay_sync_p99_ms".into(),
                ours: paced.p99_ms,
                baseline: None,
                unit: "ms",
                target: Some(Target::AtMost(50.0)),
                note: Some(format!(
                    "{setup}; each device's sync starts on a schedule {interval_ms:.2} ms after the previous one \
                     ({rate:.0}/s offered, {n} syncs in about {span:.2} s): nearest-rank p99 of the HTTP exchange \
                     time (request sent to response read, as the client sees it); p50 {p50:.1} ms, max {max:.1} ms; \
                     whole Engine::sync p99 {sync_p99:.1} ms; {ok} ok, {failed}; {achieved:.0} syncs/s achieved. \
                     Below saturation, paced at {easy_rate:.0}/s (half the capacity measured all at once): p50 \
                     {easy_p50:.1} ms, p99 {easy_p99:.1} ms, {easy_ok} ok, {easy_failed}. Baseline n/a",
                    easy_p50 = easy.p50_ms,
                    easy_p99 = easy.p99_ms,
                    easy_ok = easy.ok,
                    easy_failed = easy.failures(),
                    interval_ms = interval.as_secs_f64() * 1_000.0,
                    rate = config.load_rate,
                    span = n as f64 / config.load_rate.max(1.0),
                    p50 = paced.p50_ms,
                    max = paced.max_ms,
                    sync_p99 = paced.sync_p99_ms,
                    ok = paced.ok,
                    failed = paced.failures(),
                    achieved = paced.per_second,
                )),
            },
        ])
    }

    /// Every phone logs one new visit (not timed).
    fn log_one_visit_each(&mut self, phones: &mut [Phone]) -> Result<(), BenchError> {
        self.tick(60);
        for phone in phones {
            let entry = self.work.logged_now(self.now);
            phone.engine.log_visit(&entry.visit)?;
        }
        Ok(())
    }
}

/// One measured one-visit sync.
struct OneVisitSample {
    ours: SyncReport,
    plain: Exchange,
    /// Plain with both states saved and loaded again before the sync.
    plain_reloaded: Exchange,
    change_bytes: usize,
}

/// Scenarios 1 and 2's samples.
struct OneVisit {
    samples: Vec<OneVisitSample>,
    idle: SyncReport,
    history: usize,
}

impl OneVisit {
    fn median_bytes(&self) -> f64 {
        median_of(self.samples.iter().map(|s| s.ours.bytes_up + s.ours.bytes_down))
    }

    fn measurements(&self, config: &SyncBench) -> Vec<Measurement> {
        let s = &self.samples;
        let range = |values: Vec<usize>| {
            let (lo, hi) = (values.iter().min().copied().unwrap_or(0), values.iter().max().copied().unwrap_or(0));
            if lo == hi { lo.to_string() } else { format!("{lo}-{hi}") }
        };
        let setup = format!(
            "a volunteer's phone in sync ({} visits synced before) logs one visit and syncs, {} times",
            self.history, config.single_visits
        );
        let plain_how = format!(
            "plain: the same member document and the same change on two in-memory peers (phone, relay), each \
             keeping its sync State in memory, messages until both generate None; plain syncs only that document \
             (a plain phone would also have to ask about its ledger and station documents), which flatters it; \
             with the states saved and loaded again before each sync (State::encode keeps only the shared \
             heads, as across app restarts or stateless HTTP requests) plain takes {msgs} messages and {bytes} B",
            msgs = range(s.iter().map(|x| x.plain_reloaded.messages).collect()),
            bytes = range(s.iter().map(|x| x.plain_reloaded.bytes()).collect()),
        );
        vec![
            Measurement {
                scenario: "one_visit_round_trips".into(),
                ours: s.iter().map(|x| x.ours.round_trips).max().unwrap_or(0) as f64,
                baseline: s.iter().map(|x| x.plain.round_trips()).max().map(|r| r as f64),
                unit: "round trips",
                target: Some(Target::AtMost(1.0)),
                note: Some(format!(
                    "{setup}; the most of any sync: ours SyncReport.round_trips {ours}; plain messages {msgs} \
                     (round trips = messages / 2 rounded up); {plain_how}; {IN_PROCESS}",
                    ours = range(s.iter().map(|x| x.ours.round_trips).collect()),
                    msgs = range(s.iter().map(|x| x.plain.messages).collect()),
                )),
            },
            Measurement {
                scenario: "one_visit_bytes".into(),
                ours: self.median_bytes(),
                baseline: Some(median_of(s.iter().map(|x| x.plain.bytes()))),
                unit: "B",
                target: Some(Target::AtMost(300.0)),
                note: Some(format!(
                    "{setup}; median both directions; ours up {oup} / down {odown} B, plain up {pup} / down {pdown} \
                     B; the visit's change itself {raw} B raw; ours' answers brought {received} change(s) \
                     down in all (the relay's own writes: ledger outcomes of earlier visits); a sync with \
                     nothing new costs ours {idle} B; {plain_how}; {IN_PROCESS}; {BODIES}",
                    received = s.iter().map(|x| x.ours.changes_received).sum::<usize>(),
                    oup = range(s.iter().map(|x| x.ours.bytes_up).collect()),
                    odown = range(s.iter().map(|x| x.ours.bytes_down).collect()),
                    pup = range(s.iter().map(|x| x.plain.bytes_up).collect()),
                    pdown = range(s.iter().map(|x| x.plain.bytes_down).collect()),
                    raw = range(s.iter().map(|x| x.change_bytes).collect()),
                    idle = self.idle.bytes_up + self.idle.bytes_down,
                )),
            },
        ]
    }
}

/// A device of the plain station: its copy of the shared document, its sync state for
/// the relay, and the relay's for it.
struct PlainDevice {
    doc: Automerge,
    member: MemberId,
    phone_state: State,
    relay_state: State,
}

impl PlainDevice {
    /// A device holding a copy of `shared`, with its own actor.
    fn new(shared: &Automerge, member: &MemberId) -> Result<PlainDevice, BenchError> {
        Ok(PlainDevice {
            doc: shared.fork().with_actor(ActorId::random()),
            member: member.clone(),
            phone_state: State::new(),
            relay_state: State::new(),
        })
    }

    /// Writes the visit `Engine::log_visit` writes for `entry`, with the engine's field
    /// layout, into the shared document.
    fn log_visit(&mut self, entry: &Entry, now: DateTime<Utc>) -> Result<(), BenchError> {
        let past = &entry.visit;
        let visit = past.to_visit(&self.member, &self.doc.get_actor().to_hex_string(), now);
        self.doc
            .transact_with(|_| CommitOptions::default().with_time(now.timestamp_millis()), |tx| member::put_visit(tx, &visit))
            .map_err(|failure| failure.error)?;
        Ok(())
    }

    /// One plain sync with the relay's copy of the shared document.
    fn sync(&mut self, shared: &mut Automerge) -> Result<Exchange, BenchError> {
        plain_sync::sync(Side { doc: &mut self.doc, state: &mut self.phone_state }, Side { doc: shared, state: &mut self.relay_state })
    }
}

/// The plain station's shared document: the station's genesis and a `visits` map, both
/// made before any device copies it (so all write into the same map).
fn shared_station_doc(station: &StationId) -> Result<Automerge, BenchError> {
    let mut doc = documents::genesis(&DocId::Station(station.clone()), ActorId::random())?;
    doc.transact::<_, _, automerge::AutomergeError>(|tx| {
        tx.put_object(ROOT, member::VISITS, ObjType::Map)?;
        Ok(())
    })
    .map_err(|failure| failure.error)?;
    Ok(doc)
}

/// Document `id` of `engine`, saved.
fn saved(engine: &Engine, id: &DocId) -> Result<Vec<u8>, BenchError> {
    Ok(engine.document_bytes(id).ok_or_else(|| format!("the phone holds no {id}"))?)
}

/// The changes `engine` made to document `id` since `heads`.
fn changes_since(engine: &Engine, id: &DocId, heads: &[ChangeHash]) -> Result<Vec<Change>, BenchError> {
    Ok(Automerge::load(&saved(engine, id)?)?.get_changes(heads))
}

/// The relay's copy of document `id`, from its store.
fn relay_doc(relay: &BenchRelay, id: &DocId) -> Result<Automerge, BenchError> {
    let stored = relay.store().document(&id.to_string())?.ok_or_else(|| format!("the relay holds no {id}"))?;
    Ok(Automerge::load(&stored.bytes)?)
}

fn relay_heads(relay: &BenchRelay, id: &DocId) -> Result<Vec<ChangeHash>, BenchError> {
    Ok(relay_doc(relay, id)?.get_heads())
}

/// What one device's sync in a load run did.
struct Outcome {
    started: Instant,
    ended: Instant,
    exchanges: Vec<Duration>,
    result: Result<SyncReport, String>,
}

/// Syncs every phone over HTTP on its own thread. All threads are made and connected
/// first; then phone `i` starts at `i × interval` after a common start (all at once for
/// zero).
fn at_once(phones: &mut [Phone], interval: Duration) -> Result<Vec<Outcome>, BenchError> {
    let barrier = Barrier::new(phones.len() + 1);
    let origin = Instant::now();
    let start_ns = AtomicU64::new(0);
    let joined = std::thread::scope(|scope| {
        let handles: Vec<_> = phones
            .iter_mut()
            .enumerate()
            .map(|(i, phone)| {
                let (barrier, start_ns) = (&barrier, &start_ns);
                scope.spawn(move || {
                    let mut transport = Timed::new(phone.http());
                    barrier.wait();
                    let offset = interval.saturating_mul(u32::try_from(i).unwrap_or(u32::MAX));
                    let at = origin + Duration::from_nanos(start_ns.load(Ordering::SeqCst)) + offset;
                    if let Some(wait) = at.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    let started = Instant::now();
                    let result = phone.engine.sync(&mut transport).map_err(|e| e.to_string());
                    Outcome { started, ended: Instant::now(), exchanges: transport.exchanges, result }
                })
            })
            .collect();
        // Every thread exists and has its transport: start 20 ms from now.
        let start = origin.elapsed() + Duration::from_millis(20);
        start_ns.store(u64::try_from(start.as_nanos()).unwrap_or(u64::MAX), Ordering::SeqCst);
        barrier.wait();
        handles.into_iter().map(|handle| handle.join()).collect::<Vec<_>>()
    });
    joined.into_iter().map(|outcome| outcome.map_err(|_| "a syncing thread panicked".into())).collect()
}

/// A load run summed up.
struct Run {
    ok: usize,
    failed: Vec<String>,
    wall: Duration,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    sync_p99_ms: f64,
}

impl Run {
    fn of(outcomes: &[Outcome]) -> Run {
        let ok: Vec<&Outcome> = outcomes.iter().filter(|o| o.result.is_ok()).collect();
        let failed = outcomes.iter().filter_map(|o| o.result.as_ref().err().cloned()).collect();
        let first = outcomes.iter().map(|o| o.started).min();
        let last = outcomes.iter().map(|o| o.ended).max();
        let wall = match (first, last) {
            (Some(first), Some(last)) => last.duration_since(first),
            _ => Duration::ZERO,
        };
        let exchange_ms: Vec<f64> = ok.iter().map(|o| o.exchanges.iter().sum::<Duration>().as_secs_f64() * 1_000.0).collect();
        let sync_ms: Vec<f64> = ok.iter().map(|o| o.ended.duration_since(o.started).as_secs_f64() * 1_000.0).collect();
        Run {
            ok: ok.len(),
            failed,
            wall,
            per_second: if wall.is_zero() { 0.0 } else { ok.len() as f64 / wall.as_secs_f64() },
            p50_ms: percentile(&exchange_ms, 50.0).unwrap_or(f64::NAN),
            p99_ms: percentile(&exchange_ms, 99.0).unwrap_or(f64::NAN),
            max_ms: percentile(&exchange_ms, 100.0).unwrap_or(f64::NAN),
            sync_p99_ms: percentile(&sync_ms, 99.0).unwrap_or(f64::NAN),
        }
    }

    fn failures(&self) -> String {
        match self.failed.first() {
            None => "no failures".into(),
            Some(first) => format!("{} failed (first: {first})", self.failed.len()),
        }
    }
}

/// The median of some counts (0 for none).
fn median_of(values: impl Iterator<Item = usize>) -> f64 {
    let values: Vec<f64> = values.map(|v| v as f64).collect();
    median(&values).unwrap_or(0.0)
}

/// 10000 → "10k"; other numbers as they are.
fn thousands(n: usize) -> String {
    if n >= 1_000 && n.is_multiple_of(1_000) { format!("{}k", n / 1_000) } else { n.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_names_abbreviate_thousands() {
        assert_eq!(thousands(10_000), "10k");
        assert_eq!(thousands(1_000), "1k");
        assert_eq!(thousands(400), "400");
        assert_eq!(thousands(2_500), "2500");
    }

    #[test]
    fn a_load_run_counts_rates_and_failures() {
        let t0 = Instant::now();
        let outcome = |start_ms: u64, ms: u64, ok: bool| Outcome {
            started: t0 + Duration::from_millis(start_ms),
            ended: t0 + Duration::from_millis(start_ms + ms),
            exchanges: vec![Duration::from_millis(ms)],
            result: if ok { Ok(SyncReport::default()) } else { Err("refused".into()) },
        };
        let run = Run::of(&[outcome(0, 10, true), outcome(0, 20, true), outcome(100, 400, false)]);
        assert_eq!(run.ok, 2);
        assert_eq!(run.wall, Duration::from_millis(500));
        assert!((run.per_second - 4.0).abs() < 1e-9, "{}", run.per_second);
        assert!((run.p99_ms - 20.0).abs() < 1e-6 && (run.p50_ms - 10.0).abs() < 1e-6);
        assert_eq!(run.failures(), "1 failed (first: refused)");
    }

    #[test]
    fn the_shared_station_document_takes_every_devices_visits() {
        let mut shared = shared_station_doc(&StationId::parse("s-test").unwrap()).unwrap();
        let now = the_present().unwrap();
        let mut work = Workload::new(3).unwrap();
        let mut devices: Vec<PlainDevice> =
            ["v-1", "v-2"].iter().map(|m| PlainDevice::new(&shared, &MemberId::parse(m).unwrap()).unwrap()).collect();
        for device in &mut devices {
            device.sync(&mut shared).unwrap();
            device.log_visit(&work.logged_now(now), now).unwrap();
            device.sync(&mut shared).unwrap();
        }
        // The first device learns of the second's visit at its next sync.
        let down = devices[0].sync(&mut shared).unwrap();
        assert!(down.bytes_down > 0, "{down:?}");
        // Both visits are in one map that every device holds whole.
        for device in &devices {
            assert_eq!(member::visits(&device.doc, &device.member).len(), 2);
            assert_eq!(device.doc.get_heads(), shared.get_heads());
        }
    }

    /// The whole group on a small scale: every scenario reports, against real relays.
    #[test]
    fn a_small_run_reports_every_scenario() {
        let config = SyncBench {
            history_visits: 3,
            single_visits: 2,
            station_devices: 3,
            station_rounds: 1,
            day_history: 5,
            day_visits: 2,
            merge_devices: 2,
            merge_visits: 5,
            load_devices: 4,
            load_rate: 1_000.0,
        };
        let results = run(&config, &mut |_| {}).unwrap();
        let names: Vec<&str> = results.iter().map(|m| m.scenario.as_str()).collect();
        assert_eq!(
            names,
            [
                "one_visit_round_trips",
                "one_visit_bytes",
                "one_visit_bytes_3_devices",
                "batch_upload_bytes_per_visit",
                "merge_10_visits_2_devices_seconds",
                "relay_single_visit_syncs_per_second",
                "relay_sync_p99_ms",
            ]
        );
        assert_eq!(results[0].ours, 1.0, "{:?}", results[0]);
        assert!(results.iter().all(|m| m.ours.is_finite() && m.ours > 0.0), "{results:#?}");
        assert!(results[..5].iter().all(|m| m.baseline.is_some()));
        let note = results[6].note.as_deref().unwrap_or_default();
        assert!(note.contains("4 ok, no failures"), "{note}");
    }
}
