//! `timebank-bench load`: several `timebank-relay` processes on one store behind HAProxy,
//! many phones (real engines, stores on the RAM disk) each logging one visit and syncing
//! through the balancer as fast as they can for a while (throughput, latency, the relays'
//! CPU per sync), then paced at 70 % of that (latency below saturation); optionally one
//! relay is SIGKILLed halfway through the first phase (the dip shows in the per-second
//! counts). At the end every phone syncs until it has nothing left, every visit a phone
//! had as sent must be in the store, and `admin rebuild-ledger --check` must hold.
//!
//! The phones share the relay's two cores, as a machine of its own would not make them:
//! their threads run at nice [`PHONE_NICE`], so the relay and HAProxy are served first and
//! the phones take what CPU is left (ADR 48).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use timebank_engine::SystemClock;
use timebank_server::store::{self, PgSettings, RelayStore, StoreLocation};
use timebank_server::{Relay, registry};
use timebank_testing::cluster::{Backend, Cluster};
use timebank_testing::{Phone, new_member};

use super::relay::phone_stores;
use super::stats::percentile;
use super::{BenchError, Measurement, Target};

/// The phones' threads' nice value: below the relay's and HAProxy's (0), as if the relay
/// had its machine to itself.
pub const PHONE_NICE: i32 = 10;

/// What to run.
#[derive(Clone, Debug)]
pub struct LoadBench {
    /// Relay processes behind the balancer.
    pub relays: usize,
    /// Where they keep their data.
    pub backend: Backend,
    /// Phones.
    pub devices: usize,
    /// Seconds of each phase.
    pub seconds: u64,
    /// SIGKILL one relay halfway through the first phase.
    pub kill_one: bool,
    /// A directory for the relays' logs (`relay-N.log`); without it they are dropped.
    pub relay_logs: Option<std::path::PathBuf>,
}

/// One sync a phone made: when it ended (since the phase began), how long it took, and
/// whether it went through (or why not).
#[derive(Clone, Debug)]
struct Sample {
    ended: Duration,
    took: Duration,
    ok: bool,
    error: Option<String>,
}

/// Why syncs failed, most common first, with how many times each.
fn reasons(samples: &[Sample]) -> String {
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for error in samples.iter().filter_map(|s| s.error.as_deref()) {
        *counts.entry(error).or_default() += 1;
    }
    let mut counts: Vec<(&str, usize)> = counts.into_iter().collect();
    counts.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
    counts.iter().take(3).map(|(error, n)| format!("{n}× {error}")).collect::<Vec<_>>().join("; ")
}

/// The relay binary beside this one (built with `cargo build --release -p timebank-server`).
fn relay_binary() -> Result<PathBuf, BenchError> {
    let bin = std::env::current_exe()?.with_file_name("timebank-relay");
    if !bin.exists() {
        return Err(format!("{} is missing: build it first (cargo build --release -p timebank-server)", bin.display()).into());
    }
    Ok(bin)
}

/// An in-process relay on the same store, to register the station and the members.
fn setup_relay(backend: &Backend) -> Result<Relay, BenchError> {
    match backend {
        Backend::Sqlite(dir) => Ok(Relay::open(dir)?),
        Backend::Postgres(url) => {
            let store = store::open(&StoreLocation::Postgres(PgSettings::new(url.clone())))?;
            Ok(Relay::new(store, Arc::new(SystemClock))?)
        }
    }
}

