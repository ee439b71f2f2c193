//! `TimebankStore`: the engine of one phone, one short method per engine call. The engine
//! is not `Sync`, so it sits behind a mutex; change notifications go out after it is released.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use timebank_engine::http::{self, HttpTransport};
use timebank_engine::model::{MemberId, OrderId, OutcomeStatus, RedemptionAction, RequestId, StationId, VisitId};
use timebank_engine::sync::{SyncRun, Transport};
use timebank_engine::{Clock, Engine, NewIdentity, RelayLink, Subscription};

use crate::clock::{PlatformClock, engine_clock};
use crate::error::{Result, TimebankError};
use crate::listener::{ChangeListener, ChangeSubscription, Outbox};
use crate::sync::{Background, Cancellable, Interruptible, SyncCancel};
use crate::types::{
    Assignment, Balance, ConfirmedBy, Identity, Order, PastVisit, RedemptionToDecide, ReviewDecision, ReviewItem, Role, Service,
    SpendRequest, Status, SyncReport, Visit, from_timestamp,
};
use crate::watch::LiveWatch;

/// One phone's store: a directory the app owns (its files directory). Every write is on
/// disk before the call returns. Calls block: run them off the UI thread, or use
/// `sync_async` for the one that talks to the network.
#[derive(Debug, uniffi::Object)]
pub struct TimebankStore {
    dir: PathBuf,
    /// The clock the engine was opened with, to reopen it the same way.
    clock: Arc<dyn Clock>,
    engine: Mutex<Engine>,
    /// The app's listeners, fed by the engine through `forwarding`.
    outbox: Arc<Outbox>,
    forwarding: Mutex<Subscription>,
    /// Held for a whole sync: two syncs of one phone never interleave.
    sync_gate: Mutex<()>,
}

fn member(id: &str) -> Result<MemberId> {
    Ok(MemberId::parse(id)?)
}

fn order(id: &str) -> Result<OrderId> {
    Ok(OrderId::parse(id)?)
}

fn visit(id: &str) -> Result<VisitId> {
    Ok(VisitId::parse(id)?)
}

impl TimebankStore {
    fn wrap(dir: &Path, clock: Arc<dyn Clock>, mut engine: Engine) -> Arc<Self> {
        let outbox = Arc::<Outbox>::default();
        let forwarding = Mutex::new(engine.subscribe(outbox.forwarder()));
        Arc::new(TimebankStore {
            dir: dir.to_path_buf(),
            clock,
            engine: Mutex::new(engine),
            outbox,
            forwarding,
            sync_gate: Mutex::default(),
        })
    }

    /// Replaces a possibly half-changed engine with the store as the disk holds it (every
    /// completed write), listeners still attached.
    fn reload(&self, engine: &mut Engine) -> Result<()> {
        *engine = Engine::open_with_clock(&self.dir, Arc::clone(&self.clock))?;
        *self.forwarding.lock().unwrap_or_else(PoisonError::into_inner) = engine.subscribe(self.outbox.forwarder());
        Ok(())
    }

