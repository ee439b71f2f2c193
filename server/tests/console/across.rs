//! 通存通兑 through real phones and the console: a coin earned at a station of one district
//! is redeemed at a station of the other, decided there and nowhere else, with the ledger
//! equal to its rebuild; two redemptions racing from two phones at two stations are
//! decided by the ledger's rules (first arrival wins); the districts page counts them.

use axum::http::StatusCode;
use timebank_engine::model::OutcomeStatus;
use timebank_server::ledger::rebuild::rebuild_check;

use crate::ledger::earner;
use crate::phones::Served;
use crate::support::Console;

#[test]
fn a_coin_earned_in_one_district_is_redeemed_at_a_station_of_the_other() {
    let console = Console::new();
    let served = Served::start(&console);
    let (volunteer, mut phone) = earner(&console, &served);
    let asked = phone.engine.request_redemption_at("tcm-physiotherapy", 30, &console.across.id).unwrap();
    phone.sync();
    assert_eq!(phone.engine.balance().reserved_minutes, 30, "the ledger accepted it and holds the coins");
    // A redemption at home as well: the other station neither lists nor decides that one.
    let at_home = phone.engine.request_redemption("tcm-physiotherapy", 15).unwrap();
    phone.sync();

    // The member's own station neither lists nor decides it: it is the other station's.
    let mut home = console.signed_in("li");
    home.get("/console/redemptions");
    assert!(!home.get("/console/redemptions").text.contains(&format!("data-request=\"{asked}\"")));
    assert_eq!(home.post(&format!("/console/redemptions/{asked}/fulfil"), &[]).status, StatusCode::NOT_FOUND);

    // The station where the service is given lists it, with where the member comes from.
    let mut there = console.signed_in("he");
    let page = there.get("/console/redemptions");
    assert!(page.text.contains(&format!("data-request=\"{asked}\"")), "{}", page.text);
    assert!(page.text.contains("刘师傅") && page.text.contains("曹杨新村街道"), "{}", page.text);
    assert!(!page.text.contains(&format!("/console/ledger/{}", volunteer.id)), "no link into another station's ledger");
    assert!(!page.text.contains(&format!("data-request=\"{at_home}\"")));
    assert_eq!(there.post(&format!("/console/redemptions/{at_home}/fulfil"), &[]).status, StatusCode::NOT_FOUND);
    there.get("/console/redemptions");
    let done = there.post(&format!("/console/redemptions/{asked}/fulfil"), &[]);
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    assert!(there.get("/console/redemptions").text.contains("已兑现"));

    phone.sync();
    let balance = phone.engine.balance();
    assert_eq!((balance.confirmed_minutes, balance.reserved_minutes), (30, 15), "the one at home is still held");
    let statuses: Vec<String> = phone.engine.requests().unwrap().into_iter().map(|r| r.state_label).collect();
    assert_eq!(statuses, ["fulfilled", "accepted"]);
    // The ledger says where it was spent; where it was earned is the visit's station.
    let postings = console.store().postings().unwrap();
    let redeemed = postings.iter().find(|p| p.kind == "redeem").unwrap();
    assert!(redeemed.memo.contains(&format!("at station {}", console.across.id)), "{}", redeemed.memo);
    assert!(rebuild_check(console.store()).unwrap().is_empty(), "the ledger equals its rebuild");

    // The figures per district: issued at home, redeemed out of it, redeemed in the other.
    let mut city = console.signed_in("shi");
    let page = city.get("/console/districts");
    assert_eq!(page.status, StatusCode::OK);
    let row = |text: &str, district: &str, id: &str| -> String {
        let at = text.find(&format!("data-district=\"{district}\"")).unwrap();
        let cell = at + text[at..].find(&format!("data-testid=\"{id}\"")).unwrap();
        let start = cell + text[cell..].find('>').unwrap() + 1;
        text[start..start + text[start..].find('<').unwrap()].to_owned()
    };
    let (home_district, other) = ("q-default", console.across.district.to_string());
    assert_eq!(row(&page.text, home_district, "issued"), "1");
    assert_eq!(row(&page.text, home_district, "redeemed-out"), "0.5");
    assert_eq!(row(&page.text, home_district, "redeemed-in"), "0");
    assert_eq!(row(&page.text, &other, "redeemed"), "0.5");
    assert_eq!(row(&page.text, &other, "redeemed-in"), "0.5");
    assert_eq!(row(&page.text, &other, "issued"), "0");
    // A district reads its own row only; a coordinator is sent to their station's pages.
    let mut district = console.signed_in("chang");
    let own = district.get("/console/districts").text;
    assert!(own.contains(&format!("data-district=\"{other}\"")) && !own.contains("data-district=\"q-default\""));
    assert_eq!(home.get("/console/districts").status, StatusCode::FORBIDDEN);
}

