//! The full rebuild: the books folded from the whole arrival log, every event the documents
//! hold (the catch-up's scan), and `admin rebuild-ledger --check`, which compares a rebuild
//! with the stored postings, the ledger documents and the documents themselves.

use std::collections::HashSet;
use std::sync::mpsc;

use automerge::Automerge;
use timebank_engine::DocId;

use crate::ledger::bookkeeper::read_event;
use crate::ledger::collect::{self, Directory, Records};
use crate::ledger::document;
use crate::ledger::event::{Event, EventBody};
use crate::ledger::posting::{Account, Posting};
use crate::ledger::reconcile::Books;
use crate::store::{PostingRecord, RelayStore, StoreError, StoreResult};

/// Events read and decoded per part handed to the fold.
const PART: usize = 4_096;

/// The books folded from the whole arrival log: the full rebuild. The log is read and its
/// events decoded on a second thread, a part at a time, while this one folds the parts in
/// the order they were logged: the fold itself stays one pass, in arrival order.
///
/// The rebuilt books note no changes for [`Books::take_touched`] (everything is new: its
/// callers look at every member's document); what is folded into them afterwards is noted.
pub fn rebuild(store: &dyn RelayStore) -> StoreResult<Books> {
    let mut books = Books::untracked();
    books.reserve(usize::try_from(store.ledger_progress()?.logged).unwrap_or(0));
    std::thread::scope(|scope| {
        // A few parts in flight: the reader runs ahead of the fold without holding the log.
        let (parts, decoded) = mpsc::sync_channel::<Vec<Event>>(4);
        let reader = scope.spawn(move || -> StoreResult<()> {
            let mut part = Vec::with_capacity(PART);
            store.read_ledger_log(0, &mut |logged| {
                part.push(read_event(logged)?);
                if part.len() == PART && parts.send(std::mem::replace(&mut part, Vec::with_capacity(PART))).is_err() {
                    return Err(StoreError::Backend("the rebuild's fold stopped reading the arrival log".into()));
                }
                Ok(())
            })?;
            // The fold reads until the channel closes, so this last part is always taken.
            let _ = parts.send(part);
            Ok(())
        });
        for part in decoded {
            for event in part {
                books.apply_owned(event);
            }
        }
        reader.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })?;
    books.track_changes();
    Ok(books)
}

/// Every event the documents hold (all records), stations, members, desks in that order.
pub(crate) fn scan(store: &dyn RelayStore, books: &Books) -> StoreResult<Vec<EventBody>> {
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

/// A posting as the store keeps it.
pub fn record_of(p: &Posting) -> PostingRecord {
    PostingRecord {
        key: p.key().to_string(),
        kind: p.kind.as_str().to_owned(),
        debit: p.from.to_string(),
        credit: p.to.to_string(),
        minutes: p.minutes,
        subject: p.subject.to_string(),
        memo: p.memo.to_string(),
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
            None => {
                differences.push(format!("posting {} ({} min {} → {}) is missing from the store", p.key, p.minutes, p.debit, p.credit))
            }
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
        if document::update(&doc, &books, member, None, 0).map_err(|e| StoreError::Corrupt(e.to_string()))?.is_some() {
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
