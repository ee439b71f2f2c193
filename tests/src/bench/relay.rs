//! A real relay for the sync benchmarks: `timebank_server::Relay` on a SQLite store in a
//! temporary directory on the disk, served over HTTP on 127.0.0.1:0 and reachable
//! in-process through its router (`app(relay)` + tower `oneshot`); members made with the
//! admin functions; phones (real engines) enrolled over HTTP with the CLI's client.
//!
//! Nothing here builds a wire message: enrollment goes through `timebank_cli::relay`,
//! sync through `Engine::sync` and a [`Transport`] that only carries bodies.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use tempfile::TempDir;
use timebank_cli::relay::HttpTransport;
use timebank_engine::model::MemberId;
use timebank_engine::sync::{SyncReport, Transport, TransportError};
use timebank_engine::{Clock, Engine, RelayLink};
use timebank_server::registry::{self, NewMember};
use timebank_server::store::{MemberRecord, SqliteStore, StationRecord};
use timebank_server::{Relay, app};
use tower::ServiceExt as _;

use super::BenchError;

/// Worker threads of the relay's tokio runtime: the target machine has 2 cores.
pub const RELAY_WORKERS: usize = 2;

/// A relay with one station, its store on the disk, served on 127.0.0.1.
pub struct BenchRelay {
    relay: Arc<Relay>,
    router: Router,
    runtime: tokio::runtime::Runtime,
    addr: SocketAddr,
    station: StationRecord,
    clock: Arc<dyn Clock>,
    dir: TempDir,
}

impl std::fmt::Debug for BenchRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BenchRelay")
            .field("addr", &self.addr)
            .field("store", &self.dir.path())
            .finish_non_exhaustive()
    }
}

impl BenchRelay {
    /// A fresh relay reading the time from `clock` (which the phones share), with one
    /// station, serving HTTP on 127.0.0.1:0 on a tokio runtime of [`RELAY_WORKERS`]
    /// threads. Its store is in a temporary directory under the system's temporary
    /// directory (the disk), so commits cost what they cost on the disk.
    pub fn start(clock: Arc<dyn Clock>) -> Result<BenchRelay, BenchError> {
        let dir = tempfile::Builder::new()
            .prefix("timebank-bench-relay-")
            .tempdir()?;
        let store = SqliteStore::open(dir.path())?;
        let relay = Arc::new(Relay::new(Arc::new(store), clock.clone())?);
        let station = registry::create_station(&relay, "Caoyang")?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(RELAY_WORKERS)
            .thread_name("bench-relay")
            .enable_all()
            .build()?;
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let addr = listener.local_addr()?;
        let router = app(relay.clone());
        let served = router.clone();
        runtime.spawn(async move {
            if let Err(error) = axum::serve(listener, served).await {
                eprintln!("timebank-bench: the relay stopped serving: {error}");
            }
        });
        Ok(BenchRelay {
            relay,
            router,
            runtime,
            addr,
            station,
            clock,
            dir,
        })
    }

    /// The relay itself (its store, its admin functions).
    pub fn relay(&self) -> &Relay {
        &self.relay
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The relay's data directory.
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Registers a volunteer of the station.
    pub fn volunteer(&self, name: &str) -> Result<MemberRecord, BenchError> {
        Ok(registry::create_member(
            &self.relay,
            &NewMember {
                station: self.station.id.as_str(),
                role: "volunteer",
                name,
                birth_year: 1980,
                household: None,
                hardship: false,
            },
        )?)
    }

    /// A phone of `member`: a code from the admin functions, enrolled over HTTP with the
    /// CLI's client, an engine on a new store under `stores` reading the relay's clock.
    /// Not synced yet.
    pub fn phone(&self, member: &MemberRecord, stores: &Path) -> Result<Phone, BenchError> {
        let (code, _) = registry::issue_enrollment_code(&self.relay, member.id.as_str(), 7)?;
        let dir = tempfile::Builder::new()
            .prefix("phone-")
            .tempdir_in(stores)?;
        let engine = timebank_cli::relay::enroll_store(dir.path(), &self.url(), &code, self.clock.clone())?;
        let link = engine
            .relay_link()?
            .ok_or("the enrolled store does not know its relay")?;
        Ok(Phone {
            engine,
            member: member.id.clone(),
            link,
            _dir: dir,
        })
    }

    /// A transport that hands each body to the relay's router in-process.
    pub fn in_process(&self, phone: &Phone) -> InProcess<'_> {
        InProcess {
            relay: self,
            authorization: format!("Bearer {}", phone.link.token),
        }
    }

