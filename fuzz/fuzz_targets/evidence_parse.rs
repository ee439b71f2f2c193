//! Fuzz target: what a volunteer's phone reads from outside as proof of presence (a tag's
//! link from NFC, a visit summary and a co-signature from QR codes) and what the relay reads
//! back from documents (a stored tap) must read or be refused with an error, never panic;
//! what reads must read back the same from its own encoding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use timebank_engine::model::{CoSignature, Tap, VisitSummary};

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    if let Ok(tap) = Tap::parse(raw) {
        assert_eq!(Tap::parse(&tap.url()).ok(), Some(tap.clone()), "a tap's link read back differs");
        assert_eq!(Tap::from_stored(&tap.stored()), Some(tap), "a stored tap read back differs");
    }
    let _ = Tap::from_stored(raw);
    if let Ok(summary) = VisitSummary::parse(raw) {
        assert_eq!(VisitSummary::parse(&summary.text()).ok(), Some(summary), "a summary read back differs");
    }
    if let Ok(signature) = CoSignature::parse(raw) {
        assert_eq!(CoSignature::parse(&signature.text()).ok(), Some(signature.clone()), "a signature read back differs");
        if let Ok(summary) = VisitSummary::parse("TBV1|v-1|m-v|m-e|0|1") {
            let _ = signature.signs(&summary);
        }
    }
});
