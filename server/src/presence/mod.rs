//! Proof of presence (ADR 29, 30): the relay alone verifies what a volunteer's phone
//! brings with a visit. [`sun`]: the NTAG 424 DNA SUN messages of the elders' tags
//! (AN12196) and their keys, diversified from each station's master key (AN10922);
//! [`keys`]: that master key, kept in the relay's store.

pub mod keys;
pub mod sun;
