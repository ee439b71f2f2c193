//! The review queue of the console: visits waiting for review, anomalies first (built by C2).

pub mod queue;

use std::sync::Arc;

use axum::Router;

use crate::relay::Relay;

/// The review routes (relative to `/console`).
pub fn routes() -> Router<Arc<Relay>> {
    Router::new()
}
