//! The store file on disk: damaged, too new, already there or missing stores are refused
//! without being touched, and many writes are compacted into a snapshot on open.

use std::path::Path;

use rusqlite::Connection;
use tempfile::TempDir;
use timebank_engine::model::Role;
use timebank_engine::storage::{STORE_FILE, schema};
use timebank_engine::{COMPACT_AFTER_CHUNKS, Engine, Error};

use crate::support::{Device, ELDER, OTHER_VOLUNTEER, VOLUNTEER, clock_at_base, file_bytes, identity, member, seen};

/// Files in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// Bytes that are not an SQLite database (and not empty, which SQLite would take for a new one).
fn garbage() -> Vec<u8> {
    (0..8192u32).map(|i| u8::try_from((i * 7919 + 13) % 251).unwrap()).collect()
}

fn open(dir: &Path) -> Result<Engine, Error> {
    Engine::open_with_clock(dir, clock_at_base("boot"))
}

fn create(dir: &Path, member_id: &str) -> Result<Engine, Error> {
    Engine::create_with_clock(dir, identity(member_id, Role::Volunteer), clock_at_base("boot"))
}

/// A closed store with a visit and a request in it.
fn closed_store_with_history() -> Device {
    let mut phone = Device::volunteer();
    let visit = phone.start_visit(&member(ELDER), "meals", None).unwrap();
    phone.wait_minutes(30);
    phone.end_visit(&visit, None, None).unwrap();
    phone.request_gift(&member(OTHER_VOLUNTEER), 15).unwrap();
    phone.close();
    phone
}

