//! The device's SQLite store: the only module that uses rusqlite. Only the engine writes
//! it; outside the crate are the file name, the acknowledged heads (tests read them) and
//! the migration runner the relay's store shares ([`schema`]).
//!
//! One writer connection in WAL mode with `synchronous = FULL`: a transaction that
//! returned is on disk, through a killed app or a dead battery. Functions that write
//! take a `&Transaction`, functions that read take a `&Connection`.

pub mod schema;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode, OptionalExtension, Transaction, params};

use crate::error::{Error, Result};

/// File name of the store inside the data directory.
pub const STORE_FILE: &str = "timebank.sqlite3";

/// The open store: its path and its single connection.
#[derive(Debug)]
pub(crate) struct Storage {
    path: PathBuf,
    conn: Connection,
}

/// A document as stored: its compacted snapshot and the chunks appended since.
#[derive(Debug, Default)]
pub(crate) struct StoredDocument {
    /// Snapshot plus chunks, concatenated: what `Automerge::load` takes.
    pub bytes: Vec<u8>,
    /// How many chunks follow the snapshot.
    pub chunk_count: usize,
}

impl Storage {
    /// Opens (creating if `create`) the store in `dir` and migrates it to the latest version.
    pub fn open(dir: &Path, create: bool) -> Result<Storage> {
        let path = dir.join(STORE_FILE);
        if !create && !path.exists() {
            return Err(Error::NoStore(dir.to_path_buf()));
        }
        if create {
            std::fs::create_dir_all(dir)?;
        }
        let corrupt = |e: rusqlite::Error| classify(&path, e);
        let is_new = !path.exists();
        let mut conn = Connection::open(&path).map_err(corrupt)?;
        if is_new {
            // Lets compaction hand freed pages back to the phone's disk. Only possible
            // before the file's first table; never touched again, so opening writes nothing.
            conn.pragma_update(None, "auto_vacuum", "INCREMENTAL").map_err(corrupt)?;
        }
        conn.pragma_update(None, "journal_mode", "WAL").map_err(corrupt)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(corrupt)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(corrupt)?;
        // What is deleted is overwritten: an elder's address leaves the phone with the order.
        conn.pragma_update(None, "secure_delete", "ON").map_err(corrupt)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(corrupt)?;
        // Every statement of a visit and a sync is prepared once and kept (about twenty):
        // compiling them again on each write was a tenth of a phone's CPU per sync.
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let found = schema::version(&conn).map_err(corrupt)?;
        let latest = schema::latest_version();
        if found > latest {
            return Err(Error::StoreTooNew { path, found, supported: latest });
        }
        schema::migrate_to(&mut conn, latest).map_err(corrupt)?;
        let quick_check: String = conn.query_row("PRAGMA quick_check", [], |row| row.get(0)).map_err(corrupt)?;
        if quick_check != "ok" {
            return Err(Error::Corrupt { path, detail: quick_check });
        }
        Ok(Storage { path, conn })
    }

    /// The store file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection, for reads.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Starts the one write transaction (IMMEDIATE: takes the write lock up front).
    pub fn begin(&mut self) -> Result<Transaction<'_>> {
        Ok(self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?)
    }

    /// Bytes the store takes on disk (database plus write-ahead log).
    pub fn bytes_on_disk(&self) -> u64 {
        let wal = self.path.with_extension("sqlite3-wal");
        [self.path.as_path(), wal.as_path()].iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.len()).sum()
    }
}

/// Statements kept prepared: more than the store's distinct statements.
const STATEMENT_CACHE: usize = 48;

/// Maps "this is not a database" and "database disk image is malformed" to
/// [`Error::Corrupt`], everything else to [`Error::Storage`].
fn classify(path: &Path, error: rusqlite::Error) -> Error {
    match error.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
            Error::Corrupt { path: path.to_path_buf(), detail: error.to_string() }
        }
        _ => Error::Storage(error),
    }
}

// ----- identity -----

/// Reads a value of the store's identity (`member`, `station`, `role`, `device`).
pub(crate) fn meta(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn.prepare_cached("SELECT value FROM meta WHERE key = ?1")?.query_row([key], |row| row.get(0)).optional()?)
}

/// Writes a value of the store's identity.
pub(crate) fn put_meta(tx: &Transaction<'_>, key: &str, value: &str) -> Result<()> {
    tx.prepare_cached("INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value")?
        .execute(params![key, value])?;
    Ok(())
}

