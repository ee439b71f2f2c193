//! Group commit: the writes of requests that arrive while one is being stored are stored
//! together, in one transaction with one flush to disk ([`RelayStore::write_syncs`]), and
//! each request returns only once its own write is durable. The first request to find no
//! commit under way leads: it stores everything queued, hands the events it logged to the
//! ledger in the order they were logged, then wakes the others.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, PoisonError};

use crate::ledger::EventBody;
use crate::relay::ledger::LedgerWorker;
use crate::store::{Millis, NewLedgerEvent, RelayStore, StoreError, StoreResult, SyncWritten, WriteBatch};

/// The queue of writes waiting to be stored.
#[derive(Debug, Default)]
pub(super) struct Committer {
    queue: Mutex<Queue>,
    stored: Condvar,
}

#[derive(Debug, Default)]
struct Queue {
    next: u64,
    waiting: Vec<Pending>,
    done: HashMap<u64, StoreResult<SyncWritten>>,
    leading: bool,
}

#[derive(Debug)]
struct Pending {
    ticket: u64,
    batch: WriteBatch,
    events: Vec<NewLedgerEvent>,
    bodies: Vec<EventBody>,
}

impl Committer {
    /// Stores `batch` with the arrival-log `events` (and their `bodies`, for the ledger),
    /// together with whatever other requests queue meanwhile; returns when it is durable.
    pub(super) fn commit(
        &self,
        store: &dyn RelayStore,
        ledger: &LedgerWorker,
        batch: WriteBatch,
        events: Vec<NewLedgerEvent>,
        bodies: Vec<EventBody>,
        at: Millis,
    ) -> StoreResult<SyncWritten> {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let ticket = queue.next;
        queue.next += 1;
        queue.waiting.push(Pending { ticket, batch, events, bodies });
        loop {
            if let Some(result) = queue.done.remove(&ticket) {
                return result;
            }
            if queue.leading {
                queue = self.stored.wait(queue).unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            queue.leading = true;
            let group = std::mem::take(&mut queue.waiting);
            drop(queue);
            let tickets: Vec<u64> = group.iter().map(|p| p.ticket).collect();
            let results = store_group(store, ledger, group, at);
            queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            queue.done.extend(tickets.into_iter().zip(results));
            queue.leading = false;
            self.stored.notify_all();
        }
    }
}

/// Stores one group and, in the same order, hands what it logged to the ledger (the
/// records the store made move there: the requests that wait for the group need only the
/// generations).
fn store_group(store: &dyn RelayStore, ledger: &LedgerWorker, group: Vec<Pending>, at: Millis) -> Vec<StoreResult<SyncWritten>> {
    let items: Vec<(&WriteBatch, &[NewLedgerEvent])> = group.iter().map(|p| (&p.batch, p.events.as_slice())).collect();
    let mut results = store.write_syncs(&items, at);
    if results.len() != group.len() {
        let error = StoreError::Backend(format!("the store answered {} writes for {}", results.len(), group.len()));
        results = group.iter().map(|_| Err(StoreError::Backend(error.to_string()))).collect();
    }
    for (pending, result) in group.into_iter().zip(&mut results) {
        if let Ok((_, logged)) = result
            && !logged.is_empty()
        {
            ledger.logged(std::mem::take(logged), pending.events, pending.bodies);
        }
    }
    results
}
