//! Test support: a relay on a real SQLite store in a temporary directory, called through
//! its router in-process (`app(..).oneshot(..)`), a clock the tests move, stations and
//! members made with the admin functions, and phones (real engines) that sync through an
//! in-process transport.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, ChangeHash};
use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Duration, Utc};
use tempfile::TempDir;
use timebank_engine::model::{MemberId, Role, StationId};
use timebank_engine::sync::wire::{self, DocPush, EnrollRequest, EnrollResponse, SyncRequest, SyncResponse};
use timebank_engine::sync::{Transport, TransportError};
use timebank_engine::{Clock, DocId, Engine, Enrollment, MonotonicReading, NewIdentity, PastVisit, SystemClock};
use timebank_server::registry::{self, NewMember};
use timebank_server::store::{MemberRecord, RelayStore, SqliteStore, StationRecord};
use timebank_server::{Relay, app};
use tower::ServiceExt as _;

/// A wall clock the test sets; no monotonic clock.
#[derive(Debug)]
pub struct TestClock {
    now: Mutex<DateTime<Utc>>,
}

impl TestClock {
    /// A clock at the real time now (so phones on the system clock agree with the relay).
    pub fn new() -> Arc<TestClock> {
        Arc::new(TestClock { now: Mutex::new(Utc::now()) })
    }

    /// Time passes.
    pub fn advance(&self, by: Duration) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn monotonic(&self) -> Option<MonotonicReading> {
        None
    }
}

/// An HTTP answer: status, `Retry-After` (seconds) and body.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub retry_after: Option<u64>,
    pub body: Vec<u8>,
}

impl Answer {
    /// The `error` of a JSON error body (panics if the body is not one).
    pub fn error(&self) -> String {
        let value: serde_json::Value = serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not a JSON error body ({e}): {:?}", String::from_utf8_lossy(&self.body)));
        value["error"].as_str().unwrap_or_else(|| panic!("no error field in {value}")).to_owned()
    }

    /// The body as a sync response (panics unless the status is 200).
    pub fn sync_response(&self) -> SyncResponse {
        assert_eq!(self.status, StatusCode::OK, "{}", String::from_utf8_lossy(&self.body));
        wire::decode(&self.body).unwrap()
    }
}

/// A relay with its store in a temporary directory, and one station.
pub struct TestRelay {
    pub dir: TempDir,
    pub relay: Arc<Relay>,
    pub router: Router,
    pub clock: Arc<TestClock>,
    pub station: StationRecord,
    runtime: Arc<tokio::runtime::Runtime>,
}

impl TestRelay {
    /// A fresh relay with station "Caoyang".
    pub fn new() -> TestRelay {
        let dir = tempfile::tempdir().unwrap();
        let clock = TestClock::new();
        let relay = Arc::new(Relay::new(Arc::new(SqliteStore::open(dir.path()).unwrap()), clock.clone()).unwrap());
        let station = registry::create_station(&relay, "Caoyang").unwrap();
        let runtime = Arc::new(tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap());
        TestRelay { router: app(relay.clone()), dir, relay, clock, station, runtime }
    }

    /// A second relay process on the same data directory (another relay sharing the
    /// store, or what an admin command sees).
    pub fn second_relay(&self) -> Router {
        let store = SqliteStore::open(self.dir.path()).unwrap();
        app(Arc::new(Relay::new(Arc::new(store), self.clock.clone()).unwrap()))
    }

    pub fn store(&self) -> &dyn RelayStore {
        self.relay.store()
    }

    /// The relay's router as a client at `address` reaches it (its socket's peer address,
    /// as `into_make_service_with_connect_info` would give it).
    pub fn from(&self, address: &str) -> Router {
        self.router.clone().layer(MockConnectInfo(SocketAddr::new(address.parse().unwrap(), 40_000)))
    }

