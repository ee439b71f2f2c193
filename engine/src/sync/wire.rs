//! The sync wire format: one version byte, then a postcard-encoded message. Shared by the
//! device's sync client and the relay, so there is one decoder of outside bytes (fuzzed).

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The wire version this build speaks; the first byte of every body. Version 2 (ADR 25):
/// a device pushes only its own changes and those the relay vouched for; no Bloom
/// fallback; answers and uploads come in pages.
pub const WIRE_VERSION: u8 = 2;

/// Largest body either side accepts, in bytes (a day offline fits many times over).
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Most change bytes one request or one answer carries: a phone with more to upload, or
/// far behind, syncs in several pages, each durable when applied. Well under
/// [`MAX_BODY_BYTES`], so ids, heads and a change over the page still fit.
pub const PAGE_BYTES: usize = 1024 * 1024;

/// Bytes of a voucher's message authentication code.
pub const VOUCHER_BYTES: usize = 16;

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
}

/// A device's state of one document.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocPush {
    /// `member/v-1`, ...
    pub doc: String,
    /// Digest of the heads the relay last acknowledged for this document.
    pub acked: HeadsDigest,
    /// Raw automerge changes the relay lacks, in causal order: the device's own (authored
    /// by its actor), and, only when recovering what a restored relay lost, changes of
    /// others that the recovery's voucher covers. At most [`PAGE_BYTES`] of them per request.
    pub changes: Vec<Vec<u8>>,
    /// Set when answering the relay's [`Recover`] for this document.
    pub recovery: Option<Recovery>,
}

/// A device's answer to the relay's [`Recover`] of one document.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recovery {
    /// The device's heads, so the relay can tell what the device lacks.
    pub heads: Vec<Hash>,
    /// The relay's voucher for the changes of others among the push's changes.
    pub voucher: Option<Voucher>,
}

/// The relay's word that it once held a document at `heads`: a device returns changes of
/// others to a relay that lost them (restored from a backup) only under a voucher, and only
/// changes that `heads` descend from. Nobody but the relay can make one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Voucher {
    /// The relay's heads it vouches for.
    pub heads: Vec<Hash>,
    /// The relay's message authentication code over the document id and `heads`.
    pub mac: [u8; VOUCHER_BYTES],
}

/// What the relay answers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncResponse {
    /// The request's manifest is not what the relay acknowledged to this device (its last
    /// answer was lost, or it holds a restored copy): nothing was done; send again,
    /// listing every document.
    pub list_all: bool,
    /// Documents where the device lacks changes or its acknowledged heads moved. A document
    /// the device pushed changes to and that is named neither here nor in `recover` was
    /// taken whole: the relay's heads are the device's (which costs nothing on the wire).
    pub docs: Vec<DocPull>,
    /// Documents whose state on the device the relay cannot tell (its record is older than
    /// the device's: a restored backup), or whose pushed changes build on changes the relay
    /// lacks: the device sends its heads and every change of its own (and vouched) that
    /// the relay's heads here do not cover, in the next request.
    pub recover: Vec<Recover>,
    /// The answer stopped at [`PAGE_BYTES`]: sync again at once for the rest.
    pub more: bool,
}

/// The relay's update of one document.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocPull {
    /// The document.
    pub doc: String,
    /// Raw automerge changes the device lacks.
    pub changes: Vec<Vec<u8>>,
    /// The relay's heads after merging (or, for a page of a longer answer, the heads of
    /// what this page brings): the device's new acknowledged heads. Empty means "the heads
    /// you had when you sent the request" (the relay had nothing you lacked), which saves 32
    /// bytes per document in the common case.
    pub acked: Vec<Hash>,
    /// When `changes` is not empty: the relay's voucher for `acked` (keep it; see [`Voucher`]).
    pub voucher: Option<[u8; VOUCHER_BYTES]>,
}

/// The relay's heads of a document it asks the device to recover.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recover {
    /// The document.
    pub doc: String,
    /// The relay's heads.
    pub heads: Vec<Hash>,
}

/// A volunteer's phone asks for the contacts of its open dispatches (`POST /v1/contacts`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactsRequest {}

/// The relay's answer to [`ContactsRequest`]: for each order dispatched to the asking
/// volunteer and still open for them (dispatched or accepted, not declined, cancelled,
/// served or given to someone else), the elder's address and phone from the station's
/// register. The phone keeps them outside its documents and replaces them at each answer,
/// so an order's contact leaves the phone with the order (ADR 31).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchContacts {
    /// One per open order.
    pub contacts: Vec<DispatchContact>,
}

/// The elder's address and phone for one order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchContact {
    /// The order (`o-…`).
    pub order: String,
    /// The elder's home address, as the station registered it (empty when it has none).
    pub address: String,
    /// The elder's phone number (empty when none).
    pub phone: String,
}

/// Enrollment: a device presents a one-time code, its automerge actor id and the public
/// half of its signing key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollRequest {
    /// The code a coordinator issued.
    pub code: String,
    /// The device's actor id (hex).
    pub actor: String,
    /// The device's Ed25519 public key, with which an elder's phone co-signs visits
    /// (ADR 29). Added at the end: a phone of an earlier build sends the request without
    /// it, which [`decode_enroll`] still reads (as no key).
    pub signing_key: Option<[u8; 32]>,
}

/// An enrollment request as builds before the signing key sent it.
#[derive(Deserialize)]
struct EnrollRequestWithoutKey {
    code: String,
    actor: String,
}

