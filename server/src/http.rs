//! Small helpers every HTTP endpoint shares (the phones' endpoints and the console's
//! pages): a wire-format answer, and running blocking store work off the async threads.

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

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
