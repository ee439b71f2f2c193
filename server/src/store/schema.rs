//! The relay's SQLite schema and its versioned migrations (`PRAGMA user_version`).

use rusqlite::Connection;

/// Each entry migrates the store from version `index` to `index + 1`.
/// Never edit a released entry; append a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: documents (snapshot + chunks, with a generation bumped on every write), stations,
    // members, devices, enrollment codes, per-(device, document) sync state, security events.
    "CREATE TABLE relay_meta (
         key   TEXT PRIMARY KEY,
         value TEXT NOT NULL
     ) STRICT;
     CREATE TABLE documents (
         doc_id     TEXT PRIMARY KEY,
         snapshot   BLOB NOT NULL,
         generation INTEGER NOT NULL DEFAULT 1,
         updated_at INTEGER NOT NULL
     ) STRICT;
     CREATE TABLE chunks (
         id     INTEGER PRIMARY KEY AUTOINCREMENT,
         doc_id TEXT NOT NULL REFERENCES documents(doc_id),
         bytes  BLOB NOT NULL
     ) STRICT;
     CREATE INDEX chunks_by_doc ON chunks(doc_id, id);
     CREATE TABLE stations (
         id         TEXT PRIMARY KEY,
         name       TEXT NOT NULL,
         created_at INTEGER NOT NULL
     ) STRICT;
     CREATE TABLE members (
         id           TEXT PRIMARY KEY,
         station      TEXT NOT NULL REFERENCES stations(id),
         role         TEXT NOT NULL,
         display_name TEXT NOT NULL,
         birth_year   INTEGER,
         household    TEXT,
         created_at   INTEGER NOT NULL
     ) STRICT;
     CREATE INDEX members_by_station ON members(station, id);
     CREATE TABLE devices (
         id         TEXT PRIMARY KEY,
         member     TEXT NOT NULL REFERENCES members(id),
         actor      TEXT NOT NULL UNIQUE,
         token_hash BLOB NOT NULL UNIQUE,
         created_at INTEGER NOT NULL,
         revoked_at INTEGER
     ) STRICT;
     CREATE TABLE enrollment_codes (
         code_hash  BLOB PRIMARY KEY,
         member     TEXT NOT NULL REFERENCES members(id),
         created_at INTEGER NOT NULL,
         expires_at INTEGER NOT NULL,
         used_at    INTEGER,
         device     TEXT REFERENCES devices(id)
     ) STRICT;
     CREATE TABLE sync_state (
         device     TEXT NOT NULL REFERENCES devices(id),
         doc_id     TEXT NOT NULL,
         cur_heads  BLOB NOT NULL,
         prev_heads BLOB NOT NULL,
         updated_at INTEGER NOT NULL,
         PRIMARY KEY (device, doc_id)
     ) STRICT;
     CREATE TABLE security_events (
         id      INTEGER PRIMARY KEY AUTOINCREMENT,
         at      INTEGER NOT NULL,
         device  TEXT,
         member  TEXT,
         doc_id  TEXT,
         reason  TEXT NOT NULL
     ) STRICT;",
    // 2: the ledger. The arrival log (visits, reviews, requests, decisions, rules, each
    // numbered in the order the relay first stored it) and the postings, both
    // append-only: triggers refuse every UPDATE and DELETE.
    "CREATE TABLE ledger_events (
         seq         INTEGER PRIMARY KEY AUTOINCREMENT,
         key         TEXT NOT NULL UNIQUE,
         body        TEXT NOT NULL,
         received_at INTEGER NOT NULL
     ) STRICT;
     CREATE TABLE postings (
         seq       INTEGER PRIMARY KEY AUTOINCREMENT,
         key       TEXT NOT NULL UNIQUE,
         kind      TEXT NOT NULL,
         debit     TEXT NOT NULL,
         credit    TEXT NOT NULL,
         minutes   INTEGER NOT NULL CHECK (minutes > 0),
         subject   TEXT NOT NULL,
         memo      TEXT NOT NULL,
         by_member TEXT,
         event_seq INTEGER NOT NULL REFERENCES ledger_events(seq),
         posted_at INTEGER NOT NULL,
         CHECK (debit <> credit)
     ) STRICT;
     CREATE INDEX postings_by_debit ON postings(debit, seq);
     CREATE INDEX postings_by_credit ON postings(credit, seq);
     CREATE TRIGGER ledger_events_append_only_update BEFORE UPDATE ON ledger_events
         BEGIN SELECT RAISE(ABORT, 'the arrival log is append-only'); END;
     CREATE TRIGGER ledger_events_append_only_delete BEFORE DELETE ON ledger_events
         BEGIN SELECT RAISE(ABORT, 'the arrival log is append-only'); END;
     CREATE TRIGGER postings_append_only_update BEFORE UPDATE ON postings
         BEGIN SELECT RAISE(ABORT, 'postings are append-only; correct with a reversal'); END;
     CREATE TRIGGER postings_append_only_delete BEFORE DELETE ON postings
         BEGIN SELECT RAISE(ABORT, 'postings are append-only; correct with a reversal'); END;",
    // 3: every process that writes as the relay (the server, each admin command) has an
    //    actor of its own, so two of them, or a relay restored from a backup, never reuse
    //    an automerge sequence number. The first relay's actor is kept as one of them.
    "CREATE TABLE relay_actors (
         actor         TEXT PRIMARY KEY,
         registered_at INTEGER NOT NULL
     ) STRICT;
     INSERT INTO relay_actors (actor, registered_at) SELECT value, 0 FROM relay_meta WHERE key = 'actor';",
    // 4: a document's generation and update time, bumped on every write, move out of the
    //    row that holds its snapshot: SQLite rewrites a whole row on UPDATE, so every bump
    //    wrote the snapshot (tens of KB) to the WAL again. The snapshot row is now written
    //    only when the document is created or compacted.
    "CREATE TABLE document_versions (
         doc_id     TEXT PRIMARY KEY REFERENCES documents(doc_id),
         generation INTEGER NOT NULL,
         updated_at INTEGER NOT NULL
     ) STRICT, WITHOUT ROWID;
     INSERT INTO document_versions (doc_id, generation, updated_at)
         SELECT doc_id, generation, updated_at FROM documents;
     ALTER TABLE documents DROP COLUMN generation;
     ALTER TABLE documents DROP COLUMN updated_at;",
    // 5: special hardship (困难老人), recorded by a coordinator: the lower redemption age.
    "ALTER TABLE members ADD COLUMN hardship INTEGER NOT NULL DEFAULT 0;",
    // 6: the coordinator console. Accounts (argon2id hashes), sessions stored by the
    //    SHA-256 of their token, failed sign-ins (lock-out), the append-only audit trail,
    //    and the contact details a coordinator records in person (never in a document,
    //    so never on a phone).
    "CREATE TABLE console_users (
         username      TEXT PRIMARY KEY,
         password_hash TEXT NOT NULL,
         role          TEXT NOT NULL CHECK (role IN ('coordinator', 'district')),
         station       TEXT REFERENCES stations(id),
         member        TEXT REFERENCES members(id),
         created_at    INTEGER NOT NULL,
         CHECK ((role = 'coordinator') = (station IS NOT NULL))
     ) STRICT;
     CREATE TABLE console_sessions (
         token_hash BLOB PRIMARY KEY,
         username   TEXT NOT NULL REFERENCES console_users(username),
         csrf       TEXT NOT NULL,
         created_at INTEGER NOT NULL,
         last_seen  INTEGER NOT NULL
     ) STRICT;
     CREATE TABLE console_login_failures (
         id       INTEGER PRIMARY KEY AUTOINCREMENT,
         username TEXT NOT NULL,
         at       INTEGER NOT NULL
     ) STRICT;
     CREATE INDEX console_login_failures_by_user ON console_login_failures(username, at);
     CREATE TABLE console_audit (
         id       INTEGER PRIMARY KEY AUTOINCREMENT,
         at       INTEGER NOT NULL,
         username TEXT NOT NULL,
         station  TEXT,
         action   TEXT NOT NULL,
         target   TEXT NOT NULL,
         detail   TEXT NOT NULL
     ) STRICT;
     CREATE INDEX console_audit_by_station ON console_audit(station, id);
     CREATE TRIGGER console_audit_append_only_update BEFORE UPDATE ON console_audit
         BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
     CREATE TRIGGER console_audit_append_only_delete BEFORE DELETE ON console_audit
         BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
     CREATE TABLE member_contacts (
         member   TEXT PRIMARY KEY REFERENCES members(id),
         phone    TEXT,
         id_last4 TEXT
     ) STRICT;",
    // 7: what each device sent each day (UTC), for its daily quota, and whether it was
    //    refused over it that day (one security event per device and day, not one per try).
    "CREATE TABLE device_usage (
         device   TEXT NOT NULL REFERENCES devices(id),
         day      INTEGER NOT NULL,
         changes  INTEGER NOT NULL DEFAULT 0,
         bytes    INTEGER NOT NULL DEFAULT 0,
         refused  INTEGER NOT NULL DEFAULT 0,
         PRIMARY KEY (device, day)
     ) STRICT;",
    // 8: how far the ledger's poster has folded the arrival log (the last event's number
    //    whose postings and ledger documents are stored), so another process (an admin
    //    command, another relay) can tell whether the ledger is current.
    "CREATE TABLE ledger_state (
         key   TEXT PRIMARY KEY,
         value INTEGER NOT NULL
     ) STRICT;
     INSERT INTO ledger_state (key, value) VALUES ('folded_seq', 0);",
    // 9: districts and the city. Every station belongs to a district; the stations found
    //    go into the default district `q-default`. Console accounts are a station's
    //    coordinator, a district's (reads its stations) or the city's (reads all): the
    //    accounts table is rebuilt for its new roles, the old read-only district account
    //    becoming the default district's (it read every station, all of them there now).
    //    The table's sessions end with it (everyone signs in again after the upgrade):
    //    SQLite checks the foreign keys of a rebuilt table only if nothing refers to it.
    "CREATE TABLE districts (
         id         TEXT PRIMARY KEY,
         name       TEXT NOT NULL,
         created_at INTEGER NOT NULL
     ) STRICT;
     INSERT INTO districts (id, name, created_at) VALUES ('q-default', '默认区', 0);
     CREATE TABLE station_districts (
         station  TEXT PRIMARY KEY REFERENCES stations(id),
         district TEXT NOT NULL REFERENCES districts(id)
     ) STRICT;
     CREATE INDEX station_districts_by_district ON station_districts(district, station);
     INSERT INTO station_districts (station, district) SELECT id, 'q-default' FROM stations;
     DROP TABLE console_sessions;
     CREATE TABLE console_users_9 (
         username      TEXT PRIMARY KEY,
         password_hash TEXT NOT NULL,
         role          TEXT NOT NULL CHECK (role IN ('coordinator', 'district', 'city')),
         station       TEXT REFERENCES stations(id),
         district      TEXT REFERENCES districts(id),
         member        TEXT REFERENCES members(id),
         created_at    INTEGER NOT NULL,
         CHECK ((role = 'coordinator') = (station IS NOT NULL)),
         CHECK ((role = 'district') = (district IS NOT NULL))
     ) STRICT;
     INSERT INTO console_users_9 (username, password_hash, role, station, district, member, created_at)
         SELECT username, password_hash, role, station, CASE role WHEN 'district' THEN 'q-default' END, member, created_at
         FROM console_users;
     DROP TABLE console_users;
     ALTER TABLE console_users_9 RENAME TO console_users;
     CREATE TABLE console_sessions (
         token_hash BLOB PRIMARY KEY,
         username   TEXT NOT NULL REFERENCES console_users(username),
         csrf       TEXT NOT NULL,
         created_at INTEGER NOT NULL,
         last_seen  INTEGER NOT NULL
     ) STRICT;",
    // 10: an elder's home address beside the phone, recorded in person and shown only to
    //     the station's coordinators and, through `/v1/contacts`, to the volunteer an open
    //     order of the elder is dispatched to (ADR 31): never in a document.
    "ALTER TABLE member_contacts ADD COLUMN address TEXT;",
    // 11: proof of presence (ADR 29): each device's Ed25519 public key, registered at
    //     enrollment (an elder's phone co-signs visits with it); the elders' NFC tags by
    //     UID, with the station that issued them (its master key diversifies their keys) and
    //     when one was revoked.
    "ALTER TABLE devices ADD COLUMN signing_key BLOB;
     CREATE TABLE tags (
         uid           TEXT PRIMARY KEY,
         station       TEXT NOT NULL REFERENCES stations(id),
         elder         TEXT NOT NULL REFERENCES members(id),
         registered_at INTEGER NOT NULL,
         registered_by TEXT NOT NULL,
         revoked_at    INTEGER,
         revoked_why   TEXT
     ) STRICT;
     CREATE INDEX tags_by_station ON tags (station, elder);",
];

