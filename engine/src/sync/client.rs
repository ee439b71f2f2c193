//! The device's side of sync: build a request from the outbox and the acknowledged heads,
//! apply the relay's answer durably (its changes read within [`bounds::PULL`] before any
//! is stored). One round trip in the common case; a phone with more
//! to upload than a page, or far behind, syncs in several pages, each durable when applied;
//! a relay restored from a backup gets back what it lost (ADR 25).
//!
//! What the phone sends: only changes its own actor made, and, when a restored relay asks,
//! changes of others that the relay once vouched for. Never anything else, so another
//! device's sequence numbers can never be taken by this one.

use std::collections::{HashMap, HashSet};

use automerge::{Automerge, Change, ChangeHash, ReadDoc};
use serde::Serialize;

use crate::documents::DocId;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::storage;
use crate::sync::bounds::{self, Budget};
use crate::sync::heads::{self, heads_after};
use crate::sync::page::Page;
use crate::sync::sequence;
use crate::sync::wire::{
    self, ContactsRequest, DispatchContact, DispatchContacts, DocPush, PAGE_BYTES, Recovery, SyncRequest, SyncResponse, VOUCHER_BYTES,
    Voucher,
};

/// Most request/response exchanges one sync makes: enough for a phone months behind to
/// catch up page by page; a sync that needs more carries on at the next one.
pub const MAX_ROUNDS: usize = 64;

/// Carries one request body to the relay and brings back the response body.
pub trait Transport {
    /// Sends `body` and returns the relay's answer.
    fn exchange(&mut self, body: Vec<u8>) -> Result<Vec<u8>, TransportError>;

    /// Sends `body` (a [`ContactsRequest`]) to the relay's contacts endpoint and returns
    /// the answer. A transport that reaches none says so (the default): the phone then
    /// keeps only the contacts of assignments still open on it.
    fn contacts(&mut self, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        drop(body);
        Err(TransportError::Refused { status: 404, message: "this transport does not carry dispatch contacts".into() })
    }
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
#[derive(Debug)]
pub struct SyncRun {
    /// Most change bytes one request carries.
    page_bytes: usize,
    report: SyncReport,
    list_all: bool,
    /// Documents the relay asked to recover, with its heads.
    recover: HashMap<String, Vec<ChangeHash>>,
    in_flight: Option<Sent>,
    rounds: usize,
    finished: bool,
}

impl Default for SyncRun {
    fn default() -> Self {
        SyncRun::with_page_bytes(PAGE_BYTES)
    }
}

impl SyncRun {
    /// A sync that uploads at most `page_bytes` of changes per request (but at least one
    /// change): smaller pages for a connection that keeps dropping; [`PAGE_BYTES`] by default.
    pub fn with_page_bytes(page_bytes: usize) -> SyncRun {
        SyncRun {
            page_bytes,
            report: SyncReport::default(),
            list_all: false,
            recover: HashMap::new(),
            in_flight: None,
            rounds: 0,
            finished: false,
        }
    }

    /// The next request body to send to the relay, or `None` when the sync is done.
    pub fn next_request(&mut self, engine: &Engine) -> Result<Option<Vec<u8>>> {
        if self.finished || self.rounds >= MAX_ROUNDS {
            return Ok(None);
        }
        let (request, sent) = engine.build_request(self.list_all, &self.recover, self.page_bytes)?;
        let body = wire::encode(&request);
        self.report.bytes_up += body.len();
        self.report.round_trips += 1;
        self.rounds += 1;
        self.in_flight = Some(sent);
        Ok(Some(body))
    }