    /// The engine, locked (reloaded first if a thread panicked holding it).
    fn lock(&self) -> Result<MutexGuard<'_, Engine>> {
        match self.engine.lock() {
            Ok(guard) => Ok(guard),
            Err(poisoned) => {
                let mut guard = poisoned.into_inner();
                self.reload(&mut guard)?;
                self.engine.clear_poison();
                Ok(guard)
            }
        }
    }

    /// Runs `call` on the engine, then delivers the notifications it raised. A panic in
    /// the call (a bug, or an app callback that threw) becomes `Internal`, and the engine
    /// is reloaded from disk: nothing half-done is kept, and no panic reaches the app.
    fn with<T>(&self, call: impl FnOnce(&mut Engine) -> timebank_engine::Result<T>) -> Result<T> {
        let result = {
            let mut engine = self.lock()?;
            match catch_unwind(AssertUnwindSafe(|| call(&mut engine))) {
                Ok(result) => result.map_err(TimebankError::from),
                Err(_) => {
                    self.reload(&mut engine)?;
                    Err(TimebankError::Internal {
                        reason: "an internal error stopped this before it was saved; nothing was changed, try again".into(),
                    })
                }
            }
        };
        self.outbox.deliver();
        result
    }

    /// Syncs through `transport` (the relay's HTTP client, or a test's), stopping when
    /// `cancel` is cancelled. The engine is locked for each step, never while a request is
    /// on the network, so the app keeps reading and writing the store meanwhile; one sync
    /// runs at a time. Rust callers only; the apps call `sync` or `sync_async`.
    pub fn sync_over(&self, transport: &mut dyn Transport, cancel: &SyncCancel) -> Result<SyncReport> {
        self.sync_steps(transport, cancel).map(SyncReport::from)
    }

    /// [`TimebankStore::sync_over`], with the engine's report.
    fn sync_steps(&self, transport: &mut dyn Transport, cancel: &SyncCancel) -> Result<timebank_engine::sync::SyncReport> {
        let _one_at_a_time = self.sync_gate.lock().unwrap_or_else(PoisonError::into_inner);
        let mut transport = Cancellable { inner: transport, cancel };
        let mut run = SyncRun::default();
        let outcome = (|| {
            while let Some(body) = self.with(|engine| run.next_request(engine))? {
                let reply = transport.exchange(body).map_err(timebank_engine::Error::Transport)?;
                self.with(|engine| run.receive(engine, &reply))?;
            }
            let answer = self.with(|engine| Ok(engine.contacts_request()))?.map(|body| transport.contacts(body));
            self.with(|engine| engine.receive_contacts(answer))?;
            Ok(run.report())
        })();
        match outcome {
            Err(_) if cancel.is_cancelled() => Err(TimebankError::cancelled()),
            outcome => outcome,
        }
    }

    /// The relay this phone enrolled with, and its token. Rust callers only: the token
    /// never crosses to the apps.
    pub fn relay_link(&self) -> Result<Option<RelayLink>> {
        self.with(|engine| engine.relay_link())
    }

    /// The relay this phone enrolled with, or what to do first.
    fn enrolled_link(&self) -> Result<RelayLink> {
        self.relay_link()?.ok_or_else(|| TimebankError::NotAllowed {
            reason: "this phone is not enrolled with a relay yet; enroll it with the code from your station, then sync".into(),
        })
    }

    /// One sync with the relay over HTTP, stopped by `cancel` even mid-exchange.
    pub(crate) fn sync_with_relay(&self, cancel: &SyncCancel) -> Result<timebank_engine::sync::SyncReport> {
        let link = self.enrolled_link()?;
        self.sync_steps(&mut Interruptible::new(HttpTransport::new(&link), cancel), cancel)
    }
}

#[uniffi::export]
impl TimebankStore {
    // ----- opening -----

    /// Opens the store in `dir`.
    #[uniffi::constructor]
    pub fn open(dir: String) -> Result<Arc<Self>> {
        Self::open_with_clock(dir, None)
    }

    /// [`open`](Self::open) with the phone's monotonic clock (see `PlatformClock`).
    #[uniffi::constructor]
    pub fn open_with_clock(dir: String, clock: Option<Arc<dyn PlatformClock>>) -> Result<Arc<Self>> {
        let (dir, clock) = (PathBuf::from(dir), engine_clock(clock));
        Ok(Self::wrap(&dir, Arc::clone(&clock), Engine::open_with_clock(&dir, clock)?))
    }

    /// Enrolls this phone with the station's relay using the one-time `code` from the
    /// coordinator, and creates its store in `dir`. `code` may be the whole link that the
    /// enrollment slip's QR code holds (`timebank://enroll?relay=…&code=…`), which names the
    /// relay: `relay` may then be empty. Talks to the network: not on the UI thread.
    #[uniffi::constructor]
    pub fn enroll(dir: String, relay: String, code: String) -> Result<Arc<Self>> {
        Self::enroll_with_clock(dir, relay, code, None)
    }

    /// [`enroll`](Self::enroll) with the phone's monotonic clock (see `PlatformClock`).
    #[uniffi::constructor]
    pub fn enroll_with_clock(dir: String, relay: String, code: String, clock: Option<Arc<dyn PlatformClock>>) -> Result<Arc<Self>> {
        let (dir, clock) = (PathBuf::from(dir), engine_clock(clock));
        Ok(Self::wrap(&dir, Arc::clone(&clock), http::enroll_store(&dir, &relay, &code, clock)?))
    }

    /// Creates a store in `dir` that no relay knows yet (demos, training, tests).
    #[uniffi::constructor]
    pub fn create(dir: String, member: String, station: String, role: Role) -> Result<Arc<Self>> {
        Self::create_with_clock(dir, member, station, role, None)
    }

