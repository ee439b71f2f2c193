//! The administrator's commands (`timebank-relay admin …`): create stations and members
//! with their documents, issue enrollment codes, list and revoke devices, read the
//! security events. They run in their own process on the relay's data directory while
//! the relay serves; the documents' generation counter tells the relay to reload.

use automerge::transaction::CommitOptions;
use automerge::{ActorId, Automerge, AutomergeError};
use chrono::{DateTime, Datelike, Utc};
use clap::Subcommand;
use serde_json::{Value, json};
use timebank_engine::DocId;
use timebank_engine::documents::{self, member, station};
use timebank_engine::model::{
    HouseholdId, MemberId, Profile, Role, StationId, Verification, VisitRules, default_catalogue,
};

use crate::ledger;
use crate::relay::Relay;
use crate::secret;
use crate::store::{
    AuditRecord, DeviceRecord, EnrollmentCode, MemberContact, MemberRecord, Millis, NewDocument, Revocation, SecurityEvent, StationRecord,
    StoreError,
};

/// How long an enrollment code stays valid unless told otherwise.
pub const DEFAULT_CODE_DAYS: u32 = 7;

/// Longest display or station name accepted.
pub const MAX_NAME_CHARS: usize = 100;

/// The `admin` subcommands.
#[derive(Clone, Debug, Subcommand)]
pub enum AdminCommand {
    /// Stations.
    #[command(subcommand)]
    Station(StationCommand),
    /// Members.
    #[command(subcommand)]
    Member(MemberCommand),
    /// Issue a one-time enrollment code for one device of a member.
    EnrollCode {
        /// The member (`m-…`).
        #[arg(long)]
        member: String,
        /// Days until the code expires.
        #[arg(long, default_value_t = DEFAULT_CODE_DAYS)]
        days: u32,
    },
    /// Enrolled devices.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Accounts of the coordinator console.
    #[command(subcommand)]
    ConsoleUser(ConsoleUserCommand),
    /// List the security events (refused tokens, refused changes), oldest first.
    SecurityEvents,
    /// A member's ledger: postings with the running balance, balance, and the outcome of
    /// every visit and request.
    Ledger {
        /// The member (`m-…`).
        #[arg(long)]
        member: String,
    },
    /// Rebuild the ledger from the arrival log in memory and, with `--check`, compare it
    /// with the stored postings and ledger documents; fail on any difference.
    RebuildLedger {
        /// Compare only; change nothing; exit non-zero on any difference.
        #[arg(long)]
        check: bool,
    },
}

/// `admin station …`
#[derive(Clone, Debug, Subcommand)]
pub enum StationCommand {
    /// Create a station with the default catalogue and rules, and its desk.
    Create {
        /// The station's name.
        #[arg(long)]
        name: String,
    },
}

/// `admin member …`
#[derive(Clone, Debug, Subcommand)]
pub enum MemberCommand {
    /// Register a member a coordinator verified in person.
    Create {
        /// Their station (`s-…`).
        #[arg(long)]
        station: String,
        /// volunteer, elder, coordinator or family-proxy.
        #[arg(long)]
        role: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Birth year (YYYY).
        #[arg(long)]
        birth_year: u16,
        /// Household id, for members who live together.
        #[arg(long)]
        household: Option<String>,
        /// In special hardship (verified by the coordinator): may redeem from age 60.
        #[arg(long)]
        hardship: bool,
        /// Phone number (kept in the relay's store only, shown to the station's coordinators).
        #[arg(long)]
        phone: Option<String>,
        /// Last four characters of the identity card number (digits, or a final X).
        #[arg(long)]
        id_last4: Option<String>,
    },
}

