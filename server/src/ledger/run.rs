//! Runs reconciliation on the relay: after each sync's batch is stored (the events the
//! sync brought join the arrival log, the books fold them, new postings and the changed
//! `ledger/<member>` documents are stored in one transaction), and at start (catch-up:
//! the books are rebuilt from the log, documents stored but never logged, because the
//! relay died between storing and posting, are logged, and whatever the store lacks is
//! posted; nothing posts twice). Also the rebuild check of `admin rebuild-ledger --check`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use automerge::{Automerge, Patch};
use timebank_engine::DocId;
use timebank_engine::model::MemberId;

use crate::ledger::collect::{self, Directory, Records};
use crate::ledger::document;
use crate::ledger::event::{Event, EventBody};
use crate::ledger::posting::{Account, Posting};
use crate::ledger::reconcile::Books;
use crate::relay::{Memory, Relay};
use crate::store::{LedgerEventRecord, NewLedgerEvent, PostingRecord, RelayStore, StoreError, StoreResult, WriteBatch};

/// The books in the relay's memory, and how many of their postings the store holds.
#[derive(Debug, Default)]
pub(crate) struct LedgerMemory {
    books: Books,
    persisted: usize,
}

impl Relay {
    /// Brings the ledger up to date with the store: at start, the catch-up (see the
    /// module docs); afterwards, whatever the arrival log holds that was not yet posted.
    pub fn reconcile_ledger(&self) -> StoreResult<()> {
        let mut memory = self.memory();
        let result = ensure(self, &mut memory).and_then(|()| reconcile_logged(self, &mut memory));
        if result.is_err() {
            memory.ledger = None;
        }
        result
    }
}

/// The events a sync's forks bring (the records its changes touched), read before the
/// forks are adopted. `diffs`: each fork's patches since its cached document, where known.
pub(crate) fn arrivals(
    store: &dyn RelayStore,
    memory: &Memory,
    forks: &BTreeMap<DocId, Automerge>,
    diffs: &HashMap<DocId, Vec<Patch>>,
) -> StoreResult<Vec<EventBody>> {
    let empty = Books::new();
    let books = memory.ledger.as_ref().map_or(&empty, |l| &l.books);
    let mut directory = Directory::new(store);
    let mut out = Vec::new();
    for id in collect::reading_order(forks.keys().cloned()) {
        let (Some(fork), Some(cached)) = (forks.get(&id), memory.docs.get(&id)) else { continue };
        // The diff the authority check made of this fork, if it made one: not diffed twice.
        let records = match diffs.get(&id) {
            Some(patches) => Records::from_patches(patches),
            None => Records::touched(fork, &cached.doc.get_heads()),
        };
        out.extend(collect::events(&id, fork, &records, &mut directory, books)?);
    }
    Ok(out)
}

/// The arrivals as events for the arrival log, to be stored in the sync's own transaction
/// ([`RelayStore::write_sync`]), if the books are loaded (otherwise the catch-up runs
/// first, in [`after_sync`], and logs them after it).
pub(crate) fn events_to_fold(memory: &Memory, arrivals: &[EventBody]) -> Option<Vec<NewLedgerEvent>> {
    memory.ledger.as_ref()?;
    new_events(arrivals).ok()
}

/// After a sync's batch is stored: logs what it brought and reconciles. A failure is
/// logged, not returned (the sync's documents are stored); the next run catches up.
pub(crate) fn after_sync(relay: &Relay, memory: &mut Memory, arrivals: &[EventBody]) {
    let result = ensure(relay, memory)
        .and_then(|()| log(relay, arrivals))
        .and_then(|_| reconcile_logged(relay, memory));
    if let Err(error) = result {
        tracing::error!(%error, "reconciliation failed; it catches up at the next sync");
        memory.ledger = None;
    }
}

fn new_events(bodies: &[EventBody]) -> StoreResult<Vec<NewLedgerEvent>> {
    bodies
        .iter()
        .map(|body| {
            let json = serde_json::to_string(body).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            Ok(NewLedgerEvent { key: body.key(), body: json })
        })
        .collect()
}