// ----- documents -----

/// The ids of every stored document.
pub(crate) fn document_ids(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT doc_id FROM documents ORDER BY doc_id")?;
    let ids = stmt.query_map([], |row| row.get(0))?.collect::<rusqlite::Result<_>>()?;
    Ok(ids)
}

/// One document with its snapshot and chunks concatenated, ready for `Automerge::load`.
pub(crate) fn load_document(conn: &Connection, doc_id: &str) -> Result<Option<StoredDocument>> {
    let snapshot: Option<Option<Vec<u8>>> =
        conn.prepare_cached("SELECT snapshot FROM documents WHERE doc_id = ?1")?.query_row([doc_id], |row| row.get(0)).optional()?;
    let Some(snapshot) = snapshot else { return Ok(None) };
    let mut doc = StoredDocument { bytes: snapshot.unwrap_or_default(), ..StoredDocument::default() };
    let mut chunks = conn.prepare_cached("SELECT bytes FROM chunks WHERE doc_id = ?1 ORDER BY id")?;
    let mut rows = chunks.query([doc_id])?;
    while let Some(chunk) = rows.next()? {
        let bytes = chunk.get_ref(0)?.as_blob().map_err(rusqlite::Error::from)?;
        doc.bytes.extend_from_slice(bytes);
        doc.chunk_count += 1;
    }
    Ok(Some(doc))
}

/// Appends one incremental-save chunk (one or more changes) to a document.
pub(crate) fn append_chunk(tx: &Transaction<'_>, doc_id: &str, bytes: &[u8]) -> Result<()> {
    tx.prepare_cached("INSERT INTO documents (doc_id, snapshot) VALUES (?1, NULL) ON CONFLICT(doc_id) DO NOTHING")?
        .execute([doc_id])?;
    tx.prepare_cached("INSERT INTO chunks (doc_id, bytes) VALUES (?1, ?2)")?.execute(params![doc_id, bytes])?;
    Ok(())
}

/// Replaces a document's snapshot and all its chunks with `snapshot`, which must hold
/// everything they held (the single writer's in-memory document does).
pub(crate) fn compact(tx: &Transaction<'_>, doc_id: &str, snapshot: &[u8]) -> Result<()> {
    tx.prepare_cached("UPDATE documents SET snapshot = ?2 WHERE doc_id = ?1")?.execute(params![doc_id, snapshot])?;
    tx.prepare_cached("DELETE FROM chunks WHERE doc_id = ?1")?.execute([doc_id])?;
    Ok(())
}

// ----- the outbox of local changes -----

/// Records a change made on this device, not yet acknowledged by the relay.
pub(crate) fn record_local_change(tx: &Transaction<'_>, doc_id: &str, hash: &[u8], subject: &str, created_at_ms: i64) -> Result<()> {
    tx.prepare_cached("INSERT INTO local_changes (doc_id, hash, subject, created_at) VALUES (?1, ?2, ?3, ?4)")?.execute(params![
        doc_id,
        hash,
        subject,
        created_at_ms
    ])?;
    Ok(())
}

