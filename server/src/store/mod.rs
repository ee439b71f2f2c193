//! The relay's storage: the [`RelayStore`] trait that every backend implements (embedded
//! SQLite, the default, and PostgreSQL for several relays on one database), the records it
//! keeps, opening the one an operator chose, and the one test suite that every backend
//! must pass.

pub mod backup;
mod checkpoint;
mod encoding;
pub mod postgres;
pub mod schema;
pub mod sqlite;
#[cfg(test)]
pub(crate) mod suite;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use automerge::ChangeHash;
use timebank_engine::model::{DistrictId, HouseholdId, MemberId, Role, StationId};

pub use postgres::{PgSettings, PgStore};
pub use sqlite::SqliteStore;

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// A SHA-256 digest (of a device token or an enrollment code: the secrets themselves are
/// never stored).
pub type SecretHash = [u8; 32];

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store was written by a newer relay.
    #[error(
        "the relay store at {path} has version {found}, newer than this relay's {supported}; update the relay (nothing was changed)"
    )]
    TooNew {
        /// The store file.
        path: String,
        /// Version found.
        found: i64,
        /// Newest version this build knows.
        supported: i64,
    },
    /// The store or a document in it cannot be read.
    #[error("the relay store is damaged: {0}")]
    Corrupt(String),
    /// A record with this id exists already.
    #[error("{what} {id} already exists")]
    Duplicate {
        /// What kind of record.
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// A record this operation needs does not exist.
    #[error("{what} {id} does not exist")]
    Missing {
        /// What kind of record.
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// The backend failed (disk full, locked too long, connection lost).
    #[error("the relay store failed: {0}")]
    Backend(String),
    /// The data directory could not be used.
    #[error("could not use the data directory: {0}")]
    Io(#[from] std::io::Error),
}

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// Where the relay keeps its store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreLocation {
    /// The embedded SQLite file in this data directory (the default).
    Sqlite(PathBuf),
    /// A PostgreSQL database, shared by every relay process that names it.
    Postgres(PgSettings),
}

/// Opens (creating or migrating) the store at `location`.
pub fn open(location: &StoreLocation) -> StoreResult<Arc<dyn RelayStore>> {
    Ok(match location {
        StoreLocation::Sqlite(dir) => Arc::new(SqliteStore::open(dir)?),
        StoreLocation::Postgres(settings) => Arc::new(PgStore::open(settings)?),
    })
}

/// The ids of documents other relay processes wrote, as they commit: a hint to drop a
/// cached copy or tell a waiting phone early (the generation check stays what makes a
/// cached copy right). A slow reader misses hints rather than holding memory.
pub type DocumentChanges = tokio::sync::mpsc::Receiver<String>;

/// The district every store's stations start in: the migration that brought districts
/// puts the stations it finds there, and a station created without a district joins it.
pub const DEFAULT_DISTRICT: &str = "q-default";

/// A district (区): a civil-affairs bureau's stations. The districts make up the city.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DistrictRecord {
    /// `q-…` ([`DEFAULT_DISTRICT`] for the first).
    pub id: DistrictId,
    /// Its name.
    pub name: String,
    /// When an administrator created it.
    pub created_at: Millis,
}

/// A service station.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StationRecord {
    /// `s-…`.
    pub id: StationId,
    /// Its name.
    pub name: String,
    /// The district it belongs to.
    pub district: DistrictId,
    /// When an administrator created it.
    pub created_at: Millis,
}

/// A member, as a coordinator registered them after verifying them in person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberRecord {
    /// `m-…`.
    pub id: MemberId,
    /// Their station.
    pub station: StationId,
    /// Their role; decides what their devices may read and write.
    pub role: Role,
    /// Name shown to coordinators.
    pub display_name: String,
    /// Birth year (redemption age gate).
    pub birth_year: Option<u16>,
    /// Household (gift and self-dealing rules).
    pub household: Option<HouseholdId>,
    /// In special hardship, as a coordinator recorded: may redeem from the lower age.
    pub hardship: bool,
    /// When they were registered.
    pub created_at: Millis,
}

