//! The one write path: edits applied as automerge transactions, their changes appended
//! to the store and the outbox in one SQLite transaction, and the documents restored from
//! disk when anything fails.

use automerge::transaction::{CommitOptions, Transaction};
use automerge::{ActorId, Automerge, AutomergeError, ChangeHash};
use chrono::{DateTime, Utc};

use crate::documents::{self, DocId};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::notify::Topic;
use crate::storage::{self, Storage};

/// One edit of the write path: the document and what to do in its transaction.
pub(super) type Edit<'a> = (DocId, &'a dyn Fn(&mut Transaction<'_>) -> Result<(), AutomergeError>);

impl Engine {
    /// Applies `edits` to their documents and appends each resulting change to the store
    /// in one SQLite transaction, recorded in the outbox under `subject`. Durable when it
    /// returns; on any failure the in-memory documents are restored from disk.
    pub(super) fn write(&mut self, subject: &str, topics: &[Topic], edits: &[Edit<'_>]) -> Result<()> {
        let now = self.clock.now();
        let mut staged: Vec<(DocId, Vec<u8>, ChangeHash, bool)> = Vec::new();
        let mut failure = None;
        for (id, edit) in edits {
            let is_new = !self.docs.contains_key(id);
            if is_new {
                self.docs.insert(id.clone(), documents::genesis(id, self.actor.clone())?);
            }
            let Some(doc) = self.docs.get_mut(id) else { continue };
            let result = doc.transact_with(|_| CommitOptions::default().with_time(now.timestamp_millis()), |tx| edit(tx));
            match result {
                Ok(success) => {
                    let Some(hash) = success.hash else {
                        // Nothing changed: a document created just now is not kept, so memory
                        // never holds a genesis that the disk lacks.
                        if is_new {
                            self.docs.remove(id);
                        }
                        continue;
                    };
                    let bytes = if is_new {
                        doc.save_after(&[])
                    } else {
                        doc.get_last_local_change().map(|c| c.raw_bytes().to_vec()).unwrap_or_default()
                    };
                    staged.push((id.clone(), bytes, hash, is_new));
                }
                Err(f) => {
                    failure = Some((id.clone(), is_new, Error::Document(f.error)));
                    break;
                }
            }
        }
        let persisted = match failure {
            Some((id, is_new, error)) => {
                self.reload(&id, is_new)?;
                Err(error)
            }
            None => self.persist(subject, now, &staged),
        };
        if let Err(error) = persisted {
            for (id, _, _, is_new) in &staged {
                self.reload(id, *is_new)?;
            }
            return Err(error);
        }
        for (id, ..) in &staged {
            *self.chunk_counts.entry(id.clone()).or_default() += 1;
        }
        self.listeners.notify(topics);
        Ok(())
    }

    fn persist(&mut self, subject: &str, now: DateTime<Utc>, staged: &[(DocId, Vec<u8>, ChangeHash, bool)]) -> Result<()> {
        let tx = self.storage.begin()?;
        for (id, bytes, hash, _) in staged {
            let doc_id = id.to_string();
            storage::append_chunk(&tx, &doc_id, bytes)?;
            storage::record_local_change(&tx, &doc_id, hash.as_ref(), subject, now.timestamp_millis())?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Restores document `id` in memory from what the store holds.
    pub(super) fn reload(&mut self, id: &DocId, was_new: bool) -> Result<()> {
        if was_new {
            self.docs.remove(id);
            return Ok(());
        }
        let (doc, chunks) = load(&self.storage, id)?;
        self.docs.insert(id.clone(), doc);
        self.chunk_counts.insert(id.clone(), chunks);
        Ok(())
    }
}

/// Loads document `id` from the store, checking that it is whole and readable.
pub(super) fn load(storage: &Storage, id: &DocId) -> Result<(Automerge, usize)> {
    let corrupt = |detail: String| Error::Corrupt { path: storage.path().to_path_buf(), detail };
    let stored = storage::load_document(storage.conn(), &id.to_string())?
        .ok_or_else(|| corrupt(format!("document {id} is listed but missing")))?;
    let actor = storage::meta(storage.conn(), "device")?
        .and_then(|hex| ActorId::try_from(hex.as_str()).ok())
        .ok_or_else(|| corrupt("the device id is missing".into()))?;
    let doc = Automerge::load(&stored.bytes).map_err(|e| corrupt(format!("document {id} cannot be read: {e}")))?.with_actor(actor);
    documents::check_schema(id, &doc)?;
    Ok((doc, stored.chunk_count))
}
