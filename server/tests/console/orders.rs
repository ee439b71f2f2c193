//! Orders at the console: an order placed and dispatched in the browser reaches the
//! volunteer's phone, their decline (with its reason) shows on the board, a cancelled
//! order says so; bad values and another station's orders change nothing.

use axum::http::StatusCode;
use timebank_engine::model::OrderState;

use crate::phones::Pair;
use crate::support::Console;

/// The state an order's row shows (`data-state`).
fn state_on_board(page: &str, order: &str) -> String {
    let at = page.find(&format!("data-order=\"{order}\"")).unwrap_or_else(|| panic!("order {order} is not on the board"));
    let rest = &page[at..];
    let start = rest.find("data-state=\"").unwrap() + "data-state=\"".len();
    rest[start..].split('"').next().unwrap().to_owned()
}

#[test]
fn a_dispatch_from_the_console_reaches_the_volunteer_whose_decline_comes_back() {
    let console = Console::new();
    let Pair { volunteer, elder, mut phone, .. } = Pair::new(&console);

    let mut li = console.signed_in("li");
    li.get("/console/orders");
    let placed = li.post("/console/orders", &[("elder", elder.id.as_str()), ("service", "companionship"), ("note", "周二下午")]);
    assert_eq!(placed.status, StatusCode::SEE_OTHER, "{}", placed.text);
    let board = li.get("/console/orders");
    let order = board.text.split("data-order=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    assert_eq!(state_on_board(&board.text, &order), "requested");

    let sent = li.post(&format!("/console/orders/{order}/dispatch"), &[("volunteer", volunteer.id.as_str())]);
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.text);
    assert_eq!(state_on_board(&li.get("/console/orders").text, &order), "dispatched");

    phone.sync();
    let assignments = phone.engine.assignments();
    assert_eq!(assignments.len(), 1, "the volunteer's phone has the dispatch");
    assert_eq!((assignments[0].assignment.order.as_str(), assignments[0].assignment.note.as_str()), (order.as_str(), "周二下午"));
    assert_eq!(assignments[0].state, OrderState::Dispatched);

    phone.engine.decline(&assignments[0].assignment.order, "那天要去医院").unwrap();
    phone.sync();
    let board = li.get("/console/orders");
    assert_eq!(state_on_board(&board.text, &order), "declined");
    assert!(board.text.contains("那天要去医院"), "the reason is on the board");

    let cancelled = li.post(&format!("/console/orders/{order}/cancel"), &[]);
    assert_eq!(cancelled.status, StatusCode::SEE_OTHER, "{}", cancelled.text);
    assert_eq!(state_on_board(&li.get("/console/orders").text, &order), "cancelled");
    let audit = console.store().audit_entries(Some(&console.station.id), 10).unwrap();
    for action in ["order.place", "order.dispatch", "order.cancel"] {
        assert!(audit.iter().any(|a| a.action == action && a.target == order), "{action}");
    }
}

#[test]
fn bad_orders_and_other_stations_orders_change_nothing() {
    let console = Console::new();
    let volunteer = console.member("volunteer", "李伟");
    let elder = console.member("elder", "王芳");
    let theirs = console.member_elsewhere("elder", "赵大爷");
    let mut li = console.signed_in("li");
    li.get("/console/orders");
    let generations = |c: &Console| {
        let store = c.store();
        store.document_ids().unwrap().iter().map(|id| store.document(id).unwrap().unwrap().generation).collect::<Vec<_>>()
    };
    let before = generations(&console);

    let unknown_service = li.post("/console/orders", &[("elder", elder.id.as_str()), ("service", "juggling"), ("note", "")]);
    assert_eq!(unknown_service.status, StatusCode::BAD_REQUEST, "{}", unknown_service.text);
    let for_a_volunteer = li.post("/console/orders", &[("elder", volunteer.id.as_str()), ("service", "companionship")]);
    assert_eq!(for_a_volunteer.status, StatusCode::BAD_REQUEST);
    let their_elder = li.post("/console/orders", &[("elder", theirs.id.as_str()), ("service", "companionship")]);
    assert_eq!(their_elder.status, StatusCode::NOT_FOUND);
    let no_elder = li.post("/console/orders", &[("service", "companionship")]);
    assert_eq!(no_elder.status, StatusCode::BAD_REQUEST);
    assert_eq!(generations(&console), before);

    // An order at the other station: its coordinator's, invisible and untouchable here.
    let mut zhao = console.signed_in("zhao");
    zhao.get("/console/orders");
    let placed = zhao.post("/console/orders", &[("elder", theirs.id.as_str()), ("service", "companionship")]);
    assert_eq!(placed.status, StatusCode::SEE_OTHER, "{}", placed.text);
    let order = zhao.get("/console/orders").text.split("data-order=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let before = generations(&console);
    assert!(!li.get("/console/orders").text.contains(&order));
    let dispatch = li.post(&format!("/console/orders/{order}/dispatch"), &[("volunteer", volunteer.id.as_str())]);
    assert_eq!(dispatch.status, StatusCode::NOT_FOUND, "{}", dispatch.text);
    assert_eq!(li.post(&format!("/console/orders/{order}/cancel"), &[]).status, StatusCode::NOT_FOUND);
    assert_eq!(li.post_raw("/console/orders", &[("elder", elder.id.as_str()), ("service", "companionship")]).status, StatusCode::FORBIDDEN);
    assert_eq!(generations(&console), before);
}
