//! `POST /v1/sync`: one round trip in the common case (DESIGN.md, "Sync"; ADR 6, ADR 25).
//!
//! The device sends a manifest digest of every document it holds (over the digests of the
//! heads the relay last acknowledged to it) and the documents it changed, each with its
//! acknowledged digest and the changes it made since. The relay keeps, per (device,
//! document), the heads of its last answer and the ones before (`cur`, `prev`). If the
//! manifest matches its record, unchanged documents cost nothing; if not (its last answer
//! was lost), it asks the device to list every document, and the per-document digests
//! tell it what the device holds. Then ([`stage`]):
//!
//! 1. the pushed changes are read within the bounds of one request (inflated bytes,
//!    operations, changes: 413 and a security event past them, before anything past the
//!    bound is inflated or decoded; `timebank_engine::sync::bounds`);
//! 2. every document named must exist and be readable by the device (404, 403), but one
//!    the relay gave it and it reads no more (a member moved: ADR 42) is left out;
//! 3. every pushed change must be the device's own (authored by the actor it registered)
//!    or, when a restored relay recovers what it lost, vouched for by this relay; anything
//!    else is refused whole (403, security event), whoever its author;
//! 4. the changes the relay lacks whose dependencies it holds must follow their authors'
//!    earlier changes (`timebank_engine::sync::sequence`, 400 otherwise) and keep their
//!    document's shape, checked before they are applied to forks ([`crate::vetting`]), and the
//!    device's own are checked: its member must be a writer of the document, and the
//!    field rules must hold on the fork ([`crate::authority`]); one refusal refuses the
//!    whole batch; otherwise it is stored in one transaction. Changes that build on changes
//!    the relay lacks wait on the phone, blocking nothing else;
//!
//! and ([`answer`]) for each readable document the device lacks changes of, or whose
//! acknowledged heads moved, the answer carries those changes (a page at most; the device
//! comes back for the rest) and the relay's heads. When the digest matches nothing the
//! relay knows (a restored backup, a relay that lost its sync state), or pushed changes
//! wait, the relay asks the device to recover that document: send its heads and what the
//! relay's heads do not cover. Retrying a request changes nothing: known changes are
//! skipped and the acknowledged heads answer the same.

mod answer;
mod stage;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use timebank_engine::DocId;
use timebank_engine::sync::wire::{self, SyncRequest, SyncResponse};

use crate::auth::AuthedDevice;
use crate::authority::Access;
use crate::error::AppError;
use crate::http::{self, binary, blocking};
use crate::limits::Gate;
use crate::relay::{Relay, Writes};
use crate::store::SecurityEvent;

/// The endpoint: bearer token, wire-encoded [`SyncRequest`] in, [`SyncResponse`] out.
/// A body declared over the limit is refused before it is read, the token is checked
/// before the body is read, and a body that arrives too slowly is cut ([`http::read_body`]).
/// A missing or refused token, an oversized or slow body count against the caller's
/// address (a good request never does).
pub async fn endpoint(State(relay): State<Arc<Relay>>, gate: Gate, headers: HeaderMap, body: Body) -> Result<Response, AppError> {
    let (device, body) = http::device_request(&relay, &gate, &headers, body).await?;
    blocking(move || {
        let request: SyncRequest = wire::decode(&body)?;
        let response = sync(&relay, &device, &request)?;
        let bytes = wire::encode(&response);
        tracing::info!(
            device = %device.device.id,
            member = %device.member.id,
            docs_in = request.docs.len(),
            changes_in = request.docs.iter().map(|d| d.changes.len()).sum::<usize>(),
            docs_out = response.docs.len(),
            changes_out = response.docs.iter().map(|d| d.changes.len()).sum::<usize>(),
            recover = response.recover.len(),
            more = response.more,
            bytes_in = body.len(),
            bytes_out = bytes.len(),
            "sync"
        );
        Ok(binary(bytes))
    })
    .await
}

/// Runs one sync for `device`: checks, stores and answers (see the module docs).
pub fn sync(relay: &Relay, device: &AuthedDevice, request: &SyncRequest) -> Result<SyncResponse, AppError> {
    let store = relay.store();
    let access = Access::of(store, &device.member)?;
    let mut incoming = stage::read(relay, device, request)?;
    if incoming.docs().any(|id| !access.can_read(id)) {
        // A document this relay gave the device that it reads no more (a member who moved:
        // the station they left, or, on a coordinator's phone there, their documents; ADR
        // 42) is not a device asking for what it may not read: it is left out, unanswered,
        // and nothing written into it is taken.
        let given = store.acked_heads(&device.device.id)?;
        let left_behind = incoming.leave_out(|id| !access.can_read(id) && given.contains_key(&id.to_string()));
        tracing::info!(device = %device.device.id, docs = ?left_behind, "documents the device reads no more were left out");
    }
    for id in incoming.docs() {
        require_readable(relay, device, &access, id)?;
    }

    // The answer shows the ledger as of everything stored before this sync began.
    relay.settle();
    let mut work = relay.work();
    work.knowing(&device.member);
    work.hold(&incoming.pushed_docs());
    let readable: Vec<DocId> = access.readable().iter().cloned().collect();
    work.load(&readable)?;
    for id in incoming.docs() {
        if work.doc(id).is_none() {
            return Err(AppError::NotFound(format!("document {id} does not exist on this relay; nothing was stored")));
        }
    }
    let acked = store.acked_heads(&device.device.id)?;
    if request.manifest.is_some_and(|manifest| manifest != answer::relay_manifest(&acked)) {
        // The relay's record of this device is not what the device holds (the last
        // answer was lost, or the device holds a restored copy): ask for a full list.
        return Ok(SyncResponse { list_all: true, ..SyncResponse::default() });
    }

    let staged = stage::stage(relay, device, &access, &mut work, &incoming)?;
    let listing = match request.manifest {
        Some(_) => answer::Listing::Changed,
        None => answer::Listing::All,
    };
    let mut plan = answer::plan(relay, &work, device, &access, &incoming, &staged, listing, &acked);
    plan.batch.usage = staged.usage;
    work.commit(Writes {
        forks: staged.forks,
        footprints: staged.footprints,
        batch: plan.batch,
        events: Vec::new(),
        taken: staged.taken,
    })?;
    Ok(plan.response)
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

/// Records a security event about `device` and `doc`.
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
