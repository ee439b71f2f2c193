//! Plain automerge sync, the baseline of the `sync` group: a phone and a relay, each with
//! its copy of a document and its `automerge::sync::State` for the other, kept across
//! syncs as a deployment would, exchanging encoded messages until neither has anything
//! to send.

use std::time::{Duration, Instant};

use automerge::sync::{Message, State, SyncDoc as _};
use automerge::{Automerge, Change};

use super::BenchError;

/// More messages than this in one sync means the peers do not converge (a bug).
const MAX_MESSAGES: usize = 64;

/// What one plain sync took.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Exchange {
    /// Messages sent, both directions.
    pub messages: usize,
    /// Encoded bytes the phone sent.
    pub bytes_up: usize,
    /// Encoded bytes the relay sent.
    pub bytes_down: usize,
    /// Time spent on the relay's side: decoding what the phone sent, receiving it,
    /// generating and encoding answers.
    pub relay_time: Duration,
}

impl Exchange {
    /// Request/response pairs: messages / 2, rounded up.
    pub fn round_trips(&self) -> usize {
        self.messages.div_ceil(2)
    }

    /// Bytes both ways.
    pub fn bytes(&self) -> usize {
        self.bytes_up + self.bytes_down
    }
}

/// One side of a sync: its copy of the document and its state for the other side.
#[derive(Debug)]
pub struct Side<'a> {
    /// The document.
    pub doc: &'a mut Automerge,
    /// What this side knows of the other.
    pub state: &'a mut State,
}

/// Syncs `phone` with `relay`: the phone speaks first, then they take turns, each
/// message encoded, counted and decoded by the other side, until both sides' generate
/// returns `None` in a row.
pub fn sync(phone: Side<'_>, relay: Side<'_>) -> Result<Exchange, BenchError> {
    let mut exchange = Exchange::default();
    let mut phone_turn = true;
    let mut quiet_in_a_row = 0;
    while quiet_in_a_row < 2 {
        let sent = if phone_turn {
            phone.doc.generate_sync_message(phone.state).map(Message::encode)
        } else {
            let started = Instant::now();
            let sent = relay.doc.generate_sync_message(relay.state).map(Message::encode);
            exchange.relay_time += started.elapsed();
            sent
        };
        match sent {
            None => quiet_in_a_row += 1,
            Some(bytes) => {
                quiet_in_a_row = 0;
                exchange.messages += 1;
                if exchange.messages > MAX_MESSAGES {
                    return Err(format!("plain sync did not converge in {MAX_MESSAGES} messages").into());
                }
                if phone_turn {
                    exchange.bytes_up += bytes.len();
                    let started = Instant::now();
                    relay.doc.receive_sync_message(relay.state, Message::decode(&bytes)?)?;
                    exchange.relay_time += started.elapsed();
                } else {
                    exchange.bytes_down += bytes.len();
                    phone.doc.receive_sync_message(phone.state, Message::decode(&bytes)?)?;
                }
            }
        }
        phone_turn = !phone_turn;
    }
    Ok(exchange)
}

/// A phone and a relay holding the same document, with states that have synced once
/// (as after enrollment): what later syncs start from.
#[derive(Debug)]
pub struct Pair {
    /// The phone's copy.
    pub phone: Automerge,
    /// The relay's copy.
    pub relay: Automerge,
    phone_state: State,
    relay_state: State,
}

impl Pair {
    /// Both sides load `saved`; one sync with fresh states introduces them.
    pub fn new(saved: &[u8]) -> Result<Pair, BenchError> {
        let mut pair = Pair {
            phone: Automerge::load(saved)?,
            relay: Automerge::load(saved)?,
            phone_state: State::new(),
            relay_state: State::new(),
        };
        pair.sync()?;
        Ok(pair)
    }

    /// The phone makes `changes` (received from elsewhere: the engine made them).
    pub fn phone_makes(&mut self, changes: Vec<Change>) -> Result<(), BenchError> {
        self.phone.apply_changes(changes)?;
        Ok(())
    }

    /// Both sides save their states and load them again, as between two app runs or two
    /// HTTP requests: `State::encode` keeps only the shared heads.
    pub fn reload_states(&mut self) -> Result<(), BenchError> {
        self.phone_state = State::decode(&self.phone_state.encode())?;
        self.relay_state = State::decode(&self.relay_state.encode())?;
        Ok(())
    }

