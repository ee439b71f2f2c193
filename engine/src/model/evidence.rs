//! Proof of presence a volunteer's phone keeps with a visit (ADR 29, 30): the taps of the
//! elder's NFC tag at check-in and check-out (NTAG 424 DNA SUN messages, which only the
//! relay can verify), and the co-signature of the elder's (or a household proxy's) own
//! phone over the visit's summary, exchanged offline as QR codes or text.

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::model::ids::{MemberId, VisitId};

/// The query parameter of a SUN URL carrying the encrypted UID and counter (AN12196's
/// name; `e` is accepted as well, the short form many tags are written with).
const PICC_PARAMS: [&str; 2] = ["picc_data", "e"];
/// The query parameter carrying the message's MAC (`c` accepted as well).
const MAC_PARAMS: [&str; 2] = ["cmac", "c"];

/// Characters of a stored tap (`picc_data:cmac` in hex).
pub const TAP_CHARS: usize = 32 + 1 + 16;

/// Most characters of a device (actor) id a co-signature names.
const MAX_DEVICE_CHARS: usize = 64;

/// Most characters of a co-signature's text: the tag, the visit and signer ids, the
/// device, the public key and the signature in hex, and the five separators.
pub const MAX_COSIGNATURE_CHARS: usize = 4 + 2 * crate::model::ids::MAX_ID_LEN + MAX_DEVICE_CHARS + 64 + 128 + 5;

/// The URL a station writes onto its tags: a phone reads it, nobody opens it.
pub const TAG_URL: &str = "https://timebank.invalid/tap";

/// One tap of an elder's tag: what the tag's SUN URL carries. Serialised in its stored form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Tap {
    /// The UID and read counter, encrypted with the station's meta-read key.
    pub picc_data: [u8; 16],
    /// The MAC over them, with the tag's own key (truncated to 8 bytes).
    pub cmac: [u8; 8],
}

/// `N` bytes from their hex text.
fn unhex<const N: usize>(raw: &str) -> Option<[u8; N]> {
    let mut out = [0_u8; N];
    hex::decode_to_slice(raw, &mut out).ok()?;
    Some(out)
}

impl Tap {
    /// Reads the URL a phone read from the tag (or just its query: `picc_data=…&cmac=…`).
    pub fn parse(url: &str) -> Result<Tap, Error> {
        let query = url.trim().rsplit_once('?').map_or(url.trim(), |(_, q)| q);
        let param = |names: [&str; 2]| {
            form_urlencoded::parse(query.as_bytes()).find(|(k, _)| names.contains(&k.as_ref())).map(|(_, v)| v.into_owned())
        };
        let bad = || {
            Error::invalid(
                "that is not the tag's link: it must carry picc_data (32 hex digits) and cmac (16); hold the phone to the elder's card again",
            )
        };
        let picc_data = param(PICC_PARAMS).and_then(|v| unhex::<16>(&v)).ok_or_else(bad)?;
        let cmac = param(MAC_PARAMS).and_then(|v| unhex::<8>(&v)).ok_or_else(bad)?;
        Ok(Tap { picc_data, cmac })
    }

    /// The URL a tag with this message shows.
    pub fn url(&self) -> String {
        format!("{TAG_URL}?picc_data={}&cmac={}", hex::encode_upper(self.picc_data), hex::encode_upper(self.cmac))
    }

    /// The stored form: both parts in hex, `picc_data:cmac` (49 characters).
    pub fn stored(&self) -> String {
        format!("{}:{}", hex::encode(self.picc_data), hex::encode(self.cmac))
    }

    /// Reads the stored form; `None` if it is not one.
    pub fn from_stored(raw: &str) -> Option<Tap> {
        let (picc, mac) = raw.split_once(':')?;
        Some(Tap { picc_data: unhex(picc)?, cmac: unhex(mac)? })
    }
}

impl From<Tap> for String {
    fn from(tap: Tap) -> String {
        tap.stored()
    }
}

impl TryFrom<String> for Tap {
    type Error = String;

    fn try_from(raw: String) -> Result<Tap, String> {
        Tap::from_stored(&raw).ok_or_else(|| format!("{raw:?} is not a stored tap (picc_data:cmac in hex)"))
    }
}

impl From<CoSignature> for String {
    fn from(signature: CoSignature) -> String {
        signature.text()
    }
}