    /// [`create`](Self::create) with the phone's monotonic clock (see `PlatformClock`).
    #[uniffi::constructor]
    pub fn create_with_clock(
        dir: String,
        member: String,
        station: String,
        role: Role,
        clock: Option<Arc<dyn PlatformClock>>,
    ) -> Result<Arc<Self>> {
        let (dir, clock) = (PathBuf::from(dir), engine_clock(clock));
        let who = NewIdentity { member: MemberId::parse(&member)?, station: StationId::parse(&station)?, role: role.into() };
        Ok(Self::wrap(&dir, Arc::clone(&clock), Engine::create_with_clock(&dir, who, clock)?))
    }

    /// Who this phone belongs to.
    pub fn identity(&self) -> Result<Identity> {
        self.with(|engine| Ok(Identity::from(engine.identity())))
    }

    /// The store at a glance.
    pub fn status(&self) -> Result<Status> {
        self.with(|engine| {
            let status = engine.status()?;
            Ok(Status {
                identity: Identity::from(engine.identity()),
                visits: status.visits as u64,
                open_visits: status.open_visits as u64,
                unsynced_changes: status.unsynced_changes,
                documents: status.documents as u64,
                store_bytes: status.store_bytes,
                relay: engine.relay_link()?.map(|link| link.url),
            })
        })
    }

    /// Tells `listener` what changes until the returned handle is dropped or stopped.
    pub fn subscribe(&self, listener: Arc<dyn ChangeListener>) -> Result<Arc<ChangeSubscription>> {
        Ok(Arc::new(self.outbox.register(listener)))
    }

    /// The station's service catalogue.
    pub fn catalogue(&self) -> Result<Vec<Service>> {
        self.with(|engine| Ok(engine.catalogue().into_iter().map(Into::into).collect()))
    }

    // ----- visits (volunteers) -----

    /// Checks in at `elder`'s home now, or at `at` if the volunteer forgot on arrival.
    /// Returns the visit's id.
    pub fn check_in(&self, elder: String, service: String, order_id: Option<String>, at: Option<SystemTime>) -> Result<String> {
        let (elder, order_id) = (member(&elder)?, order_id.as_deref().map(order).transpose()?);
        self.with(|e| e.start_visit_at(&elder, &service, order_id.as_ref(), at.map(from_timestamp))).map(String::from)
    }

    /// Checks out of visit `visit_id` now, or at `at`, with an optional note.
    pub fn check_out(&self, visit_id: String, at: Option<SystemTime>, note: Option<String>) -> Result<Visit> {
        let id = visit(&visit_id)?;
        self.with(|e| e.end_visit(&id, at.map(from_timestamp), note.as_deref())).map(Into::into)
    }

    /// Checks in at `elder`'s home (now, or at `at`) with the link the phone read from the
    /// elder's NFC tag (its NDEF URL; the relay verifies it). Returns the visit's id.
    pub fn check_in_tapped(
        &self,
        elder: String,
        service: String,
        order_id: Option<String>,
        at: Option<SystemTime>,
        tap_url: String,
    ) -> Result<String> {
        let (elder, order_id) = (member(&elder)?, order_id.as_deref().map(order).transpose()?);
        self.with(|e| e.start_visit_tapped(&elder, &service, order_id.as_ref(), at.map(from_timestamp), &tap_url)).map(String::from)
    }

    /// Checks out of visit `visit_id` (now, or at `at`) with the link read from the elder's tag.
    pub fn check_out_tapped(&self, visit_id: String, at: Option<SystemTime>, note: Option<String>, tap_url: String) -> Result<Visit> {
        let id = visit(&visit_id)?;
        self.with(|e| e.end_visit_tapped(&id, at.map(from_timestamp), note.as_deref(), &tap_url)).map(Into::into)
    }

    /// The text of a finished visit's summary, for the elder's phone to co-sign (show it
    /// as a QR code).
    pub fn visit_summary(&self, visit_id: String) -> Result<String> {
        let id = visit(&visit_id)?;
        self.with(|e| e.visit_summary(&id)).map(|s| s.text())
    }

    /// On the elder's (or a household proxy's) phone: co-signs a volunteer's visit summary
    /// with this phone's key. Returns the co-signature's text (show it as a QR code).
    pub fn cosign_visit(&self, summary: String) -> Result<String> {
        self.with(|e| e.cosign_visit(&summary)).map(|s| s.text())
    }

    /// Stores the elder's phone's co-signature (scanned back) with visit `visit_id`.
    pub fn attach_cosignature(&self, visit_id: String, signature: String) -> Result<Visit> {
        let id = visit(&visit_id)?;
        self.with(|e| e.attach_cosignature(&id, &signature)).map(Into::into)
    }