fn log(relay: &Relay, bodies: &[EventBody]) -> StoreResult<Vec<LedgerEventRecord>> {
    let events = new_events(bodies)?;
    relay.store().append_ledger_events(&events, relay.now_ms())
}

fn parse(record: &LedgerEventRecord) -> StoreResult<Event> {
    let body = serde_json::from_str(&record.body)
        .map_err(|e| StoreError::Corrupt(format!("ledger event {} cannot be read: {e}", record.seq)))?;
    Ok(Event { seq: record.seq, received_at: record.received_at, body })
}

/// The books folded from the whole arrival log: the full rebuild.
pub fn rebuild(store: &dyn RelayStore) -> StoreResult<Books> {
    let mut books = Books::new();
    for record in store.ledger_events(0)? {
        books.apply(&parse(&record)?);
    }
    Ok(books)
}

/// Loads the books if this relay has none yet: the catch-up.
fn ensure(relay: &Relay, memory: &mut Memory) -> StoreResult<()> {
    if memory.ledger.is_some() {
        return Ok(());
    }
    let store = relay.store();
    let books = rebuild(store)?;
    // Documents stored but never logged (the relay died in between): log them now, in a
    // deterministic order.
    let unlogged = scan(store, &books)?;
    log(relay, &unlogged)?;
    // Postings the store holds already are not posted again; ledger documents are brought
    // to what the books say.
    let stored: HashSet<String> = store.postings()?.into_iter().map(|p| p.key).collect();
    let records: Vec<PostingRecord> =
        books.postings().iter().filter(|p| !stored.contains(&p.key)).map(record_of).collect();
    let members: BTreeSet<MemberId> = books.members();
    let mut ledger = LedgerMemory { persisted: books.postings().len(), books };
    ledger.books.take_dirty();
    if !records.is_empty() {
        tracing::warn!(postings = records.len(), "catch-up: posting what the relay had not posted");
    }
    write(relay, memory, &ledger.books, &records, &members)?;
    memory.ledger = Some(ledger);
    Ok(())
}

/// Every event the documents hold (all records), stations, members, desks in that order.
fn scan(store: &dyn RelayStore, books: &Books) -> StoreResult<Vec<EventBody>> {
    let ids = store.document_ids()?.into_iter().filter_map(|raw| raw.parse::<DocId>().ok());
    let mut directory = Directory::new(store);
    let mut out = Vec::new();
    for id in collect::reading_order(ids) {
        let Some(stored) = store.document(&id.to_string())? else { continue };
        let doc = Automerge::load(&stored.bytes).map_err(|e| StoreError::Corrupt(format!("document {id}: {e}")))?;
        out.extend(collect::events(&id, &doc, &Records::All, &mut directory, books)?);
    }
    Ok(out)
}

/// Folds what the log holds past the books, and stores the effects.
fn reconcile_logged(relay: &Relay, memory: &mut Memory) -> StoreResult<()> {
    let Some(mut ledger) = memory.ledger.take() else { return Ok(()) };
    let result = (|| {
        for record in relay.store().ledger_events(ledger.books.last_seq())? {
            ledger.books.apply(&parse(&record)?);
        }
        let members = ledger.books.take_dirty();
        let records: Vec<PostingRecord> = ledger.books.postings()[ledger.persisted..].iter().map(record_of).collect();
        write(relay, memory, &ledger.books, &records, &members)?;
        ledger.persisted = ledger.books.postings().len();
        Ok(())
    })();
    if result.is_ok() {
        memory.ledger = Some(ledger);
    }
    result
}

