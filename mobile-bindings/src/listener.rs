//! Change notifications for the apps: a listener the app implements, and a subscription
//! handle that stops them when dropped (or stopped). Notifications are delivered after
//! the call that caused them has released the store, so a listener may call the store.

use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, PoisonError};

use timebank_engine::{Listener, Subscription};

use crate::types::Topic;

/// Implemented by the app: told which part of the store changed. Called on the thread
/// that made the change (a background thread for sync); post to the UI thread.
#[uniffi::export(with_foreign)]
pub trait ChangeListener: Send + Sync {
    /// `topic` changed: refresh the screens that show it.
    fn on_change(&self, topic: Topic);
}

/// Keeps a listener registered. Dropping it (or calling `stop`) ends the notifications.
#[derive(Debug, uniffi::Object)]
pub struct ChangeSubscription {
    subscription: Mutex<Option<Subscription>>,
}

impl ChangeSubscription {
    pub(crate) fn new(subscription: Subscription) -> Self {
        ChangeSubscription { subscription: Mutex::new(Some(subscription)) }
    }
}

#[uniffi::export]
impl ChangeSubscription {
    /// Stops the notifications now, without waiting for the handle to be dropped
    /// (Kotlin's and Python's garbage collectors drop it late).
    pub fn stop(&self) {
        self.subscription.lock().unwrap_or_else(PoisonError::into_inner).take();
    }
}

/// One notification waiting: the listener (keyed by its address) and what changed.
type Pending = (usize, Arc<dyn ChangeListener>, Topic);

/// Notifications raised while the store was locked, waiting to be delivered.
#[derive(Default)]
pub(crate) struct Outbox {
    pending: Mutex<Vec<Pending>>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox").finish_non_exhaustive()
    }
}

impl Outbox {
    /// The engine-side listener that queues `listener`'s notifications here.
    pub(crate) fn forwarder(self: &Arc<Self>, listener: Arc<dyn ChangeListener>) -> Arc<dyn Listener> {
        Arc::new(Forwarder { outbox: Arc::clone(self), listener })
    }

    /// Delivers what is queued, each topic once per listener and call. A listener that
    /// fails (throws in Kotlin or Swift) does not undo or fail the change it was told of.
    pub(crate) fn deliver(&self) {
        let pending = std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner));
        let mut seen = HashSet::new();
        for (key, listener, topic) in pending {
            if seen.insert((key, topic)) {
                let _ = catch_unwind(AssertUnwindSafe(|| listener.on_change(topic)));
            }
        }
    }
}

struct Forwarder {
    outbox: Arc<Outbox>,
    listener: Arc<dyn ChangeListener>,
}

impl Listener for Forwarder {
    fn on_change(&self, topic: timebank_engine::Topic) {
        // The listener's address identifies it while it is queued.
        let key = Arc::as_ptr(&self.listener).cast::<()>() as usize;
        let entry = (key, Arc::clone(&self.listener), topic.into());
        self.outbox.pending.lock().unwrap_or_else(PoisonError::into_inner).push(entry);
    }
}
