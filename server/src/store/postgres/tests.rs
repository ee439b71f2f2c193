//! The PostgreSQL store against a real server (`scripts/postgres.sh`): the store suite,
//! the schema's versions, settings, and several stores on one database at once (as
//! several relays are).

use std::collections::BTreeSet;
use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use timebank_testing::postgres::TestDatabase;

use super::*;
use crate::store::suite;

/// A store on a database of its own, dropped before the database is.
struct Fresh {
    store: PgStore,
    database: TestDatabase,
}

impl Deref for Fresh {
    type Target = PgStore;
    fn deref(&self) -> &PgStore {
        &self.store
    }
}

fn fresh(label: &str) -> Option<Fresh> {
    let database = TestDatabase::create(label)?;
    let store = PgStore::open(&PgSettings::new(database.url())).unwrap();
    Some(Fresh { store, database })
}

/// Another store (another relay) on `fresh`'s database.
fn beside(fresh: &Fresh) -> PgStore {
    PgStore::open(&PgSettings::new(fresh.database.url())).unwrap()
}

crate::relay_store_suite!(optional |_dir: &Path| fresh("suite"));

fn table_names(database: &TestDatabase) -> Vec<String> {
    database
        .query("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")
        .unwrap()
        .into_iter()
        .filter_map(|row| row.into_iter().next().flatten())
        .collect()
}

fn one_value(database: &TestDatabase, sql: &str) -> Option<String> {
    database.query(sql).unwrap().into_iter().next().and_then(|row| row.into_iter().next().flatten())
}

#[test]
fn version_1_creates_every_table_and_the_database_enforces_its_rules() {
    let Some(database) = TestDatabase::create("v1") else { return };
    let store = PgStore::connect(&PgSettings::new(database.url())).unwrap();
    store.migrate(1).unwrap();
    assert_eq!(one_value(&database, "SELECT max(version) FROM schema_version").as_deref(), Some("1"));
    assert_eq!(
        table_names(&database),
        [
            "chunks",
            "console_audit",
            "console_login_failures",
            "console_sessions",
            "console_users",
            "device_usage",
            "devices",
            "document_versions",
            "documents",
            "enrollment_codes",
            "ledger_events",
            "ledger_state",
            "member_contacts",
            "members",
            "postings",
            "relay_actors",
            "relay_meta",
            "schema_version",
            "security_events",
            "stations",
            "sync_state"
        ]
    );
    let refused = |sql: &str| database.query(sql).err().unwrap_or_else(|| panic!("the database took: {sql}"));
    // A member needs its station; a device's actor and token hash are unique.
    refused("INSERT INTO members (id, station, role, display_name, created_at) VALUES ('m-1', 's-x', 'volunteer', 'A', 0)");
    database
        .query(
            "INSERT INTO stations (id, name, created_at) VALUES ('s-1', 'S', 0);
             INSERT INTO members (id, station, role, display_name, created_at) VALUES ('m-1', 's-1', 'volunteer', 'A', 0);
             INSERT INTO devices (id, member, actor, token_hash, created_at) VALUES ('d-1', 'm-1', 'aa', '\\x01', 0)",
        )
        .unwrap();
    refused("INSERT INTO devices (id, member, actor, token_hash, created_at) VALUES ('d-2', 'm-1', 'aa', '\\x02', 0)");
    refused("INSERT INTO devices (id, member, actor, token_hash, created_at) VALUES ('d-2', 'm-1', 'bb', '\\x01', 0)");
    // The arrival log, the postings and the audit trail only grow.
    database
        .query(
            "INSERT INTO ledger_events (key, body, received_at) VALUES ('visit:v-1@00', '{}', 5);
             INSERT INTO postings (key, kind, debit, credit, minutes, subject, memo, event_seq, posted_at)
                 SELECT 'earn:v-1:r1', 'earn', 'program', 'member:m-1', 60, 'v-1', '', seq, 5 FROM ledger_events;
             INSERT INTO console_audit (at, username, action, target, detail) VALUES (1, 'a', 'x', 'y', '')",
        )
        .unwrap();
    refused("INSERT INTO ledger_events (key, body, received_at) VALUES ('visit:v-1@00', '{}', 6)");
    refused(
        "INSERT INTO postings (key, kind, debit, credit, minutes, subject, memo, event_seq, posted_at) SELECT 'earn:v-1:r1', 'earn', 'program', 'member:m-1', 60, 'v-1', '', seq, 5 FROM ledger_events",
    );
    refused(
        "INSERT INTO postings (key, kind, debit, credit, minutes, subject, memo, event_seq, posted_at) SELECT 'earn:v-2:r1', 'earn', 'program', 'member:m-1', 0, 'v-2', '', seq, 5 FROM ledger_events",
    );
    for (table, column) in [("ledger_events", "received_at"), ("postings", "minutes"), ("console_audit", "at")] {
        let update = refused(&format!("UPDATE {table} SET {column} = 1"));
        assert!(update.contains("append-only"), "{table}: {update}");
        assert!(refused(&format!("DELETE FROM {table}")).contains("append-only"), "{table}");
        assert!(refused(&format!("TRUNCATE {table} CASCADE")).contains("append-only"), "{table}");
    }
    assert_eq!(one_value(&database, "SELECT minutes FROM postings").as_deref(), Some("60"));
    // A coordinator's account belongs to a station; the district's to none.
    refused("INSERT INTO console_users (username, password_hash, role, created_at) VALUES ('b', 'h', 'coordinator', 0)");
    refused("INSERT INTO console_users (username, password_hash, role, station, created_at) VALUES ('c', 'h', 'district', 's-1', 0)");
    refused("INSERT INTO console_users (username, password_hash, role, created_at) VALUES ('e', 'h', 'admin', 0)");
    drop(store);
}

