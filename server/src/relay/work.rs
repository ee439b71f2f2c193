//! A unit of work on the relay's documents ([`Work`]): the one owner of the write sequence.
//! A caller loads the documents it needs, reads them, builds forks with its changes
//! ([`Writes`]) and commits: the changed documents' chunks, the arrival-log events the
//! changes bring and the caller's acknowledgements and audit entries are stored in one
//! transaction; the forks become the working copies; the ledger folds the logged events,
//! handed over in memory, and its postings and documents are stored.

use std::collections::{BTreeMap, HashMap};

use automerge::{Automerge, ChangeHash, Patch};
use timebank_engine::DocId;

use crate::ledger::bookkeeper::{self, Bookkeeper, Entries};
use crate::ledger::collect::{self, Written};
use crate::ledger::{Books, document};
use crate::relay::Relay;
use crate::relay::cache::DocumentCache;
use crate::store::{StoreError, StoreResult, WriteBatch};

/// What the relay keeps in memory between requests, behind one lock.
#[derive(Debug, Default)]
pub(super) struct State {
    documents: DocumentCache,
    /// The ledger's books, once loaded (the catch-up runs at the first write).
    bookkeeper: Option<Bookkeeper>,
}

/// What a write stores: documents with its changes applied (forks of the working copies),
/// the patches of those the caller diffed already, and the acknowledgements and audit
/// entries that go in the same transaction (their chunks are the commit's to make).
#[derive(Debug, Default)]
pub(crate) struct Writes {
    /// Each changed document: a fork of its working copy with the changes applied.
    pub forks: BTreeMap<DocId, Automerge>,
    /// Patches from the working copy to the fork, where the caller made them.
    pub diffs: HashMap<DocId, Vec<Patch>>,
    /// Acknowledged heads and audit entries to store with the documents.
    pub batch: WriteBatch,
}

/// The relay's documents, held for one unit of work.
#[derive(Debug)]
pub(crate) struct Work<'r> {
    relay: &'r Relay,
    state: std::sync::MutexGuard<'r, State>,
}

impl<'r> Work<'r> {
    pub(super) fn new(relay: &'r Relay, state: std::sync::MutexGuard<'r, State>) -> Self {
        Work { relay, state }
    }

    /// Loads (or refreshes) the working copies of `ids`; those the store lacks stay absent.
    pub(crate) fn load(&mut self, ids: &[DocId]) -> StoreResult<()> {
        self.state.documents.refresh(self.relay.store(), self.relay.actor(), ids)
    }

    /// The working copy of `id`, if loaded and stored.
    pub(crate) fn doc(&self, id: &DocId) -> Option<&Automerge> {
        self.state.documents.get(id)
    }

