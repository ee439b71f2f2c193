//! Whole documents, for sync and tests: ids, bytes and heads, changes received from a
//! peer merged durably, and compaction of chunks into snapshots.

use automerge::{Automerge, AutomergeError, ChangeHash};

use crate::documents::{self, DocId};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::notify::Topic;
use crate::storage;

impl Engine {
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
        let damaged =
            |error: AutomergeError| Error::invalid(format!("the changes received for {id} are damaged ({error}); nothing was stored"));
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
        if *id == self.own_doc_id() {
            self.follow_station()?;
        }
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

    pub(super) fn compact_over(&mut self, threshold: usize) -> Result<()> {
        let due: Vec<DocId> = self.chunk_counts.iter().filter(|(_, n)| **n > threshold.max(1)).map(|(id, _)| id.clone()).collect();
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
}

/// The screens to refresh when document `id` changes.
fn topics_of(id: &DocId) -> Vec<Topic> {
    match id {
        DocId::Member(_) => vec![Topic::Visits, Topic::Orders, Topic::Assignments, Topic::Requests],
        DocId::Station(_) | DocId::Desk(_) => vec![Topic::Station, Topic::Visits],
        DocId::Ledger(_) => vec![Topic::Ledger, Topic::Visits, Topic::Requests],
    }
}
