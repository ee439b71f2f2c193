//! The relay's poster ([`LedgerWorker`]): a thread that keeps the ledger's books and folds
//! what each commit logged, handed over in memory and in the order logged, then stores the
//! postings and the members' ledger documents. Reconciliation runs right after the commit
//! but off the committing request's path; a request that needs the books current (every
//! sync before it answers, the console before it reads or after it decides) first waits for
//! what was handed over before it ([`LedgerWorker::settle`]). So a phone sees the ledger
//! outcome of anything any device stored before its sync began (ADR 0027).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock, Weak};
use std::time::Instant;

use automerge::ActorId;
use timebank_engine::model::StationId;
use timebank_engine::{Clock, DocId};

use crate::ledger::bookkeeper::{Bookkeeper, Entries};
use crate::ledger::rules::Credit;
use crate::ledger::{EventBody, StationRules, document};
use crate::relay::cache::{DocumentCache, Held};
use crate::relay::changes::Changes;
use crate::store::{LedgerEventRecord, NewLedgerEvent, RelayStore, StoreError, StoreResult, WriteBatch};

/// How often an idle poster folds what other processes logged.
const IDLE_FOLD: std::time::Duration = std::time::Duration::from_millis(500);

/// How long the stored cursor (the last event folded, `ledger_folded`) may trail the books
/// when what was folded stores nothing else (visits logged, not yet reviewed): it moves
/// with the next posting or document written, or at most this often, not once per fold.
const CURSOR_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// Most commits whose events the poster folds and stores together.
const MOST_FOLDED_TOGETHER: usize = 256;

/// What a commit logged: the records the store made, what the commit sent to log (each
/// key as it computed it) and the events themselves, in the order sent.
struct Logged {
    records: Vec<LedgerEventRecord>,
    sent: Vec<NewLedgerEvent>,
    bodies: Vec<EventBody>,
}

/// What the poster is asked to do, in order.
enum Job {
    /// Fold what a commit logged.
    Logged(Logged),
    /// Catch up (load the books if not loaded) and fold whatever the log holds past them.
    Reconcile(Sender<StoreResult<()>>),
    /// Reconcile, then say what approving each of these visits would credit now.
    Credits(Vec<String>, Sender<StoreResult<BTreeMap<String, Credit>>>),
    /// Another process wrote: fold what it logged (not counted: nobody waits for it).
    Heard,
}

/// The handle requests use; the thread ends when the relay is dropped.
#[derive(Debug)]
pub(super) struct LedgerWorker {
    jobs: Arc<Mutex<Sender<Job>>>,
    /// Whether a wake-up is waiting for the poster (so hearing many writes asks once).
    woken: Arc<AtomicBool>,
    progress: Arc<Progress>,
    rules: Arc<RwLock<Option<BTreeMap<StationId, StationRules>>>>,
    /// The last event folded whose effects the store holds (ahead of the stored cursor
    /// by at most [`CURSOR_EVERY`]).
    folded: Arc<AtomicI64>,
}

/// Jobs handed over and jobs done, to wait on.
#[derive(Debug, Default)]
struct Progress {
    counts: Mutex<(u64, u64)>,
    done: Condvar,
}

impl Progress {
    fn handed(&self) {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner).0 += 1;
    }

    fn finished(&self, jobs: u64) {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner).1 += jobs;
        self.done.notify_all();
    }
}

/// What the thread needs of the relay.
pub(super) struct Poster {
    pub(super) store: Arc<dyn RelayStore>,
    pub(super) documents: Arc<DocumentCache>,
    pub(super) actor: ActorId,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) changes: Arc<Changes>,
}

impl LedgerWorker {
    /// Starts the poster's thread.
    pub(super) fn start(poster: Poster) -> std::io::Result<LedgerWorker> {
        let (jobs, received) = mpsc::channel();
        let progress = Arc::new(Progress::default());
        let rules = Arc::new(RwLock::new(None));
        let woken = Arc::new(AtomicBool::new(false));
        let folded = Arc::new(AtomicI64::new(0));
        let worker = Worker {
            poster,
            bookkeeper: None,
            folded_stored: 0,
            progress: Arc::clone(&progress),
            rules: Arc::clone(&rules),
            woken: Arc::clone(&woken),
            folded: Arc::clone(&folded),
            cursor_written: Instant::now(),
        };
        std::thread::Builder::new().name("ledger".into()).spawn(move || worker.run(&received))?;
        Ok(LedgerWorker { jobs: Arc::new(Mutex::new(jobs)), woken, progress, rules, folded })
    }

    /// A handle that wakes the poster to fold what other processes logged, and that does
    /// not keep it running once the relay is gone.
    pub(super) fn waker(&self) -> PosterWaker {
        PosterWaker { jobs: Arc::downgrade(&self.jobs), woken: Arc::clone(&self.woken) }
    }

