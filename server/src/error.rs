//! The one error type of the HTTP API, [`AppError`]: each variant maps to a status and a
//! JSON body `{"error": "<what went wrong and what to do>"}`. Internal failures are logged
//! here, in one place, and never shown to the caller.

use axum::Json;
use axum::extract::rejection::BytesRejection;
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use timebank_engine::sync::wire::{MAX_BODY_BYTES, WireError};

use crate::store::{RelayStore, SecurityEvent, StoreError};

/// Everything a request can fail with, as the caller sees it.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The body is damaged, truncated or breaks the protocol (400).
    #[error("{0}")]
    BadRequest(String),
    /// No device token, or one the relay does not accept (401).
    #[error("{0}")]
    Unauthorized(String),
    /// The device may not read or write what it sent (403).
    #[error("{0}")]
    Forbidden(String),
    /// No such document or endpoint (404).
    #[error("{0}")]
    NotFound(String),
    /// The request clashes with what the relay holds (409).
    #[error("{0}")]
    Conflict(String),
    /// The thing asked for existed but is used up or expired (410).
    #[error("{0}")]
    Gone(String),
    /// The body did not arrive within the relay's deadline (408).
    #[error("{0}")]
    TooSlow(String),
    /// The body is over the limit (413).
    #[error("{0}")]
    TooLarge(String),
    /// The body speaks another protocol version (415).
    #[error("{0}")]
    UnsupportedVersion(String),
    /// Too many refused attempts from the caller's address (429); try again after
    /// `retry_after_secs` (sent as `Retry-After`).
    #[error("{message}")]
    TooManyRequests {
        /// What happened and when to try again.
        message: String,
        /// Seconds until the address may try again.
        retry_after_secs: u64,
    },
    /// The relay is at a limit of its own (503: as many live channels open as it may hold);
    /// try again after `retry_after_secs` (sent as `Retry-After`).
    #[error("{message}")]
    Busy {
        /// What is full and what to do meanwhile.
        message: String,
        /// Seconds until trying again makes sense.
        retry_after_secs: u64,
    },
    /// The relay failed inside (500); the detail is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

/// A refused request and the security event it leaves, unless its address is being rate
/// limited (then the limiter writes at most one event per window, [`crate::limits`]).
#[derive(Debug)]
pub struct Refusal {
    /// What the caller is told.
    pub error: AppError,
    /// What the relay records, if anything (boxed: refusals travel in `Result`s).
    pub event: Option<Box<SecurityEvent>>,
}

impl Refusal {
    /// Records the event, if any, and gives the error to answer with.
    pub fn record(self, store: &dyn RelayStore) -> AppError {
        match self.event.map(|event| store.record_security_event(&event)) {
            Some(Err(error)) => error.into(),
            _ => self.error,
        }
    }
}

/// A refusal that leaves no security event.
impl From<AppError> for Refusal {
    fn from(error: AppError) -> Refusal {
        Refusal { error, event: None }
    }
}

/// A failure to read or write the store is the relay's own: no event.
impl From<StoreError> for Refusal {
    fn from(error: StoreError) -> Refusal {
        AppError::from(error).into()
    }
}

impl AppError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Gone(_) => StatusCode::GONE,
            AppError::TooSlow(_) => StatusCode::REQUEST_TIMEOUT,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedVersion(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message the caller sees.
    pub fn public_message(&self) -> String {
        match self {
            AppError::Internal(_) => {
                "the relay failed inside while handling this request; it is safe to retry later, and if it keeps failing tell the relay's operator".into()
            }
            other => other.to_string(),
        }
    }

    /// Maps a failure to read the request body: over the limit is 413, the rest 400.
    pub fn from_body(rejection: &BytesRejection) -> AppError {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::TooLarge(too_large_message())
        } else {
            AppError::BadRequest(format!("the request body could not be read ({rejection}); send it again"))
        }
    }
}

fn too_large_message() -> String {
    format!("the request is over the limit of {MAX_BODY_BYTES} bytes; nothing was stored. Sync more often or in smaller batches")
}

impl From<WireError> for AppError {
    fn from(error: WireError) -> Self {
        match error {
            WireError::Empty | WireError::Malformed(_) => {
                AppError::BadRequest(format!("{error}; nothing was stored. Check that the app is a timebank app"))
            }
            WireError::UnsupportedVersion { .. } => AppError::UnsupportedVersion(format!("{error}; nothing was stored")),
            WireError::TooLarge(_) => AppError::TooLarge(too_large_message()),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        AppError::Internal(error.to_string())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            AppError::Internal(detail) => tracing::error!(%detail, "request failed inside the relay"),
            other => tracing::info!(status = status.as_u16(), error = %other, "request refused"),
        }
        let mut response = (status, Json(serde_json::json!({ "error": self.public_message() }))).into_response();
        if let AppError::TooManyRequests { retry_after_secs, .. } | AppError::Busy { retry_after_secs, .. } = &self {
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_details_never_reach_the_caller() {
        let error = AppError::from(StoreError::Backend("disk I/O error at /srv/secret/relay.sqlite3".into()));
        assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!error.public_message().contains("/srv/secret"));
        assert!(error.public_message().contains("retry"));
    }

    #[test]
    fn wire_errors_map_to_their_statuses() {
        assert_eq!(AppError::from(WireError::Empty).status(), StatusCode::BAD_REQUEST);
        assert_eq!(AppError::from(WireError::Malformed("x".into())).status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            AppError::from(WireError::UnsupportedVersion { found: 9, supported: 1 }).status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        assert_eq!(AppError::from(WireError::TooLarge(1)).status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
}