    /// Sends `request` through `router`.
    pub fn send(&self, router: &Router, request: Request<Body>) -> Answer {
        self.runtime.block_on(async {
            let response = router.clone().oneshot(request).await.unwrap();
            let status = response.status();
            let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().parse().unwrap());
            let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec();
            Answer { status, retry_after, body }
        })
    }

    /// POSTs `body` to `path` through `router`.
    pub fn post_to(&self, router: &Router, path: &str, token: Option<&str>, body: Vec<u8>) -> Answer {
        let mut request = Request::builder().method("POST").uri(path).header("content-type", "application/octet-stream");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        self.send(router, request.body(Body::from(body)).unwrap())
    }

    /// POSTs `body` to `path`.
    pub fn post(&self, path: &str, token: Option<&str>, body: Vec<u8>) -> Answer {
        self.post_to(&self.router, path, token, body)
    }

    /// GETs `path`.
    pub fn get(&self, path: &str) -> Answer {
        self.send(&self.router, Request::builder().uri(path).body(Body::empty()).unwrap())
    }

    /// A sync request with `token`.
    pub fn sync(&self, token: &str, request: &SyncRequest) -> Answer {
        self.post("/v1/sync", Some(token), wire::encode(request))
    }

    /// Registers a member of the station.
    pub fn member(&self, role: &str, name: &str) -> MemberRecord {
        registry::create_member(&self.relay, &NewMember {
            station: self.station.id.as_str(),
            role,
            name,
            birth_year: if role == "elder" { 1940 } else { 1980 },
            household: None,
            hardship: false,
        })
        .unwrap()
    }

    /// Issues a code for `member` and enrolls a device with it over `/v1/enroll`.
    pub fn enroll(&self, member: &MemberRecord) -> (EnrollResponse, ActorId) {
        let (code, _) = registry::issue_enrollment_code(&self.relay, member.id.as_str(), 7).unwrap();
        let actor = ActorId::random();
        let answer = self.post(
            "/v1/enroll",
            None,
            wire::encode(&EnrollRequest { code, actor: actor.to_hex_string() }),
        );
        assert_eq!(answer.status, StatusCode::OK, "{}", String::from_utf8_lossy(&answer.body));
        (wire::decode(&answer.body).unwrap(), actor)
    }

    /// A phone of `member`: enrolled, with an engine on its own store.
    pub fn phone(&self, member: &MemberRecord) -> Phone {
        let (enrolled, actor) = self.enroll(member);
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::create_enrolled(
            dir.path(),
            &Enrollment {
                identity: NewIdentity {
                    member: member.id.clone(),
                    station: member.station.clone(),
                    role: Role::parse(&enrolled.role).unwrap(),
                },
                actor: actor.to_hex_string(),
                relay: "http://relay.invalid".into(),
                device: enrolled.device.clone(),
                token: enrolled.token.clone(),
            },
            Arc::new(SystemClock),
        )
        .unwrap();
        Phone { engine, dir, token: enrolled.token, device: enrolled.device, actor, member: member.clone() }
    }

    /// The transport a phone uses to reach this relay in-process.
    pub fn transport(&self, token: &str) -> InProcess<'_> {
        InProcess { relay: self, router: self.router.clone(), token: token.to_owned(), exchanges: Vec::new(), drop_answers: 0 }
    }

    /// A transport to another relay (`router`) over this test's runtime.
    pub fn transport_via(&self, router: &Router, token: &str) -> InProcess<'_> {
        InProcess { relay: self, router: router.clone(), token: token.to_owned(), exchanges: Vec::new(), drop_answers: 0 }
    }

    /// Syncs `phone` with this relay and returns the report.
    pub fn sync_phone(&self, phone: &mut Phone) -> timebank_engine::sync::SyncReport {
        let mut transport = self.transport(&phone.token);
        phone.engine.sync(&mut transport).unwrap()
    }

    /// The relay's copy of document `id`.
    pub fn document(&self, id: &str) -> Automerge {
        Automerge::load(&self.store().document(id).unwrap().unwrap().bytes).unwrap()
    }

    /// Writes an outcome into `member`'s ledger as the relay (what the ledger issue will do).
    pub fn write_outcome(&self, member: &MemberId, subject: &str, status: &str) {
        write_outcome_on(&self.relay, member, subject, status);
    }

    /// The generation of document `id` in the store.
    pub fn generation(&self, id: &str) -> i64 {
        self.store().document(id).unwrap().unwrap().generation
    }
}

/// Writes an outcome into `member`'s ledger as `relay` (with that relay process's actor).
pub fn write_outcome_on(relay: &Relay, member: &MemberId, subject: &str, status: &str) {
    let ledger = format!("ledger/{member}");
    let stored = relay.store().document(&ledger).unwrap().unwrap();
    let mut doc = Automerge::load(&stored.bytes).unwrap().with_actor(relay.actor().clone());
    let before = doc.get_heads();
    doc.transact::<_, _, automerge::AutomergeError>(|tx| {
        let outcomes = timebank_engine::documents::fields::map_at(tx, &automerge::ROOT, "outcomes").unwrap();
        let outcome = tx.put_object(&outcomes, subject, automerge::ObjType::Map)?;
        tx.put(&outcome, "status", status)?;
        Ok(())
    })
    .unwrap();
    let batch = timebank_server::store::WriteBatch { chunks: vec![(ledger, doc.save_after(&before))], ..timebank_server::store::WriteBatch::default() };
    relay.store().write_batch(&batch, 0).unwrap();
}

/// An enrolled phone.
pub struct Phone {
    pub engine: Engine,
    pub dir: TempDir,
    pub token: String,
    pub device: String,
    pub actor: ActorId,
    pub member: MemberRecord,
}

impl Phone {
    /// Logs a finished one-hour visit to `elder`, some days ago: each visit logged (by any
    /// phone) is two hours after the one before, so visits keep their order and the
    /// ledger never sees them overlap.
    pub fn log_visit(&mut self, elder: &MemberId, note: &str) -> timebank_engine::model::VisitId {
        let now = Utc::now();
        static EARLIER: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
        let earlier = 2 * (24 * 10 - EARLIER.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % (24 * 10));
        self.engine
            .log_visit(&PastVisit {
                elder: elder.clone(),
                service: "companionship".into(),
                order: None,
                start: now - Duration::hours(3 + earlier),
                end: now - Duration::hours(2 + earlier),
                note: note.into(),
            })
            .unwrap()
    }

