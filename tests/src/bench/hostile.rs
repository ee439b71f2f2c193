//! The `hostile` group: the most relay time and extra memory one request can cost when it
//! stays within the bounds of one request (`timebank_engine::sync::bounds::PUSH`) and the
//! shape of its document (ADR 0024): `hostile_request_worst_ms` and `_mib`, beside plain
//! automerge applying the same changes to the same document.
//!
//! Each candidate is sent by an enrolled phone, authored by its own actor (a volunteer's
//! to its own member document, a coordinator's to its volunteers'), on a fresh relay (the
//! shared test relay: a SQLite store on the disk, reached in-process through its router),
//! and is the heaviest of its kind the bounds let through: the most visits (each with an
//! elder and overlapping the others, so the ledger works too), the longest text churn, the
//! most records in one change, the most work refused only after it was applied, the most
//! documents. Time runs from handing the body to the
//! router until the answer is back and the ledger has folded what the request stored.
//! Memory is the growth of the process's peak resident set meanwhile (reset through
//! `/proc/self/clear_refs`).

use std::time::{Duration, Instant};

use automerge::transaction::{Transactable as _, Transaction};
use automerge::{ActorId, Automerge, AutomergeError, ObjType, ROOT, ReadDoc as _};
use chrono::{DateTime, Utc};
use timebank_engine::DocId;
use timebank_engine::documents::{fields, member};
use timebank_engine::model::text::MAX_NOTE_CHARS;
use timebank_engine::model::{MemberId, Visit, VisitId, VisitSource};
use timebank_engine::sync::bounds::PUSH;
use timebank_engine::sync::wire::{self, DocPush, SyncRequest};
use timebank_engine::sync::{Transport as _, TransportError};
use timebank_testing::FakeClock;

use super::clock::the_present;
use super::relay::{BenchRelay, phone_stores};
use super::stats::median;
use super::{BenchError, Measurement, Target};

/// Runs of each candidate (each on a fresh relay); the median counts.
#[derive(Clone, Debug)]
pub struct HostileBench {
    /// Runs per candidate.
    pub runs: usize,
}

impl Default for HostileBench {
    fn default() -> Self {
        HostileBench { runs: 3 }
    }
}

/// One kind of heavy request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Candidate {
    /// One visit per change, each with a note, as many as the operations allow.
    Visits,
    /// Visits packed into changes of the most operations each.
    PackedVisits,
    /// A Text note filled to the most operations, then emptied to within its length.
    TextChurn,
    /// Assignments a volunteer may not create: applied and diffed, then refused.
    RefusedLate,
    /// A coordinator's phone: one assignment in each of as many volunteers' documents as
    /// one request may name changes for (the relay's work per document).
    Spread,
}

impl Candidate {
    const ALL: [Candidate; 5] =
        [Candidate::Visits, Candidate::PackedVisits, Candidate::TextChurn, Candidate::RefusedLate, Candidate::Spread];