/// What a coordinator recorded in person beside a member's profile. Kept only in the
/// relay's store (never in a document, so never on a phone) and shown only to that
/// station's coordinators.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberContact {
    /// Phone number, as given.
    pub phone: Option<String>,
    /// The last four characters of the identity card number (digits, or a final X).
    pub id_last4: Option<String>,
    /// The home address, as given (an elder's: where volunteers go).
    pub address: Option<String>,
}

/// What a console account may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsoleRole {
    /// A coordinator: reads and writes for one station.
    Coordinator {
        /// Their station.
        station: StationId,
    },
    /// A district's bureau: reads the district's stations, writes nothing.
    District {
        /// Their district.
        district: DistrictId,
    },
    /// The city: reads every station of every district, writes nothing.
    City,
}

impl ConsoleRole {
    /// The station, for a coordinator.
    pub fn station(&self) -> Option<&StationId> {
        match self {
            ConsoleRole::Coordinator { station } => Some(station),
            ConsoleRole::District { .. } | ConsoleRole::City => None,
        }
    }

    /// The district, for a district's account.
    pub fn district(&self) -> Option<&DistrictId> {
        match self {
            ConsoleRole::District { district } => Some(district),
            ConsoleRole::Coordinator { .. } | ConsoleRole::City => None,
        }
    }
}

/// A console account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsoleUserRecord {
    /// Sign-in name, unique.
    pub username: String,
    /// The argon2id hash (PHC string) of the password.
    pub password_hash: String,
    /// What the account may do.
    pub role: ConsoleRole,
    /// The coordinator's own member (the author of their desk changes).
    pub member: Option<MemberId>,
    /// When it was created.
    pub created_at: Millis,
}

/// A console session, stored by the SHA-256 of its token (never the token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsoleSessionRecord {
    /// SHA-256 of the cookie's token.
    pub token_hash: SecretHash,
    /// Whose session.
    pub username: String,
    /// The token every form of this session carries.
    pub csrf: String,
    /// When it started (the absolute expiry counts from here).
    pub created_at: Millis,
    /// When it was last used (the idle expiry counts from here).
    pub last_seen: Millis,
}

/// One entry of the console's audit trail (append-only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    /// When.
    pub at: Millis,
    /// Who (a console username, or the name typed at a failed sign-in).
    pub username: String,
    /// The station the action concerns, if any (decides who sees the entry).
    pub station: Option<StationId>,
    /// What, as a short code (`sign-in`, `member.create`, ...).
    pub action: String,
    /// On what (a member, visit, device, request id).
    pub target: String,
    /// Details in words.
    pub detail: String,
}

/// An enrolled device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceRecord {
    /// `d-…`, shown to coordinators for revocation.
    pub id: String,
    /// Whose device it is.
    pub member: MemberId,
    /// The automerge actor id (hex) the device registered: every change it makes carries it.
    pub actor: String,
    /// When it enrolled.
    pub created_at: Millis,
    /// Its Ed25519 public key, if it registered one at enrollment (ADR 29).
    pub signing_key: Option<[u8; 32]>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Millis>,
}

/// A device about to be enrolled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDevice {
    /// Its new id.
    pub id: String,
    /// Its actor id, lowercase hex.
    pub actor: String,
    /// Its Ed25519 public key, if it sent one.
    pub signing_key: Option<[u8; 32]>,
    /// SHA-256 of its bearer token.
    pub token_hash: SecretHash,
}

/// An elder's NFC tag (NTAG 424 DNA), registered by a station (ADR 29). Its keys are not
/// stored: they are diversified from the station's master key and the UID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagRecord {
    /// The tag's UID, 14 lowercase hex digits.
    pub uid: String,
    /// The station that issued it.
    pub station: StationId,
    /// The elder it belongs to.
    pub elder: MemberId,
    /// When it was registered.
    pub registered_at: Millis,
    /// Who registered it (a console username or `admin`).
    pub registered_by: String,
    /// When it was revoked (lost, replaced), if it was.
    pub revoked_at: Option<Millis>,
    /// Why it was revoked.
    pub revoked_why: Option<String>,
}

