//! What an admin command prints: JSON for scripts, text for people, from the same records.

use automerge::Automerge;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use timebank_engine::DocId;
use timebank_engine::model::{HouseholdId, MemberId};

use super::AdminError;
use crate::ledger;
use crate::relay::Relay;
use crate::store::{DeviceRecord, MemberRecord, Millis, SecurityEvent};

/// What a command printed: JSON for scripts, text for people.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The `--json` output.
    pub json: Value,
    /// The plain output.
    pub text: String,
}

/// `admin ledger --member M`: the stored postings of the member's accounts with the
/// running balance, the balance, and the outcomes the member's ledger document shows.
pub(super) fn member_ledger(relay: &Relay, member: &str) -> Result<Report, AdminError> {
    let member = MemberId::parse(member)?;
    if relay.store().member(&member)?.is_none() {
        return Err(AdminError::Refused(format!("no member {member}")));
    }
    let statement = ledger::statement::statement(relay.store(), &member)?;
    let (available, reserved) = (statement.available, statement.reserved);
    let mut lines = Vec::new();
    for line in &statement.lines {
        let p = &line.posting;
        lines.push(format!(
            "{}  {:<9} {:>+6} min  available {}  {}  {}",
            time_text(p.at),
            p.kind,
            line.change,
            line.available_after,
            p.subject,
            p.memo
        ));
    }
    let doc = relay
        .store()
        .document(&DocId::Ledger(member.clone()).to_string())?
        .map(|stored| Automerge::load(&stored.bytes))
        .transpose()
        .map_err(|e| AdminError::Document { doc: format!("ledger/{member}"), detail: e.to_string() })?;
    let outcomes = doc.as_ref().map(timebank_engine::documents::ledger::outcomes).unwrap_or_default();
    let mut text =
        format!("ledger of {member}: confirmed {} min, reserved {reserved} min, available {available} min", available + reserved);
    for line in &lines {
        text.push_str(&format!("\n  {line}"));
    }
    for (subject, outcome) in &outcomes {
        let reason = if outcome.reason.is_empty() { String::new() } else { format!(": {}", outcome.reason) };
        text.push_str(&format!("\n  {subject}  {}{reason}", outcome.status));
    }
    Ok(Report { json: ledger::statement::to_json(&member, &statement, &outcomes), text })
}

pub(super) fn time_text(at: Millis) -> String {
    DateTime::<Utc>::from_timestamp_millis(at).map_or_else(|| at.to_string(), |t| t.to_rfc3339())
}

pub(super) fn member_json(member: &MemberRecord) -> Value {
    json!({
        "id": member.id.as_str(),
        "station": member.station.as_str(),
        "role": member.role.as_str(),
        "name": member.display_name,
        "birth_year": member.birth_year,
        "household": member.household.as_ref().map(HouseholdId::as_str),
        "hardship": member.hardship,
    })
}

pub(super) fn device_json(device: &DeviceRecord) -> Value {
    json!({
        "id": device.id,
        "member": device.member.as_str(),
        "actor": device.actor,
        "created_at": time_text(device.created_at),
        "revoked_at": device.revoked_at.map(time_text),
    })
}

pub(super) fn device_line(device: &DeviceRecord) -> String {
    let state = device.revoked_at.map_or_else(|| "active".to_owned(), |at| format!("revoked {}", time_text(at)));
    format!("{}  member {}  actor {}  enrolled {}  {state}", device.id, device.member, device.actor, time_text(device.created_at))
}

pub(super) fn event_json(event: &SecurityEvent) -> Value {
    json!({
        "at": time_text(event.at),
        "device": event.device,
        "member": event.member,
        "doc": event.doc,
        "reason": event.reason,
    })
}

pub(super) fn event_line(event: &SecurityEvent) -> String {
    let mut line = time_text(event.at);
    for (label, value) in [("device", &event.device), ("member", &event.member), ("doc", &event.doc)] {
        if let Some(value) = value {
            line.push_str(&format!("  {label} {value}"));
        }
    }
    line.push_str(&format!("  {}", event.reason));
    line
}
