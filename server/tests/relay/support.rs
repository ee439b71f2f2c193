//! Test support: the shared test relay (`timebank-testing`: a real SQLite store in a
//! temporary directory, a clock the tests move, members, phones that are real engines)
//! called through its router in-process, with what these tests send it by hand: raw
//! requests from chosen addresses, sync requests, forged changes.

use std::net::SocketAddr;
use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;

use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, ChangeHash};
use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode};
use timebank_engine::model::{MemberId, StationId};
use timebank_engine::sync::wire::{self, DocPush, SyncRequest, SyncResponse};
use timebank_server::store::SqliteStore;
use timebank_server::{Relay, app};
pub use timebank_testing::{InProcess, Phone};

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

/// The shared test relay, with requests sent to it by hand.
pub struct TestRelay(timebank_testing::TestRelay);

impl Deref for TestRelay {
    type Target = timebank_testing::TestRelay;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl TestRelay {
    /// A fresh relay with station "Caoyang".
    pub fn new() -> TestRelay {
        TestRelay(timebank_testing::TestRelay::new())
    }

    /// A fresh relay with station "Caoyang" and the operator's `settings`.
    pub fn with_settings(settings: timebank_server::relay::Settings) -> TestRelay {
        TestRelay(timebank_testing::TestRelay::builder().settings(settings).start())
    }

    /// A fresh relay whose phones use its clock (a test moves both).
    pub fn with_phones_on_its_clock() -> TestRelay {
        TestRelay(timebank_testing::TestRelay::builder().phones_on_relay_clock().start())
    }

    /// A second relay process on the same data directory (another relay sharing the
    /// store, or what an admin command sees).
    pub fn second_relay(&self) -> Router {
        let store = SqliteStore::open(self.dir.path()).unwrap();
        app(Arc::new(Relay::new(Arc::new(store), self.clock.clone()).unwrap()))
    }

    /// The relay's router as a client at `address` reaches it (its socket's peer address,
    /// as `into_make_service_with_connect_info` would give it).
    pub fn from(&self, address: &str) -> Router {
        self.router.clone().layer(MockConnectInfo(SocketAddr::new(address.parse().unwrap(), 40_000)))
    }

    /// Sends `request` through `router`.
    pub fn send(&self, router: &Router, request: Request<Body>) -> Answer {
        let response = self.call(router, request);
        let status = response.status();
        let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().parse().unwrap());
        Answer { status, retry_after, body: response.into_body().to_vec() }
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

    /// The in-process transport a phone uses to reach this relay, keeping what went by.
    pub fn transport(&self, token: &str) -> InProcess<'_> {
        self.0.transport(token).recording()
    }

    /// A transport to another relay (`router`) over this test's runtime, keeping what went by.
    pub fn transport_via(&self, router: &Router, token: &str) -> InProcess<'_> {
        self.0.transport_via(router, token).recording()
    }

    /// Syncs `phone` with this relay and returns the report.
    pub fn sync_phone(&self, phone: &mut Phone) -> timebank_engine::sync::SyncReport {
        let mut transport = self.transport(&phone.token);
        phone.engine.sync(&mut transport).unwrap()
    }

    /// Writes an outcome into `member`'s ledger as the relay (what the ledger issue will do).
    pub fn write_outcome(&self, member: &MemberId, subject: &str, status: &str) {
        write_outcome_on(&self.relay, member, subject, status);
    }
}

/// Writes an outcome into `member`'s ledger as `relay` (with that relay process's actor).
pub fn write_outcome_on(relay: &Relay, member: &MemberId, subject: &str, status: &str) {
    write_outcomes_on(relay, member, &[subject.to_owned()], status);
}

/// Writes an outcome of `status` for each of `subjects` into `member`'s ledger as `relay`,
/// in one change.
pub fn write_outcomes_on(relay: &Relay, member: &MemberId, subjects: &[String], status: &str) {
    let ledger = format!("ledger/{member}");
    let stored = relay.store().document(&ledger).unwrap().unwrap();
    let mut doc = Automerge::load(&stored.bytes).unwrap().with_actor(relay.actor().clone());
    let before = doc.get_heads();
    doc.transact::<_, _, automerge::AutomergeError>(|tx| {
        let outcomes = timebank_engine::documents::fields::map_at(tx, &automerge::ROOT, "outcomes").unwrap();
        for subject in subjects {
            let outcome = tx.put_object(&outcomes, subject.as_str(), automerge::ObjType::Map)?;
            tx.put(&outcome, "status", status)?;
        }
        Ok(())
    })
    .unwrap();
    let batch = timebank_server::store::WriteBatch {
        chunks: vec![(ledger, doc.save_after(&before))],
        ..timebank_server::store::WriteBatch::default()
    };
    relay.store().write_batch(&batch, 0).unwrap();
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
    let obj = path.iter().fold(automerge::ROOT, |obj, k| timebank_engine::documents::fields::map_at(tx, &obj, k).unwrap());
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