/// A one-time enrollment code, stored hashed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnrollmentCode {
    /// SHA-256 of the normalised code.
    pub code_hash: SecretHash,
    /// The member whose device it enrolls.
    pub member: MemberId,
    /// When it was issued.
    pub created_at: Millis,
    /// After this it is refused.
    pub expires_at: Millis,
}

/// Why an enrollment was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnrollRefusal {
    /// No such code.
    UnknownCode,
    /// The code enrolled a device already.
    AlreadyUsed {
        /// When.
        at: Millis,
    },
    /// The code is past its expiry.
    Expired {
        /// When it expired.
        at: Millis,
    },
    /// Another device registered this actor id.
    ActorTaken,
}

/// What revoking a device (or a tag) did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Revocation {
    /// Revoked now.
    Revoked,
    /// It had been revoked before, at this time.
    AlreadyRevoked {
        /// When.
        at: Millis,
    },
    /// No device (or tag) has this id.
    Unknown,
}

/// A document as stored: snapshot plus chunks, and its generation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredDocument {
    /// The snapshot and every chunk appended since, concatenated: what
    /// `Automerge::load` takes.
    pub bytes: Vec<u8>,
    /// Bumped on every write, by any process: a cached copy with another generation is stale.
    pub generation: i64,
    /// Chunks appended since the snapshot.
    pub chunk_count: usize,
}

/// A new document's first snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDocument {
    /// `member/m-…`, ...
    pub id: String,
    /// `Automerge::save()` of the new document.
    pub snapshot: Vec<u8>,
}

/// The heads a device was last told for one document, and the ones before (so a device
/// whose last answer was lost is still understood).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AckedHeads {
    /// The heads of the last answer.
    pub cur: Vec<ChangeHash>,
    /// The heads the device held before that answer.
    pub prev: Vec<ChangeHash>,
}

/// New acknowledged heads for one (device, document).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AckUpdate {
    /// The device.
    pub device: String,
    /// The document.
    pub doc: String,
    /// Its new acknowledged heads.
    pub heads: AckedHeads,
}

/// What one device sent on one day (UTC), counted against its daily quota.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeviceUsage {
    /// Changes the relay took from it.
    pub changes: i64,
    /// Their bytes.
    pub bytes: i64,
}

/// A device's usage to add for one day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageUpdate {
    /// The device.
    pub device: String,
    /// Days since the Unix epoch (UTC).
    pub day: i64,
    /// What to add.
    pub usage: DeviceUsage,
}

/// Everything one sync or console decision stores, written in one transaction: all of it
/// or none of it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteBatch {
    /// Chunks (incremental saves) appended to existing documents.
    pub chunks: Vec<(String, Vec<u8>)>,
    /// Acknowledged heads per (device, document).
    pub acks: Vec<AckUpdate>,
    /// The console's audit entries for the decision these chunks write: an action is
    /// never stored unaudited, nor audited unstored.
    pub audits: Vec<AuditRecord>,
    /// What the device that sent these chunks used of its daily quota.
    pub usage: Option<UsageUpdate>,
    /// The last arrival-log event the ledger has folded, written with the postings and
    /// ledger documents that fold stored.
    pub ledger_folded: Option<i64>,
    /// Members moved to another station (ADR 42), with their profile's chunk and the
    /// transfer event: a member not at the station they move from (moved meanwhile) fails
    /// the whole batch.
    pub moves: Vec<MemberMove>,
}

/// Why a move was not stored: the member is not (or no longer) at the station it leaves.
pub fn moved_meanwhile(moved: &MemberMove) -> StoreError {
    StoreError::Missing { what: "member of the station it leaves", id: format!("{} (at {})", moved.member, moved.from) }
}

/// A member's move from one station to another, as the store records it: their station,
/// and their NFC tags in use at the station they leave revoked at `at` ([`MemberMove::tags_revoked_why`]),
/// since those tags prove visits under that station's keys only (ADR 39).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberMove {
    /// Who moves.
    pub member: MemberId,
    /// Their station now.
    pub from: StationId,
    /// Their station after the move.
    pub to: StationId,
    /// When (ms).
    pub at: Millis,
}

/// How a tag revoked by its elder's move begins its reason, before the station moved to.
pub const MOVED_TO: &str = "moved to ";