/// Decodes an enrollment request, of this build or of a build before the signing key
/// (the same version byte; those bytes end after the actor).
pub fn decode_enroll(bytes: &[u8]) -> Result<EnrollRequest, WireError> {
    decode::<EnrollRequest>(bytes).or_else(|error| match decode::<EnrollRequestWithoutKey>(bytes) {
        Ok(old) => Ok(EnrollRequest { code: old.code, actor: old.actor, signing_key: None }),
        Err(_) => Err(error),
    })
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
            docs: vec![DocPush { doc: "member/v-1".into(), acked: [7; 8], changes: vec![vec![1, 2, 3]], recovery: None }],
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
                2, // version
                1, 5, 5, 5, 5, 5, 5, 5, 5, // a manifest digest
                1, 10, b'm', b'e', b'm', b'b', b'e', b'r', b'/', b'v', b'-', b'1', // one doc, its id
                7, 7, 7, 7, 7, 7, 7, 7, // acked digest
                1, 3, 1, 2, 3, // one change of three bytes
                0, // not a recovery
            ]
        );
        let recovery = DocPush {
            doc: "m".into(),
            acked: [0; 8],
            changes: vec![],
            recovery: Some(Recovery {
                heads: vec![[3; 32]],
                voucher: Some(Voucher { heads: vec![[4; 32]], mac: [6; VOUCHER_BYTES] }),
            }),
        };
        let mut expected = vec![2, 0, 1, 1, b'm'];
        expected.extend_from_slice(&[0; 8]);
        expected.extend_from_slice(&[0, 1, 1]);
        expected.extend_from_slice(&[3; 32]);
        expected.extend_from_slice(&[1, 1]);
        expected.extend_from_slice(&[4; 32]);
        expected.extend_from_slice(&[6; VOUCHER_BYTES]);
        assert_eq!(encode(&SyncRequest { manifest: None, docs: vec![recovery] }), expected);
        let response = SyncResponse {
            list_all: false,
            docs: vec![DocPull {
                doc: "ledger/v-1".into(),
                changes: vec![vec![0x42]],
                acked: vec![[9; 32]],
                voucher: Some([8; VOUCHER_BYTES]),
            }],
            recover: vec![Recover { doc: "station/s".into(), heads: vec![] }],
            more: true,
        };
        let mut expected = vec![2, 0, 1, 10];
        expected.extend_from_slice(b"ledger/v-1");
        expected.extend_from_slice(&[1, 1, 0x42, 1]);
        expected.extend_from_slice(&[9; 32]);
        expected.push(1);
        expected.extend_from_slice(&[8; VOUCHER_BYTES]);
        expected.extend_from_slice(&[1, 9]);
        expected.extend_from_slice(b"station/s");
        expected.extend_from_slice(&[0, 1]);
        assert_eq!(encode(&response), expected);
        let enroll = EnrollRequest { code: "AB".into(), actor: "ff".into(), signing_key: None };
        assert_eq!(encode(&enroll), [2, 2, b'A', b'B', 2, b'f', b'f', 0]);
        let keyed = EnrollRequest { signing_key: Some([7; 32]), ..enroll.clone() };
        let mut expected = vec![2, 2, b'A', b'B', 2, b'f', b'f', 1];
        expected.extend_from_slice(&[7; 32]);
        assert_eq!(encode(&keyed), expected);
        assert_eq!(decode_enroll(&expected), Ok(keyed));
        // The bytes a phone of the build before the signing key sends still enroll it.
        assert_eq!(decode_enroll(&[2, 2, b'A', b'B', 2, b'f', b'f']), Ok(enroll));
        assert!(matches!(decode_enroll(&[2, 2, b'A']), Err(WireError::Malformed(_))));
        assert_eq!(encode(&ContactsRequest {}), [2]);
        let contacts =
            DispatchContacts { contacts: vec![DispatchContact { order: "o-1".into(), address: "8号".into(), phone: "139".into() }] };
        let mut expected = vec![2, 1, 3];
        expected.extend_from_slice(b"o-1");
        expected.push(4);
        expected.extend_from_slice("8号".as_bytes());
        expected.push(3);
        expected.extend_from_slice(b"139");
        assert_eq!(encode(&contacts), expected);
        assert_eq!(decode::<DispatchContacts>(&expected), Ok(contacts));
    }

    #[test]
    fn bad_bodies_are_refused_with_the_reason() {
        assert_eq!(decode::<SyncRequest>(&[]), Err(WireError::Empty));
        assert_eq!(decode::<SyncRequest>(&[1, 0, 0]), Err(WireError::UnsupportedVersion { found: 1, supported: 2 }));
        let mut truncated = encode(&sample_request());
        truncated.truncate(truncated.len() - 3);
        assert!(matches!(decode::<SyncRequest>(&truncated), Err(WireError::Malformed(_))));
        let mut trailing = encode(&sample_request());
        trailing.push(0);
        assert!(matches!(decode::<SyncRequest>(&trailing), Err(WireError::Malformed(_))));
        assert!(matches!(decode::<SyncRequest>(&vec![2; MAX_BODY_BYTES + 1]), Err(WireError::TooLarge(_))));
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
            if let Ok(message) = decode::<DispatchContacts>(&bytes) {
                proptest::prop_assert_eq!(decode::<DispatchContacts>(&encode(&message)), Ok(message));
            }
            let _ = decode_enroll(&bytes);
            let _ = decode::<EnrollResponse>(&bytes);
            let _ = decode::<ContactsRequest>(&bytes);
        }
    }
}
