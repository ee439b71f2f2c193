//! A member's personal information (ADR 0034): [`export_member`], everything the program
//! holds about them, for an access request; [`erase_contact`], their contact details
//! erased from the register when they leave (their coins and history stay). The `admin
//! member` commands and the console's member page both call these.

use std::collections::BTreeMap;

use automerge::Automerge;
use chrono::DateTime;
use serde_json::{Value, json};
use timebank_engine::DocId;
use timebank_engine::documents::{desk, ledger as ledger_doc, member};
use timebank_engine::model::MemberId;

use super::RegistryError;
use crate::desk::StationDocs;
use crate::ledger::{collect, statement};
use crate::relay::Relay;
use crate::store::{AuditRecord, MemberRecord, Millis};

/// The version of the export's layout: a field is only ever added, and a change of
/// meaning gets a new number.
pub const EXPORT_FORMAT: u32 = 1;

fn time(at: Millis) -> String {
    DateTime::from_timestamp_millis(at).map_or_else(|| at.to_string(), |t| t.to_rfc3339())
}

fn member_of(relay: &Relay, raw: &str) -> Result<MemberRecord, RegistryError> {
    let id = MemberId::parse(raw)?;
    relay.store().member(&id)?.ok_or_else(|| RegistryError::NotFound(format!("no member {id}")))
}

/// Everything the program holds about member `raw`, as JSON: the register (record, contact
/// details, devices with the public key each registered for co-signing, an elder's NFC
/// tags), what the station's documents record about them (their profile, the
/// visits they logged or received, orders, dispatches, requests, the coordinators'
/// reviews and decisions on them, at every station they belonged to), their ledger
/// (postings, balance, outcomes), their moves between stations, and the audit entries and
/// security events that name them.
pub fn export_member(relay: &Relay, raw: &str) -> Result<Value, RegistryError> {
    let record = member_of(relay, raw)?;
    let id = &record.id;
    let store = relay.store();
    let contact = store.member_contact(id)?;
    let devices: Vec<Value> = store
        .devices()?
        .into_iter()
        .filter(|d| &d.member == id)
        .map(|d| {
            let signing_key = d.signing_key.map(hex::encode);
            json!({ "id": d.id, "enrolled_at": time(d.created_at), "revoked_at": d.revoked_at.map(time), "signing_key": signing_key })
        })
        .collect();
    let tags: Vec<Value> = store
        .station_tags(&record.station)?
        .into_iter()
        .filter(|t| &t.elder == id)
        .map(|t| json!({ "uid": t.uid, "registered_at": time(t.registered_at), "revoked_at": t.revoked_at.map(time), "revoked_why": t.revoked_why }))
        .collect();
    let docs = StationDocs::load(relay, &record.station).map_err(|e| RegistryError::Invalid(e.to_string()))?;
    let own = docs.get(&DocId::Member(id.clone()));
    // The stations they belonged to (ADR 42): their desks and audit trails hold them too,
    // the present station's first.
    let moves = collect::member_moves(store, id)?;
    let mut stations = vec![record.station.clone()];
    for moved in &moves {
        if !stations.contains(&moved.from) {
            stations.push(moved.from.clone());
        }
    }
    let desk_ids: Vec<DocId> = stations.iter().map(|s| DocId::Desk(s.clone())).collect();
    let desks = relay.documents(&desk_ids)?;
    let desks: Vec<&Automerge> = desk_ids.iter().filter_map(|d| desks.get(d)).collect();

    let visits: Vec<_> = docs.visits().into_iter().filter(|v| &v.volunteer == id || &v.elder == id).collect();
    let reviews: BTreeMap<String, desk::Review> =
        visits.iter().filter_map(|v| Some((v.id.to_string(), desks.iter().find_map(|d| desk::review(*d, &v.id))?))).collect();
    let orders: Vec<_> = docs
        .orders()
        .into_iter()
        .map(|(order, _)| order)
        .filter(|o| &o.elder == id || &o.requested_by == id || o.dispatched_to.as_ref() == Some(id))
        .collect();
    let assignments: Vec<_> = docs
        .members
        .iter()
        .filter_map(|m| docs.get(&DocId::Member(m.id.clone())))
        .flat_map(member::assignments)
        .filter(|a| &a.elder == id || own.is_some_and(|doc| member::assignments(doc).contains(a)))
        .collect();
    let requests = own.map(member::requests).unwrap_or_default();
    let decisions: BTreeMap<String, desk::Decision> =
        requests.iter().filter_map(|r| Some((r.id.to_string(), desks.iter().find_map(|d| desk::decision(*d, &r.id))?))).collect();
    let outcomes = docs.get(&DocId::Ledger(id.clone())).map(ledger_doc::outcomes).unwrap_or_default();
    let ledger = statement::to_json(id, &statement::statement(store, id)?, &outcomes);
    let mut entries = Vec::new();
    for station in &stations {
        entries.extend(store.audit_entries(Some(station), usize::MAX)?.into_iter().filter(|e| e.target == id.as_str()));
    }
    // Newest first, as each station's trail; a move is audited at both stations: once here.
    entries.sort_by_key(|e| std::cmp::Reverse(e.at));
    let mut seen = std::collections::BTreeSet::new();
    entries.retain(|e| seen.insert((e.at, e.action.clone(), e.detail.clone(), e.username.clone())));
    let audit: Vec<Value> =
        entries.iter().map(|e| json!({ "at": time(e.at), "by": e.username, "action": e.action, "detail": e.detail })).collect();
    let moves: Vec<Value> = moves.iter().map(|m| json!({ "from": m.from.as_str(), "to": m.to.as_str(), "at": time(m.at) })).collect();
    let security_events: Vec<Value> = store
        .security_events()?
        .into_iter()
        .filter(|e| e.member.as_deref() == Some(id.as_str()))
        .map(|e| json!({ "at": time(e.at), "device": e.device, "doc": e.doc, "reason": e.reason }))
        .collect();
    Ok(json!({
        "format": EXPORT_FORMAT,
        "exported_at": time(relay.now_ms()),
        "member": {
            "id": id.as_str(),
            "station": record.station.as_str(),
            "role": record.role.as_str(),
            "name": record.display_name,
            "birth_year": record.birth_year,
            "household": record.household.as_ref().map(|h| h.as_str()),
            "hardship": record.hardship,
            "registered_at": time(record.created_at),
        },
        "contact": { "phone": contact.phone, "id_last4": contact.id_last4, "address": contact.address },
        "devices": devices,
        "tags": tags,
        "profile": own.and_then(member::profile),
        "visits": visits,
        "reviews": reviews,
        "orders": orders,
        "assignments": assignments,
        "requests": requests,
        "decisions": decisions,
        "ledger": ledger,
        "moves": moves,
        "audit": audit,
        "security_events": security_events,
    }))
}