/// Why a member's tags are revoked when they move to `station`: "moved to s-…".
pub fn moved_to(station: &StationId) -> String {
    format!("{MOVED_TO}{station}")
}

impl MemberMove {
    /// Why the member's tags at the station they leave are revoked ([`moved_to`]).
    pub fn tags_revoked_why(&self) -> String {
        moved_to(&self.to)
    }
}

impl WriteBatch {
    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
            && self.acks.is_empty()
            && self.audits.is_empty()
            && self.usage.is_none()
            && self.ledger_folded.is_none()
            && self.moves.is_empty()
    }
}

/// Something a device did that the relay refused for security reasons (a bad token, a
/// revoked device, a change it may not make).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityEvent {
    /// When.
    pub at: Millis,
    /// The device, if known.
    pub device: Option<String>,
    /// The member, if known.
    pub member: Option<String>,
    /// The document concerned, if any.
    pub doc: Option<String>,
    /// What happened, in words.
    pub reason: String,
}

/// One event of the ledger's arrival log, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerEventRecord {
    /// Arrival sequence number, strictly increasing.
    pub seq: i64,
    /// Its key: an event with a key already logged is not logged again.
    pub key: String,
    /// The event (JSON, see `ledger::event`).
    pub body: String,
    /// When the relay stored it.
    pub received_at: Millis,
}

/// One event of the arrival log as [`RelayStore::read_ledger_log`] hands it over: its body
/// borrowed from where the store read it, for as long as the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoggedEvent<'a> {
    /// Arrival sequence number, strictly increasing.
    pub seq: i64,
    /// The event (JSON, see `ledger::event`).
    pub body: &'a str,
    /// When the relay stored it.
    pub received_at: Millis,
}

/// An event about to join the arrival log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewLedgerEvent {
    /// Its key.
    pub key: String,
    /// The event (JSON).
    pub body: String,
}

/// How far the ledger is behind the arrival log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LedgerProgress {
    /// The number of the last event logged.
    pub logged: i64,
    /// The number of the last event folded, its postings and documents stored.
    pub folded: i64,
}

/// One posting of the double-entry ledger, as stored (never changed or removed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostingRecord {
    /// Idempotency key, unique.
    pub key: String,
    /// `earn`, `overflow`, `reserve`, `redeem`, `release`, `gift`, `donation`, `reversal`.
    pub kind: String,
    /// The account debited (`member:m-…`, `held:m-…`, `pool:s-…`, `program`).
    pub debit: String,
    /// The account credited.
    pub credit: String,
    /// Minutes moved, > 0.
    pub minutes: i64,
    /// The visit or request.
    pub subject: String,
    /// Words for people.
    pub memo: String,
    /// Who decided it, if a person did.
    pub by: Option<String>,
    /// The arrival sequence number of the event that caused it.
    pub event: i64,
    /// When (ms).
    pub at: Millis,
}

/// What a written sync gets back: the new generation of each document written, and the
/// events newly logged.
pub type SyncWritten = (HashMap<String, i64>, Vec<LedgerEventRecord>);

/// The relay's storage. Every method is one transaction; implementations are shared
/// between threads (and, for PostgreSQL, between relays), so a cached document is
/// trusted only while its generation is unchanged.
pub trait RelayStore: Send + Sync + std::fmt::Debug {
    /// Registers `actor` (hex) as one the relay writes with: each process that writes as
    /// the relay registers a fresh one when it starts.
    fn register_relay_actor(&self, actor: &str, at: Millis) -> StoreResult<()>;

    /// Whether `actor` (hex) is one the relay ever wrote with.
    fn is_relay_actor(&self, actor: &str) -> StoreResult<bool>;

    /// The relay's secret `name` (the key of its vouchers): set to `fresh` the first time
    /// it is asked for, the same value ever after (every process, every restart).
    fn relay_secret(&self, name: &str, fresh: &[u8; 32]) -> StoreResult<[u8; 32]>;

    // ----- documents -----

