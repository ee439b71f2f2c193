//! What a relay hears of the documents every process on its store writes (PostgreSQL's
//! LISTEN/NOTIFY, [`RelayStore::subscribe_changes`]; nothing on SQLite, where one process
//! writes): a thread brings the working copies another process wrote up to date, off the
//! requests' path, and wakes the poster to fold what that process logged. The generation
//! check before every use still decides what a request reads (a notification can come
//! late, or be lost with its connection); hearing makes a stale copy rarer, and another
//! relay's ledger outcomes reach this relay's books without waiting for the idle fold.

use std::collections::BTreeSet;
use std::sync::{Arc, Weak};

use automerge::ActorId;
use timebank_engine::DocId;

use crate::relay::cache::DocumentCache;
use crate::relay::ledger::PosterWaker;
use crate::store::RelayStore;

/// Starts hearing, if the store can tell; the relay serves without it (warned) when it
/// cannot listen. The thread ends with the store.
pub(super) fn start(store: &Arc<dyn RelayStore>, documents: &Arc<DocumentCache>, actor: &ActorId, poster: PosterWaker) {
    let mut changes = match store.subscribe_changes() {
        Ok(Some(changes)) => changes,
        Ok(None) => return,
        Err(error) => {
            tracing::warn!(%error, "cannot hear other relays' writes; requests check every copy anyway");
            return;
        }
    };
    // Weak: the thread must not keep the store (and so its own channel) alive.
    let store: Weak<dyn RelayStore> = Arc::downgrade(store);
    let (documents, actor) = (Arc::clone(documents), actor.clone());
    let spawned = std::thread::Builder::new().name("heard".into()).spawn(move || {
        while let Some(first) = changes.blocking_recv() {
            // Whatever else was heard meanwhile is handled with it: one query for all.
            let mut names = BTreeSet::from([first]);
            while let Ok(more) = changes.try_recv() {
                names.insert(more);
            }
            let Some(store) = store.upgrade() else { return };
            let ids: Vec<DocId> = names.iter().filter_map(|name| name.parse().ok()).collect();
            match documents.heard(store.as_ref(), &actor, &ids) {
                Ok(false) => {}
                Ok(true) => poster.wake(),
                Err(error) => tracing::warn!(%error, "could not refresh what another relay wrote; requests check it anyway"),
            }
        }
    });
    if let Err(error) = spawned {
        tracing::warn!(%error, "could not start hearing other relays' writes; requests check every copy anyway");
    }
}

/// On a real PostgreSQL (the name puts them in the postgres suite, scripts/test-all.sh).
#[cfg(test)]
mod postgres {
    use std::time::{Duration, Instant};

    use automerge::transaction::Transactable;
    use automerge::{Automerge, AutomergeError, ROOT};
    use timebank_engine::SystemClock;
    use timebank_engine::documents::station;
    use timebank_engine::model::{DistrictId, StationId};
    use timebank_testing::postgres::TestDatabase;

    use super::*;
    use crate::relay::{Relay, Writes};
    use crate::store::{DEFAULT_DISTRICT, NewDocument, PgSettings, PgStore, StationRecord};

    fn relay_on(database: &TestDatabase) -> Relay {
        let store: Arc<dyn RelayStore> = Arc::new(PgStore::open(&PgSettings::new(database.url())).unwrap());
        Relay::new(store, Arc::new(SystemClock)).unwrap()
    }

    /// A station whose document holds only its name.
    fn station_on(relay: &Relay) -> DocId {
        let id = StationId::parse("s-heard").unwrap();
        let mut doc = Automerge::new();
        doc.transact::<_, _, AutomergeError>(|tx| tx.put(ROOT, "name", "Caoyang")).unwrap();
        let district = DistrictId::parse(DEFAULT_DISTRICT).unwrap();
        let record = StationRecord { id: id.clone(), name: "Caoyang".into(), district, created_at: 1 };
        relay.store().create_station(&record, &[NewDocument { id: format!("station/{id}"), snapshot: doc.save() }]).unwrap();
        DocId::Station(id)
    }

    /// Renames the station of `id` through `relay`'s write path.
    fn rename(relay: &Relay, id: &DocId, name: &str) {
        let mut work = relay.work();
        work.hold(std::slice::from_ref(id));
        work.load(std::slice::from_ref(id)).unwrap();
        let mut fork = work.doc(id).unwrap().clone();
        let mut tx = fork.transaction();
        tx.put(ROOT, "name", name).unwrap();
        tx.commit();
        work.commit(Writes { forks: [(id.clone(), fork)].into(), ..Writes::default() }).unwrap();
    }

    /// The name in `relay`'s working copy of `id`, as it holds it now (no refresh).
    fn cached_name(relay: &Relay, id: &DocId) -> Option<String> {
        relay.documents.get(id).and_then(|doc| station::name(doc.as_ref()))
    }

    #[test]
    fn a_copy_another_relay_writes_is_brought_up_to_date_without_a_request() {
        let Some(database) = TestDatabase::create("heard") else { return };
        let (first, second) = (relay_on(&database), relay_on(&database));
        let id = station_on(&first);
        second.documents(std::slice::from_ref(&id)).unwrap();
        assert_eq!(cached_name(&second, &id).as_deref(), Some("Caoyang"));

        rename(&first, &id, "Caoyang Xincun");
        let deadline = Instant::now() + Duration::from_secs(5);
        while cached_name(&second, &id).as_deref() != Some("Caoyang Xincun") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(cached_name(&second, &id).as_deref(), Some("Caoyang Xincun"), "heard, and loaded again");

        // Its own write is heard too, while it still holds the document: the copy it
        // adopts stays, not dropped nor loaded again.
        rename(&second, &id, "Caoyang");
        let adopted = second.documents.get(&id).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let now = second.documents.get(&id).unwrap();
        assert!(Arc::ptr_eq(&adopted, &now), "the copy a relay wrote is kept");
        assert_eq!(cached_name(&second, &id).as_deref(), Some("Caoyang"));
    }
}
