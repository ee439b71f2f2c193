//! The order board of the console: requested orders, dispatch, accepts and declines (built by C2).

pub mod board;

use std::sync::Arc;

use axum::Router;

use crate::relay::Relay;

/// The orders routes (relative to `/console`).
pub fn routes() -> Router<Arc<Relay>> {
    Router::new()
}
