//! The device's side of sync: build a request from the outbox and the acknowledged heads,
//! apply the relay's answer durably, and fall back to automerge's Bloom-filter sync when
//! the relay asks for it. One round trip in the common case.

use std::collections::{HashMap, HashSet};

use automerge::sync::{self as am_sync, SyncDoc};
use automerge::{ChangeHash, ReadDoc};
use serde::Serialize;

use crate::documents::DocId;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::storage;
use crate::sync::wire::{self, BloomMessage, DocPush, SyncRequest, SyncResponse};

/// Most request/response exchanges one sync makes (the Bloom fallback needs a few).
pub const MAX_ROUNDS: usize = 8;

/// Carries one request body to the relay and brings back the response body.
pub trait Transport {
    /// Sends `body` and returns the relay's answer.
    fn exchange(&mut self, body: Vec<u8>) -> Result<Vec<u8>, TransportError>;
}

/// Why an exchange with the relay failed. Nothing on the phone is lost either way.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// No answer (no signal, connection cut, relay down).
    #[error("could not reach the relay ({0}); everything stays saved on this phone and goes at the next sync")]
    Unreachable(String),
    /// The relay answered with an error.
    #[error("the relay refused the sync ({status}): {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The relay's explanation.
        message: String,
    },
}

/// What one sync did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    /// Request/response exchanges made.
    pub round_trips: usize,
    /// Request bytes sent.
    pub bytes_up: usize,
    /// Response bytes received.
    pub bytes_down: usize,
    /// Documents that received changes from the relay.
    pub docs_changed: usize,
    /// Local changes the relay acknowledged.
    pub changes_sent: usize,
    /// Changes received from the relay.
    pub changes_received: usize,
}

impl Engine {
    /// Syncs every document with the relay through `transport`: local changes go up, the
    /// relay's changes come down, and acknowledged visits turn from "saved on phone" to
    /// "sent". Safe to retry after any failure: the relay ignores what it already has.
    pub fn sync(&mut self, transport: &mut dyn Transport) -> Result<SyncReport> {
        let mut report = SyncReport::default();
        let mut bloom_states: HashMap<String, am_sync::State> = HashMap::new();
        let mut bloom_out: Vec<BloomMessage> = Vec::new();
        let mut list_all = false;
        for _ in 0..MAX_ROUNDS {
            let (request, sent) = self.build_request(list_all, std::mem::take(&mut bloom_out))?;
            let body = wire::encode(&request);
            report.bytes_up += body.len();
            report.round_trips += 1;
            let reply = transport.exchange(body).map_err(Error::Transport)?;
            report.bytes_down += reply.len();
            let response: SyncResponse = wire::decode(&reply)
                .map_err(|e| Error::Protocol(format!("the relay's answer could not be read: {e}")))?;
            if response.list_all && !list_all {
                // The relay's record of this phone differs (a lost answer): list everything.
                list_all = true;
                continue;
            }
            let applied = self.apply_response(&response, &sent)?;
            report.docs_changed += applied.docs_changed;
            report.changes_received += applied.changes_received;
            report.changes_sent += sent.pushed.len();
            if response.bloom.is_empty() {
                return Ok(report);
            }
            bloom_out = self.answer_bloom(&response.bloom, &mut bloom_states)?;
        }
        Ok(report)
    }

    /// The request: the manifest digest and the documents with changes since their
    /// acknowledged heads (or, with `list_all`, every document held).
    fn build_request(&self, list_all: bool, bloom: Vec<BloomMessage>) -> Result<(SyncRequest, Sent)> {
        let conn = self.storage.conn();
        let mut sent = Sent::default();
        let mut manifest = Vec::new();
        let mut docs = Vec::new();
        for (id, doc) in &self.docs {
            let name = id.to_string();
            let acked = storage::acked_heads(conn, &name)?;
            let acked_digest = wire::heads_digest(&acked);
            let changes: Vec<Vec<u8>> = doc
                .get_changes(&acked)
                .into_iter()
                .map(|change| {
                    sent.pushed.insert(change.hash());
                    change.raw_bytes().to_vec()
                })
                .collect();
            if list_all || !changes.is_empty() {
                sent.heads.insert(name.clone(), doc.get_heads());
                docs.push(DocPush { doc: name.clone(), acked: acked_digest, changes });
            }
            if !acked.is_empty() {
                manifest.push((name, acked_digest));
            }
        }
        let manifest = (!list_all).then(|| wire::manifest_digest(manifest.iter().map(|(d, h)| (d.as_str(), *h))));
        Ok((SyncRequest { manifest, docs, bloom }, sent))
    }

