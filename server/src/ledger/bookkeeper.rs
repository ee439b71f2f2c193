//! The books a relay keeps in memory between writes ([`Bookkeeper`]): loaded once by the
//! catch-up (the books rebuilt from the arrival log, documents stored but never logged
//! logged now, whatever the store lacks posted), then fed the events each write logs,
//! handed over in memory. It says what to store ([`Entries`]); the relay stores it.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;

use timebank_engine::model::MemberId;

use crate::ledger::event::{Event, EventBody};
use crate::ledger::posting::Posting;
use crate::ledger::rebuild::{rebuild, record_of, scan};
use crate::ledger::reconcile::{Books, Touched};
use crate::store::{LedgerEventRecord, LoggedEvent, Millis, NewLedgerEvent, PostingRecord, RelayStore, StoreError, StoreResult};

/// The books, and how many of their postings the store holds.
#[derive(Debug, Default)]
pub struct Bookkeeper {
    books: Books,
    stored: usize,
}

/// What a fold asks the relay to store: new postings, and the members whose
/// `ledger/<member>` documents must be brought to what the books say.
#[derive(Debug, Default)]
pub struct Entries {
    /// Postings the store does not hold yet, in the order posted.
    pub postings: Vec<PostingRecord>,
    /// Members whose ledger documents may differ from the books.
    pub members: BTreeSet<MemberId>,
    /// Of those, the members for whom the books know what changed since their document was
    /// last brought up to date: only those entries are compared. The others (the catch-up's)
    /// are compared whole.
    pub touched: BTreeMap<MemberId, Touched>,
}

impl Entries {
    /// True when there is nothing to store.
    pub fn is_empty(&self) -> bool {
        self.postings.is_empty() && self.members.is_empty()
    }
}

impl Bookkeeper {
    /// The catch-up, at a relay's first write or reconciliation: the books rebuilt from the
    /// whole arrival log, the records that documents hold but the log lacks (the relay died
    /// between storing a sync and logging it) logged now in a deterministic order and
    /// folded, and, as entries, the postings the store lacks and every member with a ledger.
    pub fn catch_up(store: &dyn RelayStore, now: Millis) -> StoreResult<(Bookkeeper, Entries)> {
        let mut books = rebuild(store)?;
        let unlogged = scan(store, &books)?;
        for record in store.append_ledger_events(&to_log(&unlogged), now)? {
            books.apply(&event_of(&record)?);
        }
        books.take_dirty();
        let stored: HashSet<String> = store.postings()?.into_iter().map(|p| p.key).collect();
        // Each posting's key written into one buffer (a district-year has a million).
        let mut key = String::new();
        let mut posted = |p: &&Posting| {
            key.clear();
            let _ = write!(key, "{}", p.key());
            stored.contains(&key)
        };
        let postings: Vec<PostingRecord> = books.postings().iter().filter(|p| !posted(p)).map(record_of).collect();
        if !postings.is_empty() {
            tracing::warn!(postings = postings.len(), "catch-up: posting what the relay had not posted");
        }
        let members = books.members();
        Ok((Bookkeeper { stored: books.postings().len(), books }, Entries { postings, members, touched: BTreeMap::new() }))
    }

    /// The books.
    pub fn books(&self) -> &Books {
        &self.books
    }

    /// Folds the events a write just logged, handed over as written (`logged` from the
    /// store; `sent` what the write asked to log, with each key as it computed it, and
    /// `bodies` the events themselves, in the same order), so nothing is read back, parsed
    /// or keyed (a digest) again, and no event is copied.
    /// When the log holds events between the books and these (another process logged
    /// some), those are read from the store first: nothing is skipped. What to store
    /// gathers in the books until [`Bookkeeper::entries`] takes it: several writes' folds
    /// may be stored together.
    pub fn fold(
        &mut self,
        store: &dyn RelayStore,
        logged: &[LedgerEventRecord],
        sent: &[NewLedgerEvent],
        bodies: Vec<EventBody>,
    ) -> StoreResult<()> {
        let contiguous = logged.first().is_none_or(|first| first.seq == self.books.last_seq() + 1);
        if !contiguous || sent.len() != bodies.len() {
            return self.fold_logged(store);
        }
        // Found by key: the store logs only the events whose key it did not hold.
        let by_key: HashMap<&str, usize> = sent.iter().enumerate().map(|(i, event)| (event.key.as_str(), i)).collect();
        let mut bodies: Vec<Option<EventBody>> = bodies.into_iter().map(Some).collect();
        for record in logged {
            let Some(body) = by_key.get(record.key.as_str()).and_then(|&i| bodies[i].take()) else {
                return self.fold_logged(store);
            };
            self.books.apply_owned(Event { seq: record.seq, received_at: record.received_at, body });
        }
        Ok(())
    }

    /// Folds whatever the log holds past the books (written by another process).
    pub fn fold_logged(&mut self, store: &dyn RelayStore) -> StoreResult<()> {
        for record in store.ledger_events(self.books.last_seq())? {
            self.books.apply(&event_of(&record)?);
        }
        Ok(())
    }

    /// Marks the entries last returned as stored.
    pub fn stored(&mut self) {
        self.stored = self.books.postings().len();
    }

    /// What the folds since the last entries stored ask to store.
    pub fn entries(&mut self) -> Entries {
        let touched = self.books.take_touched();
        let postings = self.books.postings()[self.stored..].iter().map(record_of).collect();
        Entries { postings, members: touched.keys().cloned().collect(), touched }
    }
}

/// `bodies` as the arrival log stores them.
pub fn to_log(bodies: &[EventBody]) -> Vec<NewLedgerEvent> {
    bodies.iter().map(|body| NewLedgerEvent { key: body.key(), body: body.encode() }).collect()
}

/// A stored event, read.
pub fn event_of(record: &LedgerEventRecord) -> StoreResult<Event> {
    read_event(LoggedEvent { seq: record.seq, body: &record.body, received_at: record.received_at })
}

/// A stored event, read where the store hands it over ([`RelayStore::read_ledger_log`]).
pub fn read_event(logged: LoggedEvent<'_>) -> StoreResult<Event> {
    let body =
        EventBody::decode(logged.body).map_err(|e| StoreError::Corrupt(format!("ledger event {} cannot be read: {e}", logged.seq)))?;
    Ok(Event { seq: logged.seq, received_at: logged.received_at, body })
}
