//! A unit of work on the relay's documents ([`Work`]): the one owner of the write sequence.
//! A caller holds the documents it will write (one request at a time per document), loads
//! the documents it reads, builds forks with its changes ([`Writes`]) and commits: the
//! changed documents' chunks, the arrival-log events the changes bring and the caller's
//! acknowledgements and audit entries are stored together (group commit, [`Committer`]);
//! the forks become the working copies; the ledger's poster folds the logged events, handed
//! over in memory. Requests on other documents run meanwhile.
//!
//! [`Committer`]: crate::relay::committer::Committer
//! [`Changes`]: crate::relay::Changes

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use automerge::{Automerge, Change, ChangeHash};
use timebank_engine::DocId;

use crate::footprint::Footprint;
use crate::ledger::collect::{self, Written};
use crate::ledger::{EventBody, bookkeeper};
use crate::relay::Relay;
use crate::relay::cache::{Base, Held};
use crate::store::{MemberRecord, StoreError, StoreResult, WriteBatch};

/// What a write stores: documents with its changes applied (forks of the working copies),
/// what those the caller vetted write, and the acknowledgements and audit
/// entries that go in the same transaction (their chunks are the commit's to make).
#[derive(Debug, Default)]
pub(crate) struct Writes {
    /// Each changed document: a fork of its working copy with the changes applied.
    pub forks: BTreeMap<DocId, Automerge>,
    /// What each fork's changes write, where the caller vetted them ([`Footprint`]).
    pub footprints: HashMap<DocId, Footprint>,
    /// Acknowledged heads and audit entries to store with the documents.
    pub batch: WriteBatch,
    /// Arrival-log events the write makes itself, not read out of the documents (a
    /// member's move), logged after those the changes bring.
    pub events: Vec<EventBody>,
    /// The changes a fork took as they were received, where the caller has them.
    pub taken: HashMap<DocId, Taken>,
}

/// The changes a fork took, as received, and the fork's heads once they were applied. The
/// commit stores them as its chunk when the fork still has those heads, instead of
/// encoding them again out of the fork (which walks its operations).
#[derive(Debug)]
pub(crate) struct Taken {
    heads: Vec<ChangeHash>,
    bytes: Vec<u8>,
}

impl Taken {
    /// `changes` (each once), just applied to `fork` in this order.
    pub(crate) fn of<'c>(fork: &Automerge, changes: impl IntoIterator<Item = &'c Change>) -> Taken {
        let mut seen = HashSet::new();
        let bytes = changes.into_iter().filter(|c| seen.insert(c.hash())).flat_map(|c| c.raw_bytes().iter().copied()).collect();
        Taken { heads: fork.get_heads(), bytes }
    }

    /// The chunk of `fork` after `before`: the changes as taken, if nothing else was
    /// applied since.
    fn chunk(taken: Option<Taken>, fork: &Automerge, before: &[ChangeHash]) -> Vec<u8> {
        match taken {
            Some(taken) if taken.heads == fork.get_heads() => taken.bytes,
            _ => fork.save_after(before),
        }
    }
}

/// The relay's documents, as one request reads and writes them.
#[derive(Debug)]
pub(crate) struct Work<'r> {
    relay: &'r Relay,
    held: Held,
    docs: HashMap<DocId, Arc<Automerge>>,
    /// What each copy loaded was: the base of the forks made from it.
    bases: HashMap<DocId, Base>,
    /// The heads of the copies taken out of the cache to be changed in place
    /// ([`Work::fork`]).
    lent: HashMap<DocId, Vec<ChangeHash>>,
    /// Members the caller read for this request (the syncing device's), not read again.
    known: Vec<MemberRecord>,
}

impl<'r> Work<'r> {
    pub(super) fn new(relay: &'r Relay) -> Self {
        Work { relay, held: Held::default(), docs: HashMap::new(), bases: HashMap::new(), lent: HashMap::new(), known: Vec::new() }
    }

    /// Tells the work that `member` is as the caller read it for this request (the
    /// syncing device's member, read when its token was checked), so the events its
    /// changes bring are collected without reading it again.
    pub(crate) fn knowing(&mut self, member: &MemberRecord) {
        self.known.push(member.clone());
    }

