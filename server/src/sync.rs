//! `POST /v1/sync`: one round trip in the common case (DESIGN.md, "Sync").
//!
//! The device sends a manifest digest of every document it holds (over the digests of the
//! heads the relay last acknowledged to it) and the documents it changed, each with its
//! acknowledged digest and the changes made since. The relay keeps, per (device,
//! document), the heads of its last answer and the ones before (`cur`, `prev`). If the
//! manifest matches its record, unchanged documents cost nothing; if not (its last answer
//! was lost), it asks the device to list every document, and the per-document digests
//! tell it what the device holds. Then:
//!
//! 1. every document named must exist and be readable by the device (404, 403);
//! 2. the pushed changes of *all* documents are applied to forks, and every new change is
//!    checked: its author (actor → device → member) must be a writer of the document, and
//!    the field rules must hold on the fork ([`crate::authority`]). One refusal refuses
//!    the whole batch (403, security event); otherwise it is stored in one transaction;
//! 3. for each readable document the device lacks changes of, or whose acknowledged heads
//!    moved, the answer carries those changes and the relay's heads.
//!
//! When the digest matches nothing the relay knows (a restored backup, a relay that lost
//! its sync state), or pushed changes build on changes the relay lacks, that document
//! falls back to automerge's Bloom-filter sync until both sides agree. Retrying a request
//! changes nothing: known changes are skipped and the acknowledged heads answer the same.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use automerge::sync::{self as am_sync, SyncDoc};
use automerge::{Automerge, Change, ChangeHash, Patch, ReadDoc};
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::Response;
use timebank_engine::DocId;
use timebank_engine::sync::wire::{
    self, BloomMessage, DocPull, DocPush, HeadsDigest, SyncRequest, SyncResponse, heads_digest, to_wire_heads,
};

use crate::app::{binary, blocking};
use crate::auth::{self, AuthedDevice};
use crate::authority::{self, Access, Authors};
use crate::error::AppError;
use crate::limits::{Door, Gate};
use crate::relay::{Relay, Work, Writes};
use crate::store::{AckUpdate, AckedHeads, DeviceRecord, SecurityEvent, WriteBatch};

/// The endpoint: bearer token, wire-encoded [`SyncRequest`] in, [`SyncResponse`] out.
/// A missing or refused token counts against the caller's address (a good one never does).
pub async fn endpoint(
    State(relay): State<Arc<Relay>>,
    gate: Gate,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, AppError> {
    blocking(move || {
        let device = auth::identify(&relay, &headers).map_err(|refusal| gate.refuse(relay.store(), Door::Token, refusal))?;
        let body = body.map_err(|rejection| AppError::from_body(&rejection))?;
        let request: SyncRequest = wire::decode(&body)?;
        let response = sync(&relay, &device, &request)?;
        let bytes = wire::encode(&response);
        tracing::info!(
            device = %device.device.id,
            member = %device.member.id,
            docs_in = request.docs.len(),
            changes_in = request.docs.iter().map(|d| d.changes.len()).sum::<usize>(),
            bloom_in = request.bloom.len(),
            docs_out = response.docs.len(),
            changes_out = response.docs.iter().map(|d| d.changes.len()).sum::<usize>(),
            bloom_out = response.bloom.len(),
            bytes_in = body.len(),
            bytes_out = bytes.len(),
            "sync"
        );
        Ok(binary(bytes))
    })
    .await
}

/// What the device sent, read and checked before anything is touched.
struct Incoming<'a> {
    pushes: BTreeMap<DocId, &'a DocPush>,
    changes: BTreeMap<DocId, Vec<Change>>,
    bloom: BTreeMap<DocId, am_sync::Message>,
}

/// The working copies of one sync: documents with the device's changes applied, not yet
/// stored.
#[derive(Default)]
struct Staged {
    forks: BTreeMap<DocId, Automerge>,
    pushed: HashMap<DocId, HashSet<ChangeHash>>,
    needs_bloom: BTreeSet<DocId>,
    bloom_states: HashMap<DocId, am_sync::State>,
}

