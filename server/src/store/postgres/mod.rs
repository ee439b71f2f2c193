//! The PostgreSQL backend of [`RelayStore`] (ADR 26): several relay processes on one
//! database. A deadpool pool of tokio-postgres connections whose sockets a small runtime
//! of the store's own drives; each synchronous trait method waits for its statements on
//! the calling thread, so it may be called from any thread, as SQLite's are. Every method
//! is one transaction (read committed); the rows a write changes are locked in one order
//! (no two relays deadlock), and the arrival log and postings take their numbers one
//! transaction at a time, so they are numbered in the order they commit.

mod changes;
mod pipeline;
mod rows;
pub mod schema;

use std::collections::HashMap;
use std::error::Error as _;
use std::future::Future;
use std::time::Duration;

use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime, Transaction};
use timebank_engine::model::{DistrictId, HouseholdId, MemberId, StationId};
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Config, NoTls, Row};

use crate::store::encoding::{console_role_name, from_hex, heads_from_blob};
use crate::store::{
    AckedHeads, AuditRecord, ConsoleSessionRecord, ConsoleUserRecord, DeviceRecord, DeviceUsage, DistrictRecord, DocumentChanges,
    EnrollRefusal, EnrollmentCode, LedgerEventRecord, LedgerProgress, MemberContact, MemberRecord, Millis, NewDevice, NewDocument,
    NewLedgerEvent, PostingRecord, RelayStore, Revocation, SecretHash, SecurityEvent, StationRecord, StoreError, StoreResult,
    StoredDocument, SyncWritten, TagRecord, WriteBatch,
};
use rows::{
    DEVICE_COLUMNS, MEMBER_COLUMNS, POSTING_COLUMNS, STATION_SELECT, TAG_COLUMNS, audit_from_row, console_user_from_row,
    device_from_row, district_from_row, ledger_event_from_row, member_from_row, posting_from_row, security_event_from_row,
    session_from_row, station_from_row, tag_from_row,
};

/// How long opening a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a transaction that lost a deadlock or serialization race is run again.
const CONFLICT_RETRIES: u32 = 3;

/// Threads of the store's runtime (they move bytes between sockets and callers).
const IO_THREADS: usize = 2;

/// How to reach the database, and how much of it the relay may use.
#[derive(Clone, PartialEq, Eq)]
pub struct PgSettings {
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (or `host=… dbname=…`).
    pub url: String,
    /// Connections in the pool: how many store calls run at once.
    pub pool_size: usize,
    /// The longest one statement may run, lock waits included, before PostgreSQL cancels
    /// it (and its transaction, which then changes nothing).
    pub statement_timeout: Duration,
}

impl PgSettings {
    /// Connections, unless the operator says otherwise.
    pub const DEFAULT_POOL_SIZE: usize = 16;
    /// Statement timeout, unless the operator says otherwise.
    pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(10);

    /// The database at `url` with the default pool and timeout.
    pub fn new(url: impl Into<String>) -> PgSettings {
        PgSettings {
            url: url.into(),
            pool_size: PgSettings::DEFAULT_POOL_SIZE,
            statement_timeout: PgSettings::DEFAULT_STATEMENT_TIMEOUT,
        }
    }
}

impl std::fmt::Debug for PgSettings {
    /// Never prints the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let target = self.url.parse::<Config>().map_or_else(|_| "(not a connection string)".to_owned(), |c| describe_target(&c));
        f.debug_struct("PgSettings")
            .field("database", &target)
            .field("pool_size", &self.pool_size)
            .field("statement_timeout", &self.statement_timeout)
            .finish()
    }
}

/// `user@host:port/database`, for messages (never the password).
fn describe_target(config: &Config) -> String {
    let host = config.get_hosts().first().map_or_else(
        || "localhost".to_owned(),
        |host| match host {
            Host::Tcp(name) => name.clone(),
            Host::Unix(path) => path.display().to_string(),
        },
    );
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("");
    let database = config.get_dbname().unwrap_or(user);
    format!("{user}@{host}:{port}/{database}")
}

/// Why a statement or a connection failed, before it becomes a [`StoreError`].
#[derive(Debug)]
pub(crate) enum Fault {
    /// PostgreSQL (or the connection to it) refused or failed.
    Db(tokio_postgres::Error),
    /// No connection could be had.
    Pool(PoolError),
    /// The store's own verdict (a duplicate, a missing record, a damaged row).
    Store(StoreError),
}

impl From<tokio_postgres::Error> for Fault {
    fn from(error: tokio_postgres::Error) -> Self {
        Fault::Db(error)
    }
}

impl From<PoolError> for Fault {
    fn from(error: PoolError) -> Self {
        Fault::Pool(error)
    }
}

impl From<StoreError> for Fault {
    fn from(error: StoreError) -> Self {
        Fault::Store(error)
    }
}

/// The words of a client error, with PostgreSQL's own message when it sent one.
fn describe(error: &tokio_postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_owned(),
        };
    }
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl Fault {
    /// A deadlock or serialization failure: running the transaction again may succeed.
    fn is_conflict(&self) -> bool {
        matches!(self, Fault::Db(e) if matches!(e.code(), Some(code) if *code == SqlState::T_R_DEADLOCK_DETECTED || *code == SqlState::T_R_SERIALIZATION_FAILURE))
    }

    fn into_store(self, target: &str) -> StoreError {
        match self {
            Fault::Store(error) => error,
            Fault::Db(error) if error.code() == Some(&SqlState::QUERY_CANCELED) => StoreError::Backend(format!(
                "PostgreSQL at {target} cancelled a statement that ran past the statement timeout ({}); nothing of it \
                 was stored. Check the database's load, or raise --db-statement-timeout-ms",
                describe(&error)
            )),
            Fault::Db(error) if error.is_closed() || error.as_db_error().is_none() && error.code().is_none() => {
                StoreError::Backend(format!(
                    "lost the connection to PostgreSQL at {target}: {}; nothing of this call was stored, try again",
                    describe(&error)
                ))
            }
            Fault::Db(error) => StoreError::Backend(format!("PostgreSQL at {target}: {}", describe(&error))),
            Fault::Pool(PoolError::Timeout(_)) => StoreError::Backend(format!(
                "no connection to PostgreSQL at {target} came free in time: every pooled connection stayed busy; \
                 raise --db-pool or check for slow statements"
            )),
            Fault::Pool(PoolError::Backend(error)) => StoreError::Backend(format!(
                "could not connect to PostgreSQL at {target}: {}; check --database (TIMEBANK_DATABASE_URL) and that \
                 the server is running",
                describe(&error)
            )),
            Fault::Pool(other) => StoreError::Backend(format!("the connection pool to PostgreSQL at {target} failed: {other}")),
        }
    }
}

