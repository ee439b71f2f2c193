//! The relay's PostgreSQL schema and its versioned migrations: one row per applied version
//! in `schema_version`, every pending migration applied in one transaction under an
//! advisory lock, so relays starting together migrate once and a failed migration leaves
//! the previous version whole.

use tokio_postgres::Client;

use super::Fault;

/// Each entry migrates the database from version `index` to `index + 1`.
/// Never edit a released entry; append a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: the relay's store as SQLite has it at its version 8 (server/src/store/schema.rs),
    //    in PostgreSQL's types: documents (snapshot, chunks, a generation bumped on every
    //    write, with a notification on `timebank_documents` naming the document), stations,
    //    members and their contacts, devices, enrollment codes, per-(device, document) sync
    //    state, daily usage, security events, relay actors and secrets, the ledger's arrival
    //    log, postings and how far they are folded, the console's accounts, sessions, failed
    //    sign-ins and audit trail.
    //    The arrival log, the postings and the audit trail refuse every UPDATE, DELETE and
    //    TRUNCATE in the database itself.
    "CREATE FUNCTION timebank_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
         RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'restrict_violation';
     END $$;
     CREATE FUNCTION timebank_document_written() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
         PERFORM pg_notify('timebank_documents', NEW.doc_id);
         RETURN NULL;
     END $$;
     CREATE TABLE relay_meta (
         key   TEXT PRIMARY KEY,
         value TEXT NOT NULL
     );
     CREATE TABLE relay_actors (
         actor         TEXT PRIMARY KEY,
         registered_at BIGINT NOT NULL
     );
     CREATE TABLE documents (
         doc_id   TEXT PRIMARY KEY,
         snapshot BYTEA NOT NULL
     );
     CREATE TABLE document_versions (
         doc_id     TEXT PRIMARY KEY REFERENCES documents(doc_id),
         generation BIGINT NOT NULL,
         updated_at BIGINT NOT NULL
     );
     CREATE TRIGGER document_versions_notify AFTER INSERT OR UPDATE ON document_versions
         FOR EACH ROW EXECUTE FUNCTION timebank_document_written();
     CREATE TABLE chunks (
         id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
         doc_id TEXT NOT NULL REFERENCES documents(doc_id),
         bytes  BYTEA NOT NULL
     );
     CREATE INDEX chunks_by_doc ON chunks(doc_id, id);
     CREATE TABLE stations (
         id         TEXT PRIMARY KEY,
         name       TEXT NOT NULL,
         created_at BIGINT NOT NULL
     );
     CREATE TABLE members (
         id           TEXT PRIMARY KEY,
         station      TEXT NOT NULL REFERENCES stations(id),
         role         TEXT NOT NULL,
         display_name TEXT NOT NULL,
         birth_year   INTEGER,
         household    TEXT,
         created_at   BIGINT NOT NULL,
         hardship     BOOLEAN NOT NULL DEFAULT false
     );
     CREATE INDEX members_by_station ON members(station, id);
     CREATE TABLE member_contacts (
         member   TEXT PRIMARY KEY REFERENCES members(id),
         phone    TEXT,
         id_last4 TEXT
     );
     CREATE TABLE devices (
         id         TEXT PRIMARY KEY,
         member     TEXT NOT NULL REFERENCES members(id),
         actor      TEXT NOT NULL UNIQUE,
         token_hash BYTEA NOT NULL UNIQUE,
         created_at BIGINT NOT NULL,
         revoked_at BIGINT
     );
     CREATE TABLE enrollment_codes (
         code_hash  BYTEA PRIMARY KEY,
         member     TEXT NOT NULL REFERENCES members(id),
         created_at BIGINT NOT NULL,
         expires_at BIGINT NOT NULL,
         used_at    BIGINT,
         device     TEXT REFERENCES devices(id)
     );
     CREATE TABLE sync_state (
         device     TEXT NOT NULL REFERENCES devices(id),
         doc_id     TEXT NOT NULL,
         cur_heads  BYTEA NOT NULL,
         prev_heads BYTEA NOT NULL,
         updated_at BIGINT NOT NULL,
         PRIMARY KEY (device, doc_id)
     );
     CREATE TABLE device_usage (
         device  TEXT NOT NULL REFERENCES devices(id),
         day     BIGINT NOT NULL,
         changes BIGINT NOT NULL DEFAULT 0,
         bytes   BIGINT NOT NULL DEFAULT 0,
         refused BOOLEAN NOT NULL DEFAULT false,
         PRIMARY KEY (device, day)
     );
     CREATE TABLE security_events (
         id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
         at     BIGINT NOT NULL,
         device TEXT,
         member TEXT,
         doc_id TEXT,
         reason TEXT NOT NULL
     );
     CREATE TABLE ledger_events (
         seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
         key         TEXT NOT NULL UNIQUE,
         body        TEXT NOT NULL,
         received_at BIGINT NOT NULL
     );
     CREATE TRIGGER ledger_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON ledger_events
         FOR EACH STATEMENT EXECUTE FUNCTION timebank_append_only('the arrival log is append-only');
     CREATE TABLE postings (
         seq       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
         key       TEXT NOT NULL UNIQUE,
         kind      TEXT NOT NULL,
         debit     TEXT NOT NULL,
         credit    TEXT NOT NULL,
         minutes   BIGINT NOT NULL CHECK (minutes > 0),
         subject   TEXT NOT NULL,
         memo      TEXT NOT NULL,
         by_member TEXT,
         event_seq BIGINT NOT NULL REFERENCES ledger_events(seq),
         posted_at BIGINT NOT NULL,
         CHECK (debit <> credit)
     );
     CREATE TABLE ledger_state (
         key   TEXT PRIMARY KEY,
         value BIGINT NOT NULL
     );
     INSERT INTO ledger_state (key, value) VALUES ('folded_seq', 0);
     CREATE INDEX postings_by_debit ON postings(debit, seq);
     CREATE INDEX postings_by_credit ON postings(credit, seq);
     CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON postings
         FOR EACH STATEMENT EXECUTE FUNCTION timebank_append_only('postings are append-only; correct with a reversal');
     CREATE TABLE console_users (
         username      TEXT PRIMARY KEY,
         password_hash TEXT NOT NULL,
         role          TEXT NOT NULL CHECK (role IN ('coordinator', 'district')),
         station       TEXT REFERENCES stations(id),
         member        TEXT REFERENCES members(id),
         created_at    BIGINT NOT NULL,
         CHECK ((role = 'coordinator') = (station IS NOT NULL))
     );
     CREATE TABLE console_sessions (
         token_hash BYTEA PRIMARY KEY,
         username   TEXT NOT NULL REFERENCES console_users(username),
         csrf       TEXT NOT NULL,
         created_at BIGINT NOT NULL,
         last_seen  BIGINT NOT NULL
     );
     CREATE TABLE console_login_failures (
         id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
         username TEXT NOT NULL,
         at       BIGINT NOT NULL
     );
     CREATE INDEX console_login_failures_by_user ON console_login_failures(username, at);
     CREATE TABLE console_audit (
         id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
         at       BIGINT NOT NULL,
         username TEXT NOT NULL,
         station  TEXT,
         action   TEXT NOT NULL,
         target   TEXT NOT NULL,
         detail   TEXT NOT NULL
     );
     CREATE INDEX console_audit_by_station ON console_audit(station, id);
     CREATE TRIGGER console_audit_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON console_audit
         FOR EACH STATEMENT EXECUTE FUNCTION timebank_append_only('the audit trail is append-only');",
    // 2: districts and the city, as SQLite's version 9 has them: every station in a
    //    district (the stations found go into the default district `q-default`); console
    //    accounts of a station's coordinator, a district (its stations) or the city (all),
    //    the old read-only district account becoming the default district's. Sessions are
    //    kept (PostgreSQL changes the checks in place).
    "CREATE TABLE districts (
         id         TEXT PRIMARY KEY,
         name       TEXT NOT NULL,
         created_at BIGINT NOT NULL
     );
     INSERT INTO districts (id, name, created_at) VALUES ('q-default', '默认区', 0);
     CREATE TABLE station_districts (
         station  TEXT PRIMARY KEY REFERENCES stations(id),
         district TEXT NOT NULL REFERENCES districts(id)
     );
     CREATE INDEX station_districts_by_district ON station_districts(district, station);
     INSERT INTO station_districts (station, district) SELECT id, 'q-default' FROM stations;
     DO $$
     DECLARE checked record;
     BEGIN
         FOR checked IN SELECT conname FROM pg_constraint WHERE conrelid = 'console_users'::regclass AND contype = 'c' LOOP
             EXECUTE format('ALTER TABLE console_users DROP CONSTRAINT %I', checked.conname);
         END LOOP;
     END $$;
     ALTER TABLE console_users ADD COLUMN district TEXT REFERENCES districts(id);
     UPDATE console_users SET district = 'q-default' WHERE role = 'district';
     ALTER TABLE console_users
         ADD CONSTRAINT console_users_role CHECK (role IN ('coordinator', 'district', 'city')),
         ADD CONSTRAINT console_users_station CHECK ((role = 'coordinator') = (station IS NOT NULL)),
         ADD CONSTRAINT console_users_district CHECK ((role = 'district') = (district IS NOT NULL));",
    // 3: an elder's home address beside the phone (SQLite's version 10): shown only to the
    //    station's coordinators and, through `/v1/contacts`, to the volunteer an open order
    //    of the elder is dispatched to (ADR 31); never in a document.
    "ALTER TABLE member_contacts ADD COLUMN address TEXT;",
    // 4: proof of presence (ADR 29), as SQLite's version 11: each device's Ed25519 public key
    //    from its enrollment, and the elders' NFC tags by UID with their station, elder and
    //    revocation.
    "ALTER TABLE devices ADD COLUMN signing_key BYTEA;
     CREATE TABLE tags (
         uid           TEXT PRIMARY KEY,
         station       TEXT NOT NULL REFERENCES stations(id),
         elder         TEXT NOT NULL REFERENCES members(id),
         registered_at BIGINT NOT NULL,
         registered_by TEXT NOT NULL,
         revoked_at    BIGINT,
         revoked_why   TEXT
     );
     CREATE INDEX tags_by_station ON tags (station, elder);",
];

