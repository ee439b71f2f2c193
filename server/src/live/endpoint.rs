//! `GET /v1/live`: a device's live channel. The bearer token is checked as the sync
//! checks it (a refused one counts against the caller's address); the channel then carries
//! hints for the documents the device's member may read, until the device goes away, is
//! revoked, opens another channel, or the relay stops.

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use crate::auth;
use crate::authority::Access;
use crate::error::AppError;
use crate::http::blocking;
use crate::limits::{Door, Gate};
use crate::live::{Hub, Reader};
use crate::relay::Relay;

/// The endpoint: bearer token in, server-sent events out (`hello`, `changed`, `closed`,
/// heartbeats; `timebank_engine::sync::live`).
pub async fn endpoint(
    State(relay): State<Arc<Relay>>,
    Extension(hub): Extension<Arc<Hub>>,
    gate: Gate,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let reader = blocking(move || {
        let device = auth::identify(&relay, &headers).map_err(|refusal| gate.refuse(relay.store(), Door::Token, refusal))?;
        let access = Access::of(relay.store(), &device.member)?;
        Ok::<_, AppError>(Reader::device(&device.device, device.member, access))
    })
    .await?;
    let device = reader.device_id().unwrap_or_default().to_owned();
    let response = hub.open(reader)?;
    tracing::info!(%device, "live channel open");
    Ok(response)
}