    fn name(self) -> &'static str {
        match self {
            Candidate::Visits => "visits",
            Candidate::PackedVisits => "packed visits",
            Candidate::TextChurn => "text churn",
            Candidate::RefusedLate => "refused late",
            Candidate::Spread => "coordinator spread",
        }
    }

    /// The changes, made by `actor` on `doc` (the relay's copy of `volunteer`'s document),
    /// each visit with `elder`.
    fn changes(
        self,
        doc: &Automerge,
        actor: &ActorId,
        (volunteer, elder): (&MemberId, &MemberId),
        now: DateTime<Utc>,
    ) -> Result<Vec<Vec<u8>>, BenchError> {
        let mut doc = doc.clone().with_actor(actor.clone());
        let mut changes = Vec::new();
        let mut commit = |doc: &mut Automerge, edit: &dyn Fn(&mut Transaction<'_>) -> Result<(), AutomergeError>| {
            doc.transact(|tx| edit(tx)).map_err(|f| f.error)?;
            let change = doc.get_last_local_change().ok_or("no change was made")?;
            changes.push(change.raw_bytes().to_vec());
            Ok::<_, BenchError>(())
        };
        // Every visit at the same hour with the same elder and the longest note: the
        // ledger's overlap checks work too.
        let note = "记".repeat(MAX_NOTE_CHARS);
        let visit = || Visit {
            id: VisitId::generate(),
            volunteer: volunteer.clone(),
            elder: elder.clone(),
            service: "companionship".into(),
            order: None,
            check_in: now - chrono::Duration::hours(3),
            check_out: Some(now - chrono::Duration::hours(2)),
            check_out_recorded_at: None,
            monotonic_ms: Some(3_600_000),
            source: VisitSource::Paper,
            note: note.clone(),
            recorded_at: now,
            device: String::new(),
            confirmation: None,
            evidence: Default::default(),
        };
        // What one visit costs, from one made on a copy.
        let (visit_ops, visit_bytes) = {
            let mut sample = doc.clone();
            sample.transact(|tx| member::put_visit(tx, &visit())).map_err(|f| f.error)?;
            let change = sample.get_last_local_change().ok_or("no change was made")?;
            (change.len() as u64, change.raw_bytes().len() as u64)
        };
        let visits = (PUSH.batch_ops / visit_ops).min(PUSH.batch_bytes / visit_bytes).min(PUSH.batch_changes);
        match self {
            Candidate::Visits => {
                for _ in 0..visits {
                    let one = visit();
                    commit(&mut doc, &|tx| member::put_visit(tx, &one))?;
                }
            }
            Candidate::PackedVisits => {
                let per_change = (PUSH.change_ops / visit_ops).min(PUSH.change_bytes / visit_bytes).max(1);
                for _ in 0..(visits / per_change).max(1) {
                    let many: Vec<Visit> = (0..per_change).map(|_| visit()).collect();
                    commit(&mut doc, &|tx| many.iter().try_for_each(|v| member::put_visit(tx, v)))?;
                }
            }
            Candidate::TextChurn => {
                // Filled in one change (a record, a Text object and a character per
                // operation), emptied to the note's length in the next, within the request.
                let most = u64::try_from(MAX_NOTE_CHARS).unwrap_or(0);
                let chars = (PUSH.change_ops - 2).min((PUSH.batch_ops + most - 2) / 2);
                let chars = usize::try_from(chars).unwrap_or(0);
                let text = "x".repeat(chars);
                let first = visit();
                commit(&mut doc, &|tx| {
                    let obj = fields::record(tx, &ROOT, member::VISITS, first.id.as_str())?;
                    let note = tx.put_object(&obj, "note", ObjType::Text)?;
                    tx.splice_text(&note, 0, 0, &text)
                })?;
                commit(&mut doc, &|tx| {
                    let obj = fields::record(tx, &ROOT, member::VISITS, first.id.as_str())?;
                    let (_, note) = tx.get(&obj, "note")?.ok_or(AutomergeError::Fail)?;
                    tx.splice_text(&note, 0, isize::try_from(chars.saturating_sub(MAX_NOTE_CHARS)).unwrap_or(0), "")
                })?;
            }
            Candidate::RefusedLate => {
                // An assignment is a map and five fields: six operations.
                let per_change = PUSH.change_ops / 6;
                for round in 0..(PUSH.batch_ops / (per_change * 6)).max(1) {
                    commit(&mut doc, &|tx| (0..per_change).try_for_each(|i| assign(tx, &format!("o-{round}-{i}"), elder, now)))?;
                }
            }
            Candidate::Spread => commit(&mut doc, &|tx| assign(tx, "o-spread", elder, now))?,
        }
        Ok(changes)
    }
}

