//! Live updates (ADR 0032): a dispatch in the console reaches the volunteer's watching
//! phone within a second; the console's own channel hears of the documents of the stations
//! its account reads (a coordinator's, a district's, the city's), never of another's, and
//! closes when the session ends; a page the live updates fetch does not keep an idle session alive.

use std::time::{Duration, Instant};

use chrono::Duration as Span;
use timebank_engine::sync::live::{CloseReason, LiveEvent};
use timebank_server::secret;
use timebank_testing::{Heard, LiveListener, Watching};

use crate::phones::Served;
use crate::support::Console;

#[test]
fn a_dispatch_in_the_console_reaches_the_watching_volunteer_within_a_second() {
    let console = Console::new();
    let served = Served::start(&console);
    let (volunteer, elder) = (console.member("volunteer", "李伟"), console.member("elder", "王芳"));
    let watching = Watching::start(console.http_phone_via(&served.url, &volunteer));
    watching.until_event(Duration::from_secs(10), |seen| matches!(seen, Ok(timebank_engine::watch::WatchEvent::Synced { .. })));

    let mut li = console.signed_in("li");
    li.get("/console/orders");
    li.post("/console/orders", &[("elder", elder.id.as_str()), ("service", "companionship"), ("note", "周二下午")]);
    let board = li.get("/console/orders");
    let order = board.text.split("data-order=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let dispatched = Instant::now();
    let sent = li.post(&format!("/console/orders/{order}/dispatch"), &[("volunteer", volunteer.id.as_str())]);
    assert!(sent.status.is_redirection(), "{}", sent.text);
    let (_, _) = watching
        .until(Duration::from_secs(5), |phone| phone.engine.assignments().iter().any(|a| a.assignment.order.as_str() == order));
    let took = dispatched.elapsed();
    assert!(took < Duration::from_secs(1), "the dispatch reached the phone after {took:?}");
    assert_eq!(watching.phone().engine.assignments()[0].assignment.note, "周二下午");
}

#[test]
fn the_console_hears_of_its_station_the_district_and_the_city_of_theirs_and_a_session_that_ended_stops() {
    let console = Console::new();
    let served = Served::start(&console);
    let (li, zhao, qu) = (console.signed_in("li"), console.signed_in("zhao"), console.signed_in("qu"));
    let (chang, shi) = (console.signed_in("chang"), console.signed_in("shi"));
    let hears = |browser: &crate::support::Browser<'_>| LiveListener::console(&served.url, &browser.cookies["tb_session"]).unwrap();
    let (li_hears, zhao_hears, qu_hears) = (hears(&li), hears(&zhao), hears(&qu));
    let (chang_hears, shi_hears) = (hears(&chang), hears(&shi));
    assert_eq!(LiveListener::console(&served.url, "no-such-session").err(), Some((401, None)));

    let (volunteer, elder) = (console.member("volunteer", "李伟"), console.member("elder", "王芳"));
    let mut phone = served.phone(&console, &volunteer);
    phone.log_visit(&elder.id, 5, 60, "读报");
    phone.sync();
    let mine = format!("member/{}", volunteer.id);
    assert!(li_hears.hinted_for(Duration::from_millis(1200)).contains(&mine), "the station's coordinator hears of it");
    assert!(qu_hears.hinted_for(Duration::from_millis(300)).contains(&mine), "the district hears of each of its stations");
    assert!(shi_hears.hinted_for(Duration::from_millis(300)).contains(&mine), "the city hears of every station");
    assert_eq!(zhao_hears.events_for(Duration::from_millis(300)), vec![], "another station's coordinator hears nothing of it");
    assert_eq!(chang_hears.events_for(Duration::from_millis(300)), vec![], "another district hears nothing of it");

    // Signing out ends the session: its channel closes (within the hub's sweep).
    let mut li = li;
    li.get("/console/review");
    li.post("/console/logout", &[]);
    assert_eq!(
        li_hears.events_for(Duration::from_secs(5)),
        vec![Heard::Event(LiveEvent::Closed { reason: CloseReason::SessionEnded }), Heard::End]
    );
}

#[test]
fn a_page_fetched_by_the_live_updates_does_not_keep_an_idle_session_alive() {
    let console = Console::new();
    let mut li = console.signed_in("li");
    let token = secret::hash(&li.cookies["tb_session"]);
    let last_seen = || console.store().console_session(&token).unwrap().unwrap().last_seen;
    let signed_in_at = last_seen();

    console.clock.advance(Span::minutes(10));
    let request = axum::http::Request::builder()
        .uri("/console/review")
        .header("cookie", format!("tb_session={}", li.cookies["tb_session"]))
        .header("x-timebank-live", "1")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(console.call(&console.router, request).status(), 200);
    assert_eq!(last_seen(), signed_in_at, "the live updates' fetch is not the coordinator's doing");
    li.get("/console/review");
    assert!(last_seen() > signed_in_at, "a page the coordinator opens keeps the session");
}
