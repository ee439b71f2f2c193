//! The orders board: every order of the station's elders with its state (点单 requested,
//! 派单 dispatched, 接单 accepted or declined, visited, confirmed, settled, cancelled) as
//! the engine derives it, who it went to and their reply, and the visit that served it;
//! the ones needing a coordinator first.

use timebank_engine::model::{Assignment, Order, OrderState, Service, VisitId};

use crate::desk::{self, StationDocs};

/// One order on the board.
#[derive(Clone, Debug)]
pub struct BoardRow {
    /// The order.
    pub order: Order,
    /// Its state.
    pub state: OrderState,
    /// The elder's name.
    pub elder_name: String,
    /// The volunteer's name, once dispatched.
    pub volunteer_name: Option<String>,
    /// The offer and the volunteer's reply, once dispatched.
    pub assignment: Option<Assignment>,
    /// The service as the station's catalogue names it, if it is there.
    pub service: Option<Service>,
    /// The visit that served it, once logged.
    pub visit: Option<VisitId>,
}

impl BoardRow {
    /// Whether a coordinator can dispatch it now (again, after a decline).
    pub fn can_dispatch(&self) -> bool {
        desk::dispatchable(self.state)
    }

    /// Whether it can still be cancelled.
    pub fn can_cancel(&self) -> bool {
        desk::cancellable(self.state)
    }
}

/// How soon a coordinator should look at an order in `state` (lower first).
fn urgency(state: OrderState) -> u8 {
    match state {
        OrderState::Declined => 0,
        OrderState::Requested => 1,
        OrderState::Dispatched => 2,
        OrderState::Accepted => 3,
        OrderState::Visited => 4,
        OrderState::Confirmed => 5,
        OrderState::Settled => 6,
        OrderState::Cancelled => 7,
    }
}

/// The board of the station: the orders that need a coordinator first, then by age.
pub fn board(docs: &StationDocs) -> Vec<BoardRow> {
    let catalogue = docs.catalogue();
    let visits = docs.visits();
    let mut rows: Vec<BoardRow> = docs
        .orders()
        .into_iter()
        .map(|(order, state)| BoardRow {
            visit: visits.iter().find(|v| v.order.as_ref() == Some(&order.id)).map(|v| v.id.clone()),
            service: catalogue.iter().find(|s| s.id == order.service).cloned(),
            elder_name: docs.name(&order.elder),
            volunteer_name: order.dispatched_to.as_ref().map(|v| docs.name(v)),
            assignment: docs.assignment(&order),
            state,
            order,
        })
        .collect();
    sort(&mut rows);
    rows
}

fn sort(rows: &mut [BoardRow]) {
    rows.sort_by(|a, b| urgency(a.state).cmp(&urgency(b.state)).then_with(|| a.order.requested_at.cmp(&b.order.requested_at)));
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use timebank_engine::model::MemberId;

    use super::*;

    fn row(state: OrderState, minutes_ago: i64) -> BoardRow {
        let elder = MemberId::parse("m-eld").unwrap();
        let mut order = Order::place(elder.clone(), "companionship", "", elder, Utc::now());
        order.requested_at -= chrono::Duration::minutes(minutes_ago);
        BoardRow { order, state, elder_name: "Wang".into(), volunteer_name: None, assignment: None, service: None, visit: None }
    }

    #[test]
    fn declined_and_new_orders_come_first_and_only_open_ones_can_be_dispatched() {
        let mut rows = vec![
            row(OrderState::Settled, 50),
            row(OrderState::Requested, 10),
            row(OrderState::Declined, 5),
            row(OrderState::Requested, 30),
            row(OrderState::Cancelled, 60),
        ];
        sort(&mut rows);
        let states: Vec<&str> = rows.iter().map(|r| r.state.as_str()).collect();
        assert_eq!(states, ["declined", "requested", "requested", "settled", "cancelled"]);
        assert!(rows[1].order.requested_at < rows[2].order.requested_at, "older first within a state");
        assert!(rows[0].can_dispatch() && rows[1].can_dispatch());
        assert!(!rows[3].can_dispatch() && !rows[3].can_cancel() && !rows[4].can_cancel());
    }
}
