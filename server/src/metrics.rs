//! The relay's live counters for Prometheus (ADR 0033), kept in memory by each relay
//! process: every answer by endpoint and status, refusals by reason, syncs and their
//! latency, answers of 429 by door, requests in flight. [`track`] is the router's layer
//! that counts them; what the store holds (ledger lag, review queues, devices, store size,
//! security events) is read when Prometheus scrapes, in [`crate::monitor`].

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The answers counted by endpoint and status.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Answer {
    endpoint: &'static str,
    status: u16,
}

/// The refusals (4xx and 5xx) counted by endpoint and reason.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Refused {
    endpoint: &'static str,
    reason: String,
}

/// The 429 answers counted by the limit that gave them.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Limit {
    door: &'static str,
}

/// One relay process's live counters, in a registry of their own (no global state: each
/// relay in a test process counts its own).
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    answers: Family<Answer, Counter>,
    refusals: Family<Refused, Counter>,
    syncs: Histogram,
    limited: Family<Limit, Counter>,
    in_flight: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let answers = Family::<Answer, Counter>::default();
        let refusals = Family::<Refused, Counter>::default();
        // 5 ms to about 20 s: a one-visit sync takes milliseconds, a page of a phone far behind seconds.
        let syncs = Histogram::new(exponential_buckets(0.005, 2.0, 13));
        let limited = Family::<Limit, Counter>::default();
        let in_flight = Gauge::default();
        let mut registry = Registry::with_prefix("timebank");
        registry.register("http_responses", "Answers of this relay process, by endpoint and HTTP status", answers.clone());
        registry.register(
            "refusals",
            "Requests this relay process refused or failed (4xx and 5xx), by endpoint and reason (the status in words)",
            refusals.clone(),
        );
        registry.register(
            "sync_duration_seconds",
            "Syncs this relay process answered 200 (one per round trip), by time from request to answer",
            syncs.clone(),
        );
        registry.register(
            "rate_limited",
            "Answers 429 of this relay process by limit: the per-address doors (enroll, token, sign-in, body) and the device's daily quota",
            limited.clone(),
        );
        registry.register("http_requests_in_flight", "Requests this relay process is answering now", in_flight.clone());
        Metrics { registry, answers, refusals, syncs, limited, in_flight }
    }
}

impl Metrics {
    /// The registry of the live counters, for the scrape.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Counts an answer 429 given by `door` (a per-address door, or `device-quota`).
    pub fn rate_limited(&self, door: &'static str) {
        self.limited.get_or_create(&Limit { door }).inc();
    }

    fn answered(&self, endpoint: &'static str, status: axum::http::StatusCode, started: Instant) {
        self.answers.get_or_create(&Answer { endpoint, status: status.as_u16() }).inc();
        if status.is_client_error() || status.is_server_error() {
            self.refusals.get_or_create(&Refused { endpoint, reason: reason(status) }).inc();
        }
        if endpoint == "sync" && status.is_success() {
            self.syncs.observe(started.elapsed().as_secs_f64());
        }
    }
}

/// The endpoint a path belongs to (a label with a few values: never the path itself, which
/// holds ids).
fn endpoint(path: &str) -> &'static str {
    match path {
        "/v1/sync" => "sync",
        "/v1/enroll" => "enroll",
        "/healthz" | "/readyz" => "health",
        p if p == "/console" || p.starts_with("/console/") => "console",
        _ => "other",
    }
}

/// A refusal's reason: its status in words, in kebab case (`bad-request`, `too-many-requests`).
fn reason(status: axum::http::StatusCode) -> String {
    status.canonical_reason().map_or_else(|| status.as_u16().to_string(), |words| words.to_lowercase().replace([' ', '\''], "-"))
}

/// Lowers the in-flight gauge when a request ends, answered or dropped.
struct InFlight<'m>(&'m Gauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The router's layer: counts every request by endpoint and answer, and times the syncs.
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request<Body>, next: Next) -> Response {
    let endpoint = endpoint(request.uri().path());
    let started = Instant::now();
    metrics.in_flight.inc();
    let _in_flight = InFlight(&metrics.in_flight);
    let response = next.run(request).await;
    metrics.answered(endpoint, response.status(), started);
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    fn text(metrics: &Metrics) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, metrics.registry()).unwrap();
        out
    }

    #[test]
    fn answers_are_counted_by_endpoint_and_refusals_by_reason() {
        let metrics = Metrics::default();
        let started = Instant::now();
        metrics.answered(endpoint("/v1/sync"), StatusCode::OK, started);
        metrics.answered(endpoint("/v1/sync"), StatusCode::UNAUTHORIZED, started);
        metrics.answered(endpoint("/console/members/m-1"), StatusCode::TOO_MANY_REQUESTS, started);
        metrics.rate_limited("sign-in");
        let out = text(&metrics);
        for line in [
            r#"timebank_http_responses_total{endpoint="sync",status="200"} 1"#,
            r#"timebank_refusals_total{endpoint="sync",reason="unauthorized"} 1"#,
            r#"timebank_refusals_total{endpoint="console",reason="too-many-requests"} 1"#,
            r#"timebank_rate_limited_total{door="sign-in"} 1"#,
            "timebank_sync_duration_seconds_count 1",
        ] {
            assert!(out.contains(line), "{line} missing from:\n{out}");
        }
        assert!(!out.contains("m-1"), "no ids in labels");
    }
}
