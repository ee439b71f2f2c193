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
    assert_eq!(li.get(&format!("/console/orders/{order}")).status, StatusCode::NOT_FOUND, "nor its page");
    assert_eq!(
        li.post_raw("/console/orders", &[("elder", elder.id.as_str()), ("service", "companionship")]).status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(generations(&console), before);
}

/// Tomorrow in the stations' calendar (UTC+8), as `YYYY-MM-DD`.
fn tomorrow() -> String {
    let zone = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    (chrono::Utc::now().with_timezone(&zone) + chrono::Duration::days(1)).date_naive().to_string()
}

#[test]
fn an_order_in_a_time_slot_is_dispatched_from_its_page_where_who_knows_the_elder_and_who_is_free_come_first() {
    let console = Console::new();
    let Pair { volunteer, elder, mut phone, .. } = Pair::new(&console);
    let busy = console.member("volunteer", "赵磊");
    let free = console.member("volunteer", "孙梅");
    let other_elder = console.member("elder", "陈秀英");
    // 李伟 served 王芳 before.
    phone.log_visit(&elder.id, 30, 60, "");
    phone.sync();
    let mut li = console.signed_in("li");
    li.get("/console/orders");
    let day = tomorrow();
    // 赵磊 has another order that day.
    let other = [("elder", other_elder.id.as_str()), ("service", "meals"), ("day", day.as_str()), ("from", "08:00"), ("to", "09:00")];
    assert_eq!(li.post("/console/orders", &other).status, StatusCode::SEE_OTHER);
    let other_order = li.get("/console/orders").text.split("data-order=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    assert_eq!(
        li.post(&format!("/console/orders/{other_order}/dispatch"), &[("volunteer", busy.id.as_str())]).status,
        StatusCode::SEE_OTHER
    );

    // A slot needs its day, start and end; an end before the start is refused.
    let before = console.store().ledger_events(0).unwrap().len();
    for bad in [
        vec![("day", day.as_str()), ("from", "09:00")],
        vec![("day", day.as_str()), ("from", "11:00"), ("to", "09:00")],
        vec![("day", "tomorrow"), ("from", "09:00"), ("to", "11:00")],
        vec![("from", "09:00"), ("to", "11:00")],
    ] {
        let mut fields = vec![("elder", elder.id.as_str()), ("service", "companionship")];
        fields.extend(bad.iter().copied());
        let refused = li.post("/console/orders", &fields);
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{bad:?}: {}", refused.text);
    }
    assert_eq!(li.get("/console/orders").text.matches("data-order=\"").count(), 1, "none of them was placed");
    assert_eq!(console.store().ledger_events(0).unwrap().len(), before);

    let fields = [
        ("elder", elder.id.as_str()),
        ("service", "companionship"),
        ("note", "读报"),
        ("day", day.as_str()),
        ("from", "09:00"),
        ("to", "11:00"),
    ];
    assert_eq!(li.post("/console/orders", &fields).status, StatusCode::SEE_OTHER);
    let board = li.get(&format!("/console/orders?day={day}"));
    assert_eq!(board.text.matches("data-order=\"").count(), 2, "both orders are for that day");
    assert!(board.text.contains(&format!("{day} 09:00–11:00")), "the slot is on the board");
    assert_eq!(li.get("/console/orders?day=2020-01-01").text.matches("data-order=\"").count(), 0);
    assert_eq!(li.get("/console/orders?day=someday").status, StatusCode::BAD_REQUEST);
    let order = board.text.split("data-order=\"").find(|part| part.contains("读报")).unwrap().split('"').next().unwrap().to_owned();

    let page = li.get(&format!("/console/orders/{order}"));
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.testid("slot").as_deref(), Some(format!("{day} 09:00–11:00").as_str()));
    let suggested =
        &page.text[page.text.find("data-testid=\"suggested\"").unwrap()..page.text.find("data-testid=\"everyone\"").unwrap()];
    let first = suggested.find(&format!("data-volunteer=\"{}\"", volunteer.id)).expect("who served the elder is suggested");
    let then = suggested.find(&format!("data-volunteer=\"{}\"", free.id)).expect("who is free is suggested");
    assert!(first < then, "who knows the elder comes first");
    assert!(suggested.contains("服务过王芳 1 次"), "{suggested}");
    assert!(!suggested.contains(&format!("data-volunteer=\"{}\"", busy.id)), "a stranger busy that day is not suggested");
    assert!(page.text.contains("当天另有 1 个订单"), "the whole list says who is busy");
    // Found by the initials of 孙梅.
    let searched = li.get(&format!("/console/orders/{order}?q=sm"));
    let everyone = &searched.text[searched.text.find("data-testid=\"everyone\"").unwrap()..];
    assert!(
        everyone.contains(&format!("data-volunteer=\"{}\"", free.id))
            && !everyone.contains(&format!("data-volunteer=\"{}\"", volunteer.id))
    );

    assert_eq!(
        li.post(&format!("/console/orders/{order}/dispatch"), &[("volunteer", volunteer.id.as_str())]).status,
        StatusCode::SEE_OTHER
    );
    phone.sync();
    let offered = phone.engine.assignments().into_iter().find(|a| a.assignment.order.as_str() == order).unwrap();
    assert!(offered.assignment.slot.is_some(), "the volunteer learns when");
    phone.engine.accept(&offered.assignment.order).unwrap();
    let now = chrono::Utc::now();
    let visit = phone
        .engine
        .log_visit(&timebank_engine::PastVisit {
            elder: elder.id.clone(),
            service: "companionship".into(),
            order: Some(offered.assignment.order.clone()),
            start: now - chrono::Duration::hours(2),
            end: now - chrono::Duration::hours(1),
            note: String::new(),
        })
        .unwrap();
    phone.sync();
    // The order links to its visit, and the visit to its order.
    let page = li.get(&format!("/console/orders/{order}"));
    assert!(page.text.contains(&format!("href=\"/console/visits/{visit}\"")), "{}", page.text);
    assert!(!page.text.contains("data-testid=\"picker\""), "a served order is not dispatched again");
    assert!(li.get("/console/orders").text.contains(&format!("href=\"/console/visits/{visit}\"")));
    assert!(li.get(&format!("/console/visits/{visit}")).text.contains(&format!("href=\"/console/orders/{order}\"")));
}
