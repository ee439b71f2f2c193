//! The open live channels ([`Hub`]), by station, and the thread that routes the relay's
//! notices to them: a written document's hint goes to every channel of its station whose
//! reader may read it; a revoked device's channel is closed; every channel is closed when
//! the relay stops. Every few seconds the thread also sweeps: channels of devices revoked by
//! another process, and console channels whose session ended, are closed. When the store
//! tells of every process's writes (PostgreSQL's notifications), the hub routes those
//! instead of this process's own, so a write through any relay reaches every relay's
//! channels.

use std::collections::{HashMap, HashSet};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use axum::response::IntoResponse as _;
use axum::response::Response;
use timebank_engine::DocId;
use timebank_engine::model::{MemberId, Role, StationId};
use timebank_engine::sync::live::CloseReason;

use crate::authority::Access;
use crate::error::AppError;
use crate::live::{Channel, Reader};
use crate::relay::{LiveSettings, Notice, Relay};
use crate::store::{DocumentChanges, StoreResult};

/// How often the hub looks for channels to close that no notice told it about.
const SWEEP: Duration = Duration::from_secs(2);

/// The open channels of one relay's router.
#[derive(Debug)]
pub struct Hub {
    relay: Arc<Relay>,
    settings: LiveSettings,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    next: u64,
    count: usize,
    by_station: HashMap<StationId, HashMap<u64, Arc<Channel>>>,
    everywhere: HashMap<u64, Arc<Channel>>,
    by_device: HashMap<String, Arc<Channel>>,
}

impl Open {
    fn of(&mut self, station: Option<&StationId>) -> &mut HashMap<u64, Arc<Channel>> {
        match station {
            Some(station) => self.by_station.entry(station.clone()).or_default(),
            None => &mut self.everywhere,
        }
    }

    fn all(&self) -> Vec<Arc<Channel>> {
        self.by_station.values().flat_map(HashMap::values).chain(self.everywhere.values()).cloned().collect()
    }
}

impl Hub {
    /// The hub of `relay`'s live channels, with its routing thread (which ends once the
    /// hub is gone).
    pub fn start(relay: Arc<Relay>) -> std::io::Result<Arc<Hub>> {
        let notices = relay.changes().listen();
        let settings = relay.settings().live.clone();
        let hub = Arc::new(Hub { relay, settings, open: Mutex::default() });
        let weak = Arc::downgrade(&hub);
        std::thread::Builder::new().name("live-hints".into()).spawn(move || route(&weak, &notices))?;
        Ok(hub)
    }

    /// How many channels are open.
    pub fn open_channels(&self) -> usize {
        self.lock().count
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Opens a channel for `reader` and answers with its events. A device has one channel:
    /// an older one is closed (`replaced`). Refused (503) when the relay holds as many as
    /// it may.
    pub fn open(self: &Arc<Self>, reader: Reader) -> Result<Response, AppError> {
        let channel = {
            let mut open = self.lock();
            if open.count >= self.settings.max_channels {
                return Err(AppError::Busy {
                    message: format!(
                        "the relay holds as many live channels as it may ({}); the phone syncs on its own schedule meanwhile and connects again later",
                        self.settings.max_channels
                    ),
                    retry_after_secs: 60,
                });
            }
            open.next += 1;
            open.count += 1;
            let channel = Arc::new(Channel::new(open.next, reader));
            if let Some(device) = channel.reader().device_id()
                && let Some(older) = open.by_device.insert(device.to_owned(), Arc::clone(&channel))
            {
                older.close(CloseReason::Replaced);
            }
            open.of(channel.reader().station()).insert(channel.id(), Arc::clone(&channel));
            channel
        };
        let heartbeat = Duration::from_millis(self.settings.heartbeat_ms);
        let coalesce = Duration::from_millis(self.settings.coalesce_ms);
        Ok(super::channel::respond(Arc::clone(self), channel, heartbeat, coalesce).into_response())
    }

    /// Forgets a channel whose stream ended.
    pub(super) fn forget(&self, channel: &Channel) {
        let mut open = self.lock();
        let station = channel.reader().station();
        let removed = open.of(station).remove(&channel.id()).is_some();
        if let Some(station) = station
            && open.by_station.get(station).is_some_and(HashMap::is_empty)
        {
            open.by_station.remove(station);
        }
        if let Some(device) = channel.reader().device_id()
            && open.by_device.get(device).is_some_and(|current| current.id() == channel.id())
        {
            open.by_device.remove(device);
        }
        if removed {
            open.count -= 1;
        }
    }

    /// The channels that may hear of documents of `station`.
    fn listening(&self, station: &StationId) -> Vec<Arc<Channel>> {
        let open = self.lock();
        open.by_station.get(station).into_iter().flat_map(HashMap::values).chain(open.everywhere.values()).cloned().collect()
    }

    /// Hints each of `ids` to the channels whose reader may read it.
    fn written(&self, routes: &mut Routes, ids: &[DocId]) {
        for id in ids {
            let station = match routes.station_of(self, id) {
                Ok(Some(station)) => station,
                Ok(None) => continue,
                Err(error) => {
                    tracing::warn!(%error, doc = %id, "a live hint could not be routed; phones hear of it at their next sync");
                    continue;
                }
            };
            for channel in self.listening(&station) {
                if channel.reader().may_read(&station, id) {
                    channel.hint(id);
                }
            }
        }
    }

    /// A member joined `station`: the access of the devices that read other members'
    /// documents (coordinators, family proxies) is computed again.
    fn joined(&self, station: &StationId) {
        let store = self.relay.store();
        for channel in self.listening(station) {
            if let Reader::Device { member, access, .. } = channel.reader()
                && matches!(member.role, Role::Coordinator | Role::FamilyProxy)
            {
                match Access::of(store, member) {
                    Ok(fresh) => *access.write().unwrap_or_else(PoisonError::into_inner) = fresh,
                    Err(error) => tracing::warn!(%error, member = %member.id, "could not refresh a live channel's access"),
                }
            }
        }
    }

    fn close_device(&self, device: &str, reason: CloseReason) {
        if let Some(channel) = self.lock().by_device.get(device) {
            channel.close(reason);
        }
    }

    fn close_all(&self, reason: CloseReason) {
        for channel in self.lock().all() {
            channel.close(reason);
        }
    }

    /// Closes the channels of devices revoked elsewhere (another process on the store) and
    /// of console sessions that ended.
    fn sweep(&self) -> StoreResult<()> {
        let channels = self.lock().all();
        if channels.is_empty() {
            return Ok(());
        }
        let store = self.relay.store();
        let mut revoked: Option<HashSet<String>> = None;
        for channel in channels {
            let closed = match channel.reader() {
                Reader::Device { device, .. } => {
                    if revoked.is_none() {
                        revoked = Some(store.devices()?.into_iter().filter(|d| d.revoked_at.is_some()).map(|d| d.id).collect());
                    }
                    revoked.as_ref().is_some_and(|revoked| revoked.contains(device)).then_some(CloseReason::Revoked)
                }
                Reader::Console { session, .. } => (!session(&self.relay)?).then_some(CloseReason::SessionEnded),
            };
            if let Some(reason) = closed {
                channel.close(reason);
            }
        }
        Ok(())
    }
}

/// Which station each member belongs to, as the routing thread learned it (every member
/// when it started, then each new one).
#[derive(Debug, Default)]
struct Routes {
    stations: HashMap<MemberId, StationId>,
    loaded: bool,
}

impl Routes {
    fn load(&mut self, hub: &Hub) -> StoreResult<()> {
        let store = hub.relay.store();
        for station in store.stations()? {
            for member in store.station_members(&station.id)? {
                self.stations.insert(member.id, member.station);
            }
        }
        self.loaded = true;
        Ok(())
    }

