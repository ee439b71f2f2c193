//! The engine API: what the phone app and the CLI call. One `Engine` per device store;
//! every write is durable on disk before the call returns. This file opens the store and
//! holds what every area reads; each area's commands are an `impl Engine` block of their
//! own: `visits.rs` (volunteers), `orders.rs` (orders and assignments), `requests.rs`
//! (spending coins, the balance), `coordinator.rs` (dispatch, reviews, redemptions),
//! `presence.rs` (the elder's phone co-signing a visit),
//! `documents.rs` (merging and compaction), and `write.rs` (the one write path).

mod coordinator;
mod documents;
mod orders;
mod presence;
mod requests;
mod visits;
mod write;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use automerge::{ActorId, Automerge};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::clock::{Clock, SystemClock};
use crate::documents::{DocId, member, station, view};
use crate::error::{Error, Result};
use crate::model::service::{ServiceKind, find_service};
use crate::model::{
    MemberId, Order, OrderFacts, OrderId, OutcomeStatus, Profile, Role, Service, StationId, Verification, Visit, VisitId, VisitRules,
    VisitSource,
};
use crate::notify::{Listener, Listeners, Subscription};
use crate::storage::{self, STORE_FILE, Storage};
use crate::views::Status;
use write::load;

/// A document with more chunks than this is compacted into one snapshot when the store
/// opens or when [`Engine::compact`] runs.
pub const COMPACT_AFTER_CHUNKS: usize = 128;

/// The store's `meta` key of the device's signing key (its secret; never leaves the phone).
const SIGNING_KEY: &str = "signing_key";

/// Who this device belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// The member.
    pub member: MemberId,
    /// Their station.
    pub station: StationId,
    /// Their role.
    pub role: Role,
    /// This device's automerge actor id, hex.
    pub device: String,
}

/// What a new store needs to know (from `init`, later from enrollment).
#[derive(Clone, Debug)]
pub struct NewIdentity {
    /// The member.
    pub member: MemberId,
    /// Their station.
    pub station: StationId,
    /// Their role.
    pub role: Role,
}

/// What enrollment with a relay gave this device.
#[derive(Clone, Debug)]
pub struct Enrollment {
    /// Who the device belongs to.
    pub identity: NewIdentity,
    /// The actor id (hex) the device registered.
    pub actor: String,
    /// The relay's base URL.
    pub relay: String,
    /// The device's id on the relay.
    pub device: String,
    /// The bearer token for sync.
    pub token: String,
    /// The device's signing key, whose public half the relay registered (ADR 29).
    pub signing_key: Option<crate::signing::DeviceKey>,
}

/// How this device reaches its relay.
#[derive(Clone, PartialEq, Eq)]
pub struct RelayLink {
    /// The relay's base URL.
    pub url: String,
    /// The bearer token (secret; never printed).
    pub token: String,
    /// The device's id on the relay.
    pub device: String,
}

impl std::fmt::Debug for RelayLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayLink").field("url", &self.url).field("device", &self.device).finish_non_exhaustive()
    }
}

/// A visit logged afterwards, from a paper record.
#[derive(Clone, Debug)]
pub struct PastVisit {
    /// Who was served.
    pub elder: MemberId,
    /// Catalogue id of the service.
    pub service: String,
    /// The order it fulfilled, if any.
    pub order: Option<OrderId>,
    /// When it started.
    pub start: DateTime<Utc>,
    /// When it ended.
    pub end: DateTime<Utc>,
    /// Free text.
    pub note: String,
}

impl PastVisit {
    /// The visit record this paper entry becomes: a new id, entered at `recorded_at` on
    /// `device` (actor hex) by `volunteer`.
    pub fn to_visit(&self, volunteer: &MemberId, device: &str, recorded_at: DateTime<Utc>) -> Visit {
        Visit {
            id: VisitId::generate(),
            volunteer: volunteer.clone(),
            elder: self.elder.clone(),
            service: self.service.clone(),
            order: self.order.clone(),
            check_in: self.start,
            check_out: Some(self.end),
            monotonic_ms: None,
            source: VisitSource::Paper,
            note: self.note.clone(),
            recorded_at,
            check_out_recorded_at: None,
            device: device.to_owned(),
            confirmation: None,
            evidence: Default::default(),
        }
    }
}

/// The engine over one device's store.
pub struct Engine {
    pub(crate) storage: Storage,
    identity: Identity,
    actor: ActorId,
    pub(crate) docs: BTreeMap<DocId, Automerge>,
    chunk_counts: HashMap<DocId, usize>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) listeners: Listeners,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("store", &self.storage.path())
            .field("identity", &self.identity)
            .field("documents", &self.docs.len())
            .finish_non_exhaustive()
    }
}

impl Engine {
    // ----- opening -----

    /// Creates a new store in `dir` for `who`, with a fresh device actor id.
    pub fn create(dir: &Path, who: NewIdentity) -> Result<Engine> {
        Self::create_with_clock(dir, who, Arc::new(SystemClock))
    }

