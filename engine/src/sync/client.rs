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

/// One sync taken a step at a time: build a request from the engine, send it however the
/// caller likes, hand the answer back. A caller that shares the engine between threads
/// (the phone bindings) lets go of it while a request is on the network, so the screens
/// keep reading the store; local writes between the steps go at the next sync.
/// [`Engine::sync`] is this loop in one call.
#[derive(Debug, Default)]
pub struct SyncRun {
    report: SyncReport,
    bloom_states: HashMap<String, am_sync::State>,
    bloom_out: Vec<BloomMessage>,
    list_all: bool,
    in_flight: Option<Sent>,
    rounds: usize,
    finished: bool,
}

impl SyncRun {
    /// The next request body to send to the relay, or `None` when the sync is done.
    pub fn next_request(&mut self, engine: &Engine) -> Result<Option<Vec<u8>>> {
        if self.finished || self.rounds >= MAX_ROUNDS {
            return Ok(None);
        }
        let (request, sent) = engine.build_request(self.list_all, std::mem::take(&mut self.bloom_out))?;
        let body = wire::encode(&request);
        self.report.bytes_up += body.len();
        self.report.round_trips += 1;
        self.rounds += 1;
        self.in_flight = Some(sent);
        Ok(Some(body))
    }

    /// Applies the relay's answer to the last request, durably.
    pub fn receive(&mut self, engine: &mut Engine, reply: &[u8]) -> Result<()> {
        let sent = self
            .in_flight
            .take()
            .ok_or_else(|| Error::Protocol("an answer arrived for no request; sync again".into()))?;
        self.report.bytes_down += reply.len();
        let response: SyncResponse = wire::decode(reply)
            .map_err(|e| Error::Protocol(format!("the relay's answer could not be read: {e}")))?;
        if response.list_all && !self.list_all {
            // The relay's record of this phone differs (a lost answer): list everything.
            self.list_all = true;
            return Ok(());
        }
        let applied = engine.apply_response(&response, &sent)?;
        self.report.docs_changed += applied.docs_changed;
        self.report.changes_received += applied.changes_received;
        self.report.changes_sent += sent.pushed.len();
        if response.bloom.is_empty() {
            self.finished = true;
        } else {
            self.bloom_out = engine.answer_bloom(&response.bloom, &mut self.bloom_states)?;
        }
        Ok(())
    }

    /// What the sync did so far.
    pub fn report(&self) -> SyncReport {
        self.report
    }
}

impl Engine {
    /// Syncs every document with the relay through `transport`: local changes go up, the
    /// relay's changes come down, and acknowledged visits turn from "saved on phone" to
    /// "sent". Safe to retry after any failure: the relay ignores what it already has.
    pub fn sync(&mut self, transport: &mut dyn Transport) -> Result<SyncReport> {
        let mut run = SyncRun::default();
        while let Some(body) = run.next_request(self)? {
            let reply = transport.exchange(body).map_err(Error::Transport)?;
            run.receive(self, &reply)?;
        }
        Ok(run.report())
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
#[derive(Debug, Default)]
struct Sent {
    pushed: HashSet<ChangeHash>,
    heads: HashMap<String, Vec<ChangeHash>>,
}

#[derive(Default)]
struct Applied {
    docs_changed: usize,
    changes_received: usize,
}
