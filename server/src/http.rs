//! Small helpers every HTTP endpoint shares (the phones' endpoints and the console's
//! pages): a wire-format answer, running blocking store work off the async threads, and
//! reading a phone's request body at the door (its size declared and read, its deadline).

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use timebank_engine::sync::wire::MAX_BODY_BYTES;

use crate::auth::{self, AuthedDevice};
use crate::error::{AppError, Refusal};
use crate::limits::{Door, Gate};
use crate::relay::Relay;
use crate::store::SecurityEvent;

/// A binary (wire-format) answer.
pub fn binary(body: Vec<u8>) -> Response {
    ([(CONTENT_TYPE, "application/octet-stream")], body).into_response()
}

/// A blocking task that panicked or was cancelled before it answered.
#[derive(Debug, thiserror::Error)]
#[error("a request task failed: {0}")]
pub struct TaskFailed(String);

impl From<TaskFailed> for AppError {
    fn from(failed: TaskFailed) -> Self {
        AppError::Internal(failed.to_string())
    }
}

/// Runs `work` (store and document work, which blocks) off the async threads; a task
/// that fails to finish becomes the caller's error through [`TaskFailed`].
pub async fn blocking<T, E>(work: impl FnOnce() -> Result<T, E> + Send + 'static) -> Result<T, E>
where
    T: Send + 'static,
    E: From<TaskFailed> + Send + 'static,
{
    tokio::task::spawn_blocking(work).await.map_err(|e| E::from(TaskFailed(e.to_string())))?
}

/// Refuses, before a byte of it is read, a body whose declared length is over
/// [`MAX_BODY_BYTES`] (413, counted against the caller's address at [`Door::Body`]).
pub async fn check_declared_length(relay: &Arc<Relay>, gate: &Gate, headers: &HeaderMap) -> Result<(), AppError> {
    let declared = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(bytes) if bytes > MAX_BODY_BYTES as u64 => {
            let message = format!(
                "the request declares {bytes} bytes, over the limit of {MAX_BODY_BYTES}; it was not read and nothing was stored. Sync more often or in smaller pages"
            );
            // No honest app declares more than it may send: worth a security event.
            let event = SecurityEvent {
                at: relay.now_ms(),
                device: None,
                member: None,
                doc: None,
                reason: format!(
                    "a request from {} declares {bytes} bytes, over the limit of {MAX_BODY_BYTES}; refused unread",
                    gate.client
                ),
            };
            let refusal = Refusal { error: AppError::TooLarge(message), event: Some(Box::new(event)) };
            Err(refuse_body(relay, gate, refusal).await)
        }
        _ => Ok(()),
    }
}

/// A phone's request at the door: a body declared over the limit is refused unread, then
/// the device behind the bearer token is identified (a refusal counts against the caller's
/// address at [`Door::Token`]) before the body is read ([`read_body`]).
pub async fn device_request(
    relay: &Arc<Relay>,
    gate: &Gate,
    headers: &HeaderMap,
    body: Body,
) -> Result<(AuthedDevice, Bytes), AppError> {
    check_declared_length(relay, gate, headers).await?;
    let device = {
        let (relay, gate, headers) = (Arc::clone(relay), gate.clone(), headers.clone());
        blocking(move || auth::identify(&relay, &headers).map_err(|refusal| gate.refuse(relay.store(), Door::Token, refusal))).await?
    };
    Ok((device, read_body(relay, gate, headers, body).await?))
}

/// Reads a phone's request body: at most [`MAX_BODY_BYTES`] (a body declared larger is
/// refused unread) within the relay's body deadline (a body still arriving then is cut,
/// 408). Both refusals count against the caller's address at [`Door::Body`].
pub async fn read_body(relay: &Arc<Relay>, gate: &Gate, headers: &HeaderMap, body: Body) -> Result<Bytes, AppError> {
    check_declared_length(relay, gate, headers).await?;
    let deadline = Duration::from_millis(u64::try_from(gate.limits().body_deadline_ms).unwrap_or(0));
    match tokio::time::timeout(deadline, axum::body::to_bytes(body, MAX_BODY_BYTES)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(error)) if is_over_limit(&error) => {
            let message = format!(
                "the request is over the limit of {MAX_BODY_BYTES} bytes; nothing was stored. Sync more often or in smaller pages"
            );
            Err(refuse_body(relay, gate, Refusal::from(AppError::TooLarge(message))).await)
        }
        Ok(Err(error)) => Err(AppError::BadRequest(format!("the request body could not be read ({error}); send it again"))),
        Err(_) => {
            let message = format!(
                "the request body did not arrive within {} seconds and was cut; nothing was stored. Sync again on a better connection or in smaller pages",
                deadline.as_secs()
            );
            Err(refuse_body(relay, gate, Refusal::from(AppError::TooSlow(message))).await)
        }
    }
}

fn is_over_limit(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// Counts a refused body against the caller's address and records it (or, over the
/// limit, answers 429).
async fn refuse_body(relay: &Arc<Relay>, gate: &Gate, refusal: Refusal) -> AppError {
    let (relay, gate) = (Arc::clone(relay), gate.clone());
    blocking(move || Err::<(), AppError>(gate.refuse(relay.store(), Door::Body, refusal)))
        .await
        .err()
        .unwrap_or_else(|| AppError::Internal("a refusal was not refused".into()))
}
