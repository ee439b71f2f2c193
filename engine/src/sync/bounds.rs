//! Bounded change decoding, shared by the relay (a device's push) and the phone (the
//! relay's answer): raw change bytes become an `automerge::Change` only after what they
//! will cost is counted, before any large allocation (ADR 0024).
//!
//! Automerge 0.12 reads a change chunk (type 1) and a DEFLATE-compressed one (type 2); it
//! inflates the latter with an unbounded `read_to_end`, and it counts the operations of a
//! run-length encoded change one by one. So the chunk header is read here, a compressed
//! chunk is inflated through a reader capped at what is left of the budget, the column
//! layout is counted ([`columns`]), and only then does automerge parse the bytes.
//!
//! One [`Budget`] covers the changes of one request (on the relay) or one answer (on the
//! phone): inflated bytes, operations and changes, each bounded per change and in total.

use std::borrow::Cow;
use std::fmt;
use std::io::Read as _;

use automerge::Change;
use sha2::{Digest as _, Sha256};

pub mod columns;
#[cfg(any(test, feature = "handmade"))]
pub mod handmade;

/// Longest actor id accepted, in bytes (the engine makes 16; enrollment refuses longer).
pub const MAX_ACTOR_BYTES: usize = 32;

/// Most actors one change may name besides its author (the devices and relay processes
/// whose objects it touches).
pub const MAX_CHANGE_ACTORS: u64 = 1024;

const MIB: u64 = 1024 * 1024;

/// What a device may push to the relay in one request (ADR 0024). The engine's biggest
/// change is a visit: about 12 operations and 300 bytes, 1.8 KB with a note of 500
/// characters; a busy volunteer's day is about 20 of them. A request holds 500 such
/// visits, and a phone with more sends them in several pages ([`crate::sync::page`]), so
/// the bounds only decide how long one request may hold the relay: the relay's work is
/// about linear in the operations it takes (a visit also goes through the ledger), and
/// the worst request within these bounds costs it `hostile_request_worst_ms` /
/// `hostile_request_worst_mib` in docs/BENCHMARKS.md (target: 250 ms, 64 MiB).
pub const PUSH: Bounds =
    Bounds { change_bytes: MIB / 2, change_ops: 5_000, batch_bytes: 2 * MIB, batch_ops: 6_000, batch_changes: 600 };

/// What a phone reads from the relay in one answer: what the relay stores (changes of
/// every device, and the relay's own ledger changes, which after a rebuild may hold a
/// member's whole history), in pages the relay cuts within these bounds
/// ([`crate::sync::page`]; [`crate::sync::wire::PAGE_BYTES`] of changes by default), a
/// change over the page alone. Far above any honest answer, far below what hurts a phone.
pub const PULL: Bounds =
    Bounds { change_bytes: 16 * MIB, change_ops: 2_000_000, batch_bytes: 16 * MIB, batch_ops: 2_000_000, batch_changes: 200_000 };

/// The limits one [`Budget`] enforces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// Bytes of one change once inflated.
    pub change_bytes: u64,
    /// Operations in one change (predecessors they name count against the same limit).
    pub change_ops: u64,
    /// Bytes of all changes of one request or answer, inflated.
    pub batch_bytes: u64,
    /// Operations in all changes of one request or answer.
    pub batch_ops: u64,
    /// Changes in one request or answer.
    pub batch_changes: u64,
}

/// Which bound a change or batch went over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    /// [`Bounds::change_bytes`].
    ChangeBytes,
    /// [`Bounds::change_ops`].
    ChangeOps,
    /// Predecessors named by one change's operations, against [`Bounds::change_ops`].
    Predecessors,
    /// Bytes of one change's keys once their runs are repeated, against [`Bounds::change_bytes`].
    KeyBytes,
    /// [`MAX_CHANGE_ACTORS`].
    Actors,
    /// [`MAX_ACTOR_BYTES`].
    ActorBytes,
    /// [`Bounds::batch_bytes`].
    BatchBytes,
    /// [`Bounds::batch_ops`].
    BatchOps,
    /// [`Bounds::batch_changes`].
    BatchChanges,
}

