//! The `station/<id>` document: name, service catalogue, visit rules and public notices.

use automerge::transaction::Transactable;
use automerge::{AutomergeError, ROOT, ReadDoc};

use crate::documents::fields::{entries, map_at, record, str_at, u64_at};
use crate::model::{Service, ServiceKind, VerifiedVisits, VisitRules, default_catalogue};

/// Map of service id → catalogue entry.
pub const CATALOGUE: &str = "catalogue";
/// Map of rule name → value.
pub const RULES: &str = "rules";
/// Map of notice id → notice.
pub const NOTICES: &str = "notices";

/// Writes the station's name, catalogue and rules (a coordinator's device or the relay).
pub fn put_station(tx: &mut impl Transactable, name: &str, catalogue: &[Service], rules: &VisitRules) -> Result<(), AutomergeError> {
    tx.put(ROOT, "name", name)?;
    for service in catalogue {
        let obj = record(tx, &ROOT, CATALOGUE, &service.id)?;
        tx.put(&obj, "name_zh", service.name_zh.as_str())?;
        tx.put(&obj, "name_en", service.name_en.as_str())?;
        tx.put(&obj, "kind", service.kind.as_str())?;
    }
    let rules_obj = map_at(tx, &ROOT, RULES).map_or_else(|| tx.put_object(ROOT, RULES, automerge::ObjType::Map), Ok)?;
    tx.put(&rules_obj, "max_visit_minutes", u64::from(rules.max_visit_minutes))?;
    tx.put(&rules_obj, "clock_skew_minutes", u64::from(rules.clock_skew_minutes))?;
    tx.put(&rules_obj, "late_submission_days", u64::from(rules.late_submission_days))?;
    tx.put(&rules_obj, "backdate_tolerance_minutes", u64::from(rules.backdate_tolerance_minutes))
}

/// The station's name, if set.
pub fn name(doc: &impl ReadDoc) -> Option<String> {
    str_at(doc, &ROOT, "name")
}

/// The station's catalogue; the default catalogue while the document has none.
pub fn catalogue(doc: &impl ReadDoc) -> Vec<Service> {
    let mut services: Vec<Service> =
        entries(doc, &ROOT, CATALOGUE).iter().filter_map(|(id, obj)| read_service(doc, id, obj)).collect();
    if services.is_empty() {
        services = default_catalogue();
    }
    services
}

/// The service `id` as the station's document lists it, reading that one entry; `None` if
/// the document does not list it whole (the catalogue may then be the default one: read
/// [`catalogue`]).
pub fn listed_service(doc: &impl ReadDoc, id: &str) -> Option<Service> {
    let listed = map_at(doc, &ROOT, CATALOGUE)?;
    read_service(doc, id, &map_at(doc, &listed, id)?)
}

fn read_service(doc: &impl ReadDoc, id: &str, obj: &automerge::ObjId) -> Option<Service> {
    Some(Service {
        id: id.to_owned(),
        name_zh: str_at(doc, obj, "name_zh").unwrap_or_default(),
        name_en: str_at(doc, obj, "name_en").unwrap_or_default(),
        kind: ServiceKind::parse(&str_at(doc, obj, "kind")?)?,
    })
}

/// The station's visit rules; defaults for any rule not set.
pub fn visit_rules(doc: &impl ReadDoc) -> VisitRules {
    let defaults = VisitRules::default();
    let Some(obj) = map_at(doc, &ROOT, RULES) else { return defaults };
    let get = |key: &str, default: u32| u64_at(doc, &obj, key).and_then(|v| u32::try_from(v).ok()).unwrap_or(default);
    VisitRules {
        max_visit_minutes: get("max_visit_minutes", defaults.max_visit_minutes),
        clock_skew_minutes: get("clock_skew_minutes", defaults.clock_skew_minutes),
        late_submission_days: get("late_submission_days", defaults.late_submission_days),
        backdate_tolerance_minutes: get("backdate_tolerance_minutes", defaults.backdate_tolerance_minutes),
    }
}

/// The rule's key in [`RULES`]: what verified visits get.
pub const VERIFIED_VISITS: &str = "verified_visits";

/// Writes what the station does with verified visits (a coordinator's device or the console).
pub fn put_verified_visits(tx: &mut impl Transactable, rule: VerifiedVisits) -> Result<(), AutomergeError> {
    let rules_obj = map_at(tx, &ROOT, RULES).map_or_else(|| tx.put_object(ROOT, RULES, automerge::ObjType::Map), Ok)?;
    tx.put(&rules_obj, VERIFIED_VISITS, rule.as_str())
}

/// What the station does with verified visits; into the queue while not set (or set to a
/// spelling this build does not know).
pub fn verified_visits(doc: &impl ReadDoc) -> VerifiedVisits {
    map_at(doc, &ROOT, RULES)
        .and_then(|obj| str_at(doc, &obj, VERIFIED_VISITS))
        .and_then(|raw| VerifiedVisits::parse(&raw))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use automerge::{Automerge, transaction::Transactable as _};

    use super::*;

    fn station_with(catalogue: &[Service]) -> Automerge {
        let mut doc = Automerge::new();
        doc.transact::<_, _, AutomergeError>(|tx| put_station(tx, "Changfeng", catalogue, &VisitRules::default())).unwrap();
        doc
    }

    #[test]
    fn one_listed_service_reads_as_the_catalogue_lists_it() {
        let mut listed = default_catalogue();
        listed.truncate(2);
        let doc = station_with(&listed);
        for service in &listed {
            assert_eq!(listed_service(&doc, &service.id).as_ref(), Some(service));
            assert!(catalogue(&doc).contains(service));
        }
        let unlisted = &default_catalogue()[2];
        assert_eq!(listed_service(&doc, &unlisted.id), None, "listed nowhere in this station");
        assert!(!catalogue(&doc).contains(unlisted));
    }

    #[test]
    fn a_station_without_a_catalogue_lists_no_service_and_offers_the_default_ones() {
        let mut doc = Automerge::new();
        doc.transact::<_, _, AutomergeError>(|tx| tx.put(ROOT, "name", "Changfeng").map(|_| ())).unwrap();
        let first = &default_catalogue()[0];
        assert_eq!(listed_service(&doc, &first.id), None);
        assert_eq!(catalogue(&doc), default_catalogue());
    }
}
