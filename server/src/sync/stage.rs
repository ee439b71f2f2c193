//! The push side of a sync: reads the request within the bounds of one request, checks
//! that every change is the device's own or vouched for by this relay, and stages the
//! changes the relay lacks on forks of its documents: each keeps its document's shape
//! (checked before it is applied), and the device's own are checked against the writers
//! and the field rules. Changes that build on changes the relay lacks wait (on the phone),
//! blocking nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use automerge::{ActorId, Automerge, Change, ChangeHash};
use timebank_engine::DocId;
use timebank_engine::sync::bounds::{self, BoundsError, Budget};
use timebank_engine::sync::wire::{self, DocPush, SyncRequest};
use timebank_engine::sync::{heads, sequence};

use crate::auth::AuthedDevice;
use crate::authority::{Access, Authors, Refusal};
use crate::error::AppError;
use crate::footprint::Footprint;
use crate::relay::{Relay, Taken, Work};
use crate::store::{DeviceUsage, UsageUpdate};
use crate::sync::record_event;
use crate::vetting;

/// What the device sent, read and checked for form before anything is touched.
pub(super) struct Incoming<'a> {
    pushes: BTreeMap<DocId, Push<'a>>,
}

/// One document's push: as sent, and its changes parsed.
pub(super) struct Push<'a> {
    pub(super) sent: &'a DocPush,
    pub(super) changes: Vec<Change>,
}

impl Incoming<'_> {
    /// The documents named.
    pub(super) fn docs(&self) -> impl Iterator<Item = &DocId> {
        self.pushes.keys()
    }

    /// The documents the request pushes changes to (the ones it may write).
    pub(super) fn pushed_docs(&self) -> Vec<DocId> {
        self.pushes.iter().filter(|(_, push)| !push.changes.is_empty()).map(|(id, _)| id.clone()).collect()
    }

    /// The push of `doc`, if the request names it.
    pub(super) fn push(&self, doc: &DocId) -> Option<&Push<'_>> {
        self.pushes.get(doc)
    }

    /// Leaves out the documents named that `left_behind` says the device no longer reads
    /// (ADR 42): nothing is taken from them, and the answer does not name them. Returns them.
    pub(super) fn leave_out(&mut self, left_behind: impl Fn(&DocId) -> bool) -> Vec<DocId> {
        let gone: Vec<DocId> = self.pushes.keys().filter(|id| left_behind(id)).cloned().collect();
        for id in &gone {
            self.pushes.remove(id);
        }
        gone
    }
}

/// Parses document ids and changes; a damaged body is refused whole (400), and so are
/// changes over the bounds of one request (413, security event), before they are inflated
/// or decoded past the bound ([`bounds::PUSH`], one budget for the whole request).
pub(super) fn read<'a>(relay: &Relay, device: &AuthedDevice, request: &'a SyncRequest) -> Result<Incoming<'a>, AppError> {
    let mut pushes = BTreeMap::new();
    let mut budget = Budget::new(bounds::PUSH);
    for sent in &request.docs {
        let id: DocId =
            sent.doc.parse().map_err(|e: timebank_engine::Error| AppError::BadRequest(format!("{e}; nothing was stored")))?;
        let changes = sent
            .changes
            .iter()
            .enumerate()
            .map(|(i, bytes)| budget.read_change(bytes).map_err(|e| refuse_change(relay, device, &sent.doc, i, e)))
            .collect::<Result<Vec<_>, _>>()?;
        if pushes.insert(id, Push { sent, changes }).is_some() {
            return Err(AppError::BadRequest(format!("document {} is listed twice in one request; nothing was stored", sent.doc)));
        }
    }
    Ok(Incoming { pushes })
}

/// A change that could not be read: damaged (400), or over a bound (413, security event).
fn refuse_change(relay: &Relay, device: &AuthedDevice, doc: &str, index: usize, error: BoundsError) -> AppError {
    let reason = match error {
        BoundsError::Damaged(reason) => {
            return AppError::BadRequest(format!("change {} of {doc} is damaged ({reason}); nothing was stored", index + 1));
        }
        over @ BoundsError::Over { .. } => format!("change {} of {doc}: {over}", index + 1),
    };
    match record_event(relay, device, doc, &reason) {
        Ok(()) => AppError::TooLarge(format!("{reason}. Nothing from this sync was stored")),
        Err(error) => error,
    }
}

