//! The monthly reports of the console: figures per station, an SVG chart, CSV (built by C2).

pub mod chart;
pub mod figures;

use std::sync::Arc;

use axum::Router;

use crate::relay::Relay;

/// The reports routes (relative to `/console`).
pub fn routes() -> Router<Arc<Relay>> {
    Router::new()
}
