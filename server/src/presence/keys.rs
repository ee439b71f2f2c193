//! A station's tag keys, from its master key: 32 random bytes the relay keeps as one of its
//! secrets in the store (made the first time they are asked for, the same ever after),
//! never in a document, never on a phone.

use timebank_engine::model::StationId;

use crate::presence::sun::StationKeys;
use crate::secret;
use crate::store::{RelayStore, StoreError, StoreResult};

/// The name under which the store keeps a station's tag master key.
pub fn master_key_name(station: &StationId) -> String {
    format!("tag-master:{station}")
}

/// A station's tag keys.
pub fn station_keys(store: &dyn RelayStore, station: &StationId) -> StoreResult<StationKeys> {
    let fresh = secret::random_bytes::<32>().map_err(|e| StoreError::Backend(e.to_string()))?;
    let secret = store.relay_secret(&master_key_name(station), &fresh)?;
    let mut master = [0_u8; 16];
    master.copy_from_slice(&secret[..16]);
    Ok(StationKeys::new(master, station.as_str()))
}
