//! The embedded SQLite backend of [`RelayStore`]: one file in the data directory, WAL
//! mode, `synchronous = FULL` (but for the ledger's derived writes, ADR 37), exactly one
//! connection (the writer) per process, the log checkpointed off it (ADR 52). Admin
//! commands open the same file from another process; SQLite's locks and the documents'
//! generation counter keep both views right.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, Transaction, TransactionBehavior, params};
use timebank_engine::model::{DistrictId, HouseholdId, MemberId, Role, StationId};

use crate::store::checkpoint::Checkpointer;
use crate::store::encoding::{console_role, console_role_name, from_hex, heads_blob, heads_from_blob};
use crate::store::schema;
use crate::store::{
    AckedHeads, AuditRecord, ConsoleSessionRecord, ConsoleUserRecord, DeviceRecord, DeviceUsage, DistrictRecord, DocumentChanges,
    EnrollRefusal, EnrollmentCode, LedgerEventRecord, LedgerProgress, LoggedEvent, MemberContact, MemberRecord, Millis, NewDevice,
    NewDocument, NewLedgerEvent, PostingRecord, RelayStore, Revocation, SecretHash, SecurityEvent, StationRecord, StoreError,
    StoreResult, StoredDocument, SyncWritten, TagRecord, WriteBatch,
};

/// File name of the relay's store inside the data directory.
pub const STORE_FILE: &str = "relay.sqlite3";

/// How long a write waits for another process (an admin command, another relay on the
/// same file) to release the lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a write that found the lock taken waits before it tries again.
const BUSY_RETRY: Duration = Duration::from_millis(1);

/// Makes `conn` wait for a lock another process holds, trying again every [`BUSY_RETRY`]
/// for up to [`BUSY_TIMEOUT`]. SQLite's own busy timeout backs off to 100 ms between
/// tries: two relays writing one file then kept a waiting sync out for a second at a time
/// (p99 of 1 s at 70 % load), while each holds the lock for a commit of a few milliseconds.
fn wait_when_busy(conn: &mut Connection) -> rusqlite::Result<()> {
    fn try_again(tries: i32) -> bool {
        let waited = BUSY_RETRY.saturating_mul(u32::try_from(tries).unwrap_or(u32::MAX));
        if waited >= BUSY_TIMEOUT {
            return false;
        }
        std::thread::sleep(BUSY_RETRY);
        true
    }
    conn.busy_handler(Some(try_again))
}

/// Most reader connections open at once: a read beyond them waits for one to be free.
/// Opening a connection costs more than most reads (SQLite parses the schema on its first
/// statement), so they are kept, never opened for one read and closed.
const MOST_READERS: usize = 16;

/// Events of the arrival log read per query by [`RelayStore::read_ledger_log`].
const LOG_PAGE: i64 = 10_000;

/// The SQLite store: one writer connection, and reader connections (WAL lets them read
/// while the writer writes), so parallel syncs do not queue behind each other's reads.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    conn: Mutex<Connection>,
    readers: Mutex<Readers>,
    reader_free: Condvar,
    _checkpointer: Checkpointer,
}

/// A reader connection lent to one read: given back when the read ends, however it ends
/// (a read that panics does not take a connection out of the bounded set).
struct Lent<'s> {
    store: &'s SqliteStore,
    conn: Option<Connection>,
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.store.readers.lock().unwrap_or_else(PoisonError::into_inner).free.push(conn);
            self.store.reader_free.notify_one();
        }
    }
}

/// The reader connections: those free, and how many are open.
#[derive(Debug, Default)]
struct Readers {
    free: Vec<Connection>,
    open: usize,
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        match error.sqlite_error_code() {
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => StoreError::Corrupt(error.to_string()),
            _ => StoreError::Backend(error.to_string()),
        }
    }
}

impl SqliteStore {
    /// Opens (creating) the store in `dir` and migrates it to the latest version. A store
    /// written by a newer relay is refused untouched.
    pub fn open(dir: &Path) -> StoreResult<SqliteStore> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(STORE_FILE);
        let mut conn = Connection::open(&path)?;
        wait_when_busy(&mut conn)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Each sync of a group commit writes in a savepoint of its own: the pages it
        // changes are kept for a rollback in a statement journal, which spills to a
        // temporary file beyond 64 KiB (a sync of a day's visits does). In memory instead:
        // it lives as long as one group's transaction.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        // What is deleted (a member's erased contact details) is overwritten with zeros,
        // not left in free pages (ADR 0034).
        conn.pragma_update(None, "secure_delete", "ON")?;
        let found = schema::version(&conn)?;
        let latest = schema::latest_version();
        if found > latest {
            return Err(StoreError::TooNew { path: path.display().to_string(), found, supported: latest });
        }
        schema::migrate_to(&mut conn, latest)?;
        let check: String = conn.query_row("PRAGMA quick_check", [], |row| row.get(0))?;
        if check != "ok" {
            return Err(StoreError::Corrupt(check));
        }
        let checkpointer = Checkpointer::start(&path, &mut conn, |conn| {
            wait_when_busy(conn)?;
            conn.pragma_update(None, "synchronous", "FULL")
        })?;
        Ok(SqliteStore {
            path,
            conn: Mutex::new(conn),
            readers: Mutex::new(Readers::default()),
            reader_free: Condvar::new(),
            _checkpointer: checkpointer,
        })
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        let lent = Lent { store: self, conn: Some(self.reader()?) };
        let conn = lent.conn.as_ref().ok_or_else(|| StoreError::Backend("no reader connection".into()))?;
        Ok(f(conn)?)
    }

    /// A free reader connection, opened if fewer than [`MOST_READERS`] are; otherwise the
    /// first one given back.
    fn reader(&self) -> StoreResult<Connection> {
        let mut readers = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(conn) = readers.free.pop() {
                return Ok(conn);
            }
            if readers.open < MOST_READERS {
                readers.open += 1;
                drop(readers);
                let opened = Connection::open_with_flags(&self.path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                    .and_then(|mut conn| wait_when_busy(&mut conn).map(|()| conn));
                if opened.is_err() {
                    self.readers.lock().unwrap_or_else(PoisonError::into_inner).open -= 1;
                    self.reader_free.notify_one();
                }
                return Ok(opened?);
            }
            readers = self.reader_free.wait(readers).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Copies the write-ahead log into the file and empties it, so the old versions of
    /// overwritten pages (an erased contact's) leave the log too. Best effort: a reader
    /// still on an older moment keeps its pages until the next checkpoint.
    fn checkpoint(&self) {
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
            tracing::warn!(%error, "could not checkpoint the store after an erasure; the next checkpoint will");
        }
    }

    /// Runs `f` in one IMMEDIATE transaction (the write lock taken up front); commits if it
    /// returns `Ok`, rolls back otherwise.
    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> StoreResult<T>) -> StoreResult<T> {
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    /// [`SqliteStore::write`] for what can be derived again from what is stored (the
    /// ledger's postings and documents, folded from the arrival log): committed without
    /// its own flush to disk (`synchronous = NORMAL`). In WAL mode it becomes durable with
    /// the next flushed commit, which every sync answer waits for, and if the machine
    /// loses it first, the catch-up at start derives it again (ADR 37).
    fn write_derived<T>(&self, f: impl FnOnce(&Transaction<'_>) -> StoreResult<T>) -> StoreResult<T> {
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let result = (|| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = f(&tx)?;
            tx.commit()?;
            Ok(value)
        })();
        conn.pragma_update(None, "synchronous", "FULL")?;
        result
    }
}

