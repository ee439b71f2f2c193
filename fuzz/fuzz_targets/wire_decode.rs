//! Fuzz target: every decoder of sync bodies from outside must return an error, never panic,
//! and whatever decodes must survive encode-then-decode unchanged (byte equality is not
//! required: a varint may arrive in a longer, non-canonical form).
#![no_main]

use libfuzzer_sys::fuzz_target;
use timebank_engine::sync::wire::{self, ContactsRequest, DispatchContacts, EnrollRequest, EnrollResponse, SyncRequest, SyncResponse};

fn round_trip<T>(data: &[u8])
where
    T: serde::Serialize + for<'a> serde::Deserialize<'a> + PartialEq + std::fmt::Debug,
{
    if let Ok(message) = wire::decode::<T>(data) {
        let again = wire::decode::<T>(&wire::encode(&message));
        assert_eq!(again.as_ref(), Ok(&message), "encode then decode changed the message");
    }
}

fuzz_target!(|data: &[u8]| {
    round_trip::<SyncRequest>(data);
    round_trip::<SyncResponse>(data);
    round_trip::<EnrollRequest>(data);
    round_trip::<EnrollResponse>(data);
    round_trip::<ContactsRequest>(data);
    round_trip::<DispatchContacts>(data);
    // The relay's enrollment decoder also reads the request of a build before the signing key.
    if let Ok(request) = wire::decode_enroll(data) {
        assert_eq!(wire::decode_enroll(&wire::encode(&request)).as_ref(), Ok(&request), "encode then decode changed the request");
    }
    // The changes inside a request are automerge's own format: decoding them must not panic either.
    if let Ok(request) = wire::decode::<SyncRequest>(data) {
        for push in &request.docs {
            for change in &push.changes {
                let _ = automerge::Change::from_bytes(change.clone());
            }
        }
    }
});
