//! The live channel's messages (ADR 32): what the relay tells a watching device over
//! `GET /v1/live`, as server-sent events, and the reader of those events. Only hints: the
//! ids of readable documents that changed, never their content; the device then syncs as
//! usual, so authority and bounds stay in the sync. Shared by the relay (which writes the
//! events) and the device (which reads them): one decoder of these outside bytes, fuzzed.
//!
//! ```text
//! event: hello               the channel is open (the device syncs to catch up)
//! data: {"v":1,"heartbeat_ms":25000}
//!
//! : heartbeat                a comment, when nothing else was sent for heartbeat_ms
//!
//! event: changed             readable documents changed (coalesced): sync
//! data: {"v":1,"docs":["member/m-1a2b"],"more":false}
//!
//! event: closed              the relay ends the channel, and says whether to come back
//! data: {"v":1,"reason":"revoked"}
//! ```

use serde::{Deserialize, Serialize};

/// The version of the events' data this build speaks (the `v` of every event).
pub const LIVE_VERSION: u32 = 1;

/// The channel's path on the relay.
pub const LIVE_PATH: &str = "v1/live";

/// The relay sends something (an event, or a heartbeat comment) at least this often, so
/// mobile networks keep the connection's NAT mapping open.
pub const HEARTBEAT_MS: u64 = 25_000;

/// A device that hears nothing for this long takes the channel for dead and reconnects:
/// two heartbeats missed, and some slack for a slow network.
pub const SILENCE_MS: u64 = 2 * HEARTBEAT_MS + 10_000;

/// The most bytes one event may hold (its lines together). A longer one is malformed.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;

/// The most document ids one hint names; with more, `more` is set (the device syncs
/// everything it reads anyway).
pub const MAX_HINT_DOCS: usize = 256;

/// What the relay says on the channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LiveEvent {
    /// The channel is open; the relay heartbeats every `heartbeat_ms`.
    Hello {
        /// The relay's heartbeat interval.
        heartbeat_ms: u64,
    },
    /// Documents the device may read changed since the last hint: sync.
    Changed {
        /// Their ids (`member/m-…`), at most [`MAX_HINT_DOCS`].
        docs: Vec<String>,
        /// More changed than `docs` names.
        more: bool,
    },
    /// The relay ends the channel.
    Closed {
        /// Why, and so whether to connect again.
        reason: CloseReason,
    },
}

/// Why the relay ended a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CloseReason {
    /// The device was revoked: it must not connect again (a coordinator enrolls it anew).
    Revoked,
    /// Another channel of the same device took this one's place (one per device): the
    /// older watcher stops rather than fight for the channel.
    Replaced,
    /// The relay is stopping: connect again after a pause.
    ShuttingDown,
    /// The console session behind the channel ended (signed out, expired).
    SessionEnded,
}

impl CloseReason {
    /// Whether a watcher told this connects again later.
    pub fn reconnects(self) -> bool {
        matches!(self, CloseReason::ShuttingDown)
    }

    /// The reason in words, for the person holding the phone.
    pub fn describe(self) -> &'static str {
        match self {
            CloseReason::Revoked => "this device was revoked at the station; ask your coordinator to enroll it again",
            CloseReason::Replaced => "another watch of this device took over the live channel; only one watches at a time",
            CloseReason::ShuttingDown => "the relay is restarting; the phone connects again shortly",
            CloseReason::SessionEnded => "the console session ended; sign in again",
        }
    }
}

/// Why an event could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LiveError {
    /// An event over [`MAX_EVENT_BYTES`].
    #[error("a live event is over {MAX_EVENT_BYTES} bytes; the channel is dropped")]
    TooLarge,
    /// The data of a known event does not read.
    #[error("a live {event:?} event could not be read ({detail}); the channel is dropped")]
    Malformed {
        /// The event's name.
        event: String,
        /// What was wrong.
        detail: String,
    },
    /// The relay speaks another version of the events.
    #[error("the relay's live events are version {found}; this app reads version {LIVE_VERSION}. Update the app")]
    UnsupportedVersion {
        /// The version found.
        found: u32,
    },
}

#[derive(Serialize, Deserialize)]
struct HelloData {
    v: u32,
    heartbeat_ms: u64,
}

