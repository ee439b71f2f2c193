//! How every backend writes what the records hold in columns: acknowledged heads as
//! concatenated 32-byte hashes, the relay's secrets as hex, console roles by name.

use automerge::ChangeHash;
use timebank_engine::model::{DistrictId, StationId};

use crate::store::ConsoleRole;

/// Heads as one blob: their 32-byte hashes in order.
pub(crate) fn heads_blob(heads: &[ChangeHash]) -> Vec<u8> {
    heads.iter().flat_map(|h| h.0).collect()
}

/// Heads from [`heads_blob`]'s blob.
pub(crate) fn heads_from_blob(blob: &[u8]) -> Vec<ChangeHash> {
    blob.chunks_exact(32).filter_map(|h| ChangeHash::try_from(h).ok()).collect()
}

/// `N` bytes from their hex text (as `hex::encode` writes it).
pub(crate) fn from_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let mut out = [0_u8; N];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

/// A console role's stored name (the station and the district are columns of their own).
pub(crate) fn console_role_name(role: &ConsoleRole) -> &'static str {
    match role {
        ConsoleRole::Coordinator { .. } => "coordinator",
        ConsoleRole::District { .. } => "district",
        ConsoleRole::City => "city",
    }
}

/// The console role stored as `name` with `station` and `district`.
pub(crate) fn console_role(name: &str, station: Option<StationId>, district: Option<DistrictId>) -> Result<ConsoleRole, String> {
    match (name, station, district) {
        ("coordinator", Some(station), None) => Ok(ConsoleRole::Coordinator { station }),
        ("district", None, Some(district)) => Ok(ConsoleRole::District { district }),
        ("city", None, None) => Ok(ConsoleRole::City),
        (other, _, _) => Err(format!("{other:?} with that station and district is not a role")),
    }
}
