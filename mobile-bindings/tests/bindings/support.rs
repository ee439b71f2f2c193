//! Test support: the relay in-process on 127.0.0.1 (its SQLite store in a temporary
//! directory), members and enrollment codes from its admin functions, stores of phones
//! in temporary directories, and a small executor for the async calls.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, SystemTime};

use tempfile::TempDir;
use timebank_mobile::TimebankStore;
use timebank_mobile::types::Role;
use timebank_server::registry::{self, NewMember};
use timebank_server::store::{MemberRecord, StationRecord};
use timebank_server::{Relay, app};

/// A relay serving HTTP on 127.0.0.1 with one station; stops when dropped.
pub struct TestRelay {
    pub relay: Arc<Relay>,
    pub station: StationRecord,
    pub addr: SocketAddr,
    // Dropped last: the runtime (and its server) before the store directory.
    runtime: Option<tokio::runtime::Runtime>,
    _dir: TempDir,
}

impl TestRelay {
    pub fn start() -> TestRelay {
        let dir = tempfile::tempdir().unwrap();
        let relay = Arc::new(Relay::open(dir.path()).unwrap());
        let station = registry::create_station(&relay, "Caoyang").unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        runtime.spawn(axum::serve(listener, app(relay.clone())).into_future());
        TestRelay { relay, station, addr, runtime: Some(runtime), _dir: dir }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Registers a member of the station.
    pub fn member(&self, role: &str, name: &str) -> MemberRecord {
        let new = NewMember {
            station: self.station.id.as_str(),
            role,
            name,
            birth_year: if role == "elder" { 1941 } else { 1979 },
            household: None,
            hardship: false,
        };
        registry::create_member(&self.relay, &new).unwrap()
    }

    /// A one-time enrollment code for a device of `member`.
    pub fn code(&self, member: &MemberRecord) -> String {
        registry::issue_enrollment_code(&self.relay, member.id.as_str(), registry::DEFAULT_CODE_DAYS).unwrap().0
    }

    /// A phone of `member`, enrolled through the bindings into a new directory.
    pub fn phone(&self, member: &MemberRecord) -> Phone {
        let dir = tempfile::tempdir().unwrap();
        let store = TimebankStore::enroll(path(&dir), self.url(), self.code(member)).unwrap();
        Phone { store, _dir: dir }
    }
}

impl Drop for TestRelay {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

/// A store in a temporary directory.
pub struct Phone {
    pub store: Arc<TimebankStore>,
    _dir: TempDir,
}

/// The directory as the apps pass it.
pub fn path(dir: &TempDir) -> String {
    dir.path().to_string_lossy().into_owned()
}

/// A volunteer's store that no relay knows.
pub fn offline_volunteer() -> Phone {
    let dir = tempfile::tempdir().unwrap();
    let store = TimebankStore::create(path(&dir), "v-1001".into(), "s-caoyang".into(), Role::Volunteer).unwrap();
    Phone { store, _dir: dir }
}

/// A finished visit of an hour to `elder`, checked in and out on the phone.
pub fn visit_of_an_hour(store: &TimebankStore, elder: &str) -> String {
    let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
    let id = store.check_in(elder.into(), "companionship".into(), None, Some(an_hour_ago)).unwrap();
    store.check_out(id.clone(), None, Some("read the newspaper".into())).unwrap();
    id
}

struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `future` to completion on this thread (what a coroutine or task would do).
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::park();
    }
}
