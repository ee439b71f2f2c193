//! Identifiers of members, stations, visits, orders and requests, validated at the edge
//! and kept inline (ids are short: copying one allocates nothing).

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use smol_str::SmolStr;

use crate::error::Error;

/// Longest id accepted anywhere.
pub const MAX_ID_LEN: usize = 64;

/// Whether `raw` has the id syntax shared by every kind: 1 to 64 characters of lowercase
/// ASCII letters, digits, `-` and `_`, starting with a letter or digit.
pub fn is_id(raw: &str) -> bool {
    let starts_well = raw.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let chars_ok = raw.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    raw.len() <= MAX_ID_LEN && starts_well && chars_ok
}

/// Checks the id syntax ([`is_id`]).
fn validate(kind: &str, raw: &str) -> Result<(), Error> {
    if is_id(raw) {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{raw:?} is not a valid {kind} id: use 1 to {MAX_ID_LEN} lowercase letters, digits, '-' or '_' (for example \"e-1024\")"
        )))
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(SmolStr);

        impl $name {
            /// Parses and validates an id typed by a user or read from a document.
            pub fn parse(raw: &str) -> Result<Self, Error> {
                validate($kind, raw)?;
                Ok(Self(SmolStr::new(raw)))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(raw: &str) -> Result<Self, Error> {
                Self::parse(raw)
            }
        }

        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(raw: String) -> Result<Self, Error> {
                validate($kind, &raw)?;
                Ok(Self(SmolStr::from(raw)))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0.into()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_str(IdVisitor { kind: $kind }).map(Self)
            }
        }
    };
}

/// Reads an id of one kind from the text a decoder lends (no string of its own on the
/// way), checking its syntax ([`is_id`]).
struct IdVisitor {
    kind: &'static str,
}

impl serde::de::Visitor<'_> for IdVisitor {
    type Value = SmolStr;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a {} id", self.kind)
    }

    fn visit_str<E: serde::de::Error>(self, raw: &str) -> Result<SmolStr, E> {
        validate(self.kind, raw).map_err(E::custom)?;
        Ok(SmolStr::new(raw))
    }
}

id_type!(
    /// A member of the time bank: volunteer, elder, coordinator or family proxy.
    MemberId,
    "member"
);
id_type!(
    /// A street or town service station (街镇服务站点).
    StationId,
    "station"
);
id_type!(
    /// A district (区): the civil-affairs bureau's area, holding stations; districts make
    /// up the city.
    DistrictId,
    "district"
);
id_type!(
    /// One visit (a service given), created by the volunteer's device.
    VisitId,
    "visit"
);
id_type!(
    /// One order (点单), created by an elder, a family proxy or a coordinator.
    OrderId,
    "order"
);
id_type!(
    /// A redemption or gift request.
    RequestId,
    "request"
);
id_type!(
    /// A household: members who live together (for gift and self-dealing rules).
    HouseholdId,
    "household"
);

/// A fresh id for records created on this device (visits, orders, requests): the second
/// it is made (since the epoch) then 46 random bits (what makes it unique), in base 36 at
/// a fixed width of 7 and 9 digits: `v-` and 16 characters, as short as the random ids
/// before. Ids made later sort later: the relay's indexes keyed by them (the arrival log's
/// keys, the postings', the documents' record maps) take a sync's new records side by side
/// at their end, not scattered over the whole index (ADR 58). A phone with a wrong clock
/// still makes unique ids; they only sort out of place.
pub(crate) fn new_record_id(prefix: &str) -> String {
    const TIME_DIGITS: u32 = 7;
    const RANDOM_DIGITS: u32 = 9;
    let seconds = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs());
    let random = uuid::Uuid::new_v4().as_u64_pair().0 % 36_u64.pow(RANDOM_DIGITS);
    let mut id = String::with_capacity(prefix.len() + 1 + (TIME_DIGITS + RANDOM_DIGITS) as usize);
    id.push_str(prefix);
    id.push('-');
    push_base36(&mut id, seconds.min(36_u64.pow(TIME_DIGITS) - 1), TIME_DIGITS);
    push_base36(&mut id, random, RANDOM_DIGITS);
    id
}

