//! What an operator watches (ADR 0033): `GET /readyz` (the store answers a read, else 503
//! with the reason) on the relay's listener, and `GET /metrics` for Prometheus on the
//! separate `--metrics-listen` address: this process's live counters ([`crate::metrics`])
//! and the store's figures, read at each scrape (ledger lag, review queue per station,
//! devices, store size, security events).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::registry::Registry;

use crate::console::review::queue;
use crate::console::visits::log::{Arrivals, records};
use crate::desk::StationDocs;
use crate::error::AppError;
use crate::http::blocking;
use crate::relay::Relay;

/// The content type of the OpenMetrics text Prometheus reads.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The routes of the metrics listener: `GET /metrics` (and `/healthz`, `/readyz`, so a
/// check can stay off the public address).
pub fn routes(relay: Arc<Relay>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(relay)
}

/// `GET /readyz`: `ready` when the store answers a read, else 503 with the reason (the
/// detail is logged, never sent).
pub async fn readyz(State(relay): State<Arc<Relay>>) -> Response {
    match blocking(move || relay.store().ledger_progress().map_err(AppError::from)).await {
        Ok(_) => "ready".into_response(),
        Err(error) => {
            tracing::error!(%error, "not ready: the store cannot be read");
            let reason = "not ready: the relay's store cannot be read; the relay's log says why";
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(serde_json::json!({ "error": reason }))).into_response()
        }
    }
}

async fn metrics(State(relay): State<Arc<Relay>>) -> Response {
    let scraped = Arc::clone(&relay);
    match blocking(move || Figures::read(&scraped)).await {
        Ok(figures) => match encode(&relay, &figures) {
            Ok(text) => ([(CONTENT_TYPE, OPENMETRICS)], text).into_response(),
            Err(_) => AppError::Internal("the metrics could not be written".into()).into_response(),
        },
        Err(error) => error.into_response(),
    }
}

/// A station's label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StationLabel {
    station: String,
}

/// A device state's label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeviceState {
    state: &'static str,
}

/// What the store holds now, as the scrape shows it. The same from every relay process on
/// one store: on PostgreSQL, take the max across relays, not the sum.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Figures {
    /// Events of the arrival log not yet posted by the ledger.
    pub ledger_lag: i64,
    /// Finished visits waiting for a coordinator's decision, by station.
    pub review_queues: Vec<(String, i64)>,
    /// Enrolled devices by state (`active`, `revoked`).
    pub devices: HashMap<&'static str, i64>,
    /// The store's size on disk.
    pub store_bytes: u64,
    /// Security events recorded.
    pub security_events: i64,
}

impl Figures {
    /// Reads the figures from the relay's store and documents.
    pub fn read(relay: &Relay) -> Result<Figures, AppError> {
        let store = relay.store();
        let progress = store.ledger_progress()?;
        let mut review_queues = Vec::new();
        let (arrivals, devices) = (Arrivals::default(), HashMap::new());
        for station in store.stations()? {
            let docs = StationDocs::load(relay, &station.id)?;
            let waiting = records(&docs, &arrivals, &devices).iter().filter(|r| queue::waiting(r)).count();
            review_queues.push((station.id.to_string(), i64::try_from(waiting).unwrap_or(i64::MAX)));
        }
        let mut by_state = HashMap::from([("active", 0), ("revoked", 0)]);
        for device in store.devices()? {
            *by_state.entry(if device.revoked_at.is_some() { "revoked" } else { "active" }).or_default() += 1;
        }
        Ok(Figures {
            ledger_lag: progress.logged - progress.folded.max(relay.ledger_folded()),
            review_queues,
            devices: by_state,
            store_bytes: store.size_bytes()?,
            security_events: store.security_event_count()?,
        })
    }

    fn registry(&self) -> Registry {
        let mut registry = Registry::with_prefix("timebank");
        registry.register(
            "ledger_lag_events",
            "Events of the arrival log the ledger has not yet posted (visits, reviews, requests, decisions waiting for their coins)",
            ConstGauge::new(self.ledger_lag),
        );
        let queues = Family::<StationLabel, Gauge>::default();
        for (station, waiting) in &self.review_queues {
            queues.get_or_create(&StationLabel { station: station.clone() }).set(*waiting);
        }
        registry.register("review_queue_visits", "Finished visits waiting for a coordinator's decision, by station", queues);
        let devices = Family::<DeviceState, Gauge>::default();
        for (state, count) in &self.devices {
            devices.get_or_create(&DeviceState { state }).set(*count);
        }
        registry.register("devices", "Enrolled devices by state (live connections are not counted: phones sync by request)", devices);
        registry.register(
            "store_bytes",
            "The relay store's size on disk in bytes",
            ConstGauge::new(i64::try_from(self.store_bytes).unwrap_or(i64::MAX)),
        );
        registry.register(
            "security_events",
            "Security events recorded in the store (refused tokens and changes, rate limits, quotas): admin security-events lists them",
            ConstCounter::new(u64::try_from(self.security_events).unwrap_or(0)),
        );
        registry
    }
}

/// The scrape: this process's live counters, then the store's figures.
fn encode(relay: &Relay, figures: &Figures) -> Result<String, std::fmt::Error> {
    let mut text = String::new();
    encode_registry(&mut text, relay.metrics().registry())?;
    encode_registry(&mut text, &figures.registry())?;
    encode_eof(&mut text)?;
    Ok(text)
}
