//! A phone: an enrolled engine on its own store in a temporary directory, with what the
//! suites ask of it (log a visit, sync over HTTP, read its visits and documents).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use automerge::{ActorId, Automerge, ChangeHash};
use chrono::Duration;
use tempfile::TempDir;
use timebank_engine::http::{HttpTransport, enroll_store};
use timebank_engine::model::{MemberId, OrderId, VisitId};
use timebank_engine::sync::SyncReport;
use timebank_engine::{Clock, DocId, Engine, PastVisit, RelayLink};
use timebank_server::store::MemberRecord;

/// An enrolled phone of `member`.
pub struct Phone {
    /// The engine over the phone's store.
    pub engine: Engine,
    /// Whose phone it is.
    pub member: MemberRecord,
    /// The device's automerge actor.
    pub actor: ActorId,
    /// The address of the relay it enrolled with.
    pub url: String,
    /// The device token (secret: never printed).
    pub token: String,
    /// The device's id on the relay (`d-…`).
    pub device: String,
    /// The store's directory (removed when the phone is dropped).
    pub dir: TempDir,
    /// The clock its engine reads, which its visits are logged against.
    pub clock: Arc<dyn Clock>,
    /// Its HTTP connections to the relay, kept from one sync to the next as the app keeps
    /// them, and its own (another phone's are not shared).
    http: HttpTransport,
}

impl std::fmt::Debug for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        write!(f, "{}'s phone ({} {}, device {})", self.member.display_name, self.member.role.as_str(), self.member.id, self.device)
    }
}

impl Phone {
    /// Enrolls a new phone of `member` over HTTP at `url` with the one-time `code`, into
    /// a new store in `dir`, as the app and `timebank enroll` do.
    pub fn enroll(
        url: &str,
        code: &str,
        member: &MemberRecord,
        dir: TempDir,
        clock: Arc<dyn Clock>,
    ) -> timebank_engine::Result<Phone> {
        let engine = enroll_store(dir.path(), url, code, clock.clone())?;
        Phone::from_engine(engine, member, dir, clock)
    }

    /// The phone whose enrolled store `engine` is open in `dir`.
    pub(crate) fn from_engine(
        engine: Engine,
        member: &MemberRecord,
        dir: TempDir,
        clock: Arc<dyn Clock>,
    ) -> timebank_engine::Result<Phone> {
        let link =
            engine.relay_link()?.ok_or_else(|| timebank_engine::Error::invalid("the enrolled store does not know its relay"))?;
        let actor = ActorId::try_from(engine.identity().device.as_str())
            .map_err(|e| timebank_engine::Error::invalid(format!("the store's device actor is not hex: {e}")))?;
        let http = HttpTransport::with_own_connections(&link);
        let RelayLink { url, token, device } = link;
        Ok(Phone { engine, member: member.clone(), actor, url, token, device, dir, clock, http })
    }

    /// How the phone reaches its relay: the address, the token and the device id.
    pub fn link(&self) -> RelayLink {
        RelayLink { url: self.url.clone(), token: self.token.clone(), device: self.device.clone() }
    }

    /// The HTTP transport to the relay the phone enrolled with (on the phone's connections).
    pub fn http(&self) -> HttpTransport {
        self.http.clone()
    }

    /// One `Engine::sync` over HTTP (what the app does when it has signal).
    pub fn sync(&mut self) -> timebank_engine::Result<SyncReport> {
        self.engine.sync(&mut self.http)
    }

    /// The app is closed and opened again: the engine reopens the store on disk.
    pub fn reopen(self) -> Phone {
        let Phone { engine, member, actor, url, token, device, dir, clock, http } = self;
        drop(engine);
        let engine = Engine::open_with_clock(dir.path(), clock.clone()).unwrap();
        Phone { engine, member, actor, url, token, device, dir, clock, http }
    }

    /// Logs a finished visit to `elder` that started `hours_ago` and lasted `minutes`.
    pub fn log_visit_at(&mut self, elder: &MemberId, hours_ago: i64, minutes: i64, note: &str) -> VisitId {
        let start = self.clock.now() - Duration::hours(hours_ago);
        self.engine
            .log_visit(&PastVisit {
                elder: elder.clone(),
                service: "companionship".into(),
                order: None,
                start,
                end: start + Duration::minutes(minutes),
                note: note.into(),
            })
            .unwrap()
    }

    /// Logs a finished one-hour visit to `elder`, some days ago: each visit logged this way
    /// (by any phone) is two hours after the one before, so visits keep their order and the
    /// ledger never sees them overlap.
    pub fn log_visit(&mut self, elder: &MemberId, note: &str) -> VisitId {
        static EARLIER: AtomicI64 = AtomicI64::new(0);
        let earlier = 2 * (24 * 10 - EARLIER.fetch_add(1, Ordering::Relaxed) % (24 * 10));
        self.log_visit_at(elder, 3 + earlier, 60, note)
    }

    /// Logs a finished visit from a paper record (three to two hours ago), for `order` if given.
    pub fn log_paper_visit(&mut self, elder: &MemberId, order: Option<&OrderId>, note: &str) -> VisitId {
        self.log_order_visit(elder, order, "companionship", 3, note)
    }

    /// Logs a finished one-hour visit of `service` from a paper record, started `hours_ago`,
    /// for `order` if given (the visit that serves it).
    pub fn log_order_visit(
        &mut self,
        elder: &MemberId,
        order: Option<&OrderId>,
        service: &str,
        hours_ago: i64,
        note: &str,
    ) -> VisitId {
        let start = self.clock.now() - Duration::hours(hours_ago);
        self.engine
            .log_visit(&PastVisit {
                elder: elder.clone(),
                service: service.into(),
                order: order.cloned(),
                start,
                end: start + Duration::hours(1),
                note: note.into(),
            })
            .unwrap()
    }

    /// Checks in at the elder's home, back-dated 45 minutes (so checking out now gives a
    /// visit of a plausible length; a tap later than the station's hour would go to review).
    pub fn check_in(&mut self, elder: &MemberId, order: Option<&OrderId>) -> VisitId {
        let at = self.clock.now() - Duration::minutes(45);
        self.engine.start_visit_at(elder, "meals", order, Some(at)).unwrap()
    }

    /// The state labels of this phone's visits, in the engine's order.
    pub fn visit_states(&self) -> Vec<String> {
        self.engine.visits().unwrap().into_iter().map(|v| v.state_label).collect()
    }

    /// This phone's visits and their state labels.
    pub fn states(&self) -> BTreeMap<VisitId, String> {
        self.engine.visits().unwrap().into_iter().map(|v| (v.visit.id, v.state_label)).collect()
    }

    /// The visits this phone shows as on the relay ([`on_relay`]).
    pub fn sent(&self) -> BTreeSet<VisitId> {
        self.states().into_iter().filter(|(_, s)| on_relay(s)).map(|(id, _)| id).collect()
    }

    /// The confirmed balance in minutes.
    pub fn confirmed(&self) -> i64 {
        self.engine.balance().confirmed_minutes
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

    /// The phone's documents and their heads (sorted).
    pub fn held(&self) -> BTreeMap<DocId, Vec<ChangeHash>> {
        self.engine
            .document_ids()
            .into_iter()
            .map(|id| {
                let mut heads = self.engine.heads(&id);
                heads.sort_unstable();
                (id, heads)
            })
            .collect()
    }
}

/// Whether a visit's state label says the relay has it: "sent", or the outcome the
/// relay's ledger gave it once it arrived.
pub fn on_relay(state: &str) -> bool {
    state == "sent" || state == "approved" || state.starts_with("rejected: ") || state.starts_with("under review: ")
}
