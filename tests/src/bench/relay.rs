//! A real relay for the sync benchmarks: the shared test relay (`timebank-testing`:
//! `timebank_server::Relay` on a SQLite store in a temporary directory on the disk,
//! served over HTTP on 127.0.0.1:0 and reachable in-process through its router) on the
//! benchmark's clock; members made with the registry; phones (real engines on the same
//! clock) enrolled over HTTP with the engine's client.
//!
//! Nothing here builds a wire message: enrollment goes through `timebank_engine::http`,
//! sync through `Engine::sync` and a [`Transport`] that only carries bodies.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tempfile::TempDir;
use timebank_engine::sync::{SyncReport, Transport, TransportError};
use timebank_server::store::MemberRecord;
pub use timebank_testing::Phone;
use timebank_testing::{FakeClock, TestRelay};

use super::BenchError;

/// Worker threads of the relay's tokio runtime: the target machine has 2 cores.
pub const RELAY_WORKERS: usize = 2;

/// A relay with one station, its store on the disk, served on 127.0.0.1.
#[derive(Debug)]
pub struct BenchRelay(TestRelay);

impl Deref for BenchRelay {
    type Target = TestRelay;

    fn deref(&self) -> &TestRelay {
        &self.0
    }
}

impl BenchRelay {
    /// A fresh relay reading the time from `clock` (which the phones share), with one
    /// station, serving HTTP on 127.0.0.1:0 on a tokio runtime of [`RELAY_WORKERS`]
    /// threads; its phones' stores go under `stores`. Its own store is in a temporary
    /// directory under the system's temporary directory (the disk), so commits cost what
    /// they cost on the disk.
    pub fn start(clock: Arc<FakeClock>, stores: &Path) -> Result<BenchRelay, BenchError> {
        let relay = TestRelay::builder().clock(clock).workers(RELAY_WORKERS).phones_on_relay_clock().phones_in(stores).try_start()?;
        Ok(BenchRelay(relay))
    }

    /// The relay's data directory.
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Registers a volunteer of the station.
    pub fn volunteer(&self, name: &str) -> Result<MemberRecord, BenchError> {
        Ok(self.try_member("volunteer", name)?)
    }

    /// A phone of `member`: a code from the registry, enrolled over HTTP with the
    /// engine's client, an engine on a new store reading the relay's clock. Not synced yet.
    pub fn phone(&self, member: &MemberRecord) -> Result<Phone, BenchError> {
        Ok(self.try_http_phone(member)?)
    }

    /// Syncs `phone` in-process; the report and the relay's wall time (from handing the
    /// request to the router to having the whole response body).
    pub fn sync(&self, phone: &mut Phone) -> Result<(SyncReport, Duration), BenchError> {
        let mut transport = Timed::new(self.transport(&phone.token));
        let report = phone.engine.sync(&mut transport)?;
        Ok((report, transport.total()))
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
        Timed { inner, exchanges: Vec::new() }
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
