//! A relay on a real SQLite store in a temporary directory, with one station: called
//! in-process through its router, served on 127.0.0.1 when asked, and the registry's
//! functions to register members and issue enrollment codes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use automerge::{ActorId, Automerge};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{Request, Response, StatusCode};
use chrono::Utc;
use tempfile::TempDir;
use timebank_engine::model::Role;
use timebank_engine::signing::DeviceKey;
use timebank_engine::sync::wire::{self, EnrollRequest, EnrollResponse};
use timebank_engine::{Clock, Engine, Enrollment, NewIdentity, SystemClock};
use timebank_server::registry::{self, NewMember, RegistryError};
use timebank_server::relay::Settings;
use timebank_server::store::{MemberRecord, RelayStore, SqliteStore, StationRecord, StoreError};
use timebank_server::{Relay, app};

use crate::clock::FakeClock;
use crate::phone::Phone;
use crate::server::Server;
use crate::transport::InProcess;

/// The birth year of the elders [`TestRelay::member`] registers (over 65).
pub const ELDER_BORN: u16 = 1940;

/// The birth year of everyone else [`TestRelay::member`] registers.
pub const MEMBER_BORN: u16 = 1980;

/// What a test member of `station` is registered with: `role`, `name`, born in
/// [`ELDER_BORN`] or [`MEMBER_BORN`], no household, no hardship.
pub fn new_member<'a>(station: &'a StationRecord, role: &'a str, name: &'a str) -> NewMember<'a> {
    NewMember {
        station: station.id.as_str(),
        role,
        name,
        birth_year: if role == "elder" { ELDER_BORN } else { MEMBER_BORN },
        household: None,
        hardship: false,
    }
}

/// Why a test relay or phone could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A temporary directory or the runtime.
    #[error("could not set up the test relay: {0}")]
    Io(#[from] std::io::Error),
    /// The relay's store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The registry refused.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A phone's engine.
    #[error(transparent)]
    Engine(#[from] timebank_engine::Error),
    /// A process the test starts (a relay, the load balancer).
    #[error("{0}")]
    Other(String),
}

/// How to set up a [`TestRelay`]; [`TestRelay::new`] takes the defaults.
#[derive(Debug)]
pub struct TestRelayBuilder {
    clock: Option<Arc<FakeClock>>,
    station: String,
    workers: usize,
    phones_on_relay_clock: bool,
    phones_in: Option<PathBuf>,
    settings: Settings,
}

impl TestRelayBuilder {
    /// The operator's settings (default: [`Settings::default`]).
    pub fn settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    /// The relay reads the time from `clock` (default: a [`FakeClock`] at the real time
    /// the relay starts, so phones on the system clock agree with it).
    pub fn clock(mut self, clock: Arc<FakeClock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The station's name (default "Caoyang").
    pub fn station(mut self, name: &str) -> Self {
        name.clone_into(&mut self.station);
        self
    }

    /// Worker threads of the relay's runtime (default 2, the target machine's cores).
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// Phones read the relay's clock (default: the system's).
    pub fn phones_on_relay_clock(mut self) -> Self {
        self.phones_on_relay_clock = true;
        self
    }

    /// Phones' stores go under `dir` (default: the system's temporary directory).
    pub fn phones_in(mut self, dir: impl Into<PathBuf>) -> Self {
        self.phones_in = Some(dir.into());
        self
    }

    /// The relay, or why it could not start.
    pub fn try_start(self) -> Result<TestRelay, SetupError> {
        let dir = tempfile::Builder::new().prefix("timebank-relay-").tempdir()?;
        let clock = self.clock.unwrap_or_else(|| FakeClock::new(Utc::now(), "relay"));
        let relay = Arc::new(Relay::with_settings(Arc::new(SqliteStore::open(dir.path())?), clock.clone(), self.settings)?);
        let station = registry::create_station(&relay, &self.station)?;
        let phone_clock: Arc<dyn Clock> = if self.phones_on_relay_clock { clock.clone() } else { Arc::new(SystemClock) };
        Ok(TestRelay {
            server: Server::new(self.workers)?,
            router: app(relay.clone()),
            relay,
            clock,
            station,
            phone_clock,
            phones_in: self.phones_in,
            dir,
        })
    }

    /// The relay.
    pub fn start(self) -> TestRelay {
        self.try_start().unwrap_or_else(|e| panic!("{e}"))
    }
}

/// A relay with its store in a temporary directory and one station.
pub struct TestRelay {
    // Field order is drop order: the runtime stops (and with it the serving) first, the
    // store's directory goes last.
    server: Server,
    /// The relay.
    pub relay: Arc<Relay>,
    /// Its routes (`app(relay)`), for requests in-process.
    pub router: Router,
    /// Its clock.
    pub clock: Arc<FakeClock>,
    /// Its station.
    pub station: StationRecord,
    phone_clock: Arc<dyn Clock>,
    phones_in: Option<PathBuf>,
    /// The store's directory.
    pub dir: TempDir,
}

impl Drop for TestRelay {
    fn drop(&mut self) {
        // Live channels never end by themselves: closed first, the serving stops at once.
        self.relay.changes().stopping();
    }
}

impl std::fmt::Debug for TestRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestRelay").field("dir", &self.dir.path()).field("url", &self.server.url()).finish_non_exhaustive()
    }
}

