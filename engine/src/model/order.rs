//! Orders through their life: 点单 requested → 派单 dispatched → 接单 accepted or declined →
//! visited → confirmed → settled, or cancelled.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::model::ids::{MemberId, OrderId};

/// The time an order asks for: a day and a time slot (from, to). Kept as two instants;
/// apps and the console show them in the station's zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    /// When the service should start at the earliest.
    pub start: DateTime<Utc>,
    /// When it should be over.
    pub end: DateTime<Utc>,
}

/// The longest time slot an order may ask for (a day's service).
pub const MAX_SLOT_HOURS: i64 = 12;

impl Slot {
    /// A slot from `start` to `end`, checked at `now`: it ends after it starts, lasts at
    /// most [`MAX_SLOT_HOURS`], has not ended yet and starts within a year.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>, now: DateTime<Utc>) -> Result<Slot, Error> {
        if end <= start {
            return Err(Error::invalid("the time slot ends before it starts; give the start first, then the end"));
        }
        if end - start > Duration::hours(MAX_SLOT_HOURS) {
            return Err(Error::invalid(format!(
                "the time slot lasts more than {MAX_SLOT_HOURS} hours; an order asks for one visit: give a shorter slot"
            )));
        }
        if end <= now {
            return Err(Error::invalid("the time slot is over already; give a day and time still to come"));
        }
        if start > now + Duration::days(366) {
            return Err(Error::invalid("the time slot is more than a year ahead; give a nearer day"));
        }
        Ok(Slot { start, end })
    }
}

/// An order (点单) as kept in the elder's `member/<id>` document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// The order.
    pub id: OrderId,
    /// Who is to be served.
    pub elder: MemberId,
    /// Catalogue id of the service wanted.
    pub service: String,
    /// Free text: when, what is needed.
    pub note: String,
    /// Who placed it: the elder, a family proxy or a coordinator.
    pub requested_by: MemberId,
    /// When it was placed.
    pub requested_at: DateTime<Utc>,
    /// The volunteer it was dispatched to (派单), by a coordinator.
    pub dispatched_to: Option<MemberId>,
    /// When it was dispatched.
    pub dispatched_at: Option<DateTime<Utc>>,
    /// When it was cancelled, if it was.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// The day and time slot asked for, if one was given.
    #[serde(default)]
    pub slot: Option<Slot>,
}

impl Order {
    /// A new order (点单) for `elder`, placed by `by` at `at`, not yet dispatched, for any
    /// time (see [`Order::for_slot`]).
    pub fn place(elder: MemberId, service: &str, note: &str, by: MemberId, at: DateTime<Utc>) -> Order {
        Order {
            id: OrderId::generate(),
            elder,
            service: service.to_owned(),
            note: note.to_owned(),
            requested_by: by,
            requested_at: at,
            dispatched_to: None,
            dispatched_at: None,
            cancelled_at: None,
            slot: None,
        }
    }

    /// The order asking for `slot`.
    pub fn for_slot(self, slot: Option<Slot>) -> Order {
        Order { slot, ..self }
    }
}

/// The volunteer's reply to a dispatch (接单).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Response {
    /// The volunteer will go.
    Accepted,
    /// The volunteer cannot go; the coordinator dispatches again.
    Declined,
}

impl Response {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Response::Accepted => "accepted",
            Response::Declined => "declined",
        }
    }

    /// Reads the stored spelling.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "accepted" => Some(Response::Accepted),
            "declined" => Some(Response::Declined),
            _ => None,
        }
    }
}

/// A dispatched order as offered in the volunteer's `member/<id>` document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// The order offered.
    pub order: OrderId,
    /// Who is to be served.
    pub elder: MemberId,
    /// The elder's display name as the dispatching coordinator's device (or the relay)
    /// knew it, copied for this volunteer only (ADR 0021); `None` in dispatches made
    /// before names were copied, or when the coordinator's device did not know it.
    #[serde(default)]
    pub elder_name: Option<String>,
    /// Catalogue id of the service.
    pub service: String,
    /// The order's note, copied for the volunteer.
    pub note: String,
    /// The coordinator who dispatched it.
    pub offered_by: MemberId,
    /// When it was dispatched.
    pub offered_at: DateTime<Utc>,
    /// The volunteer's reply, once given.
    pub response: Option<Response>,
    /// When the volunteer replied.
    pub responded_at: Option<DateTime<Utc>>,
    /// Why the volunteer declined, if they said.
    pub decline_reason: String,
    /// The day and time slot the order asks for, copied for the volunteer.
    #[serde(default)]
    pub slot: Option<Slot>,
}

impl Assignment {
    /// The offer of `order` to a volunteer, by coordinator `by` at `at` (派单), unanswered,
    /// carrying the elder's display name `elder_name` when the coordinator knows it (a
    /// blank name is not copied).
    pub fn offer(order: &Order, elder_name: Option<&str>, by: MemberId, at: DateTime<Utc>) -> Assignment {
        Assignment {
            order: order.id.clone(),
            elder: order.elder.clone(),
            elder_name: elder_name.map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned),
            service: order.service.clone(),
            note: order.note.clone(),
            offered_by: by,
            offered_at: at,
            response: None,
            responded_at: None,
            decline_reason: String::new(),
            slot: order.slot,
        }
    }
}

