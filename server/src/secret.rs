//! Random secrets and ids (enrollment codes, device tokens, record ids) and the SHA-256
//! hashes under which the secrets are stored.

use sha2::{Digest as _, Sha256};

use crate::store::SecretHash;

/// Letters and digits that cannot be confused when read aloud or typed from paper
/// (no I, L, O, 0, 1).
pub const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/// Length of an enrollment code: about 49 bits, and it is single-use and expires.
pub const CODE_LEN: usize = 10;

/// Why no random bytes could be had (the operating system refused).
#[derive(Debug, thiserror::Error)]
#[error("the operating system gave no random bytes: {0}")]
pub struct NoRandomness(String);

/// `N` random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], NoRandomness> {
    let mut bytes = [0_u8; N];
    getrandom::fill(&mut bytes).map_err(|e| NoRandomness(e.to_string()))?;
    Ok(bytes)
}

/// A new enrollment code of [`CODE_LEN`] characters from [`CODE_ALPHABET`].
pub fn enrollment_code() -> Result<String, NoRandomness> {
    let mut code = String::with_capacity(CODE_LEN);
    // Rejection sampling keeps every character equally likely.
    let limit = u8::try_from(256 - 256 % CODE_ALPHABET.len()).unwrap_or(u8::MAX);
    while code.len() < CODE_LEN {
        for byte in random_bytes::<16>()? {
            if byte < limit && code.len() < CODE_LEN {
                code.push(char::from(CODE_ALPHABET[usize::from(byte) % CODE_ALPHABET.len()]));
            }
        }
    }
    Ok(code)
}

/// The code as typed, made comparable: upper case, without spaces or dashes.
pub fn normalize_code(typed: &str) -> String {
    typed.chars().filter(|c| !c.is_whitespace() && *c != '-').flat_map(char::to_uppercase).collect()
}

/// A new device token: 32 random bytes, hex.
pub fn device_token() -> Result<String, NoRandomness> {
    Ok(hex::encode(random_bytes::<32>()?))
}

/// A new id: `prefix` and 12 random hex digits (`m-3f2a…`), valid as an engine id.
pub fn new_id(prefix: &str) -> Result<String, NoRandomness> {
    Ok(format!("{prefix}-{}", hex::encode(random_bytes::<6>()?)))
}

/// SHA-256 of a secret, as stored.
pub fn hash(secret: &str) -> SecretHash {
    Sha256::digest(secret.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_typeable_and_distinct() {
        let a = enrollment_code().unwrap();
        let b = enrollment_code().unwrap();
        assert_eq!(a.len(), CODE_LEN);
        assert!(a.bytes().all(|c| CODE_ALPHABET.contains(&c)), "{a}");
        assert_ne!(a, b);
        assert_eq!(normalize_code(&format!(" {}-{} ", a[..5].to_lowercase(), &a[5..])), a);
    }

    #[test]
    fn tokens_are_long_and_only_their_hash_is_kept() {
        let token = device_token().unwrap();
        assert_eq!(token.len(), 64);
        assert_ne!(hash(&token).to_vec(), token.as_bytes()[..32].to_vec());
        assert_eq!(hash(&token), hash(&token.clone()));
        assert_ne!(hash(&token), hash(&device_token().unwrap()));
    }

    #[test]
    fn ids_are_valid_engine_ids() {
        let id = new_id("m").unwrap();
        assert!(timebank_engine::model::MemberId::parse(&id).is_ok(), "{id}");
        assert_eq!(id.len(), 14);
    }
}
