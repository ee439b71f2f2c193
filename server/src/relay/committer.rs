//! Group commit: the writes of requests that arrive while one is being stored are stored
//! together, in one transaction with one flush to disk ([`RelayStore::write_syncs`]), and
//! each request returns only once its own write is durable. The first request to find no
//! commit under way leads: it stores everything queued, hands the events it logged to the
//! ledger in the order they were logged, then wakes the requests it stored, each alone,
//! and hands the lead to the first that queued meanwhile.

use std::sync::{Arc, Condvar, Mutex, PoisonError};

use crate::ledger::EventBody;
use crate::relay::ledger::LedgerWorker;
use crate::store::{Millis, NewLedgerEvent, RelayStore, StoreError, StoreResult, SyncWritten, WriteBatch};

/// The queue of writes waiting to be stored.
#[derive(Debug, Default)]
pub(super) struct Committer {
    groups: Groups<Pending, StoreResult<SyncWritten>>,
}

#[derive(Debug)]
struct Pending {
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
        self.groups.join(
            Pending { batch, events, bodies },
            |group| store_group(store, ledger, group, at),
            || {
                Err(StoreError::Backend(
                    "the commit this sync joined stopped before it answered; what the phone sent stays on it and goes \
                     again at the next sync"
                        .into(),
                ))
            },
        )
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

/// Items stored in groups, one group at a time, by whichever caller leads; each caller
/// sleeps on a bell of its own, rung once: with its result, to lead the next group, or
/// because the leader stopped (panicked) before it answered.
#[derive(Debug)]
struct Groups<T, R> {
    queue: Mutex<Queue<T, R>>,
}

impl<T, R> Default for Groups<T, R> {
    fn default() -> Self {
        Groups { queue: Mutex::new(Queue { waiting: Vec::new(), leading: false }) }
    }
}

#[derive(Debug)]
struct Queue<T, R> {
    waiting: Vec<(T, Arc<Bell<R>>)>,
    /// Whether a caller is storing a group (or was told to lead the next).
    leading: bool,
}

/// What a waiting caller is woken with.
#[derive(Debug)]
enum Rung<R> {
    /// Its item was stored, with this result.
    Done(R),
    /// The group before is stored: it leads the next one.
    Lead,
    /// The leader of its group stopped before answering it.
    Lost,
}

#[derive(Debug)]
struct Bell<R> {
    rung: Mutex<Option<Rung<R>>>,
    woken: Condvar,
}

impl<R> Bell<R> {
    fn ring(&self, rung: Rung<R>) {
        *self.rung.lock().unwrap_or_else(PoisonError::into_inner) = Some(rung);
        self.woken.notify_one();
    }

