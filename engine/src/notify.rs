//! Change notifications for the UI: listeners registered with a handle that
//! unregisters them when dropped.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use serde::{Deserialize, Serialize};

/// What changed, so a screen refreshes only what it shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Topic {
    /// The visit list (check-in, check-out, confirmation, outcome).
    Visits,
    /// Orders placed for an elder.
    Orders,
    /// Assignments offered to a volunteer.
    Assignments,
    /// Redemption and gift requests.
    Requests,
    /// Balance and outcomes from the relay.
    Ledger,
    /// The station's catalogue, rules and notices.
    Station,
}

/// Receives change notifications. Called on the thread that made the change; keep it short
/// (post to the UI thread).
pub trait Listener: Send + Sync {
    /// `topic` changed in the store.
    fn on_change(&self, topic: Topic);
}

type Registry = Mutex<BTreeMap<u64, Arc<dyn Listener>>>;

/// The registered listeners.
#[derive(Default)]
pub struct Listeners {
    registry: Arc<Registry>,
    next_id: u64,
}

impl std::fmt::Debug for Listeners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listeners").field("next_id", &self.next_id).finish_non_exhaustive()
    }
}

/// Keeps a listener registered; dropping it stops the notifications.
#[must_use = "notifications stop when the subscription is dropped"]
pub struct Subscription {
    registry: Weak<Registry>,
    id: u64,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription").field("id", &self.id).finish()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(registry) = self.registry.upgrade() {
            registry.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.id);
        }
    }
}

impl Listeners {
    /// Registers `listener` until the returned subscription is dropped.
    pub fn subscribe(&mut self, listener: Arc<dyn Listener>) -> Subscription {
        let id = self.next_id;
        self.next_id += 1;
        self.registry.lock().unwrap_or_else(PoisonError::into_inner).insert(id, listener);
        Subscription { registry: Arc::downgrade(&self.registry), id }
    }

    /// Tells every listener that `topics` changed.
    pub fn notify(&self, topics: &[Topic]) {
        let listeners: Vec<Arc<dyn Listener>> =
            self.registry.lock().unwrap_or_else(PoisonError::into_inner).values().cloned().collect();
        for listener in listeners {
            for topic in topics {
                listener.on_change(*topic);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counter(AtomicUsize);
    impl Listener for Counter {
        fn on_change(&self, _topic: Topic) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn dropping_the_subscription_stops_notifications() {
        let mut listeners = Listeners::default();
        let counter = Arc::new(Counter(AtomicUsize::new(0)));
        let subscription = listeners.subscribe(counter.clone());
        listeners.notify(&[Topic::Visits]);
        drop(subscription);
        listeners.notify(&[Topic::Visits]);
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
    }
}
