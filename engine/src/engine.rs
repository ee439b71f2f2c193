//! The engine API: what the phone app and the CLI call. One `Engine` per device store;
//! every write is durable on disk before the call returns.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use automerge::transaction::{CommitOptions, Transaction};
use automerge::{ActorId, Automerge, AutomergeError, ChangeHash};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::clock::{Clock, SystemClock};
use crate::documents::{self, DocId, desk, ledger, member, station, view};
use crate::error::{Error, Result};
use crate::model::service::find_service;
use crate::model::{
    Assignment, ConfirmedBy, Confirmation, MemberId, Order, OrderFacts, OrderId, OrderState, Profile, RequestId,
    RequestKind, Response, ReviewDecision, Role, Service, ServiceKind, SpendRequest, StationId, Verification, Visit, VisitId,
    VisitRules, VisitSource, request,
};
use crate::notify::{Listener, Listeners, Subscription, Topic};
use crate::storage::{self, STORE_FILE, Storage};
use crate::views::{AssignmentView, Balance, OrderView, RequestView, ReviewItem, Status, VisitState, VisitView};

/// A document with more chunks than this is compacted into one snapshot when the store
/// opens or when [`Engine::compact`] runs.
pub const COMPACT_AFTER_CHUNKS: usize = 128;

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
            device: device.to_owned(),
            confirmation: None,
        }
    }
}