/// A store's own runtime, shut down without waiting when the store goes (so dropping a
/// store never blocks, even on an async thread).
#[derive(Debug)]
struct Background(Option<tokio::runtime::Runtime>);

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// The PostgreSQL store.
#[derive(Debug)]
pub struct PgStore {
    pool: Pool,
    changes: changes::Listener,
    target: String,
    handle: tokio::runtime::Handle,
    // Last: the pool's connections are dropped before the runtime that drives them.
    _runtime: Background,
}

impl PgStore {
    /// Connects to the database in `settings` and migrates it to the latest version. A
    /// database written by a newer relay is refused untouched.
    pub fn open(settings: &PgSettings) -> StoreResult<PgStore> {
        let store = PgStore::connect(settings)?;
        store.migrate(schema::latest_version())?;
        Ok(store)
    }

    /// The pool and the runtime for the database in `settings` (connections open when
    /// first used).
    fn connect(settings: &PgSettings) -> StoreResult<PgStore> {
        let mut config: Config = settings.url.parse().map_err(|e: tokio_postgres::Error| {
            StoreError::Backend(format!(
                "the database address is not a PostgreSQL connection string ({}); give \
                 postgres://USER:PASSWORD@HOST:PORT/DATABASE",
                describe(&e)
            ))
        })?;
        let target = describe_target(&config);
        if config.get_ssl_mode() == SslMode::Require {
            return Err(StoreError::Backend(format!(
                "the database address for {target} asks for TLS (sslmode=require), which this relay does not speak: \
                 reach PostgreSQL on loopback or a private network, or through a TLS tunnel (ADR 26)"
            )));
        }
        if settings.pool_size == 0 {
            return Err(StoreError::Backend("the connection pool needs at least one connection (--db-pool)".into()));
        }
        let timeout_ms = settings.statement_timeout.as_millis().max(1);
        let options = format!("{} -c statement_timeout={timeout_ms}", config.get_options().unwrap_or_default());
        config.options(options.trim());
        if config.get_application_name().is_none() {
            config.application_name("timebank-relay");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(IO_THREADS)
            .thread_name("timebank-postgres")
            .enable_all()
            .build()?;
        let manager = Manager::from_config(config.clone(), NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(settings.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(settings.statement_timeout + CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| StoreError::Backend(format!("could not set up the connection pool: {e}")))?;
        Ok(PgStore {
            pool,
            changes: changes::Listener::new(config),
            target,
            handle: runtime.handle().clone(),
            _runtime: Background(Some(runtime)),
        })
    }

    /// Migrates the database to `target`, or refuses one at a newer version untouched.
    fn migrate(&self, target: i64) -> StoreResult<()> {
        self.block(async {
            let mut client = self.pool.get().await?;
            match schema::migrate_to(&mut client, target).await? {
                schema::Migration::Done { .. } => Ok(()),
                schema::Migration::TooNew { found } => {
                    Err(Fault::Store(StoreError::TooNew { path: self.target.clone(), found, supported: schema::latest_version() }))
                }
            }
        })
    }

    /// The database, as `user@host:port/database`.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Waits on the calling thread for `work`, whose connections the store's runtime drives.
    fn block<T>(&self, work: impl Future<Output = Result<T, Fault>>) -> StoreResult<T> {
        let _entered = self.handle.enter();
        futures_executor::block_on(work).map_err(|fault| fault.into_store(&self.target))
    }

    /// Runs `work` on a pooled connection, outside a transaction (one statement reads one
    /// consistent snapshot).
    fn read<T>(&self, work: impl AsyncFnOnce(&deadpool_postgres::Client) -> Result<T, Fault>) -> StoreResult<T> {
        self.block(async {
            let client = self.pool.get().await?;
            work(&client).await
        })
    }

    /// Runs `work` in one transaction; commits if it returns `Ok`, rolls back otherwise.
    /// A transaction PostgreSQL chose as a deadlock's victim is run again from the start.
    fn write<T>(&self, work: impl AsyncFn(&Transaction<'_>) -> Result<T, Fault>) -> StoreResult<T> {
        self.block(async {
            let mut client = self.pool.get().await?;
            let mut attempt = 0;
            loop {
                let tx = client.transaction().await?;
                let result = match work(&tx).await {
                    Ok(value) => tx.commit().await.map(|()| value).map_err(Fault::from),
                    Err(fault) => Err(fault),
                };
                match result {
                    Err(fault) if fault.is_conflict() && attempt < CONFLICT_RETRIES => attempt += 1,
                    other => return other,
                }
            }
        })
    }
}

// ----- statements (each prepared once per connection) -----

async fn rows(db: &impl GenericClient, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, Fault> {
    let statement = db.prepare_cached(sql).await?;
    Ok(db.query(&statement, params).await?)
}

async fn row(db: &impl GenericClient, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>, Fault> {
    let statement = db.prepare_cached(sql).await?;
    Ok(db.query_opt(&statement, params).await?)
}

async fn exec(db: &impl GenericClient, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, Fault> {
    let statement = db.prepare_cached(sql).await?;
    Ok(db.execute(&statement, params).await?)
}

async fn exists(db: &impl GenericClient, sql: &str, id: &str) -> Result<bool, Fault> {
    Ok(row(db, sql, &[&id]).await?.is_some())
}

async fn insert_documents_in(tx: &Transaction<'_>, documents: &[NewDocument], at: Millis) -> Result<(), Fault> {
    for doc in documents {
        let inserted = exec(
            tx,
            "INSERT INTO documents (doc_id, snapshot) VALUES ($1, $2) ON CONFLICT (doc_id) DO NOTHING",
            &[&doc.id, &doc.snapshot],
        )
        .await?;
        if inserted == 0 {
            return Err(StoreError::Duplicate { what: "document", id: doc.id.clone() }.into());
        }
        exec(tx, "INSERT INTO document_versions (doc_id, generation, updated_at) VALUES ($1, 1, $2)", &[&doc.id, &at]).await?;
    }
    Ok(())
}

async fn insert_audits_in(tx: &Transaction<'_>, entries: &[AuditRecord]) -> Result<(), Fault> {
    if entries.is_empty() {
        return Ok(());
    }
    let at: Vec<i64> = entries.iter().map(|e| e.at).collect();
    let usernames: Vec<&str> = entries.iter().map(|e| e.username.as_str()).collect();
    let stations: Vec<Option<&str>> = entries.iter().map(|e| e.station.as_ref().map(StationId::as_str)).collect();
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    let targets: Vec<&str> = entries.iter().map(|e| e.target.as_str()).collect();
    let details: Vec<&str> = entries.iter().map(|e| e.detail.as_str()).collect();
    exec(tx, pipeline::INSERT_AUDITS, &[&at, &usernames, &stations, &actions, &targets, &details]).await?;
    Ok(())
}

async fn append_postings_in(tx: &Transaction<'_>, postings: &[PostingRecord]) -> Result<(), Fault> {
    if postings.is_empty() {
        return Ok(());
    }
    // Posted in commit order, as the arrival log is numbered.
    tx.batch_execute("LOCK TABLE postings IN SHARE ROW EXCLUSIVE MODE").await?;
    let column = |f: fn(&PostingRecord) -> &str| postings.iter().map(f).collect::<Vec<&str>>();
    let (keys, kinds, debits, credits) = (column(|p| &p.key), column(|p| &p.kind), column(|p| &p.debit), column(|p| &p.credit));
    let (subjects, memos) = (column(|p| &p.subject), column(|p| &p.memo));
    let by: Vec<Option<&str>> = postings.iter().map(|p| p.by.as_deref()).collect();
    let minutes: Vec<i64> = postings.iter().map(|p| p.minutes).collect();
    let events: Vec<i64> = postings.iter().map(|p| p.event).collect();
    let at: Vec<i64> = postings.iter().map(|p| p.at).collect();
    exec(
        tx,
        &format!(
            "INSERT INTO postings ({POSTING_COLUMNS})
             SELECT key, kind, debit, credit, minutes, subject, memo, by_member, event_seq, posted_at
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::text[], $7::text[], $8::text[],
                         $9::int8[], $10::int8[])
                 WITH ORDINALITY AS p(key, kind, debit, credit, minutes, subject, memo, by_member, event_seq, posted_at, n)
             ORDER BY n
             ON CONFLICT (key) DO NOTHING"
        ),
        &[&keys, &kinds, &debits, &credits, &minutes, &subjects, &memos, &by, &events, &at],
    )
    .await?;
    Ok(())
}

impl RelayStore for PgStore {
    fn register_relay_actor(&self, actor: &str, at: Millis) -> StoreResult<()> {
        self.write(async |tx| {
            exec(tx, "INSERT INTO relay_actors (actor, registered_at) VALUES ($1, $2) ON CONFLICT (actor) DO NOTHING", &[&actor, &at])
                .await?;
            Ok(())
        })
    }

    fn is_relay_actor(&self, actor: &str) -> StoreResult<bool> {
        self.read(async |db| exists(db, "SELECT 1 FROM relay_actors WHERE actor = $1", actor).await)
    }

    fn relay_secret(&self, name: &str, fresh: &[u8; 32]) -> StoreResult<[u8; 32]> {
        let key = format!("secret:{name}");
        let stored: String = self.write(async |tx| {
            exec(tx, "INSERT INTO relay_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING", &[&key, &hex::encode(fresh)])
                .await?;
            let found = row(tx, "SELECT value FROM relay_meta WHERE key = $1", &[&key]).await?;
            Ok(found.map(|r| r.try_get(0)).transpose()?.unwrap_or_default())
        })?;
        from_hex(&stored).ok_or_else(|| StoreError::Corrupt(format!("the relay's secret {name} is not 32 bytes of hex")))
    }

    fn document(&self, doc: &str) -> StoreResult<Option<StoredDocument>> {
        self.read(async |db| {
            // One statement: the snapshot, the generation and the chunks of one moment.
            let found = row(
                db,
                "SELECT d.snapshot, v.generation,
                     (SELECT array_agg(c.bytes ORDER BY c.id) FROM chunks c WHERE c.doc_id = d.doc_id)
                 FROM documents d JOIN document_versions v ON v.doc_id = d.doc_id WHERE d.doc_id = $1",
                &[&doc],
            )
            .await?;
            let Some(found) = found else { return Ok(None) };
            let mut stored = StoredDocument { bytes: found.try_get(0)?, generation: found.try_get(1)?, chunk_count: 0 };
            for chunk in found.try_get::<_, Option<Vec<&[u8]>>>(2)?.unwrap_or_default() {
                stored.bytes.extend_from_slice(chunk);
                stored.chunk_count += 1;
            }
            Ok(Some(stored))
        })
    }

    fn document_generations(&self, docs: &[String]) -> StoreResult<HashMap<String, i64>> {
        self.read(async |db| {
            let found = rows(db, "SELECT doc_id, generation FROM document_versions WHERE doc_id = ANY($1)", &[&docs]).await?;
            found.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
        })
    }

    fn document_ids(&self) -> StoreResult<Vec<String>> {
        self.read(async |db| {
            let found = rows(db, r#"SELECT doc_id FROM documents ORDER BY doc_id COLLATE "C""#, &[]).await?;
            found.iter().map(|r| Ok(r.try_get(0)?)).collect()
        })
    }

    fn write_batch(&self, batch: &WriteBatch, at: Millis) -> StoreResult<HashMap<String, i64>> {
        if batch.is_empty() {
            return Ok(HashMap::new());
        }
        self.write(async |tx| Ok(pipeline::write_in(tx, batch, &[], at).await?.0))
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
        self.write(async |tx| pipeline::write_in(tx, batch, events, at).await)
    }

    fn write_syncs(&self, items: &[(&WriteBatch, &[NewLedgerEvent])], at: Millis) -> Vec<StoreResult<SyncWritten>> {
        if items.is_empty() {
            return Vec::new();
        }
        if let [(batch, events)] = items {
            // A group of one needs no savepoint: if it fails, the transaction is rolled back.
            return vec![self.write_sync(batch, events, at)];
        }
        // One transaction, one commit (one WAL flush) for the group; each item in a
        // savepoint of its own, so one that fails fails alone.
        let outcome = self.write(async |tx| {
            let mut results = Vec::with_capacity(items.len());
            for (batch, events) in items {
                tx.batch_execute("SAVEPOINT item").await?;
                let written = match pipeline::write_in(tx, batch, events, at).await {
                    // A deadlock's victim: not this sync's fault. The whole group is
                    // rolled back and run again ([`PgStore::write`]).
                    Err(fault) if fault.is_conflict() => return Err(fault),
                    written => written,
                };
                match &written {
                    Ok(_) => tx.batch_execute("RELEASE SAVEPOINT item").await?,
                    Err(_) => tx.batch_execute("ROLLBACK TO SAVEPOINT item; RELEASE SAVEPOINT item").await?,
                }
                results.push(written);
            }
            Ok(results)
        });
        match outcome {
            Ok(results) => results.into_iter().map(|r| r.map_err(|fault| fault.into_store(&self.target))).collect(),
            // The commit itself failed: nothing of the group is stored.
            Err(error) => items.iter().map(|_| Err(StoreError::Backend(error.to_string()))).collect(),
        }
    }

    fn compact_document(&self, doc: &str, snapshot: &[u8], generation: i64) -> StoreResult<bool> {
        self.write(async |tx| {
            let current = row(tx, "SELECT generation FROM document_versions WHERE doc_id = $1 FOR UPDATE", &[&doc]).await?;
            if current.map(|r| r.try_get::<_, i64>(0)).transpose()? != Some(generation) {
                return Ok(false);
            }
            exec(tx, "UPDATE documents SET snapshot = $2 WHERE doc_id = $1", &[&doc, &snapshot]).await?;
            exec(tx, "DELETE FROM chunks WHERE doc_id = $1", &[&doc]).await?;
            Ok(true)
        })
    }

    fn create_district(&self, district: &DistrictRecord) -> StoreResult<()> {
        self.write(async |tx| {
            let inserted = exec(
                tx,
                "INSERT INTO districts (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
                &[&district.id.as_str(), &district.name, &district.created_at],
            )
            .await?;
            if inserted == 0 {
                return Err(StoreError::Duplicate { what: "district", id: district.id.to_string() }.into());
            }
            Ok(())
        })
    }

    fn districts(&self) -> StoreResult<Vec<DistrictRecord>> {
        self.read(async |db| {
            let found = rows(db, r#"SELECT id, name, created_at FROM districts ORDER BY id COLLATE "C""#, &[]).await?;
            found.iter().map(district_from_row).collect()
        })
    }

    fn move_station(&self, station: &StationId, district: &DistrictId) -> StoreResult<()> {
        self.write(async |tx| {
            if !exists(tx, "SELECT 1 FROM districts WHERE id = $1", district.as_str()).await? {
                return Err(StoreError::Missing { what: "district", id: district.to_string() }.into());
            }
            let moved =
                exec(tx, "UPDATE station_districts SET district = $2 WHERE station = $1", &[&station.as_str(), &district.as_str()])
                    .await?;
            if moved == 0 {
                return Err(StoreError::Missing { what: "station", id: station.to_string() }.into());
            }
            Ok(())
        })
    }

    fn create_station(&self, station: &StationRecord, documents: &[NewDocument]) -> StoreResult<()> {
        self.write(async |tx| {
            if !exists(tx, "SELECT 1 FROM districts WHERE id = $1", station.district.as_str()).await? {
                return Err(StoreError::Missing { what: "district", id: station.district.to_string() }.into());
            }
            let inserted = exec(
                tx,
                "INSERT INTO stations (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
                &[&station.id.as_str(), &station.name, &station.created_at],
            )
            .await?;
            if inserted == 0 {
                return Err(StoreError::Duplicate { what: "station", id: station.id.to_string() }.into());
            }
            exec(
                tx,
                "INSERT INTO station_districts (station, district) VALUES ($1, $2)",
                &[&station.id.as_str(), &station.district.as_str()],
            )
            .await?;
            insert_documents_in(tx, documents, station.created_at).await
        })
    }

    fn station(&self, id: &StationId) -> StoreResult<Option<StationRecord>> {
        self.read(async |db| {
            let found = row(db, &format!("{STATION_SELECT} WHERE s.id = $1"), &[&id.as_str()]).await?;
            found.as_ref().map(station_from_row).transpose()
        })
    }

    fn stations(&self) -> StoreResult<Vec<StationRecord>> {
        self.read(async |db| {
            let found = rows(db, &format!(r#"{STATION_SELECT} ORDER BY s.id COLLATE "C""#), &[]).await?;
            found.iter().map(station_from_row).collect()
        })
    }

    fn create_member(
        &self,
        member: &MemberRecord,
        contact: &MemberContact,
        documents: &[NewDocument],
        audit: Option<&AuditRecord>,
    ) -> StoreResult<()> {
        self.write(async |tx| {
            if !exists(tx, "SELECT 1 FROM stations WHERE id = $1", member.station.as_str()).await? {
                return Err(StoreError::Missing { what: "station", id: member.station.to_string() }.into());
            }
            let inserted = exec(
                tx,
                "INSERT INTO members (id, station, role, display_name, birth_year, household, created_at, hardship)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
                &[
                    &member.id.as_str(),
                    &member.station.as_str(),
                    &member.role.as_str(),
                    &member.display_name,
                    &member.birth_year.map(i32::from),
                    &member.household.as_ref().map(HouseholdId::as_str),
                    &member.created_at,
                    &member.hardship,
                ],
            )
            .await?;
            if inserted == 0 {
                return Err(StoreError::Duplicate { what: "member", id: member.id.to_string() }.into());
            }
            if *contact != MemberContact::default() {
                exec(
                    tx,
                    "INSERT INTO member_contacts (member, phone, id_last4, address) VALUES ($1, $2, $3, $4)",
                    &[&member.id.as_str(), &contact.phone, &contact.id_last4, &contact.address],
                )
                .await?;
            }
            insert_documents_in(tx, documents, member.created_at).await?;
            insert_audits_in(tx, audit.map_or(&[], std::slice::from_ref)).await
        })
    }

    fn erase_member_contact(&self, id: &MemberId, audit: Option<&AuditRecord>) -> StoreResult<bool> {
        self.write(async |tx| {
            if !exists(tx, "SELECT 1 FROM members WHERE id = $1", id.as_str()).await? {
                return Err(StoreError::Missing { what: "member", id: id.to_string() }.into());
            }
            let erased = exec(tx, "DELETE FROM member_contacts WHERE member = $1", &[&id.as_str()]).await? > 0;
            insert_audits_in(tx, audit.map_or(&[], std::slice::from_ref)).await?;
            Ok(erased)
        })
    }

    fn member_contact(&self, id: &MemberId) -> StoreResult<MemberContact> {
        self.read(async |db| {
            let found = row(db, "SELECT phone, id_last4, address FROM member_contacts WHERE member = $1", &[&id.as_str()]).await?;
            Ok(match found {
                Some(r) => MemberContact { phone: r.try_get(0)?, id_last4: r.try_get(1)?, address: r.try_get(2)? },
                None => MemberContact::default(),
            })
        })
    }

    fn member(&self, id: &MemberId) -> StoreResult<Option<MemberRecord>> {
        self.read(async |db| {
            let found = row(db, &format!("SELECT {MEMBER_COLUMNS} FROM members WHERE id = $1"), &[&id.as_str()]).await?;
            found.as_ref().map(member_from_row).transpose()
        })
    }

    fn station_members(&self, station: &StationId) -> StoreResult<Vec<MemberRecord>> {
        self.read(async |db| {
            let found = rows(
                db,
                &format!(r#"SELECT {MEMBER_COLUMNS} FROM members WHERE station = $1 ORDER BY id COLLATE "C""#),
                &[&station.as_str()],
            )
            .await?;
            found.iter().map(member_from_row).collect()
        })
    }

    fn add_enrollment_code(&self, code: &EnrollmentCode, audit: Option<&AuditRecord>) -> StoreResult<()> {
        self.write(async |tx| {
            if !exists(tx, "SELECT 1 FROM members WHERE id = $1", code.member.as_str()).await? {
                return Err(StoreError::Missing { what: "member", id: code.member.to_string() }.into());
            }
            exec(
                tx,
                "INSERT INTO enrollment_codes (code_hash, member, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                &[&code.code_hash.as_slice(), &code.member.as_str(), &code.created_at, &code.expires_at],
            )
            .await?;
            insert_audits_in(tx, audit.map_or(&[], std::slice::from_ref)).await
        })
    }

    fn enroll_device(
        &self,
        code_hash: &SecretHash,
        device: &NewDevice,
        now: Millis,
    ) -> StoreResult<Result<MemberRecord, EnrollRefusal>> {
        self.write(async |tx| {
            // The code's row stays locked until this enrollment commits: two phones typing
            // the same code enroll one device.
            let code = row(
                tx,
                "SELECT member, expires_at, used_at FROM enrollment_codes WHERE code_hash = $1 FOR UPDATE",
                &[&code_hash.as_slice()],
            )
            .await?;
            let Some(code) = code else { return Ok(Err(EnrollRefusal::UnknownCode)) };
            let (member, expires_at, used_at): (String, Millis, Option<Millis>) =
                (code.try_get(0)?, code.try_get(1)?, code.try_get(2)?);
            if let Some(at) = used_at {
                return Ok(Err(EnrollRefusal::AlreadyUsed { at }));
            }
            if now >= expires_at {
                return Ok(Err(EnrollRefusal::Expired { at: expires_at }));
            }
            let inserted = exec(
                tx,
                "INSERT INTO devices (id, member, actor, token_hash, created_at, signing_key) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (actor) DO NOTHING",
                &[
                    &device.id,
                    &member,
                    &device.actor,
                    &device.token_hash.as_slice(),
                    &now,
                    &device.signing_key.as_ref().map(|k| k.as_slice()),
                ],
            )
            .await?;
            if inserted == 0 {
                return Ok(Err(EnrollRefusal::ActorTaken));
            }
            exec(
                tx,
                "UPDATE enrollment_codes SET used_at = $2, device = $3 WHERE code_hash = $1",
                &[&code_hash.as_slice(), &now, &device.id],
            )
            .await?;
            let record = row(tx, &format!("SELECT {MEMBER_COLUMNS} FROM members WHERE id = $1"), &[&member]).await?;
            let record = record.ok_or_else(|| StoreError::Corrupt(format!("enrollment code for unknown member {member}")))?;
            Ok(Ok(member_from_row(&record)?))
        })
    }

    fn device_by_token(&self, token_hash: &SecretHash) -> StoreResult<Option<DeviceRecord>> {
        self.read(async |db| {
            let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE token_hash = $1");
            row(db, &sql, &[&token_hash.as_slice()]).await?.as_ref().map(device_from_row).transpose()
        })
    }

    fn device_and_member_by_token(&self, token_hash: &SecretHash) -> StoreResult<Option<(DeviceRecord, Option<MemberRecord>)>> {
        self.read(async |db| {
            // Both statements in one round trip (pipelined): the member by the device's id.
            let device = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE token_hash = $1");
            let member = format!("SELECT {MEMBER_COLUMNS} FROM members WHERE id = (SELECT member FROM devices WHERE token_hash = $1)");
            let (device, member) = (db.prepare_cached(&device).await?, db.prepare_cached(&member).await?);
            let hash = token_hash.as_slice();
            let (device, member) = futures_util::future::join(db.query_opt(&device, &[&hash]), db.query_opt(&member, &[&hash])).await;
            let Some(device) = device?.as_ref().map(device_from_row).transpose()? else { return Ok(None) };
            let member = member?.as_ref().map(member_from_row).transpose()?.filter(|m| m.id == device.member);
            Ok(Some((device, member)))
        })
    }

    fn device_by_actor(&self, actor: &str) -> StoreResult<Option<DeviceRecord>> {
        self.read(async |db| {
            let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE actor = $1");
            row(db, &sql, &[&actor]).await?.as_ref().map(device_from_row).transpose()
        })
    }

    fn devices(&self) -> StoreResult<Vec<DeviceRecord>> {
        self.read(async |db| {
            let sql = format!(r#"SELECT {DEVICE_COLUMNS} FROM devices ORDER BY created_at, id COLLATE "C""#);
            rows(db, &sql, &[]).await?.iter().map(device_from_row).collect()
        })
    }

    fn revoke_device(&self, id: &str, at: Millis, audit: Option<&AuditRecord>) -> StoreResult<Revocation> {
        self.write(async |tx| {
            let found = row(tx, "SELECT revoked_at FROM devices WHERE id = $1 FOR UPDATE", &[&id]).await?;
            let Some(found) = found else { return Ok(Revocation::Unknown) };
            if let Some(at) = found.try_get::<_, Option<Millis>>(0)? {
                return Ok(Revocation::AlreadyRevoked { at });
            }
            exec(tx, "UPDATE devices SET revoked_at = $2 WHERE id = $1", &[&id, &at]).await?;
            insert_audits_in(tx, audit.map_or(&[], std::slice::from_ref)).await?;
            Ok(Revocation::Revoked)
        })
    }

    fn register_tag(&self, tag: &TagRecord, audit: Option<&AuditRecord>) -> StoreResult<()> {
        self.write(async |tx| {
            let inserted = exec(
                tx,
                "INSERT INTO tags (uid, station, elder, registered_at, registered_by) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (uid) DO NOTHING",
                &[&tag.uid, &tag.station.as_str(), &tag.elder.as_str(), &tag.registered_at, &tag.registered_by],
            )
            .await?;
            if inserted == 0 {
                return Err(StoreError::Duplicate { what: "tag", id: tag.uid.clone() }.into());
            }
            insert_audits_in(tx, audit.map_or(&[], std::slice::from_ref)).await
        })
    }

    fn tag(&self, uid: &str) -> StoreResult<Option<TagRecord>> {
        self.read(async |db| {
            let sql = format!("SELECT {TAG_COLUMNS} FROM tags WHERE uid = $1");
            row(db, &sql, &[&uid]).await?.as_ref().map(tag_from_row).transpose()
        })
    }

    fn station_tags(&self, station: &StationId) -> StoreResult<Vec<TagRecord>> {
        self.read(async |db| {
            let sql = format!(
                r#"SELECT {TAG_COLUMNS} FROM tags WHERE station = $1 ORDER BY elder COLLATE "C", registered_at, uid COLLATE "C""#
            );
            rows(db, &sql, &[&station.as_str()]).await?.iter().map(tag_from_row).collect()
        })
    }

    fn revoke_tag(&self, uid: &str, at: Millis, why: &str, audit: Option<&AuditRecord>) -> StoreResult<Revocation> {
        self.write(async |tx| {
            let found = row(tx, "SELECT revoked_at FROM tags WHERE uid = $1 FOR UPDATE", &[&uid]).await?;
            let Some(found) = found else { return Ok(Revocation::Unknown) };
            if let Some(at) = found.try_get::<_, Option<Millis>>(0)? {
                return Ok(Revocation::AlreadyRevoked { at });
            }
            exec(tx, "UPDATE tags SET revoked_at = $2, revoked_why = $3 WHERE uid = $1", &[&uid, &at, &why]).await?;
            insert_audits_in(tx, audit.map_or(&[], std::slice::from_ref)).await?;
            Ok(Revocation::Revoked)
        })
    }

    fn device_usage(&self, device: &str, day: i64) -> StoreResult<DeviceUsage> {
        self.read(async |db| {
            let found = row(db, "SELECT changes, bytes FROM device_usage WHERE device = $1 AND day = $2", &[&device, &day]).await?;
            Ok(match found {
                Some(r) => DeviceUsage { changes: r.try_get(0)?, bytes: r.try_get(1)? },
                None => DeviceUsage::default(),
            })
        })
    }

    fn mark_over_quota(&self, device: &str, day: i64) -> StoreResult<bool> {
        self.write(async |tx| {
            // A row is written (inserted, or flipped to refused) only the first time.
            let marked = exec(
                tx,
                "INSERT INTO device_usage (device, day, refused) VALUES ($1, $2, true)
                 ON CONFLICT (device, day) DO UPDATE SET refused = true WHERE NOT device_usage.refused",
                &[&device, &day],
            )
            .await?;
            Ok(marked == 1)
        })
    }

    fn acked_heads(&self, device: &str) -> StoreResult<HashMap<String, AckedHeads>> {
        self.read(async |db| {
            let found = rows(db, "SELECT doc_id, cur_heads, prev_heads FROM sync_state WHERE device = $1", &[&device]).await?;
            found
                .iter()
                .map(|r| {
                    let heads = AckedHeads { cur: heads_from_blob(r.try_get(1)?), prev: heads_from_blob(r.try_get(2)?) };
                    Ok((r.try_get(0)?, heads))
                })
                .collect()
        })
    }

    fn append_ledger_events(&self, events: &[NewLedgerEvent], at: Millis) -> StoreResult<Vec<LedgerEventRecord>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        self.write(async |tx| Ok(pipeline::write_in(tx, &WriteBatch::default(), events, at).await?.1))
    }

    fn ledger_events(&self, after: i64) -> StoreResult<Vec<LedgerEventRecord>> {
        self.read(async |db| {
            let found =
                rows(db, "SELECT seq, key, body, received_at FROM ledger_events WHERE seq > $1 ORDER BY seq", &[&after]).await?;
            found.iter().map(ledger_event_from_row).collect()
        })
    }

    fn ledger_events_keyed(&self, keys: &[String]) -> StoreResult<Vec<LedgerEventRecord>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.read(async |db| {
            let found =
                rows(db, "SELECT seq, key, body, received_at FROM ledger_events WHERE key = ANY($1::text[]) ORDER BY seq", &[&keys])
                    .await?;
            found.iter().map(ledger_event_from_row).collect()
        })
    }

    fn append_postings(&self, postings: &[PostingRecord], documents: &WriteBatch, at: Millis) -> StoreResult<HashMap<String, i64>> {
        if postings.is_empty() && documents.is_empty() {
            return Ok(HashMap::new());
        }
        self.write(async |tx| {
            // Derived from the arrival log: committed without waiting for the flush to disk;
            // the next synchronous commit flushes it, and the catch-up derives it again if
            // the server loses it first (ADR 37).
            tx.batch_execute("SET LOCAL synchronous_commit TO OFF").await?;
            // The documents first: their rows are locked in the same order as a sync's.
            let generations = pipeline::write_in(tx, documents, &[], at).await?.0;
            append_postings_in(tx, postings).await?;
            Ok(generations)
        })
    }

    fn postings(&self) -> StoreResult<Vec<PostingRecord>> {
        self.read(async |db| {
            let found = rows(db, &format!("SELECT {POSTING_COLUMNS} FROM postings ORDER BY seq"), &[]).await?;
            found.iter().map(posting_from_row).collect()
        })
    }

    fn ledger_progress(&self) -> StoreResult<LedgerProgress> {
        self.read(async |db| {
            let found = row(
                db,
                "SELECT (SELECT coalesce(max(seq), 0) FROM ledger_events),
                        (SELECT value FROM ledger_state WHERE key = 'folded_seq')",
                &[],
            )
            .await?;
            let found = found.ok_or_else(|| StoreError::Corrupt("the ledger's cursor is missing".into()))?;
            Ok(LedgerProgress { logged: found.try_get(0)?, folded: found.try_get::<_, Option<i64>>(1)?.unwrap_or_default() })
        })
    }

    fn create_console_user(&self, user: &ConsoleUserRecord) -> StoreResult<()> {
        self.write(async |tx| {
            if let Some(station) = user.role.station()
                && !exists(tx, "SELECT 1 FROM stations WHERE id = $1", station.as_str()).await?
            {
                return Err(StoreError::Missing { what: "station", id: station.to_string() }.into());
            }
            if let Some(district) = user.role.district()
                && !exists(tx, "SELECT 1 FROM districts WHERE id = $1", district.as_str()).await?
            {
                return Err(StoreError::Missing { what: "district", id: district.to_string() }.into());
            }
            if let Some(member) = &user.member
                && !exists(tx, "SELECT 1 FROM members WHERE id = $1", member.as_str()).await?
            {
                return Err(StoreError::Missing { what: "member", id: member.to_string() }.into());
            }
            let inserted = exec(
                tx,
                "INSERT INTO console_users (username, password_hash, role, station, district, member, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (username) DO NOTHING",
                &[
                    &user.username,
                    &user.password_hash,
                    &console_role_name(&user.role),
                    &user.role.station().map(StationId::as_str),
                    &user.role.district().map(DistrictId::as_str),
                    &user.member.as_ref().map(MemberId::as_str),
                    &user.created_at,
                ],
            )
            .await?;
            if inserted == 0 {
                return Err(StoreError::Duplicate { what: "console user", id: user.username.clone() }.into());
            }
            Ok(())
        })
    }

    fn console_user(&self, username: &str) -> StoreResult<Option<ConsoleUserRecord>> {
        self.read(async |db| {
            let found = row(
                db,
                "SELECT username, password_hash, role, station, district, member, created_at FROM console_users WHERE username = $1",
                &[&username],
            )
            .await?;
            found.as_ref().map(console_user_from_row).transpose()
        })
    }

    fn create_console_session(&self, session: &ConsoleSessionRecord, audit: Option<&AuditRecord>) -> StoreResult<()> {
        self.write(async |tx| {
            exec(
                tx,
                "INSERT INTO console_sessions (token_hash, username, csrf, created_at, last_seen) VALUES ($1, $2, $3, $4, $5)",
                &[&session.token_hash.as_slice(), &session.username, &session.csrf, &session.created_at, &session.last_seen],
            )
            .await?;
            insert_audits_in(tx, audit.map_or(&[], std::slice::from_ref)).await
        })
    }

    fn console_session(&self, token_hash: &SecretHash) -> StoreResult<Option<ConsoleSessionRecord>> {
        self.read(async |db| {
            let found = row(
                db,
                "SELECT token_hash, username, csrf, created_at, last_seen FROM console_sessions WHERE token_hash = $1",
                &[&token_hash.as_slice()],
            )
            .await?;
            found.as_ref().map(session_from_row).transpose()
        })
    }

    fn touch_console_session(&self, token_hash: &SecretHash, at: Millis) -> StoreResult<()> {
        self.write(async |tx| {
            exec(
                tx,
                "UPDATE console_sessions SET last_seen = GREATEST(last_seen, $2) WHERE token_hash = $1",
                &[&token_hash.as_slice(), &at],
            )
            .await?;
            Ok(())
        })
    }

    fn end_console_session(&self, token_hash: &SecretHash, audit: Option<&AuditRecord>) -> StoreResult<()> {
        self.write(async |tx| {
            exec(tx, "DELETE FROM console_sessions WHERE token_hash = $1", &[&token_hash.as_slice()]).await?;
            insert_audits_in(tx, audit.map_or(&[], std::slice::from_ref)).await
        })
    }

    fn record_login_failure(&self, username: &str, at: Millis) -> StoreResult<()> {
        self.write(async |tx| {
            exec(tx, "INSERT INTO console_login_failures (username, at) VALUES ($1, $2)", &[&username, &at]).await?;
            Ok(())
        })
    }

    fn login_failures_since(&self, username: &str, since: Millis) -> StoreResult<Vec<Millis>> {
        self.read(async |db| {
            let found = rows(
                db,
                "SELECT at FROM console_login_failures WHERE username = $1 AND at >= $2 ORDER BY at, id",
                &[&username, &since],
            )
            .await?;
            found.iter().map(|r| Ok(r.try_get(0)?)).collect()
        })
    }

    fn clear_login_failures(&self, username: &str) -> StoreResult<()> {
        self.write(async |tx| {
            exec(tx, "DELETE FROM console_login_failures WHERE username = $1", &[&username]).await?;
            Ok(())
        })
    }

    fn purge_console_state(&self, idle_before: Millis, started_before: Millis, failures_before: Millis) -> StoreResult<usize> {
        self.write(async |tx| {
            let ended =
                exec(tx, "DELETE FROM console_sessions WHERE last_seen < $1 OR created_at < $2", &[&idle_before, &started_before])
                    .await?;
            exec(tx, "DELETE FROM console_login_failures WHERE at < $1", &[&failures_before]).await?;
            Ok(usize::try_from(ended).unwrap_or(usize::MAX))
        })
    }

    fn record_audit(&self, entry: &AuditRecord) -> StoreResult<()> {
        self.write(async |tx| insert_audits_in(tx, std::slice::from_ref(entry)).await)
    }

    fn audit_entries(&self, station: Option<&StationId>, limit: usize) -> StoreResult<Vec<AuditRecord>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(async |db| {
            let columns = "at, username, station, action, target, detail";
            let found = match station {
                Some(station) => {
                    let sql = format!("SELECT {columns} FROM console_audit WHERE station = $1 ORDER BY id DESC LIMIT $2");
                    rows(db, &sql, &[&station.as_str(), &limit]).await?
                }
                None => rows(db, &format!("SELECT {columns} FROM console_audit ORDER BY id DESC LIMIT $1"), &[&limit]).await?,
            };
            found.iter().map(audit_from_row).collect()
        })
    }

    fn subscribe_changes(&self) -> StoreResult<Option<DocumentChanges>> {
        self.block(self.changes.subscribe(&self.handle)).map(Some)
    }

    fn record_security_event(&self, event: &SecurityEvent) -> StoreResult<()> {
        self.write(async |tx| {
            exec(
                tx,
                "INSERT INTO security_events (at, device, member, doc_id, reason) VALUES ($1, $2, $3, $4, $5)",
                &[&event.at, &event.device, &event.member, &event.doc, &event.reason],
            )
            .await?;
            Ok(())
        })
    }

    fn security_events(&self) -> StoreResult<Vec<SecurityEvent>> {
        self.read(async |db| {
            let found = rows(db, "SELECT at, device, member, doc_id, reason FROM security_events ORDER BY id", &[]).await?;
            found.iter().map(security_event_from_row).collect()
        })
    }

    fn security_event_count(&self) -> StoreResult<i64> {
        self.read(async |db| {
            let found = row(db, "SELECT count(*) FROM security_events", &[]).await?;
            Ok(found.map(|r| r.try_get::<_, i64>(0)).transpose()?.unwrap_or_default())
        })
    }

    fn size_bytes(&self) -> StoreResult<u64> {
        self.read(async |db| {
            let found = row(db, "SELECT pg_database_size(current_database())", &[]).await?;
            let bytes: i64 = found.map(|r| r.try_get(0)).transpose()?.unwrap_or_default();
            Ok(u64::try_from(bytes).unwrap_or(0))
        })
    }
}

#[cfg(test)]
mod tests;
