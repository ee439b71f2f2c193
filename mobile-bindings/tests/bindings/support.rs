//! Test support: the shared test relay (`timebank-testing`: served on 127.0.0.1, its
//! SQLite store in a temporary directory, members and enrollment codes), stores of phones
//! in temporary directories, and a small executor for the async calls.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, SystemTime};

use tempfile::TempDir;
use timebank_mobile::TimebankStore;
use timebank_mobile::types::Role;
use timebank_server::store::MemberRecord;
pub use timebank_testing::TestRelay;

/// A phone of `member` of the shared test relay (served on 127.0.0.1 from this call on):
/// a store enrolled through the bindings into a new directory.
pub fn enrolled_phone(relay: &TestRelay, member: &MemberRecord) -> Phone {
    let dir = tempfile::tempdir().unwrap();
    let store = TimebankStore::enroll(path(&dir), relay.url(), relay.code(member)).unwrap();
    Phone { store, _dir: dir }
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
