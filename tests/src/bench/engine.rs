//! The `engine` group: opening a volunteer's store and logging a visit durably, each
//! against plain automerge doing the same job.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use automerge::transaction::CommitOptions;
use automerge::{ActorId, AutoCommit, Automerge, ObjType, ROOT, ReadDoc as _, Value};
use chrono::{DateTime, Duration, Utc};
use timebank_engine::documents::member;
use timebank_engine::model::{MemberId, Role, StationId};
use timebank_engine::{DocId, Engine, NewIdentity};

use timebank_testing::FakeClock;

use super::clock::the_present;
use super::heap::HeapMeter;
use super::rss::{ProbeTarget, probe_in_child};
use super::stats::{median, percentile};
use super::workload::{Entry, Workload};
use super::{BenchError, Measurement, Target};

/// Seed of the made-up visits: every run logs the same ones.
const SEED: u64 = 0x7133_ba4c;

/// Days of history the store holds.
const HISTORY_DAYS: i64 = 29;

/// The volunteer whose phone this is.
const VOLUNTEER: &str = "v-1001";

/// Sizes of the `engine` group.
#[derive(Clone, Debug)]
pub struct EngineBench {
    /// Visits in the store before anything is measured.
    pub visits: usize,
    /// Timed opens (after one untimed warm-up).
    pub open_runs: usize,
    /// Timed `log_visit` calls on the full store.
    pub writes: usize,
}

impl Default for EngineBench {
    fn default() -> Self {
        EngineBench { visits: 2_000, open_runs: 15, writes: 1_000 }
    }
}

/// What the memory scenario measures with.
#[derive(Clone, Debug, Default)]
pub struct Instruments {
    /// The counting global allocator; without it the memory scenario is left out.
    pub heap: Option<HeapMeter>,
    /// The bench binary, to run `probe` in fresh processes for a resident-memory
    /// cross-check; without it the note says nothing of resident memory.
    pub probe_exe: Option<PathBuf>,
}

/// Runs the group; `progress` hears what is going on (for stderr).
pub fn run(config: &EngineBench, instruments: &Instruments, progress: &mut dyn FnMut(&str)) -> Result<Vec<Measurement>, BenchError> {
    progress(&format!("logging {} paper visits through Engine::log_visit (fake clock, {HISTORY_DAYS} days)", config.visits));
    let mut store = Store::build(config.visits)?;
    progress(&format!("timing {} opens of each", config.open_runs));
    let mut results = vec![open_time(config, &store)?];
    match instruments.heap {
        Some(meter) => {
            progress("measuring memory held after opening");
            results.push(open_memory(config, meter, instruments.probe_exe.as_deref(), &store)?);
        }
        None => progress("no counting allocator installed: open memory not measured"),
    }
    progress(&format!("timing {} durable log_visit calls of each", config.writes));
    results.extend(durable_writes(config, &mut store)?);
    Ok(results)
}

/// The volunteer's store the scenarios run on, in a temporary directory, and what was
/// learnt building it.
struct Store {
    tmp: tempfile::TempDir,
    dir: PathBuf,
    clock: Arc<FakeClock>,
    work: Workload,
    member: MemberId,
    /// The fake "now" when the history was logged.
    end: DateTime<Utc>,
    /// The member document, saved: what plain automerge starts from.
    doc_bytes: Vec<u8>,
    store_bytes: u64,
    build_s: f64,
    compaction_ms: f64,
}

impl Store {
    /// Logs `visits` paper visits through the engine, compacts, and checks they are there.
    fn build(visits: usize) -> Result<Store, BenchError> {
        let tmp = tempfile::tempdir()?;
        let dir = tmp.path().join("volunteer");
        let end = the_present()?;
        let clock = FakeClock::new(end, "timebank-bench");
        let mut work = Workload::new(SEED)?;
        let member = MemberId::parse(VOLUNTEER)?;
        let started = Instant::now();
        let identity = NewIdentity { member: member.clone(), station: StationId::parse("s-caoyang")?, role: Role::Volunteer };
        let mut engine = Engine::create_with_clock(&dir, identity, clock.clone())?;
        for entry in work.history(visits, HISTORY_DAYS, end) {
            clock.set(entry.logged_at);
            engine.log_visit(&entry.visit)?;
        }
        let build_s = started.elapsed().as_secs_f64();
        let started = Instant::now();
        engine.compact()?;
        let compaction_ms = ms_since(started);
        drop(engine);

        let engine = Engine::open(&dir)?;
        let status = engine.status()?;
        if status.visits != visits {
            return Err(format!("the store holds {} visits, expected {visits}", status.visits).into());
        }
        let doc_bytes = engine.document_bytes(&DocId::Member(member.clone())).ok_or("the store has no member document")?;
        drop(engine);
        Ok(Store { tmp, dir, clock, work, member, end, doc_bytes, store_bytes: status.store_bytes, build_s, compaction_ms })
    }
}

