//! The `timebank-relay` process killed with SIGKILL while phones sync with it over HTTP,
//! round after round, and restarted on the same data directory: after every round, every
//! change the relay had acknowledged to a phone (its acknowledged heads; every visit it
//! shows as sent) is in the relay's store; the phones resume, finally converge, and
//! nothing is stored twice.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use automerge::{Automerge, ChangeHash, ReadDoc as _, ROOT};
use chrono::Utc;
use serde_json::Value;
use tempfile::TempDir;
use timebank_engine::documents::{fields, member};
use timebank_engine::model::{MemberId, Role, StationId, VisitId};
use timebank_engine::sync::wire::{self, EnrollRequest, EnrollResponse};
use timebank_engine::sync::{Transport, TransportError};
use timebank_engine::{DocId, Engine, Enrollment, Error, NewIdentity, PastVisit, SystemClock};
use timebank_server::{RelayStore as _, SqliteStore};

const BIN: &str = env!("CARGO_BIN_EXE_timebank-relay");
/// Kill-and-restart rounds.
const ROUNDS: usize = 8;
/// Most visits a phone logs in one round.
const VISITS_PER_ROUND: usize = 5;
/// Most sync attempts a phone makes in one round.
const ATTEMPTS_PER_ROUND: usize = 400;

fn admin(data: &Path, args: &[&str]) -> Value {
    let output = Command::new(BIN).arg("admin").arg("--data").arg(data).args(args).arg("--json").output().unwrap();
    assert!(output.status.success(), "admin {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The relay process. SIGKILLed when dropped, if still running.
struct Process {
    child: Child,
    url: String,
}

impl Process {
    /// Starts the relay on `port` (the previous round's, so the phones' address stays
    /// the same), or on any free port.
    fn start(data: &Path, port: Option<u16>) -> Process {
        for attempt in 0..40 {
            let listen = match port {
                Some(port) if attempt < 39 => format!("127.0.0.1:{port}"),
                _ => "127.0.0.1:0".to_owned(),
            };
            let mut child = Command::new(BIN)
                .args(["--listen", &listen, "--data"])
                .arg(data)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut line = String::new();
            BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
            if let Some(url) = line.trim().strip_prefix("listening on ") {
                return Process { url: url.to_owned(), child };
            }
            // The port is not free yet: try again shortly.
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the relay did not start");
    }

    fn port(&self) -> u16 {
        self.url.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap()
    }

    /// SIGKILL: no clean shutdown, nothing flushed that was not already.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        let status = self.child.wait().unwrap();
        assert!(!status.success(), "the relay was not killed: {status}");
    }

    /// SIGTERM and a clean exit.
    fn stop(mut self) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "the relay did not stop within 10 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(20))).build().into()
}

/// The phone's HTTP transport.
struct Http {
    agent: ureq::Agent,
    url: String,
    token: String,
}

impl Transport for Http {
    fn exchange(&mut self, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        let mut response = self
            .agent
            .post(&format!("{}/v1/sync", self.url))
            .header("authorization", &format!("Bearer {}", self.token))
            .header("content-type", "application/octet-stream")
            .send(&body[..])
            .map_err(|e| TransportError::Unreachable(e.to_string()))?;
        let status = response.status().as_u16();
        let bytes = response.body_mut().read_to_vec().map_err(|e| TransportError::Unreachable(e.to_string()))?;
        if status == 200 {
            return Ok(bytes);
        }
        Err(TransportError::Refused { status, message: String::from_utf8_lossy(&bytes).into_owned() })
    }
}

struct Phone {
    name: String,
    engine: Engine,
    dir: TempDir,
    member: MemberId,
    volunteer: bool,
    token: String,
    /// Visits logged on this phone.
    logged: BTreeSet<VisitId>,
}

impl std::fmt::Debug for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

impl Phone {
    fn enroll(url: &str, data: &Path, name: &str, member: &str, station: &str, role: Role) -> Phone {
        let code = admin(data, &["enroll-code", "--member", member])["code"].as_str().unwrap().to_owned();
        let actor = timebank_engine::new_device_actor();
        let mut response = agent()
            .post(&format!("{url}/v1/enroll"))
            .send(&wire::encode(&EnrollRequest { code, actor: actor.clone() })[..])
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let enrolled: EnrollResponse = wire::decode(&response.body_mut().read_to_vec().unwrap()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let member = MemberId::parse(member).unwrap();
        let engine = Engine::create_enrolled(
            dir.path(),
            &Enrollment {
                identity: NewIdentity { member: member.clone(), station: StationId::parse(station).unwrap(), role },
                actor,
                relay: url.to_owned(),
                device: enrolled.device,
                token: enrolled.token.clone(),
            },
            Arc::new(SystemClock),
        )
        .unwrap();
        let volunteer = role == Role::Volunteer;
        Phone { name: name.to_owned(), engine, dir, member, volunteer, token: enrolled.token, logged: BTreeSet::new() }
    }

    fn transport(&self, url: &str) -> Http {
        Http { agent: agent(), url: url.to_owned(), token: self.token.clone() }
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
        self.engine
            .visits()
            .unwrap()
            .into_iter()
            .filter(|v| on_relay(&v.state_label))
            .map(|v| v.visit.id)
            .collect()
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

fn on_relay(state: &str) -> bool {
    state == "sent" || state == "approved" || state.starts_with("rejected: ") || state.starts_with("under review: ")
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

    let mut relay = Process::start(data, None);
    let url = relay.url.clone();
    let volunteer = Role::Volunteer;
    let mut phones = vec![
        Phone::enroll(&url, data, "Li Wei's phone", &li, &station, volunteer),
        Phone::enroll(&url, data, "Li Wei's tablet", &li, &station, volunteer),
        Phone::enroll(&url, data, "Zhao Min's phone", &zhao, &station, volunteer),
        Phone::enroll(&url, data, "Sun Li's phone", &sun, &station, volunteer),
        Phone::enroll(&url, data, "Chen Jing's phone", &chen, &station, Role::Coordinator),
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
        eprintln!("round {round}: killed after {delay:?}; syncs (ok, unreachable) {:?}; visits shown sent {sent}", tallies.iter().map(|t| (t.ok, t.unreachable)).collect::<Vec<_>>());
        // The relay is dead: what is on its disk is all there is.
        check_store(data, &phones, round);
        relay = Process::start(data, Some(port));
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