    /// The station of `doc`: the member's, for a member's document or ledger. A member
    /// not known yet has just joined: the hub refreshes the access of their station's
    /// channels.
    fn station_of(&mut self, hub: &Hub, doc: &DocId) -> StoreResult<Option<StationId>> {
        if !self.loaded {
            self.load(hub)?;
        }
        let member = match doc {
            DocId::Station(station) | DocId::Desk(station) => return Ok(Some(station.clone())),
            DocId::Member(member) | DocId::Ledger(member) => member,
        };
        if let Some(station) = self.stations.get(member) {
            return Ok(Some(station.clone()));
        }
        let Some(record) = hub.relay.store().member(member)? else { return Ok(None) };
        self.stations.insert(record.id, record.station.clone());
        hub.joined(&record.station);
        Ok(Some(record.station))
    }
}

/// Starts forwarding the store's feed of every process's writes, if it has one: whether
/// the hub routes those ([`Notice::Stored`]) rather than this process's own.
fn follow_store(hub: &Weak<Hub>) -> bool {
    let Some(strong) = hub.upgrade() else { return false };
    let feed = match strong.relay.store().subscribe_changes() {
        Ok(Some(feed)) => feed,
        Ok(None) => return false,
        Err(error) => {
            tracing::warn!(%error, "cannot hear other relays' writes; live hints tell only of this relay's");
            return false;
        }
    };
    let hub = Weak::clone(hub);
    let spawned = std::thread::Builder::new().name("live-store-feed".into()).spawn(move || forward_store(&hub, feed));
    if let Err(error) = spawned {
        tracing::warn!(%error, "cannot hear other relays' writes; live hints tell only of this relay's");
        return false;
    }
    true
}

/// Hands each batch of document ids the store's feed brings to the hub, until the store
/// or the hub is gone.
fn forward_store(hub: &Weak<Hub>, mut feed: DocumentChanges) {
    while let Some(first) = feed.blocking_recv() {
        let Some(hub) = hub.upgrade() else { return };
        let mut ids = vec![first];
        while let Ok(more) = feed.try_recv() {
            ids.push(more);
        }
        let docs = ids.iter().filter_map(|id| id.parse::<DocId>().ok()).collect::<Vec<_>>();
        if !docs.is_empty() {
            hub.relay.changes().send(&Notice::Stored(docs));
        }
    }
}

/// The routing thread: notices as they come, a sweep every [`SWEEP`]; it ends when the
/// hub is gone or the relay is.
fn route(hub: &Weak<Hub>, notices: &Receiver<Notice>) {
    let mut routes = Routes::default();
    let mut swept = Instant::now();
    let from_store = follow_store(hub);
    loop {
        let notice = match notices.recv_timeout(SWEEP) {
            Ok(notice) => Some(notice),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let Some(hub) = hub.upgrade() else { return };
        match notice {
            // With no channel open nobody hears: a channel opened later starts with a
            // catch-up sync, so the store is not read for every write of a quiet relay.
            Some(Notice::Written(ids)) if !from_store && hub.open_channels() > 0 => hub.written(&mut routes, &ids),
            Some(Notice::Stored(ids)) if hub.open_channels() > 0 => hub.written(&mut routes, &ids),
            Some(Notice::Written(_) | Notice::Stored(_)) => {}
            Some(Notice::Revoked(device)) => hub.close_device(&device, CloseReason::Revoked),
            Some(Notice::Stopping) => hub.close_all(CloseReason::ShuttingDown),
            None => {}
        }
        if swept.elapsed() >= SWEEP {
            swept = Instant::now();
            if let Err(error) = hub.sweep() {
                tracing::warn!(%error, "the live channels' sweep failed; it runs again shortly");
            }
        }
    }
}
