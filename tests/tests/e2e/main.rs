//! End-to-end tests, one binary: the relay (`timebank-server`) served in-process on a real
//! socket with its SQLite store, phones (real engines) enrolled and syncing over HTTP
//! (`timebank_cli::relay`) through a proxy that cuts connections on purpose.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers outside #[test] functions fail the test by panicking, like the tests themselves"
)]

mod convergence;
mod lost_answers;
mod restore;
mod security;
mod support;
