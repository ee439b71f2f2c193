//! What changed on the relay, as notices ([`Changes`]): every document write this process
//! stores (syncs and the console's decisions through [`Work::commit`], the ledger's poster,
//! new members' documents), devices revoked here, and the relay stopping. Sent after the
//! write is durable to whoever listens (the live channels' hub), never blocking the writer.
//! Relays sharing a PostgreSQL database also hear each other's writes: the hub forwards
//! the store's feed of written documents here as [`Notice::Stored`] (ADR 32).
//!
//! [`Work::commit`]: crate::relay::Work::commit

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Mutex, PoisonError};

use timebank_engine::DocId;

/// One thing that changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// These documents were written by this process; the write is durable.
    Written(Vec<DocId>),
    /// These documents were written by some relay process on this store (this one
    /// included), as the store's own feed tells (PostgreSQL's notifications; ADR 32).
    Stored(Vec<DocId>),
    /// This device (`d-…`) was revoked.
    Revoked(String),
    /// The relay is stopping: whoever holds a connection open lets it go.
    Stopping,
}

/// The listeners of the relay's notices.
#[derive(Debug, Default)]
pub struct Changes {
    listeners: Mutex<Vec<Sender<Notice>>>,
}

impl Changes {
    /// A new listener: every notice sent from now on, in order. Dropping the receiver
    /// unsubscribes.
    pub fn listen(&self) -> Receiver<Notice> {
        let (sender, receiver) = mpsc::channel();
        self.listeners.lock().unwrap_or_else(PoisonError::into_inner).push(sender);
        receiver
    }

    /// Tells every listener (those gone are forgotten).
    pub fn send(&self, notice: &Notice) {
        let mut listeners = self.listeners.lock().unwrap_or_else(PoisonError::into_inner);
        listeners.retain(|listener| listener.send(notice.clone()).is_ok());
    }

    /// `ids` were written (nothing is sent for none).
    pub fn written(&self, ids: impl IntoIterator<Item = DocId>) {
        let ids: Vec<DocId> = ids.into_iter().collect();
        if !ids.is_empty() {
            self.send(&Notice::Written(ids));
        }
    }

    /// `device` was revoked.
    pub fn revoked(&self, device: &str) {
        self.send(&Notice::Revoked(device.to_owned()));
    }

    /// The relay is stopping.
    pub fn stopping(&self) {
        self.send(&Notice::Stopping);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use timebank_engine::model::StationId;

    #[test]
    fn every_listener_hears_every_notice_in_order_and_a_gone_one_is_forgotten() {
        let changes = Changes::default();
        let (first, second) = (changes.listen(), changes.listen());
        let station = DocId::Station(StationId::parse("s-1").unwrap());
        changes.written([station.clone()]);
        changes.written([]);
        changes.revoked("d-1");
        for listener in [&first, &second] {
            assert_eq!(listener.try_recv(), Ok(Notice::Written(vec![station.clone()])));
            assert_eq!(listener.try_recv(), Ok(Notice::Revoked("d-1".into())));
            assert!(listener.try_recv().is_err(), "nothing is sent for no documents");
        }
        drop(second);
        changes.stopping();
        assert_eq!(first.try_recv(), Ok(Notice::Stopping));
        assert_eq!(changes.listeners.lock().unwrap().len(), 1);
    }
}