/// Where an order stands, derived from what every party wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OrderState {
    /// 点单: placed, waiting for a coordinator.
    Requested,
    /// 派单: offered to a volunteer, no reply yet.
    Dispatched,
    /// 接单: the volunteer accepted.
    Accepted,
    /// The volunteer declined; waiting to be dispatched again.
    Declined,
    /// A visit for it was logged.
    Visited,
    /// The elder or family confirmed the visit.
    Confirmed,
    /// The relay posted the coins for it.
    Settled,
    /// Cancelled before it was served.
    Cancelled,
}

impl OrderState {
    /// Every state, in the order of an order's life (cancelled last).
    pub const ALL: [OrderState; 8] = [
        OrderState::Requested,
        OrderState::Dispatched,
        OrderState::Accepted,
        OrderState::Declined,
        OrderState::Visited,
        OrderState::Confirmed,
        OrderState::Settled,
        OrderState::Cancelled,
    ];

    /// The spelling used in JSON and on screen.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderState::Requested => "requested",
            OrderState::Dispatched => "dispatched",
            OrderState::Accepted => "accepted",
            OrderState::Declined => "declined",
            OrderState::Visited => "visited",
            OrderState::Confirmed => "confirmed",
            OrderState::Settled => "settled",
            OrderState::Cancelled => "cancelled",
        }
    }

    /// Whether the elder's address and phone are with the volunteer an order in this state
    /// went to: from the dispatch until the visit (dispatched, accepted), never after it,
    /// nor for a declined or cancelled order (ADR 31). The relay sends them by this rule,
    /// and the phone keeps them by it.
    pub fn shares_contact(self) -> bool {
        matches!(self, OrderState::Dispatched | OrderState::Accepted)
    }

    /// Derives the state from the facts known on this device, latest stage first.
    pub fn derive(facts: &OrderFacts) -> OrderState {
        if facts.settled {
            OrderState::Settled
        } else if facts.visit_confirmed {
            OrderState::Confirmed
        } else if facts.visited {
            OrderState::Visited
        } else if facts.cancelled {
            OrderState::Cancelled
        } else {
            match (facts.response, facts.dispatched) {
                (Some(Response::Accepted), _) => OrderState::Accepted,
                (Some(Response::Declined), _) => OrderState::Declined,
                (None, true) => OrderState::Dispatched,
                (None, false) => OrderState::Requested,
            }
        }
    }
}

/// The facts an order's state is derived from; each comes from a different document.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OrderFacts {
    /// A coordinator dispatched it (elder's or volunteer's document).
    pub dispatched: bool,
    /// The volunteer's reply (volunteer's document).
    pub response: Option<Response>,
    /// A visit names the order (volunteer's document).
    pub visited: bool,
    /// That visit is confirmed.
    pub visit_confirmed: bool,
    /// The ledger settled it (ledger document).
    pub settled: bool,
    /// Someone cancelled it (elder's document).
    pub cancelled: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_life_of_an_order() {
        let mut facts = OrderFacts::default();
        assert_eq!(OrderState::derive(&facts), OrderState::Requested);
        facts.dispatched = true;
        assert_eq!(OrderState::derive(&facts), OrderState::Dispatched);
        facts.response = Some(Response::Declined);
        assert_eq!(OrderState::derive(&facts), OrderState::Declined);
        facts.response = Some(Response::Accepted);
        assert_eq!(OrderState::derive(&facts), OrderState::Accepted);
        facts.visited = true;
        assert_eq!(OrderState::derive(&facts), OrderState::Visited);
        facts.visit_confirmed = true;
        assert_eq!(OrderState::derive(&facts), OrderState::Confirmed);
        facts.settled = true;
        assert_eq!(OrderState::derive(&facts), OrderState::Settled);
    }

    #[test]
    fn a_slot_is_a_visit_still_to_come() {
        let now = DateTime::from_timestamp_millis(1_772_442_000_000).unwrap();
        let h = |hours: i64| now + Duration::hours(hours);
        assert_eq!(Slot::new(h(2), h(4), now).unwrap(), Slot { start: h(2), end: h(4) });
        assert!(Slot::new(h(-1), h(1), now).is_ok(), "a slot under way may still be asked for");
        for (start, end, why) in [
            (h(4), h(2), "ends before it starts"),
            (h(2), h(2), "ends before it starts"),
            (h(2), h(15), "more than 12 hours"),
            (h(-3), h(-1), "over already"),
            (h(400 * 24), h(400 * 24 + 1), "more than a year ahead"),
        ] {
            let err = Slot::new(start, end, now).unwrap_err();
            assert!(err.to_string().contains(why), "{err}");
        }
        let elder = MemberId::parse("e-1").unwrap();
        let order = Order::place(elder.clone(), "meals", "", elder, now).for_slot(Some(Slot { start: h(2), end: h(4) }));
        let offer = Assignment::offer(&order, None, MemberId::parse("c-1").unwrap(), now);
        assert_eq!(offer.slot, order.slot, "the volunteer learns when");
    }

    #[test]
    fn an_elders_contact_is_shared_from_the_dispatch_until_the_visit() {
        let shared: Vec<OrderState> = OrderState::ALL.into_iter().filter(|s| s.shares_contact()).collect();
        assert_eq!(shared, [OrderState::Dispatched, OrderState::Accepted]);
    }

    #[test]
    fn a_cancelled_order_stays_cancelled_unless_it_was_served() {
        let facts = OrderFacts { dispatched: true, cancelled: true, ..OrderFacts::default() };
        assert_eq!(OrderState::derive(&facts), OrderState::Cancelled);
        let served = OrderFacts { visited: true, ..facts };
        assert_eq!(OrderState::derive(&served), OrderState::Visited);
    }
}