    /// Syncs `phone` in-process; the report and the relay's wall time (from handing the
    /// request to the router to having the whole response body).
    pub fn sync(&self, phone: &mut Phone) -> Result<(SyncReport, Duration), BenchError> {
        let mut transport = Timed::new(self.in_process(phone));
        let report = phone.engine.sync(&mut transport)?;
        Ok((report, transport.total()))
    }
}

/// An enrolled phone: a real engine on its own store.
pub struct Phone {
    /// The engine.
    pub engine: Engine,
    /// Whose phone it is.
    pub member: MemberId,
    link: RelayLink,
    _dir: TempDir,
}

impl std::fmt::Debug for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Phone")
            .field("member", &self.member)
            .field("device", &self.link.device)
            .finish_non_exhaustive()
    }
}

impl Phone {
    /// The HTTP transport the CLI uses, to the relay the phone enrolled with.
    pub fn http(&self) -> HttpTransport {
        HttpTransport::new(&self.link)
    }
}

/// Carries sync bodies to the relay's router in-process (`oneshot` on the relay's
/// runtime): no socket, no HTTP framing, the same handlers.
pub struct InProcess<'a> {
    relay: &'a BenchRelay,
    authorization: String,
}

impl std::fmt::Debug for InProcess<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The authorization header holds the device token: never printed.
        f.debug_struct("InProcess").finish_non_exhaustive()
    }
}

impl Transport for InProcess<'_> {
    fn exchange(&mut self, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        let request = Request::builder()
            .method("POST")
            .uri("/v1/sync")
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(AUTHORIZATION, &self.authorization)
            .body(Body::from(body))
            .map_err(|e| TransportError::Unreachable(e.to_string()))?;
        let router = self.relay.router.clone();
        let (status, bytes) = self.relay.runtime.block_on(async move {
            let response = match router.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await;
            (status, bytes)
        });
        let bytes = bytes.map_err(|e| TransportError::Unreachable(e.to_string()))?;
        if !status.is_success() {
            return Err(TransportError::Refused {
                status: status.as_u16(),
                message: String::from_utf8_lossy(&bytes).into_owned(),
            });
        }
        Ok(bytes.to_vec())
    }
}

/// Wraps a transport and times each exchange (request handed over → response body in
/// hand).
#[derive(Debug)]
pub struct Timed<T> {
    inner: T,
    /// How long each exchange took, in order.
    pub exchanges: Vec<Duration>,
}

impl<T> Timed<T> {
    /// Times `inner`.
    pub fn new(inner: T) -> Timed<T> {
        Timed {
            inner,
            exchanges: Vec::new(),
        }
    }

    /// The time of all exchanges together.
    pub fn total(&self) -> Duration {
        self.exchanges.iter().sum()
    }
}

impl<T: Transport> Transport for Timed<T> {
    fn exchange(&mut self, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        let started = Instant::now();
        let answer = self.inner.exchange(body);
        self.exchanges.push(started.elapsed());
        answer
    }
}

/// Where phone stores go: a RAM disk (`/dev/shm`) when there is one, so building a
/// thousand stores does not wait on the disk the relay commits to (every phone has its
/// own flash); otherwise the system's temporary directory.
pub fn phone_stores() -> Result<TempDir, BenchError> {
    let ram = PathBuf::from("/dev/shm");
    let mut builder = tempfile::Builder::new();
    builder.prefix("timebank-bench-phones-");
    if ram.is_dir()
        && let Ok(dir) = builder.tempdir_in(&ram)
    {
        return Ok(dir);
    }
    Ok(builder.tempdir()?)
}

/// Whether `path` is on the RAM disk [`phone_stores`] prefers.
pub fn on_ram_disk(path: &Path) -> bool {
    path.starts_with("/dev/shm")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers with the body reversed, after a pause.
    struct Echo;

    impl Transport for Echo {
        fn exchange(&mut self, mut body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
            std::thread::sleep(Duration::from_millis(2));
            body.reverse();
            Ok(body)
        }
    }

    #[test]
    fn timed_transport_times_every_exchange_and_passes_bodies_through() {
        let mut timed = Timed::new(Echo);
        assert_eq!(timed.exchange(vec![1, 2, 3]).unwrap(), [3, 2, 1]);
        assert_eq!(timed.exchange(vec![]).unwrap(), Vec::<u8>::new());
        assert_eq!(timed.exchanges.len(), 2);
        assert!(timed.total() >= Duration::from_millis(4));
    }
}
