//! Members: the record (with the contact details kept on the relay only), the verified
//! profile in `member/<id>` and the empty `ledger/<id>`.

use chrono::{DateTime, Datelike as _};
use timebank_engine::DocId;
use timebank_engine::documents::member;
use timebank_engine::model::{HouseholdId, MemberId, Profile, Role, StationId, Verification};

use super::{RegistryError, build, check_name};
use crate::relay::Relay;
use crate::secret;
use crate::store::{AuditRecord, MemberContact, MemberRecord};

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

/// What a coordinator records in person beside the profile, as typed (each optional).
#[derive(Clone, Copy, Debug, Default)]
pub struct NewContact<'a> {
    /// Phone number.
    pub phone: Option<&'a str>,
    /// The last four characters of the identity card number.
    pub id_last4: Option<&'a str>,
    /// Home address (an elder's: the dispatched volunteer gets it for that order).
    pub address: Option<&'a str>,
}

/// Most characters in an address.
pub const MAX_ADDRESS_CHARS: usize = 100;

/// Registers a member without contact details ([`register_member`]).
pub fn create_member(relay: &Relay, new: &NewMember<'_>) -> Result<MemberRecord, RegistryError> {
    register_member(relay, new, &NewContact::default(), None)
}

/// Registers a member: `member/<id>` with the profile (verified: coordinators verify in
/// person before they register anyone) and the empty `ledger/<id>`; the phone number and
/// the last four characters of the identity card and the address stay in the relay's store
/// only. The one
/// way to register someone: `admin member create` and the console both come here. The
/// console's `audit` entry, its target set to the new member's id, is stored with them.
pub fn register_member(
    relay: &Relay,
    new: &NewMember<'_>,
    contact: &NewContact<'_>,
    audit: Option<AuditRecord>,
) -> Result<MemberRecord, RegistryError> {
    let contact = MemberContact {
        phone: contact.phone.map(check_phone).transpose()?,
        id_last4: contact.id_last4.map(check_id_last4).transpose()?,
        address: contact.address.map(check_address).transpose()?,
    };
    let station = StationId::parse(new.station)?;
    if relay.store().station(&station)?.is_none() {
        return Err(RegistryError::NotFound(format!(
            "no station {station}; create it first with `timebank-relay admin station create --name NAME`"
        )));
    }
    let role = Role::parse(new.role)?;
    let display_name = check_name("name", new.name)?;
    let now = relay.now_ms();
    let this_year = DateTime::from_timestamp_millis(now).map_or(2100, |t| t.year());
    if !(1900..=this_year).contains(&i32::from(new.birth_year)) {
        return Err(RegistryError::Invalid(format!(
            "birth year {} is not plausible; give a year from 1900 to {this_year}",
            new.birth_year
        )));
    }
    let household = new.household.map(HouseholdId::parse).transpose()?;
    let id = MemberId::parse(&secret::new_id("m")?)?;
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
    relay.changes().written([DocId::Member(record.id.clone()), DocId::Ledger(record.id.clone())]);
    tracing::info!(member = %record.id, role = record.role.as_str(), "member created");
    Ok(record)
}

/// An address as typed: one line of at most [`MAX_ADDRESS_CHARS`] characters.
fn check_address(raw: &str) -> Result<String, RegistryError> {
    let address = raw.trim();
    if address.is_empty() || address.chars().count() > MAX_ADDRESS_CHARS || address.chars().any(char::is_control) {
        return Err(RegistryError::Invalid(format!(
            "the address {raw:?} is not usable: give it on one line, 1 to {MAX_ADDRESS_CHARS} characters"
        )));
    }
    Ok(address.to_owned())
}

/// A phone number as typed: digits with spaces, dashes and a leading `+` allowed.
fn check_phone(raw: &str) -> Result<String, RegistryError> {
    let phone = raw.trim();
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    let allowed = phone.chars().enumerate().all(|(i, c)| c.is_ascii_digit() || c == ' ' || c == '-' || (c == '+' && i == 0));
    if !allowed || !(5..=15).contains(&digits) {
        return Err(RegistryError::Invalid(format!(
            "the phone number {raw:?} is not usable: give 5 to 15 digits (spaces, dashes and a leading + allowed)"
        )));
    }
    Ok(phone.to_owned())
}

/// The last four characters of a Chinese identity card number: three digits and a digit or X.
fn check_id_last4(raw: &str) -> Result<String, RegistryError> {
    let last4 = raw.trim().to_uppercase();
    let chars: Vec<char> = last4.chars().collect();
    let ok = chars.len() == 4 && chars[..3].iter().all(char::is_ascii_digit) && (chars[3].is_ascii_digit() || chars[3] == 'X');
    if !ok {
        return Err(RegistryError::Invalid(format!(
            "the last four of the ID number {raw:?} are not usable: give four characters, digits with perhaps a final X"
        )));
    }
    Ok(last4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::Automerge;

    use crate::registry::{create_station, test_relay};

    #[test]
    fn a_member_gets_a_verified_profile_and_a_ledger() {
        let dir = tempfile::tempdir().unwrap();
        let relay = test_relay(dir.path());
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
        let doc = Automerge::load(&relay.store().document(&format!("member/{}", member.id)).unwrap().unwrap().bytes).unwrap();
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
        let relay = test_relay(dir.path());
        let station = create_station(&relay, "Caoyang").unwrap();
        let good = NewMember {
            station: station.id.as_str(),
            role: "volunteer",
            name: "Li",
            birth_year: 1990,
            household: None,
            hardship: false,
        };
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
        let long = "路".repeat(MAX_ADDRESS_CHARS + 1);
        for (phone, last4, address, expected) in [
            ("12ab", "1234", "a", "phone number"),
            ("123", "1234", "a", "phone number"),
            ("13800001234", "12X4", "a", "last four"),
            ("13800001234", "1234", " ", "address"),
            ("13800001234", "1234", "12 号\n301", "address"),
            ("13800001234", "1234", long.as_str(), "1 to 100 characters"),
        ] {
            let contact = NewContact { phone: Some(phone), id_last4: Some(last4), address: Some(address) };
            let err = register_member(&relay, &good, &contact, None).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
        }
        assert!(relay.store().station_members(&station.id).unwrap().is_empty());
    }
}
