//! A sync transport that hands each body (a sync's, a contacts request's) to a relay's
//! router in-process.

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use timebank_engine::sync::{Transport, TransportError};

use crate::server::Server;

/// Carries sync bodies to a relay's router in-process: no socket, no HTTP framing, the
/// same handlers. Keeps what went by when asked ([`InProcess::recording`]) and can lose
/// answers ([`InProcess::drop_answers`]).
pub struct InProcess<'a> {
    server: &'a Server,
    router: Router,
    authorization: String,
    recording: bool,
    /// Every (request, response) body exchanged, when recording.
    pub exchanges: Vec<(Vec<u8>, Vec<u8>)>,
    /// How many answers to lose (the relay handles the request, the phone hears nothing).
    pub drop_answers: usize,
}

impl std::fmt::Debug for InProcess<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The authorization header holds the device token: never printed.
        f.debug_struct("InProcess").field("exchanges", &self.exchanges.len()).finish_non_exhaustive()
    }
}

impl<'a> InProcess<'a> {
    /// A transport to `router` on `server`'s runtime, with the device `token`.
    pub(crate) fn new(server: &'a Server, router: Router, token: &str) -> InProcess<'a> {
        InProcess {
            server,
            router,
            authorization: format!("Bearer {token}"),
            recording: false,
            exchanges: Vec::new(),
            drop_answers: 0,
        }
    }

    /// Keeps every exchanged body in [`InProcess::exchanges`].
    pub fn recording(mut self) -> Self {
        self.recording = true;
        self
    }
}

impl InProcess<'_> {
    /// POSTs `body` to `path` on the router with the device's token: the answer's body, or
    /// the relay's refusal.
    fn post(&self, path: &str, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        let unreachable = |e: &dyn std::fmt::Display| TransportError::Unreachable(e.to_string());
        let request = Request::builder()
            .method("POST")
            .uri(path)
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(AUTHORIZATION, &self.authorization)
            .body(Body::from(body))
            .map_err(|e| unreachable(&e))?;
        let answer = self.server.call(&self.router, request).map_err(|e| unreachable(&e))?;
        let (status, answer) = (answer.status(), answer.into_body().to_vec());
        if !status.is_success() {
            // The relay's JSON error, or the body as it came.
            let message = serde_json::from_slice::<serde_json::Value>(&answer)
                .ok()
                .and_then(|value| value["error"].as_str().map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&answer).into_owned());
            return Err(TransportError::Refused { status: status.as_u16(), message });
        }
        Ok(answer)
    }
}

impl Transport for InProcess<'_> {
    fn exchange(&mut self, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        let sent = self.recording.then(|| body.clone());
        let answer = self.post("/v1/sync", body)?;
        if let Some(sent) = sent {
            self.exchanges.push((sent, answer.clone()));
        }
        if self.drop_answers > 0 {
            self.drop_answers -= 1;
            return Err(TransportError::Unreachable("the connection dropped before the answer arrived".into()));
        }
        Ok(answer)
    }

    fn contacts(&mut self, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        self.post("/v1/contacts", body)
    }
}