    /// A document with its snapshot and chunks, if it exists.
    fn document(&self, doc: &str) -> StoreResult<Option<StoredDocument>>;
    /// The current generation of each of `docs` that exists.
    fn document_generations(&self, docs: &[String]) -> StoreResult<HashMap<String, i64>>;
    /// Every document id, sorted.
    fn document_ids(&self) -> StoreResult<Vec<String>>;
    /// Writes a sync's chunks, acknowledged heads and audit entries in one transaction.
    /// Every chunk's document must exist. Returns the new generation of each document written.
    fn write_batch(&self, batch: &WriteBatch, at: Millis) -> StoreResult<HashMap<String, i64>>;
    /// Writes a batch ([`RelayStore::write_batch`]) and
    /// appends `events` to the ledger's arrival log ([`RelayStore::append_ledger_events`])
    /// in one transaction. Returns the new generations and the events newly logged.
    fn write_sync(
        &self,
        batch: &WriteBatch,
        events: &[NewLedgerEvent],
        at: Millis,
    ) -> StoreResult<(HashMap<String, i64>, Vec<LedgerEventRecord>)>;
    /// Writes several syncs' batches and events ([`RelayStore::write_sync`] each), as one
    /// group: a backend may commit them in one transaction with one flush to disk (group
    /// commit), each item standing or failing alone. Every result is durable when this
    /// returns. By default, one transaction per item.
    fn write_syncs(&self, items: &[(&WriteBatch, &[NewLedgerEvent])], at: Millis) -> Vec<StoreResult<SyncWritten>> {
        items.iter().map(|(batch, events)| self.write_sync(batch, events, at)).collect()
    }
    /// Replaces a document's snapshot and chunks with `snapshot` if its generation is still
    /// `generation` (nothing was appended meanwhile). Returns whether it did.
    fn compact_document(&self, doc: &str, snapshot: &[u8], generation: i64) -> StoreResult<bool>;

    // ----- districts, stations and members -----

    /// Creates a district.
    fn create_district(&self, district: &DistrictRecord) -> StoreResult<()>;
    /// Every district, by id.
    fn districts(&self) -> StoreResult<Vec<DistrictRecord>>;
    /// Moves a station into another district (both must exist); its members, documents
    /// and ledger stay as they are.
    fn move_station(&self, station: &StationId, district: &DistrictId) -> StoreResult<()>;
    /// Creates a station with its documents; its district must exist.
    fn create_station(&self, station: &StationRecord, documents: &[NewDocument]) -> StoreResult<()>;
    /// A station.
    fn station(&self, id: &StationId) -> StoreResult<Option<StationRecord>>;
    /// Every station, by id.
    fn stations(&self) -> StoreResult<Vec<StationRecord>>;
    /// Creates a member with their contact details and documents, and the console's
    /// `audit` entry for it, in one transaction; the station must exist.
    fn create_member(
        &self,
        member: &MemberRecord,
        contact: &MemberContact,
        documents: &[NewDocument],
        audit: Option<&AuditRecord>,
    ) -> StoreResult<()>;
    /// A member's contact details (empty when none were recorded).
    fn member_contact(&self, id: &MemberId) -> StoreResult<MemberContact>;
    /// Erases a member's contact details (a member who leaves), and writes the `audit`
    /// entry for it, in one transaction; the deleted bytes are overwritten, not only
    /// unlinked. Returns whether there were any; the member must exist.
    fn erase_member_contact(&self, id: &MemberId, audit: Option<&AuditRecord>) -> StoreResult<bool>;
    /// A member.
    fn member(&self, id: &MemberId) -> StoreResult<Option<MemberRecord>>;
    /// The members of a station, by id.
    fn station_members(&self, station: &StationId) -> StoreResult<Vec<MemberRecord>>;

    // ----- enrollment and devices -----

