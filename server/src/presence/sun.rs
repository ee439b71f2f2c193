//! NTAG 424 DNA Secure Dynamic Messaging (SUN), as NXP's AN12196 specifies it: the tag
//! mirrors into its URL its UID and read counter encrypted with the SDM meta-read key
//! (`picc_data`), and a MAC over them under a session key derived from the SDM file-read
//! key (`cmac`). The keys of a station's tags are diversified from one station master key
//! per NXP's AN10922. AES, CMAC and CBC come from RustCrypto's crates; nothing here
//! implements a cipher. [`SoftwareTag`] is a tag in software (the same key schedule and
//! messages), for tests, the demo and the benchmark.

use aes::Aes128;
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use cmac::{Cmac, KeyInit, Mac};
use sha2::{Digest as _, Sha256};
use timebank_engine::model::Tap;

/// An AES-128 key.
pub type Key = [u8; 16];

/// A tag's 7-byte UID.
pub type Uid = [u8; 7];

/// The PICCDataTag of a message that mirrors a 7-byte UID and the read counter (AN12196:
/// bit 7 UID mirrored, bit 6 counter mirrored, low nibble the UID's length).
const PICC_DATA_TAG: u8 = 0xC7;

/// The largest read counter a tag has (24 bits); at it the tag stops answering.
pub const MAX_COUNTER: u32 = 0x00FF_FFFF;

/// What a genuine tap says: which tag, at which read counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TapReading {
    /// The tag's UID.
    pub uid: Uid,
    /// Its read counter at this tap (it moves by one on every read).
    pub counter: u32,
}

/// Why a tap does not verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SunError {
    /// The encrypted part does not decrypt under this station's key: another system's tag,
    /// a tag the station never wrote, or damaged data.
    UnknownKey,
    /// The MAC does not match: the URL was altered, or made without the tag's key.
    BadMac,
}

/// `CMAC(key, data)` (NIST SP 800-38B, RFC 4493).
fn cmac(key: &Key, data: &[u8]) -> [u8; 16] {
    let mut mac = <Cmac<Aes128> as KeyInit>::new(key.into());
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// AN12196's truncation of a CMAC to 8 bytes: the bytes at odd positions (1, 3, ..., 15).
fn truncate(full: &[u8; 16]) -> [u8; 8] {
    let mut out = [0_u8; 8];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = full[2 * i + 1];
    }
    out
}

/// The session vector for the SDM file-read MAC key (AN12196 SV2): `3C C3 00 01 00 80`,
/// the UID and the counter's three bytes, least significant first.
fn session_vector(reading: &TapReading) -> [u8; 16] {
    let mut sv = [0_u8; 16];
    sv[..6].copy_from_slice(&[0x3C, 0xC3, 0x00, 0x01, 0x00, 0x80]);
    sv[6..13].copy_from_slice(&reading.uid);
    sv[13..].copy_from_slice(&reading.counter.to_le_bytes()[..3]);
    sv
}

/// The session MAC key of one tap: `CMAC(file-read key, SV2)`.
pub fn session_mac_key(file_read: &Key, reading: &TapReading) -> Key {
    cmac(file_read, &session_vector(reading))
}

/// The MAC a tag appends to a message whose MAC input is empty (the `cmac` parameter
/// follows `picc_data` directly): `CMAC(session key, "")`, truncated.
pub fn sdm_mac(file_read: &Key, reading: &TapReading) -> [u8; 8] {
    truncate(&cmac(&session_mac_key(file_read, reading), &[]))
}

/// Decrypts `picc_data` (AES-128-CBC, zero IV) with the SDM meta-read key: the UID and
/// counter, when the plaintext has the tag byte of a UID-and-counter message.
pub fn decrypt_picc(meta_read: &Key, picc_data: &[u8; 16]) -> Result<TapReading, SunError> {
    let mut block = *picc_data;
    cbc::Decryptor::<Aes128>::new(meta_read.into(), &[0_u8; 16].into())
        .decrypt_padded::<NoPadding>(&mut block)
        .map_err(|_| SunError::UnknownKey)?;
    if block[0] != PICC_DATA_TAG {
        return Err(SunError::UnknownKey);
    }
    let mut uid = [0_u8; 7];
    uid.copy_from_slice(&block[1..8]);
    let counter = u32::from_le_bytes([block[8], block[9], block[10], 0]);
    Ok(TapReading { uid, counter })
}

/// Whether two MACs are equal, in time that does not depend on where they differ.
fn same_mac(a: &[u8; 8], b: &[u8; 8]) -> bool {
    a.iter().zip(b).fold(0_u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// A station's tag keys: one master key (kept by the relay only), from which every key
/// of every tag of the station is diversified (AN10922), so the store holds one secret per
/// station and a tag's keys can be exported again for rewriting it.
#[derive(Clone)]
pub struct StationKeys {
    master: Key,
    system: [u8; 8],
}

impl std::fmt::Debug for StationKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StationKeys").finish_non_exhaustive()
    }
}

