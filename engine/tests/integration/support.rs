//! Test support: the shared fake clock (`timebank-testing`) at a fixed start, devices (engine + real SQLite store
//! in a temporary directory) and a snapshot of everything a user can see on a device.

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use tempfile::TempDir;
use timebank_engine::model::{MemberId, OrderState, Role, SpendRequest, StationId, Visit, VisitId};
use timebank_engine::storage::STORE_FILE;
use timebank_engine::{Balance, Clock, DocId, Engine, NewIdentity, PastVisit, Status};
use timebank_testing::FakeClock;

/// The station every test device belongs to.
pub const STATION: &str = "s-caoyang";
/// A volunteer.
pub const VOLUNTEER: &str = "v-1001";
/// A second volunteer.
pub const OTHER_VOLUNTEER: &str = "v-1002";
/// An elder.
pub const ELDER: &str = "e-2001";
/// A second elder.
pub const OTHER_ELDER: &str = "e-2002";
/// A coordinator of the station.
pub const COORDINATOR: &str = "c-3001";

/// Where every fake clock starts: a fixed Monday morning, so the tests never depend on
/// the real time of day.
pub fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).single().expect("a valid date")
}

/// Parses a member id the test spells out.
pub fn member(raw: &str) -> MemberId {
    MemberId::parse(raw).expect("a valid member id")
}

/// The station id of the test devices.
pub fn station() -> StationId {
    StationId::parse(STATION).expect("a valid station id")
}

/// The `member/<id>` document of `raw`.
pub fn member_doc(raw: &str) -> DocId {
    DocId::Member(member(raw))
}

/// A fake clock at [`base_time`], its monotonic clock in boot `boot`.
pub fn clock_at_base(boot: &str) -> Arc<FakeClock> {
    FakeClock::new(base_time(), boot)
}

/// One phone: its store directory, its clock and the engine over the store. Derefs to
/// the [`Engine`], so tests call the API on it directly.
#[derive(Debug)]
pub struct Device {
    dir: TempDir,
    /// The phone's clock.
    pub clock: Arc<FakeClock>,
    engine: Option<Engine>,
}

impl Device {
    /// A new store for `member` with `role`, at [`base_time`].
    pub fn create(member_id: &str, role: Role) -> Device {
        Device::create_with_clock(member_id, role, clock_at_base(&format!("boot-{member_id}")))
    }

    /// A new store for `member` with `role`, on `clock`.
    pub fn create_with_clock(member_id: &str, role: Role, clock: Arc<FakeClock>) -> Device {
        let dir = TempDir::new().expect("a temporary directory");
        let engine = Engine::create_with_clock(dir.path(), identity(member_id, role), clock.clone()).expect("a new store is created");
        Device { dir, clock, engine: Some(engine) }
    }

    /// The volunteer [`VOLUNTEER`].
    pub fn volunteer() -> Device {
        Device::create(VOLUNTEER, Role::Volunteer)
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The SQLite file of the store.
    pub fn store_file(&self) -> PathBuf {
        self.dir.path().join(STORE_FILE)
    }

    /// The app is killed: the engine and its connection go away.
    pub fn close(&mut self) {
        self.engine = None;
    }

    /// Opens the store again (after [`Device::close`], or closing it first).
    pub fn reopen(&mut self) {
        self.engine = None;
        self.engine = Some(Engine::open_with_clock(self.dir.path(), self.clock.clone()).expect("the store opens again"));
    }

    /// Moves both of the phone's clocks forward by `minutes`.
    pub fn wait_minutes(&self, minutes: i64) {
        self.clock.advance(Duration::minutes(minutes));
    }

    /// The phone's wall clock now.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Logs [`paper_visit`]`(self, days_ago, minutes)`.
    pub fn log_paper(&mut self, days_ago: i64, minutes: i64) -> timebank_engine::Result<VisitId> {
        let past = paper_visit(self, days_ago, minutes);
        self.log_visit(&past)
    }
}

impl Deref for Device {
    type Target = Engine;

    fn deref(&self) -> &Engine {
        self.engine.as_ref().expect("the device's store is open")
    }
}

impl DerefMut for Device {
    fn deref_mut(&mut self) -> &mut Engine {
        self.engine.as_mut().expect("the device's store is open")
    }
}

/// The identity of a test device.
pub fn identity(member_id: &str, role: Role) -> NewIdentity {
    NewIdentity { member: member(member_id), station: station(), role }
}

/// A paper visit to [`ELDER`] that started `days_ago` days before the device's now
/// and lasted `minutes`.
pub fn paper_visit(device: &Device, days_ago: i64, minutes: i64) -> PastVisit {
    let start = device.now() - Duration::days(days_ago);
    PastVisit {
        elder: member(ELDER),
        service: "meals".into(),
        order: None,
        start,
        end: start + Duration::minutes(minutes),
        note: "from the paper log".into(),
    }
}

/// Copies document `id` from one device to another, as a sync would. Returns how many
/// changes were new to the receiver.
pub fn carry(id: &DocId, from: &Engine, to: &mut Engine) -> usize {
    let bytes = from.document_bytes(id).expect("the sender holds the document");
    to.receive_changes(id, &bytes).expect("the receiver merges the document")
}

/// The file's bytes.
pub fn file_bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).expect("the file is readable")
}

/// Everything a user can see on a device, to compare before and after an operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// The visit list: the visits with their lengths and state labels.
    pub visits: Vec<(Visit, Option<u32>, String)>,
    /// The requests with their state labels.
    pub requests: Vec<(SpendRequest, String)>,
    /// The orders with their states.
    pub orders: Vec<(String, OrderState)>,
    /// The assignments with their states.
    pub assignments: Vec<(String, OrderState)>,
    /// The balance.
    pub balance: Balance,
    /// The status, without the bytes on disk (the write-ahead log grows and shrinks).
    pub status: Status,
    /// Every document with its heads.
    pub heads: Vec<(String, Vec<String>)>,
}

/// What the user sees on `engine` now.
pub fn seen(engine: &Engine) -> Seen {
    let mut status = engine.status().expect("status");
    status.store_bytes = 0;
    Seen {
        visits: engine.visits().expect("visits").into_iter().map(|v| (v.visit, v.minutes, v.state_label)).collect(),
        requests: engine.requests().expect("requests").into_iter().map(|r| (r.request, r.state_label)).collect(),
        orders: engine.orders().into_iter().map(|o| (o.order.id.to_string(), o.state)).collect(),
        assignments: engine.assignments().into_iter().map(|a| (a.assignment.order.to_string(), a.state)).collect(),
        balance: engine.balance(),
        status,
        heads: engine
            .document_ids()
            .into_iter()
            .map(|id| {
                let mut heads: Vec<String> = engine.heads(&id).iter().map(ToString::to_string).collect();
                heads.sort();
                (id.to_string(), heads)
            })
            .collect(),
    }
}
