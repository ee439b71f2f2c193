//! Hand-made automerge change chunks, as a tampered phone or relay could send them, for the
//! tests of the bounds and of the relay (feature `handmade`). Written from the storage
//! format (<https://alexjg.github.io/automerge-storage-docs/>), not through automerge, so
//! they can hold what automerge never writes: runs of a billion operations in a few bytes,
//! actors the change does not list, compression bombs.

use std::io::Write as _;

use sha2::{Digest as _, Sha256};

use super::{CHANGE, COMPRESSED, MAGIC};

/// Column specifications (`id << 4 | type`) of a change's operation columns.
pub mod column {
    /// The object's actor (null for the root).
    pub const OBJ_ACTOR: u32 = 0x01;
    /// The object's counter.
    pub const OBJ_COUNTER: u32 = 0x02;
    /// The key's actor (list elements).
    pub const KEY_ACTOR: u32 = 0x11;
    /// The key's counter (list elements), delta encoded.
    pub const KEY_COUNTER: u32 = 0x13;
    /// The key's string (map keys).
    pub const KEY_STRING: u32 = 0x15;
    /// Whether the operation inserts.
    pub const INSERT: u32 = 0x34;
    /// The action: 0 make map, 1 put, 2 make list, 3 delete, 4 make text, 5 increment.
    pub const ACTION: u32 = 0x42;
    /// Value metadata: `length << 4 | type`.
    pub const VALUE_META: u32 = 0x56;
    /// Value bytes.
    pub const VALUE: u32 = 0x57;
    /// How many predecessors each operation names.
    pub const PRED_GROUP: u32 = 0x70;
    /// The predecessors' actors.
    pub const PRED_ACTOR: u32 = 0x71;
    /// The predecessors' counters, delta encoded.
    pub const PRED_COUNTER: u32 = 0x73;
}

/// A change chunk to build: header fields and raw columns, in the storage order.
#[derive(Clone, Debug)]
pub struct Handmade {
    /// The author.
    pub actor: Vec<u8>,
    /// Its sequence number.
    pub seq: u64,
    /// The counter of its first operation.
    pub start_op: u64,
    /// Other actors named by its operations.
    pub others: Vec<Vec<u8>>,
    /// Dependencies.
    pub deps: Vec<[u8; 32]>,
    /// The commit message.
    pub message: Vec<u8>,
    /// `(specification, bytes)`, sorted by specification.
    pub columns: Vec<(u32, Vec<u8>)>,
}

impl Handmade {
    /// `ops` operations that each put null at key `key` of the root, as five runs: a
    /// valid change whatever `ops` is, in under a hundred bytes.
    pub fn puts(ops: u64, key: &str) -> Handmade {
        let mut key_string = run(ops);
        uleb(&mut key_string, key.len() as u64);
        key_string.extend_from_slice(key.as_bytes());
        Handmade {
            actor: vec![0xab; 16],
            seq: 1,
            start_op: 1,
            others: Vec::new(),
            deps: Vec::new(),
            message: Vec::new(),
            columns: vec![
                (column::KEY_STRING, key_string),
                (column::INSERT, uleb_bytes(ops)),
                (column::ACTION, [run(ops), uleb_bytes(1)].concat()),
                (column::VALUE_META, [run(ops), uleb_bytes(0)].concat()),
                (column::PRED_GROUP, [run(ops), uleb_bytes(0)].concat()),
            ],
        }
    }

    /// Replaces (or adds) column `spec`.
    pub fn with_column(mut self, spec: u32, bytes: Vec<u8>) -> Handmade {
        self.columns.retain(|(s, _)| *s != spec);
        self.columns.push((spec, bytes));
        self.columns.sort_by_key(|(s, _)| *s);
        self
    }