/// Median wall time of `Engine::open` against `Automerge::load` of the same member document,
/// interleaved so both see the same noise.
fn open_time(config: &EngineBench, store: &Store) -> Result<Measurement, BenchError> {
    drop(Automerge::load(&store.doc_bytes)?);
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..config.open_runs {
        let started = Instant::now();
        let engine = Engine::open(&store.dir)?;
        ours.push(ms_since(started));
        drop(engine);
        let started = Instant::now();
        let doc = Automerge::load(&store.doc_bytes)?;
        theirs.push(ms_since(started));
        drop(doc);
    }
    Ok(Measurement {
        scenario: format!("open_{}_visits_ms", config.visits),
        ours: median(&ours).ok_or("no open timings")?,
        baseline: median(&theirs),
        unit: "ms",
        target: Some(Target::AtMost(100.0)),
        note: Some(format!(
            "median of {} runs (min {:.2}, max {:.2}); store built through Engine::log_visit in {:.1} s, \
             then compacted with Engine::compact() ({:.1} ms) into one snapshot; \
             {} B on disk; baseline: Automerge::load of the member document's {} saved bytes",
            config.open_runs,
            ours.iter().copied().fold(f64::INFINITY, f64::min),
            ours.iter().copied().fold(0.0, f64::max),
            store.build_s,
            store.compaction_ms,
            store.store_bytes,
            store.doc_bytes.len(),
        )),
    })
}

/// Heap held by an opened engine over its store's size on disk, against the heap held by
/// the loaded plain document over its saved size. With `probe_exe` (the bench binary),
/// the note adds what a fresh process's resident memory grows by.
fn open_memory(config: &EngineBench, meter: HeapMeter, probe_exe: Option<&Path>, store: &Store) -> Result<Measurement, BenchError> {
    const SAMPLES: usize = 3;
    let (mut ours, mut theirs, mut store_bytes) = (Vec::new(), Vec::new(), 0);
    for _ in 0..SAMPLES {
        let (engine, held) = meter.held_by(|| Engine::open(&store.dir));
        let engine = engine?;
        store_bytes = engine.status()?.store_bytes;
        ours.push(held as f64);
        drop(engine);
        let (doc, held) = meter.held_by(|| Automerge::load(&store.doc_bytes));
        drop(doc?);
        theirs.push(held as f64);
    }
    let ours = median(&ours).ok_or("no heap samples")?;
    let theirs = median(&theirs).ok_or("no heap samples")?;
    let saved_len = store.doc_bytes.len();
    let (disk, saved) = (store_bytes as f64, saved_len as f64);
    let free = free_bytes(&store.dir.join(timebank_engine::storage::STORE_FILE))?;
    let in_use = store_bytes.saturating_sub(free);
    let resident = match probe_exe {
        Some(exe) => {
            let saved_doc = store.tmp.path().join("member.automerge");
            std::fs::write(&saved_doc, &store.doc_bytes)?;
            let (mut engine_rss, mut plain_rss) = (Vec::new(), Vec::new());
            for _ in 0..SAMPLES {
                let engine = probe_in_child(exe, &ProbeTarget::Engine(store.dir.clone()))?;
                let plain = probe_in_child(exe, &ProbeTarget::Automerge(saved_doc.clone()))?;
                engine_rss.push(engine as f64);
                plain_rss.push(plain as f64);
            }
            let e = median(&engine_rss).unwrap_or(0.0);
            let p = median(&plain_rss).unwrap_or(0.0);
            format!(
                "; cross-check in a fresh process (median of {SAMPLES}): resident anonymous memory grows by {e:.0} B \
                 opening the store ({:.2}x the store on disk; SQLite's page cache, allocator slack and the peak while \
                 loading included) and by {p:.0} B loading the plain document ({:.2}x its saved size)",
                e / disk,
                p / saved,
            )
        }
        None => String::new(),
    };
    Ok(Measurement {
        scenario: format!("open_{}_visits_memory_ratio", config.visits),
        ours: ours / disk,
        baseline: Some(theirs / saved),
        unit: "ratio",
        target: Some(Target::AtMost(5.0)),
        note: Some(format!(
            "ours: {ours:.0} B Rust heap held by the open Engine / {store_bytes} B store on disk (database + WAL), \
             of which {free} B are free pages (compaction deletes chunks; the file does not shrink): {:.2}x the \
             {in_use} B in use, {:.2}x the member document's {saved_len} saved bytes; plain: {theirs:.0} B Rust heap \
             held by the loaded Automerge / {saved_len} B saved; counting allocator (stats_alloc), median of {SAMPLES}: \
             SQLite's own malloc (page cache) is not seen{resident}",
            ours / in_use.max(1) as f64,
            ours / saved,
        )),
    })
}