    /// Holds `ids` for writing: waits until no other request writes them. Call it before
    /// loading them, so the copies loaded are the ones written on.
    pub(crate) fn hold(&mut self, ids: &[DocId]) {
        self.relay.documents.lock(&mut self.held, ids);
    }

    /// Loads (or refreshes) the working copies of `ids`, as they are now; those the store
    /// lacks stay absent.
    pub(crate) fn load(&mut self, ids: &[DocId]) -> StoreResult<()> {
        let documents = &self.relay.documents;
        documents.refresh(self.relay.store(), self.relay.actor(), ids)?;
        for id in ids {
            match documents.get_with_base(id) {
                Some((doc, base)) => {
                    self.docs.insert(id.clone(), doc);
                    self.bases.insert(id.clone(), base);
                }
                None => {
                    self.docs.remove(id);
                    self.bases.remove(id);
                }
            }
        }
        Ok(())
    }

    /// The copy of `id` as loaded, if the store holds it (and it was not forked in place).
    pub(crate) fn doc(&self, id: &DocId) -> Option<&Automerge> {
        self.docs.get(id).map(Arc::as_ref)
    }

    /// A fork of the copy of `id`, to apply changes to and hand to [`Work::commit`]. A
    /// document this request holds that no reader shares is taken itself, not copied (a
    /// copy and the drop of the one it replaces were a tenth of the relay's CPU per sync):
    /// from then on [`Work::doc`] no longer gives it, and if the fork is not committed the
    /// document is loaded again from the store when next read.
    pub(crate) fn fork(&mut self, id: &DocId) -> Option<Automerge> {
        if !self.held.holds(id) {
            return self.doc(id).cloned();
        }
        let mine = self.docs.remove(id)?;
        match self.relay.documents.take(id, mine) {
            Ok(doc) => {
                self.lent.insert(id.clone(), doc.get_heads());
                Some(doc)
            }
            Err(mine) => {
                let fork = Automerge::clone(&mine);
                self.docs.insert(id.clone(), mine);
                Some(fork)
            }
        }
    }

    /// Stores `writes` and what follows from them: the chunk of every fork that changed,
    /// the arrival-log events those changes bring, and the batch's acknowledgements and
    /// audit entries, durable together (with other requests' writes: group commit); then
    /// the forks become the working copies, the ledger's poster folds the events, and the
    /// documents written are announced ([`Relay::changes`]).
    /// Returns the new generation of each document written. Every fork must be of a
    /// document held ([`Work::hold`]).
    pub(crate) fn commit(&mut self, writes: Writes) -> StoreResult<HashMap<String, i64>> {
        let relay = self.relay;
        let store = relay.store();
        let now = relay.now_ms();
        let Writes { mut forks, footprints, mut batch, events: made, mut taken } = writes;
        if let Some(id) = forks.keys().find(|id| !self.held.holds(id)) {
            return Err(StoreError::Backend(format!("{id} was written without being held; nothing was stored")));
        }
        let mut befores: HashMap<DocId, Vec<ChangeHash>> = HashMap::new();
        for (id, fork) in std::mem::take(&mut forks) {
            let before = match (self.lent.get(&id), self.docs.get(&id)) {
                (Some(heads), _) => heads.clone(),
                (None, Some(cached)) => cached.get_heads(),
                (None, None) => continue,
            };
            if fork.get_heads() == before {
                if let (Some(_), Some(&base)) = (self.lent.remove(&id), self.bases.get(&id)) {
                    relay.documents.put_back(&id, fork, base);
                }
                continue;
            }
            batch.chunks.push((id.to_string(), Taken::chunk(taken.remove(&id), &fork, &before)));
            befores.insert(id.clone(), before);
            forks.insert(id, fork);
        }
        let written: Vec<Written<'_>> = forks
            .iter()
            .filter_map(|(id, after)| Some(Written { id, before: befores.get(id)?, after, footprint: footprints.get(id) }))
            .collect();
        let rules = relay.current_rules();
        let mut arrivals = collect::arrivals(store, &rules, &written, &self.known)?;
        arrivals.extend(made);
        drop(written);
        let events = bookkeeper::to_log(&arrivals);
        let (generations, _) = relay.committer.commit(store, &relay.ledger, batch, events, arrivals, now)?;
        let mut written = Vec::with_capacity(forks.len());
        for (id, fork) in forks {
            if let Some(&generation) = generations.get(&id.to_string()) {
                if let Some(&base) = self.bases.get(&id) {
                    relay.documents.adopt(store, &id, fork, generation, base);
                }
                written.push(id);
            }
        }
        relay.changes.written(written);
        Ok(generations)
    }
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable as _;
    use automerge::{AutoCommit, ROOT, ReadDoc as _};
    use timebank_engine::documents::station;

