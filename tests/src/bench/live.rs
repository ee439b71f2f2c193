//! `timebank-bench live`: the live channel (ADR 32) on one `timebank-relay` process (the
//! release build beside this binary) over SQLite, its data and the phones' stores on the
//! RAM disk, everything on the same 2 cores.
//!
//! - `live_dispatch_to_phone_ms`: 1,000 devices hold a channel (volunteers' phones watching
//!   with the engine's `Watch`, the rest raw idle channels); a coordinator's phone places an
//!   order, dispatches it to one of the watching volunteers and syncs; the time from the
//!   start of that sync to the volunteer's engine holding the assignment, p50 and p99.
//! - `live_idle_connections`: 10,000 enrolled devices each hold an idle channel (raw clients
//!   on one thread of this process); how many the relay holds through two heartbeats, and
//!   (`live_idle_connection_kib`) how much its resident memory grew per channel.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use timebank_engine::model::OrderId;
use timebank_engine::watch::{Watch, WatchEvent, WatchStop};
use timebank_engine::{SystemClock, new_device_actor};
use timebank_server::{Relay, registry};
use timebank_testing::cluster::{Backend, RelayNode};
use timebank_testing::{Phone, new_member};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::relay::phone_stores;
use super::rss::resident_bytes_of;
use super::stats::percentile;
use super::{BenchError, Measurement, Target};

/// What to run.
#[derive(Clone, Debug)]
pub struct LiveBench {
    /// Devices connected during the dispatches.
    pub connected: usize,
    /// Of them, volunteers' phones watching (the rest hold idle channels).
    pub watching: usize,
    /// Dispatches measured.
    pub dispatches: usize,
    /// Idle channels for the memory figure.
    pub idle: usize,
}

impl Default for LiveBench {
    fn default() -> Self {
        LiveBench { connected: 1_000, watching: 20, dispatches: 300, idle: 10_000 }
    }
}

/// The heartbeat of the idle scenario's relay: several go by while it is measured.
const IDLE_HEARTBEAT_MS: u64 = 5_000;

/// The relay binary beside this one (built with `cargo build --release -p timebank-server`).
fn relay_binary() -> Result<PathBuf, BenchError> {
    let bin = std::env::current_exe()?.with_file_name("timebank-relay");
    if !bin.exists() {
        return Err(format!("{} is missing: build it first (cargo build --release -p timebank-server)", bin.display()).into());
    }
    Ok(bin)
}

/// A relay process over a fresh store on the RAM disk, and an in-process relay on the same
/// store that registers the station and its members.
struct Setting {
    node: RelayNode,
    setup: Relay,
    station: timebank_server::store::StationRecord,
    url: String,
    _data: tempfile::TempDir,
}

impl Setting {
    fn start(flags: &[&str]) -> Result<Setting, BenchError> {
        let data = phone_stores()?;
        let setup = Relay::open(data.path())?;
        let station = registry::create_station(&setup, "Caoyang")?;
        let node = RelayNode::start(&relay_binary()?, &Backend::Sqlite(data.path().to_path_buf()), flags, None)?;
        let url = format!("http://127.0.0.1:{}", node.port);
        Ok(Setting { node, setup, station, url, _data: data })
    }

    fn member(&self, role: &str, name: &str) -> Result<timebank_server::store::MemberRecord, BenchError> {
        Ok(registry::create_member(&self.setup, &new_member(&self.station, role, name))?)
    }

    /// `count` volunteers, a device of each enrolled over HTTP: their tokens.
    fn devices(&self, count: usize) -> Result<Vec<String>, BenchError> {
        let mut tokens = Vec::with_capacity(count);
        for n in 0..count {
            let volunteer = self.member("volunteer", &format!("Idle {n}"))?;
            let (code, _) = registry::issue_enrollment_code(&self.setup, volunteer.id.as_str(), 7)?;
            tokens.push(timebank_engine::http::enroll(&self.url, &code, &new_device_actor())?.token);
        }
        Ok(tokens)
    }

    /// A phone of a new member with `role`, enrolled over HTTP, its store on the RAM disk.
    fn phone(&self, stores: &tempfile::TempDir, role: &str, name: &str) -> Result<Phone, BenchError> {
        let member = self.member(role, name)?;
        let (code, _) = registry::issue_enrollment_code(&self.setup, member.id.as_str(), 7)?;
        let dir = tempfile::Builder::new().tempdir_in(stores.path())?;
        Ok(Phone::enroll(&self.url, &code, &member, dir, Arc::new(SystemClock))?)
    }
}

/// Runs both scenarios.
pub fn run(config: &LiveBench, progress: &mut dyn FnMut(&str)) -> Result<Vec<Measurement>, BenchError> {
    let mut measured = vec![dispatch_to_phone(config, progress)?];
    measured.extend(idle_connections(config, progress)?);
    Ok(measured)
}