/// Erases the contact details (phone, identity card digits, address) of member `raw`, who leaves:
/// from the register, with `audit` in the same transaction. Their documents hold no contact
/// details (they never did: ADR 0034), and their coins, visits and history stay. `audit`
/// makes the entry from the member's record. Returns the member and whether there was
/// anything to erase.
pub fn erase_contact(
    relay: &Relay,
    raw: &str,
    audit: impl FnOnce(&MemberRecord) -> Option<AuditRecord>,
) -> Result<(MemberRecord, bool), RegistryError> {
    let record = member_of(relay, raw)?;
    let erased = relay.store().erase_member_contact(&record.id, audit(&record).as_ref())?;
    tracing::info!(member = %record.id, erased, "contact details erased");
    Ok((record, erased))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{NewContact, NewMember, create_station, register_member, test_relay};

    #[test]
    fn the_export_holds_the_register_and_an_erasure_leaves_the_member() {
        let dir = tempfile::tempdir().unwrap();
        let relay = test_relay(dir.path());
        let station = create_station(&relay, "Caoyang").unwrap();
        let new = NewMember {
            station: station.id.as_str(),
            role: "elder",
            name: "王芳",
            birth_year: 1941,
            household: None,
            hardship: false,
        };
        let contact =
            NewContact { phone: Some("139 1234 5678"), id_last4: Some("123X"), address: Some("曹杨新村 12 号 301 室") };
        let elder = register_member(&relay, &new, &contact, None).unwrap();
        let export = export_member(&relay, elder.id.as_str()).unwrap();
        assert_eq!(export["format"], EXPORT_FORMAT);
        assert_eq!(export["member"]["name"], "王芳");
        assert_eq!(export["contact"]["phone"], "139 1234 5678");
        assert_eq!(export["contact"]["address"], "曹杨新村 12 号 301 室");
        assert_eq!(export["profile"]["display_name"], "王芳");
        assert_eq!(export["ledger"]["balance"]["confirmed_minutes"], 0);

        let (_, erased) = erase_contact(&relay, elder.id.as_str(), |_| None).unwrap();
        assert!(erased);
        let after = export_member(&relay, elder.id.as_str()).unwrap();
        assert_eq!(after["contact"], json!({ "phone": null, "id_last4": null, "address": null }));
        assert_eq!(after["member"], export["member"], "the member and their history stay");
        assert!(!erase_contact(&relay, elder.id.as_str(), |_| None).unwrap().1, "nothing left to erase");
        assert!(matches!(export_member(&relay, "m-ghost"), Err(RegistryError::NotFound(_))));
    }
}