type Edit<'a> = (DocId, &'a dyn Fn(&mut Transaction<'_>) -> Result<(), AutomergeError>);

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
        let link = [
            ("relay", enrolled.relay.as_str()),
            ("token", enrolled.token.as_str()),
            ("relay_device", enrolled.device.as_str()),
        ];
        Self::create_store(dir, enrolled.identity.clone(), actor, &link, clock)
    }

    fn create_store(
        dir: &Path,
        who: NewIdentity,
        actor: ActorId,
        extra: &[(&str, &str)],
        clock: Arc<dyn Clock>,
    ) -> Result<Engine> {
        if dir.join(STORE_FILE).exists() {
            let storage = Storage::open(dir, false)?;
            if storage::meta(storage.conn(), "member")?.is_some() {
                return Err(Error::AlreadyInitialised(dir.to_path_buf()));
            }
        }
        let mut storage = Storage::open(dir, true)?;
        let identity = Identity {
            member: who.member,
            station: who.station,
            role: who.role,
            device: actor.to_hex_string(),
        };
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
        let read = |key: &str| -> Result<String> {
            storage::meta(conn, key)?.ok_or_else(|| Error::NoStore(dir.to_path_buf()))
        };
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
        let mut engine =
            Engine { storage, identity, actor, docs, chunk_counts, clock, listeners: Listeners::default() };
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

    // ----- visits (volunteers) -----

    /// Checks in at an elder's home now. Returns the new visit's id.
    pub fn start_visit(&mut self, elder: &MemberId, service: &str, order: Option<&OrderId>) -> Result<VisitId> {
        self.start_visit_at(elder, service, order, None)
    }

    /// Checks in at `at` (a volunteer who forgot to check in on arrival), or now.
    /// A back-dated check-in has no monotonic reading: its length comes from the wall clock.
    pub fn start_visit_at(
        &mut self,
        elder: &MemberId,
        service: &str,
        order: Option<&OrderId>,
        at: Option<DateTime<Utc>>,
    ) -> Result<VisitId> {
        self.require(&[Role::Volunteer], "checking in")?;
        self.check_visit_target(elder, service, order)?;
        if let Some(open) = self.own_visits().into_iter().find(Visit::is_open) {
            return Err(Error::invalid(format!(
                "you are still checked in at visit {} (elder {}, since {}); check out of it first",
                open.id,
                open.elder,
                open.check_in.format("%Y-%m-%d %H:%M")
            )));
        }
        let now = self.clock.now();
        let check_in = match at {
            Some(at) => self.rules().check_start(at, now)?,
            None => now,
        };
        let visit = Visit {
            id: VisitId::generate(),
            volunteer: self.identity.member.clone(),
            elder: elder.clone(),
            service: service.to_owned(),
            order: order.cloned(),
            check_in,
            check_out: None,
            monotonic_ms: None,
            source: VisitSource::Live,
            note: String::new(),
            recorded_at: now,
            device: self.identity.device.clone(),
            confirmation: None,
        };
        let reading = if at.is_none() { self.clock.monotonic() } else { None };
        let own = self.own_doc_id();
        self.write(visit.id.as_str(), &[Topic::Visits], &[(own, &|tx| {
            member::put_visit(tx, &visit)?;
            match &reading {
                Some(r) => member::put_monotonic_start(tx, &visit.id, r),
                None => Ok(()),
            }
        })])?;
        Ok(visit.id)
    }

    /// Checks out of an open visit, now or at `at` (when the volunteer forgot to).
    pub fn end_visit(&mut self, id: &VisitId, at: Option<DateTime<Utc>>, note: Option<&str>) -> Result<VisitView> {
        self.require(&[Role::Volunteer], "checking out")?;
        let visit = self.own_visit(id)?;
        self.refuse_if_decided(&visit)?;
        if let Some(out) = visit.check_out {
            return Err(Error::invalid(format!(
                "visit {id} is not open: it was checked out at {}; nothing was changed",
                out.format("%Y-%m-%d %H:%M")
            )));
        }
        let now = self.clock.now();
        let end = at.unwrap_or(now);
        let monotonic_ms = match at {
            Some(_) => None,
            None => {
                let start = member::monotonic_start(self.own_doc(), id);
                start.zip(self.clock.monotonic()).and_then(|(s, e)| s.elapsed_until(&e))
            }
        };
        self.rules().check_times(visit.check_in, end, monotonic_ms, now)?;
        let own = self.own_doc_id();
        self.write(id.as_str(), &[Topic::Visits], &[(own, &|tx| {
            member::put_check_out(tx, id, end, monotonic_ms, note)
        })])?;
        self.visit_view(id)
    }

    /// Logs a whole visit afterwards, from a paper record. Returns its id.
    pub fn log_visit(&mut self, past: &PastVisit) -> Result<VisitId> {
        self.require(&[Role::Volunteer], "logging a visit")?;
        self.check_visit_target(&past.elder, &past.service, past.order.as_ref())?;
        let now = self.clock.now();
        self.rules().check_times(past.start, past.end, None, now)?;
        let visit = past.to_visit(&self.identity.member, &self.identity.device, now);
        let own = self.own_doc_id();
        self.write(visit.id.as_str(), &[Topic::Visits], &[(own, &|tx| member::put_visit(tx, &visit))])?;
        Ok(visit.id)
    }

    /// Records that the elder (or family) confirmed the visit on this phone.
    pub fn confirm_visit(&mut self, id: &VisitId, by: ConfirmedBy) -> Result<VisitView> {
        self.require(&[Role::Volunteer], "confirming a visit")?;
        let visit = self.own_visit(id)?;
        self.refuse_if_decided(&visit)?;
        if visit.is_open() {
            return Err(Error::invalid(format!("visit {id} is still open; check out before the elder confirms")));
        }
        if visit.confirmation.is_none() {
            let confirmation = Confirmation { by, at: self.clock.now() };
            let own = self.own_doc_id();
            self.write(id.as_str(), &[Topic::Visits], &[(own, &|tx| {
                member::put_confirmation(tx, id, &confirmation)
            })])?;
        }
        self.visit_view(id)
    }

    /// This member's visits with their states, oldest first.
    pub fn visits(&self) -> Result<Vec<VisitView>> {
        let unsynced = storage::unsynced_subjects(self.storage.conn())?;
        Ok(self.own_visits().into_iter().map(|v| self.view_of(v, &unsynced)).collect())
    }

    /// One visit with its state.
    pub fn visit_view(&self, id: &VisitId) -> Result<VisitView> {
        let unsynced = storage::unsynced_subjects(self.storage.conn())?;
        Ok(self.view_of(self.own_visit(id)?, &unsynced))
    }

    // ----- orders and assignments -----

    /// Places an order (点单) for `elder`; an elder's own device may leave `elder` out.
    pub fn place_order(&mut self, elder: Option<&MemberId>, service: &str, note: &str) -> Result<OrderId> {
        self.require(&[Role::Elder, Role::FamilyProxy, Role::Coordinator], "placing an order")?;
        let elder = match (self.identity.role, elder) {
            (Role::Elder, None) => self.identity.member.clone(),
            (Role::Elder, Some(e)) if *e != self.identity.member => {
                return Err(Error::NotAllowed("an elder's device places orders for that elder only".into()));
            }
            (Role::FamilyProxy, Some(e)) if !self.docs.contains_key(&DocId::Member(e.clone())) => {
                return Err(Error::NotAllowed(format!(
                    "this device does not act for elder {e}: a family proxy orders for the elders of its own household; ask the station to register you in the elder's household, then sync"
                )));
            }
            (_, Some(e)) => e.clone(),
            (_, None) => return Err(Error::invalid("say which elder the order is for (--elder)")),
        };
        find_service(&self.catalogue(), service, ServiceKind::Earning)?;
        let order = Order::place(elder.clone(), service, note, self.identity.member.clone(), self.clock.now());
        self.write(order.id.as_str(), &[Topic::Orders], &[(DocId::Member(elder), &|tx| member::put_order(tx, &order))])?;
        Ok(order.id)
    }

    /// Dispatches an order (派单) to a volunteer: written into the elder's and the
    /// volunteer's documents in one durable step. The assignment carries the elder's
    /// display name from the elder's profile on this coordinator's phone (ADR 0021).
    pub fn dispatch(&mut self, order: &OrderId, volunteer: &MemberId) -> Result<()> {
        self.require(&[Role::Coordinator], "dispatching an order")?;
        let found = self.find_order(order)?;
        if found.cancelled_at.is_some() {
            return Err(Error::invalid(format!("order {order} was cancelled; it cannot be dispatched")));
        }
        if *volunteer == found.elder {
            return Err(Error::invalid("an elder cannot be dispatched to serve their own order"));
        }
        let now = self.clock.now();
        let elder_name = self.docs.get(&DocId::Member(found.elder.clone())).and_then(member::display_name);
        let assignment = Assignment::offer(&found, elder_name.as_deref(), self.identity.member.clone(), now);
        self.write(order.as_str(), &[Topic::Orders, Topic::Assignments], &[
            (DocId::Member(found.elder.clone()), &|tx| member::put_order_dispatch(tx, order, volunteer, now)),
            (DocId::Member(volunteer.clone()), &|tx| member::put_assignment(tx, &assignment)),
        ])
    }

    /// Cancels an order that has not been served.
    pub fn cancel_order(&mut self, order: &OrderId) -> Result<()> {
        self.require(&[Role::Elder, Role::FamilyProxy, Role::Coordinator], "cancelling an order")?;
        let found = self.find_order(order)?;
        if self.identity.role == Role::Elder && found.elder != self.identity.member {
            return Err(Error::NotAllowed("an elder's device cancels that elder's orders only".into()));
        }
        if self.order_facts(&found).visited {
            return Err(Error::invalid(format!("order {order} was already served; it cannot be cancelled")));
        }
        let now = self.clock.now();
        self.write(order.as_str(), &[Topic::Orders], &[(DocId::Member(found.elder), &|tx| {
            member::put_order_cancel(tx, order, now)
        })])
    }

    /// Orders this device can see (an elder's own; every order held, for coordinators).
    pub fn orders(&self) -> Vec<OrderView> {
        self.member_docs()
            .flat_map(|(_, doc)| member::orders(doc))
            .map(|order| OrderView { state: OrderState::derive(&self.order_facts(&order)), order })
            .collect()
    }

    /// Assignments offered to this volunteer (派单), with each order's state.
    pub fn assignments(&self) -> Vec<AssignmentView> {
        let visits = self.own_visits();
        member::assignments(self.own_doc())
            .into_iter()
            .map(|assignment| {
                let visit = visits.iter().find(|v| v.order.as_ref() == Some(&assignment.order));
                let facts = OrderFacts {
                    dispatched: true,
                    response: assignment.response,
                    visited: visit.is_some(),
                    visit_confirmed: visit.is_some_and(|v| v.confirmation.is_some()),
                    settled: visit.is_some_and(|v| self.outcome_status(&v.volunteer, v.id.as_str()) == Some("approved")),
                    cancelled: false,
                };
                AssignmentView { state: OrderState::derive(&facts), assignment }
            })
            .collect()
    }

    /// Accepts an assignment (接单).
    pub fn accept(&mut self, order: &OrderId) -> Result<()> {
        self.respond(order, Response::Accepted, "")
    }

    /// Declines an assignment, with an optional reason for the coordinator.
    pub fn decline(&mut self, order: &OrderId, reason: &str) -> Result<()> {
        self.respond(order, Response::Declined, reason)
    }

    fn respond(&mut self, order: &OrderId, response: Response, reason: &str) -> Result<()> {
        self.require(&[Role::Volunteer], "answering an assignment")?;
        let assignment = self
            .assignments()
            .into_iter()
            .find(|a| &a.assignment.order == order)
            .ok_or_else(|| Error::NotFound { what: "assignment", id: order.to_string() })?;
        if matches!(assignment.state, OrderState::Visited | OrderState::Confirmed | OrderState::Settled) {
            return Err(Error::invalid(format!("order {order} was already served; the answer cannot change")));
        }
        if assignment.assignment.response == Some(response) {
            return Ok(());
        }
        let now = self.clock.now();
        let own = self.own_doc_id();
        self.write(order.as_str(), &[Topic::Assignments], &[(own, &|tx| {
            member::put_response(tx, order, response, now, reason)
        })])
    }

    // ----- requests and balance -----

    /// Asks to redeem `minutes` of coins for a redeemable service (兑换). The relay's
    /// ledger decides; the outcome arrives with a later sync.
    pub fn request_redemption(&mut self, service: &str, minutes: i64) -> Result<RequestId> {
        let minutes = request::check_minutes(minutes)?;
        find_service(&self.catalogue(), service, ServiceKind::Redeemable)?;
        self.spend(RequestKind::Redeem { service: service.to_owned() }, minutes)
    }

    /// Asks to give `minutes` of coins to another member.
    pub fn request_gift(&mut self, to: &MemberId, minutes: i64) -> Result<RequestId> {
        let minutes = request::check_minutes(minutes)?;
        if *to == self.identity.member {
            return Err(Error::invalid("you cannot give coins to yourself; name another member"));
        }
        self.spend(RequestKind::Gift { to: to.clone() }, minutes)
    }

    fn spend(&mut self, kind: RequestKind, minutes: u32) -> Result<RequestId> {
        self.require(&[Role::Volunteer, Role::Elder], "spending coins")?;
        let request = SpendRequest { id: RequestId::generate(), kind, minutes, created_at: self.clock.now() };
        let own = self.own_doc_id();
        self.write(request.id.as_str(), &[Topic::Requests], &[(own, &|tx| member::put_request(tx, &request))])?;
        Ok(request.id)
    }

    /// This member's requests with the relay's decisions, oldest first.
    pub fn requests(&self) -> Result<Vec<RequestView>> {
        let unsynced = storage::unsynced_subjects(self.storage.conn())?;
        let ledger = self.docs.get(&DocId::Ledger(self.identity.member.clone()));
        Ok(member::requests(self.own_doc())
            .into_iter()
            .map(|request| {
                let outcome = ledger.and_then(|doc| ledger::outcome(doc, request.id.as_str()));
                let state_label = match outcome {
                    Some(o) if o.reason.is_empty() => o.status,
                    Some(o) => format!("{}: {}", o.status, o.reason),
                    None if unsynced.contains(request.id.as_str()) => "saved on phone".into(),
                    None => "sent".into(),
                };
                RequestView { request, state_label }
            })
            .collect())
    }

    /// The balance as far as this device knows: the relay's ledger plus what is logged or
    /// requested here and not yet decided.
    pub fn balance(&self) -> Balance {
        let me = &self.identity.member;
        let ledger = self.docs.get(&DocId::Ledger(me.clone()));
        let posted = ledger.map(ledger::balance).unwrap_or_default();
        let decided = |subject: &str| {
            matches!(
                self.outcome_status(me, subject),
                Some("approved" | "rejected" | "refused" | "accepted" | "fulfilled" | "released")
            )
        };
        let pending_minutes = self
            .own_visits()
            .iter()
            .filter(|v| !decided(v.id.as_str()))
            .filter_map(Visit::minutes)
            .map(i64::from)
            .sum();
        let undecided_spends: i64 = member::requests(self.own_doc())
            .iter()
            .filter(|r| !decided(r.id.as_str()))
            .map(|r| i64::from(r.minutes))
            .sum();
        let reserved_minutes = posted.reserved_minutes + undecided_spends;
        Balance {
            confirmed_minutes: posted.confirmed_minutes,
            pending_minutes,
            reserved_minutes,
            available_minutes: posted.confirmed_minutes - reserved_minutes,
        }
    }

    /// The coordinators' review queue: every finished visit of the station's members that
    /// this device holds and that is not yet approved or rejected. Visits the relay flagged
    /// as anomalies come first, then the oldest.
    pub fn review_queue(&self) -> Result<Vec<ReviewItem>> {
        self.require(&[Role::Coordinator], "reviewing visits")?;
        let unsynced = storage::unsynced_subjects(self.storage.conn())?;
        let mut queue: Vec<ReviewItem> = self
            .member_docs()
            .flat_map(|(member, doc)| member::visits(doc, member))
            .filter(|visit| !visit.is_open())
            .map(|visit| {
                let view = self.view_of(visit, &unsynced);
                let anomaly = match &view.state {
                    VisitState::UnderReview(reason) => Some(reason.clone()),
                    _ => None,
                };
                ReviewItem { review: self.review(&view.visit.id), anomaly, visit: view }
            })
            .filter(|item| !matches!(item.visit.state, VisitState::Approved | VisitState::Rejected(_)))
            .filter(|item| item.review.as_ref().is_none_or(|r| r.decision == ReviewDecision::Flag.as_str()))
            .collect();
        queue.sort_by(|a, b| {
            b.anomaly.is_some().cmp(&a.anomaly.is_some()).then_with(|| a.visit.visit.check_in.cmp(&b.visit.visit.check_in))
        });
        Ok(queue)
    }

    /// Records a coordinator's review of a visit in the station desk; the relay's ledger
    /// acts on it after the next sync (approval earns the coins; a rejection's reason
    /// reaches the volunteer).
    pub fn review_visit(&mut self, visit: &VisitId, decision: ReviewDecision, reason: &str) -> Result<()> {
        self.require(&[Role::Coordinator], "reviewing visits")?;
        decision.check_reason(reason)?;
        let found = self
            .member_docs()
            .flat_map(|(member, doc)| member::visit(doc, member, visit))
            .next()
            .ok_or_else(|| Error::NotFound { what: "visit", id: visit.to_string() })?;
        if found.is_open() {
            return Err(Error::invalid(format!("visit {visit} is still open; review it after the volunteer checks out")));
        }
        let review = desk::Review {
            decision: decision.as_str().to_owned(),
            reason: reason.trim().to_owned(),
            by: self.identity.member.clone(),
            at: self.clock.now(),
        };
        let desk_id = DocId::Desk(self.identity.station.clone());
        self.write(visit.as_str(), &[Topic::Visits], &[(desk_id, &|tx| desk::put_review(tx, visit, &review))])
    }

    /// Accepted redemptions of the station's members that wait for a coordinator to
    /// fulfil or release them, oldest first: (member, request).
    pub fn redemption_queue(&self) -> Result<Vec<(MemberId, SpendRequest)>> {
        self.require(&[Role::Coordinator], "deciding redemptions")?;
        let desk_doc = self.docs.get(&DocId::Desk(self.identity.station.clone()));
        let mut queue: Vec<(MemberId, SpendRequest)> = self
            .member_docs()
            .flat_map(|(member, doc)| member::requests(doc).into_iter().map(move |r| (member.clone(), r)))
            .filter(|(_, r)| matches!(r.kind, RequestKind::Redeem { .. }))
            .filter(|(member, r)| self.outcome_status(member, r.id.as_str()) == Some("accepted"))
            .filter(|(_, r)| desk_doc.and_then(|d| desk::decision(d, &r.id)).is_none())
            .collect();
        queue.sort_by_key(|(_, r)| r.created_at);
        Ok(queue)
    }

    /// Records that an accepted redemption was given (`fulfil`: the held coins are spent)
    /// or will not be (`fulfil = false`, release: the coins go back to the member). The
    /// relay's ledger acts on it after the next sync.
    pub fn decide_redemption(&mut self, request: &RequestId, fulfil: bool) -> Result<()> {
        self.require(&[Role::Coordinator], "deciding redemptions")?;
        let (member, found) = self
            .member_docs()
            .flat_map(|(member, doc)| member::requests(doc).into_iter().map(move |r| (member.clone(), r)))
            .find(|(_, r)| &r.id == request)
            .ok_or_else(|| Error::NotFound { what: "request", id: request.to_string() })?;
        if !matches!(found.kind, RequestKind::Redeem { .. }) {
            return Err(Error::invalid(format!("request {request} is a gift; only redemptions are fulfilled or released")));
        }
        let desk_id = DocId::Desk(self.identity.station.clone());
        if let Some(done) = self.docs.get(&desk_id).and_then(|d| desk::decision(d, request)) {
            return Err(Error::invalid(format!(
                "request {request} was already decided ({}, by {}); nothing was changed",
                done.action, done.by
            )));
        }
        match self.outcome_status(&member, request.as_str()) {
            Some("accepted") => {}
            None => {
                return Err(Error::invalid(format!(
                    "the relay has not accepted request {request} yet; sync, then decide"
                )));
            }
            Some(other) => {
                return Err(Error::invalid(format!("request {request} is {other}; only an accepted redemption is fulfilled or released")));
            }
        }
        let decision = desk::Decision {
            action: if fulfil { "fulfil" } else { "release" }.to_owned(),
            by: self.identity.member.clone(),
            at: self.clock.now(),
        };
        self.write(request.as_str(), &[Topic::Requests], &[(desk_id, &|tx| desk::put_decision(tx, request, &decision))])
    }

    /// The review a coordinator wrote for a visit, if this device holds the station desk.
    pub fn review(&self, visit: &VisitId) -> Option<desk::Review> {
        let doc = self.docs.get(&DocId::Desk(self.identity.station.clone()))?;
        desk::review(doc, visit)
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
        self.docs
            .get(&DocId::Station(self.identity.station.clone()))
            .map_or_else(crate::model::default_catalogue, station::catalogue)
    }

    // ----- documents (for sync and tests) -----

    /// Ids of every document held.
    pub fn document_ids(&self) -> Vec<DocId> {
        self.docs.keys().cloned().collect()
    }

    /// The whole document, saved (what another peer can load or merge).
    pub fn document_bytes(&self, id: &DocId) -> Option<Vec<u8>> {
        self.docs.get(id).map(Automerge::save)
    }

    /// The document's current heads.
    pub fn heads(&self, id: &DocId) -> Vec<ChangeHash> {
        self.docs.get(id).map(Automerge::get_heads).unwrap_or_default()
    }

    /// Merges changes received from a peer (saved document or incremental chunks) into
    /// document `id`, durably. Returns how many changes were new.
    pub fn receive_changes(&mut self, id: &DocId, bytes: &[u8]) -> Result<usize> {
        let damaged = |error: AutomergeError| {
            Error::invalid(format!("the changes received for {id} are damaged ({error}); nothing was stored"))
        };
        // load_incremental silently keeps the readable part of damaged bytes: check first.
        documents::check_whole(bytes).map_err(damaged)?;
        let before = self.heads(id);
        if let Err(error) = self.doc_or_new(id).load_incremental(bytes) {
            self.reload_after_failure(id)?;
            return Err(damaged(error));
        }
        self.persist_since(id, &before)
    }

    /// Document `id`, created empty (no genesis: its history comes from a peer) if absent.
    pub(crate) fn doc_or_new(&mut self, id: &DocId) -> &mut Automerge {
        let actor = self.actor.clone();
        self.docs.entry(id.clone()).or_insert_with(|| Automerge::new().with_actor(actor))
    }

    /// Stores the changes document `id` gained since `before` (received from a peer) as one
    /// chunk, after checking the schema. On any failure the document is restored from disk.
    pub(crate) fn persist_since(&mut self, id: &DocId, before: &[ChangeHash]) -> Result<usize> {
        let Some(doc) = self.docs.get(id) else { return Ok(0) };
        if let Err(error) = documents::check_schema(id, doc) {
            self.reload_after_failure(id)?;
            return Err(error);
        }
        let added = doc.get_changes(before).len();
        if added == 0 {
            if doc.get_heads().is_empty() {
                self.docs.remove(id);
            }
            return Ok(0);
        }
        let chunk = doc.save_after(before);
        let persisted = (|| {
            let tx = self.storage.begin()?;
            storage::append_chunk(&tx, &id.to_string(), &chunk)?;
            tx.commit()?;
            Ok::<_, Error>(())
        })();
        if let Err(error) = persisted {
            self.reload_after_failure(id)?;
            return Err(error);
        }
        *self.chunk_counts.entry(id.clone()).or_default() += 1;
        self.listeners.notify(&topics_of(id));
        Ok(added)
    }

    /// Restores document `id` from disk, or forgets it if the disk has none.
    fn reload_after_failure(&mut self, id: &DocId) -> Result<()> {
        let stored = storage::load_document(self.storage.conn(), &id.to_string())?.is_some();
        self.reload(id, !stored)
    }

    /// Compacts every document's chunks into a snapshot. Cheap to call when the app is idle.
    pub fn compact(&mut self) -> Result<()> {
        self.compact_over(0)
    }

    fn compact_over(&mut self, threshold: usize) -> Result<()> {
        let due: Vec<DocId> =
            self.chunk_counts.iter().filter(|(_, n)| **n > threshold.max(1)).map(|(id, _)| id.clone()).collect();
        let mut compacted = false;
        for id in due {
            let Some(doc) = self.docs.get(&id) else { continue };
            let snapshot = doc.save();
            let tx = self.storage.begin()?;
            storage::compact(&tx, &id.to_string(), &snapshot)?;
            tx.commit()?;
            self.chunk_counts.insert(id, 0);
            compacted = true;
        }
        if compacted {
            storage::release_free_pages(self.storage.conn())?;
        }
        Ok(())
    }

    // ----- internals -----

    /// Applies `edits` to their documents and appends each resulting change to the store
    /// in one SQLite transaction, recorded in the outbox under `subject`. Durable when it
    /// returns; on any failure the in-memory documents are restored from disk.
    fn write(&mut self, subject: &str, topics: &[Topic], edits: &[Edit<'_>]) -> Result<()> {
        let now = self.clock.now();
        let mut staged: Vec<(DocId, Vec<u8>, ChangeHash, bool)> = Vec::new();
        let mut failure = None;
        for (id, edit) in edits {
            let is_new = !self.docs.contains_key(id);
            if is_new {
                self.docs.insert(id.clone(), documents::genesis(id, self.actor.clone())?);
            }
            let Some(doc) = self.docs.get_mut(id) else { continue };
            let result = doc.transact_with(
                |_| CommitOptions::default().with_time(now.timestamp_millis()),
                |tx| edit(tx),
            );
            match result {
                Ok(success) => {
                    let Some(hash) = success.hash else {
                        // Nothing changed: a document created just now is not kept, so memory
                        // never holds a genesis that the disk lacks.
                        if is_new {
                            self.docs.remove(id);
                        }
                        continue;
                    };
                    let bytes = if is_new {
                        doc.save_after(&[])
                    } else {
                        doc.get_last_local_change().map(|c| c.raw_bytes().to_vec()).unwrap_or_default()
                    };
                    staged.push((id.clone(), bytes, hash, is_new));
                }
                Err(f) => {
                    failure = Some((id.clone(), is_new, Error::Document(f.error)));
                    break;
                }
            }
        }
        let persisted = match failure {
            Some((id, is_new, error)) => {
                self.reload(&id, is_new)?;
                Err(error)
            }
            None => self.persist(subject, now, &staged),
        };
        if let Err(error) = persisted {
            for (id, _, _, is_new) in &staged {
                self.reload(id, *is_new)?;
            }
            return Err(error);
        }
        for (id, ..) in &staged {
            *self.chunk_counts.entry(id.clone()).or_default() += 1;
        }
        self.listeners.notify(topics);
        Ok(())
    }

    fn persist(&mut self, subject: &str, now: DateTime<Utc>, staged: &[(DocId, Vec<u8>, ChangeHash, bool)]) -> Result<()> {
        let tx = self.storage.begin()?;
        for (id, bytes, hash, _) in staged {
            let doc_id = id.to_string();
            storage::append_chunk(&tx, &doc_id, bytes)?;
            storage::record_local_change(&tx, &doc_id, hash.as_ref(), subject, now.timestamp_millis())?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Restores document `id` in memory from what the store holds.
    fn reload(&mut self, id: &DocId, was_new: bool) -> Result<()> {
        if was_new {
            self.docs.remove(id);
            return Ok(());
        }
        let (doc, chunks) = load(&self.storage, id)?;
        self.docs.insert(id.clone(), doc);
        self.chunk_counts.insert(id.clone(), chunks);
        Ok(())
    }

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

    fn check_visit_target(&self, elder: &MemberId, service: &str, order: Option<&OrderId>) -> Result<()> {
        if *elder == self.identity.member {
            return Err(Error::invalid("you cannot log a visit to yourself; give the elder's id"));
        }
        find_service(&self.catalogue(), service, ServiceKind::Earning)?;
        if let Some(order) = order {
            let assignment = member::assignments(self.own_doc())
                .into_iter()
                .find(|a| &a.order == order)
                .ok_or_else(|| Error::invalid(format!("order {order} is not among your assignments; check the id, or leave --order out")))?;
            if assignment.response == Some(Response::Declined) {
                return Err(Error::invalid(format!("you declined order {order}; accept it before logging a visit for it")));
            }
            if assignment.elder != *elder {
                return Err(Error::invalid(format!("order {order} is for elder {}, not {elder}", assignment.elder)));
            }
        }
        Ok(())
    }

    fn refuse_if_decided(&self, visit: &Visit) -> Result<()> {
        match self.outcome_status(&visit.volunteer, visit.id.as_str()) {
            Some(status @ ("approved" | "rejected" | "under-review")) => Err(Error::NotAllowed(format!(
                "visit {} is {status} by the station; it can no longer be changed. Ask your coordinator if it is wrong",
                visit.id
            ))),
            _ => Ok(()),
        }
    }

    fn rules(&self) -> VisitRules {
        self.docs
            .get(&DocId::Station(self.identity.station.clone()))
            .map(station::visit_rules)
            .unwrap_or_default()
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

    fn outcome_status(&self, member: &MemberId, subject: &str) -> Option<&'static str> {
        view::outcome_status(|id| self.docs.get(id), member, subject)
    }

    fn view_of(&self, visit: Visit, unsynced: &HashSet<String>) -> VisitView {
        let outcome = self
            .docs
            .get(&DocId::Ledger(visit.volunteer.clone()))
            .and_then(|doc| ledger::outcome(doc, visit.id.as_str()));
        let state = VisitState::derive(&visit, outcome.as_ref(), unsynced.contains(visit.id.as_str()));
        let elder_name = visit
            .order
            .as_ref()
            .zip(self.docs.get(&DocId::Member(visit.volunteer.clone())))
            .and_then(|(order, doc)| member::assignment_elder_name(doc, order));
        VisitView { minutes: visit.minutes(), elder_name, state_label: state.label(), state, visit }
    }
}

/// Loads document `id` from the store, checking that it is whole and readable.
fn load(storage: &Storage, id: &DocId) -> Result<(Automerge, usize)> {
    let corrupt = |detail: String| Error::Corrupt { path: storage.path().to_path_buf(), detail };
    let stored = storage::load_document(storage.conn(), &id.to_string())?
        .ok_or_else(|| corrupt(format!("document {id} is listed but missing")))?;
    let actor = storage::meta(storage.conn(), "device")?
        .and_then(|hex| ActorId::try_from(hex.as_str()).ok())
        .ok_or_else(|| corrupt("the device id is missing".into()))?;
    let doc = Automerge::load(&stored.bytes)
        .map_err(|e| corrupt(format!("document {id} cannot be read: {e}")))?
        .with_actor(actor);
    documents::check_schema(id, &doc)?;
    Ok((doc, stored.chunk_count))
}

/// The screens to refresh when document `id` changes.
fn topics_of(id: &DocId) -> Vec<Topic> {
    match id {
        DocId::Member(_) => vec![Topic::Visits, Topic::Orders, Topic::Assignments, Topic::Requests],
        DocId::Station(_) | DocId::Desk(_) => vec![Topic::Station, Topic::Visits],
        DocId::Ledger(_) => vec![Topic::Ledger, Topic::Visits, Topic::Requests],
    }
}