impl Default for TestRelay {
    fn default() -> Self {
        TestRelay::new()
    }
}

impl TestRelay {
    /// A fresh relay with station "Caoyang", on a fake clock at the real time now.
    pub fn new() -> TestRelay {
        TestRelay::builder().start()
    }

    /// A relay set up otherwise.
    pub fn builder() -> TestRelayBuilder {
        TestRelayBuilder {
            clock: None,
            station: "Caoyang".into(),
            workers: 2,
            phones_on_relay_clock: false,
            phones_in: None,
            settings: Settings::default(),
        }
    }

    /// The relay's store, once the ledger has folded everything committed so far (the
    /// relay reconciles right after each commit, off the request's path: a test reading
    /// the store sees what a phone syncing now would).
    pub fn store(&self) -> &dyn RelayStore {
        self.relay.settle();
        self.relay.store()
    }

    /// The relay's address on 127.0.0.1: it is served there from the first call on.
    pub fn addr(&self) -> SocketAddr {
        self.server.listen(&self.router).unwrap()
    }

    /// `http://127.0.0.1:PORT`: the relay is served there from the first call on.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// Hands `request` to `router` (this relay's, or another on its store) in-process.
    pub fn call(&self, router: &Router, request: Request<Body>) -> Response<Bytes> {
        self.server.call(router, request).unwrap()
    }

    /// Registers a member of the station ([`new_member`]).
    pub fn member(&self, role: &str, name: &str) -> MemberRecord {
        self.try_member(role, name).unwrap()
    }

    /// [`TestRelay::member`], or why the registry refused.
    pub fn try_member(&self, role: &str, name: &str) -> Result<MemberRecord, SetupError> {
        Ok(registry::create_member(&self.relay, &new_member(&self.station, role, name))?)
    }

    /// Registers a member of another station ([`new_member`]).
    pub fn member_at(&self, station: &StationRecord, role: &str, name: &str) -> MemberRecord {
        registry::create_member(&self.relay, &new_member(station, role, name)).unwrap()
    }

    /// A one-time enrollment code for one device of `member`, valid for the default days.
    pub fn code(&self, member: &MemberRecord) -> String {
        self.try_code(member).unwrap()
    }

    fn try_code(&self, member: &MemberRecord) -> Result<String, SetupError> {
        Ok(registry::issue_enrollment_code(&self.relay, member.id.as_str(), registry::DEFAULT_CODE_DAYS)?.0)
    }

    /// Issues a code for `member` and enrolls a device with it over `/v1/enroll`, in-process,
    /// with a signing key of its own (as a phone of this build enrolls).
    pub fn enroll(&self, member: &MemberRecord) -> (EnrollResponse, ActorId, DeviceKey) {
        let actor = ActorId::random();
        let key = DeviceKey::generate().unwrap();
        let request = EnrollRequest { code: self.code(member), actor: actor.to_hex_string(), signing_key: Some(key.public()) };
        let answer = self.call(
            &self.router,
            Request::builder()
                .method("POST")
                .uri("/v1/enroll")
                .header("content-type", "application/octet-stream")
                .body(Body::from(wire::encode(&request)))
                .unwrap(),
        );
        assert_eq!(answer.status(), StatusCode::OK, "{}", String::from_utf8_lossy(answer.body()));
        (wire::decode(answer.body()).unwrap(), actor, key)
    }