/// Runs one sync for `device`: checks, stores and answers (see the module docs).
pub fn sync(relay: &Relay, device: &AuthedDevice, request: &SyncRequest) -> Result<SyncResponse, AppError> {
    let store = relay.store();
    let access = Access::of(store, &device.member)?;
    let incoming = read_request(request)?;
    for id in incoming.pushes.keys().chain(incoming.bloom.keys()) {
        require_readable(relay, device, &access, id)?;
    }

    let now = relay.now_ms();
    let mut work = relay.work();
    let readable: Vec<DocId> = access.readable().iter().cloned().collect();
    work.load(&readable)?;
    for id in incoming.pushes.keys().chain(incoming.bloom.keys()) {
        if work.doc(id).is_none() {
            return Err(AppError::NotFound(format!("document {id} does not exist on this relay; nothing was stored")));
        }
    }
    work.bloom_mut().expire(now);

    let acked = store.acked_heads(&device.device.id)?;
    if request.manifest.is_some_and(|manifest| manifest != relay_manifest(&acked)) {
        // The relay's record of this device is not what the device holds (the last
        // answer was lost, or the device holds a restored copy): ask for a full list.
        return Ok(SyncResponse { list_all: true, ..SyncResponse::default() });
    }

    let mut staged = stage(&work, &device.device, &access, incoming.changes, incoming.bloom)?;
    let diffs = check_authority(relay, device, &work, &staged)?;

    let listing = match request.manifest {
        Some(_) => Listing::Changed,
        None => Listing::All,
    };
    let plan = answer(&work, device, &access, &incoming.pushes, listing, &acked, &mut staged);
    let device_id = device.device.id.as_str();
    work.commit(Writes { forks: staged.forks, diffs, batch: plan.batch })?;
    for (id, state) in plan.sessions_kept {
        work.bloom_mut().keep(device_id, id, state, now);
    }
    for id in plan.sessions_ended {
        work.bloom_mut().end(device_id, &id);
    }
    Ok(plan.response)
}

