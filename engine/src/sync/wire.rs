//! The sync wire format: one version byte, then a postcard-encoded message. Shared by the
//! device's sync client and the relay, so there is one decoder of outside bytes (fuzzed).

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The wire version this build speaks; the first byte of every body.
pub const WIRE_VERSION: u8 = 1;

/// Largest body either side accepts, in bytes (a day offline fits many times over).
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// An automerge change hash.
pub type Hash = [u8; 32];

/// A short digest of a set of heads: the first 8 bytes of SHA-256 over the sorted heads.
pub type HeadsDigest = [u8; 8];

/// What a device sends. Usually (`manifest` set) one digest of everything it holds plus
/// the documents it changed; when the relay asks (`SyncResponse::list_all`), every
/// document it holds, each with the digest of its acknowledged heads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    /// [`manifest_digest`] over every document the device holds with acknowledged heads,
    /// when `docs` lists only the documents with changes; `None` when `docs` lists every
    /// document the device holds.
    pub manifest: Option<HeadsDigest>,
    /// The documents the device changed (or, without a manifest, all it holds).
    pub docs: Vec<DocPush>,
    /// Bloom-filter sync messages for documents in fallback mode.
    pub bloom: Vec<BloomMessage>,
}

/// A device's state of one document.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocPush {
    /// `member/v-1`, ...
    pub doc: String,
    /// Digest of the heads the relay last acknowledged for this document.
    pub acked: HeadsDigest,
    /// Raw automerge changes made since those heads.
    pub changes: Vec<Vec<u8>>,
}

/// What the relay answers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncResponse {
    /// The request's manifest is not what the relay acknowledged to this device (its last
    /// answer was lost, or it holds a restored copy): nothing was done; send again,
    /// listing every document.
    pub list_all: bool,
    /// Documents where the device lacks changes or its acknowledged heads moved.
    pub docs: Vec<DocPull>,
    /// Bloom-filter sync messages for documents whose state the relay cannot tell
    /// (a new device, a restored backup, a relay that lost data): sync again.
    pub bloom: Vec<BloomMessage>,
}

/// The relay's update of one document.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocPull {
    /// The document.
    pub doc: String,
    /// Raw automerge changes the device lacks.
    pub changes: Vec<Vec<u8>>,
    /// The relay's heads after merging: the device's new acknowledged heads. Empty means
    /// "the heads you had when you sent the request" (the relay had nothing you lacked),
    /// which saves 32 bytes per document in the common case.
    pub acked: Vec<Hash>,
}

/// One automerge sync-protocol message (the fallback path).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BloomMessage {
    /// The document.
    pub doc: String,
    /// `automerge::sync::Message` encoded.
    pub message: Vec<u8>,
}

/// Enrollment: a device presents a one-time code and its automerge actor id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollRequest {
    /// The code a coordinator issued.
    pub code: String,
    /// The device's actor id (hex).
    pub actor: String,
}

/// Enrollment answer: who the device belongs to, and its secret token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollResponse {
    /// The member.
    pub member: String,
    /// Their station.
    pub station: String,
    /// Their role.
    pub role: String,
    /// The device's id on the relay (for revocation).
    pub device: String,
    /// The bearer token for sync; the relay keeps only its hash.
    pub token: String,
}

/// Why bytes from outside could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    /// The body is empty.
    #[error("the message is empty")]
    Empty,
    /// Another protocol version.
    #[error("the message uses protocol version {found}; this side speaks version {supported}. Update the app or the relay")]
    UnsupportedVersion {
        /// Version byte found.
        found: u8,
        /// Version spoken here.
        supported: u8,
    },
    /// Over [`MAX_BODY_BYTES`].
    #[error("the message is {0} bytes, over the limit of {MAX_BODY_BYTES}; sync more often or in smaller batches")]
    TooLarge(usize),
    /// Truncated or garbled.
    #[error("the message is damaged or truncated ({0})")]
    Malformed(String),
}

/// Encodes `message` with the version byte in front.
pub fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    let out = vec![WIRE_VERSION];
    // Serializing plain structs of bytes, strings and vectors into a Vec cannot fail.
    match postcard::to_extend(message, out) {
        Ok(bytes) => bytes,
        Err(_) => vec![WIRE_VERSION],
    }
}

/// Decodes a message, checking size, version and that no bytes are left over.
pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, WireError> {
    if bytes.len() > MAX_BODY_BYTES {
        return Err(WireError::TooLarge(bytes.len()));
    }
    let (&version, body) = bytes.split_first().ok_or(WireError::Empty)?;
    if version != WIRE_VERSION {
        return Err(WireError::UnsupportedVersion { found: version, supported: WIRE_VERSION });
    }
    let (message, rest) = postcard::take_from_bytes(body).map_err(|e| WireError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(WireError::Malformed(format!("{} unexpected bytes at the end", rest.len())));
    }
    Ok(message)
}

/// The digest of a set of heads (order does not matter).
pub fn heads_digest(heads: &[automerge::ChangeHash]) -> HeadsDigest {
    let mut sorted: Vec<&[u8]> = heads.iter().map(|h| h.as_ref()).collect();
    sorted.sort_unstable();
    let mut hasher = Sha256::new();
    for head in sorted {
        hasher.update(head);
    }
    truncate(&hasher.finalize())
}

fn truncate(full: &[u8]) -> [u8; 8] {
    let mut digest = [0_u8; 8];
    digest.copy_from_slice(&full[..8]);
    digest
}

