//! One write's statements sent together (ADR 49): the documents' new chunks and
//! generations, the acknowledgements, audit entries, moves, usage and the arrival-log
//! events of a sync go to PostgreSQL in one pipeline, which runs them in the order sent,
//! and the relay waits once for all their answers instead of once per statement. What a
//! statement's answer decides (a document gone, a member moved meanwhile) is checked when
//! the answers are in; the caller then rolls back whatever the pipeline wrote.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;

use deadpool_postgres::{GenericClient, Transaction};
use timebank_engine::model::StationId;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Row, Statement};

use super::Fault;
use crate::store::encoding::heads_blob;
use crate::store::{AckedHeads, LedgerEventRecord, Millis, NewLedgerEvent, StoreError, SyncWritten, WriteBatch};

/// The documents' rows are locked in one order (by id), so two writers of the same
/// documents wait for each other instead of deadlocking.
const LOCK_DOCUMENTS: &str = r#"SELECT doc_id FROM document_versions WHERE doc_id = ANY($1) ORDER BY doc_id COLLATE "C" FOR UPDATE"#;
/// One generation per chunk, as if each were written alone.
const BUMP_GENERATIONS: &str = "UPDATE document_versions v SET generation = v.generation + c.added, updated_at = $3
     FROM unnest($1::text[], $2::int8[]) AS c(doc_id, added)
     WHERE v.doc_id = c.doc_id RETURNING v.doc_id, v.generation";
const INSERT_CHUNKS: &str = "INSERT INTO chunks (doc_id, bytes)
     SELECT doc_id, bytes FROM unnest($1::text[], $2::bytea[]) WITH ORDINALITY AS c(doc_id, bytes, n) ORDER BY n";
/// The last heads given for each (device, document), in one order.
const UPSERT_ACKS: &str = "INSERT INTO sync_state (device, doc_id, cur_heads, prev_heads, updated_at)
     SELECT device, doc_id, cur, prev, $5
     FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bytea[]) WITH ORDINALITY AS a(device, doc_id, cur, prev, n)
     ORDER BY n
     ON CONFLICT (device, doc_id) DO UPDATE SET cur_heads = excluded.cur_heads,
         prev_heads = excluded.prev_heads, updated_at = excluded.updated_at";
pub(super) const INSERT_AUDITS: &str = "INSERT INTO console_audit (at, username, station, action, target, detail)
     SELECT at, username, station, action, target, detail
     FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
         WITH ORDINALITY AS a(at, username, station, action, target, detail, n)
     ORDER BY n";
const ADVANCE_FOLDED: &str = "UPDATE ledger_state SET value = GREATEST(value, $1) WHERE key = 'folded_seq'";
const MOVE_MEMBER: &str = "UPDATE members SET station = $3 WHERE id = $1 AND station = $2 RETURNING id";
const REVOKE_TAGS: &str = "UPDATE tags SET revoked_at = $3, revoked_why = $4 WHERE elder = $1 AND station = $2 AND revoked_at IS NULL";
const ADD_USAGE: &str = "INSERT INTO device_usage (device, day, changes, bytes) VALUES ($1, $2, $3, $4)
     ON CONFLICT (device, day) DO UPDATE SET changes = device_usage.changes + excluded.changes,
         bytes = device_usage.bytes + excluded.bytes";
/// One transaction at a time numbers arrivals, until it commits: numbers follow commit
/// order, so a reader that has seen number n never meets a smaller one later. The lock is
/// taken last in the transaction and lets readers (and postings' references) through.
/// The insert after it is parsed in the pipeline, after the lock ([`INSERT_ARRIVALS`]).
const LOCK_ARRIVALS: &str = "LOCK TABLE ledger_events IN SHARE ROW EXCLUSIVE MODE";
/// Sent unprepared, its types given (`query_typed`): PostgreSQL takes a table's write lock
/// when it parses a statement that writes it, and keeps it to the end of the transaction.
/// Prepared before the pipeline, the insert would hold that lock before [`LOCK_ARRIVALS`]
/// runs, and two transactions each holding it and waiting for the other's table lock
/// deadlock. Parsed in its place, it runs after the lock is taken.
const INSERT_ARRIVALS: &str = "INSERT INTO ledger_events (key, body, received_at)
     SELECT key, body, $3 FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS e(key, body, n) ORDER BY n
     ON CONFLICT (key) DO NOTHING RETURNING seq, key, body";