#[derive(Serialize, Deserialize)]
struct ChangedData {
    v: u32,
    docs: Vec<String>,
    #[serde(default)]
    more: bool,
}

#[derive(Serialize, Deserialize)]
struct ClosedData {
    v: u32,
    reason: CloseReason,
}

/// Only the version, read first so a newer relay's event is named as such.
#[derive(Deserialize)]
struct Versioned {
    v: u32,
}

impl LiveEvent {
    /// The event's name and data (one line of JSON), as the relay sends them.
    pub fn encode(&self) -> (&'static str, String) {
        let v = LIVE_VERSION;
        // Plain structs of numbers, strings and enums always serialize.
        let json = |value: Result<String, serde_json::Error>| value.unwrap_or_default();
        match self {
            LiveEvent::Hello { heartbeat_ms } => ("hello", json(serde_json::to_string(&HelloData { v, heartbeat_ms: *heartbeat_ms }))),
            LiveEvent::Changed { docs, more } => {
                ("changed", json(serde_json::to_string(&ChangedData { v, docs: docs.clone(), more: *more })))
            }
            LiveEvent::Closed { reason } => ("closed", json(serde_json::to_string(&ClosedData { v, reason: *reason }))),
        }
    }

    /// Reads an event the relay sent: `Ok(None)` for an event this build does not know
    /// (a newer relay's: ignored), an error for a known one whose data does not read.
    pub fn decode(event: &str, data: &str) -> Result<Option<LiveEvent>, LiveError> {
        if !matches!(event, "hello" | "changed" | "closed") {
            return Ok(None);
        }
        if data.len() > MAX_EVENT_BYTES {
            return Err(LiveError::TooLarge);
        }
        let malformed = |e: serde_json::Error| LiveError::Malformed { event: event.to_owned(), detail: e.to_string() };
        let Versioned { v } = serde_json::from_str(data).map_err(malformed)?;
        if v != LIVE_VERSION {
            return Err(LiveError::UnsupportedVersion { found: v });
        }
        let decoded = match event {
            "hello" => {
                let HelloData { heartbeat_ms, .. } = serde_json::from_str(data).map_err(malformed)?;
                LiveEvent::Hello { heartbeat_ms }
            }
            "changed" => {
                let ChangedData { docs, more, .. } = serde_json::from_str(data).map_err(malformed)?;
                if docs.len() > MAX_HINT_DOCS {
                    return Err(LiveError::Malformed {
                        event: event.to_owned(),
                        detail: format!("{} documents named, at most {MAX_HINT_DOCS}", docs.len()),
                    });
                }
                LiveEvent::Changed { docs, more }
            }
            _ => {
                let ClosedData { reason, .. } = serde_json::from_str(data).map_err(malformed)?;
                LiveEvent::Closed { reason }
            }
        };
        Ok(Some(decoded))
    }
}

/// Reads server-sent events line by line (the WHATWG event stream format, the parts the
/// relay uses: `event`, `data` and comments; `id` and `retry` are ignored). Feed it each
/// line without its line ending; a blank line completes an event.
#[derive(Debug, Default)]
pub struct EventReader {
    event: String,
    data: String,
    has_data: bool,
}