// ----- rows -----

fn bad_column(index: usize, what: &str, detail: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, format!("{what}: {detail}").into())
}

fn member_from_row(row: &Row<'_>) -> rusqlite::Result<MemberRecord> {
    let id: String = row.get(0)?;
    let station: String = row.get(1)?;
    let role: String = row.get(2)?;
    let household: Option<String> = row.get(5)?;
    let birth_year: Option<i64> = row.get(4)?;
    Ok(MemberRecord {
        id: MemberId::parse(&id).map_err(|e| bad_column(0, "member id", e.to_string()))?,
        station: StationId::parse(&station).map_err(|e| bad_column(1, "station id", e.to_string()))?,
        role: Role::parse(&role).map_err(|e| bad_column(2, "role", e.to_string()))?,
        display_name: row.get(3)?,
        birth_year: birth_year.and_then(|y| u16::try_from(y).ok()),
        household: household.map(|h| HouseholdId::parse(&h)).transpose().map_err(|e| bad_column(5, "household", e.to_string()))?,
        created_at: row.get(6)?,
        hardship: row.get::<_, i64>(7)? != 0,
    })
}

const MEMBER_COLUMNS: &str = "id, station, role, display_name, birth_year, household, created_at, hardship";
const DEVICE_COLUMNS: &str = "id, member, actor, created_at, revoked_at, signing_key";
const TAG_COLUMNS: &str = "uid, station, elder, registered_at, registered_by, revoked_at, revoked_why";

/// A station with its district: [`station_from_row`]'s columns.
const STATION_SELECT: &str =
    "SELECT s.id, s.name, d.district, s.created_at FROM stations s JOIN station_districts d ON d.station = s.id";

fn station_from_row(row: &Row<'_>) -> rusqlite::Result<StationRecord> {
    let raw: String = row.get(0)?;
    let district: String = row.get(2)?;
    Ok(StationRecord {
        id: StationId::parse(&raw).map_err(|e| bad_column(0, "station id", e.to_string()))?,
        name: row.get(1)?,
        district: DistrictId::parse(&district).map_err(|e| bad_column(2, "district id", e.to_string()))?,
        created_at: row.get(3)?,
    })
}

fn district_from_row(row: &Row<'_>) -> rusqlite::Result<DistrictRecord> {
    let raw: String = row.get(0)?;
    Ok(DistrictRecord {
        id: DistrictId::parse(&raw).map_err(|e| bad_column(0, "district id", e.to_string()))?,
        name: row.get(1)?,
        created_at: row.get(2)?,
    })
}

/// Whether `sql` (`SELECT 1 … WHERE id = ?1`) finds `id`.
fn exists(conn: &Connection, sql: &str, id: &str) -> rusqlite::Result<bool> {
    Ok(conn.query_row(sql, [id], |_| Ok(())).optional()?.is_some())
}

/// The district `id` exists, or the error that says it does not.
fn district_exists(conn: &Connection, id: &DistrictId) -> StoreResult<()> {
    if exists(conn, "SELECT 1 FROM districts WHERE id = ?1", id.as_str())? {
        Ok(())
    } else {
        Err(StoreError::Missing { what: "district", id: id.to_string() })
    }
}

fn optional_station(index: usize, raw: Option<String>) -> rusqlite::Result<Option<StationId>> {
    raw.map(|s| StationId::parse(&s)).transpose().map_err(|e| bad_column(index, "station id", e.to_string()))
}

fn console_user_from_row(row: &Row<'_>) -> rusqlite::Result<ConsoleUserRecord> {
    let role: String = row.get(2)?;
    let station = optional_station(3, row.get(3)?)?;
    let district: Option<String> = row.get(4)?;
    let district = district.map(|d| DistrictId::parse(&d)).transpose().map_err(|e| bad_column(4, "district id", e.to_string()))?;
    let member: Option<String> = row.get(5)?;
    let role = console_role(&role, station, district).map_err(|e| bad_column(2, "console role", e))?;
    Ok(ConsoleUserRecord {
        username: row.get(0)?,
        password_hash: row.get(1)?,
        role,
        member: member.map(|m| MemberId::parse(&m)).transpose().map_err(|e| bad_column(5, "member id", e.to_string()))?,
        created_at: row.get(6)?,
    })
}

fn session_from_row(row: &Row<'_>) -> rusqlite::Result<ConsoleSessionRecord> {
    let hash: Vec<u8> = row.get(0)?;
    Ok(ConsoleSessionRecord {
        token_hash: hash.try_into().map_err(|_| bad_column(0, "session hash", "not 32 bytes".into()))?,
        username: row.get(1)?,
        csrf: row.get(2)?,
        created_at: row.get(3)?,
        last_seen: row.get(4)?,
    })
}

fn audit_from_row(row: &Row<'_>) -> rusqlite::Result<AuditRecord> {
    Ok(AuditRecord {
        at: row.get(0)?,
        username: row.get(1)?,
        station: optional_station(2, row.get(2)?)?,
        action: row.get(3)?,
        target: row.get(4)?,
        detail: row.get(5)?,
    })
}

fn device_from_row(row: &Row<'_>) -> rusqlite::Result<DeviceRecord> {
    let member: String = row.get(1)?;
    Ok(DeviceRecord {
        id: row.get(0)?,
        member: MemberId::parse(&member).map_err(|e| bad_column(1, "member id", e.to_string()))?,
        actor: row.get(2)?,
        created_at: row.get(3)?,
        revoked_at: row.get(4)?,
        signing_key: row.get(5)?,
    })
}

fn tag_from_row(row: &Row<'_>) -> rusqlite::Result<TagRecord> {
    let station: String = row.get(1)?;
    let elder: String = row.get(2)?;
    Ok(TagRecord {
        uid: row.get(0)?,
        station: StationId::parse(&station).map_err(|e| bad_column(1, "station id", e.to_string()))?,
        elder: MemberId::parse(&elder).map_err(|e| bad_column(2, "member id", e.to_string()))?,
        registered_at: row.get(3)?,
        registered_by: row.get(4)?,
        revoked_at: row.get(5)?,
        revoked_why: row.get(6)?,
    })
}

