//! A device's own signing key (Ed25519, `ed25519-dalek`): made when the device enrolls,
//! its secret kept in the device's store, its public half registered with the relay. An
//! elder's (or household proxy's) phone signs visit summaries with it (ADR 29).

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use crate::error::Error;

/// A device's signing key.
#[derive(Clone)]
pub struct DeviceKey(SigningKey);

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("DeviceKey").field(&self.public_hex()).finish()
    }
}

impl DeviceKey {
    /// A new key from the operating system's randomness.
    pub fn generate() -> Result<DeviceKey, Error> {
        let mut secret = [0_u8; 32];
        getrandom::fill(&mut secret)
            .map_err(|e| Error::invalid(format!("the phone gave no random bytes for its signing key ({e}); try again")))?;
        Ok(DeviceKey(SigningKey::from_bytes(&secret)))
    }

    /// The key whose secret is `secret` (as stored).
    pub fn from_secret(secret: &[u8; 32]) -> DeviceKey {
        DeviceKey(SigningKey::from_bytes(secret))
    }

    /// The secret, for the device's store only.
    pub fn secret(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The secret in hex (how the store keeps it).
    pub fn secret_hex(&self) -> String {
        hex::encode(self.secret())
    }

    /// Reads the stored secret.
    pub fn from_secret_hex(raw: &str) -> Option<DeviceKey> {
        let mut secret = [0_u8; 32];
        hex::decode_to_slice(raw, &mut secret).ok()?;
        Some(DeviceKey::from_secret(&secret))
    }

    /// The public key the relay registers.
    pub fn public(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }

    /// The public key in hex.
    pub fn public_hex(&self) -> String {
        hex::encode(self.public())
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).to_bytes()
    }
}

/// Whether `signature` is `public`'s over `message` (strict: no malleable encodings, no
/// weak keys).
pub fn verify(public: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    VerifyingKey::from_bytes(public).is_ok_and(|key| key.verify_strict(message, &Signature::from_bytes(signature)).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8032 section 7.1, test 2: the one-byte message 0x72.
    #[test]
    fn rfc8032_test_vector() {
        let secret: [u8; 32] = [
            0x4c, 0xcd, 0x08, 0x9b, 0x28, 0xff, 0x96, 0xda, 0x9d, 0xb6, 0xc3, 0x46, 0xec, 0x11, 0x4e, 0x0f, 0x5b, 0x8a, 0x31, 0x9f,
            0x35, 0xab, 0xa6, 0x24, 0xda, 0x8c, 0xf6, 0xed, 0x4f, 0xb8, 0xa6, 0xfb,
        ];
        let key = DeviceKey::from_secret(&secret);
        assert_eq!(key.public_hex(), "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c");
        let signature = key.sign(&[0x72]);
        assert_eq!(
            hex::encode(signature),
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
        );
        assert!(verify(&key.public(), &[0x72], &signature));
        assert!(!verify(&key.public(), &[0x73], &signature));
    }

    #[test]
    fn a_stored_key_signs_the_same_and_another_key_does_not_verify() {
        let key = DeviceKey::generate().unwrap();
        let again = DeviceKey::from_secret_hex(&key.secret_hex()).unwrap();
        assert_eq!(again.public(), key.public());
        let other = DeviceKey::generate().unwrap();
        assert!(!verify(&other.public(), b"visit", &key.sign(b"visit")));
        assert!(DeviceKey::from_secret_hex("zz").is_none());
    }
}
