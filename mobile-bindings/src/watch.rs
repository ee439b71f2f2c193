//! Watching the relay for the apps (ADR 32): [`LiveWatch`] holds the engine's watch of the
//! live channel and syncs the store on each hint (the store locked per sync step, as in
//! every sync); `next_event` blocks until something happens, `cancel` stops it from any
//! thread (the channel closes, a sync in flight is cancelled, a waiting `next_event`
//! returns `None`). The Kotlin and Swift wrappers turn it into a `Flow` and an
//! `AsyncSequence`.

use std::sync::{Arc, Mutex, PoisonError};

use timebank_engine::RelayLink;
use timebank_engine::watch::{self, Watch, WatchStop};

use crate::error::Result;
use crate::store::TimebankStore;
use crate::sync::SyncCancel;
use crate::types::SyncReport;

/// What a watch reports.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum WatchEvent {
    /// The live channel is open; a sync follows (it catches up on what changed meanwhile).
    Connected,
    /// A sync ran, after connecting or on the relay's hint naming `hinted` (document ids).
    Synced {
        /// The documents the relay said changed (none after connecting).
        hinted: Vec<String>,
        /// What the sync did (`docs_changed > 0`: the listeners were told).
        report: SyncReport,
    },
    /// The sync failed; nothing is lost, the next hint or connection syncs again.
    SyncFailed {
        /// Why, in words.
        reason: String,
    },
    /// The channel was lost (no signal, the relay restarting); it connects again after
    /// `retry_in_ms`.
    Disconnected {
        /// Why, in words.
        reason: String,
        /// How long until the next try.
        retry_in_ms: u64,
    },
}

impl From<watch::WatchEvent> for WatchEvent {
    fn from(event: watch::WatchEvent) -> Self {
        match event {
            watch::WatchEvent::Connected => WatchEvent::Connected,
            watch::WatchEvent::Synced { hinted, report } => WatchEvent::Synced { hinted, report: report.into() },
            watch::WatchEvent::SyncFailed { message } => WatchEvent::SyncFailed { reason: message },
            watch::WatchEvent::Disconnected { message, retry_in_ms } => WatchEvent::Disconnected { reason: message, retry_in_ms },
        }
    }
}

/// A phone watching its relay, from `TimebankStore.watch()`.
#[derive(uniffi::Object)]
pub struct LiveWatch {
    store: Arc<TimebankStore>,
    watch: Mutex<Watch>,
    stop: WatchStop,
    /// Cancels the sync in flight when the watch stops.
    syncing: Arc<SyncCancel>,
}

impl std::fmt::Debug for LiveWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveWatch").field("stopped", &self.stop.is_stopped()).finish_non_exhaustive()
    }
}

impl LiveWatch {
    pub(crate) fn start(store: Arc<TimebankStore>, link: RelayLink) -> Result<Arc<LiveWatch>> {
        let watch = Watch::start(link)?;
        let stop = watch.stopper();
        Ok(Arc::new(LiveWatch { store, watch: Mutex::new(watch), stop, syncing: Arc::new(SyncCancel::default()) }))
    }
}

#[uniffi::export]
impl LiveWatch {
    /// Waits for the next event (blocking: call it off the UI thread), syncing the store when
    /// the relay hints. `None` once cancelled; throws when the watch cannot go on
    /// (`RelayRefused`: the device was revoked, or another watch of it took over;
    /// `RelayProtocol`: update the app), and returns `None` after that.
    pub fn next_event(&self) -> Result<Option<WatchEvent>> {
        let mut watch = self.watch.lock().unwrap_or_else(PoisonError::into_inner);
        let store = &self.store;
        let syncing = &self.syncing;
        Ok(watch.next(&mut || store.sync_with_relay(syncing))?.map(WatchEvent::from))
    }

    /// Stops watching, from any thread: the channel closes, a sync in flight is cancelled
    /// (nothing is lost), and `next_event` returns `None`.
    pub fn cancel(&self) {
        self.stop.stop();
        self.syncing.cancel();
    }

    /// Whether `cancel` was called (or the watch ended).
    pub fn is_cancelled(&self) -> bool {
        self.stop.is_stopped()
    }
}

impl Drop for LiveWatch {
    fn drop(&mut self) {
        self.cancel();
    }
}
