//! Sync for the apps: a cancellation token, transports that honour it (between exchanges,
//! and during one), and the background thread that runs a blocking sync as a future any
//! executor can await.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use timebank_engine::sync::{Transport, TransportError};

use crate::error::{Result, TimebankError};

/// Cancels a sync. Pass it to `sync` or `sync_async`, call `cancel()` from any thread: the
/// sync stops before its next exchange with the relay, or drops the answer of the one in
/// flight. Nothing is lost: what the relay did not acknowledge goes at the next sync. A
/// token stays cancelled; use a new one for the next sync.
#[derive(Debug, Default, uniffi::Object)]
pub struct SyncCancel {
    cancelled: AtomicBool,
}

#[uniffi::export]
impl SyncCancel {
    /// A token that is not cancelled yet.
    #[uniffi::constructor]
    pub fn new() -> Arc<Self> {
        Arc::new(SyncCancel::default())
    }

    /// Asks the sync to stop.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
    }

    /// Whether `cancel` was called.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }
}

/// A transport that stops when its token is cancelled. An answer that arrives after the
/// cancellation is dropped: the engine treats it as lost and resends next time.
pub(crate) struct Cancellable<'a> {
    pub(crate) inner: &'a mut dyn Transport,
    pub(crate) cancel: &'a SyncCancel,
}

impl Cancellable<'_> {
    /// `send` unless cancelled before it, and its answer unless cancelled meanwhile.
    fn unless_cancelled(
        &mut self,
        send: impl FnOnce(&mut dyn Transport) -> Result<Vec<u8>, TransportError>,
    ) -> Result<Vec<u8>, TransportError> {
        let stopped = || TransportError::Unreachable("the sync was cancelled".into());
        if self.cancel.is_cancelled() {
            return Err(stopped());
        }
        let answer = send(&mut *self.inner)?;
        if self.cancel.is_cancelled() {
            return Err(stopped());
        }
        Ok(answer)
    }
}

impl Transport for Cancellable<'_> {
    fn exchange(&mut self, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        self.unless_cancelled(|inner| inner.exchange(body))
    }

    fn contacts(&mut self, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        self.unless_cancelled(|inner| inner.contacts(body))
    }
}

/// How often a waiting exchange looks at its token.
const CANCEL_POLL: Duration = Duration::from_millis(50);

/// A transport whose every exchange runs on a helper thread, so a cancelled sync returns
/// at once even while the relay hangs; the helper finishes or times out on its own and
/// its answer is dropped (a lost answer, resent next time).
#[derive(Debug)]
pub struct Interruptible<'a, T> {
    transport: T,
    cancel: &'a SyncCancel,
}

impl<'a, T: Transport + Clone + Send + 'static> Interruptible<'a, T> {
    /// `transport`, interrupted when `cancel` is cancelled.
    pub fn new(transport: T, cancel: &'a SyncCancel) -> Self {
        Interruptible { transport, cancel }
    }
}

impl<T: Transport + Clone + Send + 'static> Interruptible<'_, T> {
    /// Runs `send` on a clone of the transport on a helper thread, and waits for its answer
    /// while the token is not cancelled.
    fn on_helper(
        &mut self,
        send: impl FnOnce(&mut T) -> Result<Vec<u8>, TransportError> + Send + 'static,
    ) -> Result<Vec<u8>, TransportError> {
        let mut transport = self.transport.clone();
        let (answer, answered) = mpsc::channel();
        std::thread::Builder::new()
            .name("timebank-exchange".into())
            .spawn(move || {
                let _ = answer.send(send(&mut transport));
            })
            .map_err(|e| TransportError::Unreachable(format!("could not start the exchange: {e}")))?;
        loop {
            match answered.recv_timeout(CANCEL_POLL) {
                Ok(answer) => return answer,
                Err(RecvTimeoutError::Timeout) if self.cancel.is_cancelled() => {
                    return Err(TransportError::Unreachable("the sync was cancelled".into()));
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(TransportError::Unreachable("the exchange stopped without an answer".into()));
                }
            }
        }
    }
}

impl<T: Transport + Clone + Send + 'static> Transport for Interruptible<'_, T> {
    fn exchange(&mut self, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        self.on_helper(move |transport| transport.exchange(body))
    }

    fn contacts(&mut self, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        self.on_helper(move |transport| transport.contacts(body))
    }
}

struct Slot<T> {
    result: Option<T>,
    waker: Option<Waker>,
}

/// A blocking job on its own thread, awaited as a future. Dropping the future (a Kotlin
/// coroutine or Swift task cancelled) cancels the job's token.
pub(crate) struct Background<T> {
    slot: Arc<Mutex<Slot<Result<T>>>>,
    cancel: Arc<SyncCancel>,
    done: bool,
}

impl<T: Send + 'static> Background<T> {
    /// Starts `job` on a new thread. A panic in it becomes an `Internal` error.
    pub(crate) fn spawn(cancel: Arc<SyncCancel>, job: impl FnOnce() -> Result<T> + Send + 'static) -> Self {
        let slot = Arc::new(Mutex::new(Slot { result: None, waker: None }));
        let filled = Arc::clone(&slot);
        let spawned = std::thread::Builder::new().name("timebank-sync".into()).spawn(move || {
            let result = catch_unwind(AssertUnwindSafe(job)).unwrap_or_else(|_| {
                Err(TimebankError::Internal { reason: "the sync stopped on an internal error; try again".into() })
            });
            let mut slot = filled.lock().unwrap_or_else(PoisonError::into_inner);
            slot.result = Some(result);
            if let Some(waker) = slot.waker.take() {
                waker.wake();
            }
        });
        if let Err(error) = spawned {
            let reason = format!("could not start the sync ({error}); try again");
            slot.lock().unwrap_or_else(PoisonError::into_inner).result = Some(Err(TimebankError::Internal { reason }));
        }
        Background { slot, cancel, done: false }
    }
}

impl<T> Future for Background<T> {
    type Output = Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let taken = {
            let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
            match slot.result.take() {
                Some(result) => Some(result),
                None => {
                    slot.waker = Some(cx.waker().clone());
                    None
                }
            }
        };
        match taken {
            Some(result) => {
                self.done = true;
                Poll::Ready(result)
            }
            None => Poll::Pending,
        }
    }
}

impl<T> Drop for Background<T> {
    fn drop(&mut self) {
        if !self.done {
            self.cancel.cancel();
        }
    }
}