fn default_district() -> DistrictId {
    DistrictId::parse(crate::store::DEFAULT_DISTRICT).unwrap()
}

#[test]
fn version_2_puts_every_station_in_the_default_district_and_keeps_every_account_and_session() {
    let Some(database) = TestDatabase::create("v2") else { return };
    let store = PgStore::connect(&PgSettings::new(database.url())).unwrap();
    store.migrate(1).unwrap();
    database
        .query(
            "INSERT INTO stations (id, name, created_at) VALUES ('s-1', 'S', 0), ('s-2', 'T', 0);
             INSERT INTO members (id, station, role, display_name, created_at) VALUES ('m-1', 's-1', 'coordinator', 'Li', 0);
             INSERT INTO console_users (username, password_hash, role, station, member, created_at) VALUES ('li', 'h1', 'coordinator', 's-1', 'm-1', 5);
             INSERT INTO console_users (username, password_hash, role, created_at) VALUES ('qu', 'h2', 'district', 6);
             INSERT INTO console_sessions (token_hash, username, csrf, created_at, last_seen) VALUES ('\\x01', 'li', 'c', 1, 1)",
        )
        .unwrap();
    store.migrate(2).unwrap();
    assert_eq!(one_value(&database, "SELECT max(version) FROM schema_version").as_deref(), Some("2"));
    assert_eq!(
        one_value(&database, "SELECT string_agg(station || '=' || district, ',' ORDER BY station) FROM station_districts").as_deref(),
        Some("s-1=q-default,s-2=q-default")
    );
    assert_eq!(
        one_value(
            &database,
            "SELECT string_agg(username || ':' || role || ':' || coalesce(district, '-'), ',' ORDER BY username) FROM console_users"
        )
        .as_deref(),
        Some("li:coordinator:-,qu:district:q-default"),
        "the district account reads the default district"
    );
    assert_eq!(one_value(&database, "SELECT count(*) FROM console_sessions").as_deref(), Some("1"), "sessions stay");
    let refused = |sql: &str| database.query(sql).err().unwrap_or_else(|| panic!("the database took: {sql}"));
    database.query("INSERT INTO console_users (username, password_hash, role, created_at) VALUES ('city', 'h', 'city', 0)").unwrap();
    refused("INSERT INTO console_users (username, password_hash, role, created_at) VALUES ('a', 'h', 'district', 0)");
    refused(
        "INSERT INTO console_users (username, password_hash, role, district, created_at) VALUES ('b', 'h', 'district', 'q-none', 0)",
    );
    refused("INSERT INTO console_users (username, password_hash, role, station, created_at) VALUES ('c', 'h', 'city', 's-1', 0)");
    refused(
        "INSERT INTO console_users (username, password_hash, role, station, district, created_at) VALUES ('d', 'h', 'coordinator', 's-1', 'q-default', 0)",
    );
    refused("INSERT INTO console_users (username, password_hash, role, created_at) VALUES ('e', 'h', 'admin', 0)");
    refused("INSERT INTO station_districts (station, district) VALUES ('s-none', 'q-default')");
    drop(store);
}