/// What one statement's answer is for, once the pipeline's answers are in.
enum Step {
    /// The documents locked: every one written must be there.
    Locked(Vec<String>),
    /// The documents' new generations.
    Generations,
    /// A member moved: exactly one row, or they moved meanwhile.
    Moved(usize),
    /// The arrival-log events logged (those not logged before): sent unprepared.
    Logged,
    /// Nothing to read from it.
    Done,
}

type Answer<'a> = Pin<Box<dyn Future<Output = Result<Vec<Row>, tokio_postgres::Error>> + Send + 'a>>;

/// Stores `batch` and logs `events` in `tx`, as one pipeline (see the module docs).
/// Returns each written document's new generation and the events logged. On an error the
/// transaction (or the caller's savepoint) holds part of the write and must be rolled back.
pub(super) async fn write_in(
    tx: &Transaction<'_>,
    batch: &WriteBatch,
    events: &[NewLedgerEvent],
    at: Millis,
) -> Result<SyncWritten, Fault> {
    let mut added: BTreeMap<&str, i64> = BTreeMap::new();
    for (doc, _) in &batch.chunks {
        *added.entry(doc.as_str()).or_default() += 1;
    }
    let docs: Vec<&str> = added.keys().copied().collect();
    let counts: Vec<i64> = added.values().copied().collect();
    let (chunk_docs, chunk_bytes): (Vec<&str>, Vec<&[u8]>) =
        batch.chunks.iter().map(|(doc, bytes)| (doc.as_str(), bytes.as_slice())).unzip();
    let latest: BTreeMap<(&str, &str), &AckedHeads> =
        batch.acks.iter().map(|ack| ((ack.device.as_str(), ack.doc.as_str()), &ack.heads)).collect();
    let ack_devices: Vec<&str> = latest.keys().map(|(device, _)| *device).collect();
    let ack_docs: Vec<&str> = latest.keys().map(|(_, doc)| *doc).collect();
    let ack_cur: Vec<Vec<u8>> = latest.values().map(|heads| heads_blob(&heads.cur)).collect();
    let ack_prev: Vec<Vec<u8>> = latest.values().map(|heads| heads_blob(&heads.prev)).collect();
    let audit_at: Vec<i64> = batch.audits.iter().map(|e| e.at).collect();
    let audit_users: Vec<&str> = batch.audits.iter().map(|e| e.username.as_str()).collect();
    let audit_stations: Vec<Option<&str>> = batch.audits.iter().map(|e| e.station.as_ref().map(StationId::as_str)).collect();
    let audit_actions: Vec<&str> = batch.audits.iter().map(|e| e.action.as_str()).collect();
    let audit_targets: Vec<&str> = batch.audits.iter().map(|e| e.target.as_str()).collect();
    let audit_details: Vec<&str> = batch.audits.iter().map(|e| e.detail.as_str()).collect();
    let moves: Vec<(&str, &str, &str, Millis, String)> =
        batch.moves.iter().map(|m| (m.member.as_str(), m.from.as_str(), m.to.as_str(), m.at, m.tags_revoked_why())).collect();
    let keys: Vec<&str> = events.iter().map(|e| e.key.as_str()).collect();
    let bodies: Vec<&str> = events.iter().map(|e| e.body.as_str()).collect();

    let mut planned: Vec<(Step, &str, Vec<&(dyn ToSql + Sync)>)> = Vec::new();
    if !docs.is_empty() {
        planned.push((Step::Locked(docs.iter().map(|d| (*d).to_owned()).collect()), LOCK_DOCUMENTS, vec![&docs]));
        planned.push((Step::Generations, BUMP_GENERATIONS, vec![&docs, &counts, &at]));
        planned.push((Step::Done, INSERT_CHUNKS, vec![&chunk_docs, &chunk_bytes]));
    }
    if !latest.is_empty() {
        planned.push((Step::Done, UPSERT_ACKS, vec![&ack_devices, &ack_docs, &ack_cur, &ack_prev, &at]));
    }
    if !batch.audits.is_empty() {
        planned.push((
            Step::Done,
            INSERT_AUDITS,
            vec![&audit_at, &audit_users, &audit_stations, &audit_actions, &audit_targets, &audit_details],
        ));
    }
    if let Some(folded) = &batch.ledger_folded {
        planned.push((Step::Done, ADVANCE_FOLDED, vec![folded]));
    }
    for (index, (member, from, to, moved_at, why)) in moves.iter().enumerate() {
        planned.push((Step::Moved(index), MOVE_MEMBER, vec![member, from, to]));
        planned.push((Step::Done, REVOKE_TAGS, vec![member, from, moved_at, why]));
    }
    if let Some(update) = &batch.usage {
        planned.push((Step::Done, ADD_USAGE, vec![&update.device, &update.day, &update.usage.changes, &update.usage.bytes]));
    }
    if !events.is_empty() {
        planned.push((Step::Done, LOCK_ARRIVALS, Vec::new()));
        planned.push((Step::Logged, INSERT_ARRIVALS, vec![&keys, &bodies, &at]));
    }

    // Every statement but the arrival-log insert prepared first (from the connection's
    // cache), so that the requests leave in the order planned; the insert is parsed in
    // its place, after the numbering lock (see INSERT_ARRIVALS).
    let mut steps = Vec::with_capacity(planned.len());
    let mut answers: Vec<Answer<'_>> = Vec::with_capacity(planned.len());
    for (step, sql, params) in planned {
        let answer: Answer<'_> = if matches!(step, Step::Logged) {
            let typed: Vec<_> = params.into_iter().zip([Type::TEXT_ARRAY, Type::TEXT_ARRAY, Type::INT8]).collect();
            Box::pin(async move { tx.query_typed(sql, &typed).await })
        } else {
            let statement: Statement = tx.prepare_cached(sql).await?;
            Box::pin(async move { tx.query(&statement, &params).await })
        };
        steps.push(step);
        answers.push(answer);
    }
    let answers = futures_util::future::join_all(answers).await;
    let mut generations = HashMap::new();
    let mut logged = Vec::new();
    // The first statement that failed or whose answer refuses the write says why; the
    // statements after a failed one fail only because it did.
    for (step, answer) in steps.into_iter().zip(answers) {
        let rows = answer?;
        match step {
            Step::Locked(docs) => {
                if let Some(missing) =
                    docs.into_iter().find(|doc| !rows.iter().any(|r| r.try_get::<_, &str>(0).is_ok_and(|f| f == doc)))
                {
                    return Err(StoreError::Missing { what: "document", id: missing }.into());
                }
            }
            Step::Generations => {
                for row in rows {
                    generations.insert(row.try_get(0)?, row.try_get(1)?);
                }
            }
            Step::Moved(index) => {
                if rows.len() != 1 {
                    return Err(crate::store::moved_meanwhile(&batch.moves[index]).into());
                }
            }
            Step::Logged => {
                for row in rows {
                    logged.push(LedgerEventRecord {
                        seq: row.try_get(0)?,
                        key: row.try_get(1)?,
                        body: row.try_get(2)?,
                        received_at: at,
                    });
                }
                logged.sort_by_key(|event| event.seq);
            }
            Step::Done => {}
        }
    }
    Ok((generations, logged))
}
