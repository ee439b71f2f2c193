//! The engine's error type: every variant says what went wrong and what the user can do.

use std::path::PathBuf;

/// Everything that can go wrong in the engine. Messages are written for the person
/// holding the phone (or running the CLI): what was wrong, and what to do next.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input that breaks a rule of the domain (end before start, unknown service, ...).
    #[error("{0}")]
    Invalid(String),

    /// The caller's role may not do this (an elder's phone logging a visit, ...).
    #[error("{0}")]
    NotAllowed(String),

    /// A visit, order or request id that this store does not hold.
    #[error("{what} {id} is not on this phone; check the id (list them with `timebank visits` or `timebank orders`)")]
    NotFound { what: &'static str, id: String },

    /// The store directory has no identity yet.
    #[error("no timebank store at {0}; create one with `timebank init` (or enroll this device)")]
    NoStore(PathBuf),

    /// `init` on a directory that already holds a store.
    #[error("a timebank store already exists at {0}; nothing was changed")]
    AlreadyInitialised(PathBuf),

    /// The store file was written by a newer version of the app.
    #[error(
        "the store at {path} was written by a newer timebank (store version {found}, this app knows up to {supported}); update the app, nothing was changed"
    )]
    StoreTooNew { path: PathBuf, found: i64, supported: i64 },

    /// A document was written by a newer version of the app.
    #[error("document {doc} has schema version {found}, newer than this app's {supported}; update the app to read it")]
    DocumentTooNew { doc: String, found: u64, supported: u64 },

    /// The store file or one of its documents cannot be read.
    #[error(
        "the store at {path} is damaged ({detail}); nothing was changed. Restore it from a backup, or enroll this phone again to fetch what the relay holds"
    )]
    Corrupt { path: PathBuf, detail: String },

    /// SQLite failed (disk full, permissions, ...).
    #[error("could not use the store on disk: {0}")]
    Storage(#[from] rusqlite::Error),

    /// A filesystem error around the store.
    #[error("could not use the store directory: {0}")]
    Io(#[from] std::io::Error),

    /// The relay could not be reached or refused the sync.
    #[error(transparent)]
    Transport(#[from] crate::sync::TransportError),

    /// The relay's answer broke the sync protocol.
    #[error("{0}")]
    Protocol(String),

    /// Automerge refused an operation: a bug in the engine, never the user's doing.
    #[error("internal document error: {0}")]
    Document(#[from] automerge::AutomergeError),
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Shorthand for a domain rule broken by the caller's input.
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid(message.into())
    }
}