impl EventReader {
    /// Takes one line; returns `(name, data)` when the line completes an event.
    pub fn line(&mut self, line: &str) -> Result<Option<(String, String)>, LiveError> {
        if line.is_empty() {
            let event = std::mem::take(&mut self.event);
            let data = std::mem::take(&mut self.data);
            let complete = std::mem::take(&mut self.has_data);
            return Ok(complete.then(|| (if event.is_empty() { "message".to_owned() } else { event }, data)));
        }
        if line.starts_with(':') {
            return Ok(None);
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        if self.event.len() + self.data.len() + value.len() + 1 > MAX_EVENT_BYTES {
            *self = EventReader::default();
            return Err(LiveError::TooLarge);
        }
        match field {
            "event" => value.clone_into(&mut self.event),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            _ => {}
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Vec<Result<Option<LiveEvent>, LiveError>> {
        let mut reader = EventReader::default();
        text.split('\n')
            .filter_map(|line| reader.line(line.strip_suffix('\r').unwrap_or(line)).transpose())
            .map(|raw| raw.and_then(|(name, data)| LiveEvent::decode(&name, &data)))
            .collect()
    }

    /// The events' text is fixed: changing it breaks deployed phones and open consoles.
    #[test]
    fn live_event_snapshots() {
        assert_eq!(LiveEvent::Hello { heartbeat_ms: 25_000 }.encode(), ("hello", r#"{"v":1,"heartbeat_ms":25000}"#.to_owned()));
        assert_eq!(
            LiveEvent::Changed { docs: vec!["member/m-1".into(), "ledger/m-1".into()], more: false }.encode(),
            ("changed", r#"{"v":1,"docs":["member/m-1","ledger/m-1"],"more":false}"#.to_owned())
        );
        assert_eq!(
            LiveEvent::Closed { reason: CloseReason::ShuttingDown }.encode(),
            ("closed", r#"{"v":1,"reason":"shutting-down"}"#.to_owned())
        );
        assert_eq!(LiveEvent::Closed { reason: CloseReason::Revoked }.encode().1, r#"{"v":1,"reason":"revoked"}"#);
    }

    #[test]
    fn a_stream_reads_as_its_events_and_heartbeats_are_skipped() {
        let stream = "event: hello\r\ndata: {\"v\":1,\"heartbeat_ms\":1000}\r\n\r\n: heartbeat\n\n\
                      event: changed\ndata:{\"v\":1,\"docs\":[\"station/s-1\"]}\n\n\
                      event: closed\ndata: {\"v\":1,\"reason\":\"replaced\"}\n\n";
        assert_eq!(
            read(stream),
            vec![
                Ok(Some(LiveEvent::Hello { heartbeat_ms: 1000 })),
                Ok(Some(LiveEvent::Changed { docs: vec!["station/s-1".into()], more: false })),
                Ok(Some(LiveEvent::Closed { reason: CloseReason::Replaced })),
            ]
        );
    }

    #[test]
    fn every_event_reads_back_as_itself() {
        for event in [
            LiveEvent::Hello { heartbeat_ms: 7 },
            LiveEvent::Changed { docs: vec![], more: true },
            LiveEvent::Closed { reason: CloseReason::SessionEnded },
        ] {
            let (name, data) = event.encode();
            assert_eq!(LiveEvent::decode(name, &data), Ok(Some(event)));
        }
    }

    #[test]
    fn unknown_events_are_ignored_and_bad_ones_refused() {
        assert_eq!(read("event: surprise\ndata: {}\n\n"), vec![Ok(None)]);
        assert_eq!(read("data: x\n\n"), vec![Ok(None)], "a nameless event is a `message`, unknown here");
        assert!(matches!(read("event: changed\ndata: {\"v\":1}\n\n")[..], [Err(LiveError::Malformed { .. })]));
        assert!(matches!(read("event: changed\ndata: [\n\n")[..], [Err(LiveError::Malformed { .. })]));
        assert_eq!(
            read("event: closed\ndata: {\"v\":2,\"reason\":\"gone\"}\n\n"),
            vec![Err(LiveError::UnsupportedVersion { found: 2 })]
        );
        let many: Vec<String> = (0..=MAX_HINT_DOCS).map(|i| format!("member/m-{i}")).collect();
        let data = serde_json::json!({ "v": 1, "docs": many }).to_string();
        assert!(matches!(LiveEvent::decode("changed", &data), Err(LiveError::Malformed { .. })));
    }

    #[test]
    fn an_event_too_large_is_refused_and_the_reader_starts_over() {
        let mut reader = EventReader::default();
        let line = format!("data: {}", "x".repeat(MAX_EVENT_BYTES / 2));
        assert_eq!(reader.line(&line), Ok(None));
        assert_eq!(reader.line(&line), Err(LiveError::TooLarge));
        assert_eq!(reader.line(""), Ok(None), "nothing of the refused event is left");
    }

    #[test]
    fn only_the_relay_stopping_is_a_reason_to_come_back() {
        assert!(CloseReason::ShuttingDown.reconnects());
        for reason in [CloseReason::Revoked, CloseReason::Replaced, CloseReason::SessionEnded] {
            assert!(!reason.reconnects(), "{reason:?}");
        }
    }
}