/// Stores `postings` and brings the ledger documents of `members` to what `books` say, in
/// one transaction, and moves the cached documents along.
fn write(
    relay: &Relay,
    memory: &mut Memory,
    books: &Books,
    postings: &[PostingRecord],
    members: &BTreeSet<MemberId>,
) -> StoreResult<()> {
    let ids: Vec<DocId> = members.iter().map(|m| DocId::Ledger(m.clone())).collect();
    memory.refresh(relay.store(), relay.actor(), &ids)?;
    let now = relay.now_ms();
    let mut batch = WriteBatch::default();
    let mut updated = BTreeMap::new();
    for (id, member) in ids.iter().zip(members) {
        let Some(cached) = memory.docs.get(id) else { continue };
        let change = document::update(&cached.doc, books, member, now)
            .map_err(|e| StoreError::Corrupt(format!("could not write {id}: {e}")))?;
        if let Some((chunk, doc)) = change {
            batch.chunks.push((id.to_string(), chunk));
            updated.insert(id.clone(), doc);
        }
    }
    if postings.is_empty() && batch.is_empty() {
        return Ok(());
    }
    let generations = relay.store().append_postings(postings, &batch, now)?;
    for (id, doc) in updated {
        let Some(&generation) = generations.get(&id.to_string()) else { continue };
        match memory.docs.get_mut(&id) {
            Some(cached) if cached.generation + 1 == generation => {
                cached.doc = doc;
                cached.generation = generation;
                cached.chunks += 1;
            }
            _ => {
                memory.docs.remove(&id);
            }
        }
    }
    Ok(())
}

/// A posting as the store keeps it.
pub fn record_of(p: &Posting) -> PostingRecord {
    PostingRecord {
        key: p.key.clone(),
        kind: p.kind.as_str().to_owned(),
        debit: p.from.to_string(),
        credit: p.to.to_string(),
        minutes: p.minutes,
        subject: p.subject.clone(),
        memo: p.memo.clone(),
        by: p.by.as_ref().map(|m| m.to_string()),
        event: p.event,
        at: p.at,
    }
}

/// `admin rebuild-ledger --check`: rebuilds the books from the arrival log and compares
/// them with the stored postings and the ledger documents, and the documents with the
/// log. Returns every difference, in words; none means the ledger is what a rebuild gives.
pub fn rebuild_check(store: &dyn RelayStore) -> StoreResult<Vec<String>> {
    let books = rebuild(store)?;
    let mut differences = Vec::new();
    let expected: Vec<PostingRecord> = books.postings().iter().map(record_of).collect();
    let stored = store.postings()?;
    let expected_keys: HashSet<&str> = expected.iter().map(|p| p.key.as_str()).collect();
    for p in &expected {
        match stored.iter().find(|s| s.key == p.key) {
            None => differences.push(format!("posting {} ({} min {} → {}) is missing from the store", p.key, p.minutes, p.debit, p.credit)),
            Some(s) if s != p => differences.push(format!("posting {} differs: stored {s:?}, rebuilt {p:?}", p.key)),
            Some(_) => {}
        }
    }
    for p in stored.iter().filter(|p| !expected_keys.contains(p.key.as_str())) {
        differences.push(format!("posting {} is stored but the rebuild does not make it", p.key));
    }
    let mut members = books.members();
    for p in &stored {
        for account in [&p.debit, &p.credit] {
            if let Some(member) = Account::parse(account).as_ref().and_then(Account::member) {
                members.insert(member.clone());
            }
        }
    }
    for member in &members {
        let id = DocId::Ledger(member.clone());
        let Some(doc) = store.document(&id.to_string())? else {
            differences.push(format!("{id} does not exist"));
            continue;
        };
        let doc = Automerge::load(&doc.bytes).map_err(|e| StoreError::Corrupt(format!("document {id}: {e}")))?;
        if document::update(&doc, &books, member, 0).map_err(|e| StoreError::Corrupt(e.to_string()))?.is_some() {
            differences.push(format!("{id} does not show what the rebuilt ledger says (postings, outcomes or balance)"));
        }
    }
    let logged: HashSet<String> = store.ledger_events(0)?.into_iter().map(|e| e.key).collect();
    for body in scan(store, &books)? {
        if !matches!(body, EventBody::Rules { .. }) && !logged.contains(&body.key()) {
            differences.push(format!("{} is in the documents but not in the arrival log", body.key()));
        }
    }
    Ok(differences)
}