    use super::*;

    /// A phone's document with `visits` changes on top of `relay`'s, and those changes.
    fn pushed(relay: &Automerge, visits: usize) -> Vec<Change> {
        let mut phone = AutoCommit::load(&relay.save()).unwrap().with_actor(automerge::ActorId::random());
        let base = phone.get_heads();
        for n in 0..visits {
            phone.put(ROOT, format!("v-{n}"), "tea").unwrap();
            phone.commit();
        }
        phone.get_changes(&base).into_iter().collect()
    }

    /// The chunk stored from the changes as received is the one the fork would encode, and
    /// loads into the same document; a change received twice is stored once.
    #[test]
    fn changes_taken_are_stored_as_received() {
        let relay = Automerge::new();
        let changes = pushed(&relay, 3);
        let mut fork = relay.clone();
        fork.apply_changes(changes.clone()).unwrap();
        let twice: Vec<&Change> = changes.iter().chain(&changes[..1]).collect();
        let taken = Taken::of(&fork, twice);

        let chunk = Taken::chunk(Some(taken), &fork, &relay.get_heads());
        assert_eq!(chunk, fork.save_after(&relay.get_heads()));
        let mut loaded = relay.clone();
        loaded.load_incremental(&chunk).unwrap();
        assert_eq!(loaded.get_heads(), fork.get_heads());
    }