    /// Stores `writes` and what follows from them, in this order: the chunk of every fork
    /// that changed, the arrival-log events those changes bring, and the batch's
    /// acknowledgements and audit entries, in one transaction; then the forks become the
    /// working copies; then the ledger folds the events (see [`Work::reconcile`]). Returns
    /// the new generation of each document written. A failure to store refuses the whole
    /// write; a failure of the ledger afterwards is logged, and the next write catches up.
    pub(crate) fn commit(&mut self, writes: Writes) -> StoreResult<HashMap<String, i64>> {
        let store = self.relay.store();
        let now = self.relay.now_ms();
        let Writes { mut forks, diffs, mut batch } = writes;
        let mut befores: HashMap<DocId, Vec<ChangeHash>> = HashMap::new();
        forks.retain(|id, fork| {
            let Some(cached) = self.state.documents.get(id) else { return false };
            let before = cached.get_heads();
            if fork.get_heads() == before {
                return false;
            }
            batch.chunks.push((id.to_string(), fork.save_after(&before)));
            befores.insert(id.clone(), before);
            true
        });
        let written: Vec<Written<'_>> = forks
            .iter()
            .filter_map(|(id, after)| {
                Some(Written { id, before: befores.get(id)?, after, patches: diffs.get(id).map(Vec::as_slice) })
            })
            .collect();
        let empty = Books::new();
        let books = self.state.bookkeeper.as_ref().map_or(&empty, Bookkeeper::books);
        let arrivals = collect::arrivals(store, books, &written)?;
        // Logged in the write's own transaction once the books are loaded (one commit
        // less, and never one stored without the other); before that, the catch-up at the
        // end of this commit finds them in the documents.
        let loaded = self.state.bookkeeper.is_some();
        let events = if loaded { bookkeeper::to_log(&arrivals) } else { Vec::new() };
        let (generations, logged) = store.write_sync(&batch, &events, now)?;
        for (id, fork) in forks {
            if let Some(&generation) = generations.get(&id.to_string()) {
                self.state.documents.adopt(store, &id, fork, generation);
            }
        }
        let folded = match self.state.bookkeeper.as_mut() {
            Some(keeper) if !logged.is_empty() => keeper.fold(store, &logged, &arrivals).map(Some),
            Some(_) => Ok(None),
            None => self.catch_up().map(Some),
        };
        if let Err(error) = folded.and_then(|entries| entries.map_or(Ok(()), |e| self.store_entries(e))) {
            tracing::error!(%error, "reconciliation failed; it catches up at the next write");
            self.state.bookkeeper = None;
        }
        Ok(generations)
    }

    /// Brings the ledger up to date: the catch-up when the books are not loaded, then
    /// whatever the arrival log holds past them. On failure the books are dropped, so the
    /// next write starts with a catch-up.
    pub(crate) fn reconcile(&mut self) -> StoreResult<()> {
        let result = (|| {
            if self.state.bookkeeper.is_none() {
                let entries = self.catch_up()?;
                self.store_entries(entries)?;
            }
            let entries = match self.state.bookkeeper.as_mut() {
                Some(keeper) => keeper.fold_logged(self.relay.store())?,
                None => Entries::default(),
            };
            self.store_entries(entries)
        })();
        if result.is_err() {
            self.state.bookkeeper = None;
        }
        result
    }

    /// Loads the books (see [`Bookkeeper::catch_up`]); returns what they ask to store.
    fn catch_up(&mut self) -> StoreResult<Entries> {
        let (keeper, entries) = Bookkeeper::catch_up(self.relay.store(), self.relay.now_ms())?;
        self.state.bookkeeper = Some(keeper);
        Ok(entries)
    }

    /// Stores the ledger's entries: the postings, and the ledger documents of the members
    /// named brought to what the books say, in one transaction; the written ledger
    /// documents become the working copies.
    fn store_entries(&mut self, entries: Entries) -> StoreResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let store = self.relay.store();
        let now = self.relay.now_ms();
        let ids: Vec<DocId> = entries.members.iter().map(|m| DocId::Ledger(m.clone())).collect();
        self.load(&ids)?;
        let State { documents, bookkeeper, .. } = &mut *self.state;
        let Some(keeper) = bookkeeper.as_mut() else { return Ok(()) };
        let mut batch = WriteBatch::default();
        let mut updated = Vec::new();
        for (id, member) in ids.iter().zip(&entries.members) {
            let Some(doc) = documents.get(id) else { continue };
            let change = document::update(doc, keeper.books(), member, now)
                .map_err(|e| StoreError::Corrupt(format!("could not write {id}: {e}")))?;
            if let Some((chunk, doc)) = change {
                batch.chunks.push((id.to_string(), chunk));
                updated.push((id.clone(), doc));
            }
        }
        if entries.postings.is_empty() && batch.is_empty() {
            return Ok(());
        }
        let generations = store.append_postings(&entries.postings, &batch, now)?;
        keeper.stored();
        for (id, doc) in updated {
            if let Some(&generation) = generations.get(&id.to_string()) {
                documents.adopt(store, &id, doc, generation);
            }
        }
        Ok(())
    }
}
