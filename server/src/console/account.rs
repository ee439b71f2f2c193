//! Signing in to the console, with the lock-out after repeated failures. Accounts are
//! created by the registry ([`crate::registry::create_console_user`]).

use crate::password::{dummy_hash, verify_password};
use crate::registry::normalize_username;
use crate::store::{ConsoleUserRecord, Millis, RelayStore, StoreResult};

/// Failed sign-ins for one username within [`LOCK_WINDOW_MS`] that lock it.
pub const MAX_FAILURES: usize = 5;

/// The window in which failures count, and how long a lock lasts after the failure that
/// set it off ages out.
pub const LOCK_WINDOW_MS: Millis = 15 * 60 * 1000;

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use crate::registry;
    use crate::relay::Relay;
    use crate::store::SqliteStore;

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
        let station = registry::create_station(relay, "S").unwrap();
        let member = registry::create_member(
            relay,
            &registry::NewMember {
                station: station.id.as_str(),
                role: "coordinator",
                name: "Li",
                birth_year: 1970,
                household: None,
                hardship: false,
            },
        )
        .unwrap();
        registry::create_console_user(
            relay,
            "li",
            "longpassword",
            registry::AccountScope::Station(station.id.as_str()),
            Some(member.id.as_str()),
        )
        .unwrap();
    }
}