    /// [`Engine::create`] with an injected clock (tests, bindings). The profile is written
    /// locally, since no relay holds it yet.
    pub fn create_with_clock(dir: &Path, who: NewIdentity, clock: Arc<dyn Clock>) -> Result<Engine> {
        let mut engine = Self::create_store(dir, who, ActorId::random(), &[], clock)?;
        let profile = Profile {
            id: engine.identity.member.clone(),
            role: engine.identity.role,
            station: engine.identity.station.clone(),
            display_name: String::new(),
            birth_year: None,
            household: None,
            verification: Verification::Pending,
        };
        let own = engine.own_doc_id();
        engine.write(profile.id.as_str(), &[], &[(own, &|tx| member::put_profile(tx, &profile))])?;
        Ok(engine)
    }

    /// Creates the store of a device that enrolled with a relay: the identity and actor id
    /// it registered, the relay's address and the device token. The member's documents
    /// arrive with the first sync.
    pub fn create_enrolled(dir: &Path, enrolled: &Enrollment, clock: Arc<dyn Clock>) -> Result<Engine> {
        let actor = ActorId::try_from(enrolled.actor.as_str())
            .map_err(|e| Error::invalid(format!("the device id {:?} is not valid: {e}", enrolled.actor)))?;
        let secret = enrolled.signing_key.as_ref().map(crate::signing::DeviceKey::secret_hex);
        let mut link =
            vec![("relay", enrolled.relay.as_str()), ("token", enrolled.token.as_str()), ("relay_device", enrolled.device.as_str())];
        link.extend(secret.as_deref().map(|s| (SIGNING_KEY, s)));
        Self::create_store(dir, enrolled.identity.clone(), actor, &link, clock)
    }

    fn create_store(dir: &Path, who: NewIdentity, actor: ActorId, extra: &[(&str, &str)], clock: Arc<dyn Clock>) -> Result<Engine> {
        if dir.join(STORE_FILE).exists() {
            let storage = Storage::open(dir, false)?;
            if storage::meta(storage.conn(), "member")?.is_some() {
                return Err(Error::AlreadyInitialised(dir.to_path_buf()));
            }
        }
        let mut storage = Storage::open(dir, true)?;
        let identity = Identity { member: who.member, station: who.station, role: who.role, device: actor.to_hex_string() };
        let tx = storage.begin()?;
        storage::put_meta(&tx, "member", identity.member.as_str())?;
        storage::put_meta(&tx, "station", identity.station.as_str())?;
        storage::put_meta(&tx, "role", identity.role.as_str())?;
        storage::put_meta(&tx, "device", &identity.device)?;
        for (key, value) in extra {
            storage::put_meta(&tx, key, value)?;
        }
        tx.commit()?;
        Ok(Engine {
            storage,
            identity,
            actor,
            docs: BTreeMap::new(),
            chunk_counts: HashMap::new(),
            clock,
            listeners: Listeners::default(),
        })
    }

    /// This device's signing key, if it registered one when it enrolled.
    pub(crate) fn signing_key(&self) -> Result<Option<crate::signing::DeviceKey>> {
        let stored = storage::meta(self.storage.conn(), SIGNING_KEY)?;
        stored
            .map(|raw| {
                crate::signing::DeviceKey::from_secret_hex(&raw).ok_or_else(|| Error::Corrupt {
                    path: self.storage.path().to_path_buf(),
                    detail: "the device's signing key is not 32 bytes of hex".into(),
                })
            })
            .transpose()
    }

    /// The relay this device enrolled with, if it did.
    pub fn relay_link(&self) -> Result<Option<RelayLink>> {
        let conn = self.storage.conn();
        match (storage::meta(conn, "relay")?, storage::meta(conn, "token")?, storage::meta(conn, "relay_device")?) {
            (Some(url), Some(token), Some(device)) => Ok(Some(RelayLink { url, token, device })),
            _ => Ok(None),
        }
    }

    /// Opens the store in `dir`.
    pub fn open(dir: &Path) -> Result<Engine> {
        Self::open_with_clock(dir, Arc::new(SystemClock))
    }

    /// [`Engine::open`] with an injected clock (tests, bindings).
    pub fn open_with_clock(dir: &Path, clock: Arc<dyn Clock>) -> Result<Engine> {
        let storage = Storage::open(dir, false)?;
        let conn = storage.conn();
        let read = |key: &str| -> Result<String> { storage::meta(conn, key)?.ok_or_else(|| Error::NoStore(dir.to_path_buf())) };
        let corrupt = |detail: String| Error::Corrupt { path: storage.path().to_path_buf(), detail };
        let identity = Identity {
            member: MemberId::parse(&read("member")?).map_err(|e| corrupt(e.to_string()))?,
            station: StationId::parse(&read("station")?).map_err(|e| corrupt(e.to_string()))?,
            role: Role::parse(&read("role")?).map_err(|e| corrupt(e.to_string()))?,
            device: read("device")?,
        };
        let actor = ActorId::try_from(identity.device.as_str()).map_err(|e| corrupt(e.to_string()))?;
        let mut docs = BTreeMap::new();
        let mut chunk_counts = HashMap::new();
        for raw_id in storage::document_ids(conn)? {
            let id: DocId = raw_id.parse().map_err(|e: Error| corrupt(e.to_string()))?;
            let (doc, chunks) = load(&storage, &id)?;
            docs.insert(id.clone(), doc);
            chunk_counts.insert(id, chunks);
        }
        let mut engine = Engine { storage, identity, actor, docs, chunk_counts, clock, listeners: Listeners::default() };
        engine.compact_over(COMPACT_AFTER_CHUNKS)?;
        Ok(engine)
    }

