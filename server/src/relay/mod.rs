//! The relay's shared state, [`Relay`]: the store, the relay's own actor id, the clock, and
//! the one owner of its writes ([`Work`]): the working copies of documents (checked against
//! their generation before every use, brought up to date when another relay's write is
//! heard, written by one request at a time), the group commit,
//! the ledger's poster, and the sequence every write goes through (stage on forks, store
//! with the arrival log in one transaction, adopt, reconcile), and the notices of what
//! changed ([`Changes`]). Sync, the console's decisions and admin commands all write
//! through it; requests on different documents run in parallel.

mod cache;
mod changes;
mod committer;
mod heard;
mod ledger;
mod settings;
mod work;

use std::collections::BTreeMap;
use std::sync::Arc;

use timebank_engine::model::StationId;
use timebank_engine::{Clock, SystemClock};

use crate::ledger::StationRules;
use crate::metrics::Metrics;
use crate::store::{Millis, RelayStore, SqliteStore, StoreResult};
use crate::voucher::Vouchers;

pub use changes::{Changes, Notice};
pub use settings::{LiveSettings, Settings};
pub(crate) use work::{Taken, Work, Writes};

/// The relay: shared by every request.
#[derive(Debug)]
pub struct Relay {
    store: Arc<dyn RelayStore>,
    actor: automerge::ActorId,
    clock: Arc<dyn Clock>,
    vouchers: Vouchers,
    settings: Settings,
    documents: Arc<cache::DocumentCache>,
    committer: committer::Committer,
    ledger: ledger::LedgerWorker,
    metrics: Arc<Metrics>,
    changes: Arc<Changes>,
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
        let documents = Arc::new(cache::DocumentCache::default());
        let changes = Arc::new(Changes::default());
        let ledger = ledger::LedgerWorker::start(ledger::Poster {
            store: Arc::clone(&store),
            documents: Arc::clone(&documents),
            actor: actor.clone(),
            clock: Arc::clone(&clock),
            changes: Arc::clone(&changes),
        })?;
        heard::start(&store, &documents, &actor, ledger.waker());
        let metrics = Arc::new(Metrics::default());
        let committer = committer::Committer::default();
        Ok(Relay { store, actor, clock, vouchers, settings, documents, committer, ledger, metrics, changes })
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

    /// This process's live counters (ADR 0033).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// What changed: every document write this relay stores, revocations, its stopping
    /// (what the live channels tell devices, ADR 32).
    pub fn changes(&self) -> &Changes {
        &self.changes
    }

    /// The relay's vouchers (ADR 25).
    pub fn vouchers(&self) -> &Vouchers {
        &self.vouchers
    }

    /// Starts a unit of work on the documents (see [`Work`]).
    pub(crate) fn work(&self) -> Work<'_> {
        Work::new(self)
    }

    /// Brings the ledger up to date with the store: at start, the catch-up (the books
    /// rebuilt from the arrival log, unlogged documents logged, missing postings posted);
    /// afterwards, whatever the arrival log holds that was not yet posted (another process
    /// logged it).
    pub fn reconcile_ledger(&self) -> StoreResult<()> {
        self.ledger.reconcile()
    }

    /// What approving each of `visits` would credit now (rounding, the longest visit, the
    /// daily and lifetime caps with overflow to the pool), computed by the ledger's own books
    /// after everything committed before the call is folded; visits the ledger does not
    /// hold are left out.
    pub fn credit_previews(&self, visits: Vec<String>) -> StoreResult<BTreeMap<String, crate::ledger::rules::Credit>> {
        self.ledger.credits(visits)
    }

    /// Waits until the ledger has folded and stored everything this relay committed before
    /// the call: what a sync does before it answers, and the console before it reads.
    pub fn settle(&self) {
        self.ledger.settle();
    }

    /// The last arrival-log event this relay's ledger has folded and stored the effects of
    /// (the stored cursor, `ledger_progress().folded`, trails it by a fraction of a second).
    pub fn ledger_folded(&self) -> i64 {
        self.ledger.folded()
    }

    /// The rules the ledger applies now (the catch-up runs first if the books are not
    /// loaded; if it fails, it is logged and the defaults stand in until it succeeds).
    fn current_rules(&self) -> BTreeMap<StationId, StationRules> {
        if let Some(rules) = self.ledger.rules() {
            return rules;
        }
        if let Err(error) = self.ledger.reconcile() {
            tracing::error!(%error, "the ledger could not catch up; it tries again at the next write");
        }
        self.ledger.rules().unwrap_or_default()
    }

    /// The current copies of `ids` (those the store holds), for reading, with the ledger
    /// settled first.
    pub fn documents(
        &self,
        ids: &[timebank_engine::DocId],
    ) -> StoreResult<std::collections::BTreeMap<timebank_engine::DocId, automerge::Automerge>> {
        self.settle();
        let mut work = self.work();
        work.load(ids)?;
        Ok(ids.iter().filter_map(|id| Some((id.clone(), work.doc(id)?.clone()))).collect())
    }
}
