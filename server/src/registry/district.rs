//! Districts (区) and the city: creating a district and moving a station into one.

use timebank_engine::model::{DistrictId, StationId};

use super::{RegistryError, check_name};
use crate::relay::Relay;
use crate::secret;
use crate::store::{DistrictRecord, StationRecord, StoreError};

/// Creates a district (its id `q-…`), empty until stations are created in or moved to it.
pub fn create_district(relay: &Relay, name: &str) -> Result<DistrictRecord, RegistryError> {
    let name = check_name("district name", name)?;
    let id = DistrictId::parse(&secret::new_id("q")?)?;
    let record = DistrictRecord { id, name, created_at: relay.now_ms() };
    relay.store().create_district(&record)?;
    tracing::info!(district = %record.id, "district created");
    Ok(record)
}

/// The district `raw` names, if it exists.
pub(crate) fn existing_district(relay: &Relay, raw: &str) -> Result<DistrictId, RegistryError> {
    let id = DistrictId::parse(raw.trim())?;
    if relay.store().districts()?.iter().any(|d| d.id == id) {
        Ok(id)
    } else {
        Err(RegistryError::NotFound(format!("no district {id}; `admin district list` shows them")))
    }
}

/// Moves a station into another district. Its members, documents and ledger stay as
/// they are: only who reads it changes (the district's accounts, its figures).
pub fn move_station(relay: &Relay, station: &str, district: &str) -> Result<StationRecord, RegistryError> {
    let station = StationId::parse(station.trim())?;
    let district = existing_district(relay, district)?;
    relay.store().move_station(&station, &district).map_err(|e| match e {
        StoreError::Missing { what: "station", id } => RegistryError::NotFound(format!("no station {id}")),
        other => RegistryError::Store(other),
    })?;
    tracing::info!(station = %station, district = %district, "station moved");
    relay.store().station(&station)?.ok_or_else(|| RegistryError::NotFound(format!("no station {station}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{create_station, create_station_in, test_relay};
    use crate::store::DEFAULT_DISTRICT;

    #[test]
    fn a_station_moves_into_a_new_district_and_a_bad_name_or_id_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let relay = test_relay(dir.path());
        let station = create_station(&relay, "Caoyang").unwrap();
        assert_eq!(station.district.as_str(), DEFAULT_DISTRICT, "without a district, the default one");
        let putuo = create_district(&relay, " 普陀区 ").unwrap();
        assert!(putuo.id.as_str().starts_with("q-"));
        assert_eq!(putuo.name, "普陀区");
        let err = create_district(&relay, "  ").unwrap_err();
        assert!(err.to_string().contains("district name"), "{err}");

        let moved = move_station(&relay, station.id.as_str(), putuo.id.as_str()).unwrap();
        assert_eq!(moved.district, putuo.id);
        let err = move_station(&relay, station.id.as_str(), "q-none").unwrap_err();
        assert!(err.to_string().contains("no district q-none"), "{err}");
        let err = move_station(&relay, "s-none", putuo.id.as_str()).unwrap_err();
        assert!(err.to_string().contains("no station s-none"), "{err}");
        assert_eq!(relay.store().station(&station.id).unwrap().unwrap().district, putuo.id);

        let ganquan = create_station_in(&relay, "Ganquan", putuo.id.as_str()).unwrap();
        assert_eq!(ganquan.district, putuo.id);
        let err = create_station_in(&relay, "Lost", "q-none").unwrap_err();
        assert!(err.to_string().contains("no district q-none"), "{err}");
        assert_eq!(relay.store().stations().unwrap().len(), 2, "the refused station was not created");
    }
}
