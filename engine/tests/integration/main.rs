//! Integration tests of the engine API on real SQLite stores in temporary directories.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers outside #[test] functions fail the test by panicking, like the tests themselves"
)]

mod bad_input;
mod convergence;
mod elder_names;
mod flows;
mod orders;
mod other_writers;
mod reviews;
mod store_files;
mod support;