/// The newest schema version this build knows.
pub fn latest_version() -> i64 {
    i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX)
}

/// Serialises migrations across relays starting together (`pg_advisory_xact_lock`).
const MIGRATION_LOCK: i64 = 0x7469_6d65_6261_6e6b; // "timebank"

/// What `migrate_to` found and did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Migration {
    /// The database was at `from` and is now at the target.
    Done {
        /// The version found.
        from: i64,
    },
    /// The database has a newer version than the target; nothing was changed.
    TooNew {
        /// The version found.
        found: i64,
    },
}

/// Applies the migrations up to `target` in one transaction (without the statement
/// timeout: a migration may rewrite large tables). A database at a newer version is left
/// untouched.
pub(crate) async fn migrate_to(client: &mut Client, target: i64) -> Result<Migration, Fault> {
    let tx = client.transaction().await?;
    tx.batch_execute("SET LOCAL statement_timeout = 0").await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_version (
             version    BIGINT PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )
    .await?;
    let from: i64 = tx.query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[]).await?.try_get(0)?;
    if from > target {
        tx.rollback().await?;
        return Ok(Migration::TooNew { found: from });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate() {
        let version = i64::try_from(index).unwrap_or(i64::MAX) + 1;
        if version <= from || version > target {
            continue;
        }
        tx.batch_execute(sql).await?;
        tx.execute("INSERT INTO schema_version (version) VALUES ($1)", &[&version]).await?;
    }
    tx.commit().await?;
    Ok(Migration::Done { from })
}
