//! Stations: the record and its two documents, `station/<id>` and the desk.

use timebank_engine::DocId;
use timebank_engine::documents::station;
use timebank_engine::model::{StationId, VisitRules, default_catalogue};

use super::district::existing_district;
use super::{RegistryError, build, check_name};
use crate::relay::Relay;
use crate::secret;
use crate::store::{DEFAULT_DISTRICT, StationRecord};

/// Creates a station in the default district ([`create_station_in`]).
pub fn create_station(relay: &Relay, name: &str) -> Result<StationRecord, RegistryError> {
    create_station_in(relay, name, DEFAULT_DISTRICT)
}

/// Creates a station in `district`: `station/<id>` with the default catalogue and visit
/// rules, and the empty desk `station/<id>/desk`, both written by the relay.
pub fn create_station_in(relay: &Relay, name: &str, district: &str) -> Result<StationRecord, RegistryError> {
    let name = check_name("station name", name)?;
    let district = existing_district(relay, district)?;
    let id = StationId::parse(&secret::new_id("s")?)?;
    let now = relay.now_ms();
    let station_doc = DocId::Station(id.clone());
    let desk_doc = DocId::Desk(id.clone());
    let documents = vec![
        build(&station_doc, relay.actor(), now, |doc| station::put_station(doc, &name, &default_catalogue(), &VisitRules::default()))?,
        build(&desk_doc, relay.actor(), now, |_| Ok(()))?,
    ];
    let record = StationRecord { id, name, district, created_at: now };
    relay.store().create_station(&record, &documents)?;
    tracing::info!(station = %record.id, "station created");
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::{ActorId, Automerge, ReadDoc as _};
    use timebank_engine::documents;

    use crate::registry::test_relay;

    fn load(relay: &Relay, id: &str) -> Automerge {
        Automerge::load(&relay.store().document(id).unwrap().unwrap().bytes).unwrap()
    }

    #[test]
    fn a_station_gets_its_catalogue_rules_and_desk() {
        let dir = tempfile::tempdir().unwrap();
        let relay = test_relay(dir.path());
        let station = create_station(&relay, " Caoyang ").unwrap();
        assert!(station.id.as_str().starts_with("s-"));
        assert_eq!(station.name, "Caoyang");
        let doc = load(&relay, &format!("station/{}", station.id));
        assert_eq!(station::name(&doc).as_deref(), Some("Caoyang"));
        let ids = |services: Vec<timebank_engine::model::Service>| {
            let mut ids: Vec<String> = services.into_iter().map(|s| s.id).collect();
            ids.sort();
            ids
        };
        assert_eq!(ids(station::catalogue(&doc)), ids(default_catalogue()));
        // Written into the document, not the engine's fallback for an empty catalogue.
        let written = timebank_engine::documents::fields::entries(&doc, &automerge::ROOT, station::CATALOGUE);
        assert_eq!(written.len(), default_catalogue().len());
        assert_eq!(station::visit_rules(&doc), VisitRules::default());
        let desk = load(&relay, &format!("station/{}/desk", station.id));
        assert!(desk.get(automerge::ROOT, "directory").unwrap().is_some());
        // The genesis change is the engine's: identical to what a device would make.
        let genesis = documents::genesis(&DocId::Desk(station.id.clone()), ActorId::random()).unwrap();
        assert_eq!(desk.get_heads(), genesis.get_heads());
    }
}