impl TryFrom<String> for CoSignature {
    type Error = String;

    fn try_from(raw: String) -> Result<CoSignature, String> {
        CoSignature::parse(&raw).map_err(|e| e.to_string())
    }
}

/// What a station does with visits whose presence the relay verified at both ends (ADR 30),
/// set by its coordinators in `station/<id>` (`rules.verified_visits`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VerifiedVisits {
    /// Into the review queue like any other visit.
    #[default]
    Queue,
    /// Into the queue, where they may be approved together in one step.
    Bulk,
    /// Approved by the relay without a coordinator, unless another rule holds them
    /// (an anomaly: overlaps, lateness, length, the phone's clock); caps still apply.
    Auto,
}

impl VerifiedVisits {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            VerifiedVisits::Queue => "queue",
            VerifiedVisits::Bulk => "bulk",
            VerifiedVisits::Auto => "auto",
        }
    }

    /// Reads the stored or typed spelling.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "queue" => Some(VerifiedVisits::Queue),
            "bulk" => Some(VerifiedVisits::Bulk),
            "auto" => Some(VerifiedVisits::Auto),
            _ => None,
        }
    }
}

/// Which end of a visit a tap proves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VisitEnd {
    /// The check-in.
    CheckIn,
    /// The check-out.
    CheckOut,
}

/// What the elder's phone signs: the visit as the volunteer's phone logged it. Shown on the
/// volunteer's phone as a QR code (or text) for the elder's phone to read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitSummary {
    /// The visit.
    pub visit: VisitId,
    /// Who served.
    pub volunteer: MemberId,
    /// Who was served.
    pub elder: MemberId,
    /// Check-in, ms since the epoch.
    pub check_in: i64,
    /// Check-out, ms since the epoch.
    pub check_out: i64,
}

/// The first field of a summary's text: its format.
const SUMMARY_TAG: &str = "TBV1";
/// The first field of a co-signature's text.
const SIGNATURE_TAG: &str = "TBS1";

impl VisitSummary {
    /// The text form (what the QR code holds and what is signed):
    /// `TBV1|visit|volunteer|elder|check-in ms|check-out ms`.
    pub fn text(&self) -> String {
        format!("{SUMMARY_TAG}|{}|{}|{}|{}|{}", self.visit, self.volunteer, self.elder, self.check_in, self.check_out)
    }

    /// Reads the text form.
    pub fn parse(text: &str) -> Result<VisitSummary, Error> {
        let bad = || Error::invalid("that is not a visit summary from a volunteer's phone (TBV1|…); scan the volunteer's code again");
        let parts: Vec<&str> = text.trim().split('|').collect();
        let [tag, visit, volunteer, elder, check_in, check_out] = parts.as_slice() else { return Err(bad()) };
        if *tag != SUMMARY_TAG {
            return Err(bad());
        }
        Ok(VisitSummary {
            visit: VisitId::parse(visit).map_err(|_| bad())?,
            volunteer: MemberId::parse(volunteer).map_err(|_| bad())?,
            elder: MemberId::parse(elder).map_err(|_| bad())?,
            check_in: check_in.parse().map_err(|_| bad())?,
            check_out: check_out.parse().map_err(|_| bad())?,
        })
    }
}

/// An elder's (or household proxy's) phone's signature over a [`VisitSummary`], with the
/// device key it signed with: the volunteer's phone checks it fits the visit, the relay
/// that the key is the one that phone registered at enrollment. Serialised as its text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct CoSignature {
    /// The visit signed.
    pub visit: VisitId,
    /// The member whose phone signed (the elder, or a proxy of their household).
    pub signer: MemberId,
    /// That phone's device (automerge actor, hex).
    pub device: String,
    /// Its Ed25519 public key.
    pub public_key: [u8; 32],
    /// The signature over the summary's text.
    pub signature: [u8; 64],
}

impl CoSignature {
    /// The text form (what the elder's phone shows back, and what the visit stores):
    /// `TBS1|visit|signer|device|public key hex|signature hex`.
    pub fn text(&self) -> String {
        format!(
            "{SIGNATURE_TAG}|{}|{}|{}|{}|{}",
            self.visit,
            self.signer,
            self.device,
            hex::encode(self.public_key),
            hex::encode(self.signature)
        )
    }

