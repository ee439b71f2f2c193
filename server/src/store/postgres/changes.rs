//! Hearing other relays' document writes: one connection per store that `LISTEN`s on
//! `timebank_documents` (each write's transaction notifies it with the document's id, from
//! a trigger on `document_versions`) and hands each id to every subscriber. A subscriber
//! that does not keep up misses ids rather than growing a queue; a lost connection is
//! opened again after a pause, and what was written meanwhile is not heard (a cached copy
//! is checked by its generation before every use anyway).

use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Poll, ready};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_postgres::tls::NoTlsStream;
use tokio_postgres::{AsyncMessage, Config, Connection, NoTls, Socket};

use super::Fault;
use crate::store::DocumentChanges;

/// The notification channel every document write notifies.
pub(super) const CHANNEL: &str = "timebank_documents";

/// Ids one subscriber may have waiting before more are dropped.
const QUEUE: usize = 1024;

/// How long to wait before opening a lost listening connection again.
const RECONNECT_PAUSE: Duration = Duration::from_secs(1);

type Subscribers = Arc<Mutex<Vec<mpsc::Sender<String>>>>;

/// The store's listening connection, opened at the first subscription.
#[derive(Debug)]
pub(super) struct Listener {
    config: Config,
    subscribers: Subscribers,
    /// Whether the listening task runs; held while the first subscription waits for it.
    started: tokio::sync::Mutex<bool>,
}

impl Listener {
    pub(super) fn new(config: Config) -> Listener {
        Listener { config, subscribers: Arc::default(), started: tokio::sync::Mutex::new(false) }
    }

    /// A new subscriber's queue. The first one starts the listening task and returns once
    /// it listens (or could not connect).
    pub(super) async fn subscribe(&self, handle: &tokio::runtime::Handle) -> Result<DocumentChanges, Fault> {
        let mut started = self.started.lock().await;
        let (sender, receiver) = mpsc::channel(QUEUE);
        if !*started {
            let (listening, ready) = oneshot::channel();
            handle.spawn(listen(self.config.clone(), Arc::clone(&self.subscribers), listening));
            match ready.await {
                Ok(Ok(())) => *started = true,
                Ok(Err(fault)) => return Err(fault),
                Err(_) => return Err(Fault::Store(crate::store::StoreError::Backend("the listening task ended".into()))),
            }
        }
        self.subscribers.lock().unwrap_or_else(PoisonError::into_inner).push(sender);
        Ok(receiver)
    }
}

/// Listens until the store's runtime stops, connecting again whenever the connection is
/// lost. Tells `listening` once the first `LISTEN` is in place, or why it could not be.
async fn listen(config: Config, subscribers: Subscribers, listening: oneshot::Sender<Result<(), Fault>>) {
    let mut listening = Some(listening);
    loop {
        let outcome = async {
            let (client, connection) = config.connect(NoTls).await?;
            let forwarding = tokio::spawn(forward(connection, Arc::clone(&subscribers)));
            client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
            if let Some(listening) = listening.take() {
                let _ = listening.send(Ok(()));
            }
            let ended = forwarding.await;
            drop(client);
            match ended {
                Ok(result) => result.map_err(Fault::from),
                Err(_) => Ok(()),
            }
        }
        .await;
        match (outcome, listening.take()) {
            (Err(fault), Some(first)) => {
                let _ = first.send(Err(fault));
                return;
            }
            (Err(Fault::Db(error)), None) => {
                tracing::warn!(error = %super::describe(&error), "lost the connection that hears other relays' writes; opening it again");
            }
            _ => tracing::warn!("the connection that hears other relays' writes closed; opening it again"),
        }
        tokio::time::sleep(RECONNECT_PAUSE).await;
    }
}

/// Drives the listening connection, handing each notification's payload to every
/// subscriber that still listens. Ends when the connection does.
async fn forward(mut connection: Connection<Socket, NoTlsStream>, subscribers: Subscribers) -> Result<(), tokio_postgres::Error> {
    std::future::poll_fn(|cx| {
        loop {
            match ready!(connection.poll_message(cx)) {
                Some(Ok(AsyncMessage::Notification(note))) => tell(&subscribers, note.payload()),
                Some(Ok(_)) => {}
                Some(Err(error)) => return Poll::Ready(Err(error)),
                None => return Poll::Ready(Ok(())),
            }
        }
    })
    .await
}

fn tell(subscribers: &Subscribers, doc: &str) {
    let mut subscribers = subscribers.lock().unwrap_or_else(PoisonError::into_inner);
    subscribers.retain(|subscriber| match subscriber.try_send(doc.to_owned()) {
        Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => true,
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    });
}
