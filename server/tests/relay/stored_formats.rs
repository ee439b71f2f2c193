//! A store written by an earlier relay opens with this one unchanged: the fixture is the
//! data directory stop 8's `timebank-relay --demo` wrote (before the arrival log had a
//! format field, before statuses were typed), committed in `tests/fixtures/stop8-demo/`.
//! Its arrival log, postings and documents must read as they are, every stored event must
//! have the key this relay computes for it, and a restart must log and post nothing again.

use std::path::Path;

use rusqlite::Connection;
use timebank_server::Relay;
use timebank_server::ledger::EventBody;
use timebank_server::ledger::rebuild::rebuild_check;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/stop8-demo/relay.sqlite3");

/// Every row of the tables a restart could touch, as bytes.
fn rows(dir: &Path) -> Vec<(String, Vec<Vec<u8>>)> {
    let conn = Connection::open(dir.join("relay.sqlite3")).unwrap();
    let tables = [
        ("ledger_events", "SELECT seq || ' ' || key || ' ' || received_at, body FROM ledger_events ORDER BY seq"),
        ("postings", "SELECT key || ' ' || kind || ' ' || debit || ' ' || credit || ' ' || minutes, memo FROM postings ORDER BY seq"),
        ("documents", "SELECT doc_id, snapshot FROM documents ORDER BY doc_id"),
        ("chunks", "SELECT doc_id, bytes FROM chunks ORDER BY rowid"),
    ];
    tables
        .iter()
        .map(|(table, sql)| {
            let mut stmt = conn.prepare(sql).unwrap();
            let values = stmt
                .query_map([], |row| {
                    let head: String = row.get(0)?;
                    let body: rusqlite::types::Value = row.get(1)?;
                    let bytes = match body {
                        rusqlite::types::Value::Text(text) => text.into_bytes(),
                        rusqlite::types::Value::Blob(blob) => blob,
                        other => format!("{other:?}").into_bytes(),
                    };
                    Ok([head.into_bytes(), bytes].concat())
                })
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            ((*table).to_owned(), values)
        })
        .collect()
}

#[test]
fn a_store_from_the_previous_relay_reads_unchanged_and_restarts_without_posting_twice() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(FIXTURE, dir.path().join("relay.sqlite3")).unwrap();
    let before = rows(dir.path());
    let events = &before[0].1;
    assert_eq!(events.len(), 20, "the fixture's arrival log");

    for _restart in 0..2 {
        let relay = Relay::open(dir.path()).unwrap();
        relay.reconcile_ledger().unwrap();
        let store = relay.store();
        for record in store.ledger_events(0).unwrap() {
            assert!(!record.body.contains("\"format\""), "stored before the format field: {}", record.body);
            let body = EventBody::decode(&record.body).unwrap();
            assert_eq!(body.key(), record.key, "the key of a stored event moved: {}", record.body);
        }
        assert_eq!(rebuild_check(store).unwrap(), Vec::<String>::new());
    }
    // Nothing logged, posted or written again; nothing rewritten.
    assert_eq!(rows(dir.path()), before);
}