    /// Applies the relay's answer to the last request, durably.
    pub fn receive(&mut self, engine: &mut Engine, reply: &[u8]) -> Result<()> {
        let sent = self.in_flight.take().ok_or_else(|| Error::Protocol("an answer arrived for no request; sync again".into()))?;
        self.report.bytes_down += reply.len();
        let response: SyncResponse =
            wire::decode(reply).map_err(|e| Error::Protocol(format!("the relay's answer could not be read: {e}")))?;
        if response.list_all && !self.list_all {
            // The relay's record of this phone differs (a lost answer): list everything.
            self.list_all = true;
            return Ok(());
        }
        let applied = engine.apply_response(&response, &sent)?;
        self.report.docs_changed += applied.docs_changed;
        self.report.changes_received += applied.changes_received;
        self.report.changes_sent += applied.changes_stored;
        self.recover = response
            .recover
            .iter()
            // A document the phone just answered a recovery for is not asked again in this
            // sync: what the relay still lacks waits for its authors (it blocks nothing else).
            .filter(|r| !sent.docs.get(&r.doc).is_some_and(|d| d.recovering))
            .map(|r| (r.doc.clone(), wire::from_wire_heads(&r.heads)))
            .collect();
        // Another page to upload, if the relay took this one (a page it could not take, all
        // waiting for changes it lacks, is not sent again and again).
        let more_to_send = sent.page_full && (applied.changes_stored > 0 || applied.acked > 0);
        self.finished = !(response.more || !self.recover.is_empty() || more_to_send);
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
        self.sync_run(SyncRun::default(), transport)
    }

    /// Runs `run` to the end through `transport` (a sync with its own page size), then
    /// brings the elder contacts of open assignments up to date ([`Engine::contacts_request`]).
    pub fn sync_run(&mut self, mut run: SyncRun, transport: &mut dyn Transport) -> Result<SyncReport> {
        while let Some(body) = run.next_request(self)? {
            let reply = transport.exchange(body).map_err(Error::Transport)?;
            run.receive(self, &reply)?;
        }
        let answer = self.contacts_request().map(|body| transport.contacts(body));
        self.receive_contacts(answer)?;
        Ok(run.report())
    }

    /// The request for the elder contacts of this volunteer's open assignments (dispatched
    /// or accepted, not yet visited), when there is one open; `None` otherwise (then no
    /// request is made, and none is kept).
    pub fn contacts_request(&self) -> Option<Vec<u8>> {
        let open = self.own_assignments().iter().any(|(_, state)| state.shares_contact());
        open.then(|| wire::encode(&ContactsRequest {}))
    }

    /// Ends a sync with the contacts: `answer` is the relay's answer to
    /// [`Engine::contacts_request`] (`None` when none was asked). Keeps the contacts the
    /// relay sent for the assignments open on this phone and no others, durably; without
    /// an answer, forgets those of assignments no longer open (visited, declined) and keeps
    /// the rest.
    pub fn receive_contacts(&mut self, answer: Option<Result<Vec<u8>, TransportError>>) -> Result<()> {
        let contacts = match answer {
            Some(Ok(reply)) => {
                wire::decode::<DispatchContacts>(&reply)
                    .map_err(|e| Error::Protocol(format!("the relay's contacts could not be read: {e}")))?
                    .contacts
            }
            Some(Err(_)) | None => storage::dispatch_contacts(self.storage.conn())?,
        };
        self.store_open_contacts(contacts)
    }

    fn store_open_contacts(&mut self, contacts: Vec<DispatchContact>) -> Result<()> {
        let open: HashSet<String> =
            self.own_assignments().into_iter().filter(|(_, state)| state.shares_contact()).map(|(a, _)| a.order.to_string()).collect();
        let kept: Vec<DispatchContact> = contacts.into_iter().filter(|c| open.contains(&c.order)).collect();
        let before = storage::dispatch_contacts(self.storage.conn())?;
        if before == kept {
            return Ok(());
        }
        let tx = self.storage.begin()?;
        storage::replace_dispatch_contacts(&tx, &kept)?;
        tx.commit()?;
        if before.iter().any(|c| !kept.contains(c)) {
            storage::flush_deleted(self.storage.conn())?;
        }
        Ok(())
    }