/// Parses document ids, sync messages and changes; a damaged body is refused whole (400).
fn read_request(request: &SyncRequest) -> Result<Incoming<'_>, AppError> {
    let mut incoming = Incoming { pushes: BTreeMap::new(), changes: BTreeMap::new(), bloom: BTreeMap::new() };
    for push in &request.docs {
        let id = parse_doc(&push.doc)?;
        let changes = push
            .changes
            .iter()
            .enumerate()
            .map(|(i, bytes)| {
                Change::from_bytes(bytes.clone()).map_err(|e| {
                    AppError::BadRequest(format!("change {} of {} is damaged ({e}); nothing was stored", i + 1, push.doc))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if incoming.pushes.insert(id.clone(), push).is_some() {
            return Err(AppError::BadRequest(format!(
                "document {} is listed twice in one request; nothing was stored",
                push.doc
            )));
        }
        incoming.changes.insert(id, changes);
    }
    for message in &request.bloom {
        let id = parse_doc(&message.doc)?;
        let decoded = am_sync::Message::decode(&message.message).map_err(|e| {
            AppError::BadRequest(format!("the sync message for {} is damaged ({e}); nothing was stored", message.doc))
        })?;
        if incoming.bloom.insert(id, decoded).is_some() {
            return Err(AppError::BadRequest(format!(
                "two sync messages for {} in one request; nothing was stored",
                message.doc
            )));
        }
    }
    Ok(incoming)
}

fn parse_doc(raw: &str) -> Result<DocId, AppError> {
    raw.parse().map_err(|e: timebank_engine::Error| AppError::BadRequest(format!("{e}; nothing was stored")))
}

/// A document the device may not read is refused (403, security event) if it exists,
/// and reported missing (404) if it does not.
fn require_readable(relay: &Relay, device: &AuthedDevice, access: &Access, id: &DocId) -> Result<(), AppError> {
    if access.can_read(id) {
        return Ok(());
    }
    let name = id.to_string();
    if relay.store().document_generations(std::slice::from_ref(&name))?.is_empty() {
        return Err(AppError::NotFound(format!("document {name} does not exist on this relay; nothing was stored")));
    }
    record_event(relay, device, &name, &format!("the device named {name}, which it may not read"))?;
    Err(AppError::Forbidden(format!(
        "this device ({} {}) may not read or write {name}; nothing from this sync was stored",
        device.member.role.as_str(),
        device.member.id
    )))
}

fn record_event(relay: &Relay, device: &AuthedDevice, doc: &str, reason: &str) -> Result<(), AppError> {
    tracing::warn!(device = %device.device.id, member = %device.member.id, doc, reason, "security event");
    relay.store().record_security_event(&SecurityEvent {
        at: relay.now_ms(),
        device: Some(device.device.id.clone()),
        member: Some(device.member.id.to_string()),
        doc: Some(doc.to_owned()),
        reason: reason.to_owned(),
    })?;
    Ok(())
}

/// Applies the pushed changes and Bloom messages to forks of the cached documents.
fn stage(
    work: &Work<'_>,
    device: &DeviceRecord,
    access: &Access,
    changes: BTreeMap<DocId, Vec<Change>>,
    bloom: BTreeMap<DocId, am_sync::Message>,
) -> Result<Staged, AppError> {
    let mut staged = Staged::default();
    for (id, changes) in changes {
        let Some(cached) = work.doc(&id) else { continue };
        let hashes: Vec<ChangeHash> = changes.iter().map(Change::hash).collect();
        let unknown: HashSet<ChangeHash> = cached.get_missing_deps(&hashes).into_iter().collect();
        staged.pushed.insert(id.clone(), hashes.into_iter().collect());
        let mut fresh: Vec<Change> = changes.into_iter().filter(|c| unknown.contains(&c.hash())).collect();
        if !access.can_write(&id) {
            // A document the device may not write (a ledger; a station for a non-coordinator)
            // can only hold changes of others: the relay's, which a relay restored from a
            // backup lost and the device now sends back. They are never taken from a device
            // (changes are not signed), but refusing them would lock the device out for
            // good, so they are left out. A change the device itself authored goes on, to be
            // refused and recorded.
            fresh.retain(|c| c.actor_id().to_hex_string() == device.actor);
        }
        if fresh.is_empty() {
            continue;
        }
        let fresh_hashes: HashSet<ChangeHash> = fresh.iter().map(Change::hash).collect();
        let deps: Vec<ChangeHash> =
            fresh.iter().flat_map(|c| c.deps().iter().copied()).filter(|d| !fresh_hashes.contains(d)).collect();
        if !cached.get_missing_deps(&deps).is_empty() {
            // These build on changes the relay lacks: sync this document the slow way.
            staged.needs_bloom.insert(id);
            continue;
        }
        let fork = staged.forks.entry(id.clone()).or_insert_with(|| cached.clone());
        fork.apply_changes(fresh).map_err(|e| {
            AppError::BadRequest(format!("the changes sent for {id} could not be applied ({e}); nothing was stored"))
        })?;
    }
    for (id, message) in bloom {
        let mut state = work.bloom().get(&device.id, &id).unwrap_or_else(|| new_session(access, &id));
        let Some(cached) = work.doc(&id) else { continue };
        let fork = staged.forks.entry(id.clone()).or_insert_with(|| cached.clone());
        fork.receive_sync_message(&mut state, message).map_err(|e| {
            AppError::BadRequest(format!("the sync message for {id} could not be applied ({e}); nothing was stored"))
        })?;
        staged.bloom_states.insert(id, state);
    }
    Ok(staged)
}

/// A new Bloom-sync session. For a document the device may not write (a ledger; a station
/// for a non-coordinator) it is read-only: the relay takes no changes from the device, so
/// a device holding relay changes the relay lost (restored from a backup) is not refused.
fn new_session(access: &Access, doc: &DocId) -> am_sync::State {
    if access.can_write(doc) { am_sync::State::new() } else { am_sync::State::new_read_only() }
}

/// Whether the heads a device last told (`theirs`) are `ours`, in any order.
fn same_heads(theirs: Option<&[ChangeHash]>, ours: &[ChangeHash]) -> bool {
    theirs.is_some_and(|theirs| {
        theirs.len() == ours.len() && theirs.iter().collect::<HashSet<_>>() == ours.iter().collect::<HashSet<_>>()
    })
}

/// Checks every new change on every fork: its author must be a writer of the document and
/// the field rules must hold. The first refusal refuses the whole sync (403). Returns the
/// diff of each fork with new changes, for the ledger to read.
fn check_authority(
    relay: &Relay,
    device: &AuthedDevice,
    work: &Work<'_>,
    staged: &Staged,
) -> Result<HashMap<DocId, Vec<Patch>>, AppError> {
    let mut authors = Authors::new(relay.store());
    let mut diffs = HashMap::new();
    for (id, fork) in &staged.forks {
        let Some(cached) = work.doc(id) else { continue };
        let before = cached.get_heads();
        let fresh = fork.get_changes(&before);
        if fresh.is_empty() {
            continue;
        }
        let verdict = match authors.check_writers(id, &fresh)? {
            Err(refusal) => Err(refusal),
            Ok(non_coordinator) => {
                let patches = fork.diff(&before, &fork.get_heads());
                let verdict = authority::check_fields(id, &patches, non_coordinator);
                diffs.insert(id.clone(), patches);
                verdict
            }
        };
        if let Err(refusal) = verdict {
            record_event(relay, device, &refusal.doc, &refusal.reason)?;
            return Err(AppError::Forbidden(refusal.to_string()));
        }
    }
    Ok(diffs)
}

/// What one sync acknowledges and answers, and how its Bloom sessions move afterwards.
struct Plan {
    batch: WriteBatch,
    response: SyncResponse,
    sessions_kept: Vec<(DocId, am_sync::State)>,
    sessions_ended: Vec<DocId>,
}

/// Which documents a request names.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Listing {
    /// Only the changed ones; the manifest matched, so the device holds exactly the heads
    /// last acknowledged to it for every other document.
    Changed,
    /// Every document the device holds; one not named is one it lacks.
    All,
}

/// The manifest digest of what the relay acknowledged to a device ([`wire::manifest_digest`]).
fn relay_manifest(acked: &HashMap<String, AckedHeads>) -> HeadsDigest {
    wire::manifest_digest(
        acked.iter().filter(|(_, heads)| !heads.cur.is_empty()).map(|(doc, heads)| (doc.as_str(), heads_digest(&heads.cur))),
    )
}

/// The base from which the device needs changes, if its digest names heads the relay
/// acknowledged to it (or no heads at all).
fn known_base(digest: HeadsDigest, acked: &AckedHeads) -> Option<Vec<ChangeHash>> {
    [&acked.cur, &acked.prev, &Vec::new()].into_iter().find(|heads| heads_digest(heads) == digest).cloned()
}

fn raw(changes: Vec<Change>, skip: Option<&HashSet<ChangeHash>>) -> Vec<Vec<u8>> {
    changes
        .into_iter()
        .filter(|c| !skip.is_some_and(|s| s.contains(&c.hash())))
        .map(|c| c.raw_bytes().to_vec())
        .collect()
}

/// Plans the acknowledgements and the answer for every readable document.
fn answer(
    work: &Work<'_>,
    device: &AuthedDevice,
    access: &Access,
    pushes: &BTreeMap<DocId, &DocPush>,
    listing: Listing,
    acked: &HashMap<String, AckedHeads>,
    staged: &mut Staged,
) -> Plan {
    let device_id = device.device.id.as_str();
    let mut batch = WriteBatch::default();
    let mut response = SyncResponse::default();
    let mut sessions_kept = Vec::new();
    let mut sessions_ended = Vec::new();
    for id in access.readable() {
        let Some(cached) = work.doc(id) else { continue };
        let name = id.to_string();
        let doc = staged.forks.get(id).unwrap_or(cached);
        let heads = doc.get_heads();
        let push = pushes.get(id);
        let acked_here = acked.get(&name).cloned().unwrap_or_default();
        let in_bloom = staged.bloom_states.contains_key(id) || staged.needs_bloom.contains(id);
        // What the device says it holds: the digest it sent, or, for a document a
        // manifest-checked request does not name, the heads last acknowledged to it.
        let holds = match (push, listing) {
            (Some(push), _) => Some(push.acked),
            (None, Listing::Changed) => Some(heads_digest(&acked_here.cur)),
            (None, Listing::All) => None,
        };
        let base = match holds {
            _ if in_bloom => None,
            None => Some(Vec::new()),
            Some(digest) => known_base(digest, &acked_here).filter(|base| doc.get_missing_deps(base).is_empty()),
        };
        let mut acknowledge = |changes: Vec<Vec<u8>>, prev: Vec<ChangeHash>, theirs: bool| {
            // `theirs`: the relay's heads are exactly the device's (the wire says so in 0 bytes).
            let acked = if theirs { Vec::new() } else { to_wire_heads(&heads) };
            response.docs.push(DocPull { doc: name.clone(), changes, acked });
            let new = AckedHeads { cur: heads.clone(), prev };
            if new != acked_here {
                batch.acks.push(AckUpdate { device: device_id.to_owned(), doc: name.clone(), heads: new });
            }
        };
        if let Some(base) = base {
            let missing = raw(doc.get_changes(&base), staged.pushed.get(id));
            if !missing.is_empty() || holds != Some(heads_digest(&heads)) {
                // The device pushed everything it has since `base`; if the relay now holds
                // all of it and nothing else, their heads are equal.
                let theirs = missing.is_empty()
                    && push.is_some()
                    && staged.pushed.get(id).is_some_and(|p| {
                        doc.get_missing_deps(&p.iter().copied().collect::<Vec<_>>()).is_empty()
                    });
                acknowledge(missing, base, theirs);
            }
            if work.bloom().contains(device_id, id) {
                sessions_ended.push(id.clone());
            }
            continue;
        }
        let mut state = match staged.bloom_states.remove(id) {
            Some(state) => state,
            None => work.bloom().get(device_id, id).unwrap_or_else(|| new_session(access, id)),
        };
        let mut message = doc.generate_sync_message(&mut state);
        if message.is_none() && !same_heads(state.their_heads.as_deref(), &heads) {
            // No message, yet the device's heads are not the relay's: a session left by an
            // interrupted sync, waiting for a reply that never came. Start it again.
            state = new_session(access, id);
            message = doc.generate_sync_message(&mut state);
        }
        if let Some(message) = message {
            response.bloom.push(BloomMessage { doc: name.clone(), message: message.encode() });
            sessions_kept.push((id.clone(), state));
        } else {
            // Both sides agree: send what the device may still lack after its last
            // message, and acknowledge the relay's heads.
            let theirs = state.their_heads.clone().unwrap_or_default();
            let changes = if doc.get_missing_deps(&theirs).is_empty() { raw(doc.get_changes(&theirs), None) } else { Vec::new() };
            acknowledge(changes, acked_here.cur.clone(), false);
            sessions_ended.push(id.clone());
        }
    }
    Plan { batch, response, sessions_kept, sessions_ended }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_is_the_acknowledged_heads_the_digest_names() {
        let a = vec![ChangeHash([1; 32])];
        let b = vec![ChangeHash([2; 32])];
        let acked = AckedHeads { cur: b.clone(), prev: a.clone() };
        assert_eq!(known_base(heads_digest(&b), &acked), Some(b.clone()));
        assert_eq!(known_base(heads_digest(&a), &acked), Some(a));
        assert_eq!(known_base(heads_digest(&[]), &acked), Some(vec![]));
        assert_eq!(known_base(heads_digest(&[ChangeHash([3; 32])]), &acked), None);
    }
}
