//! The `timebank-relay` process killed with SIGKILL while phones sync with it over HTTP,
//! round after round, and restarted on the same data directory: after every round, every
//! change the relay had acknowledged to a phone (its acknowledged heads; every visit it
//! shows as sent) is in the relay's store; the phones resume, finally converge, and
//! nothing is stored twice.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use automerge::{Automerge, ChangeHash, ROOT, ReadDoc as _};
use chrono::Utc;
use tempfile::TempDir;
use timebank_cli::relay::HttpTransport;
use timebank_engine::documents::{fields, member};
use timebank_engine::model::{MemberId, Role, VisitId};
use timebank_engine::sync::TransportError;
use timebank_engine::{DocId, Engine, Error, PastVisit};
use timebank_server::{RelayStore as _, SqliteStore};
use timebank_testing::on_relay;

use crate::process::{RelayProcess, admin, enrolled_phone, transport};

/// Kill-and-restart rounds.
const ROUNDS: usize = 8;
/// Most visits a phone logs in one round.
const VISITS_PER_ROUND: usize = 5;
/// Most sync attempts a phone makes in one round.
const ATTEMPTS_PER_ROUND: usize = 400;

struct Phone {
    name: String,
    engine: Engine,
    dir: TempDir,
    member: MemberId,
    volunteer: bool,
    /// Visits logged on this phone.
    logged: BTreeSet<VisitId>,
}

impl std::fmt::Debug for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

impl Phone {
    fn enroll(url: &str, data: &Path, name: &str, member: &str, role: Role) -> Phone {
        let dir = tempfile::tempdir().unwrap();
        let engine = enrolled_phone(url, data, member, dir.path());
        let member = engine.identity().member.clone();
        let volunteer = role == Role::Volunteer;
        Phone { name: name.to_owned(), engine, dir, member, volunteer, logged: BTreeSet::new() }
    }

    fn transport(&self, url: &str) -> HttpTransport {
        transport(&self.engine, url)
    }

    fn log_visit(&mut self, elder: &MemberId) {
        let now = Utc::now();
        let id = self
            .engine
            .log_visit(&PastVisit {
                elder: elder.clone(),
                service: "companionship".into(),
                order: None,
                start: now - chrono::Duration::hours(3),
                end: now - chrono::Duration::hours(2),
                note: format!("from {}", self.name),
            })
            .unwrap();
        self.logged.insert(id);
    }

    /// The visits this phone shows as on the relay: "sent", or the ledger's outcome.
    fn sent(&self) -> BTreeSet<VisitId> {
        self.engine.visits().unwrap().into_iter().filter(|v| on_relay(&v.state_label)).map(|v| v.visit.id).collect()
    }

    /// The heads the relay acknowledged to this phone, per document, read from the phone's
    /// store on disk.
    fn acknowledged(&self) -> BTreeMap<String, Vec<ChangeHash>> {
        let conn = rusqlite::Connection::open_with_flags(
            self.dir.path().join(timebank_engine::storage::STORE_FILE),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        self.engine
            .document_ids()
            .into_iter()
            .map(|id| {
                let name = id.to_string();
                let heads = timebank_engine::storage::acked_heads(&conn, &name).unwrap();
                (name, heads)
            })
            .collect()
    }
}

/// What one phone did in one round.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    ok: usize,
    unreachable: usize,
}

