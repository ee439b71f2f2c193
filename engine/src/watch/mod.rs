//! Watching the relay (feature `http`, ADR 32): a [`Watch`] holds the device's live
//! channel while the app is in the foreground and syncs when the relay hints that something
//! the phone reads changed, so a dispatch reaches an online phone within a second without
//! polling. A thread of its own holds the connection ([`connection`]) and comes back after
//! a loss with growing, jittered waits ([`backoff`]); hints that arrive while a sync runs
//! are gathered into the next one. The engine stays the caller's: [`Watch::next`] is handed
//! the sync to run (the CLI owns its engine; the phone bindings lock theirs per step).
//!
//! ```no_run
//! # fn run(engine: &mut timebank_engine::Engine) -> timebank_engine::Result<()> {
//! use timebank_engine::http::HttpTransport;
//! use timebank_engine::watch::Watch;
//! let link = engine.relay_link()?.expect("an enrolled phone");
//! let mut transport = HttpTransport::new(&link);
//! let mut watch = Watch::start(link)?;
//! while let Some(event) = watch.next(&mut || engine.sync(&mut transport))? {
//!     println!("{event:?}"); // listeners registered with `engine.subscribe` fire as syncs bring changes
//! }
//! # Ok(()) }
//! ```

mod backoff;
mod connection;

use std::collections::BTreeSet;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;

pub use backoff::Backoff;
use connection::{Connection, Failure};

use crate::sync::SyncReport;
use crate::sync::TransportError;
use crate::sync::live::{CloseReason, LiveError, LiveEvent};
use crate::{Error, RelayLink, Result};

/// A connection held this long counts as good: the next loss waits from the start again.
const HELD: Duration = Duration::from_secs(10);

/// What a watch reports, one at a time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum WatchEvent {
    /// The live channel is open; a sync follows (it catches up on what changed meanwhile).
    Connected,
    /// A sync ran, after connecting or on the relay's hint naming `hinted`.
    Synced {
        /// The documents the relay said changed (none after connecting).
        hinted: Vec<String>,
        /// What the sync did.
        report: SyncReport,
    },
    /// The sync failed; nothing is lost, and the next hint or connection syncs again.
    SyncFailed {
        /// Why, in words.
        message: String,
    },
    /// The channel was lost; the watch connects again after `retry_in_ms`.
    Disconnected {
        /// Why, in words.
        message: String,
        /// How long until the next try.
        retry_in_ms: u64,
    },
}

/// What the connection's thread hands the watch.
#[derive(Debug)]
enum Incoming {
    Connected,
    Hint(Vec<String>),
    Lost { message: String, retry_in: Duration },
    Ended(Error),
    Stopped,
}

/// Stops a watch from any thread ([`WatchStop::stop`]): a read in progress ends at once.
#[derive(Clone, Debug)]
pub struct WatchStop(Arc<Stopping>);

#[derive(Debug)]
struct Stopping {
    stopped: Mutex<bool>,
    woken: Condvar,
    agent: ureq::Agent,
    wake: Mutex<Sender<Incoming>>,
}

impl WatchStop {
    /// Stops the watch: the connection closes, a wait before reconnecting ends, and
    /// [`Watch::next`] returns `None` (after the sync it may be running).
    pub fn stop(&self) {
        let mut stopped = self.0.stopped.lock().unwrap_or_else(PoisonError::into_inner);
        if *stopped {
            return;
        }
        *stopped = true;
        self.0.woken.notify_all();
        drop(stopped);
        self.0.agent.clone().shutdown();
        let _ = self.0.wake.lock().unwrap_or_else(PoisonError::into_inner).send(Incoming::Stopped);
    }

    /// Whether the watch was stopped.
    pub fn is_stopped(&self) -> bool {
        *self.0.stopped.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits `wait`, or less if stopped meanwhile; true if stopped.
    fn sleep(&self, wait: Duration) -> bool {
        let stopped = self.0.stopped.lock().unwrap_or_else(PoisonError::into_inner);
        let (stopped, _) = self.0.woken.wait_timeout_while(stopped, wait, |stopped| !*stopped).unwrap_or_else(PoisonError::into_inner);
        *stopped
    }
}

/// A device watching the relay.
#[derive(Debug)]
pub struct Watch {
    incoming: Receiver<Incoming>,
    stop: WatchStop,
    /// Set after connecting: the catch-up sync is due.
    catch_up: bool,
    /// Something read while gathering hints, handed out next.
    held: Option<Incoming>,
    ended: bool,
}

impl Watch {
    /// Starts watching the relay of `link` (the device's, from `Engine::relay_link`).
    pub fn start(link: RelayLink) -> Result<Watch> {
        crate::http::check_relay_url(&link.url)?;
        let (sender, incoming) = mpsc::channel();
        let stop = WatchStop(Arc::new(Stopping {
            stopped: Mutex::new(false),
            woken: Condvar::new(),
            agent: connection::agent(),
            wake: Mutex::new(sender.clone()),
        }));
        let holder = stop.clone();
        std::thread::Builder::new().name("timebank-watch".into()).spawn(move || hold(&link, &holder, &sender))?;
        Ok(Watch { incoming, stop, catch_up: false, held: None, ended: false })
    }

    /// A handle that stops this watch from another thread.
    pub fn stopper(&self) -> WatchStop {
        self.stop.clone()
    }