    fn send(&self, job: Job) {
        self.progress.handed();
        if self.jobs.lock().unwrap_or_else(PoisonError::into_inner).send(job).is_err() {
            // The thread is gone (it panicked): nothing will fold; the next start catches up.
            self.progress.finished(1);
            tracing::error!("the ledger's thread has stopped; the arrival log is folded at the next start");
        }
    }

    /// Hands over what a commit logged (called in the order logged): the records the store
    /// made, and what the commit sent to log with the events themselves.
    pub(super) fn logged(&self, logged: Vec<LedgerEventRecord>, sent: Vec<NewLedgerEvent>, bodies: Vec<EventBody>) {
        self.send(Job::Logged(Logged { records: logged, sent, bodies }));
    }

    /// Waits until everything handed over before this call is folded and stored.
    pub(super) fn settle(&self) {
        let mut counts = self.progress.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let target = counts.0;
        while counts.1 < target {
            counts = self.progress.done.wait(counts).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Loads the books if they are not (the catch-up) and folds whatever the log holds past
    /// them; returns when done.
    pub(super) fn reconcile(&self) -> StoreResult<()> {
        let (reply, answer) = mpsc::channel();
        self.send(Job::Reconcile(reply));
        answer.recv().unwrap_or_else(|_| Err(StoreError::Backend("the ledger's thread has stopped".into())))
    }

    /// What approving each of `visits` would credit now, from the books once everything
    /// handed over before the call is folded (visits the books do not hold are left out).
    pub(super) fn credits(&self, visits: Vec<String>) -> StoreResult<BTreeMap<String, Credit>> {
        let (reply, answer) = mpsc::channel();
        self.send(Job::Credits(visits, reply));
        answer.recv().unwrap_or_else(|_| Err(StoreError::Backend("the ledger's thread has stopped".into())))
    }

    /// The last event this relay's books folded whose effects the store holds (0 before
    /// the catch-up).
    pub(super) fn folded(&self) -> i64 {
        self.folded.load(Ordering::Acquire)
    }

    /// The rules the books apply now, once loaded (`None` before the catch-up).
    pub(super) fn rules(&self) -> Option<BTreeMap<StationId, StationRules>> {
        self.rules.read().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// Wakes the poster ([`LedgerWorker::waker`]).
#[derive(Debug)]
pub(super) struct PosterWaker {
    jobs: Weak<Mutex<Sender<Job>>>,
    woken: Arc<AtomicBool>,
}

impl PosterWaker {
    /// Asks the poster to fold what the log holds past its books, unless it was asked
    /// already and has not begun.
    pub(super) fn wake(&self) {
        if self.woken.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some(jobs) = self.jobs.upgrade() {
            let _ = jobs.lock().unwrap_or_else(PoisonError::into_inner).send(Job::Heard);
        }
    }
}

/// The thread's state.
struct Worker {
    poster: Poster,
    bookkeeper: Option<Bookkeeper>,
    /// The last event folded whose effects the store holds, as the store was last told.
    folded_stored: i64,
    progress: Arc<Progress>,
    rules: Arc<RwLock<Option<BTreeMap<StationId, StationRules>>>>,
    woken: Arc<AtomicBool>,
    folded: Arc<AtomicI64>,
    /// When the stored cursor last moved.
    cursor_written: Instant,
}

impl Worker {
    fn run(mut self, received: &Receiver<Job>) {
        let mut next = None;
        loop {
            let job = match next.take().map_or_else(|| received.recv_timeout(IDLE_FOLD), Ok) {
                Ok(job) => job,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    // Another relay on the same store (or an admin command) may have logged
                    // events: fold them too, so this relay's books and answers stay current.
                    if self.bookkeeper.is_some()
                        && let Err(error) = self.reconcile()
                    {
                        tracing::error!(%error, "folding what other relays logged failed; it tries again");
                        self.bookkeeper = None;
                    }
                    self.publish_rules();
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            };
            let mut jobs = 1;
            match job {
                Job::Logged(logged) => {
                    // The commits handed over meanwhile are folded too and stored with it,
                    // in one transaction: under load, one flush for many syncs.
                    let mut commits = vec![logged];
                    while commits.len() < MOST_FOLDED_TOGETHER
                        && let Ok(job) = received.try_recv()
                    {
                        match job {
                            Job::Logged(logged) => commits.push(logged),
                            other => {
                                next = Some(other);
                                break;
                            }
                        }
                    }
                    jobs = u64::try_from(commits.len()).unwrap_or(u64::MAX);
                    if let Err(error) = self.fold(commits) {
                        tracing::error!(%error, "reconciliation failed; it catches up at the next write");
                        self.bookkeeper = None;
                    }
                }
                Job::Reconcile(reply) => {
                    let result = self.reconcile();
                    if result.is_err() {
                        self.bookkeeper = None;
                    }
                    let _ = reply.send(result);
                }
                Job::Credits(visits, reply) => {
                    let result = self.reconcile().map(|()| {
                        let books = self.bookkeeper.as_ref().map(Bookkeeper::books);
                        visits.into_iter().filter_map(|v| Some((v.clone(), books?.credit_preview(&v)?))).collect()
                    });
                    if result.is_err() {
                        self.bookkeeper = None;
                    }
                    let _ = reply.send(result);
                }
                Job::Heard => {
                    jobs = 0;
                    self.woken.store(false, Ordering::Release);
                    if self.bookkeeper.is_some()
                        && let Err(error) = self.reconcile()
                    {
                        tracing::error!(%error, "folding what another relay logged failed; it tries again");
                        self.bookkeeper = None;
                    }
                }
            }
            self.publish_rules();
            self.progress.finished(jobs);
        }
    }

    /// Folds commits' events, in the order logged, and stores what they post together: the
    /// catch-up first if the books are not loaded (it reads them from the log like
    /// everything else).
    fn fold(&mut self, commits: Vec<Logged>) -> StoreResult<()> {
        let store = Arc::clone(&self.poster.store);
        let entries = match self.bookkeeper.as_mut() {
            Some(keeper) => {
                for Logged { records, sent, bodies } in commits {
                    keeper.fold(store.as_ref(), &records, &sent, bodies)?;
                }
                keeper.entries()
            }
            None => self.catch_up()?,
        };
        self.store_entries(entries)
    }

    fn reconcile(&mut self) -> StoreResult<()> {
        if self.bookkeeper.is_none() {
            let entries = self.catch_up()?;
            self.store_entries(entries)?;
        }
        let store = Arc::clone(&self.poster.store);
        let entries = match self.bookkeeper.as_mut() {
            Some(keeper) => {
                keeper.fold_logged(store.as_ref())?;
                keeper.entries()
            }
            None => Entries::default(),
        };
        self.store_entries(entries)
    }

    fn catch_up(&mut self) -> StoreResult<Entries> {
        let now = self.poster.clock.now().timestamp_millis();
        let (keeper, entries) = Bookkeeper::catch_up(self.poster.store.as_ref(), now)?;
        self.bookkeeper = Some(keeper);
        Ok(entries)
    }

    fn publish_rules(&self) {
        let rules = self.bookkeeper.as_ref().map(|keeper| keeper.books().all_rules().clone());
        *self.rules.write().unwrap_or_else(PoisonError::into_inner) = rules;
    }

    /// Stores the entries: the postings, and the ledger documents of the members named
    /// brought to what the books say, in one transaction; the written ledger documents
    /// become the working copies and are announced.
    fn store_entries(&mut self, entries: Entries) -> StoreResult<()> {
        let Poster { store, documents, actor, clock, changes } = &self.poster;
        let Some(keeper) = self.bookkeeper.as_mut() else { return Ok(()) };
        let folded = keeper.books().last_seq();
        if entries.is_empty() && folded <= self.folded_stored {
            return Ok(());
        }
        let now = clock.now().timestamp_millis();
        let ids: Vec<DocId> = entries.members.iter().map(|m| DocId::Ledger(m.clone())).collect();
        let mut held = Held::default();
        documents.lock(&mut held, &ids);
        documents.refresh(store.as_ref(), actor, &ids)?;
        let mut batch = WriteBatch { ledger_folded: (folded > self.folded_stored).then_some(folded), ..WriteBatch::default() };
        let mut updated = Vec::new();
        for (id, member) in ids.iter().zip(&entries.members) {
            let Some((doc, base)) = documents.get_with_base(id) else { continue };
            let change = document::update(&doc, keeper.books(), member, entries.touched.get(member), now)
                .map_err(|e| StoreError::Corrupt(format!("could not write {id}: {e}")))?;
            if let Some((chunk, doc)) = change {
                batch.chunks.push((id.to_string(), chunk));
                updated.push((id.clone(), doc, base));
            }
        }
        if entries.postings.is_empty() && batch.chunks.is_empty() {
            // What was folded stores nothing: the store holds its effects already, and
            // only the cursor would move; it moves at most every CURSOR_EVERY.
            self.folded.fetch_max(folded, Ordering::AcqRel);
            if batch.ledger_folded.is_none() || self.cursor_written.elapsed() < CURSOR_EVERY {
                return Ok(());
            }
        }
        let generations = store.append_postings(&entries.postings, &batch, now)?;
        keeper.stored();
        self.folded_stored = self.folded_stored.max(folded);
        self.folded.fetch_max(folded, Ordering::AcqRel);
        if batch.ledger_folded.is_some() {
            self.cursor_written = Instant::now();
        }
        let mut written = Vec::with_capacity(updated.len());
        for (id, doc, base) in updated {
            if let Some(&generation) = generations.get(&id.to_string()) {
                documents.adopt(store.as_ref(), &id, doc, generation, base);
                written.push(id);
            }
        }
        changes.written(written);
        Ok(())
    }
}