    /// Applies the relay's changes and new acknowledged heads, and marks as sent what was
    /// pushed and is now under the acknowledged heads (on the relay), all durably.
    fn apply_response(&mut self, response: &SyncResponse, sent: &Sent) -> Result<Applied> {
        let mut applied = Applied::default();
        // The pushed changes the relay's acknowledged heads cover: stored on the relay.
        // Those of a document still in Bloom fallback are not, yet.
        let mut stored: Vec<ChangeHash> = Vec::new();
        for pull in &response.docs {
            let id: DocId = pull.doc.parse()?;
            if !pull.changes.is_empty() {
                let bytes: Vec<u8> = pull.changes.concat();
                applied.changes_received += self.receive_changes(&id, &bytes)?;
                applied.docs_changed += 1;
            }
            let acked = if pull.acked.is_empty() {
                // "The heads you had when you sent the request."
                sent.heads.get(&pull.doc).cloned().unwrap_or_default()
            } else {
                wire::from_wire_heads(&pull.acked)
            };
            let held = !acked.is_empty()
                && self.docs.get(&id).is_some_and(|doc| doc.get_missing_deps(&acked).is_empty());
            if held {
                let tx = self.storage.begin()?;
                storage::set_acked_heads(&tx, &pull.doc, &acked, self.clock.now().timestamp_millis())?;
                tx.commit()?;
                if let Some(doc) = self.docs.get(&id) {
                    let here: Vec<ChangeHash> =
                        sent.pushed.iter().filter(|h| doc.get_change_by_hash(h).is_some()).copied().collect();
                    if !here.is_empty() {
                        let beyond: HashSet<ChangeHash> = doc.get_changes(&acked).iter().map(|c| c.hash()).collect();
                        stored.extend(here.into_iter().filter(|h| !beyond.contains(h)));
                    }
                }
            }
        }
        let tx = self.storage.begin()?;
        for hash in &stored {
            storage::mark_acked(&tx, hash.as_ref())?;
        }
        tx.commit()?;
        if !stored.is_empty() {
            self.listeners.notify(&[crate::notify::Topic::Visits, crate::notify::Topic::Requests]);
        }
        Ok(applied)
    }

    /// Answers the relay's Bloom-filter sync messages (the fallback path).
    fn answer_bloom(
        &mut self,
        messages: &[BloomMessage],
        states: &mut HashMap<String, am_sync::State>,
    ) -> Result<Vec<BloomMessage>> {
        let mut answers = Vec::new();
        for incoming in messages {
            let id: DocId = incoming.doc.parse()?;
            let message = am_sync::Message::decode(&incoming.message)
                .map_err(|e| Error::Protocol(format!("the relay's sync message for {id} is damaged: {e}")))?;
            let state = states.entry(incoming.doc.clone()).or_default();
            let before = self.heads(&id);
            let doc = self.doc_or_new(&id);
            doc.receive_sync_message(state, message)
                .map_err(|e| Error::Protocol(format!("the relay's sync message for {id} could not be applied: {e}")))?;
            self.persist_since(&id, &before)?;
            if let Some(reply) = self.doc_or_new(&id).generate_sync_message(state) {
                answers.push(BloomMessage { doc: incoming.doc.clone(), message: reply.encode() });
            }
        }
        Ok(answers)
    }
}

/// What one request carried: the changes pushed and, per document listed, the heads the
/// device had when it built the request.
#[derive(Default)]
struct Sent {
    pushed: HashSet<ChangeHash>,
    heads: HashMap<String, Vec<ChangeHash>>,
}

#[derive(Default)]
struct Applied {
    docs_changed: usize,
    changes_received: usize,
}
