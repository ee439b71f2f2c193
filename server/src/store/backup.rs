//! Backups of the SQLite store that restore (ADR 0035): [`backup`] copies the live store
//! with SQLite's online backup API in one step (one read transaction: a consistent moment
//! while the relay keeps writing, WAL lets it), [`restore`] checks a backup file (SQLite's
//! integrity check, a schema version this relay knows, the tables of a relay store) and
//! copies it into an empty data directory. Both write the copy under a temporary name,
//! flush it and only then give it its name: a file with the final name is always whole.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use crate::store::schema;
use crate::store::sqlite::STORE_FILE;
use crate::store::{Millis, StoreError};

/// How often a step that met a busy lock is tried again, and how long between tries.
const BUSY_TRIES: u32 = 100;
const BUSY_PAUSE: Duration = Duration::from_millis(50);

/// Why a backup or a restore did nothing.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// There is no store to back up.
    #[error("there is no relay store at {0}; give the relay's data directory with --data")]
    NoStore(PathBuf),
    /// The target exists already: nothing is overwritten.
    #[error("{0} exists already; back up to a new file name (nothing was overwritten)")]
    TargetExists(PathBuf),
    /// A restore must go into a new, empty directory.
    #[error("the data directory {0} is not empty; restore into a new directory and start the relay on it (nothing was changed)")]
    NotEmpty(PathBuf),
    /// The file to restore is not there.
    #[error("there is no backup file at {0}")]
    NoBackup(PathBuf),
    /// The file is not an SQLite database, or not a relay's store.
    #[error("{path} is not a backup of a relay store: {detail}; nothing was restored")]
    NotARelayStore {
        /// The file.
        path: PathBuf,
        /// What is missing or wrong.
        detail: String,
    },
    /// The file fails SQLite's integrity check.
    #[error("{path} is damaged (SQLite's integrity check: {detail}); restore an older backup (nothing was restored)")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What the check found.
        detail: String,
    },
    /// The backup was taken by a newer relay.
    #[error(
        "{path} has store version {found}, newer than this relay's {supported}; restore it with the relay version that took it or a newer one (nothing was restored)"
    )]
    TooNew {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
    /// Reading or writing failed.
    #[error("{what}: {detail}")]
    Failed {
        /// What was being done.
        what: String,
        /// The error.
        detail: String,
    },
}

impl BackupError {
    fn failed(what: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> BackupError {
        let what = what.into();
        move |error| BackupError::Failed { what, detail: error.to_string() }
    }

    fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BackupError {
        let what = what.into();
        move |error| BackupError::Failed { what, detail: error.to_string() }
    }
}

impl From<BackupError> for StoreError {
    fn from(error: BackupError) -> Self {
        StoreError::Backend(error.to_string())
    }
}

/// What a backup file holds, as read back from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupSummary {
    /// The file written (the backup, or the restored store).
    pub file: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its store version.
    pub version: i64,
    /// Documents it holds.
    pub documents: i64,
    /// Members registered in it.
    pub members: i64,
    /// Devices enrolled in it: a phone enrolled later is not known to a relay restored
    /// from it, and must enroll again.
    pub devices: i64,
    /// Events of the ledger's arrival log.
    pub events: i64,
    /// When the newest of them arrived (what the copy is as recent as), if any did.
    pub newest_arrival: Option<Millis>,
}

