//! Integration tests of the relay, one binary: enrollment, device tokens, bad requests,
//! writer authority, and real engines syncing through the relay (in-process and over a
//! socket with the `timebank-relay` binary).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers outside #[test] functions fail the test by panicking, like the tests themselves"
)]

mod authority;
mod backup;
mod bad_requests;
mod binary;
mod concurrency;
mod configuration;
mod contacts;
mod coordinator_rules;
mod crash;
mod deploy;
mod desk;
mod elder_names;
mod enroll;
mod failover;
mod flows;
mod hostile;
mod ledger;
mod limits;
mod live;
mod metrics;
mod paging;
mod personal;
mod postgres;
mod presence;
mod process;
mod recovery;
mod stored_formats;
mod support;
mod tokens;