    /// A relay on a fresh SQLite store in `dir`, holding one station document named
    /// "Caoyang".
    fn relay_with_station(dir: &std::path::Path) -> (Relay, DocId) {
        use crate::store::{DEFAULT_DISTRICT, NewDocument, SqliteStore, StationRecord};
        use timebank_engine::model::{DistrictId, StationId};
        let relay =
            Relay::new(std::sync::Arc::new(SqliteStore::open(dir).unwrap()), std::sync::Arc::new(timebank_engine::SystemClock))
                .unwrap();
        let id = StationId::parse("s-fork").unwrap();
        let mut doc = Automerge::new();
        doc.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(ROOT, "name", "Caoyang")).unwrap();
        let district = DistrictId::parse(DEFAULT_DISTRICT).unwrap();
        let record = StationRecord { id: id.clone(), name: "Caoyang".into(), district, created_at: 1 };
        relay.store().create_station(&record, &[NewDocument { id: format!("station/{id}"), snapshot: doc.save() }]).unwrap();
        (relay, DocId::Station(id))
    }

    /// Renames the station through `fork`, committing it unless `commit` is false.
    fn rename(relay: &Relay, id: &DocId, name: &str, commit: bool) {
        let mut work = relay.work();
        work.hold(std::slice::from_ref(id));
        work.load(std::slice::from_ref(id)).unwrap();
        let mut fork = work.fork(id).unwrap();
        fork.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(ROOT, "name", name)).unwrap();
        if commit {
            work.commit(Writes { forks: [(id.clone(), fork)].into(), ..Writes::default() }).unwrap();
        }
    }

    /// The station's name as a new request reads it.
    fn name(relay: &Relay, id: &DocId) -> String {
        let mut work = relay.work();
        work.load(std::slice::from_ref(id)).unwrap();
        station::name(work.doc(id).unwrap()).unwrap()
    }

    /// A document no reader shares is written in place, and its next readers see the
    /// write; a fork dropped uncommitted leaves readers the stored document, not the
    /// changed copy.
    #[test]
    fn a_document_forked_in_place_is_the_copy_after_its_commit_and_the_store_without_it() {
        let dir = tempfile::tempdir().unwrap();
        let (relay, id) = relay_with_station(dir.path());
        assert_eq!(name(&relay, &id), "Caoyang");

        rename(&relay, &id, "Caoyang Xincun", true);
        assert_eq!(name(&relay, &id), "Caoyang Xincun");

        rename(&relay, &id, "never stored", false);
        assert!(relay.documents.get(&id).is_none(), "the changed copy was not put back");
        assert_eq!(name(&relay, &id), "Caoyang Xincun", "loaded again from the store");
    }

    /// A document a reader still holds is copied: the reader's copy does not change under
    /// it, and the write lands all the same.
    #[test]
    fn a_document_a_reader_holds_is_copied_not_changed_under_it() {
        let dir = tempfile::tempdir().unwrap();
        let (relay, id) = relay_with_station(dir.path());
        assert_eq!(name(&relay, &id), "Caoyang");
        let reader = relay.documents.get(&id).unwrap();

        rename(&relay, &id, "Caoyang Xincun", true);
        assert_eq!(station::name(reader.as_ref()).as_deref(), Some("Caoyang"));
        assert_eq!(name(&relay, &id), "Caoyang Xincun");
    }

    /// A write another relay stored while this one wrote a fork (and that a reader here
    /// loaded meanwhile) is not hidden by adopting the fork: the copy is loaded again and
    /// holds both writes.
    #[test]
    fn a_fork_is_not_adopted_over_a_write_that_came_between() {
        let dir = tempfile::tempdir().unwrap();
        let (relay, id) = relay_with_station(dir.path());
        let other = Relay::new(
            std::sync::Arc::new(crate::store::SqliteStore::open(dir.path()).unwrap()),
            std::sync::Arc::new(timebank_engine::SystemClock),
        )
        .unwrap();
        assert_eq!(name(&relay, &id), "Caoyang");
        let mut work = relay.work();
        work.hold(std::slice::from_ref(&id));
        work.load(std::slice::from_ref(&id)).unwrap();
        let mut fork = work.fork(&id).unwrap();
        fork.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(ROOT, "name", "Caoyang Xincun")).unwrap();

        let mut theirs = other.work();
        theirs.hold(std::slice::from_ref(&id));
        theirs.load(std::slice::from_ref(&id)).unwrap();
        let mut their_fork = theirs.fork(&id).unwrap();
        their_fork.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(ROOT, "motto", "neighbours first")).unwrap();
        theirs.commit(Writes { forks: [(id.clone(), their_fork)].into(), ..Writes::default() }).unwrap();
        drop(theirs);
        assert_eq!(name(&relay, &id), "Caoyang", "a reader here loads the other relay's write");

        work.commit(Writes { forks: [(id.clone(), fork)].into(), ..Writes::default() }).unwrap();
        drop(work);
        let mut reader = relay.work();
        reader.load(std::slice::from_ref(&id)).unwrap();
        let doc = reader.doc(&id).unwrap();
        assert_eq!(station::name(doc).as_deref(), Some("Caoyang Xincun"));
        let motto = doc.get(ROOT, "motto").unwrap().map(|(value, _)| value.to_string());
        assert_eq!(motto.as_deref(), Some("\"neighbours first\""), "the other relay's write is not lost from the copy");
    }

    /// A fork taken in place and committed with nothing new is put back as it was.
    #[test]
    fn a_fork_left_unchanged_is_put_back() {
        let dir = tempfile::tempdir().unwrap();
        let (relay, id) = relay_with_station(dir.path());
        assert_eq!(name(&relay, &id), "Caoyang");
        let mut work = relay.work();
        work.hold(std::slice::from_ref(&id));
        work.load(std::slice::from_ref(&id)).unwrap();
        let fork = work.fork(&id).unwrap();
        assert!(relay.documents.get(&id).is_none(), "taken out while it is written");
        work.commit(Writes { forks: [(id.clone(), fork)].into(), ..Writes::default() }).unwrap();
        assert!(relay.documents.get(&id).is_some(), "put back without a load");
    }

    /// A fork changed after its changes were taken is encoded again: nothing it holds is
    /// left out of the chunk.
    #[test]
    fn a_fork_changed_since_is_encoded_again() {
        let relay = Automerge::new();
        let mut fork = relay.clone();
        fork.apply_changes(pushed(&relay, 1)).unwrap();
        let taken = Taken::of(&fork, &fork.get_changes(&relay.get_heads()));
        let mut later = fork.clone();
        later.apply_changes(pushed(&fork, 1)).unwrap();

        let chunk = Taken::chunk(Some(taken), &later, &relay.get_heads());
        let mut loaded = relay.clone();
        loaded.load_incremental(&chunk).unwrap();
        assert_eq!(loaded.get_heads(), later.get_heads());
    }
}
