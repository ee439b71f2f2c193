//! The adversarial suite (issue 10): enrolled devices that build changes with automerge
//! directly and send hand-made bodies, one module per class of attack. Each test asserts
//! what a user would notice: the attack is refused or bounded, nothing of it was stored
//! (another device's fresh sync shows the documents as they were), a security event names
//! the device, and honest devices keep syncing.

mod authorship;
mod changes;
mod door;
mod property;
mod quota;

use timebank_engine::DocId;

use crate::support::{Phone, TestRelay};

/// Asserts that `doc` on the relay is as `before`, seen by a fresh sync of `witness` (a
/// device that may read it): the phone holds exactly the relay's heads and they are `before`.
pub fn nothing_stored(relay: &TestRelay, witness: &mut Phone, doc: &DocId, before: &[automerge::ChangeHash]) {
    relay.sync_phone(witness);
    assert_eq!(relay.document(doc).get_heads(), before, "the relay's copy of {doc} changed");
    assert_eq!(witness.engine.heads(doc), before, "a fresh sync of another device shows {doc} changed");
}

/// The security events that name `device`.
pub fn events_of(relay: &TestRelay, device: &str) -> Vec<String> {
    relay.store().security_events().unwrap().into_iter().filter(|e| e.device.as_deref() == Some(device)).map(|e| e.reason).collect()
}