/// Writes an assignment `order` of `elder`'s, as a coordinator's dispatch does.
fn assign(tx: &mut Transaction<'_>, order: &str, elder: &MemberId, now: DateTime<Utc>) -> Result<(), AutomergeError> {
    let obj = fields::record(tx, &ROOT, member::ASSIGNMENTS, order)?;
    tx.put(&obj, "elder", elder.as_str())?;
    tx.put(&obj, "service", "companionship")?;
    tx.put(&obj, "note", "")?;
    tx.put(&obj, "offered_by", "m-coo")?;
    fields::put_time(tx, &obj, "offered_at", now)
}

/// Runs the group: the worst candidate's median time and memory.
pub fn run(bench: &HostileBench, progress: &mut dyn FnMut(&str)) -> Result<Vec<Measurement>, BenchError> {
    let mut worst: Option<(Candidate, Costs, Costs)> = None;
    let mut worst_memory: Option<(Candidate, Costs, Costs)> = None;
    let mut lines = Vec::new();
    for candidate in Candidate::ALL {
        let mut ours = Vec::new();
        let mut plain = Vec::new();
        for _ in 0..bench.runs.max(1) {
            let (o, p) = measure(candidate)?;
            ours.push(o);
            plain.push(p);
        }
        let (o, p) = (Costs::median(&ours), Costs::median(&plain));
        let line = format!(
            "{}: {} changes, {} KiB, relay {:.0} ms / {:.1} MiB (HTTP {}), plain automerge {:.0} ms / {:.1} MiB",
            candidate.name(),
            o.changes,
            o.bytes / 1024,
            o.ms,
            o.mib,
            o.status,
            p.ms,
            p.mib
        );
        progress(&line);
        lines.push(line);
        if worst.as_ref().is_none_or(|(_, w, _)| o.ms > w.ms) {
            worst = Some((candidate, o.clone(), p.clone()));
        }
        if worst_memory.as_ref().is_none_or(|(_, w, _)| o.mib > w.mib) {
            worst_memory = Some((candidate, o, p));
        }
    }
    let (Some((slow, time, time_plain)), Some((big, memory, memory_plain))) = (worst, worst_memory) else {
        return Ok(Vec::new());
    };
    let bounds = format!(
        "bounds per request: {} KiB inflated, {} operations, {} changes; per change {} KiB, {} operations",
        PUSH.batch_bytes / 1024,
        PUSH.batch_ops,
        PUSH.batch_changes,
        PUSH.change_bytes / 1024,
        PUSH.change_ops
    );
    Ok(vec![
        Measurement {
            scenario: "hostile_request_worst_ms".into(),
            ours: time.ms,
            baseline: Some(time_plain.ms),
            unit: "ms",
            target: Some(Target::AtMost(250.0)),
            note: Some(format!("worst: {} (median of {} runs); {bounds}; {}", slow.name(), bench.runs, lines.join("; "))),
        },
        Measurement {
            scenario: "hostile_request_worst_mib".into(),
            ours: memory.mib,
            baseline: Some(memory_plain.mib),
            unit: "MiB",
            target: Some(Target::AtMost(64.0)),
            note: Some(format!(
                "worst: {}; growth of the process's peak resident set during the request (plain: during apply_changes on a copy)",
                big.name()
            )),
        },
    ])
}

/// What one request cost.
#[derive(Clone, Debug, Default)]
struct Costs {
    ms: f64,
    mib: f64,
    changes: usize,
    bytes: usize,
    status: String,
}

impl Costs {
    fn median(all: &[Costs]) -> Costs {
        let pick = |f: fn(&Costs) -> f64| median(&all.iter().map(f).collect::<Vec<_>>()).unwrap_or(0.0);
        let first = all.first().cloned().unwrap_or_default();
        Costs { ms: pick(|c| c.ms), mib: pick(|c| c.mib), ..first }
    }
}