/// `admin console-user …`
#[derive(Clone, Debug, Subcommand)]
pub enum ConsoleUserCommand {
    /// Create an account for the coordinator console (password from `--password-stdin`
    /// or asked for).
    Create {
        /// Sign-in name.
        #[arg(long)]
        username: String,
        /// The coordinator's station (`s-…`); leave out with `--district`.
        #[arg(long, required_unless_present = "district", conflicts_with = "district")]
        station: Option<String>,
        /// The coordinator's own member (`m-…`, a coordinator of that station).
        #[arg(long, required_unless_present = "district")]
        member: Option<String>,
        /// The district's read-only account over every station.
        #[arg(long)]
        district: bool,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// The password, filled in by `timebank-relay` from stdin or a prompt (never a flag).
        #[arg(skip)]
        password: Option<String>,
    },
}

/// `admin device …`
#[derive(Clone, Debug, Subcommand)]
pub enum DeviceCommand {
    /// List every enrolled device.
    List,
    /// Revoke a device: its token stops working at once; its data stays.
    Revoke {
        /// The device id (`d-…`), from `admin device list`.
        device: String,
    },
}

/// Why an admin command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The input breaks a rule.
    #[error("{0}")]
    Invalid(String),
    /// Something named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// `rebuild-ledger --check` found differences.
    #[error("the ledger differs from its rebuild:\n{}", .0.join("\n"))]
    LedgerDiffers(Vec<String>),
    /// A document could not be built (a bug, never the operator's doing).
    #[error("could not build document {doc}: {detail}")]
    Document {
        /// The document.
        doc: String,
        /// What failed.
        detail: String,
    },
}

impl From<timebank_engine::Error> for AdminError {
    fn from(error: timebank_engine::Error) -> Self {
        AdminError::Invalid(error.to_string())
    }
}

/// What a command printed: JSON for scripts, text for people.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The `--json` output.
    pub json: Value,
    /// The plain output.
    pub text: String,
}

