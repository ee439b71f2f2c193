//! Fuzz target: what a phone does with the bytes of the relay's answer before storing any
//! of it: the wire decoder, then the bounded reader over every pulled change
//! (`client::read_pulled`) and the check that they may follow a document's history (here
//! an empty one's). Any bytes give an answer or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use timebank_engine::sync::client::read_pulled;
use timebank_engine::sync::sequence;
use timebank_engine::sync::wire::{self, SyncResponse};

fuzz_target!(|data: &[u8]| {
    if let Ok(response) = wire::decode::<SyncResponse>(data)
        && let Ok(pulled) = read_pulled(&response)
    {
        for (_, changes) in pulled {
            let _ = sequence::check(&automerge::Automerge::new(), &changes);
        }
    }
});