#[test]
fn version_3_adds_an_address_and_keeps_the_contacts() {
    let Some(database) = TestDatabase::create("v3") else { return };
    let store = PgStore::connect(&PgSettings::new(database.url())).unwrap();
    store.migrate(2).unwrap();
    database
        .query(
            "INSERT INTO stations (id, name, created_at) VALUES ('s-1', 'S', 0);
             INSERT INTO members (id, station, role, display_name, created_at) VALUES ('m-1', 's-1', 'elder', 'W', 0);
             INSERT INTO member_contacts (member, phone, id_last4) VALUES ('m-1', '13800001234', '1234')",
        )
        .unwrap();
    store.migrate(3).unwrap();
    assert_eq!(one_value(&database, "SELECT max(version) FROM schema_version").as_deref(), Some("3"));
    assert_eq!(one_value(&database, "SELECT phone FROM member_contacts").as_deref(), Some("13800001234"));
    assert_eq!(one_value(&database, "SELECT address FROM member_contacts"), None);
    drop(store);
}

#[test]
fn migrating_twice_or_from_two_relays_at_once_changes_nothing() {
    let Some(database) = TestDatabase::create("twice") else { return };
    let url = database.url().to_owned();
    // Two relays starting together on an empty database: one migrates, the other waits.
    let starting: Vec<_> = (0..2)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || PgStore::open(&PgSettings::new(url)).map(drop))
        })
        .collect();
    for relay in starting {
        relay.join().unwrap().unwrap();
    }
    database.query("INSERT INTO relay_meta (key, value) VALUES ('actor', 'ab')").unwrap();
    drop(PgStore::open(&PgSettings::new(url)).unwrap());
    assert_eq!(one_value(&database, "SELECT count(*) FROM schema_version"), Some(schema::latest_version().to_string()));
    assert_eq!(one_value(&database, "SELECT value FROM relay_meta").as_deref(), Some("ab"));
}

#[test]
fn a_database_from_a_newer_relay_is_refused_untouched() {
    let Some(database) = TestDatabase::create("newer") else { return };
    drop(PgStore::open(&PgSettings::new(database.url())).unwrap());
    let newer = schema::latest_version() + 1;
    database.query(&format!("INSERT INTO schema_version (version) VALUES ({newer})")).unwrap();
    let err = PgStore::open(&PgSettings::new(database.url())).unwrap_err();
    assert!(matches!(err, StoreError::TooNew { found, .. } if found == newer), "{err:?}");
    assert!(err.to_string().contains("update the relay"), "{err}");
    assert_eq!(one_value(&database, "SELECT max(version) FROM schema_version"), Some(newer.to_string()));
}

#[test]
fn the_statement_timeout_cancels_a_statement_and_says_which_flag_raises_it() {
    let Some(database) = TestDatabase::create("timeout") else { return };
    let settings = PgSettings { statement_timeout: Duration::from_millis(300), ..PgSettings::new(database.url()) };
    let store = PgStore::open(&settings).unwrap();
    let shown = store.read(async |db| Ok(db.query_one("SHOW statement_timeout", &[]).await?.try_get::<_, String>(0)?));
    assert_eq!(shown.unwrap(), "300ms");
    let started = Instant::now();
    let err = store.read(async |db| Ok(db.execute("SELECT pg_sleep(5)", &[]).await?)).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(4), "cancelled after {:?}", started.elapsed());
    assert!(err.to_string().contains("--db-statement-timeout-ms"), "{err}");
    // The connection is still good for the next call.
    assert!(store.stations().unwrap().is_empty());
}

#[test]
fn a_database_that_cannot_be_reached_or_read_is_explained() {
    // Nothing listens on port 1; no server needed.
    let err = PgStore::open(&PgSettings::new("postgres://relay@127.0.0.1:1/timebank")).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("could not connect to PostgreSQL at relay@127.0.0.1:1/timebank"), "{text}");
    assert!(text.contains("--database"), "{text}");
    let err = PgStore::open(&PgSettings::new("postgres://relay:secret@127.0.0.1:1/timebank?sslmode=require")).unwrap_err();
    assert!(err.to_string().contains("TLS") && !err.to_string().contains("secret"), "{err}");
    let err = PgStore::open(&PgSettings::new("not a database")).unwrap_err();
    assert!(err.to_string().contains("postgres://USER:PASSWORD@HOST:PORT/DATABASE"), "{err}");
    let settings = PgSettings::new("postgres://relay:secret@db.internal:5433/timebank");
    let shown = format!("{settings:?}");
    assert!(shown.contains("relay@db.internal:5433/timebank") && !shown.contains("secret"), "{shown}");
}