/// How many local changes the relay has not acknowledged.
pub(crate) fn unsynced_count(conn: &Connection) -> Result<u64> {
    let n: i64 = conn.prepare_cached("SELECT count(*) FROM local_changes")?.query_row([], |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The hashes of the local changes to `doc_id` the relay has not acknowledged.
pub(crate) fn unsynced_hashes(conn: &Connection, doc_id: &str) -> Result<Vec<automerge::ChangeHash>> {
    let mut stmt = conn.prepare_cached("SELECT hash FROM local_changes WHERE doc_id = ?1")?;
    let hashes = stmt.query_map([doc_id], |row| row.get::<_, Vec<u8>>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(hashes.iter().filter_map(|h| automerge::ChangeHash::try_from(h.as_slice()).ok()).collect())
}

/// The subjects (visit, order, request ids) with changes the relay has not acknowledged.
pub(crate) fn unsynced_subjects(conn: &Connection) -> Result<std::collections::HashSet<String>> {
    let mut stmt = conn.prepare_cached("SELECT DISTINCT subject FROM local_changes")?;
    let subjects = stmt.query_map([], |row| row.get(0))?.collect::<rusqlite::Result<_>>()?;
    Ok(subjects)
}

// ----- sync state -----

/// The heads the relay last acknowledged for a document (empty if never synced).
pub fn acked_heads(conn: &Connection, doc_id: &str) -> Result<Vec<automerge::ChangeHash>> {
    let blob: Option<Vec<u8>> = conn
        .prepare_cached("SELECT acked_heads FROM sync_state WHERE doc_id = ?1")?
        .query_row([doc_id], |row| row.get(0))
        .optional()?;
    Ok(blob.unwrap_or_default().chunks_exact(32).filter_map(|h| automerge::ChangeHash::try_from(h).ok()).collect())
}

/// Records the heads the relay acknowledged for a document.
pub(crate) fn set_acked_heads(tx: &Transaction<'_>, doc_id: &str, heads: &[automerge::ChangeHash], at_ms: i64) -> Result<()> {
    let blob: Vec<u8> = heads.iter().flat_map(|h| h.0).collect();
    tx.prepare_cached(
        "INSERT INTO sync_state (doc_id, acked_heads, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(doc_id) DO UPDATE SET acked_heads = excluded.acked_heads, updated_at = excluded.updated_at",
    )?
    .execute(params![doc_id, blob, at_ms])?;
    Ok(())
}

/// The relay's latest voucher for a document: the heads it vouched for and the code.
pub(crate) fn voucher(conn: &Connection, doc_id: &str) -> Result<Option<(Vec<automerge::ChangeHash>, Vec<u8>)>> {
    let row: Option<(Vec<u8>, Vec<u8>)> = conn
        .prepare_cached("SELECT heads, mac FROM vouchers WHERE doc_id = ?1")?
        .query_row([doc_id], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    Ok(row.map(|(heads, mac)| (heads.chunks_exact(32).filter_map(|h| automerge::ChangeHash::try_from(h).ok()).collect(), mac)))
}

/// Keeps the relay's voucher for `heads` of a document (replacing the one before: the
/// newer heads descend from the older ones).
pub(crate) fn set_voucher(tx: &Transaction<'_>, doc_id: &str, heads: &[automerge::ChangeHash], mac: &[u8]) -> Result<()> {
    let blob: Vec<u8> = heads.iter().flat_map(|h| h.0).collect();
    tx.prepare_cached(
        "INSERT INTO vouchers (doc_id, heads, mac) VALUES (?1, ?2, ?3)
         ON CONFLICT(doc_id) DO UPDATE SET heads = excluded.heads, mac = excluded.mac",
    )?
    .execute(params![doc_id, blob, mac])?;
    Ok(())
}

/// Removes a local change from the outbox once the relay acknowledged it (the change
/// itself stays in the document; the outbox only tracks what is still to send).
pub(crate) fn mark_acked(tx: &Transaction<'_>, hash: &[u8]) -> Result<()> {
    tx.prepare_cached("DELETE FROM local_changes WHERE hash = ?1")?.execute([hash])?;
    Ok(())
}

/// The dispatch contacts the phone keeps, by order.
pub(crate) fn dispatch_contacts(conn: &Connection) -> Result<Vec<crate::sync::wire::DispatchContact>> {
    let mut stmt = conn.prepare_cached("SELECT order_id, address, phone FROM dispatch_contacts ORDER BY order_id")?;
    let rows = stmt.query_map([], |row| {
        Ok(crate::sync::wire::DispatchContact { order: row.get(0)?, address: row.get(1)?, phone: row.get(2)? })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Keeps `contacts` and no other: what the relay sent last, or what is left of it.
pub(crate) fn replace_dispatch_contacts(tx: &Transaction<'_>, contacts: &[crate::sync::wire::DispatchContact]) -> Result<()> {
    tx.prepare_cached("DELETE FROM dispatch_contacts")?.execute([])?;
    for c in contacts {
        tx.prepare_cached("INSERT OR REPLACE INTO dispatch_contacts (order_id, address, phone) VALUES (?1, ?2, ?3)")?
            .execute(rusqlite::params![c.order, c.address, c.phone])?;
    }
    Ok(())
}

/// Copies the write-ahead log into the store and empties it, so that what was deleted
/// (and overwritten, `secure_delete`) is gone from the disk, not kept in older log frames.
pub(crate) fn flush_deleted(conn: &Connection) -> Result<()> {
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    Ok(())
}

/// Returns pages freed by compaction to the file system (stores created with
/// incremental auto-vacuum).
pub(crate) fn release_free_pages(conn: &Connection) -> Result<()> {
    conn.execute_batch("PRAGMA incremental_vacuum")?;
    Ok(())
}
