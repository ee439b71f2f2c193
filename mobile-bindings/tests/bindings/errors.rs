//! Every engine error reaches the apps as the right `TimebankError` variant with a message
//! a person can act on, and bad input through the API never panics or changes anything.

use std::path::PathBuf;

use timebank_engine::Error;
use timebank_engine::sync::TransportError;
use timebank_mobile::types::{ConfirmedBy, PastVisit, ReviewDecision, Role};
use timebank_mobile::{SyncCancel, TimebankError, TimebankStore};

use crate::support::{TestRelay, enrolled_phone, offline_volunteer, path, visit_of_an_hour};

fn variant(error: &TimebankError) -> &'static str {
    match error {
        TimebankError::InvalidInput { .. } => "InvalidInput",
        TimebankError::NotAllowed { .. } => "NotAllowed",
        TimebankError::NotFound { .. } => "NotFound",
        TimebankError::NoStore { .. } => "NoStore",
        TimebankError::AlreadyExists { .. } => "AlreadyExists",
        TimebankError::UpdateRequired { .. } => "UpdateRequired",
        TimebankError::StoreDamaged { .. } => "StoreDamaged",
        TimebankError::Storage { .. } => "Storage",
        TimebankError::Offline { .. } => "Offline",
        TimebankError::RelayRefused { .. } => "RelayRefused",
        TimebankError::RelayProtocol { .. } => "RelayProtocol",
        TimebankError::Cancelled { .. } => "Cancelled",
        TimebankError::Internal { .. } => "Internal",
    }
}

/// The variant of `result`'s error, after checking its message reads as a sentence.
fn failure<T: std::fmt::Debug>(result: Result<T, TimebankError>) -> &'static str {
    let error = result.expect_err("the call should have failed");
    let message = error.to_string();
    assert!(message.len() > 15 && !message.contains("Error("), "unreadable message: {message:?}");
    variant(&error)
}

#[test]
fn each_engine_error_becomes_its_own_variant_with_the_engines_message() {
    let path = PathBuf::from("/data/timebank");
    let cases: Vec<(Error, &str)> = vec![
        (Error::invalid("the visit ends before it starts; check the times"), "InvalidInput"),
        (Error::NotAllowed("checking in is for volunteer devices".into()), "NotAllowed"),
        (Error::NotFound { what: "visit", id: "v-1".into() }, "NotFound"),
        (Error::NoStore(path.clone()), "NoStore"),
        (Error::AlreadyInitialised(path.clone()), "AlreadyExists"),
        (Error::StoreTooNew { path: path.clone(), found: 9, supported: 3 }, "UpdateRequired"),
        (Error::DocumentTooNew { doc: "member/v-1".into(), found: 9, supported: 1 }, "UpdateRequired"),
        (Error::Corrupt { path: path.clone(), detail: "not a database".into() }, "StoreDamaged"),
        (Error::Storage(rusqlite::Error::InvalidQuery), "Storage"),
        (Error::Io(std::io::Error::other("disk full")), "Storage"),
        (Error::Transport(TransportError::Unreachable("connection refused".into())), "Offline"),
        (Error::Transport(TransportError::Refused { status: 401, message: "unknown device".into() }), "RelayRefused"),
        (Error::Protocol("the relay's answer could not be read".into()), "RelayProtocol"),
        (Error::Document(automerge::AutomergeError::Fail), "Internal"),
    ];
    for (error, expected) in cases {
        let message = error.to_string();
        let converted = TimebankError::from(error);
        assert_eq!(variant(&converted), expected, "{message}");
        assert_eq!(converted.to_string(), message);
    }
}

#[test]
fn bad_ids_and_input_are_refused_and_change_nothing() {
    let phone = offline_volunteer();
    let store = &phone.store;
    let before = store.status().unwrap();
    assert_eq!(failure(store.check_in("E 2001!".into(), "companionship".into(), None, None)), "InvalidInput");
    assert_eq!(failure(store.check_in("e-2001".into(), "juggling".into(), None, None)), "InvalidInput");
    assert_eq!(failure(store.check_in("e-2001".into(), "companionship".into(), Some("".into()), None)), "InvalidInput");
    assert_eq!(failure(store.check_out("../../etc".into(), None, None)), "InvalidInput");
    assert_eq!(failure(store.check_out("v-unknown".into(), None, None)), "NotFound");
    assert_eq!(failure(store.confirm_visit("v-unknown".into(), ConfirmedBy::Elder)), "NotFound");
    assert_eq!(failure(store.visit("".into())), "InvalidInput");
    assert_eq!(failure(store.accept("o-unknown".into())), "NotFound");
    assert_eq!(failure(store.redeem("tcm-physiotherapy".into(), -60)), "InvalidInput");
    assert_eq!(failure(store.gift("v-1001".into(), 60)), "InvalidInput");
    assert_eq!(failure(store.document_bytes("no such document".into())), "InvalidInput");
    assert_eq!(failure(store.receive_changes("member/v-1001".into(), vec![0xde, 0xad, 0xbe, 0xef])), "InvalidInput");
    let now = std::time::SystemTime::now();
    let backwards =
        PastVisit { elder: "e-2001".into(), service: "meals".into(), order: None, start: now, end: now, note: String::new() };
    assert_eq!(failure(store.log_visit(backwards)), "InvalidInput");
    assert_eq!(store.status().unwrap(), before, "a refused call changed the store");
}