/// The forks with the changes the relay takes, and what the answer needs to know.
#[derive(Default)]
pub(super) struct Staged {
    /// Each document with taken changes: a fork of the working copy with them applied.
    pub(super) forks: BTreeMap<DocId, Automerge>,
    /// What each fork's changes write, record by record (handed to the ledger).
    pub(super) footprints: HashMap<DocId, Footprint>,
    /// Per document, every change the device pushed (not sent back to it).
    pub(super) pushed: HashMap<DocId, HashSet<ChangeHash>>,
    /// Documents with pushed changes that wait for changes the relay lacks.
    pub(super) waiting: BTreeSet<DocId>,
    /// What the changes taken count against the device's daily quota.
    pub(super) usage: Option<UsageUpdate>,
    /// Each fork's changes as received, stored as they are.
    pub(super) taken: HashMap<DocId, Taken>,
}

/// Checks and stages every push (see the module docs). The first refusal refuses the
/// whole sync (403) and records a security event.
pub(super) fn stage(
    relay: &Relay,
    device: &AuthedDevice,
    access: &Access,
    work: &mut Work<'_>,
    incoming: &Incoming<'_>,
) -> Result<Staged, AppError> {
    let mut staged = Staged::default();
    let mut authors = Authors::new(relay.store()).knowing(&device.device, &device.member);
    let mut taken = DeviceUsage::default();
    for (id, push) in &incoming.pushes {
        let Some(cached) = work.doc(id) else { continue };
        let refuse = |refusal: Refusal| -> AppError {
            match record_event(relay, device, &refusal.doc, &refusal.reason) {
                Ok(()) => AppError::Forbidden(refusal.to_string()),
                Err(error) => error,
            }
        };
        let vouched = vouched(relay, id, push).map_err(refuse)?;
        // The device's actor as automerge holds it, compared as bytes (not as hex text
        // written out for every change). Enrollment checked it is hex.
        let own = device.device.actor.parse::<ActorId>().ok();
        let is_own = |change: &Change| own.as_ref() == Some(change.actor_id());
        for change in &push.changes {
            if !is_own(change) && !vouched.contains(&change.hash()) {
                let actor = change.actor_id().to_hex_string();
                return Err(refuse(Refusal {
                    doc: id.to_string(),
                    reason: format!(
                        "device {} sent a change authored by actor {}…, not by itself; a device sends only its own changes",
                        device.device.id,
                        &actor[..actor.len().min(12)]
                    ),
                }));
            }
        }
        staged.pushed.insert(id.clone(), push.changes.iter().map(Change::hash).collect());
        let writable = access.can_write(id);
        let fresh: Vec<&Change> = push
            .changes
            .iter()
            .filter(|c| !heads::holds(cached, &c.hash()))
            // A document the device may not write (a ledger) takes nothing back from it,
            // vouched or not: the relay writes it again from its books. The device's own
            // changes go on, to be refused and recorded.
            .filter(|c| writable || is_own(c))
            .collect();
        let (ready, waiting) = ready_and_waiting(cached, fresh);
        if !waiting.is_empty() {
            staged.waiting.insert(id.clone());
        }
        if ready.is_empty() {
            continue;
        }
        sequence::check(cached, ready.iter().copied()).map_err(|reason| {
            AppError::BadRequest(format!("the changes sent for {id} cannot follow its history: {reason}; nothing was stored"))
        })?;
        taken.changes += i64::try_from(ready.len()).unwrap_or(i64::MAX);
        taken.bytes += ready.iter().map(|c| i64::try_from(c.raw_bytes().len()).unwrap_or(i64::MAX)).sum::<i64>();
        let non_coordinator = match authors.check_writers(id, ready.iter().copied().filter(|c| is_own(c)))? {
            Ok(non_coordinator) => non_coordinator,
            Err(refusal) => return Err(refuse(refusal)),
        };
        // Every change taken keeps the document's shape, and the device's own keep the
        // field rules: checked before any is applied, the length of Text objects once they
        // are. Changes of others among them are what a restored relay lost, vouched for.
        let restricted = |change: &Change| non_coordinator && is_own(change);
        let vetted = vetting::vet(id, cached, ready.iter().copied(), restricted).map_err(refuse)?;
        let Some(mut fork) = work.fork(id) else { continue };
        fork.apply_changes(ready.iter().map(|c| (*c).clone()))
            .map_err(|e| AppError::BadRequest(format!("the changes sent for {id} could not be applied ({e}); nothing was stored")))?;
        vetted.check(&fork).map_err(refuse)?;
        staged.footprints.insert(id.clone(), vetted.footprint);
        staged.taken.insert(id.clone(), Taken::of(&fork, ready.iter().copied()));
        staged.forks.insert(id.clone(), fork);
    }
    if taken.changes > 0 {
        staged.usage = Some(within_quota(relay, device, taken)?);
    }
    Ok(staged)
}

