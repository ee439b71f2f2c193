//! The relay's vouchers (ADR 25): a message authentication code over a document id and a
//! set of heads, given to a device with the changes it pulls. A relay restored from a
//! backup takes changes of others back from a device only under a voucher it made, and only
//! changes those heads descend from: automerge's hashes chain every change to its
//! ancestors, so vouching for the heads vouches for the whole history below them.

use automerge::ChangeHash;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use timebank_engine::sync::wire::VOUCHER_BYTES;

use crate::secret;
use crate::store::{RelayStore, StoreError, StoreResult};

/// The name of the vouchers' key among the relay's secrets.
const KEY_NAME: &str = "vouchers";

/// Makes and checks vouchers with the relay's key (the same in every process and after a
/// restore, since it lives in the store).
#[derive(Clone)]
pub struct Vouchers {
    key: [u8; 32],
}

impl std::fmt::Debug for Vouchers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vouchers { .. }")
    }
}

impl Vouchers {
    /// The relay's vouchers, creating the key the first time.
    pub fn load(store: &dyn RelayStore) -> StoreResult<Vouchers> {
        let fresh = secret::random_bytes::<32>().map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(Vouchers { key: store.relay_secret(KEY_NAME, &fresh)? })
    }

    fn code(&self, doc: &str, heads: &[ChangeHash]) -> Hmac<Sha256> {
        let mut sorted: Vec<&[u8]> = heads.iter().map(AsRef::as_ref).collect();
        sorted.sort_unstable();
        // The key is 32 bytes; HMAC takes a key of any length.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!());
        mac.update(b"timebank voucher 1\0");
        mac.update(doc.as_bytes());
        mac.update(&[0]);
        for head in sorted {
            mac.update(head);
        }
        mac
    }

    /// The voucher for `heads` of `doc`.
    pub fn vouch(&self, doc: &str, heads: &[ChangeHash]) -> [u8; VOUCHER_BYTES] {
        let full = self.code(doc, heads).finalize().into_bytes();
        let mut out = [0_u8; VOUCHER_BYTES];
        out.copy_from_slice(&full[..VOUCHER_BYTES]);
        out
    }

    /// Whether `mac` is this relay's voucher for `heads` of `doc` (compared in constant time).
    pub fn verify(&self, doc: &str, heads: &[ChangeHash], mac: &[u8; VOUCHER_BYTES]) -> bool {
        self.code(doc, heads).verify_truncated_left(mac).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_voucher_holds_for_its_document_and_heads_only() {
        let vouchers = Vouchers { key: [1; 32] };
        let heads = [ChangeHash([2; 32]), ChangeHash([3; 32])];
        let mac = vouchers.vouch("member/m-1", &heads);
        assert!(vouchers.verify("member/m-1", &heads, &mac));
        assert!(vouchers.verify("member/m-1", &[heads[1], heads[0]], &mac), "head order does not matter");
        assert!(!vouchers.verify("member/m-2", &heads, &mac));
        assert!(!vouchers.verify("member/m-1", &heads[..1], &mac));
        let mut forged = mac;
        forged[0] ^= 1;
        assert!(!vouchers.verify("member/m-1", &heads, &forged));
        assert!(!Vouchers { key: [2; 32] }.verify("member/m-1", &heads, &mac), "another relay's key");
    }
}
