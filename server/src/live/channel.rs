//! One open live channel ([`Channel`]): who reads it ([`Reader`]), the hints waiting to go
//! out, and the stream of server-sent events that sends them: `hello` first, then at most
//! one `changed` per coalescing interval with everything gathered meanwhile, heartbeats
//! when quiet, and `closed` with the reason when the hub closes it.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use timebank_engine::DocId;
use timebank_engine::model::StationId;
use timebank_engine::sync::live::{CloseReason, LiveEvent, MAX_HINT_DOCS};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::authority::Access;
use crate::live::Hub;
use crate::relay::Relay;
use crate::store::{DeviceRecord, MemberRecord, StoreResult};

/// Whether a console session still stands (not signed out, not expired): asked when the
/// hub sweeps its channels.
pub type SessionCheck = Box<dyn Fn(&Relay) -> StoreResult<bool> + Send + Sync>;

/// Who reads a channel, which decides what it hears.
pub enum Reader {
    /// An enrolled device: hints for the documents its member may read.
    Device {
        /// The device's id (its channel closes when it is revoked).
        device: String,
        /// Its member.
        member: Box<MemberRecord>,
        /// What the member may read (computed again when a member joins the station).
        access: RwLock<Access>,
    },
    /// A console page: hints for every document of the stations its account reads.
    Console {
        /// Those stations: a coordinator's one, a district's (as they were when the channel
        /// opened), or every station (`None`, the city).
        stations: Option<Vec<StationId>>,
        /// Whether the session still stands.
        session: SessionCheck,
    },
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reader::Device { device, member, .. } => {
                f.debug_struct("Device").field("device", device).field("member", &member.id).finish_non_exhaustive()
            }
            Reader::Console { stations, .. } => f.debug_struct("Console").field("stations", stations).finish_non_exhaustive(),
        }
    }
}

impl Reader {
    /// A device's reader.
    pub fn device(device: &DeviceRecord, member: MemberRecord, access: Access) -> Reader {
        Reader::Device { device: device.id.clone(), member: Box::new(member), access: RwLock::new(access) }
    }

    /// The one station whose documents it may read; `None`: several or every one (the hub
    /// asks [`Reader::may_read`] of each document then).
    pub fn station(&self) -> Option<&StationId> {
        match self {
            Reader::Device { member, .. } => Some(&member.station),
            Reader::Console { stations: Some(stations), .. } if stations.len() == 1 => stations.first(),
            Reader::Console { .. } => None,
        }
    }

    /// The device, for a device's channel.
    pub fn device_id(&self) -> Option<&str> {
        match self {
            Reader::Device { device, .. } => Some(device),
            Reader::Console { .. } => None,
        }
    }

    /// Whether it may hear of `doc`, a document of `station`: a device by its member's
    /// access; a console page reads every document of its stations.
    pub fn may_read(&self, station: &StationId, doc: &DocId) -> bool {
        match self {
            Reader::Device { access, .. } => access.read().unwrap_or_else(PoisonError::into_inner).can_read(doc),
            Reader::Console { stations, .. } => stations.as_ref().is_none_or(|stations| stations.contains(station)),
        }
    }
}

/// Hints waiting to go out, and whether the channel is closing.
#[derive(Debug, Default)]
struct Pending {
    docs: BTreeSet<String>,
    more: bool,
    closed: Option<CloseReason>,
}

/// One open channel.
#[derive(Debug)]
pub struct Channel {
    id: u64,
    reader: Reader,
    pending: Mutex<Pending>,
    wake: Notify,
}

impl Channel {
    pub(super) fn new(id: u64, reader: Reader) -> Channel {
        Channel { id, reader, pending: Mutex::default(), wake: Notify::new() }
    }

    /// Its number in the hub.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Who reads it.
    pub fn reader(&self) -> &Reader {
        &self.reader
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `doc` to the next hint.
    pub(super) fn hint(&self, doc: &DocId) {
        {
            let mut pending = self.pending();
            if pending.closed.is_some() {
                return;
            }
            if pending.docs.len() < MAX_HINT_DOCS {
                pending.docs.insert(doc.to_string());
            } else if !pending.docs.contains(&doc.to_string()) {
                pending.more = true;
            }
        }
        self.wake.notify_one();
    }

    /// Ends the channel: its stream says `closed` with `reason` and stops (the first
    /// reason stands).
    pub(super) fn close(&self, reason: CloseReason) {
        self.pending().closed.get_or_insert(reason);
        self.wake.notify_one();
    }

    /// The events to send: what waits, or the close, or nothing yet.
    fn take(&self) -> Option<LiveEvent> {
        let mut pending = self.pending();
        if let Some(reason) = pending.closed {
            return Some(LiveEvent::Closed { reason });
        }
        if pending.docs.is_empty() {
            return None;
        }
        let docs = std::mem::take(&mut pending.docs).into_iter().collect();
        Some(LiveEvent::Changed { docs, more: std::mem::take(&mut pending.more) })
    }

    fn is_closed(&self) -> bool {
        self.pending().closed.is_some()
    }

    fn has_hints(&self) -> bool {
        !self.pending().docs.is_empty()
    }
}

/// The stream's state; leaving the hub when the stream is dropped (the device went away,
/// or the channel closed).
struct Open {
    hub: Arc<Hub>,
    channel: Arc<Channel>,
    greeted: bool,
    ended: bool,
    last_hint: Option<Instant>,
}

impl Drop for Open {
    fn drop(&mut self) {
        self.hub.forget(&self.channel);
    }
}

/// `channel` as a response of server-sent events, heartbeating every `heartbeat` when
/// quiet and sending at most one hint per `coalesce`.
pub(super) fn respond(
    hub: Arc<Hub>,
    channel: Arc<Channel>,
    heartbeat: Duration,
    coalesce: Duration,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let heartbeat_ms = u64::try_from(heartbeat.as_millis()).unwrap_or(u64::MAX);
    let open = Open { hub, channel, greeted: false, ended: false, last_hint: None };
    let events = futures_util::stream::unfold(open, move |mut open| async move {
        if open.ended {
            return None;
        }
        if !open.greeted {
            open.greeted = true;
            return Some((Ok(sse(&LiveEvent::Hello { heartbeat_ms })), open));
        }
        loop {
            let due = open.last_hint.map(|last| last + coalesce).filter(|due| *due > Instant::now());
            match due {
                // Hints wait out the interval; a close does not.
                Some(due) if !open.channel.is_closed() && open.channel.has_hints() => {
                    tokio::select! {
                        () = tokio::time::sleep_until(due) => {}
                        () = open.channel.wake.notified() => {}
                    }
                    continue;
                }
                _ => {}
            }
            match open.channel.take() {
                Some(event) => {
                    open.ended = matches!(event, LiveEvent::Closed { .. });
                    open.last_hint = Some(Instant::now());
                    return Some((Ok(sse(&event)), open));
                }
                None => open.channel.wake.notified().await,
            }
        }
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(heartbeat).text("heartbeat"))
}

fn sse(event: &LiveEvent) -> Event {
    let (name, data) = event.encode();
    Event::default().event(name).data(data)
}
