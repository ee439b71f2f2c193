//! Sync: the wire format shared with the relay, the live channel's hints ([`live`]), and the
//! device's side of the protocol (no I/O here: a [`Transport`] supplied by the caller
//! carries the bytes).

pub mod bounds;
pub mod client;
pub mod heads;
pub mod live;
pub mod page;
pub mod sequence;
pub mod wire;

pub use client::{SyncReport, SyncRun, Transport, TransportError};
