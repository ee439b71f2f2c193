//! The relay's shared state, [`Relay`]: the store, the relay's own actor id, the clock, and
//! what it keeps in memory between requests (documents, checked against their generation
//! before every use; Bloom-sync sessions).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use automerge::sync as am_sync;
use automerge::{ActorId, Automerge};
use timebank_engine::{Clock, DocId, SystemClock};

use crate::store::{Millis, RelayStore, SqliteStore, StoreError, StoreResult};

/// A document with more chunks than this is compacted into one snapshot after a write.
pub const COMPACT_AFTER_CHUNKS: usize = 64;

/// A Bloom-sync session older than this is forgotten: the device starts afresh.
pub const BLOOM_SESSION_MS: Millis = 10 * 60 * 1000;

/// The relay: shared by every request.
#[derive(Debug)]
pub struct Relay {
    store: Arc<dyn RelayStore>,
    actor: ActorId,
    clock: Arc<dyn Clock>,
    memory: Mutex<Memory>,
}

/// What the relay keeps in memory. One lock: syncs run one at a time.
#[derive(Debug, Default)]
pub(crate) struct Memory {
    pub(crate) docs: HashMap<DocId, CachedDoc>,
    pub(crate) bloom: HashMap<(String, DocId), BloomSession>,
    /// The ledger's books, once loaded (the catch-up runs on first use).
    pub(crate) ledger: Option<crate::ledger::run::LedgerMemory>,
}

/// A document as loaded, and the store generation it matches.
#[derive(Debug)]
pub(crate) struct CachedDoc {
    pub(crate) doc: Automerge,
    pub(crate) generation: i64,
    pub(crate) chunks: usize,
}

/// An automerge sync session with one device over one document (the fallback path).
#[derive(Debug)]
pub(crate) struct BloomSession {
    pub(crate) state: am_sync::State,
    pub(crate) touched_at: Millis,
}

impl Relay {
    /// Opens the relay over the SQLite store in `data_dir` (created if needed).
    pub fn open(data_dir: &Path) -> StoreResult<Relay> {
        Relay::new(Arc::new(SqliteStore::open(data_dir)?), Arc::new(SystemClock))
    }

    /// The relay over `store`, reading the time from `clock`. Each `Relay` writes with a
    /// fresh actor, registered in the store as one of the relay's: two processes (the
    /// server and an admin command), or a relay restored from a backup, never reuse an
    /// automerge sequence number that phones already hold.
    pub fn new(store: Arc<dyn RelayStore>, clock: Arc<dyn Clock>) -> StoreResult<Relay> {
        let actor = ActorId::random();
        store.register_relay_actor(&actor.to_hex_string(), clock.now().timestamp_millis())?;
        Ok(Relay { store, actor, clock, memory: Mutex::new(Memory::default()) })
    }

    /// The store.
    pub fn store(&self) -> &dyn RelayStore {
        self.store.as_ref()
    }

    /// This relay process's automerge actor: the author of everything it writes.
    pub fn actor(&self) -> &ActorId {
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

    pub(crate) fn memory(&self) -> MutexGuard<'_, Memory> {
        self.memory.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Memory {
    /// Brings the cached copies of `ids` up to date with the store: a document whose
    /// generation moved (another relay or an admin command wrote it) is loaded again.
    /// Documents the store does not hold are left out.
    pub(crate) fn refresh(&mut self, store: &dyn RelayStore, actor: &ActorId, ids: &[DocId]) -> StoreResult<()> {
        let names: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let generations = store.document_generations(&names)?;
        for (id, name) in ids.iter().zip(&names) {
            let Some(&generation) = generations.get(name) else {
                self.docs.remove(id);
                continue;
            };
            if self.docs.get(id).is_some_and(|cached| cached.generation == generation) {
                continue;
            }
            let Some(stored) = store.document(name)? else {
                self.docs.remove(id);
                continue;
            };
            let doc = Automerge::load(&stored.bytes)
                .map_err(|e| StoreError::Corrupt(format!("document {name} cannot be read: {e}")))?
                .with_actor(actor.clone());
            self.docs.insert(id.clone(), CachedDoc { doc, generation: stored.generation, chunks: stored.chunk_count });
        }
        Ok(())
    }
}
