//! A phone that watches its relay ([`Watching`]), as an app in the foreground does: on a
//! thread of its own, the live channel held and a sync run on every hint; the test waits
//! for what a volunteer would notice (the assignment on the phone) and reads the events.

use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use timebank_engine::watch::{Watch, WatchEvent, WatchStop};

use crate::phone::Phone;

/// What the watching thread saw: each event, or the error that ended the watch.
pub type Seen = Result<WatchEvent, String>;

/// A phone watching its relay on a thread.
#[derive(Debug)]
pub struct Watching {
    phone: Arc<Mutex<Phone>>,
    events: Receiver<Seen>,
    stop: WatchStop,
    thread: Option<JoinHandle<()>>,
}

impl Watching {
    /// Starts watching the relay `phone` enrolled with.
    pub fn start(phone: Phone) -> Watching {
        let mut watch = Watch::start(phone.link()).unwrap();
        let stop = watch.stopper();
        let phone = Arc::new(Mutex::new(phone));
        let (seen, events) = mpsc::channel();
        let syncing = Arc::clone(&phone);
        let thread = std::thread::Builder::new()
            .name("test-watch".into())
            .spawn(move || {
                loop {
                    let next = watch.next(&mut || syncing.lock().unwrap_or_else(PoisonError::into_inner).sync());
                    let event = match next {
                        Ok(Some(event)) => Ok(event),
                        Ok(None) => return,
                        Err(error) => Err(error.to_string()),
                    };
                    let ended = event.is_err();
                    if seen.send(event).is_err() || ended {
                        return;
                    }
                }
            })
            .unwrap();
        Watching { phone, events, stop, thread: Some(thread) }
    }

    /// The phone (its engine), between syncs.
    pub fn phone(&self) -> MutexGuard<'_, Phone> {
        self.phone.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next thing the watch saw, within `within`; `None` if nothing came.
    pub fn next_event(&self, within: Duration) -> Option<Seen> {
        self.events.recv_timeout(within).ok()
    }

    /// Waits until `ready` holds for the phone, checked after each event of the watch (the
    /// test calls it when it does not hold yet); returns the events seen until then, and
    /// how long it took. Panics after `within`.
    pub fn until(&self, within: Duration, ready: impl Fn(&Phone) -> bool) -> (Vec<Seen>, Duration) {
        let started = Instant::now();
        let mut seen = Vec::new();
        loop {
            let left = within.checked_sub(started.elapsed()).unwrap_or_else(|| panic!("not within {within:?}; saw {seen:?}"));
            let event = self.next_event(left).unwrap_or_else(|| panic!("not within {within:?}; saw {seen:?}"));
            seen.push(event);
            if ready(&self.phone()) {
                return (seen, started.elapsed());
            }
        }
    }

    /// Waits for an event that `wanted` picks out; returns the events before it and it.
    pub fn until_event(&self, within: Duration, wanted: impl Fn(&Seen) -> bool) -> Vec<Seen> {
        let started = Instant::now();
        let mut seen = Vec::new();
        loop {
            let left = within.checked_sub(started.elapsed()).unwrap_or_else(|| panic!("not within {within:?}; saw {seen:?}"));
            let event = self.next_event(left).unwrap_or_else(|| panic!("not within {within:?}; saw {seen:?}"));
            let done = wanted(&event);
            seen.push(event);
            if done {
                return seen;
            }
        }
    }

    /// Stops watching (as the app leaving the foreground does) and gives the phone back.
    pub fn stop(mut self) -> Phone {
        self.stop.stop();
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
        let phone = Arc::clone(&self.phone);
        drop(self);
        Arc::try_unwrap(phone).map(|phone| phone.into_inner().unwrap_or_else(PoisonError::into_inner)).unwrap()
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        self.stop.stop();
    }
}
