//! Fuzz target: the live channel's event stream (outside text from the relay) must read
//! as events or be refused with an error, never panic, and an event that reads must read
//! back the same from its own encoding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use timebank_engine::sync::live::{EventReader, LiveEvent};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut reader = EventReader::default();
    for line in text.split('\n') {
        let Ok(Some((name, data))) = reader.line(line.strip_suffix('\r').unwrap_or(line)) else { continue };
        if let Ok(Some(event)) = LiveEvent::decode(&name, &data) {
            let (name, data) = event.encode();
            assert_eq!(LiveEvent::decode(name, &data), Ok(Some(event)), "encode then decode changed the event");
        }
    }
});