    /// Logs a whole visit afterwards from a paper record. Returns its id.
    pub fn log_visit(&self, past: PastVisit) -> Result<String> {
        let past = timebank_engine::PastVisit {
            elder: member(&past.elder)?,
            service: past.service,
            order: past.order.as_deref().map(order).transpose()?,
            start: from_timestamp(past.start),
            end: from_timestamp(past.end),
            note: past.note,
        };
        self.with(|e| e.log_visit(&past)).map(String::from)
    }

    /// Records that the elder (or family) confirmed visit `visit_id` on this phone.
    pub fn confirm_visit(&self, visit_id: String, by: ConfirmedBy) -> Result<Visit> {
        let id = visit(&visit_id)?;
        self.with(|e| e.confirm_visit(&id, by.into())).map(Into::into)
    }

    /// This member's visits with their states, oldest first.
    pub fn visits(&self) -> Result<Vec<Visit>> {
        self.with(|e| e.visits()).map(|v| v.into_iter().map(Into::into).collect())
    }

    /// One visit with its state.
    pub fn visit(&self, visit_id: String) -> Result<Visit> {
        let id = visit(&visit_id)?;
        self.with(|e| e.visit_view(&id)).map(Into::into)
    }

    // ----- orders and assignments -----

    /// Places an order (点单) for `elder`; an elder's own phone may leave it out. Returns its id.
    pub fn place_order(&self, elder: Option<String>, service: String, note: String) -> Result<String> {
        let elder = elder.as_deref().map(member).transpose()?;
        self.with(|e| e.place_order(elder.as_ref(), &service, &note)).map(String::from)
    }

    /// Places an order (点单) asking for the time slot from `slot_start` to `slot_end`
    /// (still to come, at most 12 hours); `elder` as for `place_order`.
    pub fn place_order_for_slot(
        &self,
        elder: Option<String>,
        service: String,
        note: String,
        slot_start: SystemTime,
        slot_end: SystemTime,
    ) -> Result<String> {
        let elder = elder.as_deref().map(member).transpose()?;
        let slot = Some((from_timestamp(slot_start), from_timestamp(slot_end)));
        self.with(|e| e.place_order_for(elder.as_ref(), &service, &note, slot)).map(String::from)
    }

    /// Dispatches order `order_id` (派单) to `volunteer` (coordinators).
    pub fn dispatch(&self, order_id: String, volunteer: String) -> Result<()> {
        let (id, volunteer) = (order(&order_id)?, member(&volunteer)?);
        self.with(|e| e.dispatch(&id, &volunteer))
    }

    /// Cancels an order that has not been served.
    pub fn cancel_order(&self, order_id: String) -> Result<()> {
        let id = order(&order_id)?;
        self.with(|e| e.cancel_order(&id))
    }

    /// The orders this phone can see, with their states.
    pub fn orders(&self) -> Result<Vec<Order>> {
        self.with(|e| Ok(e.orders().into_iter().map(Into::into).collect()))
    }

    /// The assignments offered to this volunteer (派单), with their states.
    pub fn assignments(&self) -> Result<Vec<Assignment>> {
        self.with(|e| Ok(e.assignments().into_iter().map(Into::into).collect()))
    }

    /// Accepts an assignment (接单).
    pub fn accept(&self, order_id: String) -> Result<()> {
        let id = order(&order_id)?;
        self.with(|e| e.accept(&id))
    }

    /// Declines an assignment, with a reason for the coordinator (may be empty).
    pub fn decline(&self, order_id: String, reason: String) -> Result<()> {
        let id = order(&order_id)?;
        self.with(|e| e.decline(&id, &reason))
    }

    // ----- coins -----

    /// Asks to redeem `minutes` for a redeemable service (兑换). Returns the request's id.
    pub fn redeem(&self, service: String, minutes: i64) -> Result<String> {
        self.with(|e| e.request_redemption(&service, minutes)).map(String::from)
    }

    /// Asks to give `minutes` to member `to`. Returns the request's id.
    pub fn gift(&self, to: String, minutes: i64) -> Result<String> {
        let to = member(&to)?;
        self.with(|e| e.request_gift(&to, minutes)).map(String::from)
    }

    /// This member's redemption and gift requests with their states, oldest first.
    pub fn requests(&self) -> Result<Vec<SpendRequest>> {
        self.with(|e| e.requests()).map(|r| r.into_iter().map(Into::into).collect())
    }

    /// The balance as far as this phone knows.
    pub fn balance(&self) -> Result<Balance> {
        self.with(|e| Ok(e.balance().into()))
    }

    // ----- the coordinator's desk -----