#[test]
fn two_redemptions_racing_from_two_phones_at_two_stations_are_decided_by_arrival() {
    let console = Console::new();
    let served = Served::start(&console);
    let (volunteer, mut first) = earner(&console, &served);
    let mut second = served.phone(&console, &volunteer);
    second.sync();
    // Offline, each phone asks for 45 minutes of the 60: together they overdraw.
    let here = first.engine.request_redemption("tcm-physiotherapy", 45).unwrap();
    let there = second.engine.request_redemption_at("tcm-physiotherapy", 45, &console.across.id).unwrap();
    std::thread::scope(|scope| {
        scope.spawn(|| first.sync());
        scope.spawn(|| second.sync());
    });
    first.sync();
    second.sync();
    let outcome = |request: &str| {
        let doc = console.document(&format!("ledger/{}", volunteer.id));
        timebank_engine::documents::ledger::outcome(&doc, request).map(|o| o.status)
    };
    let decided = [outcome(here.as_str()), outcome(there.as_str())];
    assert!(
        decided.contains(&Some(OutcomeStatus::Accepted)) && decided.contains(&Some(OutcomeStatus::Refused)),
        "one accepted, one refused: {decided:?}"
    );
    let balance = first.engine.balance();
    assert_eq!((balance.confirmed_minutes, balance.reserved_minutes), (60, 45), "never overdrawn");
    // The accepted one is decided where it is given: at home, or at the other station.
    let (accepted, decider, other) =
        if decided[0] == Some(OutcomeStatus::Accepted) { (here, "li", "he") } else { (there, "he", "li") };
    let mut wrong = console.signed_in(other);
    wrong.get("/console/redemptions");
    assert_eq!(wrong.post(&format!("/console/redemptions/{accepted}/fulfil"), &[]).status, StatusCode::NOT_FOUND);
    let mut right = console.signed_in(decider);
    right.get("/console/redemptions");
    assert_eq!(right.post(&format!("/console/redemptions/{accepted}/fulfil"), &[]).status, StatusCode::SEE_OTHER);
    first.sync();
    let balance = first.engine.balance();
    assert_eq!((balance.confirmed_minutes, balance.reserved_minutes), (15, 0));
    assert!(rebuild_check(console.store()).unwrap().is_empty());
}

#[test]
fn a_redemption_at_a_station_the_city_does_not_have_is_refused_and_takes_nothing() {
    let console = Console::new();
    let served = Served::start(&console);
    let (volunteer, mut phone) = earner(&console, &served);
    let asked = phone.engine.request_redemption_at("tcm-physiotherapy", 30, &"s-nowhere".parse().unwrap()).unwrap();
    phone.sync();
    phone.sync();
    let doc = console.document(&format!("ledger/{}", volunteer.id));
    let outcome = timebank_engine::documents::ledger::outcome(&doc, asked.as_str()).unwrap();
    assert_eq!(outcome.status, OutcomeStatus::Refused);
    assert!(outcome.reason.contains("no station s-nowhere"), "{}", outcome.reason);
    assert_eq!(phone.engine.balance().reserved_minutes, 0);
}