/// Runs one admin command against `relay`.
pub fn run(relay: &Relay, command: &AdminCommand) -> Result<Report, AdminError> {
    match command {
        AdminCommand::Station(StationCommand::Create { name }) => {
            let station = create_station(relay, name)?;
            Ok(Report {
                json: json!({ "id": station.id.as_str(), "name": station.name }),
                text: format!("created station {} ({})", station.id, station.name),
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
        }) => {
            let new = NewMember {
                station,
                role,
                name,
                birth_year: *birth_year,
                household: household.as_deref(),
                hardship: *hardship,
            };
            let member = register_member(relay, &new, phone.as_deref(), id_last4.as_deref(), None)?;
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
        AdminCommand::EnrollCode { member, days } => {
            let (code, expires_at) = issue_enrollment_code(relay, member, *days)?;
            Ok(Report {
                json: json!({ "code": code, "member": member, "expires_at": time_text(expires_at) }),
                text: format!("enrollment code for {member}: {code} (one device, valid until {})", time_text(expires_at)),
            })
        }
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
            let (revocation, at) = revoke_device(relay, device, None)?;
            match revocation {
                Revocation::AlreadyRevoked { at } => Ok(Report {
                    json: json!({ "id": device, "revoked_at": time_text(at), "already": true }),
                    text: format!("device {device} was already revoked at {}", time_text(at)),
                }),
                Revocation::Revoked | Revocation::UnknownDevice => Ok(Report {
                    json: json!({ "id": device, "revoked_at": time_text(at), "already": false }),
                    text: format!("revoked device {device}; its token no longer syncs (its data stays)"),
                }),
            }
        }
        AdminCommand::ConsoleUser(ConsoleUserCommand::Create { username, station, member, district, password, .. }) => {
            let Some(password) = password else {
                return Err(AdminError::Invalid("no password given: pass it on stdin with --password-stdin".into()));
            };
            let role = match (station, district) {
                (_, true) => None,
                (Some(station), false) => Some(station.as_str()),
                (None, false) => return Err(AdminError::Invalid("give --station S (or --district)".into())),
            };
            let user = crate::console::account::create(relay, username, password, role, member.as_deref())?;
            let what = match &user.role {
                crate::store::ConsoleRole::Coordinator { station } => format!("coordinator of station {station}"),
                crate::store::ConsoleRole::District => "district (read-only, every station)".to_owned(),
            };
            Ok(Report {
                json: json!({ "username": user.username, "station": user.role.station().map(StationId::as_str),
                              "member": user.member.as_ref().map(MemberId::as_str), "district": user.role.station().is_none() }),
                text: format!("created console account {} ({what}); sign in at /console/login", user.username),
            })
        }
        AdminCommand::Ledger { member } => member_ledger(relay, member),
        AdminCommand::RebuildLedger { check } => {
            if !check {
                // Posting from this process while the relay serves would make two writers
                // of the ledger documents under one actor; the relay catches up at start.
                return Err(AdminError::Invalid(
                    "the relay posts by itself (and catches up when it starts); use --check to compare the ledger with its rebuild".into(),
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

/// `admin ledger --member M`: the stored postings of the member's accounts with the
/// running balance, the balance, and the outcomes the member's ledger document shows.
fn member_ledger(relay: &Relay, member: &str) -> Result<Report, AdminError> {
    let member = MemberId::parse(member)?;
    if relay.store().member(&member)?.is_none() {
        return Err(AdminError::NotFound(format!("no member {member}")));
    }
    let statement = ledger::statement::statement(relay.store(), &member)?;
    let (available, reserved) = (statement.available, statement.reserved);
    let mut postings = Vec::new();
    let mut lines = Vec::new();
    for line in &statement.lines {
        let p = &line.posting;
        postings.push(json!({
            "key": p.key, "kind": p.kind, "from": p.debit, "to": p.credit, "minutes": p.minutes,
            "subject": p.subject, "memo": p.memo, "by": p.by, "at": time_text(p.at),
            "available_after": line.available_after, "reserved_after": line.reserved_after,
        }));
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
    let mut text = format!(
        "ledger of {member}: confirmed {} min, reserved {reserved} min, available {available} min",
        available + reserved
    );
    for line in &lines {
        text.push_str(&format!("\n  {line}"));
    }
    for (subject, outcome) in &outcomes {
        let reason = if outcome.reason.is_empty() { String::new() } else { format!(": {}", outcome.reason) };
        text.push_str(&format!("\n  {subject}  {}{reason}", outcome.status));
    }
    Ok(Report {
        json: json!({
            "member": member.as_str(),
            "balance": {
                "confirmed_minutes": available + reserved,
                "reserved_minutes": reserved,
                "available_minutes": available,
            },
            "postings": postings,
            "outcomes": outcomes.iter().map(|(subject, o)| (subject.clone(), json!({
                "status": o.status, "reason": o.reason, "minutes": o.minutes,
            }))).collect::<serde_json::Map<String, Value>>(),
        }),
        text,
    })
}

/// Creates a station: `station/<id>` with the default catalogue and visit rules, and the
/// empty desk `station/<id>/desk`, both written by the relay.
pub fn create_station(relay: &Relay, name: &str) -> Result<StationRecord, AdminError> {
    let name = check_name("station name", name)?;
    let id = StationId::parse(&secret::new_id("s").map_err(|e| AdminError::Invalid(e.to_string()))?)?;
    let now = relay.now_ms();
    let station_doc = DocId::Station(id.clone());
    let desk_doc = DocId::Desk(id.clone());
    let documents = vec![
        build(&station_doc, relay.actor(), now, |doc| {
            station::put_station(doc, &name, &default_catalogue(), &VisitRules::default())
        })?,
        build(&desk_doc, relay.actor(), now, |_| Ok(()))?,
    ];
    let record = StationRecord { id, name, created_at: now };
    relay.store().create_station(&record, &documents)?;
    tracing::info!(station = %record.id, "station created");
    Ok(record)
}

/// A member to register.
#[derive(Clone, Copy, Debug)]
pub struct NewMember<'a> {
    /// Station id.
    pub station: &'a str,
    /// Role, as spelled on the command line.
    pub role: &'a str,
    /// Display name.
    pub name: &'a str,
    /// Birth year.
    pub birth_year: u16,
    /// Household id.
    pub household: Option<&'a str>,
    /// In special hardship (the lower redemption age).
    pub hardship: bool,
}

/// Registers a member without contact details ([`register_member`]).
pub fn create_member(relay: &Relay, new: &NewMember<'_>) -> Result<MemberRecord, AdminError> {
    register_member(relay, new, None, None, None)
}

/// Registers a member: `member/<id>` with the profile (verified: coordinators verify in
/// person before they register anyone) and the empty `ledger/<id>`; the phone number and
/// the last four characters of the identity card stay in the relay's store only. The one
/// way to register someone: `admin member create` and the console both come here. The
/// console's `audit` entry, its target set to the new member's id, is stored with them.
pub fn register_member(
    relay: &Relay,
    new: &NewMember<'_>,
    phone: Option<&str>,
    id_last4: Option<&str>,
    audit: Option<AuditRecord>,
) -> Result<MemberRecord, AdminError> {
    let contact = MemberContact { phone: phone.map(check_phone).transpose()?, id_last4: id_last4.map(check_id_last4).transpose()? };
    let station = StationId::parse(new.station)?;
    if relay.store().station(&station)?.is_none() {
        return Err(AdminError::NotFound(format!(
            "no station {station}; create it first with `timebank-relay admin station create --name NAME`"
        )));
    }
    let role = Role::parse(new.role)?;
    let display_name = check_name("name", new.name)?;
    let now = relay.now_ms();
    let this_year = DateTime::from_timestamp_millis(now).map_or(2100, |t| t.year());
    if !(1900..=this_year).contains(&i32::from(new.birth_year)) {
        return Err(AdminError::Invalid(format!(
            "birth year {} is not plausible; give a year from 1900 to {this_year}",
            new.birth_year
        )));
    }
    let household = new.household.map(HouseholdId::parse).transpose()?;
    let id = MemberId::parse(&secret::new_id("m").map_err(|e| AdminError::Invalid(e.to_string()))?)?;
    let profile = Profile {
        id: id.clone(),
        role,
        station: station.clone(),
        display_name: display_name.clone(),
        birth_year: Some(new.birth_year),
        household: household.clone(),
        verification: Verification::Verified,
    };
    let documents = vec![
        build(&DocId::Member(id.clone()), relay.actor(), now, |doc| member::put_profile(doc, &profile))?,
        build(&DocId::Ledger(id.clone()), relay.actor(), now, |_| Ok(()))?,
    ];
    let record = MemberRecord {
        id,
        station,
        role,
        display_name,
        birth_year: Some(new.birth_year),
        household,
        hardship: new.hardship,
        created_at: now,
    };
    let audit = audit.map(|entry| AuditRecord { target: record.id.to_string(), ..entry });
    relay.store().create_member(&record, &contact, &documents, audit.as_ref())?;
    tracing::info!(member = %record.id, role = record.role.as_str(), "member created");
    Ok(record)
}

/// Revokes a device: its token stops working at once; its data stays. Returns what
/// happened (never [`Revocation::UnknownDevice`]: an unknown device is an error) and when.
/// The console's `audit` entry is stored with the revocation, when it revokes now.
pub fn revoke_device(relay: &Relay, device: &str, audit: Option<AuditRecord>) -> Result<(Revocation, Millis), AdminError> {
    let at = relay.now_ms();
    match relay.store().revoke_device(device, at, audit.as_ref())? {
        Revocation::UnknownDevice => {
            Err(AdminError::NotFound(format!("no device {device}; list them with `timebank-relay admin device list`")))
        }
        done => {
            tracing::info!(device, "device revoked");
            Ok((done, at))
        }
    }
}

/// Issues a one-time code for one device of `member`, valid for `days`, unaudited (the
/// operator's command line, tests): [`issue_audited_enrollment_code`].
pub fn issue_enrollment_code(relay: &Relay, member: &str, days: u32) -> Result<(String, Millis), AdminError> {
    issue_audited_enrollment_code(relay, member, days, None)
}

/// Issues a one-time code for one device of `member`, valid for `days`, with the console's
/// `audit` entry stored in the same transaction. Returns the code (shown once, stored only
/// hashed) and when it expires.
pub fn issue_audited_enrollment_code(
    relay: &Relay,
    member: &str,
    days: u32,
    audit: Option<AuditRecord>,
) -> Result<(String, Millis), AdminError> {
    let member = MemberId::parse(member)?;
    if relay.store().member(&member)?.is_none() {
        return Err(AdminError::NotFound(format!("no member {member}; create it with `timebank-relay admin member create`")));
    }
    if days == 0 || days > 90 {
        return Err(AdminError::Invalid(format!("a code may be valid for 1 to 90 days, not {days}")));
    }
    let code = secret::enrollment_code().map_err(|e| AdminError::Invalid(e.to_string()))?;
    let now = relay.now_ms();
    let expires_at = now + i64::from(days) * 24 * 60 * 60 * 1000;
    let issued = EnrollmentCode { code_hash: secret::hash(&code), member, created_at: now, expires_at };
    relay.store().add_enrollment_code(&issued, audit.as_ref())?;
    Ok((code, expires_at))
}

/// A phone number as typed: digits with spaces, dashes and a leading `+` allowed.
fn check_phone(raw: &str) -> Result<String, AdminError> {
    let phone = raw.trim();
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    let allowed = phone.chars().enumerate().all(|(i, c)| c.is_ascii_digit() || c == ' ' || c == '-' || (c == '+' && i == 0));
    if !allowed || !(5..=15).contains(&digits) {
        return Err(AdminError::Invalid(format!(
            "the phone number {raw:?} is not usable: give 5 to 15 digits (spaces, dashes and a leading + allowed)"
        )));
    }
    Ok(phone.to_owned())
}

/// The last four characters of a Chinese identity card number: three digits and a digit or X.
fn check_id_last4(raw: &str) -> Result<String, AdminError> {
    let last4 = raw.trim().to_uppercase();
    let chars: Vec<char> = last4.chars().collect();
    let ok = chars.len() == 4 && chars[..3].iter().all(char::is_ascii_digit) && (chars[3].is_ascii_digit() || chars[3] == 'X');
    if !ok {
        return Err(AdminError::Invalid(format!(
            "the last four of the ID number {raw:?} are not usable: give four characters, digits with perhaps a final X"
        )));
    }
    Ok(last4)
}

fn check_name(what: &str, raw: &str) -> Result<String, AdminError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(AdminError::Invalid(format!(
            "the {what} {raw:?} is not usable: give 1 to {MAX_NAME_CHARS} characters without control characters"
        )));
    }
    Ok(name.to_owned())
}

/// A new document: the engine's genesis, then `edit` as one change by the relay.
fn build(
    id: &DocId,
    actor: &ActorId,
    now: Millis,
    edit: impl FnOnce(&mut automerge::transaction::Transaction<'_>) -> Result<(), AutomergeError>,
) -> Result<NewDocument, AdminError> {
    let failed = |detail: String| AdminError::Document { doc: id.to_string(), detail };
    let mut doc: Automerge = documents::genesis(id, actor.clone()).map_err(|e| failed(e.to_string()))?;
    doc.transact_with(|_| CommitOptions::default().with_time(now), |tx| edit(tx))
        .map_err(|failure| failed(failure.error.to_string()))?;
    Ok(NewDocument { id: id.to_string(), snapshot: doc.save() })
}

fn time_text(at: Millis) -> String {
    DateTime::<Utc>::from_timestamp_millis(at).map_or_else(|| at.to_string(), |t| t.to_rfc3339())
}

fn member_json(member: &MemberRecord) -> Value {
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

fn device_json(device: &DeviceRecord) -> Value {
    json!({
        "id": device.id,
        "member": device.member.as_str(),
        "actor": device.actor,
        "created_at": time_text(device.created_at),
        "revoked_at": device.revoked_at.map(time_text),
    })
}

fn device_line(device: &DeviceRecord) -> String {
    let state = device.revoked_at.map_or_else(|| "active".to_owned(), |at| format!("revoked {}", time_text(at)));
    format!(
        "{}  member {}  actor {}  enrolled {}  {state}",
        device.id,
        device.member,
        device.actor,
        time_text(device.created_at)
    )
}

fn event_json(event: &SecurityEvent) -> Value {
    json!({
        "at": time_text(event.at),
        "device": event.device,
        "member": event.member,
        "doc": event.doc,
        "reason": event.reason,
    })
}

fn event_line(event: &SecurityEvent) -> String {
    let mut line = time_text(event.at);
    for (label, value) in [("device", &event.device), ("member", &event.member), ("doc", &event.doc)] {
        if let Some(value) = value {
            line.push_str(&format!("  {label} {value}"));
        }
    }
    line.push_str(&format!("  {}", event.reason));
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::ReadDoc;
    use std::sync::Arc;
    use timebank_engine::SystemClock;

    use crate::store::SqliteStore;

    fn relay(dir: &std::path::Path) -> Relay {
        Relay::new(Arc::new(SqliteStore::open(dir).unwrap()), Arc::new(SystemClock)).unwrap()
    }

    fn load(relay: &Relay, id: &str) -> Automerge {
        Automerge::load(&relay.store().document(id).unwrap().unwrap().bytes).unwrap()
    }

    #[test]
    fn a_station_gets_its_catalogue_rules_and_desk() {
        let dir = tempfile::tempdir().unwrap();
        let relay = relay(dir.path());
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

    #[test]
    fn a_member_gets_a_verified_profile_and_a_ledger() {
        let dir = tempfile::tempdir().unwrap();
        let relay = relay(dir.path());
        let station = create_station(&relay, "Caoyang").unwrap();
        let new = NewMember {
            station: station.id.as_str(),
            role: "elder",
            name: "Wang Fang",
            birth_year: 1941,
            household: Some("h-12"),
            hardship: false,
        };
        let member = create_member(&relay, &new).unwrap();
        let doc = load(&relay, &format!("member/{}", member.id));
        let profile = member::profile(&doc).unwrap();
        assert_eq!(profile.verification, Verification::Verified);
        assert_eq!((profile.role, profile.birth_year, profile.display_name.as_str()), (Role::Elder, Some(1941), "Wang Fang"));
        assert_eq!(profile.household.as_ref().map(HouseholdId::as_str), Some("h-12"));
        assert!(relay.store().document(&format!("ledger/{}", member.id)).unwrap().is_some());
        assert_eq!(relay.store().member(&member.id).unwrap().unwrap(), member);
    }

    #[test]
    fn bad_member_input_is_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let relay = relay(dir.path());
        let station = create_station(&relay, "Caoyang").unwrap();
        let good =
            NewMember { station: station.id.as_str(), role: "volunteer", name: "Li", birth_year: 1990, household: None, hardship: false };
        let cases = [
            (NewMember { station: "s-nowhere", ..good }, "no station s-nowhere"),
            (NewMember { role: "boss", ..good }, "is not a role"),
            (NewMember { name: " ", ..good }, "name"),
            (NewMember { birth_year: 1800, ..good }, "birth year 1800"),
            (NewMember { household: Some("H 1"), ..good }, "household"),
        ];
        for (input, expected) in cases {
            let err = create_member(&relay, &input).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
        }
        for (phone, last4, expected) in
            [("12ab", "1234", "phone number"), ("123", "1234", "phone number"), ("13800001234", "12X4", "last four")]
        {
            let err = register_member(&relay, &good, Some(phone), Some(last4), None).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
        }
        assert!(relay.store().station_members(&station.id).unwrap().is_empty());
    }

    #[test]
    fn codes_are_issued_for_known_members_only() {
        let dir = tempfile::tempdir().unwrap();
        let relay = relay(dir.path());
        let err = issue_enrollment_code(&relay, "m-ghost", 7).unwrap_err();
        assert!(matches!(err, AdminError::NotFound(_)), "{err}");
        let report = run(&relay, &AdminCommand::Device(DeviceCommand::Revoke { device: "d-none".into() })).unwrap_err();
        assert!(report.to_string().contains("no device d-none"));
    }
}
