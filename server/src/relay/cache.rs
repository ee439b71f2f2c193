//! The relay's working copies of documents, each with the store generation it matches:
//! refreshed before use (a document another relay or an admin command wrote is loaded
//! again), replaced by the written fork after a write the store numbered next, and
//! compacted in the store when its chunks pile up. Readers take a copy that stays as it
//! was (an `Arc`); a document is written by one request at a time ([`DocumentCache::lock`]).
//! Private to the write path's owner.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock};

use automerge::{ActorId, Automerge};
use timebank_engine::DocId;

use crate::store::{RelayStore, StoreError, StoreResult};

/// A document with more chunks than this is compacted into one snapshot after a write.
pub const COMPACT_AFTER_CHUNKS: usize = 64;

/// The working copies.
#[derive(Debug, Default)]
pub(super) struct DocumentCache {
    slots: Mutex<HashMap<DocId, Arc<Slot>>>,
}

/// One document: its copy, and whether a request is writing it.
#[derive(Debug, Default)]
struct Slot {
    copy: RwLock<Option<Cached>>,
    writing: Mutex<bool>,
    written: Condvar,
}

/// A document as loaded, and the store generation it matches.
#[derive(Clone, Debug)]
struct Cached {
    doc: Arc<Automerge>,
    generation: i64,
    chunks: usize,
}

/// The copy a writer's fork was made from: its store generation and chunks. The fork is
/// adopted only as that generation's next ([`DocumentCache::adopt`]).
#[derive(Clone, Copy, Debug)]
pub(super) struct Base {
    generation: i64,
    chunks: usize,
}

/// The documents one request writes, held until it is dropped.
#[derive(Debug, Default)]
pub(super) struct Held {
    slots: Vec<(DocId, Arc<Slot>)>,
}

impl Held {
    /// Whether `id` is held.
    pub(super) fn holds(&self, id: &DocId) -> bool {
        self.slots.iter().any(|(held, _)| held == id)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        for (_, slot) in self.slots.drain(..) {
            *slot.writing.lock().unwrap_or_else(PoisonError::into_inner) = false;
            slot.written.notify_one();
        }
    }
}