/// Syncs (and, for a volunteer, logs visits) until told to stop.
fn keep_working(phone: &mut Phone, url: &str, elder: &MemberId, stop: &AtomicBool, synced: &AtomicUsize, mut seed: u64) -> Tally {
    let mut transport = phone.transport(url);
    let mut tally = Tally::default();
    let mut logged = 0;
    for _ in 0..ATTEMPTS_PER_ROUND {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        if phone.volunteer && logged < VISITS_PER_ROUND && !seed.is_multiple_of(3) {
            phone.log_visit(elder);
            logged += 1;
        }
        match phone.engine.sync(&mut transport) {
            Ok(_) => {
                tally.ok += 1;
                synced.fetch_add(1, Ordering::SeqCst);
            }
            Err(Error::Transport(TransportError::Unreachable(_))) => {
                tally.unreachable += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(error) => panic!("{phone:?}: {error}"),
        }
        std::thread::sleep(Duration::from_millis(seed % 5));
    }
    tally
}

/// The relay's copy of `doc`, read from its store on disk.
fn stored(store: &SqliteStore, doc: &str) -> Automerge {
    Automerge::load(&store.document(doc).unwrap().unwrap_or_else(|| panic!("no {doc} in the store")).bytes).unwrap()
}

/// Every change the relay acknowledged to a phone, and every visit a phone shows as sent,
/// is in the relay's store; no visit is there that no phone logged, none twice.
fn check_store(data: &Path, phones: &[Phone], round: usize) {
    let store = SqliteStore::open(data).unwrap();
    for phone in phones {
        for (doc, heads) in phone.acknowledged() {
            let relay_doc = stored(&store, &doc);
            let missing: Vec<&ChangeHash> = heads.iter().filter(|h| relay_doc.get_change_by_hash(h).is_none()).collect();
            assert!(missing.is_empty(), "round {round}: {phone:?}: {doc}: acknowledged changes lost: {missing:?}");
        }
    }
    let mut by_member: BTreeMap<&MemberId, (BTreeSet<VisitId>, BTreeSet<VisitId>)> = BTreeMap::new();
    for phone in phones.iter().filter(|p| p.volunteer) {
        let entry = by_member.entry(&phone.member).or_default();
        entry.0.extend(phone.logged.iter().cloned());
        entry.1.extend(phone.sent());
    }
    for (member_id, (logged, sent)) in by_member {
        let doc = stored(&store, &DocId::Member(member_id.clone()).to_string());
        let on_relay: BTreeSet<VisitId> = member::visits(&doc, member_id).into_iter().map(|v| v.id).collect();
        let records = fields::map_at(&doc, &ROOT, member::VISITS).map_or(0, |visits| doc.keys(&visits).count());
        assert_eq!(records, on_relay.len(), "round {round}: {member_id}: unreadable or doubled visit records");
        let lost: Vec<&VisitId> = sent.difference(&on_relay).collect();
        assert!(lost.is_empty(), "round {round}: {member_id}: visits shown as sent are not on the relay: {lost:?}");
        let phantom: Vec<&VisitId> = on_relay.difference(&logged).collect();
        assert!(phantom.is_empty(), "round {round}: {member_id}: visits no phone logged: {phantom:?}");
    }
}

#[test]
fn the_relay_killed_mid_sync_and_restarted_loses_nothing_it_acknowledged() {
    let data_dir = tempfile::tempdir().unwrap();
    let data = data_dir.path();
    let station = admin(data, &["station", "create", "--name", "Caoyang"])["id"].as_str().unwrap().to_owned();
    let create = |role: &str, name: &str| {
        admin(data, &["member", "create", "--station", &station, "--role", role, "--name", name, "--birth-year", "1960"])["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let li = create("volunteer", "Li Wei");
    let zhao = create("volunteer", "Zhao Min");
    let sun = create("volunteer", "Sun Li");
    let chen = create("coordinator", "Chen Jing");
    let elder = MemberId::parse(&create("elder", "Wang Fang")).unwrap();

    let mut relay = RelayProcess::start(data, None);
    let url = relay.url.clone();
    let volunteer = Role::Volunteer;
    let mut phones = vec![
        Phone::enroll(&url, data, "Li Wei's phone", &li, volunteer),
        Phone::enroll(&url, data, "Li Wei's tablet", &li, volunteer),
        Phone::enroll(&url, data, "Zhao Min's phone", &zhao, volunteer),
        Phone::enroll(&url, data, "Sun Li's phone", &sun, volunteer),
        Phone::enroll(&url, data, "Chen Jing's phone", &chen, Role::Coordinator),
    ];

    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut interrupted = 0;
    let count = phones.len();
    for round in 0..ROUNDS {
        let url = relay.url.clone();
        let port = relay.port();
        let stop = AtomicBool::new(false);
        let synced = AtomicUsize::new(0);
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let delay = Duration::from_millis(10 + (seed >> 33) % 200);
        let tallies: Vec<Tally> = std::thread::scope(|scope| {
            let workers: Vec<_> = phones
                .iter_mut()
                .enumerate()
                .map(|(i, phone)| {
                    let (url, elder, stop, synced) = (&url, &elder, &stop, &synced);
                    let phone_seed = seed ^ (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                    scope.spawn(move || keep_working(phone, url, elder, stop, synced, phone_seed | 1))
                })
                .collect();
            // Let the phones get going, then kill the relay at a moment the seed picks.
            let deadline = Instant::now() + Duration::from_secs(20);
            while synced.load(Ordering::SeqCst) < count && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
            std::thread::sleep(delay);
            relay.kill();
            stop.store(true, Ordering::SeqCst);
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        assert!(tallies.iter().map(|t| t.ok).sum::<usize>() > 0, "round {round}: no sync succeeded: {tallies:?}");
        interrupted += tallies.iter().filter(|t| t.unreachable > 0).count();
        let sent: usize = phones.iter().map(|p| p.sent().len()).sum();
        eprintln!(
            "round {round}: killed after {delay:?}; syncs (ok, unreachable) {:?}; visits shown sent {sent}",
            tallies.iter().map(|t| (t.ok, t.unreachable)).collect::<Vec<_>>()
        );
        // The relay is dead: what is on its disk is all there is.
        check_store(data, &phones, round);
        relay = RelayProcess::start(data, Some(port));
    }
    assert!(interrupted > 0, "no sync was ever cut by a kill");

    // Good times again: everyone syncs until nothing moves, and all agree with the relay.
    let url = relay.url.clone();
    let mut quiet = false;
    for _ in 0..6 {
        let mut moved = false;
        for phone in &mut phones {
            let report = phone.engine.sync(&mut phone.transport(&url)).unwrap_or_else(|e| panic!("{phone:?}: {e}"));
            moved |= report.changes_sent > 0 || report.changes_received > 0;
        }
        if !moved {
            quiet = true;
            break;
        }
    }
    assert!(quiet, "the phones never went quiet");
    check_store(data, &phones, ROUNDS);
    let store = SqliteStore::open(data).unwrap();
    for phone in &phones {
        for id in phone.engine.document_ids() {
            let mut relay_heads = stored(&store, &id.to_string()).get_heads();
            let mut phone_heads = phone.engine.heads(&id);
            relay_heads.sort();
            phone_heads.sort();
            assert_eq!(phone_heads, relay_heads, "{phone:?}: {id}");
        }
        let states: Vec<String> = phone.engine.visits().unwrap().into_iter().map(|v| v.state_label).collect();
        assert!(states.iter().all(|s| on_relay(s)), "{phone:?}: {states:?}");
    }
    // Li Wei's two devices each hold both devices' visits; every visit is there once.
    let li_id = MemberId::parse(&li).unwrap();
    let li_logged: BTreeSet<&VisitId> = phones[0].logged.union(&phones[1].logged).collect();
    let li_doc = stored(&store, &DocId::Member(li_id.clone()).to_string());
    let li_stored: BTreeSet<VisitId> = member::visits(&li_doc, &li_id).into_iter().map(|v| v.id).collect();
    assert_eq!(li_stored.iter().collect::<BTreeSet<_>>(), li_logged);
    assert_eq!(phones[0].engine.visits().unwrap().len(), li_logged.len());
    let total: usize = phones.iter().map(|p| p.logged.len()).sum();
    assert!(total >= ROUNDS, "too few visits to prove anything: {total}");
    assert!(store.security_events().unwrap().is_empty(), "{:?}", store.security_events());
    drop(store);
    relay.stop();
}