    /// Stores a new enrollment code, and the console's `audit` entry for it, in one
    /// transaction; the member must exist.
    fn add_enrollment_code(&self, code: &EnrollmentCode, audit: Option<&AuditRecord>) -> StoreResult<()>;
    /// Uses the code `code_hash` to enroll `device`, in one transaction: the code must be
    /// known, unused and unexpired at `now`, and the actor not registered yet. Returns the
    /// member the device now belongs to.
    fn enroll_device(
        &self,
        code_hash: &SecretHash,
        device: &NewDevice,
        now: Millis,
    ) -> StoreResult<Result<MemberRecord, EnrollRefusal>>;
    /// The device whose token hashes to `token_hash`.
    fn device_by_token(&self, token_hash: &SecretHash) -> StoreResult<Option<DeviceRecord>>;
    /// The device whose token hashes to `token_hash`, and its member (`None` if the store
    /// lacks it): what every request of a phone starts with, so a backend may read both at
    /// once.
    fn device_and_member_by_token(&self, token_hash: &SecretHash) -> StoreResult<Option<(DeviceRecord, Option<MemberRecord>)>> {
        let Some(device) = self.device_by_token(token_hash)? else { return Ok(None) };
        let member = self.member(&device.member)?;
        Ok(Some((device, member)))
    }
    /// The device that registered `actor` (lowercase hex).
    fn device_by_actor(&self, actor: &str) -> StoreResult<Option<DeviceRecord>>;
    /// Every device, oldest first.
    fn devices(&self) -> StoreResult<Vec<DeviceRecord>>;
    /// Revokes a device: its token stops working; its data stays. The console's `audit`
    /// entry is written with it, and only when it revokes now.
    fn revoke_device(&self, id: &str, at: Millis, audit: Option<&AuditRecord>) -> StoreResult<Revocation>;

    // ----- elders' tags (ADR 29) -----

    /// Registers a tag, and the console's `audit` entry for it, in one transaction; its
    /// station and elder must exist, and no tag may have its UID (a replaced tag keeps its
    /// row, revoked).
    fn register_tag(&self, tag: &TagRecord, audit: Option<&AuditRecord>) -> StoreResult<()>;
    /// The tag with this UID (lowercase hex), revoked or not.
    fn tag(&self, uid: &str) -> StoreResult<Option<TagRecord>>;
    /// The tags of a station, by elder then registration.
    fn station_tags(&self, station: &StationId) -> StoreResult<Vec<TagRecord>>;
    /// Revokes a tag at `at` for `why`, with the console's `audit` entry, only when it
    /// revokes now; [`Revocation`] says what it did.
    fn revoke_tag(&self, uid: &str, at: Millis, why: &str, audit: Option<&AuditRecord>) -> StoreResult<Revocation>;

    // ----- sync state -----

    /// What `device` sent on `day` (days since the epoch, UTC).
    fn device_usage(&self, device: &str, day: i64) -> StoreResult<DeviceUsage>;
    /// Marks `device` refused over its quota on `day`; true the first time that day (when
    /// its one security event is due).
    fn mark_over_quota(&self, device: &str, day: i64) -> StoreResult<bool>;

    /// The acknowledged heads of every document for `device`, by document id.
    fn acked_heads(&self, device: &str) -> StoreResult<HashMap<String, AckedHeads>>;

    // ----- ledger -----

