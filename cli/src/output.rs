//! How results and errors are printed: plain text for people, JSON for scripts.

use std::time::Duration;

use chrono::{DateTime, Local, Utc};
use serde::Serialize;
use timebank_engine::model::MemberId;
use timebank_engine::sync::TransportError;
use timebank_engine::watch::WatchEvent;
use timebank_engine::{Error, VisitView};

/// Prints `value` as JSON when `json`, else the text `text` builds.
pub fn emit<T: Serialize>(json: bool, value: &T, text: impl FnOnce() -> String) {
    if json {
        match serde_json::to_string_pretty(value) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("error: could not print the result as JSON: {e}"),
        }
    } else {
        println!("{}", text());
    }
}

/// Lines of a listing, one per item, or `empty` when there are none.
pub fn listing(lines: impl Iterator<Item = String>, empty: &str) -> String {
    let lines: Vec<String> = lines.collect();
    if lines.is_empty() { empty.to_owned() } else { lines.join("\n") }
}

/// One visit as `timebank visits --json` prints it.
#[derive(Debug, Serialize)]
pub struct VisitRow<'a> {
    pub id: &'a str,
    pub elder: &'a str,
    pub elder_name: Option<&'a str>,
    pub service: &'a str,
    pub order: Option<&'a str>,
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
    pub minutes: Option<u32>,
    pub state: &'a str,
    pub source: &'a str,
    pub note: &'a str,
    pub confirmed_by: Option<&'a str>,
    pub recorded_at: DateTime<Utc>,
}

impl<'a> From<&'a VisitView> for VisitRow<'a> {
    fn from(view: &'a VisitView) -> Self {
        let v = &view.visit;
        VisitRow {
            id: v.id.as_str(),
            elder: v.elder.as_str(),
            elder_name: view.elder_name.as_deref(),
            service: &v.service,
            order: v.order.as_ref().map(|o| o.as_str()),
            start: v.check_in,
            end: v.check_out,
            minutes: view.minutes,
            state: &view.state_label,
            source: v.source.as_str(),
            note: &v.note,
            confirmed_by: v.confirmation.as_ref().map(|c| c.by.as_str()),
            recorded_at: v.recorded_at,
        }
    }
}

/// A time in this machine's time zone (`TZ`), to the minute.
pub fn local(t: DateTime<Utc>) -> String {
    t.with_timezone(&Local).format("%Y-%m-%d %H:%M").to_string()
}

/// An order's time slot in this machine's zone (" on 2026-12-03 09:00–11:00"), or nothing.
pub fn slot_words(slot: Option<timebank_engine::model::Slot>) -> String {
    slot.map_or_else(String::new, |s| {
        let (start, end) = (s.start.with_timezone(&Local), s.end.with_timezone(&Local));
        let until = if start.date_naive() == end.date_naive() { end.format("%H:%M") } else { end.format("%Y-%m-%d %H:%M") };
        format!(" on {}–{until}", start.format("%Y-%m-%d %H:%M"))
    })
}

/// Minutes as hours and minutes ("1 h 30 min").
pub fn duration(minutes: i64) -> String {
    let sign = if minutes < 0 { "-" } else { "" };
    let m = minutes.abs();
    match (m / 60, m % 60) {
        (0, m) => format!("{sign}{m} min"),
        (h, 0) => format!("{sign}{h} h"),
        (h, m) => format!("{sign}{h} h {m} min"),
    }
}

/// A one-line text summary of a visit.
pub fn visit_line(view: &VisitView) -> String {
    let v = &view.visit;
    let when = match v.check_out {
        Some(end) => format!("{} – {}", local(v.check_in), end.with_timezone(&Local).format("%H:%M")),
        None => format!("{} – (checked in)", local(v.check_in)),
    };
    let length = view.minutes.map(|m| format!(" ({})", duration(i64::from(m)))).unwrap_or_default();
    format!(
        "{}  {when}{length}  {} for {}  [{}]",
        v.id,
        v.service,
        elder_label(&v.elder, view.elder_name.as_deref()),
        view.state_label
    )
}

/// Who is served, as a line shows it: the elder's name with the id (which commands take)
/// when the dispatch carried the name, else the id alone.
pub fn elder_label(elder: &MemberId, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("{name} ({elder})"),
        None => elder.to_string(),
    }
}

/// One event of `timebank watch`, in words.
pub fn watch_line(relay: &str, event: &WatchEvent) -> String {
    match event {
        WatchEvent::Connected => format!("watching {relay}: connected; syncing to catch up (Ctrl-C stops)"),
        WatchEvent::Synced { hinted, report } => {
            let why = if hinted.is_empty() { "caught up".to_owned() } else { format!("{} changed", hinted.join(", ")) };
            format!(
                "{why}: synced, {} change(s) received in {} document(s), {} sent",
                report.changes_received, report.docs_changed, report.changes_sent
            )
        }
        WatchEvent::SyncFailed { message } => format!("the sync failed ({message}); the next change or connection syncs again"),
        WatchEvent::Disconnected { message, retry_in_ms } => {
            format!("lost the relay ({message}); trying again in {:.1} s", Duration::from_millis(*retry_in_ms).as_secs_f64())
        }
    }
}

/// The exit status for an error: 1 for what the user can fix, 3 for a store problem,
/// 4 when the relay could not be reached, 5 when the relay refused.
pub fn exit_code(error: &Error) -> u8 {
    match error {
        Error::Invalid(_) | Error::NotAllowed(_) | Error::NotFound { .. } | Error::NoStore(_) | Error::AlreadyInitialised(_) => 1,
        Error::Transport(TransportError::Unreachable(_)) => 4,
        Error::Transport(TransportError::Refused { .. }) => 5,
        _ => 3,
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: String,
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
}

/// An error in plain words: a refusal says what the relay said, without its HTTP status
/// (scripts find the status in `--json` output).
pub fn words(error: &Error) -> String {
    match error {
        Error::Transport(TransportError::Refused { message, .. }) => format!("the relay refused: {message}"),
        other => other.to_string(),
    }
}

/// Prints an error to stderr (as JSON too, when `json`).
pub fn print_error(error: &Error, json: bool) {
    if json {
        let kind = match error {
            Error::Invalid(_) => "invalid",
            Error::NotAllowed(_) => "not-allowed",
            Error::NotFound { .. } => "not-found",
            Error::NoStore(_) => "no-store",
            Error::AlreadyInitialised(_) => "already-initialised",
            Error::StoreTooNew { .. } | Error::DocumentTooNew { .. } => "too-new",
            Error::Corrupt { .. } => "corrupt",
            Error::Transport(TransportError::Unreachable(_)) => "unreachable",
            Error::Transport(TransportError::Refused { .. }) => "refused",
            Error::Protocol(_) => "protocol",
            _ => "storage",
        };
        let status = match error {
            Error::Transport(TransportError::Refused { status, .. }) => Some(*status),
            _ => None,
        };
        let body = ErrorBody { error: words(error), kind, status };
        eprintln!("{}", serde_json::to_string(&body).unwrap_or_else(|_| words(error)));
    } else {
        eprintln!("error: {}", words(error));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_reads_without_its_http_status() {
        let refused = Error::Transport(TransportError::Refused {
            status: 410,
            message: "this enrollment code was already used 2 hours ago; ask the coordinator for a new code".into(),
        });
        let text = words(&refused);
        assert_eq!(text, "the relay refused: this enrollment code was already used 2 hours ago; ask the coordinator for a new code");
        assert!(!text.contains("410"));
        assert_eq!(exit_code(&refused), 5, "still the refusal's exit code");
    }
}