/// Copies the store in `data` to the new file `to` while the relay may be serving: one
/// consistent moment of the store (everything committed before the copy began, nothing
/// after), checked and flushed before it takes its name.
pub fn backup(data: &Path, to: &Path) -> Result<BackupSummary, BackupError> {
    let source_path = data.join(STORE_FILE);
    if !source_path.is_file() {
        return Err(BackupError::NoStore(source_path));
    }
    refuse_existing(to)?;
    let source = Connection::open_with_flags(&source_path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(BackupError::failed(format!("could not open {}", source_path.display())))?;
    source.busy_timeout(Duration::from_secs(10)).map_err(BackupError::failed("could not set the busy timeout"))?;
    let found = schema::version(&source).map_err(|e| not_a_store(&source_path, &e))?;
    check_version(&source_path, found)?;
    check_tables(&source_path, &source, found)?;
    copy_into(&source, to)
}

/// Restores the backup `from` into `data`, which must be empty or not exist yet. The
/// backup is checked first: SQLite's integrity check, a store version this relay knows
/// (an older one is migrated when the relay starts on it), the tables of a relay store.
pub fn restore(from: &Path, data: &Path) -> Result<BackupSummary, BackupError> {
    if !from.is_file() {
        return Err(BackupError::NoBackup(from.to_path_buf()));
    }
    let is_empty = match fs::read_dir(data) {
        Ok(mut entries) => entries.next().is_none(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => true,
        Err(error) => return Err(BackupError::io(format!("could not read {}", data.display()))(error)),
    };
    if !is_empty {
        return Err(BackupError::NotEmpty(data.to_path_buf()));
    }
    let source = Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(BackupError::failed(format!("could not open {}", from.display())))?;
    let found = schema::version(&source).map_err(|e| not_a_store(from, &e))?;
    check_version(from, found)?;
    let integrity: String = source.query_row("PRAGMA integrity_check", [], |row| row.get(0)).map_err(|e| not_a_store(from, &e))?;
    if integrity != "ok" {
        return Err(BackupError::Damaged { path: from.to_path_buf(), detail: integrity });
    }
    check_tables(from, &source, found)?;
    fs::create_dir_all(data).map_err(BackupError::io(format!("could not create {}", data.display())))?;
    copy_into(&source, &data.join(STORE_FILE))
}

fn refuse_existing(to: &Path) -> Result<(), BackupError> {
    if to.exists() { Err(BackupError::TargetExists(to.to_path_buf())) } else { Ok(()) }
}

fn not_a_store(path: &Path, error: &rusqlite::Error) -> BackupError {
    BackupError::NotARelayStore { path: path.to_path_buf(), detail: format!("it cannot be read as an SQLite database ({error})") }
}

fn check_version(path: &Path, found: i64) -> Result<(), BackupError> {
    let supported = schema::latest_version();
    if found > supported {
        return Err(BackupError::TooNew { path: path.to_path_buf(), found, supported });
    }
    if found < 1 {
        return Err(BackupError::NotARelayStore { path: path.to_path_buf(), detail: "it has no store version".into() });
    }
    Ok(())
}

/// The tables a relay store of `version` has: its migrations applied to an empty database.
fn expected_tables(version: i64) -> rusqlite::Result<Vec<String>> {
    let mut empty = Connection::open_in_memory()?;
    schema::migrate_to(&mut empty, version)?;
    tables(&empty)
}

fn tables(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")?;
    stmt.query_map([], |row| row.get(0))?.collect()
}

/// Refuses a file whose tables are not those of a relay store of its version.
fn check_tables(path: &Path, conn: &Connection, version: i64) -> Result<(), BackupError> {
    let expected = expected_tables(version).map_err(BackupError::failed("could not build the expected schema"))?;
    let found = tables(conn).map_err(|e| not_a_store(path, &e))?;
    let missing: Vec<&String> = expected.iter().filter(|t| !found.contains(t)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let missing = missing.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ");
    Err(BackupError::NotARelayStore {
        path: path.to_path_buf(),
        detail: format!("a relay store of version {version} has the tables {missing}, which it lacks"),
    })
}

/// Copies `source` into the new file `to` in one step, checks and flushes the copy under a
/// temporary name, then renames it.
fn copy_into(source: &Connection, to: &Path) -> Result<BackupSummary, BackupError> {
    refuse_existing(to)?;
    let partial = partial_name(to);
    let written = (|| {
        let mut copy = Connection::open(&partial).map_err(BackupError::failed(format!("could not create {}", partial.display())))?;
        copy_pages(source, &mut copy)?;
        // One file, no WAL beside it: what an operator copies elsewhere is whole.
        copy.pragma_update(None, "journal_mode", "DELETE").map_err(BackupError::failed("could not finish the copy"))?;
        let integrity: String =
            copy.query_row("PRAGMA integrity_check", [], |row| row.get(0)).map_err(BackupError::failed("could not check the copy"))?;
        if integrity != "ok" {
            return Err(BackupError::Damaged { path: partial.clone(), detail: integrity });
        }
        let summary = summary(&copy, to).map_err(BackupError::failed("could not read the copy back"))?;
        drop(copy);
        File::open(&partial).and_then(|f| f.sync_all()).map_err(BackupError::io("could not flush the copy to disk"))?;
        Ok(summary)
    })();
    let summary = match written {
        Ok(summary) => summary,
        Err(error) => {
            let _ = fs::remove_file(&partial);
            return Err(error);
        }
    };
    refuse_existing(to)?;
    fs::rename(&partial, to).map_err(BackupError::io(format!("could not name the copy {}", to.display())))?;
    if let Some(dir) = to.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir).and_then(|d| d.sync_all()).map_err(BackupError::io("could not flush the directory"))?;
    }
    let bytes = fs::metadata(to).map_err(BackupError::io("could not read the copy's size"))?.len();
    Ok(BackupSummary { bytes, ..summary })
}

/// `to` with `.partial` added: where the copy is written until it is whole.
fn partial_name(to: &Path) -> PathBuf {
    let mut name = to.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// Every page of `source` in one step: one read transaction, so one consistent moment of
/// the store, while the relay's writer goes on (WAL). Copying a few pages at a time would
/// start again at every write of the relay's process and might never finish on a busy relay.
fn copy_pages(source: &Connection, copy: &mut Connection) -> Result<(), BackupError> {
    let backup = Backup::new(source, copy).map_err(BackupError::failed("could not start the copy"))?;
    for _ in 0..BUSY_TRIES {
        match backup.step(-1).map_err(BackupError::failed("the copy failed"))? {
            StepResult::Done => return Ok(()),
            // Busy or locked (another connection is recovering the WAL): try again.
            _ => std::thread::sleep(BUSY_PAUSE),
        }
    }
    Err(BackupError::Failed { what: "the copy failed".into(), detail: "the store stayed locked for 5 seconds; try again".into() })
}

fn summary(conn: &Connection, file: &Path) -> rusqlite::Result<BackupSummary> {
    let count = |table: &str| conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| row.get::<_, i64>(0));
    Ok(BackupSummary {
        file: file.to_path_buf(),
        bytes: 0,
        version: schema::version(conn)?,
        documents: count("documents")?,
        members: count("members")?,
        devices: count("devices")?,
        events: count("ledger_events")?,
        newest_arrival: conn.query_row("SELECT MAX(received_at) FROM ledger_events", [], |row| row.get(0))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{RelayStore, SqliteStore, StationRecord};
    use timebank_engine::model::StationId;

    fn store_with_a_station(dir: &Path) {
        let store = SqliteStore::open(dir).unwrap();
        let station = StationRecord {
            id: StationId::parse("s-caoyang").unwrap(),
            name: "Caoyang".into(),
            district: timebank_engine::model::DistrictId::parse(crate::store::DEFAULT_DISTRICT).unwrap(),
            created_at: 1,
        };
        store.create_station(&station, &[]).unwrap();
    }

    #[test]
    fn a_backup_restores_into_an_empty_directory_and_opens() {
        let (data, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        store_with_a_station(data.path());
        let file = out.path().join("relay-backup.sqlite3");
        let taken = backup(data.path(), &file).unwrap();
        assert_eq!((taken.version, taken.file.clone()), (schema::latest_version(), file.clone()));
        assert!(taken.bytes > 0 && !partial_name(&file).exists());
        let restored = out.path().join("restored");
        restore(&file, &restored).unwrap();
        let store = SqliteStore::open(&restored).unwrap();
        assert_eq!(store.stations().unwrap().len(), 1);
    }

    #[test]
    fn nothing_is_overwritten_and_only_an_empty_directory_is_restored_into() {
        let (data, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        store_with_a_station(data.path());
        let file = out.path().join("b.sqlite3");
        backup(data.path(), &file).unwrap();
        assert!(matches!(backup(data.path(), &file), Err(BackupError::TargetExists(_))));
        let error = restore(&file, data.path()).unwrap_err();
        assert!(error.to_string().contains("not empty"), "{error}");
        assert!(matches!(backup(out.path(), &out.path().join("c.sqlite3")), Err(BackupError::NoStore(_))));
    }

    #[test]
    fn a_file_that_is_not_a_relay_store_is_refused_with_what_is_wrong() {
        let out = tempfile::tempdir().unwrap();
        let text = out.path().join("notes.txt");
        fs::write(&text, "not a database, just some words that are long enough to fill a header").unwrap();
        let error = restore(&text, &out.path().join("a")).unwrap_err();
        assert!(matches!(error, BackupError::NotARelayStore { .. }), "{error}");
        // A phone's store is SQLite with a version, but not the relay's tables.
        let other = out.path().join("other.sqlite3");
        let conn = Connection::open(&other).unwrap();
        conn.execute_batch("CREATE TABLE meta (key TEXT); PRAGMA user_version = 2;").unwrap();
        drop(conn);
        let error = restore(&other, &out.path().join("b")).unwrap_err();
        assert!(error.to_string().contains("lacks"), "{error}");
        assert!(!out.path().join("b").join(STORE_FILE).exists());
    }

    #[test]
    fn a_backup_from_a_newer_relay_is_refused() {
        let (data, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        store_with_a_station(data.path());
        let file = out.path().join("b.sqlite3");
        backup(data.path(), &file).unwrap();
        let conn = Connection::open(&file).unwrap();
        conn.pragma_update(None, "user_version", schema::latest_version() + 1).unwrap();
        drop(conn);
        let error = restore(&file, &out.path().join("new")).unwrap_err();
        assert!(matches!(error, BackupError::TooNew { .. }), "{error}");
        assert!(error.to_string().contains("newer"), "{error}");
    }

    #[test]
    fn a_damaged_backup_is_refused() {
        let (data, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        store_with_a_station(data.path());
        let file = out.path().join("b.sqlite3");
        backup(data.path(), &file).unwrap();
        // Overwrite the middle of every page after the first (the header stays readable).
        let mut bytes = fs::read(&file).unwrap();
        let page = 4096;
        for start in (page..bytes.len()).step_by(page) {
            for b in &mut bytes[start + 100..start + 400] {
                *b = 0xA5;
            }
        }
        fs::write(&file, bytes).unwrap();
        let error = restore(&file, &out.path().join("new")).unwrap_err();
        assert!(matches!(error, BackupError::Damaged { .. } | BackupError::NotARelayStore { .. }), "{error}");
        assert!(!out.path().join("new").join(STORE_FILE).exists());
    }
}