    /// The state labels of this phone's visits.
    pub fn visit_states(&self) -> Vec<String> {
        self.engine.visits().unwrap().into_iter().map(|v| v.state_label).collect()
    }

    /// The ids of the documents on this phone, sorted.
    pub fn documents(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.engine.document_ids().iter().map(ToString::to_string).collect();
        ids.sort();
        ids
    }

    /// This phone's copy of document `id`.
    pub fn document(&self, id: &DocId) -> Automerge {
        Automerge::load(&self.engine.document_bytes(id).unwrap()).unwrap()
    }
}

/// A transport that hands each request to the router in-process, keeping what went by.
pub struct InProcess<'a> {
    relay: &'a TestRelay,
    router: Router,
    token: String,
    /// Every (request, response) body exchanged.
    pub exchanges: Vec<(Vec<u8>, Vec<u8>)>,
    /// How many answers to lose (the relay handles the request, the phone hears nothing).
    pub drop_answers: usize,
}

impl Transport for InProcess<'_> {
    fn exchange(&mut self, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        let answer = self.relay.post_to(&self.router, "/v1/sync", Some(&self.token), body.clone());
        if !answer.status.is_success() {
            return Err(TransportError::Refused { status: answer.status.as_u16(), message: answer.error() });
        }
        self.exchanges.push((body, answer.body.clone()));
        if self.drop_answers > 0 {
            self.drop_answers -= 1;
            return Err(TransportError::Unreachable("the connection dropped before the answer arrived".into()));
        }
        Ok(answer.body)
    }
}

/// A change to document `id` made on top of `doc` by `actor`: what a tampered client
/// could send. Returns the raw change and the heads it was made on.
pub fn forged_change(
    doc: &Automerge,
    actor: &ActorId,
    edit: impl FnOnce(&mut automerge::transaction::Transaction<'_>),
) -> (Vec<u8>, Vec<ChangeHash>) {
    let mut doc = doc.clone().with_actor(actor.clone());
    let before = doc.get_heads();
    let mut tx = doc.transaction();
    edit(&mut tx);
    tx.commit();
    let change = doc.get_last_local_change().unwrap().raw_bytes().to_vec();
    (change, before)
}

/// A request that pushes `changes` to `doc`, claiming `acked` as the acknowledged heads.
pub fn push(doc: &str, acked: &[ChangeHash], changes: Vec<Vec<u8>>) -> SyncRequest {
    SyncRequest {
        manifest: None,
        docs: vec![DocPush { doc: doc.into(), acked: wire::heads_digest(acked), changes, ..DocPush::default() }],
    }
}

/// A request listing every document the relay acknowledged to `device`, with `changes`
/// pushed to `doc`: what an honest phone sends, plus the given changes.
pub fn listing(relay: &TestRelay, device: &str, doc: &str, changes: Vec<Vec<u8>>) -> SyncRequest {
    let mut acked: Vec<(String, timebank_server::store::AckedHeads)> =
        relay.store().acked_heads(device).unwrap().into_iter().collect();
    acked.sort_by(|a, b| a.0.cmp(&b.0));
    let mut changes = Some(changes);
    let docs = acked
        .into_iter()
        .map(|(id, heads)| DocPush {
            changes: if id == doc { changes.take().unwrap_or_default() } else { Vec::new() },
            acked: wire::heads_digest(&heads.cur),
            doc: id,
            ..DocPush::default()
        })
        .collect();
    SyncRequest { manifest: None, docs }
}

/// Puts `value` at `key` inside the map at `path` from the root.
pub fn put_at(tx: &mut automerge::transaction::Transaction<'_>, path: &[&str], key: &str, value: &str) {
    let obj = path
        .iter()
        .fold(automerge::ROOT, |obj, k| timebank_engine::documents::fields::map_at(tx, &obj, k).unwrap());
    tx.put(&obj, key, value).unwrap();
}

/// The document ids in a sync response.
pub fn pulled(response: &SyncResponse) -> Vec<String> {
    let mut ids: Vec<String> = response.docs.iter().map(|d| d.doc.clone()).collect();
    ids.sort();
    ids
}

/// Sorted document ids of a member and a station.
pub fn own_docs(member: &MemberId, station: &StationId) -> Vec<String> {
    let mut ids = vec![format!("ledger/{member}"), format!("member/{member}"), format!("station/{station}")];
    ids.sort();
    ids
}

/// Reads a whole file, and its WAL, as bytes.
pub fn store_bytes(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for name in ["relay.sqlite3", "relay.sqlite3-wal"] {
        if let Ok(mut more) = std::fs::read(dir.join(name)) {
            bytes.append(&mut more);
        }
    }
    bytes
}
