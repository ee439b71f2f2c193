//! The Bloom-filter sync sessions the fallback path keeps per (device, document) between
//! requests (automerge's `sync::State`), forgotten after a while.

use std::collections::HashMap;

use automerge::sync as am_sync;
use timebank_engine::DocId;

use crate::store::Millis;

/// A Bloom-sync session older than this is forgotten: the device starts afresh.
pub const BLOOM_SESSION_MS: Millis = 10 * 60 * 1000;

/// The sessions going on.
#[derive(Debug, Default)]
pub(crate) struct BloomSessions {
    sessions: HashMap<(String, DocId), Session>,
}

#[derive(Debug)]
struct Session {
    state: am_sync::State,
    touched_at: Millis,
}

impl BloomSessions {
    /// Forgets the sessions idle for longer than [`BLOOM_SESSION_MS`].
    pub(crate) fn expire(&mut self, now: Millis) {
        self.sessions.retain(|_, session| now - session.touched_at < BLOOM_SESSION_MS);
    }

    /// The device's session over `doc`, if one is going on.
    pub(crate) fn get(&self, device: &str, doc: &DocId) -> Option<am_sync::State> {
        self.sessions.get(&(device.to_owned(), doc.clone())).map(|s| s.state.clone())
    }

    /// Whether the device has a session over `doc`.
    pub(crate) fn contains(&self, device: &str, doc: &DocId) -> bool {
        self.sessions.contains_key(&(device.to_owned(), doc.clone()))
    }

    /// Keeps `state` as the device's session over `doc`.
    pub(crate) fn keep(&mut self, device: &str, doc: DocId, state: am_sync::State, now: Millis) {
        self.sessions.insert((device.to_owned(), doc), Session { state, touched_at: now });
    }

    /// Ends the device's session over `doc`.
    pub(crate) fn end(&mut self, device: &str, doc: &DocId) {
        self.sessions.remove(&(device.to_owned(), doc.clone()));
    }
}