    fn wait(&self) -> Rung<R> {
        let mut rung = self.rung.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(rung) = rung.take() {
                return rung;
            }
            rung = self.woken.wait(rung).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl<T, R> Groups<T, R> {
    /// Stores `item` with `store` (given the group, it answers one result per item, in
    /// order) together with the items other callers join meanwhile; returns its result, or
    /// `lost()` if the caller that stored its group stopped before answering it.
    fn join(&self, item: T, store: impl Fn(Vec<T>) -> Vec<R>, lost: impl FnOnce() -> R) -> R {
        let bell = Arc::new(Bell { rung: Mutex::new(None), woken: Condvar::new() });
        {
            let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            queue.waiting.push((item, Arc::clone(&bell)));
            if queue.leading {
                drop(queue);
                match bell.wait() {
                    Rung::Done(result) => return result,
                    Rung::Lost => return lost(),
                    Rung::Lead => {}
                }
            } else {
                queue.leading = true;
            }
        }
        self.lead(&bell, store, lost)
    }

    /// Stores everything queued (the leader's own item among it), rings each caller stored
    /// with its result, and hands the lead on; if `store` panics, the callers of the group
    /// are rung [`Rung::Lost`] and the lead is handed on all the same, as the panic unwinds.
    fn lead(&self, own: &Arc<Bell<R>>, store: impl Fn(Vec<T>) -> Vec<R>, lost: impl FnOnce() -> R) -> R {
        let group = std::mem::take(&mut self.queue.lock().unwrap_or_else(PoisonError::into_inner).waiting);
        let (items, bells): (Vec<T>, Vec<Arc<Bell<R>>>) = group.into_iter().unzip();
        let mut answering = Answering { groups: self, bells: bells.into_iter() };
        let mut mine = None;
        for result in store(items) {
            let Some(bell) = answering.bells.next() else { break };
            if Arc::ptr_eq(&bell, own) {
                mine = Some(result);
            } else {
                bell.ring(Rung::Done(result));
            }
        }
        drop(answering);
        mine.unwrap_or_else(lost)
    }
}

/// The callers of a group not answered yet; on drop (after the answers, or as a panic in
/// the store unwinds) they are rung [`Rung::Lost`] and the lead goes to the first caller
/// queued meanwhile, so no caller waits for a leader that is gone.
struct Answering<'g, T, R> {
    groups: &'g Groups<T, R>,
    bells: std::vec::IntoIter<Arc<Bell<R>>>,
}

impl<T, R> Drop for Answering<'_, T, R> {
    fn drop(&mut self) {
        for bell in self.bells.by_ref() {
            bell.ring(Rung::Lost);
        }
        let mut queue = self.groups.queue.lock().unwrap_or_else(PoisonError::into_inner);
        match queue.waiting.first() {
            Some((_, next)) => next.ring(Rung::Lead),
            None => queue.leading = false,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Barrier, mpsc};
    use std::time::Duration;

    use super::*;

    /// Many callers at once: each gets its own item's result, and those that came while a
    /// group was being stored were stored together.
    #[test]
    fn each_caller_gets_its_own_result_and_latecomers_share_a_group() {
        let groups: Groups<u32, u32> = Groups::default();
        let sizes = Mutex::new(Vec::new());
        let store = |items: Vec<u32>| {
            sizes.lock().unwrap().push(items.len());
            std::thread::sleep(Duration::from_millis(20));
            items.iter().map(|i| i * 10).collect()
        };
        let callers = 16;
        let start = Barrier::new(callers);
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..callers as u32)
                .map(|i| {
                    let (groups, start, store) = (&groups, &start, &store);
                    s.spawn(move || {
                        start.wait();
                        groups.join(i, store, || unreachable!("no store fails here"))
                    })
                })
                .collect();
            for (i, handle) in handles.into_iter().enumerate() {
                assert_eq!(handle.join().unwrap(), i as u32 * 10);
            }
        });
        let sizes = sizes.into_inner().unwrap();
        assert_eq!(sizes.iter().sum::<usize>(), callers, "every item stored once: {sizes:?}");
        assert!(sizes.len() < callers, "callers that waited were stored in groups, not one by one: {sizes:?}");
        assert!(!groups.queue.lock().unwrap().leading, "nobody leads once all are stored");
    }

    /// After a quiet spell the next caller leads at once, alone.
    #[test]
    fn a_caller_alone_stores_its_item_itself() {
        let groups: Groups<&str, String> = Groups::default();
        let store = |items: Vec<&str>| items.iter().map(|s| s.to_uppercase()).collect();
        assert_eq!(groups.join("first", store, String::new), "FIRST");
        assert_eq!(groups.join("second", store, String::new), "SECOND");
    }

    /// A leader whose store panics leaves no caller waiting: those it was storing are told
    /// their write was lost, the next group is stored by the first caller that queued
    /// meanwhile, and later callers are served as usual. (Callers left waiting would fail
    /// the test at the timeout, not hang it.)
    #[test]
    fn a_leader_that_panics_answers_its_group_lost_and_hands_the_lead_on() {
        type Outcome = Result<u32, &'static str>;
        let groups: Arc<Groups<u32, Outcome>> = Arc::default();
        let first = Arc::new(AtomicBool::new(true));
        // The first group's store panics, after long enough for others to queue behind it.
        let store = move |items: Vec<u32>| -> Vec<Outcome> {
            if first.swap(false, Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(50));
                panic!("the store fell over");
            }
            items.into_iter().map(Ok).collect()
        };
        let callers = 4;
        let start = Arc::new(Barrier::new(callers));
        let (answers, answered) = mpsc::channel();
        let mut threads = Vec::new();
        for i in 0..=callers as u32 {
            let (groups, start, store, answers) = (Arc::clone(&groups), Arc::clone(&start), store.clone(), answers.clone());
            threads.push(std::thread::spawn(move || {
                if i < callers as u32 {
                    start.wait();
                } else {
                    // Queued while the first group is being stored: in the next group.
                    std::thread::sleep(Duration::from_millis(20));
                }
                let outcome = groups.join(i, store, || Err("lost"));
                answers.send((i, outcome)).unwrap();
            }));
        }
        let late = callers as u32;
        let mut outcomes = HashMap::new();
        for _ in 0..callers {
            let (i, outcome) =
                answered.recv_timeout(Duration::from_secs(10)).expect("every caller but the leader that panicked is answered");
            outcomes.insert(i, outcome);
        }
        let panicked = threads.into_iter().map(std::thread::JoinHandle::join).filter(Result::is_err).count();
        assert_eq!(panicked, 1, "only the first leader panicked: {outcomes:?}");
        for (i, outcome) in &outcomes {
            assert!(*outcome == Ok(*i) || *outcome == Err("lost"), "{i}: {outcome:?}");
        }
        assert_eq!(outcomes.get(&late), Some(&Ok(late)), "the caller queued behind led the next group and was stored");
        assert_eq!(groups.join(99, store, || Err("lost")), Ok(99), "and the queue still works");
    }
}