/// The newest store version this build knows.
pub fn latest_version() -> i64 {
    i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX)
}

pub use timebank_engine::storage::schema::version;

/// Applies the relay's migrations up to `target` (the runner is the engine's, shared).
pub fn migrate_to(conn: &mut Connection, target: i64) -> rusqlite::Result<()> {
    timebank_engine::storage::schema::apply_migrations(conn, MIGRATIONS, target)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables(conn: &Connection) -> Vec<String> {
        let mut stmt =
            conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").unwrap();
        stmt.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect()
    }

    #[test]
    fn version_1_creates_every_table_and_enforces_its_constraints() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        migrate_to(&mut conn, 1).unwrap();
        assert_eq!(version(&conn).unwrap(), 1);
        assert_eq!(
            tables(&conn),
            [
                "chunks",
                "devices",
                "documents",
                "enrollment_codes",
                "members",
                "relay_meta",
                "security_events",
                "stations",
                "sync_state"
            ]
        );
        // A member needs its station; a device's actor and token hash are unique.
        assert!(
            conn.execute(
                "INSERT INTO members (id, station, role, display_name, created_at) VALUES ('m-1', 's-x', 'volunteer', 'A', 0)",
                []
            )
            .is_err()
        );
        conn.execute("INSERT INTO stations (id, name, created_at) VALUES ('s-1', 'S', 0)", []).unwrap();
        conn.execute(
            "INSERT INTO members (id, station, role, display_name, created_at) VALUES ('m-1', 's-1', 'volunteer', 'A', 0)",
            [],
        )
        .unwrap();
        conn.execute("INSERT INTO devices (id, member, actor, token_hash, created_at) VALUES ('d-1', 'm-1', 'aa', x'01', 0)", [])
            .unwrap();
        assert!(
            conn.execute("INSERT INTO devices (id, member, actor, token_hash, created_at) VALUES ('d-2', 'm-1', 'aa', x'02', 0)", [])
                .is_err()
        );
        assert!(
            conn.execute("INSERT INTO devices (id, member, actor, token_hash, created_at) VALUES ('d-2', 'm-1', 'bb', x'01', 0)", [])
                .is_err()
        );
        // A new document starts at generation 1.
        conn.execute("INSERT INTO documents (doc_id, snapshot, updated_at) VALUES ('member/m-1', x'00', 0)", []).unwrap();
        let generation: i64 =
            conn.query_row("SELECT generation FROM documents WHERE doc_id = 'member/m-1'", [], |r| r.get(0)).unwrap();
        assert_eq!(generation, 1);
    }

    #[test]
    fn version_2_adds_an_append_only_arrival_log_and_postings() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        migrate_to(&mut conn, 1).unwrap();
        conn.execute("INSERT INTO relay_meta (key, value) VALUES ('actor', 'ab')", []).unwrap();
        migrate_to(&mut conn, 2).unwrap();
        assert_eq!(version(&conn).unwrap(), 2);
        let kept: String = conn.query_row("SELECT value FROM relay_meta", [], |r| r.get(0)).unwrap();
        assert_eq!(kept, "ab", "version 1's data stays");
        let names = tables(&conn);
        assert!(names.contains(&"ledger_events".to_owned()) && names.contains(&"postings".to_owned()), "{names:?}");
        conn.execute("INSERT INTO ledger_events (key, body, received_at) VALUES ('visit:v-1@00', '{}', 5)", []).unwrap();
        assert!(conn.execute("INSERT INTO ledger_events (key, body, received_at) VALUES ('visit:v-1@00', '{}', 6)", []).is_err());
        let post = |key: &str, minutes: i64| {
            conn.execute(
                "INSERT INTO postings (key, kind, debit, credit, minutes, subject, memo, event_seq, posted_at)
                 VALUES (?1, 'earn', 'program', 'member:m-1', ?2, 'v-1', '', 1, 5)",
                rusqlite::params![key, minutes],
            )
        };
        post("earn:v-1:r1", 60).unwrap();
        assert!(post("earn:v-1:r1", 60).is_err(), "an idempotency key posts once");
        assert!(post("earn:v-2:r1", 0).is_err(), "no zero postings");
        assert!(conn.execute("UPDATE postings SET minutes = 1", []).is_err());
        assert!(conn.execute("DELETE FROM postings", []).is_err());
        assert!(conn.execute("DELETE FROM ledger_events", []).is_err());
        let minutes: i64 = conn.query_row("SELECT minutes FROM postings", [], |r| r.get(0)).unwrap();
        assert_eq!(minutes, 60);
    }

    #[test]
    fn version_3_keeps_the_first_relay_actor_among_the_relay_actors() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_to(&mut conn, 2).unwrap();
        conn.execute("INSERT INTO relay_meta (key, value) VALUES ('actor', 'ab')", []).unwrap();
        migrate_to(&mut conn, 3).unwrap();
        let actors: Vec<String> =
            conn.prepare("SELECT actor FROM relay_actors").unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
        assert_eq!(actors, ["ab"]);
    }

    #[test]
    fn version_4_moves_generations_out_of_the_snapshot_rows() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        migrate_to(&mut conn, 3).unwrap();
        conn.execute("INSERT INTO documents (doc_id, snapshot, generation, updated_at) VALUES ('member/m-1', x'0a0b', 7, 42)", [])
            .unwrap();
        conn.execute("INSERT INTO documents (doc_id, snapshot, updated_at) VALUES ('station/s-1', x'0c', 5)", []).unwrap();
        conn.execute("INSERT INTO chunks (doc_id, bytes) VALUES ('member/m-1', x'0d')", []).unwrap();
        migrate_to(&mut conn, 4).unwrap();
        assert_eq!(version(&conn).unwrap(), 4);
        let versions: Vec<(String, i64, i64)> = conn
            .prepare("SELECT doc_id, generation, updated_at FROM document_versions ORDER BY doc_id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(versions, [("member/m-1".to_owned(), 7, 42), ("station/s-1".to_owned(), 1, 5)]);
        let columns: Vec<String> = conn
            .prepare("SELECT name FROM pragma_table_info('documents') ORDER BY cid")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(columns, ["doc_id", "snapshot"], "the snapshot row keeps nothing that changes per write");
        let snapshot: Vec<u8> =
            conn.query_row("SELECT snapshot FROM documents WHERE doc_id = 'member/m-1'", [], |r| r.get(0)).unwrap();
        assert_eq!(snapshot, [0x0a, 0x0b], "snapshots stay");
        let chunks: i64 = conn.query_row("SELECT count(*) FROM chunks", [], |r| r.get(0)).unwrap();
        assert_eq!(chunks, 1, "chunks stay");
        // A version needs its document.
        assert!(
            conn.execute("INSERT INTO document_versions (doc_id, generation, updated_at) VALUES ('member/m-none', 1, 0)", []).is_err()
        );
    }

    #[test]
    fn version_5_marks_nobody_in_hardship_until_a_coordinator_says_so() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_to(&mut conn, 4).unwrap();
        conn.execute("INSERT INTO stations (id, name, created_at) VALUES ('s-1', 'S', 0)", []).unwrap();
        conn.execute("INSERT INTO members (id, station, role, display_name, created_at) VALUES ('m-1', 's-1', 'elder', 'A', 0)", [])
            .unwrap();
        migrate_to(&mut conn, 5).unwrap();
        let hardship: i64 = conn.query_row("SELECT hardship FROM members WHERE id = 'm-1'", [], |r| r.get(0)).unwrap();
        assert_eq!(hardship, 0);
    }

    #[test]
    fn version_6_keeps_the_audit_append_only_and_a_coordinator_at_a_station() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        migrate_to(&mut conn, 6).unwrap();
        conn.execute("INSERT INTO stations (id, name, created_at) VALUES ('s-1', 'S', 0)", []).unwrap();
        let user = |name: &str, role: &str, station: Option<&str>| {
            conn.execute(
                "INSERT INTO console_users (username, password_hash, role, station, created_at) VALUES (?1, 'h', ?2, ?3, 0)",
                rusqlite::params![name, role, station],
            )
        };
        user("a", "coordinator", Some("s-1")).unwrap();
        user("d", "district", None).unwrap();
        assert!(user("b", "coordinator", None).is_err(), "a coordinator belongs to a station");
        assert!(user("c", "district", Some("s-1")).is_err(), "the district role has no station");
        assert!(user("e", "admin", None).is_err());
        conn.execute("INSERT INTO console_audit (at, username, action, target, detail) VALUES (1, 'a', 'x', 'y', '')", []).unwrap();
        assert!(conn.execute("UPDATE console_audit SET detail = 'z'", []).is_err());
        assert!(conn.execute("DELETE FROM console_audit", []).is_err());
    }

    #[test]
    fn version_7_counts_each_devices_day_from_nothing() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_to(&mut conn, 6).unwrap();
        migrate_to(&mut conn, 7).unwrap();
        assert!(tables(&conn).contains(&"device_usage".to_owned()));
        let rows: i64 = conn.query_row("SELECT count(*) FROM device_usage", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 0);
    }

    #[test]
    fn version_8_starts_the_ledger_cursor_at_nothing_folded() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_to(&mut conn, 8).unwrap();
        let folded: i64 = conn.query_row("SELECT value FROM ledger_state WHERE key = 'folded_seq'", [], |r| r.get(0)).unwrap();
        assert_eq!(folded, 0);
    }

    #[test]
    fn version_9_puts_every_station_in_the_default_district_and_keeps_every_account() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        migrate_to(&mut conn, 8).unwrap();
        for station in ["s-1", "s-2"] {
            conn.execute("INSERT INTO stations (id, name, created_at) VALUES (?1, 'S', 0)", [station]).unwrap();
        }
        conn.execute(
            "INSERT INTO members (id, station, role, display_name, created_at) VALUES ('m-1', 's-1', 'coordinator', 'Li', 0)",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO console_users (username, password_hash, role, station, member, created_at) VALUES ('li', 'h1', 'coordinator', 's-1', 'm-1', 5)",
            [],
        )
        .unwrap();
        conn.execute("INSERT INTO console_users (username, password_hash, role, created_at) VALUES ('qu', 'h2', 'district', 6)", [])
            .unwrap();
        conn.execute(
            "INSERT INTO console_sessions (token_hash, username, csrf, created_at, last_seen) VALUES (x'01', 'li', 'c', 1, 1)",
            [],
        )
        .unwrap();
        migrate_to(&mut conn, 9).unwrap();
        assert_eq!(version(&conn).unwrap(), 9);
        let placed: Vec<(String, String)> = conn
            .prepare("SELECT station, district FROM station_districts ORDER BY station")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(placed, [("s-1".to_owned(), "q-default".to_owned()), ("s-2".to_owned(), "q-default".to_owned())]);
        let accounts: Vec<String> = conn
            .prepare(
                "SELECT concat_ws(' ', username, password_hash, role, coalesce(station, '-'), coalesce(district, '-'),
                                  coalesce(member, '-'), created_at)
                 FROM console_users ORDER BY username",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            accounts,
            ["li h1 coordinator s-1 - m-1 5", "qu h2 district - q-default - 6"],
            "accounts keep their passwords; the district account reads the default district"
        );
        let sessions: i64 = conn.query_row("SELECT count(*) FROM console_sessions", [], |r| r.get(0)).unwrap();
        assert_eq!(sessions, 0, "everyone signs in again");
        let user = |name: &str, role: &str, station: Option<&str>, district: Option<&str>| {
            conn.execute(
                "INSERT INTO console_users (username, password_hash, role, station, district, created_at) VALUES (?1, 'h', ?2, ?3, ?4, 0)",
                rusqlite::params![name, role, station, district],
            )
        };
        user("city", "city", None, None).unwrap();
        assert!(user("a", "district", None, None).is_err(), "a district account names its district");
        assert!(user("b", "district", None, Some("q-none")).is_err(), "the district must exist");
        assert!(user("c", "city", Some("s-1"), None).is_err(), "the city has no station");
        assert!(user("d", "coordinator", Some("s-1"), Some("q-default")).is_err(), "a coordinator has no district");
        assert!(conn.execute("INSERT INTO station_districts (station, district) VALUES ('s-none', 'q-default')", []).is_err());
        conn.execute(
            "INSERT INTO console_sessions (token_hash, username, csrf, created_at, last_seen) VALUES (x'02', 'li', 'c', 1, 1)",
            [],
        )
        .unwrap();
        assert!(
            conn.execute(
                "INSERT INTO console_sessions (token_hash, username, csrf, created_at, last_seen) VALUES (x'03', 'nobody', 'c', 1, 1)",
                []
            )
            .is_err(),
            "a session still needs its account"
        );
    }

    #[test]
    fn version_10_adds_an_address_and_keeps_the_contacts() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_to(&mut conn, 9).unwrap();
        conn.execute_batch(
            "INSERT INTO stations (id, name, created_at) VALUES ('s-1', 'S', 0);
             INSERT INTO members (id, station, role, display_name, created_at) VALUES ('m-1', 's-1', 'elder', 'W', 0);
             INSERT INTO member_contacts (member, phone, id_last4) VALUES ('m-1', '13800001234', '1234');",
        )
        .unwrap();
        migrate_to(&mut conn, 10).unwrap();
        let row: (String, Option<String>) =
            conn.query_row("SELECT phone, address FROM member_contacts", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        assert_eq!(row, ("13800001234".to_owned(), None));
    }

    #[test]
    fn migrating_twice_changes_nothing() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_to(&mut conn, latest_version()).unwrap();
        conn.execute("INSERT INTO relay_meta (key, value) VALUES ('actor', 'ab')", []).unwrap();
        migrate_to(&mut conn, latest_version()).unwrap();
        assert_eq!(version(&conn).unwrap(), latest_version());
        let kept: String = conn.query_row("SELECT value FROM relay_meta", [], |r| r.get(0)).unwrap();
        assert_eq!(kept, "ab");
    }
}