    /// The request: the manifest digest and the documents with changes the relay lacks
    /// (or, with `list_all`, every document held), a page of at most `page_bytes` of
    /// changes within what the relay reads in one request ([`bounds::PUSH`]); for each
    /// document in `recover`, the phone's heads and what the relay's heads there do not
    /// cover.
    fn build_request(
        &self,
        list_all: bool,
        recover: &HashMap<String, Vec<ChangeHash>>,
        page_bytes: usize,
    ) -> Result<(SyncRequest, Sent)> {
        let conn = self.storage.conn();
        let own = self.identity().device.as_str();
        let mut sent = Sent::default();
        let mut manifest = Vec::new();
        let mut docs = Vec::new();
        let mut page = Page::new(page_bytes, bounds::PUSH);
        for (id, doc) in &self.docs {
            let name = id.to_string();
            let acked = storage::acked_heads(conn, &name)?;
            let acked_digest = wire::heads_digest(&acked);
            let relay_heads = recover.get(&name);
            // Recovering: what the relay holds and this phone knows of (a head the phone
            // lacks only makes it send more, which the relay skips), with the changes of
            // others the relay vouched for.
            let (base, voucher) = match relay_heads {
                Some(heads) => (heads.iter().filter(|h| heads::holds(doc, h)).copied().collect(), storage::voucher(conn, &name)?),
                None => (acked.clone(), None),
            };
            // A ledger is the relay's alone: it writes it again from its books and takes
            // nothing of it back, so the relay's changes there (one after a rebuild may hold
            // more than a request does) are never sent back.
            let vouched = match id {
                DocId::Ledger(_) => HashSet::new(),
                _ => voucher.as_ref().map(|(heads, _)| ancestors(doc, heads)).unwrap_or_default(),
            };
            let mut changes = Vec::new();
            let mut taken = Vec::new();
            let mut others = false;
            for change in doc.get_changes(&base) {
                let mine = change.actor_id().to_hex_string() == own;
                if !mine && !vouched.contains(&change.hash()) {
                    // Another author's change this phone cannot vouch for (or need not: the
                    // relay sent it): the relay has it, or gets it from its author. The
                    // phone's own changes that build on it wait for it.
                    continue;
                }
                if !page.take(&change) {
                    sent.page_full = true;
                    break;
                }
                others |= !mine;
                changes.push(change.raw_bytes().to_vec());
                taken.push(change);
            }
            if list_all || !changes.is_empty() || relay_heads.is_some() {
                let recovery = relay_heads.map(|_| Recovery {
                    heads: wire::to_wire_heads(&doc.get_heads()),
                    voucher: voucher
                        .filter(|_| others)
                        .and_then(|(heads, mac)| Some(Voucher { heads: wire::to_wire_heads(&heads), mac: mac.try_into().ok()? })),
                });
                // The relay's heads if it takes all of this and holds nothing else.
                let heads = heads_after(&base, &taken);
                sent.docs.insert(name.clone(), SentDoc { heads, pushed: !changes.is_empty(), recovering: recovery.is_some() });
                docs.push(DocPush { doc: name.clone(), acked: acked_digest, changes, recovery });
            }
            if !acked.is_empty() {
                manifest.push((name, acked_digest));
            }
        }
        let manifest = (!list_all).then(|| wire::manifest_digest(manifest.iter().map(|(d, h)| (d.as_str(), *h))));
        Ok((SyncRequest { manifest, docs }, sent))
    }