#[test]
fn a_role_that_may_not_do_it_is_told_so() {
    let volunteer = offline_volunteer();
    assert_eq!(failure(volunteer.store.review_queue()), "NotAllowed");
    assert_eq!(failure(volunteer.store.dispatch("o-1".into(), "v-2".into())), "NotAllowed");
    let dir = tempfile::tempdir().unwrap();
    let elder = TimebankStore::create(path(&dir), "e-2001".into(), "s-caoyang".into(), Role::Elder).unwrap();
    assert_eq!(failure(elder.check_in("e-2002".into(), "companionship".into(), None, None)), "NotAllowed");
    let visit = visit_of_an_hour(&volunteer.store, "e-2001");
    assert_eq!(failure(volunteer.store.review_visit(visit, ReviewDecision::Approve, String::new())), "NotAllowed");
}

#[test]
fn stores_that_cannot_be_used_say_why() {
    let dir = tempfile::tempdir().unwrap();
    // No store yet.
    assert_eq!(failure(TimebankStore::open(path(&dir))), "NoStore");
    // A store already there.
    TimebankStore::create(path(&dir), "v-1001".into(), "s-caoyang".into(), Role::Volunteer).unwrap();
    assert_eq!(failure(TimebankStore::create(path(&dir), "v-1002".into(), "s-caoyang".into(), Role::Volunteer)), "AlreadyExists");
    assert_eq!(TimebankStore::open(path(&dir)).unwrap().identity().unwrap().member, "v-1001");
    // The store directory is a file.
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let file = file.to_string_lossy().into_owned();
    assert_eq!(failure(TimebankStore::create(file.clone(), "v-1".into(), "s-1".into(), Role::Volunteer)), "Storage");
    assert_eq!(failure(TimebankStore::open(file)), "NoStore");
    // A store written by a newer app is refused untouched.
    let newer = tempfile::tempdir().unwrap();
    TimebankStore::create(path(&newer), "v-1001".into(), "s-caoyang".into(), Role::Volunteer).unwrap();
    let sqlite = newer.path().join(timebank_engine::storage::STORE_FILE);
    rusqlite::Connection::open(&sqlite).unwrap().pragma_update(None, "user_version", 999).unwrap();
    assert_eq!(failure(TimebankStore::open(path(&newer))), "UpdateRequired");
    let version: i64 = rusqlite::Connection::open(&sqlite).unwrap().query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, 999);
    // A damaged store file.
    let damaged = tempfile::tempdir().unwrap();
    std::fs::write(damaged.path().join(timebank_engine::storage::STORE_FILE), vec![0x42; 8192]).unwrap();
    assert_eq!(failure(TimebankStore::open(path(&damaged))), "StoreDamaged");
}

#[test]
fn relays_that_cannot_be_used_say_why() {
    let phone = offline_volunteer();
    assert_eq!(failure(phone.store.sync(None)), "NotAllowed", "sync before enrollment");
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        failure(TimebankStore::enroll(path(&dir), "http://relay.example.org".into(), "code".into())),
        "InvalidInput",
        "a token in clear text"
    );
    // Nothing listens on a port just freed.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    assert_eq!(failure(TimebankStore::enroll(path(&dir), format!("http://127.0.0.1:{port}"), "code".into())), "Offline");
    let relay = TestRelay::new();
    assert_eq!(failure(TimebankStore::enroll(path(&dir), relay.url(), "not-a-code".into())), "RelayRefused");
    // The slip's QR code holds the relay with the code: with it, no relay needs typing.
    let volunteer = relay.member("volunteer", "Li");
    let link = timebank_engine::model::EnrollLink { relay: relay.url(), code: relay.code(&volunteer) }.to_uri();
    let scanned = tempfile::tempdir().unwrap();
    let store = TimebankStore::enroll(path(&scanned), String::new(), link).unwrap();
    assert_eq!(store.identity().unwrap().member, volunteer.id.to_string(), "enrolled with the scanned link");
    assert_eq!(
        failure(TimebankStore::enroll(path(&dir), String::new(), "K7MQ2XH9PA".into())),
        "InvalidInput",
        "a code alone names no relay"
    );
    assert_eq!(failure(TimebankStore::open(path(&dir))), "NoStore", "a failed enrollment left a store behind");
    let cancel = SyncCancel::new();
    cancel.cancel();
    let enrolled = enrolled_phone(&relay, &relay.member("volunteer", "Wang"));
    assert_eq!(failure(enrolled.store.sync(Some(cancel))), "Cancelled");
}
