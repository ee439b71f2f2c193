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
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .unwrap();
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
        assert!(conn
            .execute("INSERT INTO members (id, station, role, display_name, created_at) VALUES ('m-1', 's-x', 'volunteer', 'A', 0)", [])
            .is_err());
        conn.execute("INSERT INTO stations (id, name, created_at) VALUES ('s-1', 'S', 0)", []).unwrap();
        conn.execute("INSERT INTO members (id, station, role, display_name, created_at) VALUES ('m-1', 's-1', 'volunteer', 'A', 0)", [])
            .unwrap();
        conn.execute("INSERT INTO devices (id, member, actor, token_hash, created_at) VALUES ('d-1', 'm-1', 'aa', x'01', 0)", [])
            .unwrap();
        assert!(conn
            .execute("INSERT INTO devices (id, member, actor, token_hash, created_at) VALUES ('d-2', 'm-1', 'aa', x'02', 0)", [])
            .is_err());
        assert!(conn
            .execute("INSERT INTO devices (id, member, actor, token_hash, created_at) VALUES ('d-2', 'm-1', 'bb', x'01', 0)", [])
            .is_err());
        // A new document starts at generation 1.
        conn.execute("INSERT INTO documents (doc_id, snapshot, updated_at) VALUES ('member/m-1', x'00', 0)", []).unwrap();
        let generation: i64 =
            conn.query_row("SELECT generation FROM documents WHERE doc_id = 'member/m-1'", [], |r| r.get(0)).unwrap();
        assert_eq!(generation, 1);
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
