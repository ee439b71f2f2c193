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
        for _ in 0..MAX_ROUNDS {
            let (request, pushed) = self.build_request(std::mem::take(&mut bloom_out))?;
            let body = wire::encode(&request);
            report.bytes_up += body.len();
            report.round_trips += 1;
            let reply = transport.exchange(body).map_err(Error::Transport)?;
            report.bytes_down += reply.len();
            let response: SyncResponse = wire::decode(&reply)
                .map_err(|e| Error::Protocol(format!("the relay's answer could not be read: {e}")))?;
            let applied = self.apply_response(&response, &pushed)?;
            report.docs_changed += applied.docs_changed;
            report.changes_received += applied.changes_received;
            report.changes_sent += pushed.len();
            if response.bloom.is_empty() {
                return Ok(report);
            }
            bloom_out = self.answer_bloom(&response.bloom, &mut bloom_states)?;
        }
        Ok(report)
    }

    /// The request: every document held with the digest of its acknowledged heads and
    /// the changes made since. Also returns the hashes of the changes pushed.
    fn build_request(&self, bloom: Vec<BloomMessage>) -> Result<(SyncRequest, HashSet<ChangeHash>)> {
        let conn = self.storage.conn();
        let mut pushed = HashSet::new();
        let mut docs = Vec::with_capacity(self.docs.len());
        for (id, doc) in &self.docs {
            let acked = storage::acked_heads(conn, &id.to_string())?;
            let changes: Vec<Vec<u8>> = doc
                .get_changes(&acked)
                .into_iter()
                .map(|change| {
                    pushed.insert(change.hash());
                    change.raw_bytes().to_vec()
                })
                .collect();
            docs.push(DocPush { doc: id.to_string(), acked: wire::heads_digest(&acked), changes });
        }
        Ok((SyncRequest { docs, bloom }, pushed))
    }

    /// Applies the relay's changes and new acknowledged heads, and marks what was pushed
    /// as sent, all durably.
    fn apply_response(&mut self, response: &SyncResponse, pushed: &HashSet<ChangeHash>) -> Result<Applied> {
        let mut applied = Applied::default();
        for pull in &response.docs {
            let id: DocId = pull.doc.parse()?;
            if !pull.changes.is_empty() {
                let bytes: Vec<u8> = pull.changes.concat();
                applied.changes_received += self.receive_changes(&id, &bytes)?;
                applied.docs_changed += 1;
            }
            let acked = wire::from_wire_heads(&pull.acked);
            let held = self.docs.get(&id).is_some_and(|doc| doc.get_missing_deps(&acked).is_empty());
            if held {
                let tx = self.storage.begin()?;
                storage::set_acked_heads(&tx, &pull.doc, &acked, self.clock.now().timestamp_millis())?;
                tx.commit()?;
            }
        }
        let tx = self.storage.begin()?;
        for hash in pushed {
            storage::mark_acked(&tx, hash.as_ref())?;
        }
        tx.commit()?;
        if !pushed.is_empty() {
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

#[derive(Default)]
struct Applied {
    docs_changed: usize,
    changes_received: usize,
}
