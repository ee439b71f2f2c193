//! Test support shared by the workspace's suites, so each scaffold exists once:
//!
//! - [`FakeClock`]: a wall clock and a monotonic clock the test moves by hand.
//! - [`TestRelay`] (feature `relay`, on by default): a real relay on a SQLite store in a
//!   temporary directory with one station, called in-process through its router or served
//!   on 127.0.0.1 when asked; members, enrollment codes and in-process sync transports.
//! - [`Phone`]: an enrolled engine on its own store in a temporary directory; [`Watching`]:
//!   one holding the relay's live channel on a thread, syncing on each hint; [`LiveListener`]:
//!   a raw client of a live channel.
//! - [`cluster`]: several `timebank-relay` processes on one store behind HAProxy.
//! - [`postgres::TestDatabase`] (feature `postgres`): a fresh PostgreSQL database per test
//!   on the server `scripts/postgres.sh` starts.
//!
//! Helpers panic on failure, as a test does, except the `try_` ones the benchmark binary
//! uses, which return [`SetupError`].
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test by panicking, like the tests themselves"
)]

mod clock;
#[cfg(feature = "relay")]
pub mod cluster;
#[cfg(feature = "relay")]
mod listener;
#[cfg(feature = "relay")]
mod phone;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "relay")]
mod relay;
#[cfg(feature = "relay")]
mod server;
#[cfg(feature = "relay")]
mod transport;
#[cfg(feature = "relay")]
mod watching;

pub use clock::FakeClock;
#[cfg(feature = "relay")]
pub use listener::{Heard, LiveListener};
#[cfg(feature = "relay")]
pub use phone::{Phone, on_relay};
#[cfg(feature = "relay")]
pub use relay::{ELDER_BORN, MEMBER_BORN, SetupError, TestRelay, TestRelayBuilder, new_member};
#[cfg(feature = "relay")]
pub use server::Server;
#[cfg(feature = "relay")]
pub use transport::InProcess;
#[cfg(feature = "relay")]
pub use watching::{Seen, Watching};
