//! Change notifications for the apps: a listener the app implements, and a subscription
//! handle that stops them when dropped (or stopped). The store forwards the engine's
//! notifications here through one engine subscription, and delivers them after the call
//! that caused them has released the store, so a listener may call the store.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use timebank_engine::Listener;

use crate::types::Topic;

/// Implemented by the app: told which part of the store changed. Called on a thread that
/// made a change (a background thread for sync); post to the UI thread.
#[uniffi::export(with_foreign)]
pub trait ChangeListener: Send + Sync {
    /// `topic` changed: refresh the screens that show it.
    fn on_change(&self, topic: Topic);
}

/// Keeps a listener registered. Dropping it (or calling `stop`) ends the notifications.
#[derive(Debug, uniffi::Object)]
pub struct ChangeSubscription {
    outbox: Weak<Outbox>,
    id: u64,
}

#[uniffi::export]
impl ChangeSubscription {
    /// Stops the notifications now, without waiting for the handle to be dropped
    /// (Kotlin's and Python's garbage collectors drop it late).
    pub fn stop(&self) {
        if let Some(outbox) = self.outbox.upgrade() {
            lock(&outbox.listeners).remove(&self.id);
        }
    }
}

impl Drop for ChangeSubscription {
    fn drop(&mut self) {
        self.stop();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The app's listeners of one store, and the topics waiting to be delivered to them.
#[derive(Default)]
pub(crate) struct Outbox {
    listeners: Mutex<BTreeMap<u64, Arc<dyn ChangeListener>>>,
    next_id: AtomicU64,
    pending: Mutex<Vec<Topic>>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox").field("listeners", &lock(&self.listeners).len()).finish_non_exhaustive()
    }
}

impl Outbox {
    /// Registers `listener` until the returned handle is dropped or stopped.
    pub(crate) fn register(self: &Arc<Self>, listener: Arc<dyn ChangeListener>) -> ChangeSubscription {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        lock(&self.listeners).insert(id, listener);
        ChangeSubscription { outbox: Arc::downgrade(self), id }
    }

    /// The engine-side listener that queues the engine's notifications here.
    pub(crate) fn forwarder(self: &Arc<Self>) -> Arc<dyn Listener> {
        Arc::new(Forwarder(Arc::downgrade(self)))
    }

    /// Delivers what is queued, each topic once, to every listener registered now. A
    /// listener that fails (throws in Kotlin or Swift) does not undo or fail the change it
    /// was told of, nor keep the others from hearing it.
    pub(crate) fn deliver(&self) {
        let mut topics = std::mem::take(&mut *lock(&self.pending));
        if topics.is_empty() {
            return;
        }
        let mut seen = Vec::new();
        topics.retain(|topic| {
            !seen.contains(topic) && {
                seen.push(*topic);
                true
            }
        });
        let listeners: Vec<Arc<dyn ChangeListener>> = lock(&self.listeners).values().cloned().collect();
        for listener in listeners {
            for topic in &topics {
                let _ = catch_unwind(AssertUnwindSafe(|| listener.on_change(*topic)));
            }
        }
    }
}

struct Forwarder(Weak<Outbox>);

impl Listener for Forwarder {
    fn on_change(&self, topic: timebank_engine::Topic) {
        if let Some(outbox) = self.0.upgrade() {
            lock(&outbox.pending).push(topic.into());
        }
    }
}
