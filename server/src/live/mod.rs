//! Live hints (ADR 32): a long-lived channel per watching device (`GET /v1/live`, and the
//! console's pages at `/console/live`) that carries only which readable documents changed,
//! never their content; the device then syncs as usual, so authority and bounds stay in
//! the sync. The relay's [`Changes`](crate::relay::Changes) feed the [`Hub`], which routes
//! each notice to the channels whose reader may read the document, coalesces what arrives
//! close together, closes a revoked device's channel at once and every channel when the
//! relay stops. Each channel is a stream of server-sent events ([`channel`]).

mod channel;
mod endpoint;
mod hub;

pub use channel::{Channel, Reader, SessionCheck};
pub use endpoint::endpoint;
pub use hub::Hub;