/// Which key of a tag (the tag's key number).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyUse {
    /// Key 0, the application master key: changes the other keys (the writing step).
    Application = 0,
    /// Key 1, SDM meta read: encrypts `picc_data`. One per station, the same on every tag,
    /// since the relay must decrypt before it knows which tag tapped.
    MetaRead = 1,
    /// Key 2, SDM file read: the tap's MAC. Each tag its own.
    FileRead = 2,
}

impl StationKeys {
    /// The keys of a station whose master key is `master`; `station` (its id) is the
    /// diversification's system identifier.
    pub fn new(master: Key, station: &str) -> StationKeys {
        let mut system = [0_u8; 8];
        system.copy_from_slice(&Sha256::digest(station.as_bytes())[..8]);
        StationKeys { master, system }
    }

    /// A key diversified from the master per AN10922 (AES-128): `CMAC(master, 01 || M)`
    /// with `M = UID || key number || system identifier`, 16 bytes. AN10922 pads `01 || M`
    /// to 32 bytes with `80 00 ..` and takes the second subkey, which for 17 to 31 bytes is
    /// exactly what CMAC itself does.
    pub fn diversify(&self, uid: &Uid, key: KeyUse) -> Key {
        let mut input = [0_u8; 17];
        input[0] = 0x01;
        input[1..8].copy_from_slice(uid);
        input[8] = key as u8;
        input[9..].copy_from_slice(&self.system);
        cmac(&self.master, &input)
    }

    /// The station's meta-read key (the same on all its tags).
    pub fn meta_read(&self) -> Key {
        self.diversify(&[0; 7], KeyUse::MetaRead)
    }

    /// Verifies a tap read from a tag: decrypts it with the station's meta-read key and
    /// checks its MAC under that tag's file-read key.
    pub fn verify(&self, tap: &Tap) -> Result<TapReading, SunError> {
        let reading = decrypt_picc(&self.meta_read(), &tap.picc_data)?;
        let expected = sdm_mac(&self.diversify(&reading.uid, KeyUse::FileRead), &reading);
        if same_mac(&expected, &tap.cmac) { Ok(reading) } else { Err(SunError::BadMac) }
    }
}

/// Encrypts a UID and counter as a tag does (AES-128-CBC, zero IV; the plaintext's last
/// five bytes are random on a real tag, fixed here).
fn encrypt_picc(meta_read: &Key, reading: &TapReading) -> [u8; 16] {
    let mut block = [0_u8; 16];
    block[0] = PICC_DATA_TAG;
    block[1..8].copy_from_slice(&reading.uid);
    block[8..11].copy_from_slice(&reading.counter.to_le_bytes()[..3]);
    block[11..].copy_from_slice(&Sha256::digest(reading.counter.to_le_bytes())[..5]);
    let mut out = block;
    // One whole block without padding always fits.
    let _ = cbc::Encryptor::<Aes128>::new(meta_read.into(), &[0_u8; 16].into()).encrypt_padded_b2b::<NoPadding>(&block, &mut out);
    out
}

/// A tag in software: the keys a station wrote to a tag, and its read counter. Each
/// [`SoftwareTag::tap`] moves the counter by one and gives the URL a phone would read.
#[derive(Clone)]
pub struct SoftwareTag {
    uid: Uid,
    meta_read: Key,
    file_read: Key,
    counter: u32,
}

impl std::fmt::Debug for SoftwareTag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftwareTag").field("uid", &hex::encode(self.uid)).field("counter", &self.counter).finish_non_exhaustive()
    }
}

impl SoftwareTag {
    /// The tag `uid` as `station`'s keys write it, read `counter` times so far.
    pub fn new(station: &StationKeys, uid: Uid, counter: u32) -> SoftwareTag {
        SoftwareTag { uid, meta_read: station.meta_read(), file_read: station.diversify(&uid, KeyUse::FileRead), counter }
    }

    /// A tag written with other keys than any station's (a forgery, a tag of another system).
    pub fn foreign(uid: Uid) -> SoftwareTag {
        SoftwareTag { uid, meta_read: [0x5A; 16], file_read: [0xA5; 16], counter: 0 }
    }

    /// Its read counter so far.
    pub fn counter(&self) -> u32 {
        self.counter
    }

    /// Sets the read counter (a tag restored from a copy of an earlier read).
    pub fn set_counter(&mut self, counter: u32) {
        self.counter = counter;
    }

    /// A tap: the counter moves by one and the tag answers with its SUN URL.
    pub fn tap(&mut self) -> String {
        self.counter = (self.counter + 1).min(MAX_COUNTER);
        let reading = TapReading { uid: self.uid, counter: self.counter };
        let tap = Tap { picc_data: encrypt_picc(&self.meta_read, &reading), cmac: sdm_mac(&self.file_read, &reading) };
        tap.url()
    }
}