/// Checks that what a sync takes keeps the device within its daily quota (relay
/// [`Settings`](crate::relay::Settings)): over it, the sync is refused with 429 until the
/// next day (UTC), and one security event is recorded per device and day.
fn within_quota(relay: &Relay, device: &AuthedDevice, taken: DeviceUsage) -> Result<UsageUpdate, AppError> {
    const DAY_MS: i64 = 24 * 60 * 60 * 1000;
    let now = relay.now_ms();
    let day = now.div_euclid(DAY_MS);
    let settings = relay.settings();
    let used = relay.store().device_usage(&device.device.id, day)?;
    let changes = used.changes.saturating_add(taken.changes);
    let bytes = used.bytes.saturating_add(taken.bytes);
    if changes <= settings.device_changes_per_day && bytes <= settings.device_bytes_per_day {
        return Ok(UsageUpdate { device: device.device.id.clone(), day, usage: taken });
    }
    let what = format!(
        "{changes} changes and {bytes} bytes today, over the relay's daily limit of {} changes and {} bytes per device",
        settings.device_changes_per_day, settings.device_bytes_per_day
    );
    if relay.store().mark_over_quota(&device.device.id, day)? {
        record_event(
            relay,
            device,
            &format!("member/{}", device.member.id),
            &format!("over quota: device {} sent {what}", device.device.id),
        )?;
    }
    relay.metrics().rate_limited("device-quota");
    let retry_after_secs = u64::try_from((day + 1) * DAY_MS - now).unwrap_or(0).div_ceil(1000).max(1);
    Err(AppError::TooManyRequests {
        message: format!(
            "this phone sent {what}; nothing from this sync was stored and everything stays saved on the phone. It syncs again tomorrow (UTC); if this is real work, ask the station to raise the limit"
        ),
        retry_after_secs,
    })
}

/// The changes of others in `push` that this relay vouched for: those the voucher's heads
/// descend from, if the voucher is this relay's. A voucher the relay did not make is
/// refused (a forged one, or another relay's).
fn vouched(relay: &Relay, id: &DocId, push: &Push<'_>) -> Result<HashSet<ChangeHash>, Refusal> {
    let Some(voucher) = push.sent.recovery.as_ref().and_then(|r| r.voucher.as_ref()) else { return Ok(HashSet::new()) };
    let heads = wire::from_wire_heads(&voucher.heads);
    if !relay.vouchers().verify(&id.to_string(), &heads, &voucher.mac) {
        return Err(Refusal { doc: id.to_string(), reason: "the device sent a voucher this relay did not make".to_owned() });
    }
    let by_hash: HashMap<ChangeHash, &Change> = push.changes.iter().map(|c| (c.hash(), c)).collect();
    let mut vouched = HashSet::new();
    let mut stack = heads;
    while let Some(hash) = stack.pop() {
        // A change not in the push is one the relay holds (or nobody does): the walk
        // stops there, since the relay holds everything below what it holds.
        if vouched.insert(hash)
            && let Some(change) = by_hash.get(&hash)
        {
            stack.extend(change.deps().iter().copied());
        }
    }
    Ok(vouched)
}

/// Splits `fresh` into the changes whose dependencies the relay holds (or that come
/// before them in the push), in an order they apply in, and those that must wait.
fn ready_and_waiting<'c>(cached: &Automerge, fresh: Vec<&'c Change>) -> (Vec<&'c Change>, Vec<&'c Change>) {
    let mut known: HashSet<ChangeHash> = HashSet::new();
    let mut ready = Vec::new();
    let mut pending = fresh;
    loop {
        let before = pending.len();
        pending.retain(|change| {
            let deps_held = change.deps().iter().all(|d| known.contains(d) || heads::holds(cached, d));
            if deps_held {
                known.insert(change.hash());
                ready.push(*change);
            }
            !deps_held
        });
        if pending.len() == before || pending.is_empty() {
            return (ready, pending);
        }
    }
}