impl Bound {
    /// What is counted, in words.
    fn what(self) -> &'static str {
        match self {
            Bound::ChangeBytes => "bytes in one change once inflated",
            Bound::ChangeOps => "operations in one change",
            Bound::Predecessors => "earlier values named by one change's operations",
            Bound::KeyBytes => "bytes of keys in one change once repeated",
            Bound::Actors => "devices named in one change",
            Bound::ActorBytes => "bytes in one device's actor id",
            Bound::BatchBytes => "bytes of changes in one sync once inflated",
            Bound::BatchOps => "operations in one sync",
            Bound::BatchChanges => "changes in one sync",
        }
    }

    /// Whether the batch (not one change) is what went over: then sending the same changes
    /// in several syncs helps.
    pub fn is_batch(self) -> bool {
        matches!(self, Bound::BatchBytes | Bound::BatchOps | Bound::BatchChanges)
    }
}

/// Why change bytes were not decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BoundsError {
    /// Over a bound; nothing past the bound was inflated or decoded.
    #[error("{}", over_message(*bound, *found, *limit))]
    Over {
        /// The bound.
        bound: Bound,
        /// What was counted when the bound was passed (at least this much).
        found: u64,
        /// The bound's value.
        limit: u64,
    },
    /// Not a change automerge can read.
    #[error("{0}")]
    Damaged(String),
}

fn over_message(bound: Bound, found: u64, limit: u64) -> String {
    let advice = if bound.is_batch() {
        "send them in several syncs"
    } else {
        "the app never writes such a change: update the app, and if it persists tell the station"
    };
    format!("more {} than allowed (at least {found}, the limit is {limit}); {advice}", bound.what())
}

/// What the changes of one request (or answer) used so far, against its [`Bounds`].
#[derive(Clone, Debug)]
pub struct Budget {
    bounds: Bounds,
    bytes: u64,
    ops: u64,
    changes: u64,
}

impl Budget {
    /// A fresh budget for one request or answer.
    pub fn new(bounds: Bounds) -> Budget {
        Budget { bounds, bytes: 0, ops: 0, changes: 0 }
    }