impl DocumentCache {
    fn slot(&self, id: &DocId) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(slots.entry(id.clone()).or_default())
    }

    /// Waits until no other request writes any of `ids`, and holds them: always in the
    /// same order, so two requests never wait for each other.
    pub(super) fn lock(&self, held: &mut Held, ids: &[DocId]) {
        let mut ids: Vec<&DocId> = ids.iter().filter(|id| !held.holds(id)).collect();
        ids.sort();
        ids.dedup();
        for id in ids {
            let slot = self.slot(id);
            let mut writing = slot.writing.lock().unwrap_or_else(PoisonError::into_inner);
            while *writing {
                writing = slot.written.wait(writing).unwrap_or_else(PoisonError::into_inner);
            }
            *writing = true;
            drop(writing);
            held.slots.push((id.clone(), slot));
        }
    }

    /// Brings the copies of `ids` up to date with the store: a document whose generation
    /// moved is loaded again; documents the store does not hold are forgotten.
    pub(super) fn refresh(&self, store: &dyn RelayStore, actor: &ActorId, ids: &[DocId]) -> StoreResult<()> {
        let names: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let generations = store.document_generations(&names)?;
        for (id, name) in ids.iter().zip(&names) {
            let slot = self.slot(id);
            let Some(&generation) = generations.get(name) else {
                *slot.copy.write().unwrap_or_else(PoisonError::into_inner) = None;
                continue;
            };
            if slot.copy.read().unwrap_or_else(PoisonError::into_inner).as_ref().is_some_and(|c| c.generation >= generation) {
                continue;
            }
            let Some(stored) = store.document(name)? else { continue };
            let doc = Automerge::load(&stored.bytes)
                .map_err(|e| StoreError::Corrupt(format!("document {name} cannot be read: {e}")))?
                .with_actor(actor.clone());
            let mut copy = slot.copy.write().unwrap_or_else(PoisonError::into_inner);
            if copy.as_ref().is_none_or(|c| c.generation < stored.generation) {
                *copy = Some(Cached { doc: Arc::new(doc), generation: stored.generation, chunks: stored.chunk_count });
            }
        }
        Ok(())
    }

    /// Heard that `ids` were written (by any process on the store): the copies another
    /// process wrote since they were loaded here are loaded again. A copy a request here is
    /// writing is left to it (most likely its own write, heard before it adopts the fork);
    /// a document not loaded here stays unloaded. True when a copy was behind the store or
    /// a document is not loaded here: another process wrote it.
    pub(super) fn heard(&self, store: &dyn RelayStore, actor: &ActorId, ids: &[DocId]) -> StoreResult<bool> {
        let mut elsewhere = false;
        let mut loaded: Vec<(&DocId, i64)> = Vec::new();
        for id in ids {
            let slot = self.slots.lock().unwrap_or_else(PoisonError::into_inner).get(id).map(Arc::clone);
            let Some(slot) = slot else {
                elsewhere = true;
                continue;
            };
            if *slot.writing.lock().unwrap_or_else(PoisonError::into_inner) {
                continue;
            }
            match slot.copy.read().unwrap_or_else(PoisonError::into_inner).as_ref() {
                Some(cached) => loaded.push((id, cached.generation)),
                None => elsewhere = true,
            }
        }
        if loaded.is_empty() {
            return Ok(elsewhere);
        }
        let names: Vec<String> = loaded.iter().map(|(id, _)| id.to_string()).collect();
        let generations = store.document_generations(&names)?;
        let behind: Vec<DocId> = loaded
            .iter()
            .zip(&names)
            .filter(|((_, cached), name)| generations.get(*name).is_none_or(|stored| stored > cached))
            .map(|((id, _), _)| (*id).clone())
            .collect();
        self.refresh(store, actor, &behind)?;
        Ok(elsewhere || !behind.is_empty())
    }

    /// The copy of `id` as it is now, if loaded (for tests: requests read through `Work`).
    #[cfg(test)]
    pub(super) fn get(&self, id: &DocId) -> Option<Arc<Automerge>> {
        self.get_with_base(id).map(|(doc, _)| doc)
    }

    /// The copy of `id` as it is now, if loaded, and what it is, for a writer to fork.
    pub(super) fn get_with_base(&self, id: &DocId) -> Option<(Arc<Automerge>, Base)> {
        let slot = self.slot(id);
        let copy = slot.copy.read().unwrap_or_else(PoisonError::into_inner);
        copy.as_ref().map(|c| (Arc::clone(&c.doc), Base { generation: c.generation, chunks: c.chunks }))
    }

    /// Takes the copy of `id` out, for the request that holds it to change in place
    /// instead of copying it, when nothing but the cache and `mine` (that request's handle)
    /// refers to it: no reader is left holding a copy that changes under it. Until it is
    /// adopted or put back, readers find the document unloaded and load it from the store
    /// (a request that fails after changing it leaves it so). Otherwise hands `mine` back.
    pub(super) fn take(&self, id: &DocId, mine: Arc<Automerge>) -> Result<Automerge, Arc<Automerge>> {
        let slot = self.slot(id);
        let mut copy = slot.copy.write().unwrap_or_else(PoisonError::into_inner);
        // New handles are only made under this lock (`get`), so the count cannot grow now.
        let only_mine = copy.as_ref().is_some_and(|c| Arc::ptr_eq(&c.doc, &mine) && Arc::strong_count(&mine) == 2);
        let Some(cached) = copy.take_if(|_| only_mine) else { return Err(mine) };
        drop(mine);
        let Cached { doc, generation, chunks } = cached;
        Arc::try_unwrap(doc).inspect_err(|doc| *copy = Some(Cached { doc: Arc::clone(doc), generation, chunks }))
    }

    /// Puts back a copy taken ([`DocumentCache::take`]) and left as it was, unless a reader
    /// loaded the document again meanwhile.
    pub(super) fn put_back(&self, id: &DocId, doc: Automerge, base: Base) {
        let slot = self.slot(id);
        let mut copy = slot.copy.write().unwrap_or_else(PoisonError::into_inner);
        if copy.is_none() {
            *copy = Some(Cached { doc: Arc::new(doc), generation: base.generation, chunks: base.chunks });
        }
    }

    /// After `doc` (a fork of the copy `base` of `id`, or that copy itself taken, with one
    /// more chunk) was stored as `generation`: it becomes the copy when that is `base`'s
    /// next generation, whatever a reader loaded meanwhile; when another writer came
    /// between, the copy is dropped, to be reloaded. A document with many chunks is
    /// compacted.
    pub(super) fn adopt(&self, store: &dyn RelayStore, id: &DocId, doc: Automerge, generation: i64, base: Base) {
        let slot = self.slot(id);
        let mut copy = slot.copy.write().unwrap_or_else(PoisonError::into_inner);
        if generation != base.generation + 1 {
            *copy = None;
            return;
        }
        let cached = copy.insert(Cached { doc: Arc::new(doc), generation, chunks: base.chunks + 1 });
        if cached.chunks > COMPACT_AFTER_CHUNKS {
            match store.compact_document(&id.to_string(), &cached.doc.save(), generation) {
                Ok(true) => cached.chunks = 0,
                Ok(false) => {}
                Err(error) => tracing::warn!(doc = %id, %error, "compaction failed; the chunks stay"),
            }
        }
    }
}
