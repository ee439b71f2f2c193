//! Router tests of the coordinator console: a real relay on a real SQLite store, called
//! in-process through its router with a cookie-keeping client, as a browser would.
//! Each side of the console adds its modules here (C1: sign-in, members, ledger, audit).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    dead_code,
    reason = "test helpers outside #[test] functions fail the test by panicking; not every module uses every helper"
)]

mod across;
mod audit;
mod bureau;
mod districts;
mod hardening;
mod ledger;
mod live;
mod members;
mod moves;
mod orders;
mod personal;
mod phones;
mod rate_limits;
mod reports;
mod review;
mod scale;
mod signin;
mod support;
mod tags;
