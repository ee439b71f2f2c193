//! Fuzz target: the bounded change reader (engine/src/sync/bounds.rs) returns a change or an
//! error for any bytes, never panics, and a change it returns that may follow a document's
//! history (engine/src/sync/sequence.rs, here an empty document's) is one automerge
//! decodes and applies without panicking: what the relay and the phone do before applying.
//! The first byte picks the framing, so that the fuzzer reaches the column layout behind
//! the checksum: 0 the bytes as they are, 1 a change chunk around them with the right
//! checksum, 2 the same deflated (a compressed chunk).
#![no_main]

use libfuzzer_sys::fuzz_target;
use timebank_engine::sync::bounds::handmade::{chunk_of, compressed_of};
use timebank_engine::sync::bounds::{Budget, PULL, PUSH};
use timebank_engine::sync::sequence;

fuzz_target!(|data: &[u8]| {
    let Some((&framing, body)) = data.split_first() else { return };
    let raw = match framing % 3 {
        0 => body.to_vec(),
        1 => chunk_of(body),
        _ => compressed_of(body),
    };
    for bounds in [PUSH, PULL] {
        if let Ok(change) = Budget::new(bounds).read_change(&raw) {
            let _ = change.decode();
            let mut doc = automerge::Automerge::new();
            if sequence::check(&doc, [&change]).is_ok() {
                let _ = doc.apply_changes([change]);
            }
        }
    }
});
