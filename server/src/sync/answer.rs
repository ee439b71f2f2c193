//! The answer side of a sync: for every document the device may read, what it lacks (at
//! most a page across all documents; the device comes back for the rest), the heads it now
//! holds as acknowledged, a voucher for what it received, and which documents it must
//! recover for a relay that cannot tell what it holds.

use std::collections::HashMap;

use automerge::{Change, ChangeHash, ReadDoc};
use timebank_engine::sync::bounds;
use timebank_engine::sync::heads::{self, heads_after};
use timebank_engine::sync::page::Page;
use timebank_engine::sync::wire::{self, DocPull, HeadsDigest, Recover, SyncResponse, heads_digest, to_wire_heads};

use crate::auth::AuthedDevice;
use crate::authority::Access;
use crate::relay::{Relay, Work};
use crate::store::{AckUpdate, AckedHeads, WriteBatch};
use crate::sync::stage::{Incoming, Staged};

/// Which documents a request names.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Listing {
    /// Only the changed ones; the manifest matched, so the device holds exactly the heads
    /// last acknowledged to it for every other document.
    Changed,
    /// Every document the device holds; one not named is one it lacks.
    All,
}

/// What one sync acknowledges (stored with its changes) and answers.
pub(super) struct Plan {
    pub(super) batch: WriteBatch,
    pub(super) response: SyncResponse,
}

/// The manifest digest of what the relay acknowledged to a device ([`wire::manifest_digest`]).
pub(super) fn relay_manifest(acked: &HashMap<String, AckedHeads>) -> HeadsDigest {
    wire::manifest_digest(
        acked.iter().filter(|(_, heads)| !heads.cur.is_empty()).map(|(doc, heads)| (doc.as_str(), heads_digest(&heads.cur))),
    )
}

/// The base from which the device needs changes, if its digest names heads the relay
/// acknowledged to it (or no heads at all).
fn known_base(digest: HeadsDigest, acked: &AckedHeads) -> Option<Vec<ChangeHash>> {
    [&acked.cur, &acked.prev, &Vec::new()].into_iter().find(|heads| heads_digest(heads) == digest).cloned()
}

/// Plans the acknowledgements and the answer for every readable document.
#[allow(clippy::too_many_arguments)]
pub(super) fn plan(
    relay: &Relay,
    work: &Work<'_>,
    device: &AuthedDevice,
    access: &Access,
    incoming: &Incoming<'_>,
    staged: &Staged,
    listing: Listing,
    acked: &HashMap<String, AckedHeads>,
) -> Plan {
    let device_id = device.device.id.as_str();
    let mut batch = WriteBatch::default();
    let mut response = SyncResponse::default();
    let mut page = Page::new(relay.settings().page_bytes, bounds::PULL);
    for id in access.readable() {
        // A document forked in place is no longer the work's copy: the fork is.
        let Some(doc) = staged.forks.get(id).or_else(|| work.doc(id)) else { continue };
        let name = id.to_string();
        let heads = doc.get_heads();
        let push = incoming.push(id).map(|p| p.sent);
        let acked_here = acked.get(&name).cloned().unwrap_or_default();
        let recovery = push.and_then(|p| p.recovery.as_ref());
        let recovering = recovery.is_some();
        if staged.waiting.contains(id) && !recovering {
            // Pushed changes build on changes the relay lacks (it was restored from a
            // backup): the device sends what it holds below them.
            response.recover.push(Recover { doc: name.clone(), heads: to_wire_heads(&heads) });
        }
        let base = match (push, listing) {
            // The device told its heads: what it lacks is below none of them.
            (Some(_), _) if let Some(recovery) = recovery => {
                Some(wire::from_wire_heads(&recovery.heads).into_iter().filter(|h| heads::holds(doc, h)).collect())
            }
            (Some(p), _) => known_base(p.acked, &acked_here),
            // Not named in a manifest-checked request: the device holds what was acknowledged.
            (None, Listing::Changed) => Some(acked_here.cur.clone()),
            // Not named in a full listing: the device lacks the document.
            (None, Listing::All) => Some(Vec::new()),
        };
        let Some(base) = base.filter(|base| doc.get_missing_deps(base).is_empty()) else {
            // The device's acknowledged heads are none the relay knows (it was restored
            // from a backup, or lost its sync state): ask the device for its heads.
            if !staged.waiting.contains(id) {
                response.recover.push(Recover { doc: name.clone(), heads: to_wire_heads(&heads) });
            }
            continue;
        };
        let pushed = staged.pushed.get(id);
        // What the device holds: the base and what it pushed (and so everything below
        // them). Naming its pushed changes as held, rather than filtering them out after,
        // keeps the relay from re-encoding them only to drop them.
        let held: Vec<ChangeHash> = base.iter().chain(pushed.into_iter().flatten()).copied().collect();
        // Holding every head, the device holds the whole document: nothing is missing, and
        // automerge's walk from the held hashes is not needed to say so.
        let missing: Vec<Change> = if heads.iter().all(|h| held.contains(h)) { Vec::new() } else { doc.get_changes(&held) };
        let all = missing.len();
        let sent: Vec<Change> = missing.into_iter().take_while(|change| page.take(change)).collect();
        let new_heads = if sent.len() == all {
            heads.clone()
        } else {
            // Over the page: a causal prefix, acknowledged as its own heads; the device
            // comes back for the rest.
            response.more = true;
            heads_after(&base, &sent)
        };
        let holds = match (push, listing) {
            (Some(p), _) => Some(p.acked),
            (None, Listing::Changed) => Some(heads_digest(&acked_here.cur)),
            (None, Listing::All) => None,
        };
        if sent.is_empty() && holds == Some(heads_digest(&new_heads)) && !recovering {
            continue;
        }
        // The relay took everything the device pushed and holds nothing else: their heads
        // are equal. For a document with changes pushed the answer need not name it at
        // all; otherwise an empty `acked` says so.
        let theirs = sent.is_empty()
            && new_heads == heads
            && push.is_some()
            && pushed.is_some_and(|p| doc.get_missing_deps(&p.iter().copied().collect::<Vec<_>>()).is_empty());
        let new = AckedHeads { cur: new_heads.clone(), prev: base.clone() };
        if new != acked_here {
            batch.acks.push(AckUpdate { device: device_id.to_owned(), doc: name.clone(), heads: new });
        }
        if theirs && push.is_some_and(|p| !p.changes.is_empty()) && !recovering {
            continue;
        }
        let voucher = (!sent.is_empty()).then(|| relay.vouchers().vouch(&name, &new_heads));
        response.docs.push(DocPull {
            doc: name.clone(),
            changes: sent.into_iter().map(|c| c.raw_bytes().to_vec()).collect(),
            acked: if theirs { Vec::new() } else { to_wire_heads(&new_heads) },
            voucher,
        });
    }
    Plan { batch, response }
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