/// `Engine::log_visit` on the full store against plain automerge's durable append, call by
/// call, so both see the same noise: p50 and p99 of each.
fn durable_writes(config: &EngineBench, store: &mut Store) -> Result<Vec<Measurement>, BenchError> {
    let mut engine = Engine::open_with_clock(&store.dir, store.clock.clone())?;
    let log = store.tmp.path().join("plain-automerge.log");
    let mut plain = PlainStore::create(&log, &store.doc_bytes, &store.member)?;
    let (mut ours, mut theirs) = (Vec::with_capacity(config.writes), Vec::with_capacity(config.writes));
    let mut now = store.end + Duration::hours(1);
    for _ in 0..config.writes {
        now += Duration::minutes(7);
        store.clock.set(now);
        let entry = store.work.logged_now(now);
        let started = Instant::now();
        engine.log_visit(&entry.visit)?;
        ours.push(ms_since(started));
        let started = Instant::now();
        plain.log_visit(&entry)?;
        theirs.push(ms_since(started));
    }
    let total = config.visits + config.writes;
    let (held_ours, held_plain) = (engine.status()?.visits, plain.visit_count());
    if held_ours != total || held_plain != total {
        return Err(format!(
            "after the writes the engine holds {held_ours} visits and plain automerge {held_plain}; expected {total}"
        )
        .into());
    }
    let note = format!(
        "{} calls on a store starting at {} visits, each followed by plain automerge's: AutoCommit, the same change \
         (the engine's field layout), save_incremental() appended to a file + sync_data(); plain wrote {:.0} B/visit; ours: SQLite WAL, \
         synchronous=FULL, committed before return",
        config.writes,
        config.visits,
        plain.appended as f64 / config.writes.max(1) as f64,
    );
    [(50.0, None), (99.0, Some(Target::AtMost(5.0)))]
        .into_iter()
        .map(|(p, target)| {
            Ok(Measurement {
                scenario: format!("log_visit_durable_p{p:.0}_ms"),
                ours: percentile(&ours, p).ok_or("no write timings")?,
                baseline: percentile(&theirs, p),
                unit: "ms",
                target,
                note: Some(note.clone()),
            })
        })
        .collect()
}

/// Bytes of free pages in the SQLite file at `path` (read-only look, beside the engine).
fn free_bytes(path: &Path) -> Result<u64, BenchError> {
    let conn = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let pages: i64 = conn.query_row("PRAGMA freelist_count", [], |row| row.get(0))?;
    let size: i64 = conn.query_row("PRAGMA page_size", [], |row| row.get(0))?;
    Ok(u64::try_from(pages * size)?)
}

/// Plain automerge as an app would use it without our engine: one document in memory,
/// each change appended to a file and synced before the call returns. Only the storage
/// differs from the engine: the visit is written with the engine's field layout.
struct PlainStore {
    doc: AutoCommit,
    file: File,
    volunteer: MemberId,
    device: String,
    appended: usize,
}

impl PlainStore {
    fn create(path: &Path, doc_bytes: &[u8], volunteer: &MemberId) -> Result<PlainStore, BenchError> {
        let mut doc = AutoCommit::load(doc_bytes)?;
        doc.set_actor(ActorId::random());
        // Moves save_incremental's cursor past what was loaded.
        doc.save_incremental();
        let mut file = OpenOptions::new().create(true).append(true).open(path)?;
        file.write_all(doc_bytes)?;
        file.sync_all()?;
        let device = doc.get_actor().to_hex_string();
        Ok(PlainStore { doc, file, volunteer: volunteer.clone(), device, appended: 0 })
    }

    /// What `Engine::log_visit` writes, with the engine's own field layout (so both write
    /// the same change), kept the plain way: one file, appended and synced.
    fn log_visit(&mut self, entry: &Entry) -> Result<(), BenchError> {
        let past = &entry.visit;
        let visit = past.to_visit(&self.volunteer, &self.device, entry.logged_at);
        member::put_visit(&mut self.doc, &visit)?;
        self.doc.commit_with(CommitOptions::default().with_time(entry.logged_at.timestamp_millis()));
        let chunk = self.doc.save_incremental();
        self.file.write_all(&chunk)?;
        self.file.sync_data()?;
        self.appended += chunk.len();
        Ok(())
    }

    fn visit_count(&self) -> usize {
        match self.doc.get(ROOT, "visits") {
            Ok(Some((Value::Object(ObjType::Map), id))) => self.doc.length(&id),
            _ => 0,
        }
    }
}

fn ms_since(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_run_reports_every_scenario() {
        let config = EngineBench { visits: 40, open_runs: 2, writes: 10 };
        let results = run(&config, &Instruments::default(), &mut |_| {}).unwrap();
        let names: Vec<&str> = results.iter().map(|m| m.scenario.as_str()).collect();
        assert_eq!(names, ["open_40_visits_ms", "log_visit_durable_p50_ms", "log_visit_durable_p99_ms"]);
        assert!(results.iter().all(|m| m.ours > 0.0 && m.baseline.is_some_and(|b| b > 0.0)));
    }
}
