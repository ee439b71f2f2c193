//! The relay's working copies of documents, each with the store generation it matches:
//! refreshed before use (a document another relay or an admin command wrote is loaded
//! again), replaced by the written fork after a write the store numbered next, and
//! compacted in the store when its chunks pile up. Private to the write path's owner.

use std::collections::HashMap;

use automerge::{ActorId, Automerge};
use timebank_engine::DocId;

use crate::store::{RelayStore, StoreError, StoreResult};

/// A document with more chunks than this is compacted into one snapshot after a write.
pub const COMPACT_AFTER_CHUNKS: usize = 64;

/// The working copies.
#[derive(Debug, Default)]
pub(super) struct DocumentCache {
    docs: HashMap<DocId, Cached>,
}

/// A document as loaded, and the store generation it matches.
#[derive(Debug)]
struct Cached {
    doc: Automerge,
    generation: i64,
    chunks: usize,
}

impl DocumentCache {
    /// Brings the copies of `ids` up to date with the store: a document whose generation
    /// moved is loaded again; documents the store does not hold are left out.
    pub(super) fn refresh(&mut self, store: &dyn RelayStore, actor: &ActorId, ids: &[DocId]) -> StoreResult<()> {
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
            self.docs.insert(id.clone(), Cached { doc, generation: stored.generation, chunks: stored.chunk_count });
        }
        Ok(())
    }

    /// The copy of `id`, if loaded.
    pub(super) fn get(&self, id: &DocId) -> Option<&Automerge> {
        self.docs.get(id).map(|cached| &cached.doc)
    }

    /// After `doc` (a fork of the copy of `id` with one more chunk) was stored as
    /// `generation`: it becomes the copy when that is the copy's next generation, and the
    /// copy is dropped, to be reloaded, when another writer came between. A document with
    /// many chunks is compacted.
    pub(super) fn adopt(&mut self, store: &dyn RelayStore, id: &DocId, doc: Automerge, generation: i64) {
        let Some(cached) = self.docs.get_mut(id) else { return };
        if generation != cached.generation + 1 {
            self.docs.remove(id);
            return;
        }
        cached.doc = doc;
        cached.generation = generation;
        cached.chunks += 1;
        if cached.chunks > COMPACT_AFTER_CHUNKS {
            match store.compact_document(&id.to_string(), &cached.doc.save(), generation) {
                Ok(true) => cached.chunks = 0,
                Ok(false) => {}
                Err(error) => tracing::warn!(doc = %id, %error, "compaction failed; the chunks stay"),
            }
        }
    }
}