#[test]
fn a_store_file_full_of_garbage_is_reported_damaged_and_left_as_it_was() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join(STORE_FILE);
    std::fs::write(&file, garbage()).unwrap();

    let error = open(dir.path()).unwrap_err();
    assert!(matches!(error, Error::Corrupt { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("is damaged"), "{message}");
    assert!(message.contains("nothing was changed"), "{message}");
    assert!(message.contains(&file.display().to_string()), "{message} names the file");
    assert!(file_bytes(&file) == garbage(), "the damaged file was modified");

    // `init` over it is refused the same way: the damaged file may still be rescued.
    let error = create(dir.path(), VOLUNTEER).unwrap_err();
    assert!(matches!(error, Error::Corrupt { .. }), "{error:?}");
    assert!(file_bytes(&file) == garbage(), "the damaged file was modified by init");
    assert_eq!(listing(dir.path()), [STORE_FILE]);
}

#[test]
fn a_real_store_overwritten_with_garbage_is_reported_damaged() {
    let phone = closed_store_with_history();
    let file = phone.store_file();
    let mut bytes = file_bytes(&file);
    // Keep the SQLite header, ruin every page after the first.
    for (i, byte) in bytes.iter_mut().enumerate().skip(4096) {
        *byte = u8::try_from(i % 241).unwrap();
    }
    std::fs::write(&file, &bytes).unwrap();

    let error = open(phone.dir()).unwrap_err();
    assert!(matches!(error, Error::Corrupt { .. }), "{error:?}");
    assert!(error.to_string().contains("nothing was changed"), "{error}");
    assert!(file_bytes(&file) == bytes, "the damaged file was modified");
}

#[test]
fn a_damaged_document_in_a_sound_store_file_is_reported_damaged() {
    let phone = closed_store_with_history();
    let file = phone.store_file();
    {
        let conn = Connection::open(&file).unwrap();
        let changed =
            conn.execute("UPDATE chunks SET bytes = x'00112233445566778899' WHERE id = (SELECT max(id) FROM chunks)", []).unwrap();
        assert_eq!(changed, 1);
    }
    let bytes = file_bytes(&file);

    let error = open(phone.dir()).unwrap_err();
    assert!(matches!(error, Error::Corrupt { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(&format!("member/{VOLUNTEER}")), "{message} names the document");
    assert!(message.contains("nothing was changed"), "{message}");
    assert!(file_bytes(&file) == bytes, "the damaged store was modified");
}

#[test]
fn a_store_written_by_a_newer_app_is_refused_and_not_modified() {
    let mut phone = closed_store_with_history();
    phone.reopen();
    let before = seen(&phone);
    phone.close();
    let file = phone.store_file();
    {
        let conn = Connection::open(&file).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let bytes = file_bytes(&file);

    let error = open(phone.dir()).unwrap_err();
    match &error {
        Error::StoreTooNew { found, supported, .. } => {
            assert_eq!(*found, 99);
            assert_eq!(*supported, schema::latest_version());
        }
        other => panic!("expected StoreTooNew, got {other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains("update the app"), "{message}");
    assert!(message.contains("nothing was changed"), "{message}");
    assert!(file_bytes(&file) == bytes, "the newer store was modified");

    let error = create(phone.dir(), VOLUNTEER).unwrap_err();
    assert!(matches!(error, Error::StoreTooNew { found: 99, .. }), "{error:?}");
    assert!(file_bytes(&file) == bytes, "the newer store was modified by init");

    // Nothing was lost: with its version put back, the store opens with everything in it.
    {
        let conn = Connection::open(&file).unwrap();
        conn.pragma_update(None, "user_version", schema::latest_version()).unwrap();
    }
    phone.reopen();
    assert_eq!(seen(&phone), before);
}

#[test]
fn init_on_an_existing_store_is_refused_and_changes_nothing() {
    let mut phone = closed_store_with_history();
    phone.reopen();
    let identity_before = phone.identity().clone();
    let before = seen(&phone);
    phone.close();
    let bytes = file_bytes(&phone.store_file());

    for who in [VOLUNTEER, OTHER_VOLUNTEER] {
        let error = create(phone.dir(), who).unwrap_err();
        assert!(matches!(error, Error::AlreadyInitialised(_)), "{error:?}");
        let message = error.to_string();
        assert!(message.contains("already exists"), "{message}");
        assert!(message.contains("nothing was changed"), "{message}");
        assert!(file_bytes(&phone.store_file()) == bytes, "init modified the existing store");
    }

    phone.reopen();
    assert_eq!(phone.identity(), &identity_before);
    assert_eq!(seen(&phone), before);
}

#[test]
fn opening_a_directory_without_a_store_says_to_create_one() {
    let dir = TempDir::new().unwrap();
    let error = open(dir.path()).unwrap_err();
    assert!(matches!(&error, Error::NoStore(path) if path == dir.path()), "{error:?}");
    assert!(error.to_string().contains("timebank init"), "{error}");
    assert!(listing(dir.path()).is_empty(), "opening created files: {:?}", listing(dir.path()));

    let missing = dir.path().join("not-there");
    let error = open(&missing).unwrap_err();
    assert!(matches!(error, Error::NoStore(_)), "{error:?}");
    assert!(!missing.exists(), "opening created the directory");
}

/// Rows in `chunks` and whether a snapshot is set, for `doc_id`, read from the file.
fn stored_shape(file: &Path, doc_id: &str) -> (i64, bool) {
    let conn = Connection::open(file).unwrap();
    let chunks: i64 = conn.query_row("SELECT count(*) FROM chunks WHERE doc_id = ?1", [doc_id], |r| r.get(0)).unwrap();
    let snapshot: bool =
        conn.query_row("SELECT snapshot IS NOT NULL FROM documents WHERE doc_id = ?1", [doc_id], |r| r.get(0)).unwrap();
    (chunks, snapshot)
}

#[test]
fn many_writes_are_compacted_into_a_snapshot_when_the_store_opens() {
    let mut phone = Device::volunteer();
    let doc_id = format!("member/{VOLUNTEER}");
    let writes = COMPACT_AFTER_CHUNKS + 4;
    for i in 0..writes {
        let days_ago = i64::try_from(i % 25).unwrap() + 1;
        phone.log_paper(days_ago, 30).unwrap();
    }
    let before = seen(&phone);
    assert_eq!(before.visits.len(), writes);
    phone.close();
    let (chunks, snapshot) = stored_shape(&phone.store_file(), &doc_id);
    assert!(chunks > i64::try_from(COMPACT_AFTER_CHUNKS).unwrap(), "{chunks} chunks");
    assert!(!snapshot);

    phone.reopen();
    assert_eq!(seen(&phone), before);
    phone.close();
    assert_eq!(stored_shape(&phone.store_file(), &doc_id), (0, true));

    // The compacted store opens with every visit, and new writes go on top of the snapshot.
    phone.reopen();
    assert_eq!(seen(&phone), before);
    phone.log_paper(1, 45).unwrap();
    phone.close();
    assert_eq!(stored_shape(&phone.store_file(), &doc_id), (1, true));
    phone.reopen();
    assert_eq!(phone.visits().unwrap().len(), writes + 1);
}

#[test]
fn a_store_with_few_writes_is_not_compacted_until_asked() {
    let mut phone = Device::volunteer();
    let doc_id = format!("member/{VOLUNTEER}");
    for days_ago in 1..=5 {
        phone.log_paper(days_ago, 30).unwrap();
    }
    phone.reopen();
    phone.close();
    assert_eq!(stored_shape(&phone.store_file(), &doc_id), (6, false));

    phone.reopen();
    let before = seen(&phone);
    phone.compact().unwrap();
    phone.close();
    assert_eq!(stored_shape(&phone.store_file(), &doc_id), (0, true));
    phone.reopen();
    assert_eq!(seen(&phone), before);
}