    /// Reads one change: checks the chunk header, inflates a compressed chunk no further
    /// than the budget allows, counts the operations from the column layout, and only then
    /// lets automerge parse it. What it costs is taken from the budget; a refused change
    /// takes nothing.
    pub fn read_change(&mut self, raw: &[u8]) -> Result<Change, BoundsError> {
        self.over(Bound::BatchChanges, self.changes.saturating_add(1), self.bounds.batch_changes)?;
        let header = Header::parse(raw)?;
        let room = self.bounds.change_bytes.min(self.bounds.batch_bytes.saturating_sub(self.bytes));
        let chunk: Cow<'_, [u8]> = match header.kind {
            CHANGE => Cow::Borrowed(raw),
            COMPRESSED => Cow::Owned(header.inflate(room)?),
            DOCUMENT => return Err(BoundsError::Damaged("a whole document was sent where a change belongs".into())),
            other => return Err(BoundsError::Damaged(format!("chunk type {other} is not a change"))),
        };
        let size = chunk.len() as u64;
        self.take_bytes(size)?;
        let body = Header::parse(&chunk)?.check_sum(&chunk)?;
        let cost = columns::cost(body)?;
        self.over(Bound::ChangeOps, cost.ops, self.bounds.change_ops)?;
        self.over(Bound::Predecessors, cost.preds, self.bounds.change_ops)?;
        self.over(Bound::KeyBytes, cost.string_bytes, self.bounds.change_bytes)?;
        self.over(Bound::BatchOps, self.ops.saturating_add(cost.ops), self.bounds.batch_ops)?;
        let change =
            Change::try_from(&chunk[..]).map_err(|e| BoundsError::Damaged(format!("automerge cannot read the change: {e}")))?;
        self.admit(&change)?;
        Ok(change)
    }

    /// Takes a change that is already decoded (one the relay holds and is about to send)
    /// from the budget, or says which bound it would pass: how a sender keeps a page
    /// within what the receiver accepts.
    pub fn admit(&mut self, change: &Change) -> Result<(), BoundsError> {
        let size = change.raw_bytes().len() as u64;
        let ops = change.len() as u64;
        self.over(Bound::BatchChanges, self.changes.saturating_add(1), self.bounds.batch_changes)?;
        self.take_bytes(size)?;
        self.over(Bound::ChangeOps, ops, self.bounds.change_ops)?;
        self.over(Bound::BatchOps, self.ops.saturating_add(ops), self.bounds.batch_ops)?;
        self.bytes += size;
        self.ops += ops;
        self.changes += 1;
        Ok(())
    }

    /// What was taken so far: inflated bytes, operations, changes.
    pub fn used(&self) -> (u64, u64, u64) {
        (self.bytes, self.ops, self.changes)
    }

    fn take_bytes(&self, size: u64) -> Result<(), BoundsError> {
        self.over(Bound::ChangeBytes, size, self.bounds.change_bytes)?;
        self.over(Bound::BatchBytes, self.bytes.saturating_add(size), self.bounds.batch_bytes)
    }

    fn over(&self, bound: Bound, found: u64, limit: u64) -> Result<(), BoundsError> {
        if found > limit { Err(BoundsError::Over { bound, found, limit }) } else { Ok(()) }
    }
}

/// The first bytes of every automerge chunk.
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
const DOCUMENT: u8 = 0;
const CHANGE: u8 = 1;
const COMPRESSED: u8 = 2;

/// A chunk header: magic bytes, checksum, type, LEB128 length; the data follows.
struct Header<'a> {
    checksum: [u8; 4],
    kind: u8,
    data: &'a [u8],
}

impl<'a> Header<'a> {
    /// Reads the header of `raw`, which must hold exactly one chunk.
    fn parse(raw: &'a [u8]) -> Result<Header<'a>, BoundsError> {
        let damaged = |detail: &str| BoundsError::Damaged(format!("not an automerge change: {detail}"));
        let (magic, rest) = raw.split_first_chunk::<4>().ok_or_else(|| damaged("too short"))?;
        if *magic != MAGIC {
            return Err(damaged("it does not start with automerge's magic bytes"));
        }
        let (checksum, rest) = rest.split_first_chunk::<4>().ok_or_else(|| damaged("too short"))?;
        let (&kind, mut rest) = rest.split_first().ok_or_else(|| damaged("too short"))?;
        let len = leb128::read::unsigned(&mut rest).map_err(|_| damaged("its length cannot be read"))?;
        if len != rest.len() as u64 {
            return Err(damaged(&format!("it declares {len} bytes of data and holds {}", rest.len())));
        }
        Ok(Header { checksum: *checksum, kind, data: rest })
    }

    /// Inflates a compressed chunk into the change chunk automerge would build from it,
    /// stopping one byte past `room`: a chunk over the budget is refused by its size
    /// without more than `room` + 1 bytes ever being inflated.
    fn inflate(&self, room: u64) -> Result<Vec<u8>, BoundsError> {
        let mut inflated = Vec::new();
        flate2::bufread::DeflateDecoder::new(self.data)
            .take(room.saturating_add(1))
            .read_to_end(&mut inflated)
            .map_err(|e| BoundsError::Damaged(format!("the compressed change cannot be inflated ({e})")))?;
        let mut chunk = Vec::with_capacity(inflated.len() + 16);
        chunk.extend_from_slice(&MAGIC);
        chunk.extend_from_slice(&self.checksum);
        chunk.push(CHANGE);
        leb128::write::unsigned(&mut chunk, inflated.len() as u64)
            .map_err(|e| BoundsError::Damaged(format!("the change cannot be rebuilt ({e})")))?;
        chunk.extend_from_slice(&inflated);
        Ok(chunk)
    }

    /// Checks the checksum of a change chunk (the first bytes of the SHA-256 of its type,
    /// length and data, as automerge computes its hash) and returns the data.
    fn check_sum(&self, chunk: &[u8]) -> Result<&'a [u8], BoundsError> {
        let prefix = &chunk[MAGIC.len() + 4..chunk.len() - self.data.len()];
        let hash = Sha256::new().chain_update(prefix).chain_update(self.data).finalize();
        if hash[..4] != self.checksum {
            return Err(BoundsError::Damaged("the change's checksum does not match its bytes".into()));
        }
        Ok(self.data)
    }
}