    /// Appends `events` to the arrival log in order, each numbered after the last; an
    /// event whose key is logged already is skipped. Returns the events newly logged.
    fn append_ledger_events(&self, events: &[NewLedgerEvent], at: Millis) -> StoreResult<Vec<LedgerEventRecord>>;
    /// The logged events numbered after `after`, in order.
    fn ledger_events(&self, after: i64) -> StoreResult<Vec<LedgerEventRecord>>;
    /// Hands `each` the logged events numbered after `after`, in order, stopping at its
    /// first error (which it returns). What the full rebuild reads: a store may read the log
    /// a part at a time instead of holding a district-year's millions of events at once.
    fn read_ledger_log(&self, after: i64, each: &mut dyn FnMut(LoggedEvent<'_>) -> StoreResult<()>) -> StoreResult<()> {
        for record in self.ledger_events(after)? {
            each(LoggedEvent { seq: record.seq, body: &record.body, received_at: record.received_at })?;
        }
        Ok(())
    }
    /// The logged events with any of `keys` (each found by its key: the unique index), in
    /// arrival order; keys not logged are left out.
    fn ledger_events_keyed(&self, keys: &[String]) -> StoreResult<Vec<LedgerEventRecord>>;
    /// Appends `postings` (a key posted before is skipped: idempotent) and writes the
    /// ledger documents' chunks in `documents`, in one transaction. Returns the new
    /// generation of each document written. All of it derives from the arrival log, so it
    /// need not be flushed to disk on its own: it is durable with the next write that is
    /// (ADR 37).
    fn append_postings(&self, postings: &[PostingRecord], documents: &WriteBatch, at: Millis) -> StoreResult<HashMap<String, i64>>;
    /// Every posting, in the order posted.
    fn postings(&self) -> StoreResult<Vec<PostingRecord>>;
    /// How far the ledger is: the last event logged, and the last the ledger has folded
    /// with its effects stored (equal when the ledger is current).
    fn ledger_progress(&self) -> StoreResult<LedgerProgress>;

    // ----- the coordinator console -----

    /// Creates a console account; its station and member must exist.
    fn create_console_user(&self, user: &ConsoleUserRecord) -> StoreResult<()>;
    /// A console account by username.
    fn console_user(&self, username: &str) -> StoreResult<Option<ConsoleUserRecord>>;
    /// Stores a new session, and the console's `audit` entry for the sign-in, in one
    /// transaction.
    fn create_console_session(&self, session: &ConsoleSessionRecord, audit: Option<&AuditRecord>) -> StoreResult<()>;
    /// The session whose token hashes to `token_hash`.
    fn console_session(&self, token_hash: &SecretHash) -> StoreResult<Option<ConsoleSessionRecord>>;
    /// Marks a session used at `at`.
    fn touch_console_session(&self, token_hash: &SecretHash, at: Millis) -> StoreResult<()>;
    /// Ends a session (sign-out or expiry), and writes the console's `audit` entry for the
    /// sign-out, in one transaction.
    fn end_console_session(&self, token_hash: &SecretHash, audit: Option<&AuditRecord>) -> StoreResult<()>;
    /// Records a failed sign-in for `username` (known or not).
    fn record_login_failure(&self, username: &str, at: Millis) -> StoreResult<()>;
    /// The times of the failed sign-ins for `username` at or after `since`, oldest first.
    fn login_failures_since(&self, username: &str, since: Millis) -> StoreResult<Vec<Millis>>;
    /// Forgets the failed sign-ins for `username` (after a successful one).
    fn clear_login_failures(&self, username: &str) -> StoreResult<()>;
    /// Forgets what has expired: sessions last used before `idle_before` or started before
    /// `started_before`, and failed sign-ins before `failures_before`. Returns how many
    /// sessions ended.
    fn purge_console_state(&self, idle_before: Millis, started_before: Millis, failures_before: Millis) -> StoreResult<usize>;
    /// Appends an entry to the audit trail, for an action that stores nothing else (a
    /// failed sign-in, whose try was counted before its password was checked); an action that stores something writes its entry in the same transaction
    /// (a [`WriteBatch`]'s `audits`, or the `audit` of the store method).
    fn record_audit(&self, entry: &AuditRecord) -> StoreResult<()>;
    /// The newest `limit` audit entries, newest first: of one station, or all (`None`).
    fn audit_entries(&self, station: Option<&StationId>, limit: usize) -> StoreResult<Vec<AuditRecord>>;

    // ----- across relays -----

    /// Starts hearing of document writes by every process on this store (this one
    /// included), or `None` when the backend cannot tell (SQLite: one process writes, and
    /// a cached copy is checked by its generation anyway). The first subscription waits
    /// until it listens, so every write committed after it returns is heard.
    fn subscribe_changes(&self) -> StoreResult<Option<DocumentChanges>>;

    // ----- security events -----

    /// Records a security event.
    fn record_security_event(&self, event: &SecurityEvent) -> StoreResult<()>;
    /// Every security event, oldest first.
    fn security_events(&self) -> StoreResult<Vec<SecurityEvent>>;
    /// How many security events are recorded (what the metrics count, without reading them).
    fn security_event_count(&self) -> StoreResult<i64>;

    // ----- what an operator watches -----

    /// The store's size on disk, in bytes (SQLite: the file and its write-ahead log).
    fn size_bytes(&self) -> StoreResult<u64>;
}
