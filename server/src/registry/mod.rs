//! The registration service: who and what the relay knows. Districts, stations with their documents,
//! members with their genesis documents and their moves between stations, one-time enrollment codes, device revocation,
//! elders' NFC tags and console accounts, as functions over a [`Relay`](crate::relay::Relay) that check their input and return the
//! stored record. The `admin` command line, the console's pages and the demo seeding all
//! register through here; none of them builds a record or a document itself.

mod console_user;
mod device;
mod district;
mod member;
mod personal;
mod station;
mod tag;
mod transfer;

use automerge::transaction::{CommitOptions, Transaction};
use automerge::{ActorId, Automerge, AutomergeError};
use timebank_engine::{DocId, documents};

pub use console_user::{AccountScope, MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, create_console_user, normalize_username};
pub use device::{DEFAULT_CODE_DAYS, issue_audited_enrollment_code, issue_enrollment_code, revoke_device};
pub use district::{create_district, move_station};
pub use member::{MAX_ADDRESS_CHARS, NewContact, NewMember, create_member, register_member};
pub use personal::{EXPORT_FORMAT, erase_contact, export_member};
pub use station::{create_station, create_station_in};
pub use tag::{TagNeeded, TagWriting, register_tag, replace_tag, revoke_tag, tag_writing, tags_needed};
pub use transfer::move_member;

use crate::store::{Millis, NewDocument, StoreError};

/// Longest display or station name accepted (the engine's, which the documents' shape holds).
pub use timebank_engine::model::text::MAX_NAME_CHARS;

/// Why a registration was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The input breaks a rule.
    #[error("{0}")]
    Invalid(String),
    /// Something named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A document could not be built (a bug, never the operator's doing).
    #[error("could not build document {doc}: {detail}")]
    Document {
        /// The document.
        doc: String,
        /// What failed.
        detail: String,
    },
}

impl From<timebank_engine::Error> for RegistryError {
    fn from(error: timebank_engine::Error) -> Self {
        RegistryError::Invalid(error.to_string())
    }
}

impl From<crate::secret::NoRandomness> for RegistryError {
    fn from(error: crate::secret::NoRandomness) -> Self {
        RegistryError::Invalid(error.to_string())
    }
}

/// A name as typed: trimmed, 1 to [`MAX_NAME_CHARS`] characters, no control characters.
fn check_name(what: &str, raw: &str) -> Result<String, RegistryError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(RegistryError::Invalid(format!(
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
    edit: impl FnOnce(&mut Transaction<'_>) -> Result<(), AutomergeError>,
) -> Result<NewDocument, RegistryError> {
    let failed = |detail: String| RegistryError::Document { doc: id.to_string(), detail };
    let mut doc: Automerge = documents::genesis(id, actor.clone()).map_err(|e| failed(e.to_string()))?;
    doc.transact_with(|_| CommitOptions::default().with_time(now), |tx| edit(tx))
        .map_err(|failure| failed(failure.error.to_string()))?;
    Ok(NewDocument { id: id.to_string(), snapshot: doc.save() })
}

/// A relay on a fresh store in `dir`, for the unit tests of the registry.
#[cfg(test)]
fn test_relay(dir: &std::path::Path) -> crate::relay::Relay {
    use std::sync::Arc;
    crate::relay::Relay::new(Arc::new(crate::store::SqliteStore::open(dir).unwrap()), Arc::new(timebank_engine::SystemClock)).unwrap()
}