/// `live_dispatch_to_phone_ms`.
fn dispatch_to_phone(config: &LiveBench, progress: &mut dyn FnMut(&str)) -> Result<Measurement, BenchError> {
    let watching = config.watching.clamp(1, config.connected.max(1));
    let setting = Setting::start(&[])?;
    let stores = phone_stores()?;
    let elder = setting.member("elder", "Wang Fang")?;
    let mut desk = setting.phone(&stores, "coordinator", "Zhao Min")?;
    let (arrivals, arrived) = mpsc::channel();
    let mut volunteers = Vec::with_capacity(watching);
    let mut stops = Vec::with_capacity(watching);
    for n in 0..watching {
        let phone = setting.phone(&stores, "volunteer", &format!("Volunteer {n}"))?;
        volunteers.push(phone.member.id.clone());
        stops.push(watch_on_a_thread(phone, arrivals.clone())?);
    }
    let idle = IdleChannels::open(&setting.url, setting.devices(config.connected - watching)?)?;
    // The coordinator's phone learns the station's members (whom it may dispatch to).
    desk.sync()?;
    // Every watching phone connected and caught up: its first arrival is the catch-up.
    for _ in 0..watching {
        arrived.recv_timeout(Duration::from_secs(60)).map_err(|_| "a watching phone did not connect within a minute")??;
    }
    let connected = watching + idle.connected();
    progress(&format!("{connected} devices connected ({watching} watching, {} idle channels)", idle.connected()));

    let mut took_ms = Vec::with_capacity(config.dispatches);
    for round in 0..config.dispatches {
        let volunteer = &volunteers[round % watching];
        let order = desk.engine.place_order(Some(&elder.id), "meals", "lunch")?;
        desk.engine.dispatch(&order, volunteer)?;
        let sent = Instant::now();
        desk.sync()?;
        let arrival = loop {
            let arrival = arrived
                .recv_timeout(Duration::from_secs(10))
                .map_err(|_| format!("dispatch {round} did not arrive within 10 s"))??;
            if arrival.orders.contains(&order) {
                break arrival;
            }
        };
        took_ms.push(arrival.at.duration_since(sent).as_secs_f64() * 1000.0);
        // A phone hears again only after the coalescing interval; twenty phones in turn keep
        // each well past it, so every dispatch meets a quiet channel, as on a real station.
        std::thread::sleep(Duration::from_millis(20));
    }
    let still = watching + idle.connected();
    for stop in &stops {
        stop.stop();
    }
    drop(setting);
    let p50 = percentile(&took_ms, 50.0).unwrap_or(f64::NAN);
    let p99 = percentile(&took_ms, 99.0).unwrap_or(f64::NAN);
    progress(&format!("{} dispatches: p50 {p50:.1} ms, p99 {p99:.1} ms", took_ms.len()));
    Ok(Measurement {
        scenario: "live_dispatch_to_phone_ms".into(),
        ours: p99,
        baseline: None,
        unit: "ms",
        target: Some(Target::AtMost(1000.0)),
        note: Some(format!(
            "p99 of {} dispatches (p50 {p50:.1} ms, max {:.1} ms): a coordinator's phone dispatches to one of {watching} volunteers \
             watching with the engine's Watch and syncs; from the start of that sync to the volunteer's engine holding the \
             assignment (its hint, its sync). {connected} devices connected to one timebank-relay process over SQLite ({} idle \
             channels), {still} still at the end; phones, relay and clients on the same 2 cores",
            took_ms.len(),
            took_ms.iter().copied().fold(0.0, f64::max),
            connected - watching
        )),
    })
}

/// `live_idle_connections` and `live_idle_connection_kib`.
fn idle_connections(config: &LiveBench, progress: &mut dyn FnMut(&str)) -> Result<Vec<Measurement>, BenchError> {
    let heartbeat = IDLE_HEARTBEAT_MS.to_string();
    let setting = Setting::start(&["--live-heartbeat-ms", &heartbeat])?;
    let started = Instant::now();
    let tokens = setting.devices(config.idle)?;
    progress(&format!("{} devices enrolled in {:.0} s", tokens.len(), started.elapsed().as_secs_f64()));
    let pid = setting.node.pid().to_string();
    // The relay as it serves with no channel open (a channel's worth of everything warmed).
    let warm = IdleChannels::open(&setting.url, tokens[..1].to_vec())?;
    drop(warm);
    std::thread::sleep(Duration::from_secs(1));
    let before = resident_bytes_of(&pid).ok_or("no /proc here to read the relay's memory")?;
    let channels = IdleChannels::open(&setting.url, tokens)?;
    let opened = channels.connected();
    std::thread::sleep(Duration::from_millis(2 * IDLE_HEARTBEAT_MS + 1_000));
    let after = resident_bytes_of(&pid).ok_or("no /proc here to read the relay's memory")?;
    let held = channels.connected();
    let beats = channels.heartbeats();
    let per_channel_kib = after.saturating_sub(before) as f64 / held.max(1) as f64 / 1024.0;
    progress(&format!("{held} of {opened} idle channels held; {per_channel_kib:.1} KiB each"));
    let memory = format!(
        "the relay's resident anonymous memory (RssAnon, /proc) grew from {:.1} MiB with no channel open to {:.1} MiB \
         with {held} (the kernel's socket buffers are not in it)",
        before as f64 / 1_048_576.0,
        after as f64 / 1_048_576.0
    );
    Ok(vec![
        Measurement {
            scenario: "live_idle_connections".into(),
            ours: held as f64,
            baseline: None,
            unit: "channels",
            target: Some(Target::AtLeast(10_000.0)),
            note: Some(format!(
                "{held} of {} enrolled devices' channels (raw clients on one thread of the bench) held by one \
                 timebank-relay process over SQLite through two heartbeats ({opened} open once opened; heartbeat \
                 {IDLE_HEARTBEAT_MS} ms, {beats} heartbeats heard); {memory}",
                config.idle
            )),
        },
        Measurement {
            scenario: "live_idle_connection_kib".into(),
            ours: per_channel_kib,
            baseline: None,
            unit: "KiB",
            target: Some(Target::AtMost(32.0)),
            note: Some(format!("growth / channels held: {memory}")),
        },
    ])
}

