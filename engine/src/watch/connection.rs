//! One connection of the live channel over HTTP ([`Connection`]): `GET /v1/live` with the
//! device token, then the relay's events read a line at a time (each event bounded), with
//! the connection taken for dead after [`SILENCE_MS`] without a byte. Its agent can be shut
//! down from another thread, which ends a read in progress at once.

use std::io::{BufRead, BufReader};
use std::time::Duration;

use crate::RelayLink;
use crate::http::{check_relay_url, endpoint, relay_message};
use crate::sync::live::{EventReader, LIVE_PATH, LiveError, LiveEvent, MAX_EVENT_BYTES, SILENCE_MS};

/// How long connecting and the relay's first answer may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Why a connection could not be opened or ended.
#[derive(Debug)]
pub(super) enum Failure {
    /// The relay answered with an error (a revoked device, a full relay).
    Refused {
        /// HTTP status.
        status: u16,
        /// The relay's explanation.
        message: String,
        /// How long the relay asked to wait (`Retry-After`).
        retry_after: Option<Duration>,
    },
    /// No connection, or it broke (no signal, relay down, silence).
    Lost(String),
    /// The relay sent something this build cannot read.
    Unreadable(LiveError),
}

/// The agent live connections go through: no overall deadline (a channel is held for
/// hours), silence past [`SILENCE_MS`] ends one.
pub(super) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_recv_response(Some(CONNECT_TIMEOUT))
        .timeout_per_read(Some(Duration::from_millis(SILENCE_MS)))
        .build()
        .into()
}

/// An open channel.
pub(super) struct Connection {
    lines: BufReader<ureq::BodyReader<'static>>,
    events: EventReader,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").finish_non_exhaustive()
    }
}

impl Connection {
    /// Opens the channel of the device `link` names.
    pub(super) fn open(agent: &ureq::Agent, link: &RelayLink) -> Result<Connection, Failure> {
        check_relay_url(&link.url).map_err(|e| Failure::Refused { status: 0, message: e.to_string(), retry_after: None })?;
        let response = agent
            .get(&endpoint(&link.url, LIVE_PATH))
            .header("authorization", &format!("Bearer {}", link.token))
            .header("accept", "text/event-stream")
            .call()
            .map_err(|e| Failure::Lost(e.to_string()))?;
        let status = response.status().as_u16();
        if status == 200 {
            return Ok(Connection { lines: BufReader::new(response.into_body().into_reader()), events: EventReader::default() });
        }
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let mut body = response.into_body();
        let bytes = body.with_config().limit(MAX_EVENT_BYTES as u64).read_to_vec().unwrap_or_default();
        Err(Failure::Refused { status, message: relay_message(&bytes), retry_after })
    }

    /// The next event the relay sends (heartbeats and events this build does not know are
    /// skipped); `None` when the relay ended the stream.
    pub(super) fn next_event(&mut self) -> Result<Option<LiveEvent>, Failure> {
        loop {
            let Some(line) = self.line()? else { return Ok(None) };
            if let Some((name, data)) = self.events.line(&line).map_err(Failure::Unreadable)?
                && let Some(event) = LiveEvent::decode(&name, &data).map_err(Failure::Unreadable)?
            {
                return Ok(Some(event));
            }
        }
    }

    /// One line without its ending, at most [`MAX_EVENT_BYTES`]; `None` at the end.
    fn line(&mut self) -> Result<Option<String>, Failure> {
        let mut line = Vec::new();
        loop {
            let buffer = self.lines.fill_buf().map_err(|e| Failure::Lost(format!("the live channel broke: {e}")))?;
            if buffer.is_empty() {
                return Ok((!line.is_empty()).then(|| text(&line)));
            }
            let (taken, complete) = match buffer.iter().position(|&b| b == b'\n') {
                Some(end) => (end + 1, true),
                None => (buffer.len(), false),
            };
            line.extend_from_slice(&buffer[..taken]);
            self.lines.consume(taken);
            if line.len() > MAX_EVENT_BYTES {
                return Err(Failure::Unreadable(LiveError::TooLarge));
            }
            if complete {
                return Ok(Some(text(&line)));
            }
        }
    }
}

/// A line's text without its `\n` or `\r\n`.
fn text(line: &[u8]) -> String {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    String::from_utf8_lossy(line).into_owned()
}