impl fmt::Debug for Header<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Header").field("kind", &self.kind).field("len", &self.data.len()).finish()
    }
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable as _;
    use automerge::{ActorId, Automerge, ROOT};

    use super::handmade::{Handmade, column, nulls, run, uleb_bytes, zero_bomb};
    use super::*;

    /// A change automerge writes: `fields` string fields on the root.
    fn honest(fields: usize, text: &str) -> Change {
        let mut doc = Automerge::new().with_actor(ActorId::random());
        doc.transact(|tx| {
            for i in 0..fields {
                tx.put(ROOT, format!("field-{i}"), text)?;
            }
            Ok::<_, automerge::AutomergeError>(())
        })
        .unwrap();
        doc.get_last_local_change().unwrap().clone()
    }

    fn over(result: Result<Change, BoundsError>) -> (Bound, u64, u64) {
        match result {
            Err(BoundsError::Over { bound, found, limit }) => (bound, found, limit),
            other => panic!("expected a bound to be passed, got {other:?}"),
        }
    }

    #[test]
    fn honest_changes_read_the_same_plain_or_compressed() {
        let mut change = honest(40, "read the newspaper together");
        let plain = change.raw_bytes().to_vec();
        let compressed = change.bytes().into_owned();
        assert_ne!(plain, compressed, "automerge compresses a change this large");
        let mut budget = Budget::new(PUSH);
        for raw in [&plain, &compressed] {
            let read = budget.read_change(raw).unwrap();
            assert_eq!(read.hash(), change.hash());
            assert_eq!(read.raw_bytes(), plain.as_slice());
        }
        assert_eq!(budget.used(), (2 * plain.len() as u64, 80, 2));
    }

    #[test]
    fn a_compression_bomb_is_refused_after_inflating_no_more_than_the_bound() {
        let bomb = zero_bomb(256);
        assert!(bomb.len() < 300 * 1024, "{} bytes on the wire", bomb.len());
        let mut budget = Budget::new(PUSH);
        let (bound, found, limit) = over(budget.read_change(&bomb));
        assert_eq!((bound, limit), (Bound::ChangeBytes, PUSH.change_bytes));
        // What was inflated: one byte past the bound, and a header.
        assert!(found > limit && found < limit + 32, "{found}");
        assert_eq!(budget.used(), (0, 0, 0));
        // A smaller budget left in the batch caps the inflation lower still.
        let mut tight = Budget::new(Bounds { batch_bytes: 1000, ..PUSH });
        let (bound, found, _) = over(tight.read_change(&bomb));
        assert_eq!(bound, Bound::BatchBytes);
        assert!(found < 1100, "{found}");
    }

    #[test]
    fn a_billion_operations_in_a_hundred_bytes_are_counted_not_decoded() {
        let few = Handmade::puts(100, "x");
        assert_eq!(Budget::new(PUSH).read_change(&few.chunk()).unwrap().len(), 100);
        assert_eq!(Budget::new(PUSH).read_change(&few.compressed()).unwrap().len(), 100);
        let bomb = Handmade::puts(1_000_000_000, "x").chunk();
        assert!(bomb.len() < 100, "{} bytes", bomb.len());
        let started = std::time::Instant::now();
        let (bound, found, limit) = over(Budget::new(PUSH).read_change(&bomb));
        assert_eq!((bound, found, limit), (Bound::ChangeOps, 1_000_000_000, PUSH.change_ops));
        // automerge alone takes about a second per million (debug build).
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "{:?}", started.elapsed());
        // Nulls in the action column count too.
        let nulls = Handmade::puts(1, "x").with_column(column::ACTION, nulls(u64::MAX)).chunk();
        assert_eq!(over(Budget::new(PUSH).read_change(&nulls)).0, Bound::ChangeOps);
    }

    #[test]
    fn predecessors_and_repeated_keys_count_against_the_bounds() {
        let preds = Handmade::puts(1, "x")
            .with_column(column::PRED_GROUP, [run(1), uleb_bytes(100_000_000)].concat())
            .with_column(column::PRED_ACTOR, [run(100_000_000), uleb_bytes(0)].concat())
            .with_column(column::PRED_COUNTER, [run(100_000_000), uleb_bytes(2)].concat())
            .chunk();
        assert_eq!(over(Budget::new(PUSH).read_change(&preds)).0, Bound::Predecessors);
        let long_key = "k".repeat(10_000);
        let keys = Handmade::puts(1_000, &long_key).chunk();
        let (bound, found, _) = over(Budget::new(PUSH).read_change(&keys));
        assert_eq!((bound, found), (Bound::KeyBytes, 10_000_000));
    }

    #[test]
    fn an_actor_the_change_does_not_list_is_damage_not_a_panic() {
        // automerge 0.12 reads this change, then panics when it decodes or applies it.
        let stray = Handmade::puts(1, "x")
            .with_column(column::OBJ_ACTOR, [run(1), uleb_bytes(5)].concat())
            .with_column(column::OBJ_COUNTER, [run(1), uleb_bytes(1)].concat())
            .chunk();
        match Budget::new(PUSH).read_change(&stray) {
            Err(BoundsError::Damaged(reason)) => assert!(reason.contains("actor number 5"), "{reason}"),
            other => panic!("{other:?}"),
        }
        // Found by the fuzz target: automerge 0.12 panics applying a change by an empty actor.
        let mut empty = Handmade::puts(1, "x");
        empty.actor = Vec::new();
        assert!(matches!(Budget::new(PUSH).read_change(&empty.chunk()), Err(BoundsError::Damaged(r)) if r.contains("empty")));
        let mut long = Handmade::puts(1, "x");
        long.actor = vec![7; MAX_ACTOR_BYTES + 1];
        assert_eq!(over(Budget::new(PUSH).read_change(&long.chunk())).0, Bound::ActorBytes);
        let mut many = Handmade::puts(1, "x");
        many.others = vec![vec![1]; MAX_CHANGE_ACTORS as usize + 1];
        assert_eq!(over(Budget::new(PUSH).read_change(&many.chunk())).0, Bound::Actors);
    }

    #[test]
    fn a_batch_is_bounded_across_its_changes_and_a_refused_change_takes_nothing() {
        let change = honest(10, "tea");
        let raw = change.raw_bytes().to_vec();
        let size = raw.len() as u64;
        let bounds = Bounds { batch_bytes: 3 * size, batch_ops: 25, batch_changes: 3, ..PUSH };
        let mut budget = Budget::new(bounds);
        budget.read_change(&raw).unwrap();
        budget.read_change(&raw).unwrap();
        let (bound, found, limit) = over(budget.read_change(&raw));
        assert_eq!((bound, found, limit), (Bound::BatchOps, 30, 25));
        assert!(bound.is_batch());
        assert_eq!(budget.used(), (2 * size, 20, 2));
        let mut budget = Budget::new(Bounds { batch_ops: 1000, batch_changes: 2, ..bounds });
        budget.read_change(&raw).unwrap();
        budget.read_change(&raw).unwrap();
        assert_eq!(over(budget.read_change(&raw)).0, Bound::BatchChanges);
        let mut budget = Budget::new(Bounds { batch_bytes: size + 1, ..PUSH });
        budget.read_change(&raw).unwrap();
        assert_eq!(over(budget.read_change(&raw)).0, Bound::BatchBytes);
        // The sender's side: a decoded change is admitted or not by the same count.
        let mut page = Budget::new(Bounds { batch_bytes: size + 1, ..PUSH });
        page.admit(&change).unwrap();
        assert!(matches!(page.admit(&change), Err(BoundsError::Over { bound: Bound::BatchBytes, .. })));
    }

    #[test]
    fn damaged_chunks_are_refused_with_the_reason() {
        let raw = honest(3, "tea").raw_bytes().to_vec();
        let damaged = |bytes: &[u8]| match Budget::new(PUSH).read_change(bytes) {
            Err(BoundsError::Damaged(reason)) => reason,
            other => panic!("{other:?}"),
        };
        assert!(damaged(&[]).contains("too short"));
        assert!(damaged(b"not a change at all").contains("magic"));
        assert!(damaged(&raw[..raw.len() - 1]).contains("declares"));
        assert!(damaged(&[raw.as_slice(), &[0]].concat()).contains("declares"));
        let mut flipped = raw.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(damaged(&flipped).contains("checksum"));
        let mut doc = Automerge::new();
        doc.transact(|tx| tx.put(ROOT, "a", 1)).unwrap();
        assert!(damaged(&doc.save()).contains("whole document"));
        let deflated = Handmade::puts(3, "x").with_column(column::ACTION | 0b1000, [run(3), uleb_bytes(1)].concat()).chunk();
        assert!(damaged(&deflated).contains("deflated columns"));
        // A mark's end on a map: automerge 0.12 reads it, then panics applying it.
        let mark = Handmade::puts(1, "x").with_column(column::ACTION, [run(1), uleb_bytes(7)].concat()).chunk();
        assert!(damaged(&mark).contains("rich-text mark"));
    }

    #[test]
    fn messages_say_what_was_over_and_what_to_do() {
        let one = BoundsError::Over { bound: Bound::ChangeOps, found: 30_000, limit: 20_000 };
        assert_eq!(
            one.to_string(),
            "more operations in one change than allowed (at least 30000, the limit is 20000); the app never writes such a change: update the app, and if it persists tell the station"
        );
        let batch = BoundsError::Over { bound: Bound::BatchBytes, found: 5, limit: 4 };
        assert!(batch.to_string().ends_with("send them in several syncs"), "{batch}");
    }

    proptest::proptest! {
        /// As the cargo-fuzz target `change_bounds`: any bytes give a change or an error,
        /// never a panic, and a change read is one automerge reads the same.
        #[test]
        fn any_bytes_read_or_fail_cleanly(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            if let Ok(change) = Budget::new(PUSH).read_change(&bytes) {
                let again = Change::from_bytes(change.raw_bytes().to_vec()).unwrap();
                proptest::prop_assert_eq!(again.hash(), change.hash());
            }
        }

        /// Hand-made changes with any number of operations are counted exactly.
        #[test]
        fn operations_are_counted_as_automerge_counts_them(ops in 1_u64..3000) {
            let chunk = Handmade::puts(ops, "k").chunk();
            let read = Budget::new(PUSH).read_change(&chunk).unwrap();
            proptest::prop_assert_eq!(read.len() as u64, ops);
            proptest::prop_assert_eq!(columns::cost(&chunk[10..]).unwrap().ops, ops);
        }
    }
}