    /// One plain sync, the phone first.
    pub fn sync(&mut self) -> Result<Exchange, BenchError> {
        sync(Side { doc: &mut self.phone, state: &mut self.phone_state }, Side { doc: &mut self.relay, state: &mut self.relay_state })
    }
}

/// Total raw bytes of `changes` (as both our wire and plain sync carry them).
pub fn raw_len(changes: &[Change]) -> usize {
    changes.iter().map(|c| c.raw_bytes().len()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable as _;
    use automerge::{ActorId, ROOT, ReadDoc as _};

    fn saved_doc() -> Vec<u8> {
        let mut doc = Automerge::new().with_actor(ActorId::random());
        doc.transact::<_, _, automerge::AutomergeError>(|tx| {
            tx.put_object(ROOT, "visits", automerge::ObjType::Map)?;
            Ok(())
        })
        .unwrap();
        doc.save()
    }

    /// A change on a copy of `pair.phone` made by another actor.
    fn a_change(pair: &Pair, key: &str) -> Vec<Change> {
        let mut author = pair.phone.fork().with_actor(ActorId::random());
        let before = author.get_heads();
        author
            .transact::<_, _, automerge::AutomergeError>(|tx| {
                let (_, visits) = tx.get(ROOT, "visits")?.unwrap();
                tx.put(&visits, key, "tea and the newspaper")?;
                Ok(())
            })
            .unwrap();
        author.get_changes(&before)
    }

    #[test]
    fn a_change_reaches_the_relay_and_counts_its_bytes() {
        let mut pair = Pair::new(&saved_doc()).unwrap();
        // In sync and both sides know it: nothing to say.
        let idle = pair.sync().unwrap();
        assert_eq!((idle.messages, idle.bytes()), (0, 0));
        let changes = a_change(&pair, "v-1");
        let raw = raw_len(&changes);
        pair.phone_makes(changes).unwrap();
        let exchange = pair.sync().unwrap();
        assert_eq!(pair.relay.get_heads(), pair.phone.get_heads());
        assert!(exchange.messages >= 1, "{exchange:?}");
        assert!(exchange.bytes_up > raw, "{exchange:?}, change {raw} B");
        assert_eq!(exchange.bytes(), exchange.bytes_up + exchange.bytes_down);
        assert_eq!(exchange.round_trips(), exchange.messages.div_ceil(2));
        // The next sync with nothing new is silent again.
        assert_eq!(pair.sync().unwrap().messages, 0);
    }

    #[test]
    fn reloaded_states_cost_more_messages_but_converge() {
        let mut kept = Pair::new(&saved_doc()).unwrap();
        let mut reloaded = Pair::new(&kept.phone.save()).unwrap();
        let changes = a_change(&kept, "v-3");
        kept.phone_makes(changes.clone()).unwrap();
        reloaded.phone_makes(changes).unwrap();
        reloaded.reload_states().unwrap();
        let (kept, reloaded_exchange) = (kept.sync().unwrap(), reloaded.sync().unwrap());
        assert_eq!(reloaded.relay.get_heads(), reloaded.phone.get_heads());
        assert_eq!(kept.messages, 2, "{kept:?}");
        assert!(reloaded_exchange.messages > kept.messages, "{reloaded_exchange:?}");
    }

    #[test]
    fn relay_changes_come_down_on_the_phones_sync() {
        let mut pair = Pair::new(&saved_doc()).unwrap();
        let changes = a_change(&pair, "v-2");
        pair.relay.apply_changes(changes).unwrap();
        let exchange = pair.sync().unwrap();
        assert_eq!(pair.relay.get_heads(), pair.phone.get_heads());
        assert!(exchange.bytes_down > 0 && exchange.relay_time > Duration::ZERO);
    }

    #[test]
    fn round_trips_round_up() {
        let with = |messages| Exchange { messages, ..Exchange::default() };
        assert_eq!(with(0).round_trips(), 0);
        assert_eq!(with(1).round_trips(), 1);
        assert_eq!(with(3).round_trips(), 2);
        assert_eq!(with(4).round_trips(), 2);
    }
}
