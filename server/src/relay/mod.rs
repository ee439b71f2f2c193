//! The relay's shared state, [`Relay`]: the store, the relay's own actor id, the clock, and
//! the one owner of its writes ([`Work`]): the working copies of documents (checked against
//! their generation before every use) and the ledger's books, and the sequence every write goes through (stage on forks, store with the arrival log in one
//! transaction, adopt, reconcile). Sync, the console's decisions and admin commands all
//! write through it.

mod cache;
mod settings;
mod work;

use std::sync::{Arc, Mutex, PoisonError};

use timebank_engine::{Clock, SystemClock};

use crate::store::{Millis, RelayStore, SqliteStore, StoreResult};
use crate::voucher::Vouchers;

pub use settings::Settings;
pub(crate) use work::{Work, Writes};

/// The relay: shared by every request.
#[derive(Debug)]
pub struct Relay {
    store: Arc<dyn RelayStore>,
    actor: automerge::ActorId,
    clock: Arc<dyn Clock>,
    vouchers: Vouchers,
    settings: Settings,
    state: Mutex<work::State>,
}

impl Relay {
    /// Opens the relay over the SQLite store in `data_dir` (created if needed).
    pub fn open(data_dir: &std::path::Path) -> StoreResult<Relay> {
        Relay::new(Arc::new(SqliteStore::open(data_dir)?), Arc::new(SystemClock))
    }

    /// The relay over `store`, reading the time from `clock`. Each `Relay` writes with a
    /// fresh actor, registered in the store as one of the relay's: two processes (the
    /// server and an admin command), or a relay restored from a backup, never reuse an
    /// automerge sequence number that phones already hold.
    pub fn new(store: Arc<dyn RelayStore>, clock: Arc<dyn Clock>) -> StoreResult<Relay> {
        Relay::with_settings(store, clock, Settings::default())
    }

    /// [`Relay::new`] with the operator's `settings`.
    pub fn with_settings(store: Arc<dyn RelayStore>, clock: Arc<dyn Clock>, settings: Settings) -> StoreResult<Relay> {
        let actor = automerge::ActorId::random();
        store.register_relay_actor(&actor.to_hex_string(), clock.now().timestamp_millis())?;
        let vouchers = Vouchers::load(store.as_ref())?;
        Ok(Relay { store, actor, clock, vouchers, settings, state: Mutex::new(work::State::default()) })
    }

    /// The operator's settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The store.
    pub fn store(&self) -> &dyn RelayStore {
        self.store.as_ref()
    }

    /// This relay process's automerge actor: the author of everything it writes.
    pub fn actor(&self) -> &automerge::ActorId {
        &self.actor
    }

    /// Now, in milliseconds since the epoch.
    pub fn now_ms(&self) -> Millis {
        self.clock.now().timestamp_millis()
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The relay's vouchers (ADR 25).
    pub fn vouchers(&self) -> &Vouchers {
        &self.vouchers
    }

    /// Starts a unit of work on the documents: until it is dropped, no other write (or
    /// read of the working copies) runs in this process. One at a time: syncs take turns.
    pub(crate) fn work(&self) -> Work<'_> {
        Work::new(self, self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Brings the ledger up to date with the store: at start, the catch-up (the books
    /// rebuilt from the arrival log, unlogged documents logged, missing postings posted);
    /// afterwards, whatever the arrival log holds that was not yet posted (another process
    /// logged it).
    pub fn reconcile_ledger(&self) -> StoreResult<()> {
        self.work().reconcile()
    }

    /// The current copies of `ids` (those the store holds), for reading.
    pub fn documents(
        &self,
        ids: &[timebank_engine::DocId],
    ) -> StoreResult<std::collections::BTreeMap<timebank_engine::DocId, automerge::Automerge>> {
        let mut work = self.work();
        work.load(ids)?;
        Ok(ids.iter().filter_map(|id| Some((id.clone(), work.doc(id)?.clone()))).collect())
    }
}
