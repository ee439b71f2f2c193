//! The administrator's command line (`timebank-relay admin …`): parses the subcommands
//! ([`command`]), calls the registration service ([`crate::registry`]) or reads the store
//! and the ledger, and prints the answer as JSON for scripts or text for people
//! ([`report`]). It runs in its own process on the relay's data directory while the relay
//! serves; the documents' generation counter tells the relay to reload.

mod backup;
mod command;
mod report;
mod tag;

use serde_json::{Value, json};
use timebank_engine::model::{DistrictId, MemberId, StationId};

pub use command::{AdminCommand, ConsoleUserCommand, DeviceCommand, DistrictCommand, MemberCommand, StationCommand, TagCommand};
pub use report::Report;

use crate::console::audit::AuditAction;
use crate::ledger;
use crate::registry::{self, AccountScope, NewMember, RegistryError};
use crate::relay::Relay;
use crate::store::{AuditRecord, ConsoleRole, Revocation, StoreError, StoreLocation};

/// Who the audit trail names for what an administrator did on the command line.
pub const ADMIN: &str = "admin (command line)";
use report::{device_json, device_line, event_json, event_line, member_json, member_ledger, time_text};

/// Why an admin command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The registry refused or failed (the message says why).
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The command cannot run as given: a flag is missing, or what it names does not
    /// exist (the message says what to give instead).
    #[error("{0}")]
    Refused(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// `rebuild-ledger --check` found differences.
    #[error("the ledger differs from its rebuild:\n{}", .0.join("\n"))]
    LedgerDiffers(Vec<String>),
    /// A stored document could not be read.
    #[error("could not read document {doc}: {detail}")]
    Document {
        /// The document.
        doc: String,
        /// What failed.
        detail: String,
    },
}

impl From<timebank_engine::Error> for AdminError {
    fn from(error: timebank_engine::Error) -> Self {
        AdminError::Refused(error.to_string())
    }
}

