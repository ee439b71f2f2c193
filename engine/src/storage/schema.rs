//! The store's SQLite schema and its versioned migrations (`PRAGMA user_version`).

use rusqlite::Connection;

/// Each entry migrates the store from version `index` to `index + 1`.
/// Never edit a released entry; append a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: identity, documents as a compacted snapshot plus incremental chunks.
    "CREATE TABLE meta (
         key   TEXT PRIMARY KEY,
         value TEXT NOT NULL
     ) STRICT;
     CREATE TABLE documents (
         doc_id   TEXT PRIMARY KEY,
         snapshot BLOB
     ) STRICT;
     CREATE TABLE chunks (
         id     INTEGER PRIMARY KEY AUTOINCREMENT,
         doc_id TEXT NOT NULL REFERENCES documents(doc_id),
         bytes  BLOB NOT NULL
     ) STRICT;
     CREATE INDEX chunks_by_doc ON chunks(doc_id, id);",
    // 2: the outbox of local changes not yet acknowledged by the relay (a row leaves when
    //    the relay acknowledges it), and per-document sync state, for the sync client.
    "CREATE TABLE local_changes (
         seq        INTEGER PRIMARY KEY AUTOINCREMENT,
         doc_id     TEXT NOT NULL,
         hash       BLOB NOT NULL,
         subject    TEXT NOT NULL,
         created_at INTEGER NOT NULL
     ) STRICT;
     CREATE INDEX local_changes_by_hash ON local_changes(hash);
     CREATE TABLE sync_state (
         doc_id      TEXT PRIMARY KEY,
         acked_heads BLOB NOT NULL,
         updated_at  INTEGER NOT NULL
     ) STRICT;",
    // 3: per document, the relay's latest voucher (heads and their code): what lets the
    //    phone hand a relay restored from a backup the changes of others it lost (ADR 25).
    "CREATE TABLE vouchers (
         doc_id TEXT PRIMARY KEY,
         heads  BLOB NOT NULL,
         mac    BLOB NOT NULL
     ) STRICT;",
    // 4: a volunteer's phone: the elder's address and phone for each open dispatch, as the
    //    relay last sent them; outside the documents, so they never sync anywhere and leave
    //    the phone with the order (ADR 31).
    "CREATE TABLE dispatch_contacts (
         order_id TEXT PRIMARY KEY,
         address  TEXT NOT NULL,
         phone    TEXT NOT NULL
     ) STRICT;",
];

/// The newest store version this build knows.
pub fn latest_version() -> i64 {
    i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX)
}

/// A store's current version.
pub fn version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
}

/// Applies this store's migrations up to `target`.
pub fn migrate_to(conn: &mut Connection, target: i64) -> rusqlite::Result<()> {
    apply_migrations(conn, MIGRATIONS, target)
}

/// Applies `migrations` (entry `i` migrates from version `i` to `i + 1`) from the current
/// version up to `target`, each in its own IMMEDIATE transaction together with the version
/// bump, so a crash leaves a whole version and a second process that migrated meanwhile is
/// noticed. Shared by the device store and the relay's store.
pub fn apply_migrations(conn: &mut Connection, migrations: &[&str], target: i64) -> rusqlite::Result<()> {
    let mut current = version(conn)?;
    while current < target {
        let Some(step) = usize::try_from(current).ok().and_then(|i| migrations.get(i)) else {
            break;
        };
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        if version(&tx)? != current {
            current = version(&tx)?;
            continue;
        }
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", current + 1)?;
        tx.commit()?;
        current += 1;
    }
    Ok(())
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
    fn version_1_creates_identity_and_document_tables() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_to(&mut conn, 1).unwrap();
        assert_eq!(version(&conn).unwrap(), 1);
        assert_eq!(tables(&conn), ["chunks", "documents", "meta"]);
    }

    #[test]
    fn version_2_adds_the_outbox_and_keeps_version_1_data() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_to(&mut conn, 1).unwrap();
        conn.execute("INSERT INTO documents (doc_id, snapshot) VALUES ('member/v-1', x'01')", []).unwrap();
        conn.execute("INSERT INTO chunks (doc_id, bytes) VALUES ('member/v-1', x'0203')", []).unwrap();
        migrate_to(&mut conn, 2).unwrap();
        assert_eq!(version(&conn).unwrap(), 2);
        assert_eq!(tables(&conn), ["chunks", "documents", "local_changes", "meta", "sync_state"]);
        let chunk: Vec<u8> = conn.query_row("SELECT bytes FROM chunks", [], |r| r.get(0)).unwrap();
        assert_eq!(chunk, [2, 3]);
    }

    #[test]
    fn version_3_adds_vouchers_and_keeps_the_sync_state() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_to(&mut conn, 2).unwrap();
        conn.execute("INSERT INTO sync_state (doc_id, acked_heads, updated_at) VALUES ('member/v-1', x'09', 5)", []).unwrap();
        migrate_to(&mut conn, 3).unwrap();
        assert_eq!(version(&conn).unwrap(), 3);
        assert!(tables(&conn).contains(&"vouchers".to_owned()));
        let heads: Vec<u8> = conn.query_row("SELECT acked_heads FROM sync_state", [], |r| r.get(0)).unwrap();
        assert_eq!(heads, [9]);
    }

    #[test]
    fn version_4_adds_the_dispatch_contacts_and_keeps_the_vouchers() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_to(&mut conn, 3).unwrap();
        conn.execute("INSERT INTO vouchers (doc_id, heads, mac) VALUES ('member/v-1', x'01', x'02')", []).unwrap();
        migrate_to(&mut conn, 4).unwrap();
        assert!(tables(&conn).contains(&"dispatch_contacts".to_owned()));
        let kept: i64 = conn.query_row("SELECT count(*) FROM vouchers", [], |r| r.get(0)).unwrap();
        assert_eq!(kept, 1);
    }

    #[test]
    fn migrating_twice_changes_nothing() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_to(&mut conn, latest_version()).unwrap();
        migrate_to(&mut conn, latest_version()).unwrap();
        assert_eq!(version(&conn).unwrap(), latest_version());
    }
}