/// Reads a tag's UID as typed or printed: 14 hex digits, spaces and colons allowed.
pub fn parse_uid(raw: &str) -> Option<Uid> {
    let digits: String = raw.chars().filter(|c| !c.is_whitespace() && *c != ':').collect();
    if digits.len() != 14 || !digits.is_ascii() {
        return None;
    }
    let mut uid = [0_u8; 7];
    hex::decode_to_slice(digits, &mut uid).ok()?;
    Some(uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes<const N: usize>(text: &str) -> [u8; N] {
        let mut out = [0_u8; N];
        hex::decode_to_slice(text, &mut out).unwrap();
        out
    }

    /// AN12196 table 1: the SDM session keys of UID 04C767F2066180 at counter 1 under the
    /// file-read key 5ACE7E50...: SV1 gives the encryption key, SV2 the MAC key.
    #[test]
    fn an12196_session_keys() {
        let key = bytes::<16>("5ACE7E50AB65D5D51FD5BF5A16B8205B");
        let sv1 = bytes::<16>("C33C0001008004C767F2066180010000");
        assert_eq!(hex::encode(cmac(&key, &sv1)), "66da61797e23deca5d8eca13bbadf7a9");
        let reading = TapReading { uid: bytes("04C767F2066180"), counter: 1 };
        assert_eq!(hex::encode(session_vector(&reading)), "3cc30001008004c767f2066180010000");
        assert_eq!(hex::encode(session_mac_key(&key, &reading)), "3a3e8110e05311f7a3fcf0d969bf2b48");
    }

    /// AN12196 tables 2 and 4: with factory (all-zero) keys, `picc_data`
    /// EF963FF7828658A599F3041510671E88 is tag C7, UID 04DE5F1EACC040, counter 61, and its
    /// MAC is 94EED9EE65337086 under the session key 3FB5F6E3...
    #[test]
    fn an12196_picc_data_and_mac() {
        let zero = [0_u8; 16];
        let picc = bytes::<16>("EF963FF7828658A599F3041510671E88");
        let reading = decrypt_picc(&zero, &picc).unwrap();
        assert_eq!((hex::encode(reading.uid).as_str(), reading.counter), ("04de5f1eacc040", 61));
        assert_eq!(hex::encode(session_mac_key(&zero, &reading)), "3fb5f6e3a807a03d5e3570ace393776f");
        assert_eq!(hex::encode(sdm_mac(&zero, &reading)), "94eed9ee65337086");
        // The tag's own encryption of that plaintext is what the note printed.
        let mut plain = bytes::<16>("C704DE5F1EACC0403D0000DA5CF60941");
        let _ = cbc::Encryptor::<Aes128>::new((&zero).into(), &[0_u8; 16].into()).encrypt_padded::<NoPadding>(&mut plain, 16);
        assert_eq!(plain, picc);
        // A different key does not give a UID-and-counter message.
        assert_eq!(decrypt_picc(&[1; 16], &picc), Err(SunError::UnknownKey));
    }

    /// AN10922's AES-128 example: master 00112233...EEFF, M = UID 04782E21801D80, AID
    /// 3042F5, system identifier "NXP Abu": the diversified key A8DD63A3...
    #[test]
    fn an10922_diversification() {
        let master = bytes::<16>("00112233445566778899AABBCCDDEEFF");
        let input = bytes::<18>("0104782E21801D803042F54E585020416275");
        assert_eq!(hex::encode(cmac(&master, &input)), "a8dd63a3b89d54b37ca802473fda9175");
    }

    #[test]
    fn a_software_tag_verifies_and_a_changed_url_does_not() {
        let station = StationKeys::new([7; 16], "s-caoyang");
        let uid = bytes::<7>("04A1B2C3D4E5F6");
        let mut tag = SoftwareTag::new(&station, uid, 41);
        let url = tag.tap();
        let tap = Tap::parse(&url).unwrap();
        assert_eq!(station.verify(&tap), Ok(TapReading { uid, counter: 42 }));
        let mut altered = tap.clone();
        altered.cmac[0] ^= 1;
        assert_eq!(station.verify(&altered), Err(SunError::BadMac));
        let mut scrambled = tap.clone();
        scrambled.picc_data[3] ^= 1;
        assert_eq!(station.verify(&scrambled), Err(SunError::UnknownKey));
        let other_station = StationKeys::new([7; 16], "s-other");
        assert_eq!(other_station.verify(&tap), Err(SunError::UnknownKey));
        let forged = Tap::parse(&SoftwareTag::foreign(uid).tap()).unwrap();
        assert_eq!(station.verify(&forged), Err(SunError::UnknownKey));
        // Each tag has its own MAC key: the MAC of one tag does not fit another's UID.
        let other_tag = station.diversify(&bytes("04000000000001"), KeyUse::FileRead);
        assert_ne!(other_tag, station.diversify(&uid, KeyUse::FileRead));
    }

    #[test]
    fn uids_are_read_as_printed() {
        assert_eq!(parse_uid("04:A1:B2:C3:D4:E5:F6"), Some(bytes("04A1B2C3D4E5F6")));
        assert_eq!(parse_uid("04a1b2c3d4e5f6"), Some(bytes("04A1B2C3D4E5F6")));
        assert_eq!(parse_uid("04a1b2"), None);
        assert_eq!(parse_uid("04a1b2c3d4e5zz"), None);
        assert_eq!(parse_uid("04a1b2c3d4e5é"), None);
    }
}
