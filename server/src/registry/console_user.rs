//! Console accounts: a coordinator of one station acting as their own member, or the
//! read-only account of a district or of the city; the password stored as an argon2id hash.

use timebank_engine::model::{MemberId, Role, StationId};

use super::RegistryError;
use super::district::existing_district;
use crate::password;
use crate::relay::Relay;
use crate::store::{ConsoleRole, ConsoleUserRecord};

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Longest password accepted (argon2 takes any length; this bounds the work per request).
pub const MAX_PASSWORD_CHARS: usize = 128;

/// A username as typed, made comparable: trimmed, lower case, bounded.
pub fn normalize_username(raw: &str) -> String {
    raw.trim().to_lowercase().chars().take(64).collect()
}

/// Whom a console account serves, as the administrator names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountScope<'a> {
    /// A coordinator of this station (`s-…`): reads and writes for it.
    Station(&'a str),
    /// This district's bureau (`q-…`): reads its stations.
    District(&'a str),
    /// The city: reads every station.
    City,
}

/// Creates a console account: a coordinator of a station acting as `member` (a
/// coordinator of that station), or the read-only account of a district or of the city.
pub fn create_console_user(
    relay: &Relay,
    username: &str,
    password: &str,
    scope: AccountScope<'_>,
    member: Option<&str>,
) -> Result<ConsoleUserRecord, RegistryError> {
    let normalized = normalize_username(username);
    let valid_name = (2..=32).contains(&normalized.chars().count())
        && normalized.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if !valid_name || normalized != username.trim() {
        return Err(RegistryError::Invalid(format!(
            "the username {username:?} is not usable: give 2 to 32 lower-case letters, digits, dots, dashes or underscores"
        )));
    }
    let chars = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
        return Err(RegistryError::Invalid(format!(
            "the password has {chars} characters: give {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS}"
        )));
    }
    let member = member.map(MemberId::parse).transpose()?;
    let role = match scope {
        AccountScope::Station(raw) => {
            let station = StationId::parse(raw)?;
            if relay.store().station(&station)?.is_none() {
                return Err(RegistryError::NotFound(format!("no station {station}")));
            }
            let Some(member_id) = &member else {
                return Err(RegistryError::Invalid("a coordinator's account needs --member (their own member id)".into()));
            };
            let record = relay.store().member(member_id)?;
            match record {
                Some(m) if m.station == station && m.role == Role::Coordinator => {}
                Some(_) => {
                    return Err(RegistryError::Invalid(format!(
                        "member {member_id} is not a coordinator of station {station}; register them with --role coordinator first"
                    )));
                }
                None => return Err(RegistryError::NotFound(format!("no member {member_id}"))),
            }
            ConsoleRole::Coordinator { station }
        }
        AccountScope::District(raw) => ConsoleRole::District { district: existing_district(relay, raw)? },
        AccountScope::City => ConsoleRole::City,
    };
    if member.is_some() && role.station().is_none() {
        return Err(RegistryError::Invalid("a district's or the city's account acts as nobody: leave out --member".into()));
    }
    let password_hash = password::hash_password(password).map_err(|e| RegistryError::Invalid(e.to_string()))?;
    let user = ConsoleUserRecord { username: normalized, password_hash, role, member, created_at: relay.now_ms() };
    relay.store().create_console_user(&user)?;
    tracing::info!(username = %user.username, "console account created");
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{NewMember, create_member, create_station, test_relay};

    #[test]
    fn an_account_needs_a_usable_name_and_password_and_a_coordinator_of_the_station() {
        let dir = tempfile::tempdir().unwrap();
        let relay = test_relay(dir.path());
        let station = create_station(&relay, "S").unwrap();
        let new = NewMember {
            station: station.id.as_str(),
            role: "coordinator",
            name: "Li",
            birth_year: 1970,
            household: None,
            hardship: false,
        };
        let coordinator = create_member(&relay, &new).unwrap();
        let volunteer = create_member(&relay, &NewMember { role: "volunteer", ..new }).unwrap();
        let (station, coordinator, volunteer) =
            (AccountScope::Station(station.id.as_str()), Some(coordinator.id.as_str()), Some(volunteer.id.as_str()));
        let err = create_console_user(&relay, "Li Ming", "longpassword", station, coordinator).unwrap_err();
        assert!(err.to_string().contains("username"), "{err}");
        let err = create_console_user(&relay, "li", "short", station, coordinator).unwrap_err();
        assert!(err.to_string().contains("password"), "{err}");
        let err = create_console_user(&relay, "li", "longpassword", station, volunteer).unwrap_err();
        assert!(err.to_string().contains("is not a coordinator"), "{err}");
        let user = create_console_user(&relay, "li", "longpassword", station, coordinator).unwrap();
        assert!(password::verify_password(&user.password_hash, "longpassword"));
        assert_eq!(relay.store().console_user("li").unwrap(), Some(user));

        let err = create_console_user(&relay, "qu", "longpassword", AccountScope::District("q-none"), None).unwrap_err();
        assert!(err.to_string().contains("no district q-none"), "{err}");
        let err = create_console_user(&relay, "shi", "longpassword", AccountScope::City, coordinator).unwrap_err();
        assert!(err.to_string().contains("acts as nobody"), "{err}");
        let district = create_console_user(&relay, "qu", "longpassword", AccountScope::District("q-default"), None).unwrap();
        assert_eq!(district.role.district().map(|d| d.as_str()), Some("q-default"));
        let city = create_console_user(&relay, "shi", "longpassword", AccountScope::City, None).unwrap();
        assert_eq!(city.role, ConsoleRole::City);
    }
}
