//! The one error the apps see: every engine error becomes a `TimebankError` here, and only here.

use timebank_engine::Error;
use timebank_engine::sync::TransportError;

/// What went wrong, in words for the person holding the phone. Each variant is its own
/// exception class in Kotlin (`TimebankException.NotFound`), Swift (`TimebankError.NotFound`)
/// and Python (`TimebankError.NotFound`); the message says what to do.
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum TimebankError {
    /// The input breaks a rule (a bad id, end before start, an unknown service, ...).
    #[error("{reason}")]
    InvalidInput { reason: String },
    /// This device's role may not do this (an elder's phone checking in, ...).
    #[error("{reason}")]
    NotAllowed { reason: String },
    /// A visit, order, request or assignment this phone does not hold.
    #[error("{reason}")]
    NotFound { reason: String },
    /// No store in that directory yet: create one or enroll.
    #[error("{reason}")]
    NoStore { reason: String },
    /// A store already exists there; nothing was changed.
    #[error("{reason}")]
    AlreadyExists { reason: String },
    /// The store or a document was written by a newer app: update the app.
    #[error("{reason}")]
    UpdateRequired { reason: String },
    /// The store is damaged; nothing was changed.
    #[error("{reason}")]
    StoreDamaged { reason: String },
    /// The disk or the store directory failed (full, not writable, not a directory, ...).
    #[error("{reason}")]
    Storage { reason: String },
    /// The relay could not be reached; everything stays saved on the phone.
    #[error("{reason}")]
    Offline { reason: String },
    /// The relay refused (an expired enrollment code, a revoked device, ...).
    #[error("{reason}")]
    RelayRefused { reason: String },
    /// The relay's answer could not be understood; try again later or update the app.
    #[error("{reason}")]
    RelayProtocol { reason: String },
    /// The sync was cancelled; what was not acknowledged goes at the next sync.
    #[error("{reason}")]
    Cancelled { reason: String },
    /// A bug in the engine, never the user's doing; the store is unchanged.
    #[error("{reason}")]
    Internal { reason: String },
}

impl TimebankError {
    /// The sync was stopped by its [`crate::SyncCancel`] (or the caller's coroutine/task).
    pub(crate) fn cancelled() -> Self {
        TimebankError::Cancelled {
            reason: "the sync was cancelled; everything stays saved on this phone and goes at the next sync".into(),
        }
    }
}

impl From<Error> for TimebankError {
    fn from(error: Error) -> Self {
        let reason = error.to_string();
        match error {
            Error::Invalid(_) => TimebankError::InvalidInput { reason },
            Error::NotAllowed(_) => TimebankError::NotAllowed { reason },
            Error::NotFound { .. } => TimebankError::NotFound { reason },
            Error::NoStore(_) => TimebankError::NoStore { reason },
            Error::AlreadyInitialised(_) => TimebankError::AlreadyExists { reason },
            Error::StoreTooNew { .. } | Error::DocumentTooNew { .. } => TimebankError::UpdateRequired { reason },
            Error::Corrupt { .. } => TimebankError::StoreDamaged { reason },
            Error::Storage(_) | Error::Io(_) => TimebankError::Storage { reason },
            Error::Transport(TransportError::Unreachable(_)) => TimebankError::Offline { reason },
            Error::Transport(TransportError::Refused { .. }) => TimebankError::RelayRefused { reason },
            Error::Protocol(_) => TimebankError::RelayProtocol { reason },
            Error::Document(_) => TimebankError::Internal { reason },
        }
    }
}

/// The result type of every exported call.
pub type Result<T, E = TimebankError> = std::result::Result<T, E>;
