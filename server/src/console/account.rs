//! Console accounts: argon2id password hashes, creating an account (the admin command),
//! and signing in with the lock-out after repeated failures.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::Argon2;
use timebank_engine::model::{MemberId, Role, StationId};

use crate::admin::AdminError;
use crate::relay::Relay;
use crate::secret;
use crate::store::{ConsoleRole, ConsoleUserRecord, Millis, RelayStore, StoreResult};

/// Failed sign-ins for one username within [`LOCK_WINDOW_MS`] that lock it.
pub const MAX_FAILURES: usize = 5;

/// The window in which failures count, and how long a lock lasts after the failure that
/// set it off ages out.
pub const LOCK_WINDOW_MS: Millis = 15 * 60 * 1000;

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Longest password accepted (argon2 takes any length; this bounds the work per request).
pub const MAX_PASSWORD_CHARS: usize = 128;

/// The outcome of a sign-in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignIn {
    /// The password is right.
    Welcome(ConsoleUserRecord),
    /// The username or password is wrong (which one is not said); `locked_until` when this
    /// failure locked the username.
    Wrong {
        /// The username is locked until then.
        locked_until: Option<Millis>,
    },
    /// Too many failures: refused without looking at the password.
    Locked {
        /// Until when.
        until: Millis,
    },
}

/// A username as typed, made comparable: trimmed, lower case, bounded.
pub fn normalize_username(raw: &str) -> String {
    raw.trim().to_lowercase().chars().take(64).collect()
}

/// Signs `username` in with `password` at `now`: refused while locked; a failure (for a
/// username that exists or not, alike) counts towards the lock; a success clears them.
///
/// Each try is counted as a failure *before* its password is checked (and forgiven on
/// success), so tries sent in parallel see one another: however many arrive at once, no
/// more than [`MAX_FAILURES`] passwords are checked in a window.
pub fn sign_in(store: &dyn RelayStore, username: &str, password: &str, now: Millis) -> StoreResult<SignIn> {
    let username = normalize_username(username);
    let since = now - LOCK_WINDOW_MS + 1;
    let earlier = store.login_failures_since(&username, since)?;
    if let Some(until) = lock_end(&earlier) {
        return Ok(SignIn::Locked { until });
    }
    store.record_login_failure(&username, now)?;
    let failures = store.login_failures_since(&username, since)?;
    if failures.len() > MAX_FAILURES {
        // Others tried at the same moment and used up the tries: this one is not checked.
        return Ok(SignIn::Locked { until: lock_end(&failures).unwrap_or(now + LOCK_WINDOW_MS) });
    }
    let user = store.console_user(&username)?;
    let right = match &user {
        Some(user) => verify_password(&user.password_hash, password),
        None => {
            // The same work as for a real account, so the time taken does not tell.
            verify_password(dummy_hash(), password);
            false
        }
    };
    match user {
        Some(user) if right => {
            store.clear_login_failures(&username)?;
            Ok(SignIn::Welcome(user))
        }
        _ => Ok(SignIn::Wrong { locked_until: lock_end(&failures) }),
    }
}

/// When the lock set off by `failures` (oldest first, within the window) ends, if they lock.
fn lock_end(failures: &[Millis]) -> Option<Millis> {
    let first_of_last = failures.len().checked_sub(MAX_FAILURES)?;
    failures.get(first_of_last).map(|at| at + LOCK_WINDOW_MS)
}