    /// Applies the relay's changes, new acknowledged heads and vouchers, and marks as sent
    /// every local change now under the acknowledged heads (on the relay), all durably. A
    /// document the phone pushed to that the answer does not name was taken whole. The
    /// answer's changes are all read within its bounds first: a refused answer stores nothing.
    fn apply_response(&mut self, response: &SyncResponse, sent: &Sent) -> Result<Applied> {
        let mut applied = Applied::default();
        let mut acks: Vec<(String, Vec<ChangeHash>, Option<[u8; VOUCHER_BYTES]>)> = Vec::new();
        let pulled = read_pulled(response)?;
        let empty = Automerge::new();
        for (id, changes) in &pulled {
            sequence::check(self.docs.get(id).unwrap_or(&empty), changes).map_err(|reason| {
                Error::Protocol(format!("the relay's answer for {id} was refused: {reason}; nothing from this answer was stored"))
            })?;
        }
        for (pull, (id, changes)) in response.docs.iter().zip(pulled) {
            if !changes.is_empty() {
                let bytes: Vec<u8> = changes.iter().flat_map(|change| change.raw_bytes().iter().copied()).collect();
                applied.changes_received += self.receive_changes(&id, &bytes)?;
                applied.docs_changed += 1;
            }
            let acked = if pull.acked.is_empty() {
                // "The heads you had when you sent the request."
                sent.docs.get(&pull.doc).map(|d| d.heads.clone()).unwrap_or_default()
            } else {
                wire::from_wire_heads(&pull.acked)
            };
            acks.push((pull.doc.clone(), acked, pull.voucher));
        }
        let named: HashSet<&str> =
            response.docs.iter().map(|p| p.doc.as_str()).chain(response.recover.iter().map(|r| r.doc.as_str())).collect();
        for (doc, state) in &sent.docs {
            if state.pushed && !named.contains(doc.as_str()) {
                acks.push((doc.clone(), state.heads.clone(), None));
            }
        }
        let now = self.clock.now().timestamp_millis();
        let mut stored: Vec<ChangeHash> = Vec::new();
        for (name, acked, voucher) in acks {
            let id: DocId = name.parse()?;
            let Some(doc) = self.docs.get(&id) else { continue };
            if acked.is_empty() || !doc.get_missing_deps(&acked).is_empty() {
                continue;
            }
            // Every local change the acknowledged heads cover is on the relay, whichever
            // request carried it.
            let outbox = storage::unsynced_hashes(self.storage.conn(), &name)?;
            if !outbox.is_empty() {
                let beyond: HashSet<ChangeHash> = doc.get_changes(&acked).iter().map(Change::hash).collect();
                stored.extend(outbox.into_iter().filter(|h| heads::holds(doc, h) && !beyond.contains(h)));
            }
            let tx = self.storage.begin()?;
            storage::set_acked_heads(&tx, &name, &acked, now)?;
            if let Some(mac) = &voucher {
                storage::set_voucher(&tx, &name, &acked, mac)?;
            }
            tx.commit()?;
            applied.acked += 1;
        }
        let tx = self.storage.begin()?;
        for hash in &stored {
            storage::mark_acked(&tx, hash.as_ref())?;
        }
        tx.commit()?;
        applied.changes_stored = stored.len();
        if !stored.is_empty() {
            self.listeners.notify(&[crate::notify::Topic::Visits, crate::notify::Topic::Requests]);
        }
        Ok(applied)
    }
}

/// The documents of the relay's answer with their changes, every change read within the
/// bounds of one answer ([`bounds::PULL`]) before any is stored: a hostile or broken relay
/// cannot make the phone inflate or decode more, and a refused answer stores nothing.
pub fn read_pulled(response: &SyncResponse) -> Result<Vec<(DocId, Vec<Change>)>> {
    let mut budget = Budget::new(bounds::PULL);
    let mut pulled = Vec::with_capacity(response.docs.len());
    for pull in &response.docs {
        let id: DocId = pull.doc.parse()?;
        let changes = pull
            .changes
            .iter()
            .enumerate()
            .map(|(i, raw)| {
                budget.read_change(raw).map_err(|e| {
                    Error::Protocol(format!(
                        "change {} for {id} in the relay's answer was refused: {e}; nothing from this answer was stored",
                        i + 1
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        pulled.push((id, changes));
    }
    Ok(pulled)
}

/// Every change `heads` descend from (the heads' own changes included).
fn ancestors(doc: &Automerge, heads: &[ChangeHash]) -> HashSet<ChangeHash> {
    if !doc.get_missing_deps(heads).is_empty() {
        return HashSet::new();
    }
    let after: HashSet<ChangeHash> = doc.get_changes(heads).iter().map(Change::hash).collect();
    doc.get_changes(&[]).iter().map(Change::hash).filter(|h| !after.contains(h)).collect()
}

/// What one request carried: each document listed, and whether the page was full (more
/// to send).
#[derive(Debug, Default)]
struct Sent {
    docs: HashMap<String, SentDoc>,
    page_full: bool,
}

/// One document of a request.
#[derive(Debug)]
struct SentDoc {
    /// The heads of what the relay holds if it takes the changes pushed and holds nothing
    /// else: what an answer that does not name the document (or names it with no heads)
    /// acknowledges.
    heads: Vec<ChangeHash>,
    /// Whether the request pushed changes to it.
    pushed: bool,
    /// Whether the request answered the relay's recovery of it.
    recovering: bool,
}

#[derive(Default)]
struct Applied {
    docs_changed: usize,
    changes_received: usize,
    changes_stored: usize,
    acked: usize,
}