fn insert_documents(tx: &Transaction<'_>, documents: &[NewDocument], at: Millis) -> StoreResult<()> {
    for doc in documents {
        let inserted = tx.execute(
            "INSERT INTO documents (doc_id, snapshot) VALUES (?1, ?2) ON CONFLICT(doc_id) DO NOTHING",
            params![doc.id, doc.snapshot],
        )?;
        if inserted == 0 {
            return Err(StoreError::Duplicate { what: "document", id: doc.id.clone() });
        }
        tx.execute("INSERT INTO document_versions (doc_id, generation, updated_at) VALUES (?1, 1, ?2)", params![doc.id, at])?;
    }
    Ok(())
}

fn write_batch_in(tx: &Transaction<'_>, batch: &WriteBatch, at: Millis) -> StoreResult<HashMap<String, i64>> {
    let mut generations = HashMap::new();
    for (doc, bytes) in &batch.chunks {
        let generation: Option<i64> = tx
            .prepare_cached(
                // The small row beside the snapshot: the snapshot itself is not rewritten.
                "UPDATE document_versions SET generation = generation + 1, updated_at = ?2 WHERE doc_id = ?1
                 RETURNING generation",
            )?
            .query_row(params![doc, at], |row| row.get(0))
            .optional()?;
        let Some(generation) = generation else {
            return Err(StoreError::Missing { what: "document", id: doc.clone() });
        };
        tx.prepare_cached("INSERT INTO chunks (doc_id, bytes) VALUES (?1, ?2)")?.execute(params![doc, bytes])?;
        generations.insert(doc.clone(), generation);
    }
    for ack in &batch.acks {
        tx.prepare_cached(
            "INSERT INTO sync_state (device, doc_id, cur_heads, prev_heads, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(device, doc_id) DO UPDATE SET cur_heads = excluded.cur_heads,
                 prev_heads = excluded.prev_heads, updated_at = excluded.updated_at",
        )?
        .execute(params![ack.device, ack.doc, heads_blob(&ack.heads.cur), heads_blob(&ack.heads.prev), at])?;
    }
    for entry in &batch.audits {
        insert_audit_in(tx, entry)?;
    }
    if let Some(folded) = batch.ledger_folded {
        tx.prepare_cached("UPDATE ledger_state SET value = max(value, ?1) WHERE key = 'folded_seq'")?.execute([folded])?;
    }
    for moved in &batch.moves {
        let changed = tx.prepare_cached("UPDATE members SET station = ?3 WHERE id = ?1 AND station = ?2")?.execute(params![
            moved.member.as_str(),
            moved.from.as_str(),
            moved.to.as_str()
        ])?;
        if changed != 1 {
            return Err(crate::store::moved_meanwhile(moved));
        }
        tx.prepare_cached(
            "UPDATE tags SET revoked_at = ?3, revoked_why = ?4 WHERE elder = ?1 AND station = ?2 AND revoked_at IS NULL",
        )?
        .execute(params![moved.member.as_str(), moved.from.as_str(), moved.at, moved.tags_revoked_why()])?;
    }
    if let Some(update) = &batch.usage {
        tx.prepare_cached(
            "INSERT INTO device_usage (device, day, changes, bytes) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(device, day) DO UPDATE SET changes = changes + excluded.changes, bytes = bytes + excluded.bytes",
        )?
        .execute(params![update.device, update.day, update.usage.changes, update.usage.bytes])?;
    }
    Ok(generations)
}

