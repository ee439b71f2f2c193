//! The ledger pages of the console.

use std::sync::Arc;

use axum::Router;

use crate::relay::Relay;

/// The ledger routes (relative to `/console`).
pub fn routes() -> Router<Arc<Relay>> {
    Router::new()
}