/// One run of `candidate` on a fresh relay: ours (the request through the relay) and plain
/// automerge (applying the same changes to copies of the same documents).
fn measure(candidate: Candidate) -> Result<(Costs, Costs), BenchError> {
    let now = the_present()?;
    let stores = phone_stores()?;
    let relay = BenchRelay::start(FakeClock::new(now, "timebank-bench"), stores.path())?;
    let elder = relay.try_member("elder", "Wang Fang")?;
    let (sender, members) = match candidate {
        Candidate::Spread => {
            let volunteers =
                (0..PUSH.batch_changes).map(|i| relay.volunteer(&format!("Volunteer {i}"))).collect::<Result<Vec<_>, _>>()?;
            (relay.try_member("coordinator", "Zhang Min")?, volunteers)
        }
        _ => {
            let volunteer = relay.volunteer("Li Wei")?;
            (volunteer.clone(), vec![volunteer])
        }
    };
    let mut phone = relay.phone(&sender)?;
    relay.sync(&mut phone)?;
    // Each document named: its name, the relay's copy, the changes pushed to it.
    let mut pushes = Vec::new();
    for member in &members {
        let name = DocId::Member(member.id.clone()).to_string();
        let stored = relay.store().document(&name)?.ok_or("a volunteer's document is missing")?;
        let doc = Automerge::load(&stored.bytes)?;
        let changes = candidate.changes(&doc, &phone.actor, (&member.id, &elder.id), now)?;
        pushes.push((name, doc, changes));
    }
    let changes = pushes.iter().map(|(_, _, changes)| changes.len()).sum();
    let bytes = pushes.iter().flat_map(|(_, _, changes)| changes).map(Vec::len).sum();
    let request = SyncRequest {
        manifest: None,
        docs: pushes
            .iter()
            .map(|(name, doc, changes)| DocPush {
                doc: name.clone(),
                acked: wire::heads_digest(&doc.get_heads()),
                changes: changes.clone(),
                ..DocPush::default()
            })
            .collect(),
    };
    let body = wire::encode(&request);
    let mut transport = relay.transport(&phone.token);
    let ((answer, elapsed), grown) = peak_growth(|| {
        let started = Instant::now();
        let answer = transport.exchange(body);
        // The ledger folds what the sync stored after the answer, on its poster thread (the
        // next sync waits for it): counted.
        relay.relay.settle();
        (answer, started.elapsed())
    });
    let status = match answer {
        Ok(_) => "200".to_owned(),
        Err(TransportError::Refused { status, .. }) => status.to_string(),
        Err(other) => return Err(other.into()),
    };
    let ours = Costs { ms: millis(elapsed), mib: mib(grown), changes, bytes, status };

    let mut copies = Vec::new();
    for (_, doc, changes) in &pushes {
        let decoded = changes.iter().map(|c| automerge::Change::from_bytes(c.clone())).collect::<Result<Vec<_>, _>>()?;
        copies.push((doc.clone(), decoded));
    }
    let (applied, plain_grown) = peak_growth(|| {
        let started = Instant::now();
        let applied = copies.into_iter().try_for_each(|(mut copy, decoded)| copy.apply_changes(decoded));
        (applied.map(|()| started.elapsed()), ())
    });
    let plain = Costs { ms: millis(applied.0?), mib: mib(plain_grown), ..Costs::default() };
    Ok((ours, plain))
}

/// Runs `f` and returns how many bytes the process's peak resident set grew by meanwhile
/// (0 where `/proc` cannot say).
fn peak_growth<T, U>(f: impl FnOnce() -> (T, U)) -> ((T, U), u64) {
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = status_kib("VmHWM:");
    let value = f();
    let after = status_kib("VmHWM:");
    let grown = match (reset, before, after) {
        (true, Some(before), Some(after)) => after.saturating_sub(before) * 1024,
        _ => 0,
    };
    (value, grown)
}

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find(|l| l.starts_with(field))?.split_whitespace().nth(1)?.parse().ok()
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
