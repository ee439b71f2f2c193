//! The bindings' Rust tests, one binary: errors reach the apps as the right variant and
//! never as a panic, listeners start and stop, and sync against a real relay on
//! 127.0.0.1 survives cancellation without losing or duplicating anything.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers outside #[test] functions fail the test by panicking, like the tests themselves"
)]

mod clock;
mod errors;
mod listeners;
mod support;
mod sync;
mod watch;