/// What a watching phone had after one of its syncs.
struct Arrival {
    orders: HashSet<OrderId>,
    at: Instant,
}

/// Watches `phone`'s relay on a thread, sending the orders it holds after each sync.
fn watch_on_a_thread(mut phone: Phone, arrivals: Sender<Result<Arrival, BenchError>>) -> Result<WatchStop, BenchError> {
    let mut watch = Watch::start(phone.link())?;
    let stop = watch.stopper();
    std::thread::Builder::new().name("bench-watch".into()).spawn(move || {
        let mut transport = phone.http();
        loop {
            let event = watch.next(&mut || phone.engine.sync(&mut transport));
            let arrival = match event {
                Ok(Some(WatchEvent::Synced { .. })) => {
                    let orders = phone.engine.assignments().into_iter().map(|a| a.assignment.order).collect();
                    Ok(Arrival { orders, at: Instant::now() })
                }
                Ok(Some(_)) => continue,
                Ok(None) => return,
                Err(error) => Err(BenchError::from(format!("a watching phone stopped: {error}"))),
            };
            if arrivals.send(arrival).is_err() {
                return;
            }
        }
    })?;
    Ok(stop)
}

/// Idle live channels held by raw clients on one thread of this process (a current-thread
/// tokio runtime): each sends the request, reads the `hello`, then only the heartbeats.
struct IdleChannels {
    connected: Arc<AtomicUsize>,
    heartbeats: Arc<AtomicUsize>,
    _runtime: tokio::runtime::Runtime,
}

impl IdleChannels {
    /// Opens a channel for each of `tokens` at the relay `url` (256 at a time); returns once
    /// each is open or refused.
    fn open(url: &str, tokens: Vec<String>) -> Result<IdleChannels, BenchError> {
        let address = url.trim_start_matches("http://").to_owned();
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
        let connected = Arc::new(AtomicUsize::new(0));
        let heartbeats = Arc::new(AtomicUsize::new(0));
        let opening = Arc::new(tokio::sync::Semaphore::new(256));
        let (done, all_done): (Sender<()>, Receiver<()>) = mpsc::channel();
        let count = tokens.len();
        for token in tokens {
            let (address, connected, heartbeats, opening, done) =
                (address.clone(), Arc::clone(&connected), Arc::clone(&heartbeats), Arc::clone(&opening), done.clone());
            runtime.spawn(async move {
                let permit = opening.acquire_owned().await;
                let stream = hold(&address, &token).await;
                drop(permit);
                // Counted before `open` may return, so what it reports is what is open.
                if stream.is_some() {
                    connected.fetch_add(1, Ordering::SeqCst);
                }
                let _ = done.send(());
                let Some(mut stream) = stream else { return };
                let mut buffer = [0_u8; 256];
                while let Ok(read) = stream.read(&mut buffer).await {
                    if read == 0 {
                        break;
                    }
                    heartbeats.fetch_add(buffer[..read].windows(10).filter(|w| w == b": heartbea").count(), Ordering::Relaxed);
                }
                connected.fetch_sub(1, Ordering::SeqCst);
            });
        }
        for _ in 0..count {
            all_done.recv_timeout(Duration::from_secs(120)).map_err(|_| "idle channels did not open within two minutes")?;
        }
        Ok(IdleChannels { connected, heartbeats, _runtime: runtime })
    }

    fn connected(&self) -> usize {
        self.connected.load(Ordering::SeqCst)
    }

    fn heartbeats(&self) -> usize {
        self.heartbeats.load(Ordering::Relaxed)
    }
}

/// Opens one channel: the connection once the relay's `hello` came, or `None`.
async fn hold(address: &str, token: &str) -> Option<tokio::net::TcpStream> {
    let mut stream = tokio::net::TcpStream::connect(address).await.ok()?;
    let request =
        format!("GET /v1/live HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut head = Vec::new();
    let mut buffer = [0_u8; 512];
    while !head.windows(12).any(|w| w == b"event: hello") {
        let read = stream.read(&mut buffer).await.ok()?;
        if read == 0 || head.len() > 4096 {
            return None;
        }
        head.extend_from_slice(&buffer[..read]);
    }
    head.starts_with(b"HTTP/1.1 200").then_some(stream)
}