/// How long a command reading the ledger waits for the serving relay to fold what it
/// logged (it folds right after each sync and stores how far it folded within half a
/// second, unless it is down, when it catches up at its next start).
const LEDGER_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Waits until the ledger has folded every event logged (by any relay process on this
/// store) before the command started, or warns that it is behind.
fn wait_for_ledger(relay: &Relay) -> Result<(), AdminError> {
    let start = std::time::Instant::now();
    let logged = relay.store().ledger_progress()?.logged;
    loop {
        let progress = relay.store().ledger_progress()?;
        if progress.folded >= logged {
            return Ok(());
        }
        if start.elapsed() >= LEDGER_WAIT {
            tracing::warn!(
                behind = logged - progress.folded,
                "the ledger has not folded every event logged (is the relay running? it catches up when it starts)"
            );
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Runs the commands that work on the store's file rather than through a relay (backup,
/// restore) on the store at `location`; `None` for every other command. A PostgreSQL
/// store is backed up with the database's own tools.
pub fn run_on_store(location: &StoreLocation, command: &AdminCommand) -> Option<Result<Report, AdminError>> {
    let refused = || {
        Err(AdminError::Refused(
            "the store is a PostgreSQL database: back it up with pg_dump (or pg_basebackup with WAL archiving) and restore it with \
             pg_restore into an empty database (server/README.md, \"Back up\")"
                .into(),
        ))
    };
    match (command, location) {
        (AdminCommand::Backup { to }, StoreLocation::Sqlite(data)) => Some(backup::backup(data, to)),
        (AdminCommand::Restore { from }, StoreLocation::Sqlite(data)) => Some(backup::restore(from, data)),
        (AdminCommand::Backup { .. } | AdminCommand::Restore { .. }, StoreLocation::Postgres(_)) => Some(refused()),
        _ => None,
    }
}

/// Runs one admin command against `relay`.
pub fn run(relay: &Relay, command: &AdminCommand) -> Result<Report, AdminError> {
    // What this relay committed is folded into the ledger before a command reads it.
    relay.settle();
    match command {
        AdminCommand::District(DistrictCommand::Create { name }) => {
            let district = registry::create_district(relay, name)?;
            Ok(Report {
                json: json!({ "id": district.id.as_str(), "name": district.name }),
                text: format!("created district {} ({})", district.id, district.name),
            })
        }
        AdminCommand::District(DistrictCommand::List) => district_list(relay),
        AdminCommand::Station(StationCommand::Create { name, district }) => {
            let station = match district {
                Some(district) => registry::create_station_in(relay, name, district)?,
                None => registry::create_station(relay, name)?,
            };
            Ok(Report {
                json: json!({ "id": station.id.as_str(), "name": station.name, "district": station.district.as_str() }),
                text: format!("created station {} ({}) in district {}", station.id, station.name, station.district),
            })
        }
        AdminCommand::Station(StationCommand::Move { station, district }) => {
            let station = registry::move_station(relay, station, district)?;
            Ok(Report {
                json: json!({ "id": station.id.as_str(), "name": station.name, "district": station.district.as_str() }),
                text: format!("station {} ({}) is now in district {}", station.id, station.name, station.district),
            })
        }
        AdminCommand::Member(MemberCommand::Create {
            station,
            role,
            name,
            birth_year,
            household,
            hardship,
            phone,
            id_last4,
            address,
        }) => {
            let new = NewMember { station, role, name, birth_year: *birth_year, household: household.as_deref(), hardship: *hardship };
            let contact = registry::NewContact { phone: phone.as_deref(), id_last4: id_last4.as_deref(), address: address.as_deref() };
            let member = registry::register_member(relay, &new, &contact, None)?;
            Ok(Report {
                json: member_json(&member),
                text: format!(
                    "created {} {} ({}) at station {}",
                    member.role.as_str(),
                    member.id,
                    member.display_name,
                    member.station
                ),
            })
        }
        AdminCommand::Member(MemberCommand::Export { member }) => {
            wait_for_ledger(relay)?;
            let export = registry::export_member(relay, member)?;
            // The export is JSON for people too: pretty-printed.
            let text = serde_json::to_string_pretty(&export).map_err(|e| AdminError::Refused(e.to_string()))?;
            Ok(Report { json: export, text })
        }
        AdminCommand::Member(MemberCommand::Move { member, to }) => {
            let transfer = registry::move_member(relay, member, to, |_| {
                Some(AuditRecord {
                    at: relay.now_ms(),
                    username: ADMIN.to_owned(),
                    station: None,
                    action: AuditAction::MemberMove.as_str().to_owned(),
                    target: String::new(),
                    detail: String::new(),
                })
            })?;
            let balance = ledger::statement::statement(relay.store(), &transfer.member)?;
            Ok(Report {
                json: json!({ "member": transfer.member.as_str(), "move": transfer.ordinal, "from": transfer.from.as_str(),
                              "to": transfer.to.as_str(), "at": time_text(transfer.at),
                              "available_minutes": balance.available, "reserved_minutes": balance.reserved }),
                text: format!(
                    "moved {} from station {} to {}; their {} min and their history go with them",
                    transfer.member,
                    transfer.from,
                    transfer.to,
                    balance.confirmed(),
                ),
            })
        }
        AdminCommand::Member(MemberCommand::EraseContact { member }) => {
            let (record, erased) = registry::erase_contact(relay, member, |record| {
                Some(AuditRecord {
                    at: relay.now_ms(),
                    username: ADMIN.to_owned(),
                    station: Some(record.station.clone()),
                    action: AuditAction::MemberEraseContact.as_str().to_owned(),
                    target: record.id.to_string(),
                    detail: String::new(),
                })
            })?;
            let text = if erased {
                format!("erased the contact details of {} ({}); their coins and history stay", record.id, record.display_name)
            } else {
                format!("{} ({}) had no contact details recorded; nothing was erased", record.id, record.display_name)
            };
            Ok(Report { json: json!({ "member": record.id.as_str(), "erased": erased }), text })
        }
        AdminCommand::EnrollCode { member, days } => {
            let (code, expires_at) = registry::issue_enrollment_code(relay, member, *days)?;
            Ok(Report {
                json: json!({ "code": code, "member": member, "expires_at": time_text(expires_at) }),
                text: format!("enrollment code for {member}: {code} (one device, valid until {})", time_text(expires_at)),
            })
        }
        AdminCommand::Tag(command) => tag::run(relay, command),
        AdminCommand::Device(DeviceCommand::List) => {
            let devices = relay.store().devices()?;
            let text = if devices.is_empty() {
                "no devices are enrolled".to_owned()
            } else {
                devices.iter().map(device_line).collect::<Vec<_>>().join("\n")
            };
            Ok(Report { json: Value::Array(devices.iter().map(device_json).collect()), text })
        }
        AdminCommand::Device(DeviceCommand::Revoke { device }) => {
            let (revocation, at) = registry::revoke_device(relay, device, None)?;
            match revocation {
                Revocation::AlreadyRevoked { at } => Ok(Report {
                    json: json!({ "id": device, "revoked_at": time_text(at), "already": true }),
                    text: format!("device {device} was already revoked at {}", time_text(at)),
                }),
                Revocation::Revoked | Revocation::Unknown => Ok(Report {
                    json: json!({ "id": device, "revoked_at": time_text(at), "already": false }),
                    text: format!("revoked device {device}; its token no longer syncs (its data stays)"),
                }),
            }
        }
        AdminCommand::ConsoleUser(ConsoleUserCommand::Create { username, station, member, district, city, password, .. }) => {
            let Some(password) = password else {
                return Err(AdminError::Refused("no password given: pass it on stdin with --password-stdin".into()));
            };
            let scope = match (station, district, city) {
                (Some(station), None, false) => AccountScope::Station(station),
                (None, Some(district), false) => AccountScope::District(district),
                (None, None, true) => AccountScope::City,
                _ => return Err(AdminError::Refused("give one of --station S, --district Q or --city".into())),
            };
            let user = registry::create_console_user(relay, username, password, scope, member.as_deref())?;
            let what = match &user.role {
                ConsoleRole::Coordinator { station } => format!("coordinator of station {station}"),
                ConsoleRole::District { district } => format!("district {district} (read-only, its stations)"),
                ConsoleRole::City => "city (read-only, every station)".to_owned(),
            };
            Ok(Report {
                json: json!({ "username": user.username, "station": user.role.station().map(StationId::as_str),
                              "member": user.member.as_ref().map(MemberId::as_str),
                              "district": user.role.district().map(DistrictId::as_str), "city": user.role == ConsoleRole::City }),
                text: format!("created console account {} ({what}); sign in at /console/login", user.username),
            })
        }
        AdminCommand::Ledger { member } => {
            wait_for_ledger(relay)?;
            member_ledger(relay, member)
        }
        AdminCommand::RebuildLedger { check } => {
            wait_for_ledger(relay)?;
            if !check {
                // Posting from this process while the relay serves would make two writers
                // of the ledger documents under one actor; the relay catches up at start.
                return Err(AdminError::Refused(
                    "the relay posts by itself (and catches up when it starts); use --check to compare the ledger with its rebuild"
                        .into(),
                ));
            }
            let differences = ledger::rebuild::rebuild_check(relay.store())?;
            if !differences.is_empty() {
                return Err(AdminError::LedgerDiffers(differences));
            }
            let postings = relay.store().postings()?.len();
            let events = relay.store().ledger_events(0)?.len();
            Ok(Report {
                json: json!({ "identical": true, "postings": postings, "events": events }),
                text: format!("the ledger is identical to its rebuild from {events} events ({postings} postings)"),
            })
        }
        AdminCommand::Backup { .. } | AdminCommand::Restore { .. } => Err(AdminError::Refused(
            "backup and restore work on the store's file, not through a relay: run them with run_on_store".into(),
        )),
        AdminCommand::SecurityEvents => {
            let events = relay.store().security_events()?;
            let text = if events.is_empty() {
                "no security events".to_owned()
            } else {
                events.iter().map(event_line).collect::<Vec<_>>().join("\n")
            };
            Ok(Report { json: Value::Array(events.iter().map(event_json).collect()), text })
        }
    }
}

/// `admin district list`: each district with its stations.
fn district_list(relay: &Relay) -> Result<Report, AdminError> {
    let stations = relay.store().stations()?;
    let mut json = Vec::new();
    let mut text = Vec::new();
    for district in relay.store().districts()? {
        let own: Vec<_> = stations.iter().filter(|s| s.district == district.id).collect();
        json.push(json!({ "id": district.id.as_str(), "name": district.name,
                          "stations": own.iter().map(|s| json!({ "id": s.id.as_str(), "name": s.name })).collect::<Vec<_>>() }));
        let names: Vec<String> = own.iter().map(|s| format!("{} ({})", s.id, s.name)).collect();
        let listed = if names.is_empty() { "no stations".to_owned() } else { names.join(", ") };
        text.push(format!("{} ({}): {listed}", district.id, district.name));
    }
    Ok(Report { json: Value::Array(json), text: text.join("\n") })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use crate::store::SqliteStore;

    #[test]
    fn revoking_an_unknown_device_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let relay = Relay::new(Arc::new(SqliteStore::open(dir.path()).unwrap()), Arc::new(timebank_engine::SystemClock)).unwrap();
        let report = run(&relay, &AdminCommand::Device(DeviceCommand::Revoke { device: "d-none".into() })).unwrap_err();
        assert!(report.to_string().contains("no device d-none"));
    }
}