fn insert_audit_in(tx: &Transaction<'_>, entry: &AuditRecord) -> StoreResult<()> {
    tx.prepare_cached("INSERT INTO console_audit (at, username, station, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
        .execute(params![
            entry.at,
            entry.username,
            entry.station.as_ref().map(StationId::as_str),
            entry.action,
            entry.target,
            entry.detail
        ])?;
    Ok(())
}

fn append_ledger_events_in(tx: &Transaction<'_>, events: &[NewLedgerEvent], at: Millis) -> StoreResult<Vec<LedgerEventRecord>> {
    let mut logged = Vec::new();
    // Without RETURNING, which SQLite serves through a table of its own per statement: an
    // insert that changed a row made the connection's last row id its seq.
    let mut insert =
        tx.prepare_cached("INSERT INTO ledger_events (key, body, received_at) VALUES (?1, ?2, ?3) ON CONFLICT(key) DO NOTHING")?;
    for event in events {
        if insert.execute(params![event.key, event.body, at])? == 1 {
            let seq = tx.last_insert_rowid();
            logged.push(LedgerEventRecord { seq, key: event.key.clone(), body: event.body.clone(), received_at: at });
        }
    }
    Ok(logged)
}

const POSTING_COLUMNS: &str = "key, kind, debit, credit, minutes, subject, memo, by_member, event_seq, posted_at";

fn posting_from_row(row: &Row<'_>) -> rusqlite::Result<PostingRecord> {
    Ok(PostingRecord {
        key: row.get(0)?,
        kind: row.get(1)?,
        debit: row.get(2)?,
        credit: row.get(3)?,
        minutes: row.get(4)?,
        subject: row.get(5)?,
        memo: row.get(6)?,
        by: row.get(7)?,
        event: row.get(8)?,
        at: row.get(9)?,
    })
}

impl RelayStore for SqliteStore {
    fn register_relay_actor(&self, actor: &str, at: Millis) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO relay_actors (actor, registered_at) VALUES (?1, ?2) ON CONFLICT(actor) DO NOTHING",
                rusqlite::params![actor, at],
            )?;
            Ok(())
        })
    }

    fn is_relay_actor(&self, actor: &str) -> StoreResult<bool> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT 1 FROM relay_actors WHERE actor = ?1")?
                .query_row([actor], |_| Ok(()))
                .optional()?
                .is_some())
        })
    }

    fn relay_secret(&self, name: &str, fresh: &[u8; 32]) -> StoreResult<[u8; 32]> {
        let key = format!("secret:{name}");
        let known: Option<String> =
            self.read(|conn| conn.query_row("SELECT value FROM relay_meta WHERE key = ?1", [&key], |row| row.get(0)).optional())?;
        let corrupt = || StoreError::Corrupt(format!("the relay's secret {name} is not 32 bytes of hex"));
        if let Some(stored) = known {
            // Set before: read without taking the writer (a tag's keys are read at every sync with a tap).
            return from_hex(&stored).ok_or_else(corrupt);
        }
        let stored: String = self.write(|tx| {
            tx.execute(
                "INSERT INTO relay_meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO NOTHING",
                params![key, hex::encode(fresh)],
            )?;
            Ok(tx.query_row("SELECT value FROM relay_meta WHERE key = ?1", [&key], |row| row.get(0))?)
        })?;
        from_hex(&stored).ok_or_else(corrupt)
    }

    fn document(&self, doc: &str) -> StoreResult<Option<StoredDocument>> {
        self.read(|conn| {
            let head: Option<(Vec<u8>, i64)> = conn
                .prepare_cached(
                    "SELECT d.snapshot, v.generation FROM documents d JOIN document_versions v ON v.doc_id = d.doc_id
                 WHERE d.doc_id = ?1",
                )?
                .query_row([doc], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()?;
            let Some((snapshot, generation)) = head else { return Ok(None) };
            let mut stored = StoredDocument { bytes: snapshot, generation, chunk_count: 0 };
            let mut chunks = conn.prepare_cached("SELECT bytes FROM chunks WHERE doc_id = ?1 ORDER BY id")?;
            let mut rows = chunks.query([doc])?;
            while let Some(row) = rows.next()? {
                stored.bytes.extend_from_slice(row.get_ref(0)?.as_blob()?);
                stored.chunk_count += 1;
            }
            Ok(Some(stored))
        })
    }

    fn document_generations(&self, docs: &[String]) -> StoreResult<HashMap<String, i64>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached("SELECT generation FROM document_versions WHERE doc_id = ?1")?;
            let mut found = HashMap::with_capacity(docs.len());
            for doc in docs {
                if let Some(generation) = stmt.query_row([doc], |row| row.get::<_, i64>(0)).optional()? {
                    found.insert(doc.clone(), generation);
                }
            }
            Ok(found)
        })
    }

    fn document_ids(&self) -> StoreResult<Vec<String>> {
        self.read(|conn| {
            let mut stmt = conn.prepare("SELECT doc_id FROM documents ORDER BY doc_id")?;
            stmt.query_map([], |row| row.get(0))?.collect()
        })
    }

    fn write_batch(&self, batch: &WriteBatch, at: Millis) -> StoreResult<HashMap<String, i64>> {
        if batch.is_empty() {
            return Ok(HashMap::new());
        }
        self.write(|tx| write_batch_in(tx, batch, at))
    }

    fn write_sync(
        &self,
        batch: &WriteBatch,
        events: &[NewLedgerEvent],
        at: Millis,
    ) -> StoreResult<(HashMap<String, i64>, Vec<LedgerEventRecord>)> {
        if batch.is_empty() && events.is_empty() {
            return Ok((HashMap::new(), Vec::new()));
        }
        self.write(|tx| Ok((write_batch_in(tx, batch, at)?, append_ledger_events_in(tx, events, at)?)))
    }

    fn write_syncs(&self, items: &[(&WriteBatch, &[NewLedgerEvent])], at: Millis) -> Vec<StoreResult<SyncWritten>> {
        if items.is_empty() {
            return Vec::new();
        }
        if let [(batch, events)] = items {
            // A group of one needs no savepoint: if it fails, the transaction is rolled back.
            return vec![self.write_sync(batch, events, at)];
        }
        // One transaction, one fsync, for the whole group; each item in a savepoint of its
        // own, so one that fails (a document another process removed) fails alone.
        let mut results = Vec::with_capacity(items.len());
        let outcome = self.write(|tx| {
            for (batch, events) in items {
                tx.execute_batch("SAVEPOINT item")?;
                let written = write_batch_in(tx, batch, at).and_then(|g| Ok((g, append_ledger_events_in(tx, events, at)?)));
                match &written {
                    Ok(_) => tx.execute_batch("RELEASE item")?,
                    Err(_) => tx.execute_batch("ROLLBACK TO item; RELEASE item")?,
                }
                results.push(written);
            }
            Ok(())
        });
        match outcome {
            Ok(()) => results,
            // The commit itself failed: nothing of the group is stored.
            Err(error) => items.iter().map(|_| Err(StoreError::Backend(error.to_string()))).collect(),
        }
    }

    fn compact_document(&self, doc: &str, snapshot: &[u8], generation: i64) -> StoreResult<bool> {
        self.write(|tx| {
            let updated = tx.execute(
                "UPDATE documents SET snapshot = ?2 WHERE doc_id = ?1
                 AND (SELECT generation FROM document_versions WHERE doc_id = ?1) = ?3",
                params![doc, snapshot, generation],
            )?;
            if updated == 1 {
                tx.execute("DELETE FROM chunks WHERE doc_id = ?1", [doc])?;
            }
            Ok(updated == 1)
        })
    }

    fn create_district(&self, district: &DistrictRecord) -> StoreResult<()> {
        self.write(|tx| {
            let inserted = tx.execute(
                "INSERT INTO districts (id, name, created_at) VALUES (?1, ?2, ?3) ON CONFLICT(id) DO NOTHING",
                params![district.id.as_str(), district.name, district.created_at],
            )?;
            if inserted == 0 {
                return Err(StoreError::Duplicate { what: "district", id: district.id.to_string() });
            }
            Ok(())
        })
    }

    fn districts(&self) -> StoreResult<Vec<DistrictRecord>> {
        self.read(|conn| {
            let mut stmt = conn.prepare("SELECT id, name, created_at FROM districts ORDER BY id")?;
            stmt.query_map([], district_from_row)?.collect()
        })
    }

    fn move_station(&self, station: &StationId, district: &DistrictId) -> StoreResult<()> {
        self.write(|tx| {
            district_exists(tx, district)?;
            let moved = tx.execute(
                "UPDATE station_districts SET district = ?2 WHERE station = ?1",
                params![station.as_str(), district.as_str()],
            )?;
            if moved == 0 {
                return Err(StoreError::Missing { what: "station", id: station.to_string() });
            }
            Ok(())
        })
    }

    fn create_station(&self, station: &StationRecord, documents: &[NewDocument]) -> StoreResult<()> {
        self.write(|tx| {
            district_exists(tx, &station.district)?;
            let inserted = tx.execute(
                "INSERT INTO stations (id, name, created_at) VALUES (?1, ?2, ?3) ON CONFLICT(id) DO NOTHING",
                params![station.id.as_str(), station.name, station.created_at],
            )?;
            if inserted == 0 {
                return Err(StoreError::Duplicate { what: "station", id: station.id.to_string() });
            }
            tx.execute(
                "INSERT INTO station_districts (station, district) VALUES (?1, ?2)",
                params![station.id.as_str(), station.district.as_str()],
            )?;
            insert_documents(tx, documents, station.created_at)
        })
    }

    fn station(&self, id: &StationId) -> StoreResult<Option<StationRecord>> {
        self.read(|conn| conn.query_row(&format!("{STATION_SELECT} WHERE s.id = ?1"), [id.as_str()], station_from_row).optional())
    }

    fn stations(&self) -> StoreResult<Vec<StationRecord>> {
        self.read(|conn| {
            let mut stmt = conn.prepare(&format!("{STATION_SELECT} ORDER BY s.id"))?;
            stmt.query_map([], station_from_row)?.collect()
        })
    }

    fn member_contact(&self, id: &MemberId) -> StoreResult<MemberContact> {
        self.read(|conn| {
            conn.query_row("SELECT phone, id_last4, address FROM member_contacts WHERE member = ?1", [id.as_str()], |row| {
                Ok(MemberContact { phone: row.get(0)?, id_last4: row.get(1)?, address: row.get(2)? })
            })
            .optional()
        })
        .map(Option::unwrap_or_default)
    }

    fn erase_member_contact(&self, id: &MemberId, audit: Option<&AuditRecord>) -> StoreResult<bool> {
        self.write(|tx| {
            let known = tx.query_row("SELECT 1 FROM members WHERE id = ?1", [id.as_str()], |_| Ok(())).optional()?.is_some();
            if !known {
                return Err(StoreError::Missing { what: "member", id: id.to_string() });
            }
            let erased = tx.execute("DELETE FROM member_contacts WHERE member = ?1", [id.as_str()])? > 0;
            audit.map_or(Ok(()), |entry| insert_audit_in(tx, entry))?;
            Ok(erased)
        })
        .inspect(|_| self.checkpoint())
    }

    fn create_member(
        &self,
        member: &MemberRecord,
        contact: &MemberContact,
        documents: &[NewDocument],
        audit: Option<&AuditRecord>,
    ) -> StoreResult<()> {
        self.write(|tx| {
            let station_exists =
                tx.query_row("SELECT 1 FROM stations WHERE id = ?1", [member.station.as_str()], |_| Ok(())).optional()?.is_some();
            if !station_exists {
                return Err(StoreError::Missing { what: "station", id: member.station.to_string() });
            }
            let inserted = tx.execute(
                "INSERT INTO members (id, station, role, display_name, birth_year, household, created_at, hardship)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(id) DO NOTHING",
                params![
                    member.id.as_str(),
                    member.station.as_str(),
                    member.role.as_str(),
                    member.display_name,
                    member.birth_year,
                    member.household.as_ref().map(HouseholdId::as_str),
                    member.created_at,
                    i64::from(member.hardship)
                ],
            )?;
            if inserted == 0 {
                return Err(StoreError::Duplicate { what: "member", id: member.id.to_string() });
            }
            if *contact != MemberContact::default() {
                tx.execute(
                    "INSERT INTO member_contacts (member, phone, id_last4, address) VALUES (?1, ?2, ?3, ?4)",
                    params![member.id.as_str(), contact.phone, contact.id_last4, contact.address],
                )?;
            }
            insert_documents(tx, documents, member.created_at)?;
            audit.map_or(Ok(()), |entry| insert_audit_in(tx, entry))
        })
    }

    fn member(&self, id: &MemberId) -> StoreResult<Option<MemberRecord>> {
        self.read(|conn| {
            conn.prepare_cached(&format!("SELECT {MEMBER_COLUMNS} FROM members WHERE id = ?1"))?
                .query_row([id.as_str()], member_from_row)
                .optional()
        })
    }

    fn station_members(&self, station: &StationId) -> StoreResult<Vec<MemberRecord>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!("SELECT {MEMBER_COLUMNS} FROM members WHERE station = ?1 ORDER BY id"))?;
            stmt.query_map([station.as_str()], member_from_row)?.collect()
        })
    }

    fn add_enrollment_code(&self, code: &EnrollmentCode, audit: Option<&AuditRecord>) -> StoreResult<()> {
        self.write(|tx| {
            let member_exists =
                tx.query_row("SELECT 1 FROM members WHERE id = ?1", [code.member.as_str()], |_| Ok(())).optional()?.is_some();
            if !member_exists {
                return Err(StoreError::Missing { what: "member", id: code.member.to_string() });
            }
            tx.execute(
                "INSERT INTO enrollment_codes (code_hash, member, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![code.code_hash, code.member.as_str(), code.created_at, code.expires_at],
            )?;
            audit.map_or(Ok(()), |entry| insert_audit_in(tx, entry))
        })
    }

    fn enroll_device(
        &self,
        code_hash: &SecretHash,
        device: &NewDevice,
        now: Millis,
    ) -> StoreResult<Result<MemberRecord, EnrollRefusal>> {
        self.write(|tx| {
            let code: Option<(String, Millis, Option<Millis>)> = tx
                .query_row("SELECT member, expires_at, used_at FROM enrollment_codes WHERE code_hash = ?1", [code_hash], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })
                .optional()?;
            let Some((member, expires_at, used_at)) = code else { return Ok(Err(EnrollRefusal::UnknownCode)) };
            if let Some(at) = used_at {
                return Ok(Err(EnrollRefusal::AlreadyUsed { at }));
            }
            if now >= expires_at {
                return Ok(Err(EnrollRefusal::Expired { at: expires_at }));
            }
            let taken = tx.query_row("SELECT 1 FROM devices WHERE actor = ?1", [&device.actor], |_| Ok(())).optional()?.is_some();
            if taken {
                return Ok(Err(EnrollRefusal::ActorTaken));
            }
            tx.execute(
                "INSERT INTO devices (id, member, actor, token_hash, created_at, signing_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![device.id, member, device.actor, device.token_hash, now, device.signing_key],
            )?;
            tx.execute(
                "UPDATE enrollment_codes SET used_at = ?2, device = ?3 WHERE code_hash = ?1",
                params![code_hash, now, device.id],
            )?;
            let record = tx.query_row(&format!("SELECT {MEMBER_COLUMNS} FROM members WHERE id = ?1"), [&member], member_from_row)?;
            Ok(Ok(record))
        })
    }

    fn device_by_token(&self, token_hash: &SecretHash) -> StoreResult<Option<DeviceRecord>> {
        self.read(|conn| {
            conn.prepare_cached(&format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE token_hash = ?1"))?
                .query_row([token_hash], device_from_row)
                .optional()
        })
    }

    fn device_by_actor(&self, actor: &str) -> StoreResult<Option<DeviceRecord>> {
        self.read(|conn| {
            conn.prepare_cached(&format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE actor = ?1"))?
                .query_row([actor], device_from_row)
                .optional()
        })
    }

    fn devices(&self) -> StoreResult<Vec<DeviceRecord>> {
        self.read(|conn| {
            let mut stmt = conn.prepare(&format!("SELECT {DEVICE_COLUMNS} FROM devices ORDER BY created_at, id"))?;
            stmt.query_map([], device_from_row)?.collect()
        })
    }

    fn revoke_device(&self, id: &str, at: Millis, audit: Option<&AuditRecord>) -> StoreResult<Revocation> {
        self.write(|tx| {
            let found: Option<Option<Millis>> =
                tx.query_row("SELECT revoked_at FROM devices WHERE id = ?1", [id], |row| row.get(0)).optional()?;
            Ok(match found {
                None => Revocation::Unknown,
                Some(Some(at)) => Revocation::AlreadyRevoked { at },
                Some(None) => {
                    tx.execute("UPDATE devices SET revoked_at = ?2 WHERE id = ?1", params![id, at])?;
                    audit.map_or(Ok(()), |entry| insert_audit_in(tx, entry))?;
                    Revocation::Revoked
                }
            })
        })
    }

    fn register_tag(&self, tag: &TagRecord, audit: Option<&AuditRecord>) -> StoreResult<()> {
        self.write(|tx| {
            let inserted = tx.execute(
                "INSERT INTO tags (uid, station, elder, registered_at, registered_by) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(uid) DO NOTHING",
                params![tag.uid, tag.station.as_str(), tag.elder.as_str(), tag.registered_at, tag.registered_by],
            )?;
            if inserted == 0 {
                return Err(StoreError::Duplicate { what: "tag", id: tag.uid.clone() });
            }
            audit.map_or(Ok(()), |entry| insert_audit_in(tx, entry))
        })
    }

    fn tag(&self, uid: &str) -> StoreResult<Option<TagRecord>> {
        self.read(|conn| {
            conn.prepare_cached(&format!("SELECT {TAG_COLUMNS} FROM tags WHERE uid = ?1"))?.query_row([uid], tag_from_row).optional()
        })
    }

    fn station_tags(&self, station: &StationId) -> StoreResult<Vec<TagRecord>> {
        self.read(|conn| {
            let mut stmt =
                conn.prepare(&format!("SELECT {TAG_COLUMNS} FROM tags WHERE station = ?1 ORDER BY elder, registered_at, uid"))?;
            stmt.query_map([station.as_str()], tag_from_row)?.collect()
        })
    }

    fn revoke_tag(&self, uid: &str, at: Millis, why: &str, audit: Option<&AuditRecord>) -> StoreResult<Revocation> {
        self.write(|tx| {
            let found: Option<Option<Millis>> =
                tx.query_row("SELECT revoked_at FROM tags WHERE uid = ?1", [uid], |row| row.get(0)).optional()?;
            Ok(match found {
                None => Revocation::Unknown,
                Some(Some(at)) => Revocation::AlreadyRevoked { at },
                Some(None) => {
                    tx.execute("UPDATE tags SET revoked_at = ?2, revoked_why = ?3 WHERE uid = ?1", params![uid, at, why])?;
                    audit.map_or(Ok(()), |entry| insert_audit_in(tx, entry))?;
                    Revocation::Revoked
                }
            })
        })
    }

    fn device_usage(&self, device: &str, day: i64) -> StoreResult<DeviceUsage> {
        self.read(|conn| {
            conn.prepare_cached("SELECT changes, bytes FROM device_usage WHERE device = ?1 AND day = ?2")?
                .query_row(params![device, day], |row| Ok(DeviceUsage { changes: row.get(0)?, bytes: row.get(1)? }))
                .optional()
                .map(Option::unwrap_or_default)
        })
    }

    fn mark_over_quota(&self, device: &str, day: i64) -> StoreResult<bool> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO device_usage (device, day) VALUES (?1, ?2) ON CONFLICT(device, day) DO NOTHING",
                params![device, day],
            )?;
            let marked = tx
                .execute("UPDATE device_usage SET refused = 1 WHERE device = ?1 AND day = ?2 AND refused = 0", params![device, day])?;
            Ok(marked == 1)
        })
    }

    fn acked_heads(&self, device: &str) -> StoreResult<HashMap<String, AckedHeads>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached("SELECT doc_id, cur_heads, prev_heads FROM sync_state WHERE device = ?1")?;
            let rows = stmt.query_map([device], |row| {
                let cur: Vec<u8> = row.get(1)?;
                let prev: Vec<u8> = row.get(2)?;
                Ok((row.get::<_, String>(0)?, AckedHeads { cur: heads_from_blob(&cur), prev: heads_from_blob(&prev) }))
            })?;
            rows.collect()
        })
    }

    fn append_ledger_events(&self, events: &[NewLedgerEvent], at: Millis) -> StoreResult<Vec<LedgerEventRecord>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        self.write(|tx| append_ledger_events_in(tx, events, at))
    }

    fn ledger_events(&self, after: i64) -> StoreResult<Vec<LedgerEventRecord>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached("SELECT seq, key, body, received_at FROM ledger_events WHERE seq > ?1 ORDER BY seq")?;
            stmt.query_map([after], |row| {
                Ok(LedgerEventRecord { seq: row.get(0)?, key: row.get(1)?, body: row.get(2)?, received_at: row.get(3)? })
            })?
            .collect()
        })
    }

    /// Pages of [`LOG_PAGE`] events, each read in its own short read transaction (a long
    /// one would keep the write-ahead log from being checkpointed meanwhile), each body
    /// handed over from SQLite's row, not copied.
    fn read_ledger_log(&self, after: i64, each: &mut dyn FnMut(LoggedEvent<'_>) -> StoreResult<()>) -> StoreResult<()> {
        let mut after = after;
        loop {
            let mut failed = None;
            let (read, last) = self.read(|conn| {
                let mut stmt =
                    conn.prepare_cached("SELECT seq, body, received_at FROM ledger_events WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
                let mut rows = stmt.query(params![after, LOG_PAGE])?;
                let (mut read, mut last) = (0, after);
                while let Some(row) = rows.next()? {
                    let seq: i64 = row.get(0)?;
                    let body = row.get_ref(1)?.as_str().map_err(|e| bad_column(1, "ledger event", e.to_string()))?;
                    (read, last) = (read + 1, seq);
                    if let Err(error) = each(LoggedEvent { seq, body, received_at: row.get(2)? }) {
                        failed = Some(error);
                        break;
                    }
                }
                Ok((read, last))
            })?;
            if let Some(error) = failed {
                return Err(error);
            }
            if read < LOG_PAGE {
                return Ok(());
            }
            after = last;
        }
    }

    fn ledger_events_keyed(&self, keys: &[String]) -> StoreResult<Vec<LedgerEventRecord>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached("SELECT seq, key, body, received_at FROM ledger_events WHERE key = ?1")?;
            let mut found = Vec::new();
            for key in keys {
                let row = stmt
                    .query_row([key], |row| {
                        Ok(LedgerEventRecord { seq: row.get(0)?, key: row.get(1)?, body: row.get(2)?, received_at: row.get(3)? })
                    })
                    .optional()?;
                found.extend(row);
            }
            found.sort_by_key(|e| e.seq);
            found.dedup_by_key(|e| e.seq);
            Ok(found)
        })
    }

    fn append_postings(&self, postings: &[PostingRecord], documents: &WriteBatch, at: Millis) -> StoreResult<HashMap<String, i64>> {
        if postings.is_empty() && documents.is_empty() {
            return Ok(HashMap::new());
        }
        self.write_derived(|tx| {
            let mut insert = tx.prepare_cached(&format!(
                "INSERT INTO postings ({POSTING_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT(key) DO NOTHING"
            ))?;
            for p in postings {
                insert.execute(params![p.key, p.kind, p.debit, p.credit, p.minutes, p.subject, p.memo, p.by, p.event, p.at])?;
            }
            write_batch_in(tx, documents, at)
        })
    }

    fn ledger_progress(&self) -> StoreResult<LedgerProgress> {
        self.read(|conn| {
            let logged: i64 = conn.query_row("SELECT coalesce(max(seq), 0) FROM ledger_events", [], |row| row.get(0))?;
            let folded: i64 = conn.query_row("SELECT value FROM ledger_state WHERE key = 'folded_seq'", [], |row| row.get(0))?;
            Ok(LedgerProgress { logged, folded })
        })
    }

    fn postings(&self) -> StoreResult<Vec<PostingRecord>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!("SELECT {POSTING_COLUMNS} FROM postings ORDER BY seq"))?;
            stmt.query_map([], posting_from_row)?.collect()
        })
    }

    fn create_console_user(&self, user: &ConsoleUserRecord) -> StoreResult<()> {
        self.write(|tx| {
            if let Some(station) = user.role.station()
                && !exists(tx, "SELECT 1 FROM stations WHERE id = ?1", station.as_str())?
            {
                return Err(StoreError::Missing { what: "station", id: station.to_string() });
            }
            if let Some(district) = user.role.district() {
                district_exists(tx, district)?;
            }
            if let Some(member) = &user.member {
                let exists = tx.query_row("SELECT 1 FROM members WHERE id = ?1", [member.as_str()], |_| Ok(())).optional()?;
                if exists.is_none() {
                    return Err(StoreError::Missing { what: "member", id: member.to_string() });
                }
            }
            let role = console_role_name(&user.role);
            let inserted = tx.execute(
                "INSERT INTO console_users (username, password_hash, role, station, district, member, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(username) DO NOTHING",
                params![
                    user.username,
                    user.password_hash,
                    role,
                    user.role.station().map(StationId::as_str),
                    user.role.district().map(DistrictId::as_str),
                    user.member.as_ref().map(MemberId::as_str),
                    user.created_at
                ],
            )?;
            if inserted == 0 {
                return Err(StoreError::Duplicate { what: "console user", id: user.username.clone() });
            }
            Ok(())
        })
    }

    fn console_user(&self, username: &str) -> StoreResult<Option<ConsoleUserRecord>> {
        self.read(|conn| {
            conn.query_row(
                "SELECT username, password_hash, role, station, district, member, created_at FROM console_users WHERE username = ?1",
                [username],
                console_user_from_row,
            )
            .optional()
        })
    }

    fn create_console_session(&self, session: &ConsoleSessionRecord, audit: Option<&AuditRecord>) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO console_sessions (token_hash, username, csrf, created_at, last_seen) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![session.token_hash, session.username, session.csrf, session.created_at, session.last_seen],
            )?;
            audit.map_or(Ok(()), |entry| insert_audit_in(tx, entry))
        })
    }

    fn console_session(&self, token_hash: &SecretHash) -> StoreResult<Option<ConsoleSessionRecord>> {
        self.read(|conn| {
            conn.query_row(
                "SELECT token_hash, username, csrf, created_at, last_seen FROM console_sessions WHERE token_hash = ?1",
                [token_hash],
                session_from_row,
            )
            .optional()
        })
    }

    fn touch_console_session(&self, token_hash: &SecretHash, at: Millis) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute("UPDATE console_sessions SET last_seen = max(last_seen, ?2) WHERE token_hash = ?1", params![token_hash, at])?;
            Ok(())
        })
    }

    fn end_console_session(&self, token_hash: &SecretHash, audit: Option<&AuditRecord>) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute("DELETE FROM console_sessions WHERE token_hash = ?1", [token_hash])?;
            audit.map_or(Ok(()), |entry| insert_audit_in(tx, entry))
        })
    }

    fn record_login_failure(&self, username: &str, at: Millis) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute("INSERT INTO console_login_failures (username, at) VALUES (?1, ?2)", params![username, at])?;
            Ok(())
        })
    }

    fn login_failures_since(&self, username: &str, since: Millis) -> StoreResult<Vec<Millis>> {
        self.read(|conn| {
            let mut stmt =
                conn.prepare_cached("SELECT at FROM console_login_failures WHERE username = ?1 AND at >= ?2 ORDER BY at, id")?;
            stmt.query_map(params![username, since], |row| row.get(0))?.collect()
        })
    }

    fn clear_login_failures(&self, username: &str) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute("DELETE FROM console_login_failures WHERE username = ?1", [username])?;
            Ok(())
        })
    }

    fn purge_console_state(&self, idle_before: Millis, started_before: Millis, failures_before: Millis) -> StoreResult<usize> {
        self.write(|tx| {
            let ended = tx.execute(
                "DELETE FROM console_sessions WHERE last_seen < ?1 OR created_at < ?2",
                params![idle_before, started_before],
            )?;
            tx.execute("DELETE FROM console_login_failures WHERE at < ?1", [failures_before])?;
            Ok(ended)
        })
    }

    fn record_audit(&self, entry: &AuditRecord) -> StoreResult<()> {
        self.write(|tx| insert_audit_in(tx, entry))
    }

    fn audit_entries(&self, station: Option<&StationId>, limit: usize) -> StoreResult<Vec<AuditRecord>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|conn| {
            let columns = "at, username, station, action, target, detail";
            match station {
                Some(station) => {
                    let mut stmt = conn.prepare_cached(&format!(
                        "SELECT {columns} FROM console_audit WHERE station = ?1 ORDER BY id DESC LIMIT ?2"
                    ))?;
                    stmt.query_map(params![station.as_str(), limit], audit_from_row)?.collect()
                }
                None => {
                    let mut stmt = conn.prepare_cached(&format!("SELECT {columns} FROM console_audit ORDER BY id DESC LIMIT ?1"))?;
                    stmt.query_map([limit], audit_from_row)?.collect()
                }
            }
        })
    }

    fn record_security_event(&self, event: &SecurityEvent) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO security_events (at, device, member, doc_id, reason) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![event.at, event.device, event.member, event.doc, event.reason],
            )?;
            Ok(())
        })
    }

    fn subscribe_changes(&self) -> StoreResult<Option<DocumentChanges>> {
        // One process writes the file at a time and reloads by generation; nobody to hear from.
        Ok(None)
    }

    fn security_events(&self) -> StoreResult<Vec<SecurityEvent>> {
        self.read(|conn| {
            let mut stmt = conn.prepare("SELECT at, device, member, doc_id, reason FROM security_events ORDER BY id")?;
            stmt.query_map([], |row| {
                Ok(SecurityEvent { at: row.get(0)?, device: row.get(1)?, member: row.get(2)?, doc: row.get(3)?, reason: row.get(4)? })
            })?
            .collect()
        })
    }

    fn security_event_count(&self) -> StoreResult<i64> {
        self.read(|conn| conn.query_row("SELECT COUNT(*) FROM security_events", [], |row| row.get(0)))
    }

    fn size_bytes(&self) -> StoreResult<u64> {
        let mut wal = self.path.as_os_str().to_owned();
        wal.push("-wal");
        let mut bytes = std::fs::metadata(&self.path)?.len();
        match std::fs::metadata(PathBuf::from(wal)) {
            Ok(meta) => bytes += meta.len(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(error.into()),
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::relay_store_suite!(|dir: &Path| SqliteStore::open(dir).unwrap());

    #[test]
    fn reads_that_panic_give_their_connection_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(SqliteStore::open(dir.path()).unwrap());
        for _ in 0..=MOST_READERS {
            let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let _: StoreResult<()> = store.read(|_| panic!("a read that fails half way"));
            }));
            assert!(panicked.is_err());
        }
        // Had each kept its connection, this read would wait for one for ever.
        let (done, finished) = std::sync::mpsc::channel();
        let reading = std::sync::Arc::clone(&store);
        std::thread::spawn(move || done.send(reading.read(|conn| conn.query_row("SELECT 1", [], |row| row.get::<_, i64>(0)))));
        let read = finished.recv_timeout(Duration::from_secs(10)).expect("the read found a free connection");
        assert_eq!(read.unwrap(), 1);
        assert!(store.readers.lock().unwrap().open <= MOST_READERS);
    }

    /// Another process (a second relay, an admin command) holding the write lock makes a
    /// write wait, not fail; it goes through once the lock is released.
    #[test]
    fn a_write_waits_for_another_process_lock_and_then_goes_through() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let other = Connection::open(dir.path().join(STORE_FILE)).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let held = Duration::from_millis(300);
        let releasing = std::thread::spawn(move || {
            std::thread::sleep(held);
            other.execute_batch("COMMIT").unwrap();
        });
        let started = std::time::Instant::now();
        let event = NewLedgerEvent { key: "request:r-1".into(), body: "{}".into() };
        let logged = store.append_ledger_events(std::slice::from_ref(&event), 1).expect("the write waited for the lock");
        assert_eq!(logged.len(), 1);
        assert!(started.elapsed() >= held, "the write went through only after the lock was released");
        releasing.join().unwrap();
    }

    #[test]
    fn an_erased_phone_number_is_gone_from_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let station = StationRecord {
            id: StationId::parse("s-1").unwrap(),
            name: "Caoyang".into(),
            district: DistrictId::parse(crate::store::DEFAULT_DISTRICT).unwrap(),
            created_at: 1,
        };
        store.create_station(&station, &[]).unwrap();
        let member = MemberRecord {
            id: MemberId::parse("m-1").unwrap(),
            station: station.id.clone(),
            role: Role::Elder,
            display_name: "Wang Fang".into(),
            birth_year: Some(1941),
            household: None,
            hardship: false,
            created_at: 2,
        };
        let phone = "13912345678";
        store.create_member(&member, &MemberContact { phone: Some(phone.into()), ..MemberContact::default() }, &[], None).unwrap();
        let held =
            |name: &str| std::fs::read(dir.path().join(name)).unwrap_or_default().windows(phone.len()).any(|w| w == phone.as_bytes());
        assert!(held(STORE_FILE) || held("relay.sqlite3-wal"), "the number was stored");
        assert!(store.erase_member_contact(&member.id, None).unwrap());
        assert!(!held(STORE_FILE) && !held("relay.sqlite3-wal"), "the number is overwritten, not only unlinked");
    }

    #[test]
    fn a_store_from_a_newer_relay_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        drop(SqliteStore::open(dir.path()).unwrap());
        let conn = Connection::open(dir.path().join(STORE_FILE)).unwrap();
        conn.pragma_update(None, "user_version", schema::latest_version() + 1).unwrap();
        drop(conn);
        let err = SqliteStore::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("update the relay"), "{err}");
        let conn = Connection::open(dir.path().join(STORE_FILE)).unwrap();
        assert_eq!(schema::version(&conn).unwrap(), schema::latest_version() + 1);
    }

    #[test]
    fn the_store_runs_in_wal_mode_with_full_sync_and_statement_journals_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        // The writer's connection: the one that commits (readers keep SQLite's defaults).
        let (mode, sync, temp): (String, i64, i64) = store
            .write(|tx| {
                let mode = tx.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
                let sync = tx.query_row("PRAGMA synchronous", [], |r| r.get(0))?;
                let temp = tx.query_row("PRAGMA temp_store", [], |r| r.get(0))?;
                Ok((mode, sync, temp))
            })
            .unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(sync, 2, "synchronous = FULL");
        assert_eq!(temp, 2, "temp_store = MEMORY");
    }

    #[test]
    fn a_long_write_ahead_log_is_copied_into_the_file_off_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let file = dir.path().join(STORE_FILE);
        let before = std::fs::metadata(&file).unwrap().len();
        // One commit of about 6 MiB: some 1,500 pages in the log, past the checkpoint's mark.
        store
            .write(|tx| {
                tx.execute_batch("CREATE TABLE filler (bytes BLOB)")?;
                let mut insert = tx.prepare("INSERT INTO filler (bytes) VALUES (zeroblob(4000))")?;
                for _ in 0..1_500 {
                    insert.execute([])?;
                }
                Ok(())
            })
            .unwrap();
        // SQLite's own checkpoint, which would run inside that commit, is replaced: the
        // checkpointing thread, rung by the commit, copies the log into the file.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::fs::metadata(&file).unwrap().len() < before + 5_000_000 {
            assert!(std::time::Instant::now() < deadline, "the log was not copied into the store's file within 20 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(store);
        let reopened = SqliteStore::open(dir.path()).unwrap();
        let rows: i64 = reopened.read(|conn| conn.query_row("SELECT count(*) FROM filler", [], |r| r.get(0))).unwrap();
        assert_eq!(rows, 1_500);
    }

    #[test]
    fn a_file_that_is_not_a_database_is_reported_as_damaged() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(STORE_FILE), vec![b'x'; 8192]).unwrap();
        let err = SqliteStore::open(dir.path()).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    }
}
