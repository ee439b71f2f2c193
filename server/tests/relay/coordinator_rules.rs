//! One set of coordinator rules (ADR 0022): for an order in every state it can reach, a
//! coordinator's phone (a real engine synced with the relay) and the console (the relay's
//! desk decisions) give the same answer to a dispatch and to a cancellation, with the
//! same words when they refuse; and both refuse a dispatch to a member who is not a
//! volunteer.

use timebank_engine::model::{ConfirmedBy, OrderId, OrderState, ReviewDecision};
use timebank_server::AppError;
use timebank_server::desk::{self, StationDocs};
use timebank_server::store::MemberRecord;

use crate::support::{Phone, TestRelay};

/// A station with an order for its elder brought to `state`, the volunteer's phone and
/// a coordinator's phone synced with everything the relay holds.
struct Station {
    relay: TestRelay,
    volunteer: MemberRecord,
    elder: MemberRecord,
    coordinator: MemberRecord,
    desk_phone: Phone,
    order: OrderId,
}

fn station_with_order_in(state: OrderState) -> Station {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let elder = relay.member("elder", "Wang Fang");
    let coordinator = relay.member("coordinator", "Zhang Min");
    let mut phone = relay.phone(&volunteer);
    let order = desk::place_order(&relay.relay, &coordinator.id, &elder.id, "meals", "lunch", None).unwrap();
    if state != OrderState::Requested && state != OrderState::Cancelled {
        desk::dispatch(&relay.relay, &coordinator.id, &order, &volunteer.id, None).unwrap();
        relay.sync_phone(&mut phone);
    }
    match state {
        OrderState::Declined => phone.engine.decline(&order, "away this week").unwrap(),
        OrderState::Accepted | OrderState::Visited | OrderState::Confirmed | OrderState::Settled => {
            phone.engine.accept(&order).unwrap()
        }
        OrderState::Cancelled => desk::cancel_order(&relay.relay, &coordinator.id, &order, None).unwrap(),
        OrderState::Requested | OrderState::Dispatched => {}
    }
    if matches!(state, OrderState::Visited | OrderState::Confirmed | OrderState::Settled) {
        let visit = phone.log_order_visit(&elder.id, Some(&order), "meals", 3, "");
        if state != OrderState::Visited {
            phone.engine.confirm_visit(&visit, ConfirmedBy::Elder).unwrap();
        }
        relay.sync_phone(&mut phone);
        if state == OrderState::Settled {
            desk::review_visit(&relay.relay, &coordinator.id, &visit, ReviewDecision::Approve, "", None).unwrap();
        }
    }
    relay.sync_phone(&mut phone);
    let mut desk_phone = relay.phone(&coordinator);
    relay.sync_phone(&mut desk_phone);

    // Both sides see the order in `state` before they decide.
    let docs = StationDocs::load(&relay.relay, &relay.station.id).unwrap();
    assert_eq!(docs.order(&order).map(|(_, s)| s), Some(state), "the console's view");
    let on_phone: Vec<OrderState> = desk_phone.engine.orders().into_iter().map(|o| o.state).collect();
    assert_eq!(on_phone, [state], "the coordinator's phone's view");
    Station { relay, volunteer, elder, coordinator, desk_phone, order }
}

/// The same answer: both accept, or both refuse with the same words.
fn same_answer(what: &str, state: OrderState, phone: timebank_engine::Result<()>, console: Result<(), AppError>) -> bool {
    match (phone, console) {
        (Ok(()), Ok(())) => true,
        (Err(p), Err(c)) => {
            assert_eq!(p.to_string(), c.to_string(), "{what} of a {state:?} order: the phone and the console say the same");
            false
        }
        (p, c) => panic!("{what} of a {state:?} order: the phone says {p:?}, the console {c:?}"),
    }
}

#[test]
fn a_coordinators_phone_and_the_console_dispatch_the_same_orders() {
    let mut dispatched = Vec::new();
    for state in OrderState::ALL {
        let mut s = station_with_order_in(state);
        // The phone decides on what it synced; the console on the relay's documents, the same.
        let phone = s.desk_phone.engine.dispatch(&s.order, &s.volunteer.id);
        let console = desk::dispatch(&s.relay.relay, &s.coordinator.id, &s.order, &s.volunteer.id, None);
        if same_answer("a dispatch", state, phone, console) {
            dispatched.push(state);
        }
    }
    assert_eq!(dispatched, [OrderState::Requested, OrderState::Dispatched, OrderState::Declined]);
}

#[test]
fn a_coordinators_phone_and_the_console_cancel_the_same_orders() {
    let mut cancelled = Vec::new();
    for state in OrderState::ALL {
        let mut s = station_with_order_in(state);
        let phone = s.desk_phone.engine.cancel_order(&s.order);
        let console = desk::cancel_order(&s.relay.relay, &s.coordinator.id, &s.order, None);
        if same_answer("a cancellation", state, phone, console) {
            cancelled.push(state);
        }
    }
    assert_eq!(
        cancelled,
        [OrderState::Requested, OrderState::Dispatched, OrderState::Accepted, OrderState::Declined, OrderState::Cancelled]
    );
}

#[test]
fn a_coordinators_phone_and_the_console_dispatch_only_to_volunteers() {
    let mut s = station_with_order_in(OrderState::Requested);
    let other_elder = s.relay.member("elder", "Zhao Lan");
    let other_coordinator = s.relay.member("coordinator", "Chen Jing");
    s.relay.sync_phone(&mut s.desk_phone);
    for target in [&other_elder, &other_coordinator, &s.elder] {
        let phone = s.desk_phone.engine.dispatch(&s.order, &target.id);
        let console = desk::dispatch(&s.relay.relay, &s.coordinator.id, &s.order, &target.id, None);
        assert!(!same_answer("a dispatch to a non-volunteer", OrderState::Requested, phone, console), "{target:?}");
    }
    let docs = StationDocs::load(&s.relay.relay, &s.relay.station.id).unwrap();
    assert_eq!(docs.order(&s.order).map(|(_, state)| state), Some(OrderState::Requested), "nothing was dispatched");
}