    /// The chunk's data: what follows the header.
    pub fn body(&self) -> Vec<u8> {
        let mut out = Vec::new();
        uleb(&mut out, self.deps.len() as u64);
        for dep in &self.deps {
            out.extend_from_slice(dep);
        }
        bytes(&mut out, &self.actor);
        uleb(&mut out, self.seq);
        uleb(&mut out, self.start_op);
        sleb(&mut out, 0);
        bytes(&mut out, &self.message);
        uleb(&mut out, self.others.len() as u64);
        for other in &self.others {
            bytes(&mut out, other);
        }
        uleb(&mut out, self.columns.len() as u64);
        for (spec, data) in &self.columns {
            uleb(&mut out, u64::from(*spec));
            uleb(&mut out, data.len() as u64);
        }
        for (_, data) in &self.columns {
            out.extend_from_slice(data);
        }
        out
    }

    /// The change chunk (type 1), with a correct checksum.
    pub fn chunk(&self) -> Vec<u8> {
        chunk_of(&self.body())
    }

    /// The same change as a compressed chunk (type 2), as automerge stores large changes.
    pub fn compressed(&self) -> Vec<u8> {
        compressed_of(&self.body())
    }
}

/// A change chunk (type 1) around `body`, with the checksum automerge computes.
pub fn chunk_of(body: &[u8]) -> Vec<u8> {
    let mut typed = vec![CHANGE];
    uleb(&mut typed, body.len() as u64);
    let hash = Sha256::new().chain_update(&typed).chain_update(body).finalize();
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&hash[..4]);
    out.extend_from_slice(&typed);
    out.extend_from_slice(body);
    out
}

/// A compressed chunk (type 2) around `body` deflated, with the checksum of the change
/// chunk it inflates to.
pub fn compressed_of(body: &[u8]) -> Vec<u8> {
    let chunk = chunk_of(body);
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    let deflated = encoder.write_all(body).and_then(|()| encoder.finish()).unwrap_or_default();
    compressed_chunk(chunk[4..8].try_into().unwrap_or([0; 4]), &deflated)
}

/// A compressed chunk (type 2) that inflates to `mib` MiB of zero bytes: a compression bomb
/// of about a thousandth of its inflated size, built without ever holding more than one
/// inflated MiB (one deflated MiB, fully flushed so that copies of it chain, then an empty
/// final block). Its checksum is not that of its contents: a reader that inflated it whole
/// could not tell before it had.
pub fn zero_bomb(mib: usize) -> Vec<u8> {
    let zeros = vec![0_u8; 1024 * 1024];
    let mut one = flate2::Compress::new(flate2::Compression::best(), false);
    let mut block = Vec::with_capacity(4096);
    let _ = one.compress_vec(&zeros, &mut block, flate2::FlushCompress::Full);
    let mut last = flate2::Compress::new(flate2::Compression::best(), false);
    let mut end = Vec::with_capacity(64);
    let _ = last.compress_vec(&[], &mut end, flate2::FlushCompress::Finish);
    let mut deflated = block.repeat(mib);
    deflated.extend_from_slice(&end);
    compressed_chunk([0; 4], &deflated)
}

fn compressed_chunk(checksum: [u8; 4], deflated: &[u8]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&checksum);
    out.push(COMPRESSED);
    uleb(&mut out, deflated.len() as u64);
    out.extend_from_slice(deflated);
    out
}

/// The start of a run of `count` equal values (the value follows).
pub fn run(count: u64) -> Vec<u8> {
    let mut out = Vec::new();
    sleb(&mut out, i64::try_from(count).unwrap_or(i64::MAX));
    out
}

/// A run of `count` nulls.
pub fn nulls(count: u64) -> Vec<u8> {
    let mut out = Vec::new();
    sleb(&mut out, 0);
    uleb(&mut out, count);
    out
}

/// One unsigned LEB128 number.
pub fn uleb_bytes(value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    uleb(&mut out, value);
    out
}

fn uleb(out: &mut Vec<u8>, value: u64) {
    let _ = leb128::write::unsigned(out, value);
}

fn sleb(out: &mut Vec<u8>, value: i64) {
    let _ = leb128::write::signed(out, value);
}

fn bytes(out: &mut Vec<u8>, data: &[u8]) {
    uleb(out, data.len() as u64);
    out.extend_from_slice(data);
}