    /// Visits waiting for review: anomalies first, then the oldest.
    pub fn review_queue(&self) -> Result<Vec<ReviewItem>> {
        self.with(|e| e.review_queue()).map(|q| q.into_iter().map(Into::into).collect())
    }

    /// Approves, rejects (a reason is required) or flags visit `visit_id`; the relay's
    /// ledger acts on it after the next sync.
    pub fn review_visit(&self, visit_id: String, decision: ReviewDecision, reason: String) -> Result<()> {
        let id = visit(&visit_id)?;
        self.with(|e| e.review_visit(&id, decision.into(), &reason))
    }

    /// Sets what the station does with visits the relay verified at both ends: `queue`,
    /// `bulk` (approvable together) or `auto` (approved without a coordinator).
    pub fn set_verified_visits(&self, rule: String) -> Result<()> {
        let parsed = timebank_engine::model::VerifiedVisits::parse(&rule)
            .ok_or_else(|| timebank_engine::Error::invalid(format!("{rule:?} is not a rule; give queue, bulk or auto")))?;
        self.with(|e| e.set_verified_visits(parsed))
    }

    /// Accepted redemptions waiting to be fulfilled or released, oldest first.
    pub fn redemption_queue(&self) -> Result<Vec<RedemptionToDecide>> {
        self.with(|e| e.redemption_queue()).map(|queue| {
            queue
                .into_iter()
                .map(|(member, request)| RedemptionToDecide {
                    member: member.to_string(),
                    request: SpendRequest::new(request, OutcomeStatus::Accepted.as_str().into()),
                })
                .collect()
        })
    }

    /// Fulfils (the service was given) or releases (the coins go back) redemption `request_id`.
    pub fn decide_redemption(&self, request_id: String, fulfil: bool) -> Result<()> {
        let id = RequestId::parse(&request_id)?;
        let action = if fulfil { RedemptionAction::Fulfil } else { RedemptionAction::Release };
        self.with(|e| e.decide_redemption(&id, action))
    }

    // ----- sync -----

    /// Syncs with the relay, blocking the calling thread (a background one). Pass a
    /// `SyncCancel` to be able to stop it.
    pub fn sync(&self, cancel: Option<Arc<SyncCancel>>) -> Result<SyncReport> {
        self.sync_with_relay(&cancel.unwrap_or_default()).map(SyncReport::from)
    }

    /// Syncs with the relay on a background thread: `suspend` in Kotlin, `async` in Swift
    /// and Python. Cancelling the coroutine or task, or the `SyncCancel`, stops it.
    pub async fn sync_async(self: Arc<Self>, cancel: Option<Arc<SyncCancel>>) -> Result<SyncReport> {
        let cancel = cancel.unwrap_or_default();
        let token = Arc::clone(&cancel);
        Background::spawn(cancel, move || self.sync_with_relay(&token).map(SyncReport::from)).await
    }

    /// Watches the relay while the app is in the foreground (ADR 32): the live channel is
    /// held and the phone syncs whenever the relay says something it reads changed (a
    /// dispatch, a review), so the app's listeners fire within a second. Read the events
    /// with `next_event` (Kotlin: `TimebankPhone.watch()`, a `Flow`; Swift:
    /// `PhoneStore.watch()`, an `AsyncSequence`; Python: `iter(watch.next_event, None)`);
    /// `cancel` it when the app leaves the foreground.
    pub fn watch(self: Arc<Self>) -> Result<Arc<LiveWatch>> {
        let link = self.enrolled_link()?;
        LiveWatch::start(self, link)
    }

    // ----- documents -----

    /// Ids of the documents this phone holds.
    pub fn document_ids(&self) -> Result<Vec<String>> {
        self.with(|e| Ok(e.document_ids().iter().map(ToString::to_string).collect()))
    }

    /// Document `doc` as saved automerge bytes (a backup, a support case).
    pub fn document_bytes(&self, doc: String) -> Result<Vec<u8>> {
        let id = doc.parse()?;
        self.with(|e| e.document_bytes(&id).ok_or_else(|| timebank_engine::Error::NotFound { what: "document", id: doc }))
    }

    /// Merges changes to document `doc` received another way (a saved document, a backup);
    /// returns how many were new.
    pub fn receive_changes(&self, doc: String, bytes: Vec<u8>) -> Result<u64> {
        let id = doc.parse()?;
        self.with(|e| e.receive_changes(&id, &bytes)).map(|n| n as u64)
    }

    /// Compacts the store; cheap when the app is idle.
    pub fn compact(&self) -> Result<()> {
        self.with(Engine::compact)
    }
}
