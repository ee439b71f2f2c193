//! Fuzz target: an enrollment link scanned from a QR code (outside text) must read or be
//! refused with an error, never panic, and a link that reads must read back the same
//! from its own encoding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use timebank_engine::model::EnrollLink;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    if let Ok(link) = EnrollLink::parse(raw) {
        assert_eq!(EnrollLink::parse(&link.to_uri()).as_ref().ok(), Some(&link), "encode then parse changed the link");
    }
    let _ = EnrollLink::resolve(Some("https://relay.example.org"), raw);
});
