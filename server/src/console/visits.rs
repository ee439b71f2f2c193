//! The merged visit logs of the console: by volunteer, elder and day, and CSV export (built by C2).

pub mod log;

use std::sync::Arc;

use axum::Router;

use crate::relay::Relay;

/// The visits routes (relative to `/console`).
pub fn routes() -> Router<Arc<Relay>> {
    Router::new()
}