    fn phone_dir(&self) -> std::io::Result<TempDir> {
        let mut builder = tempfile::Builder::new();
        builder.prefix("phone-");
        match &self.phones_in {
            Some(dir) => builder.tempdir_in(dir),
            None => builder.tempdir(),
        }
    }

    /// A phone of `member`, enrolled in-process ([`TestRelay::enroll`]), for the in-process
    /// transports; its relay address does not resolve.
    pub fn phone(&self, member: &MemberRecord) -> Phone {
        let (enrolled, actor, key) = self.enroll(member);
        let dir = self.phone_dir().unwrap();
        let enrollment = Enrollment {
            identity: NewIdentity {
                member: member.id.clone(),
                station: member.station.clone(),
                role: Role::parse(&enrolled.role).unwrap(),
            },
            actor: actor.to_hex_string(),
            relay: "http://relay.invalid".into(),
            device: enrolled.device,
            token: enrolled.token,
            signing_key: Some(key),
        };
        let engine = Engine::create_enrolled(dir.path(), &enrollment, self.phone_clock.clone()).unwrap();
        Phone::from_engine(engine, member, dir, self.phone_clock.clone()).unwrap()
    }

    /// A phone of `member`, enrolled over HTTP with a fresh code at this relay's
    /// [`TestRelay::url`], as the app does.
    pub fn http_phone(&self, member: &MemberRecord) -> Phone {
        self.try_http_phone(member).unwrap()
    }

    /// [`TestRelay::http_phone`], or why it could not be enrolled.
    pub fn try_http_phone(&self, member: &MemberRecord) -> Result<Phone, SetupError> {
        let url = self.server.listen(&self.router)?;
        self.try_http_phone_via(&format!("http://{url}"), member)
    }

    /// A phone of `member`, enrolled over HTTP with a fresh code at `url` (a proxy in
    /// front of this relay).
    pub fn http_phone_via(&self, url: &str, member: &MemberRecord) -> Phone {
        self.try_http_phone_via(url, member).unwrap()
    }

    fn try_http_phone_via(&self, url: &str, member: &MemberRecord) -> Result<Phone, SetupError> {
        let code = self.try_code(member)?;
        Ok(Phone::enroll(url, &code, member, self.phone_dir()?, self.phone_clock.clone())?)
    }

    /// A sync transport to this relay in-process with the device `token`.
    pub fn transport(&self, token: &str) -> InProcess<'_> {
        InProcess::new(&self.server, self.router.clone(), token)
    }

    /// A sync transport in-process to `router` (another relay on this store), on this
    /// relay's runtime.
    pub fn transport_via(&self, router: &Router, token: &str) -> InProcess<'_> {
        InProcess::new(&self.server, router.clone(), token)
    }

    /// The relay's copy of document `id`, from its store.
    pub fn document<Id: std::fmt::Display + ?Sized>(&self, id: &Id) -> Automerge {
        let stored = self.store().document(&id.to_string()).unwrap().unwrap_or_else(|| panic!("no {id} on the relay"));
        Automerge::load(&stored.bytes).unwrap()
    }

    /// The store generation of document `id` (bumped on every write; 0 before it exists).
    pub fn generation<Id: std::fmt::Display + ?Sized>(&self, id: &Id) -> i64 {
        self.store().document(&id.to_string()).unwrap().map_or(0, |d| d.generation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_served_relay_enrolls_phones_over_http_and_in_process_and_stops_when_dropped() {
        let relay = TestRelay::new();
        let volunteer = relay.member("volunteer", "Li Wei");
        let elder = relay.member("elder", "Wang Fang");
        assert_eq!(elder.birth_year, Some(ELDER_BORN));

        let mut phone = relay.http_phone(&volunteer);
        assert_eq!(phone.url, relay.url());
        phone.log_visit(&elder.id, "tea");
        phone.sync().unwrap();
        assert_eq!(phone.visit_states(), ["sent"]);

        let mut tablet = relay.phone(&volunteer);
        let mut transport = relay.transport(&tablet.token).recording();
        tablet.engine.sync(&mut transport).unwrap();
        assert_eq!(tablet.visit_states(), ["sent"]);
        assert_eq!(transport.exchanges.len(), 1);
        drop(transport);

        let started = Instant::now();
        drop(relay);
        assert!(started.elapsed() < Duration::from_secs(2), "stopping took {:?}", started.elapsed());
        assert!(phone.sync().is_err(), "the relay no longer answers");
    }
}