    /// Reads the text form.
    pub fn parse(text: &str) -> Result<CoSignature, Error> {
        let bad = || Error::invalid("that is not a co-signature from the elder's phone (TBS1|…); scan the elder's code again");
        let parts: Vec<&str> = text.trim().split('|').collect();
        let [tag, visit, signer, device, key, signature] = parts.as_slice() else { return Err(bad()) };
        let device_ok = !device.is_empty() && device.len() <= MAX_DEVICE_CHARS && device.chars().all(|c| c.is_ascii_hexdigit());
        if *tag != SIGNATURE_TAG || !device_ok {
            return Err(bad());
        }
        let signature: [u8; 64] = unhex(signature).ok_or_else(bad)?;
        Ok(CoSignature {
            visit: VisitId::parse(visit).map_err(|_| bad())?,
            signer: MemberId::parse(signer).map_err(|_| bad())?,
            device: device.to_ascii_lowercase(),
            public_key: unhex(key).ok_or_else(bad)?,
            signature,
        })
    }

    /// Whether the signature is over `summary` by the key it names.
    pub fn signs(&self, summary: &VisitSummary) -> bool {
        crate::signing::verify(&self.public_key, summary.text().as_bytes(), &self.signature)
    }
}

/// The evidence a visit carries, as the volunteer's phone stored it (unverified: only the
/// relay can tell whether it holds).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The tap at check-in.
    pub tap_in: Option<Tap>,
    /// The tap at check-out.
    pub tap_out: Option<Tap>,
    /// The elder's phone's co-signature.
    pub cosignature: Option<CoSignature>,
}

impl Evidence {
    /// Whether the visit carries none.
    pub fn is_empty(&self) -> bool {
        self.tap_in.is_none() && self.tap_out.is_none() && self.cosignature.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_links_are_read_in_both_spellings_and_refused_when_broken() {
        let tap = Tap::parse("https://x.invalid/t?picc_data=EF963FF7828658A599F3041510671E88&cmac=94EED9EE65337086").unwrap();
        assert_eq!(tap.stored(), "ef963ff7828658a599f3041510671e88:94eed9ee65337086");
        assert_eq!(Tap::parse("e=EF963FF7828658A599F3041510671E88&c=94EED9EE65337086").ok(), Some(tap.clone()));
        assert_eq!(Tap::parse(&tap.url()).ok(), Some(tap.clone()));
        assert_eq!(Tap::from_stored(&tap.stored()), Some(tap));
        for broken in ["", "https://x.invalid/t", "picc_data=EF96&cmac=94EED9EE65337086", "picc_data=EF963FF7828658A599F3041510671E88"]
        {
            let refused = Tap::parse(broken).unwrap_err();
            assert!(refused.to_string().contains("not the tag's link"), "{broken}: {refused}");
        }
        assert_eq!(Tap::from_stored("zz:yy"), None);
    }

    #[test]
    fn summaries_and_signatures_read_back_and_refuse_other_text() {
        let summary = VisitSummary {
            visit: VisitId::parse("v-1").unwrap(),
            volunteer: MemberId::parse("m-v").unwrap(),
            elder: MemberId::parse("m-e").unwrap(),
            check_in: 1,
            check_out: 3_600_001,
        };
        assert_eq!(summary.text(), "TBV1|v-1|m-v|m-e|1|3600001");
        assert_eq!(VisitSummary::parse(&summary.text()).ok(), Some(summary));
        assert!(VisitSummary::parse("TBV1|v-1|m-v").is_err());
        assert!(VisitSummary::parse("TBV2|v-1|m-v|m-e|1|2").is_err());
        let signature = CoSignature {
            visit: VisitId::parse("v-1").unwrap(),
            signer: MemberId::parse("m-e").unwrap(),
            device: "ab12".into(),
            public_key: [3; 32],
            signature: [4; 64],
        };
        assert_eq!(CoSignature::parse(&signature.text()).ok(), Some(signature.clone()));
        let refused = CoSignature::parse(&signature.text().replace("|ab12|", "|not hex|")).unwrap_err();
        assert!(refused.to_string().contains("not a co-signature"), "{refused}");
        assert!(CoSignature::parse("TBS1|v-1").is_err());
    }
}