/// The next id `changes` hears within a few seconds.
fn heard(changes: &mut DocumentChanges) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        match changes.try_recv() {
            Ok(doc) => return Some(doc),
            Err(tokio::sync::mpsc::error::TryRecvError::Empty) => std::thread::sleep(Duration::from_millis(10)),
            Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => return None,
        }
    }
    None
}

#[test]
fn a_relay_hears_the_documents_another_relay_writes_once_they_commit() {
    let Some(first) = fresh("notify") else { return };
    let second = beside(&first);
    let mut changes = second.subscribe_changes().unwrap().unwrap();
    let station =
        StationRecord { id: StationId::parse("s-a").unwrap(), name: "A".into(), district: default_district(), created_at: 1 };
    let genesis = NewDocument { id: "station/s-a".into(), snapshot: vec![1] };
    first.create_station(&station, &[genesis]).unwrap();
    assert_eq!(heard(&mut changes).as_deref(), Some("station/s-a"), "a new document");

    // A write that fails changes nothing, and nobody hears of it.
    let failed =
        WriteBatch { chunks: vec![("station/s-a".into(), vec![2]), ("member/m-none".into(), vec![3])], ..WriteBatch::default() };
    assert!(first.write_batch(&failed, 2).is_err());
    let written = WriteBatch { chunks: vec![("station/s-a".into(), vec![4])], ..WriteBatch::default() };
    first.write_batch(&written, 3).unwrap();
    assert_eq!(heard(&mut changes).as_deref(), Some("station/s-a"));
    assert_eq!(second.document("station/s-a").unwrap().unwrap().bytes, [1, 4], "the failed write left nothing");
    assert!(heard(&mut changes).is_none(), "one write, one notification");

    // Its own writes too, and every subscriber hears each.
    let mut again = second.subscribe_changes().unwrap().unwrap();
    second.write_batch(&written, 4).unwrap();
    assert_eq!(heard(&mut changes).as_deref(), Some("station/s-a"));
    assert_eq!(heard(&mut again).as_deref(), Some("station/s-a"));
}

#[test]
fn arrivals_from_two_relays_are_numbered_once_each_in_the_order_they_commit() {
    let Some(first) = fresh("arrivals") else { return };
    // Each append dawdles a little between taking its numbers and committing, as a
    // relay's transaction does under load: without the numbering lock, a reader would
    // read past a number that commits later.
    first
        .database
        .query(
            "CREATE FUNCTION dawdle() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN PERFORM pg_sleep(random() * 0.004); RETURN NULL; END $$;
             CREATE TRIGGER dawdle AFTER INSERT ON ledger_events FOR EACH STATEMENT EXECUTE FUNCTION dawdle()",
        )
        .unwrap();
    let relays: Vec<Arc<PgStore>> = vec![Arc::new(beside(&first)), Arc::new(beside(&first))];
    const EACH: usize = 60;
    let writers: Vec<_> = relays
        .iter()
        .enumerate()
        .map(|(r, relay)| {
            let relay = Arc::clone(relay);
            std::thread::spawn(move || {
                for i in 0..EACH {
                    // Every event arrives at both relays (a phone retrying through the other).
                    let events = [
                        NewLedgerEvent { key: format!("visit:v-{i}"), body: format!("{{\"from\":{r}}}") },
                        NewLedgerEvent { key: format!("review:r{r}-{i}"), body: "{}".into() },
                    ];
                    relay.append_ledger_events(&events, 10).unwrap();
                }
            })
        })
        .collect();
    // A poster reading as the writers write: what it has read past is never added behind it.
    let mut seen: Vec<LedgerEventRecord> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < 3 * EACH && Instant::now() < deadline {
        let after = seen.last().map_or(0, |e| e.seq);
        seen.extend(first.ledger_events(after).unwrap());
    }
    for writer in writers {
        writer.join().unwrap();
    }
    seen.extend(first.ledger_events(seen.last().map_or(0, |e| e.seq)).unwrap());
    let all = first.ledger_events(0).unwrap();
    assert_eq!(seen, all, "the poster saw every event, in the stored order");
    let keys: BTreeSet<&str> = all.iter().map(|e| e.key.as_str()).collect();
    assert_eq!((all.len(), keys.len()), (3 * EACH, 3 * EACH), "each key logged once");
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
}