    /// Who this device belongs to.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Registers a listener for change notifications until the subscription is dropped.
    pub fn subscribe(&mut self, listener: Arc<dyn Listener>) -> Subscription {
        self.listeners.subscribe(listener)
    }

    /// The store at a glance.
    pub fn status(&self) -> Result<Status> {
        let visits = self.own_visits();
        Ok(Status {
            member: self.identity.member.to_string(),
            station: self.identity.station.to_string(),
            role: self.identity.role.as_str().to_owned(),
            device: self.identity.device.clone(),
            visits: visits.len(),
            open_visits: visits.iter().filter(|v| v.is_open()).count(),
            unsynced_changes: storage::unsynced_count(self.storage.conn())?,
            documents: self.docs.len(),
            store_bytes: self.storage.bytes_on_disk(),
        })
    }

    /// The station's service catalogue (the default one until the station document arrives).
    pub fn catalogue(&self) -> Vec<Service> {
        self.docs.get(&DocId::Station(self.identity.station.clone())).map_or_else(crate::model::default_catalogue, station::catalogue)
    }

    /// The service `id` of the station's catalogue if it is of the `wanted` kind, else the
    /// error naming those that are. Reads the one entry when the station lists it: a
    /// volunteer logs visits all day on a cheap phone, and reading the whole catalogue was
    /// an eighth of each visit's work.
    pub(crate) fn service(&self, id: &str, wanted: ServiceKind) -> Result<Service> {
        let listed = self.docs.get(&DocId::Station(self.identity.station.clone())).and_then(|doc| station::listed_service(doc, id));
        match listed {
            Some(service) if service.kind == wanted => Ok(service),
            _ => Ok(find_service(&self.catalogue(), id, wanted)?.clone()),
        }
    }

    // ----- what every area reads -----

    fn require(&self, roles: &[Role], action: &str) -> Result<()> {
        if roles.contains(&self.identity.role) {
            return Ok(());
        }
        let allowed: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        Err(Error::NotAllowed(format!(
            "{action} is for {} devices; this device belongs to {} ({})",
            allowed.join(" or "),
            self.identity.member,
            self.identity.role.as_str()
        )))
    }

    fn rules(&self) -> VisitRules {
        self.docs.get(&DocId::Station(self.identity.station.clone())).map(station::visit_rules).unwrap_or_default()
    }

    /// Follows the station the relay writes into the member's own profile when they move
    /// (ADR 42): the identity, and with it the station whose catalogue, rules and notices
    /// the phone reads, is the new one from here on.
    fn follow_station(&mut self) -> Result<()> {
        let Some(station) = member::profile(self.own_doc()).map(|p| p.station) else { return Ok(()) };
        if station == self.identity.station {
            return Ok(());
        }
        let tx = self.storage.begin()?;
        storage::put_meta(&tx, "station", station.as_str())?;
        tx.commit()?;
        self.identity.station = station;
        self.listeners.notify(&[crate::notify::Topic::Station]);
        Ok(())
    }

    fn own_doc_id(&self) -> DocId {
        DocId::Member(self.identity.member.clone())
    }

    fn own_doc(&self) -> &Automerge {
        static EMPTY: std::sync::OnceLock<Automerge> = std::sync::OnceLock::new();
        self.docs.get(&self.own_doc_id()).unwrap_or_else(|| EMPTY.get_or_init(Automerge::new))
    }

    fn own_visits(&self) -> Vec<Visit> {
        member::visits(self.own_doc(), &self.identity.member)
    }

    fn own_visit(&self, id: &VisitId) -> Result<Visit> {
        member::visit(self.own_doc(), &self.identity.member, id).ok_or_else(|| Error::NotFound { what: "visit", id: id.to_string() })
    }

    fn member_docs(&self) -> impl Iterator<Item = (&MemberId, &Automerge)> {
        self.docs.iter().filter_map(|(id, doc)| match id {
            DocId::Member(m) => Some((m, doc)),
            _ => None,
        })
    }

    fn find_order(&self, order: &OrderId) -> Result<Order> {
        self.member_docs()
            .flat_map(|(_, doc)| member::orders(doc))
            .find(|o| &o.id == order)
            .ok_or_else(|| Error::NotFound { what: "order", id: order.to_string() })
    }

    fn order_facts(&self, order: &Order) -> OrderFacts {
        view::order_facts(|id| self.docs.get(id), order)
    }

    fn outcome_status(&self, member: &MemberId, subject: &str) -> Option<OutcomeStatus> {
        view::outcome_status(|id| self.docs.get(id), member, subject)
    }
}