    /// Waits for the next event, running `sync` when the relay hints (and once after each
    /// connection; its error, in words, becomes [`WatchEvent::SyncFailed`]). `Ok(None)` once
    /// stopped; an error when the watch cannot go on (the device was revoked, another watch
    /// of it took over, the relay speaks a newer version), after which it returns `Ok(None)`.
    pub fn next<E: std::fmt::Display>(
        &mut self,
        sync: &mut dyn FnMut() -> std::result::Result<SyncReport, E>,
    ) -> Result<Option<WatchEvent>> {
        if self.ended {
            return Ok(None);
        }
        if std::mem::take(&mut self.catch_up) {
            return Ok(self.sync(Vec::new(), sync));
        }
        let incoming = match self.held.take() {
            Some(held) => held,
            None => self.incoming.recv().unwrap_or(Incoming::Stopped),
        };
        match incoming {
            Incoming::Connected => {
                self.catch_up = true;
                Ok(Some(WatchEvent::Connected))
            }
            Incoming::Hint(docs) => {
                let mut hinted: BTreeSet<String> = docs.into_iter().collect();
                // Hints that came while the last sync ran go in this one.
                while let Ok(more) = self.incoming.try_recv() {
                    match more {
                        Incoming::Hint(docs) => hinted.extend(docs),
                        other => {
                            self.held = Some(other);
                            break;
                        }
                    }
                }
                Ok(self.sync(hinted.into_iter().collect(), sync))
            }
            Incoming::Lost { message, retry_in } => {
                Ok(Some(WatchEvent::Disconnected { message, retry_in_ms: u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX) }))
            }
            Incoming::Ended(error) => {
                self.ended = true;
                self.stop.stop();
                Err(error)
            }
            Incoming::Stopped => {
                self.ended = true;
                Ok(None)
            }
        }
    }

    fn sync<E: std::fmt::Display>(
        &mut self,
        hinted: Vec<String>,
        sync: &mut dyn FnMut() -> std::result::Result<SyncReport, E>,
    ) -> Option<WatchEvent> {
        if self.stop.is_stopped() {
            self.ended = true;
            return None;
        }
        let synced = sync();
        if self.stop.is_stopped() {
            // Stopped meanwhile (the sync may have been cancelled with it): nothing to report.
            self.ended = true;
            return None;
        }
        Some(match synced {
            Ok(report) => WatchEvent::Synced { hinted, report },
            Err(error) => WatchEvent::SyncFailed { message: error.to_string() },
        })
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.stop();
    }
}

/// How one connection ended.
enum Ending {
    /// Lost: connect again.
    Lost(String),
    /// The watch cannot go on.
    Final(Error),
    /// Nobody listens any more.
    Gone,
}

/// The connection's thread: connect, pass hints on, come back after a loss.
fn hold(link: &RelayLink, stop: &WatchStop, events: &Sender<Incoming>) {
    let mut backoff = Backoff::default();
    while !stop.is_stopped() {
        let (message, floor) = match Connection::open(&stop.0.agent, link) {
            Ok(mut connection) => {
                if events.send(Incoming::Connected).is_err() {
                    return;
                }
                let opened = Instant::now();
                let ending = listen(&mut connection, events);
                if opened.elapsed() >= HELD {
                    backoff.reset();
                }
                match ending {
                    Ending::Lost(message) => (message, Duration::ZERO),
                    Ending::Final(error) => {
                        let _ = events.send(Incoming::Ended(error));
                        return;
                    }
                    Ending::Gone => return,
                }
            }
            Err(Failure::Refused { status, message, retry_after }) if status == 429 || status >= 500 => {
                (format!("the relay is busy ({status}): {message}"), retry_after.unwrap_or_default())
            }
            Err(Failure::Refused { status, message, .. }) => {
                let _ = events.send(Incoming::Ended(Error::Transport(TransportError::Refused { status, message })));
                return;
            }
            Err(Failure::Lost(message)) => (format!("could not reach the relay ({message})"), Duration::ZERO),
            Err(Failure::Unreadable(error)) => (error.to_string(), Duration::ZERO),
        };
        if stop.is_stopped() {
            return;
        }
        let wait = backoff.next(random(), floor);
        if events.send(Incoming::Lost { message, retry_in: wait }).is_err() || stop.sleep(wait) {
            return;
        }
    }
}

/// Passes the relay's hints on until the connection ends.
fn listen(connection: &mut Connection, events: &Sender<Incoming>) -> Ending {
    loop {
        let event = match connection.next_event() {
            Ok(Some(event)) => event,
            Ok(None) => return Ending::Lost("the relay ended the live channel".into()),
            Err(Failure::Unreadable(error @ LiveError::UnsupportedVersion { .. })) => {
                return Ending::Final(Error::Protocol(error.to_string()));
            }
            Err(Failure::Unreadable(error)) => return Ending::Lost(error.to_string()),
            Err(Failure::Lost(message) | Failure::Refused { message, .. }) => return Ending::Lost(message),
        };
        match event {
            LiveEvent::Hello { .. } => {}
            LiveEvent::Changed { docs, .. } => {
                if events.send(Incoming::Hint(docs)).is_err() {
                    return Ending::Gone;
                }
            }
            LiveEvent::Closed { reason } if reason.reconnects() => return Ending::Lost(reason.describe().into()),
            LiveEvent::Closed { reason } => {
                let status = if reason == CloseReason::Replaced { 409 } else { 401 };
                return Ending::Final(Error::Transport(TransportError::Refused { status, message: reason.describe().into() }));
            }
        }
    }
}

/// 64 random bits for the jitter (the clock's nanoseconds if the system has none to give).
fn random() -> u64 {
    getrandom::u64().unwrap_or_else(|_| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| u64::from(d.subsec_nanos()))
    })
}