/// Runs the scenario.
pub fn run(config: &LoadBench, progress: &mut dyn FnMut(&str)) -> Result<Vec<Measurement>, BenchError> {
    let bin = relay_binary()?;
    let setup = setup_relay(&config.backend)?;
    let station = registry::create_station(&setup, "Caoyang")?;
    let register =
        |role: &str, name: &str| -> Result<_, BenchError> { Ok(registry::create_member(&setup, &new_member(&station, role, name))?) };
    let elder = register("elder", "Wang Fang")?;
    let mut cluster = Cluster::start(&bin, &config.backend, config.relays, &[], config.relay_logs.as_deref())?;
    let url = cluster.url();
    let stores = phone_stores()?;
    let started = Instant::now();
    let mut phones = Vec::with_capacity(config.devices);
    for n in 0..config.devices {
        let volunteer = register("volunteer", &format!("Volunteer {n}"))?;
        let (code, _) = registry::issue_enrollment_code(&setup, volunteer.id.as_str(), 7)?;
        let dir = tempfile::Builder::new().tempdir_in(stores.path())?;
        let mut phone = Phone::enroll(&url, &code, &volunteer, dir, Arc::new(SystemClock))?;
        phone.sync()?;
        phones.push(phone);
    }
    progress(&format!(
        "{} phones enrolled and synced through {} relay(s) behind HAProxy in {:.1} s",
        config.devices,
        config.relays,
        started.elapsed().as_secs_f64()
    ));

    let phase = Duration::from_secs(config.seconds);
    let cpu_before = cluster.cpu_time();
    let kill_at = config.kill_one.then_some(phase / 2);
    let Drove { phones, samples: flat_out, next_slot } = drive(phones, &elder.id, 0, phase, None, kill_at, &mut cluster)?;
    let cpu = cluster.cpu_time().saturating_sub(cpu_before);
    let ok: Vec<&Sample> = flat_out.iter().filter(|s| s.ok).collect();
    let errors = flat_out.len() - ok.len();
    let rate = ok.len() as f64 / phase.as_secs_f64();
    let latencies: Vec<f64> = ok.iter().map(|s| s.took.as_secs_f64() * 1000.0).collect();
    let per_second = per_second(&flat_out, phase);
    let why = if errors > 0 { format!(" ({})", reasons(&flat_out)) } else { String::new() };
    progress(&format!("flat out: {rate:.0} syncs/s, {errors} failed{why}; now paced at 70 %"));

    let paced_rate = (rate * 0.7).max(1.0);
    // The paced phase's visits come before the flat-out phase's, so none overlaps another.
    let Drove { mut phones, samples: paced, .. } = drive(phones, &elder.id, next_slot, phase, Some(paced_rate), None, &mut cluster)?;
    let paced_ok: Vec<f64> = paced.iter().filter(|s| s.ok).map(|s| s.took.as_secs_f64() * 1000.0).collect();
    let paced_errors = paced.len() - paced_ok.len();

    // Everything acknowledged is in the store; then everything goes, and the ledger holds.
    let store = setup.store();
    let mut missing = 0;
    for phone in &phones {
        missing += acknowledged_missing(store, phone)?;
    }
    for phone in &mut phones {
        let mut tries = 0;
        while let Err(error) = phone.sync() {
            tries += 1;
            if tries > 10 {
                return Err(format!("{phone:?} could not sync after the run: {error}").into());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let check = ledger_check(&bin, &config.backend)?;
    if missing > 0 {
        return Err(format!("{missing} acknowledged visits are not in the store").into());
    }

    let label = match &config.backend {
        Backend::Sqlite(_) => "sqlite",
        Backend::Postgres(_) => "postgres",
    };
    let setting = format!(
        "{} relay process(es) on {label} behind HAProxy (round robin, health-checked), {} phones (real engines, \
         stores on a RAM disk) on the same 2 cores at nice {PHONE_NICE} (the relays and HAProxy at 0, served first as on \
         a machine of their own), each logging one visit and syncing over HTTP, {} s per phase",
        config.relays, config.devices, config.seconds
    );
    let killed = if config.kill_one {
        format!("; one relay SIGKILLed at {:.0} s: syncs per second {per_second:?}", phase.as_secs_f64() / 2.0)
    } else {
        format!("; syncs per second {per_second:?}")
    };
    let suffix = format!("{}relays_{label}", config.relays);
    let syncs = ok.len().max(1) as f64;
    Ok(vec![
        Measurement {
            scenario: format!("load_syncs_per_second_{suffix}"),
            ours: rate,
            baseline: None,
            unit: "syncs/s",
            target: Some(Target::AtLeast(2000.0)),
            note: Some(format!("{setting}; flat out: {} ok, {errors} failed{why}{killed}; {check}", ok.len())),
        },
        Measurement {
            scenario: format!("load_sync_p99_ms_{suffix}"),
            ours: percentile(&paced_ok, 99.0).unwrap_or(f64::NAN),
            baseline: None,
            unit: "ms",
            target: Some(Target::AtMost(50.0)),
            note: Some(format!(
                "{setting}; paced at {paced_rate:.0} syncs/s (70 % of flat out): p50 {:.1} ms, {} ok, {paced_errors} failed; \
                 flat out: p50 {:.1} ms, p99 {:.1} ms",
                percentile(&paced_ok, 50.0).unwrap_or(f64::NAN),
                paced_ok.len(),
                percentile(&latencies, 50.0).unwrap_or(f64::NAN),
                percentile(&latencies, 99.0).unwrap_or(f64::NAN),
            )),
        },
        Measurement {
            scenario: format!("relay_cpu_ms_per_sync_{suffix}"),
            ours: cpu.as_secs_f64() * 1000.0 / syncs,
            baseline: None,
            unit: "ms",
            target: Some(Target::AtMost(0.3)),
            note: Some(format!(
                "{setting}; user + system CPU of the relay processes (from /proc) over the flat-out phase, {:.2} s, \
                 divided by its {} syncs; the phones' own CPU is not counted",
                cpu.as_secs_f64(),
                ok.len()
            )),
        },
    ])
}

/// Every phone logs a visit and syncs, again and again, for `phase` (flat out, or at
/// `rate` syncs/s in all, spread over the phones); a relay is killed at `kill_at`. A phone's
/// visits take the half-hour slots from `first_slot` back in time, one each, so that like a
/// volunteer's real visits they neither overlap nor come late: none needs a coordinator's
/// review, and a sync changes no ledger document.
fn drive(
    phones: Vec<Phone>,
    elder: &timebank_engine::model::MemberId,
    first_slot: u32,
    phase: Duration,
    rate: Option<f64>,
    kill_at: Option<Duration>,
    cluster: &mut Cluster,
) -> Result<Drove, BenchError> {
    let samples = Arc::new(Mutex::new(Vec::new()));
    let failed = Arc::new(AtomicBool::new(false));
    let count = phones.len();
    let start = Instant::now();
    let workers: Vec<_> = phones
        .into_iter()
        .enumerate()
        .map(|(n, mut phone)| {
            let (samples, failed, elder) = (Arc::clone(&samples), Arc::clone(&failed), elder.clone());
            // Each phone's own pace when paced: every `count / rate` seconds, staggered.
            let every = rate.map(|r| Duration::from_secs_f64(count as f64 / r));
            std::thread::spawn(move || {
                // This thread only (Linux keeps a nice value per thread); raising it needs
                // no privilege.
                if rustix::process::setpriority_process(None, PHONE_NICE).is_err() {
                    failed.store(true, Ordering::SeqCst);
                    return (phone, 0);
                }
                let mut round = 0_u32;
                loop {
                    if let Some(every) = every {
                        let due = every.mul_f64(f64::from(round) + n as f64 / count as f64);
                        if let Some(wait) = due.checked_sub(start.elapsed()) {
                            std::thread::sleep(wait);
                        }
                    }
                    if start.elapsed() >= phase {
                        break;
                    }
                    if phone.engine.log_visit(&visit(&elder, first_slot.saturating_add(round))).is_err() {
                        failed.store(true, Ordering::SeqCst);
                        break;
                    }
                    let began = Instant::now();
                    let error = phone.sync().err().map(|e| e.to_string());
                    let sample = Sample { ended: start.elapsed(), took: began.elapsed(), ok: error.is_none(), error };
                    samples.lock().unwrap_or_else(PoisonError::into_inner).push(sample);
                    round += 1;
                }
                (phone, round)
            })
        })
        .collect();
    if let Some(at) = kill_at {
        std::thread::sleep(at);
        if let Some(relay) = cluster.relays.first_mut() {
            relay.kill();
        }
    }
    let (phones, rounds): (Vec<Phone>, Vec<u32>) = workers
        .into_iter()
        .map(|w| w.join().map_err(|_| "a phone's thread panicked"))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .unzip();
    if failed.load(Ordering::SeqCst) {
        return Err("a phone could not lower its thread's priority or log a visit".into());
    }
    let samples = std::mem::take(&mut *samples.lock().unwrap_or_else(PoisonError::into_inner));
    let next_slot = first_slot.saturating_add(rounds.into_iter().max().unwrap_or(0));
    Ok(Drove { phones, samples, next_slot })
}

/// What a phase of [`drive`] gives back: the phones, every sync's sample, and the first
/// visit slot no phone has used.
struct Drove {
    phones: Vec<Phone>,
    samples: Vec<Sample>,
    next_slot: u32,
}

/// A finished 20-minute visit to `elder` in the half-hour `slot` back from now.
fn visit(elder: &timebank_engine::model::MemberId, slot: u32) -> timebank_engine::PastVisit {
    let start = chrono::Utc::now() - chrono::Duration::minutes(30 * (i64::from(slot) + 1));
    timebank_engine::PastVisit {
        elder: elder.clone(),
        service: "companionship".into(),
        order: None,
        start,
        end: start + chrono::Duration::minutes(20),
        note: String::new(),
    }
}

/// Successful syncs ending in each second of the phase.
fn per_second(samples: &[Sample], phase: Duration) -> Vec<usize> {
    let mut counts = vec![0; usize::try_from(phase.as_secs()).unwrap_or(0).max(1)];
    for sample in samples.iter().filter(|s| s.ok) {
        let second = usize::try_from(sample.ended.as_secs()).unwrap_or(usize::MAX).min(counts.len() - 1);
        counts[second] += 1;
    }
    counts
}

/// How many of the visits `phone` shows as sent its member's document on the relay lacks.
fn acknowledged_missing(store: &dyn RelayStore, phone: &Phone) -> Result<usize, BenchError> {
    let stored = store.document(&format!("member/{}", phone.member.id))?.ok_or("a member document is missing")?;
    let doc = automerge::Automerge::load(&stored.bytes)?;
    let on_relay: std::collections::BTreeSet<_> =
        timebank_engine::documents::member::visits(&doc, &phone.member.id).into_iter().map(|v| v.id).collect();
    Ok(phone.sent().difference(&on_relay).count())
}

/// `timebank-relay admin rebuild-ledger --check` on the backend, as words for the note.
fn ledger_check(bin: &Path, backend: &Backend) -> Result<String, BenchError> {
    let output =
        std::process::Command::new(bin).arg("admin").args(backend.flags()).args(["rebuild-ledger", "--check", "--json"]).output()?;
    if !output.status.success() {
        return Err(format!("the ledger differs from its rebuild: {}", String::from_utf8_lossy(&output.stderr)).into());
    }
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    Ok(format!("ledger check after the run: identical to its rebuild ({} events, {} postings)", report["events"], report["postings"]))
}