/// The argon2id hash (PHC string, default parameters, random salt) of `password`.
pub fn hash_password(password: &str) -> Result<String, AdminError> {
    let salt_bytes = secret::random_bytes::<16>().map_err(|e| AdminError::Invalid(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| AdminError::Invalid(format!("salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| AdminError::Invalid(format!("could not hash the password: {e}")))
}

/// Whether `password` matches `hash` (false for a hash that cannot be read).
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password("no such account, only for timing").unwrap_or_default())
}

/// Creates a console account: a coordinator of `station` acting as `member` (a coordinator
/// of that station), or with `station` `None` the district's read-only account.
pub fn create(
    relay: &Relay,
    username: &str,
    password: &str,
    station: Option<&str>,
    member: Option<&str>,
) -> Result<ConsoleUserRecord, AdminError> {
    let normalized = normalize_username(username);
    let valid_name = (2..=32).contains(&normalized.chars().count())
        && normalized.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if !valid_name || normalized != username.trim() {
        return Err(AdminError::Invalid(format!(
            "the username {username:?} is not usable: give 2 to 32 lower-case letters, digits, dots, dashes or underscores"
        )));
    }
    let chars = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
        return Err(AdminError::Invalid(format!(
            "the password has {chars} characters: give {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS}"
        )));
    }
    let member = member.map(MemberId::parse).transpose()?;
    let role = match station {
        Some(raw) => {
            let station = StationId::parse(raw)?;
            if relay.store().station(&station)?.is_none() {
                return Err(AdminError::NotFound(format!("no station {station}")));
            }
            let Some(member_id) = &member else {
                return Err(AdminError::Invalid("a coordinator's account needs --member (their own member id)".into()));
            };
            let record = relay.store().member(member_id)?;
            match record {
                Some(m) if m.station == station && m.role == Role::Coordinator => {}
                Some(_) => {
                    return Err(AdminError::Invalid(format!(
                        "member {member_id} is not a coordinator of station {station}; register them with --role coordinator first"
                    )));
                }
                None => return Err(AdminError::NotFound(format!("no member {member_id}"))),
            }
            ConsoleRole::Coordinator { station }
        }
        None => ConsoleRole::District,
    };
    let user = ConsoleUserRecord {
        username: normalized,
        password_hash: hash_password(password)?,
        role,
        member,
        created_at: relay.now_ms(),
    };
    relay.store().create_console_user(&user)?;
    tracing::info!(username = %user.username, "console account created");
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use crate::store::SqliteStore;

    #[test]
    fn hashes_are_argon2id_and_verify_only_the_right_password() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password(&hash, "correct horse"));
        assert!(!verify_password(&hash, "correct horsE"));
        assert!(!verify_password("not a hash", "x"));
    }

    #[test]
    fn five_failures_lock_a_username_known_or_not_for_fifteen_minutes() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let relay = Relay::new(Arc::new(store), Arc::new(timebank_engine::SystemClock)).unwrap();
        let store = relay.store();
        account_for(&relay);
        let minute = 60_000;
        for name in ["li", "ghost"] {
            for i in 0..4 {
                assert_eq!(sign_in(store, name, "wrong", i * minute).unwrap(), SignIn::Wrong { locked_until: None });
            }
            assert_eq!(sign_in(store, name, "wrong", 4 * minute).unwrap(), SignIn::Wrong { locked_until: Some(15 * minute) });
            assert_eq!(sign_in(store, name, "longpassword", 5 * minute).unwrap(), SignIn::Locked { until: 15 * minute });
        }
        // The first failure ages out: one more try is allowed.
        assert!(matches!(sign_in(store, " LI ", "longpassword", 15 * minute).unwrap(), SignIn::Welcome(_)));
        assert!(store.login_failures_since("li", 0).unwrap().is_empty());
    }

    fn account_for(relay: &Relay) {
        let station = crate::admin::create_station(relay, "S").unwrap();
        let member = crate::admin::create_member(relay, &crate::admin::NewMember {
            station: station.id.as_str(),
            role: "coordinator",
            name: "Li",
            birth_year: 1970,
            household: None,
            hardship: false,
        })
        .unwrap();
        let err = create(relay, "Li Ming", "longpassword", Some(station.id.as_str()), Some(member.id.as_str())).unwrap_err();
        assert!(err.to_string().contains("username"), "{err}");
        let err = create(relay, "li", "short", Some(station.id.as_str()), Some(member.id.as_str())).unwrap_err();
        assert!(err.to_string().contains("password"), "{err}");
        create(relay, "li", "longpassword", Some(station.id.as_str()), Some(member.id.as_str())).unwrap();
    }
}