/// Relays that start at once (every connection's statement cache cold) write groups of
/// syncs with arrivals: no transaction may take the arrival log's write lock before its
/// numbering lock (PostgreSQL takes it when it parses the insert), or two of them deadlock
/// and one group fails.
#[test]
fn relays_starting_at_once_log_arrivals_without_deadlocking() {
    let Some(first) = fresh("cold") else { return };
    suite::setup(&*first);
    const RELAYS: usize = 6;
    let start = Arc::new(std::sync::Barrier::new(RELAYS));
    let writers: Vec<_> = (0..RELAYS)
        .map(|r| {
            let (relay, start) = (beside(&first), Arc::clone(&start));
            std::thread::spawn(move || {
                let batch = |doc: &str| WriteBatch { chunks: vec![(doc.to_owned(), vec![1])], ..WriteBatch::default() };
                let (vol, coord) = (batch("member/m-vol"), batch("member/m-coord"));
                let event = |n: usize| [NewLedgerEvent { key: format!("visit:v-{r}-{n}"), body: "{}".into() }];
                let (one, two) = (event(1), event(2));
                start.wait();
                relay.write_syncs(&[(&vol, &one), (&coord, &two)], 10)
            })
        })
        .collect();
    for writer in writers {
        for result in writer.join().unwrap() {
            result.unwrap();
        }
    }
    assert_eq!(first.ledger_events(0).unwrap().len(), 2 * RELAYS);
    // The server counts deadlocks when the connections that met them close.
    let database = &first.database;
    let counted = "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()";
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(one_value(database, counted).as_deref(), Some("0"), "no transaction was chosen as a deadlock's victim");
}

#[test]
fn two_relays_writing_the_same_documents_in_opposite_orders_lose_nothing() {
    let Some(first) = fresh("crossed") else { return };
    let station =
        StationRecord { id: StationId::parse("s-a").unwrap(), name: "A".into(), district: default_district(), created_at: 1 };
    let docs = ["station/s-a", "station/s-a/desk"].map(|id| NewDocument { id: id.into(), snapshot: vec![0] });
    first.create_station(&station, &docs).unwrap();
    const EACH: usize = 40;
    let writers: Vec<_> = [["station/s-a", "station/s-a/desk"], ["station/s-a/desk", "station/s-a"]]
        .into_iter()
        .map(|order| {
            let relay = beside(&first);
            std::thread::spawn(move || {
                for i in 0..EACH {
                    let chunk = u8::try_from(i).unwrap();
                    let batch = WriteBatch {
                        chunks: order.iter().map(|doc| ((*doc).to_owned(), vec![chunk])).collect(),
                        ..WriteBatch::default()
                    };
                    relay.write_batch(&batch, 5).unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    for doc in ["station/s-a", "station/s-a/desk"] {
        let stored = first.document(doc).unwrap().unwrap();
        assert_eq!(stored.chunk_count, 2 * EACH, "{doc}");
        assert_eq!(stored.generation, 1 + 2 * i64::try_from(EACH).unwrap(), "{doc}: one generation per chunk");
    }
}

#[test]
fn one_enrollment_code_typed_on_two_phones_at_two_relays_enrolls_one() {
    let Some(first) = fresh("enroll") else { return };
    suite::setup(&*first);
    first
        .add_enrollment_code(
            &EnrollmentCode { code_hash: [1; 32], member: MemberId::parse("m-vol").unwrap(), created_at: 0, expires_at: 1_000 },
            None,
        )
        .unwrap();
    let phones: Vec<_> = [("d-1", "a1"), ("d-2", "a2")]
        .into_iter()
        .map(|(id, actor)| {
            let relay = beside(&first);
            std::thread::spawn(move || {
                let device =
                    NewDevice { id: id.into(), actor: actor.into(), token_hash: [actor.as_bytes()[1]; 32], signing_key: None };
                relay.enroll_device(&[1; 32], &device, 100).unwrap()
            })
        })
        .collect();
    let outcomes: Vec<_> = phones.into_iter().map(|phone| phone.join().unwrap()).collect();
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "{outcomes:?}");
    assert!(outcomes.iter().any(|o| matches!(o, Err(EnrollRefusal::AlreadyUsed { at: 100 }))), "{outcomes:?}");
    assert_eq!(first.devices().unwrap().len(), 1);
}