/// The manifest digest: over the sorted `(document id, acknowledged heads digest)` pairs of
/// every document held with non-empty acknowledged heads. Device and relay compute it
/// from their own records; equal digests mean the relay knows exactly what the device
/// holds, so unchanged documents cost nothing on the wire.
pub fn manifest_digest<'a>(entries: impl IntoIterator<Item = (&'a str, HeadsDigest)>) -> HeadsDigest {
    let mut sorted: Vec<(&str, HeadsDigest)> = entries.into_iter().collect();
    sorted.sort_unstable();
    let mut hasher = Sha256::new();
    for (doc, digest) in sorted {
        hasher.update(doc.as_bytes());
        hasher.update([0]);
        hasher.update(digest);
    }
    truncate(&hasher.finalize())
}

/// Heads as wire hashes.
pub fn to_wire_heads(heads: &[automerge::ChangeHash]) -> Vec<Hash> {
    heads.iter().map(|h| h.0).collect()
}

/// Wire hashes as heads.
pub fn from_wire_heads(heads: &[Hash]) -> Vec<automerge::ChangeHash> {
    heads.iter().map(|h| automerge::ChangeHash(*h)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_request() -> SyncRequest {
        SyncRequest {
            manifest: Some([5; 8]),
            docs: vec![DocPush { doc: "member/v-1".into(), acked: [7; 8], changes: vec![vec![1, 2, 3]] }],
            bloom: vec![],
        }
    }

    #[test]
    fn messages_round_trip() {
        let request = sample_request();
        assert_eq!(decode::<SyncRequest>(&encode(&request)).unwrap(), request);
    }

    /// The bytes of each message type are fixed: changing them breaks deployed phones.
    #[test]
    fn wire_snapshots() {
        assert_eq!(
            encode(&sample_request()),
            [
                1, // version
                1, 5, 5, 5, 5, 5, 5, 5, 5, // a manifest digest
                1, 10, b'm', b'e', b'm', b'b', b'e', b'r', b'/', b'v', b'-', b'1', // one doc, its id
                7, 7, 7, 7, 7, 7, 7, 7, // acked digest
                1, 3, 1, 2, 3, // one change of three bytes
                0, // no bloom messages
            ]
        );
        let response = SyncResponse {
            list_all: false,
            docs: vec![DocPull { doc: "ledger/v-1".into(), changes: vec![], acked: vec![[9; 32]] }],
            bloom: vec![BloomMessage { doc: "station/s".into(), message: vec![0x42] }],
        };
        let mut expected = vec![1, 0, 1, 10];
        expected.extend_from_slice(b"ledger/v-1");
        expected.extend_from_slice(&[0, 1]);
        expected.extend_from_slice(&[9; 32]);
        expected.extend_from_slice(&[1, 9]);
        expected.extend_from_slice(b"station/s");
        expected.extend_from_slice(&[1, 0x42]);
        assert_eq!(encode(&response), expected);
        let enroll = EnrollRequest { code: "AB".into(), actor: "ff".into() };
        assert_eq!(encode(&enroll), [1, 2, b'A', b'B', 2, b'f', b'f']);
    }

    #[test]
    fn bad_bodies_are_refused_with_the_reason() {
        assert_eq!(decode::<SyncRequest>(&[]), Err(WireError::Empty));
        assert_eq!(
            decode::<SyncRequest>(&[2, 0, 0]),
            Err(WireError::UnsupportedVersion { found: 2, supported: 1 })
        );
        let mut truncated = encode(&sample_request());
        truncated.truncate(truncated.len() - 3);
        assert!(matches!(decode::<SyncRequest>(&truncated), Err(WireError::Malformed(_))));
        let mut trailing = encode(&sample_request());
        trailing.push(0);
        assert!(matches!(decode::<SyncRequest>(&trailing), Err(WireError::Malformed(_))));
        assert!(matches!(decode::<SyncRequest>(&vec![1; MAX_BODY_BYTES + 1]), Err(WireError::TooLarge(_))));
    }

    #[test]
    fn manifest_digest_ignores_order_and_sees_every_entry() {
        let a = ("member/m-1", [1; 8]);
        let b = ("ledger/m-1", [2; 8]);
        assert_eq!(manifest_digest([a, b]), manifest_digest([b, a]));
        assert_ne!(manifest_digest([a, b]), manifest_digest([a]));
        assert_ne!(manifest_digest([a, b]), manifest_digest([a, ("ledger/m-1", [3; 8])]));
    }

    #[test]
    fn digest_ignores_head_order() {
        let a = automerge::ChangeHash([1; 32]);
        let b = automerge::ChangeHash([2; 32]);
        assert_eq!(heads_digest(&[a, b]), heads_digest(&[b, a]));
        assert_ne!(heads_digest(&[a]), heads_digest(&[b]));
    }

    proptest::proptest! {
        /// The same property as the cargo-fuzz target `wire_decode`, run in every test pass:
        /// any bytes give a message or an error, never a panic, and what decodes re-encodes.
        #[test]
        fn any_bytes_decode_or_fail_cleanly(mut bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            if let Some(first) = bytes.first_mut() {
                *first = WIRE_VERSION;
            }
            if let Ok(message) = decode::<SyncRequest>(&bytes) {
                proptest::prop_assert_eq!(decode::<SyncRequest>(&encode(&message)), Ok(message));
            }
            if let Ok(message) = decode::<SyncResponse>(&bytes) {
                proptest::prop_assert_eq!(decode::<SyncResponse>(&encode(&message)), Ok(message));
            }
            let _ = decode::<EnrollRequest>(&bytes);
            let _ = decode::<EnrollResponse>(&bytes);
        }
    }
}
