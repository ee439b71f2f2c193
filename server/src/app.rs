//! The HTTP surface: [`app`] builds the router (so tests call it without a socket); the
//! helpers the endpoints share are in [`crate::http`].

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::{Extension, Router};
use timebank_engine::sync::wire::MAX_BODY_BYTES;
use tower_http::trace::TraceLayer;

use crate::console::ConsoleConfig;
use crate::error::AppError;
use crate::limits::{Limiter, Limits};
use crate::live::Hub;
use crate::relay::Relay;
use crate::{contacts, enroll, live, sync};

/// The relay's routes:
///
/// | route | body | answer |
/// | --- | --- | --- |
/// | `GET /` | | 303 to the console |
/// | `GET /healthz` | | `ok` (the process answers) |
/// | `GET /readyz` | | `ready`, or 503 when the store cannot be read ([`crate::monitor`]) |
/// | `POST /v1/enroll` | wire `EnrollRequest` | wire `EnrollResponse` |
/// | `POST /v1/sync` (bearer token) | wire `SyncRequest` | wire `SyncResponse` |
/// | `POST /v1/contacts` (bearer token) | wire `ContactsRequest` | wire `DispatchContacts` |
/// | `GET /v1/live` (bearer token) | | server-sent events: hints of readable documents that changed ([`crate::live`]) |
///
/// | `/console/…` | forms | the coordinator console (HTML, [`crate::console`]) |
///
/// Errors are JSON `{"error": "..."}` with the status that says what went wrong; an address
/// with too many refused enrollments, bad tokens or failed sign-ins gets 429 with
/// `Retry-After` ([`crate::limits`]).
pub fn app(relay: Arc<Relay>) -> Router {
    app_with(relay, ConsoleConfig::default())
}

/// The relay's routes, with the console deployed as `console` says.
pub fn app_with(relay: Arc<Relay>, console: ConsoleConfig) -> Router {
    app_with_limits(relay, console, Limits::default())
}

/// The relay's routes, with the console deployed as `console` says and the per-address
/// rate limits of `limits` (ADR 0020). The client's address comes from axum's
/// `ConnectInfo<SocketAddr>`: serve with `into_make_service_with_connect_info`; without
/// it, every caller counts as one unknown address.
pub fn app_with_limits(relay: Arc<Relay>, console: ConsoleConfig, limits: Limits) -> Router {
    let limiter = Arc::new(Limiter::new(limits, Arc::clone(relay.clock())).counting_in(Arc::clone(relay.metrics())));
    let metrics = Arc::clone(relay.metrics());
    let hub = Hub::start(Arc::clone(&relay));
    let router = Router::new()
        .route("/", get(|| async { crate::console::see_other("/console/") }))
        .route("/healthz", get(healthz))
        .route("/readyz", get(crate::monitor::readyz))
        .nest("/console", crate::console::routes(console))
        .route("/console/", get(|| async { crate::console::see_other("/console/review") }))
        .route("/v1/enroll", post(enroll::endpoint))
        .route("/v1/sync", post(sync::endpoint))
        .route("/v1/contacts", post(contacts::endpoint))
        .route("/v1/live", get(live::endpoint))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(Extension(limiter))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(axum::middleware::from_fn_with_state(metrics, crate::metrics::track));
    match hub {
        Ok(hub) => router.layer(Extension(hub)).with_state(relay),
        // Without its thread, no channel could hear a hint: /v1/live answers 500 (no
        // hub), the phones sync on their own schedule, and everything else is served.
        Err(error) => {
            tracing::error!(%error, "could not start the live channels' thread; phones sync on their own schedule");
            router.with_state(relay)
        }
    }
}

/// A request's log span: its method and path, never its query (the console's searches
/// and filters name people).
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    tracing::debug_span!("request", method = %request.method(), path = %request.uri().path())
}

async fn healthz() -> &'static str {
    "ok"
}

async fn not_found() -> AppError {
    AppError::NotFound(
        "no such endpoint on this relay; the app uses POST /v1/enroll, /v1/sync and /v1/contacts, and GET /v1/live".into(),
    )
}