/// Appends `n` in base 36 (`0-9a-z`, so text order is number order), zero-padded to `digits`.
fn push_base36(out: &mut String, mut n: u64, digits: u32) {
    let mut buf = [b'0'; 16];
    for slot in buf[..digits as usize].iter_mut().rev() {
        let digit = (n % 36) as u8;
        *slot = if digit < 10 { b'0' + digit } else { b'a' + digit - 10 };
        n /= 36;
    }
    out.extend(buf[..digits as usize].iter().map(|&b| char::from(b)));
}

impl VisitId {
    /// A new, globally unique visit id.
    pub fn generate() -> Self {
        Self(new_record_id("v").into())
    }
}

impl OrderId {
    /// A new, globally unique order id.
    pub fn generate() -> Self {
        Self(new_record_id("o").into())
    }
}

impl RequestId {
    /// A new, globally unique request id.
    pub fn generate() -> Self {
        Self(new_record_id("r").into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_ids() {
        for ok in ["e-1024", "v-3f2a", "station_7", "9"] {
            assert!(MemberId::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_malformed_ids_with_the_kind_named() {
        for bad in ["", "E-1024", "-x", "e 1", "张三", &"a".repeat(65), "e/1"] {
            let err = MemberId::parse(bad).expect_err(bad).to_string();
            assert!(err.contains("not a valid member id"), "{err}");
        }
    }

    #[test]
    fn ids_read_and_write_as_plain_strings_and_are_checked_when_read() {
        // Short and long (kept out of line past 23 bytes): the same text either way.
        for raw in ["m-1", &format!("m-{}", "x".repeat(62))] {
            let id = MemberId::parse(raw).unwrap();
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(json, format!("\"{raw}\""));
            assert_eq!(serde_json::from_str::<MemberId>(&json).unwrap(), id);
            assert_eq!(String::from(id.clone()), raw);
            assert_eq!(postcard::from_bytes::<MemberId>(&postcard::to_allocvec(&id).unwrap()).unwrap(), id);
        }
        let bad = serde_json::from_str::<StationId>("\"S-1\"").unwrap_err().to_string();
        assert!(bad.contains("not a valid station id"), "{bad}");
        let not_text = serde_json::from_str::<StationId>("12").unwrap_err().to_string();
        assert!(not_text.contains("expected a station id"), "{not_text}");
    }

    #[test]
    fn generated_ids_are_valid_and_distinct() {
        let a = VisitId::generate();
        let b = VisitId::generate();
        assert_ne!(a, b);
        assert!(VisitId::parse(a.as_str()).is_ok());
        assert!(OrderId::parse(OrderId::generate().as_str()).is_ok());
        assert!(RequestId::parse(RequestId::generate().as_str()).is_ok());
    }

    #[test]
    fn base36_digits_sort_as_their_numbers() {
        let written = |n: u64| {
            let mut out = String::new();
            push_base36(&mut out, n, 7);
            out
        };
        assert_eq!(written(0), "0000000");
        assert_eq!(written(35), "000000z");
        assert_eq!(written(36), "0000010");
        assert_eq!(written(36_u64.pow(7) - 1), "zzzzzzz");
        let numbers = [0, 9, 10, 35, 36, 1_000, 1_764_950_400, 36_u64.pow(7) - 1];
        for pair in numbers.windows(2) {
            assert!(written(pair[0]) < written(pair[1]), "{} < {}", pair[0], pair[1]);
        }
    }

    /// An id made later sorts after one made earlier, whatever their random parts.
    #[test]
    fn generated_ids_sort_by_when_they_were_made() {
        let earlier: Vec<VisitId> = (0..50).map(|_| VisitId::generate()).collect();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let later: Vec<VisitId> = (0..50).map(|_| VisitId::generate()).collect();
        for (e, l) in earlier.iter().zip(&later) {
            assert!(e.as_str() < l.as_str(), "{e} was made before {l}");
            assert_eq!(e.as_str().len(), 18, "fixed width, so text order is time order");
        }
    }
}
