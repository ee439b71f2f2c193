//! The ledger at the console: balances from real visits synced by real engines,
//! corrections as adjusting postings (rebuild == incremental), bad values, other
//! stations' urls, the read-only district, redemptions fulfilled and released.

use axum::http::StatusCode;
use timebank_engine::model::ReviewDecision;
use timebank_server::desk;
use timebank_server::ledger::rebuild::rebuild_check;
use timebank_server::registry::{self, NewMember};
use timebank_server::store::MemberRecord;

use crate::phones::{Phone, Served};
use crate::support::Console;

/// A volunteer of 71 (old enough to redeem) with one approved one-hour visit.
pub fn earner(console: &Console, served: &Served) -> (MemberRecord, Phone) {
    let volunteer = registry::create_member(
        &console.relay,
        &NewMember {
            station: console.station.id.as_str(),
            role: "volunteer",
            name: "刘师傅",
            birth_year: 1955,
            household: None,
            hardship: false,
        },
    )
    .unwrap();
    let elder = console.member("elder", "王奶奶");
    let mut phone = served.phone(console, &volunteer);
    let visit = phone.log_visit(&elder.id, 30, 60, "陪聊");
    phone.sync();
    desk::review_visit(&console.relay, &console.coordinator.id, &visit, ReviewDecision::Approve, "", None).unwrap();
    phone.sync();
    assert_eq!(phone.confirmed(), 60);
    (volunteer, phone)
}

fn balance_on(page: &str, member: &MemberRecord) -> String {
    let row = page.find(&format!("data-member=\"{}\"", member.id)).unwrap();
    let cell = row + page[row..].find("data-testid=\"balance\"").unwrap();
    let start = cell + page[cell..].find('>').unwrap() + 1;
    page[start..start + page[start..].find('<').unwrap()].to_owned()
}

#[test]
fn balances_and_corrections_as_adjusting_postings_reach_the_phone_and_survive_a_rebuild() {
    let console = Console::new();
    let served = Served::start(&console);
    let (volunteer, mut phone) = earner(&console, &served);
    let mut browser = console.signed_in("li");
    let page = browser.get("/console/ledger");
    assert_eq!(balance_on(&page.text, &volunteer), "1");

    browser.get(&format!("/console/ledger/{}", volunteer.id));
    let done = browser.post(&format!("/console/ledger/{}/correction", volunteer.id), &[("minutes", "30"), ("reason", "漏记半小时")]);
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    assert_eq!(balance_on(&browser.get("/console/ledger").text, &volunteer), "1.5");
    // Taking back more than is there takes what is there, and says so.
    browser.get(&format!("/console/ledger/{}", volunteer.id));
    browser.post(&format!("/console/ledger/{}/correction", volunteer.id), &[("minutes", "-120"), ("reason", "重复记录")]);
    let statement = browser.get(&format!("/console/ledger/{}", volunteer.id));
    assert_eq!(statement.testid("balance").as_deref(), Some("0"));
    // In words, not the ledger's English memo: the reason, and what could not be taken back.
    assert!(statement.text.contains("更正原因：重复记录；其中 0.5 币已被花掉或不在余额中，未能收回"), "{}", statement.text);
    assert!(!statement.text.contains("could not be taken back"), "{}", statement.text);
    assert_eq!(statement.text.matches("data-kind=\"correction\"").count(), 2);

    let postings = console.store().postings().unwrap();
    let corrections: Vec<_> = postings.iter().filter(|p| p.kind == "correction").collect();
    assert_eq!(corrections.len(), 2);
    assert_eq!(corrections[0].by.as_deref(), Some(console.coordinator.id.as_str()));
    assert!(rebuild_check(console.store()).unwrap().is_empty(), "a rebuild from the arrival log gives the same ledger");
    phone.sync();
    assert_eq!(phone.confirmed(), 0, "the phone sees the corrected balance after its next sync");
    let audit = console.store().audit_entries(Some(&console.station.id), 20).unwrap();
    assert!(audit.iter().any(|e| e.action == "ledger.correction" && e.detail == "+30 min: 漏记半小时"), "{audit:?}");
}

#[test]
fn bad_correction_values_are_refused_and_nothing_is_posted() {
    let console = Console::new();
    let volunteer = console.member("volunteer", "小周");
    let mut browser = console.signed_in("li");
    browser.get(&format!("/console/ledger/{}", volunteer.id));
    let path = format!("/console/ledger/{}/correction", volunteer.id);
    for (minutes, reason, expected) in [
        ("abc", "x", "分钟数"),
        ("0", "x", "不为零"),
        ("99999", "x", "6000"),
        ("1.5", "x", "整数"),
        ("30", "", "请写明更正原因"),
        ("30", "   ", "请写明更正原因"),
    ] {
        let page = browser.post(&path, &[("minutes", minutes), ("reason", reason)]);
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{minutes} {reason:?}");
        assert!(page.text.contains(expected), "{minutes}: {}", page.text);
    }
    assert!(console.store().postings().unwrap().is_empty());
    assert!(console.store().document(&format!("station/{}/desk", console.station.id)).is_ok());
}

#[test]
fn another_station_cannot_see_or_correct_a_ledger_and_the_district_cannot_write() {
    let console = Console::new();
    let volunteer = console.member("volunteer", "小周");
    let mut other = console.signed_in("zhao");
    other.get("/console/ledger");
    assert!(!other.get("/console/ledger").text.contains("小周"));
    let page = other.get(&format!("/console/ledger/{}", volunteer.id));
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(!page.text.contains("小周"));
    let refused = other.post(&format!("/console/ledger/{}/correction", volunteer.id), &[("minutes", "600"), ("reason", "x")]);
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    let mut district = console.signed_in("qu");
    let seen = district.get(&format!("/console/ledger/{}", volunteer.id));
    assert_eq!(seen.status, StatusCode::OK);
    assert!(!seen.text.contains("data-testid=\"correction\""), "no correction form for the district");
    let refused = district.post(&format!("/console/ledger/{}/correction", volunteer.id), &[("minutes", "600"), ("reason", "x")]);
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(console.store().postings().unwrap().is_empty());
}

#[test]
fn accepted_redemptions_are_fulfilled_or_released_from_the_console() {
    let console = Console::new();
    let served = Served::start(&console);
    let (volunteer, mut phone) = earner(&console, &served);
    let first = phone.engine.request_redemption("tcm-physiotherapy", 30).unwrap();
    phone.sync();
    let second = phone.engine.request_redemption("tcm-physiotherapy", 30).unwrap();
    phone.sync();
    let mut browser = console.signed_in("li");
    let page = browser.get("/console/redemptions");
    for request in [&first, &second] {
        assert!(page.text.contains(&format!("data-request=\"{request}\"")), "{}", page.text);
    }
    assert!(page.text.contains("已受理，待兑现"));
    // Another station cannot decide it.
    let mut other = console.signed_in("zhao");
    other.get("/console/redemptions");
    assert_eq!(other.post(&format!("/console/redemptions/{first}/fulfil"), &[]).status, StatusCode::NOT_FOUND);

    assert_eq!(browser.post(&format!("/console/redemptions/{first}/fulfil"), &[]).status, StatusCode::SEE_OTHER);
    browser.get("/console/redemptions");
    assert_eq!(browser.post(&format!("/console/redemptions/{second}/release"), &[]).status, StatusCode::SEE_OTHER);
    let again = browser.post(&format!("/console/redemptions/{first}/fulfil"), &[]);
    assert_eq!(again.status, StatusCode::CONFLICT, "decided once");
    let page = browser.get("/console/redemptions");
    assert!(page.text.contains("已兑现") && page.text.contains("已解冻"));
    phone.sync();
    let balance = phone.engine.balance();
    assert_eq!((balance.confirmed_minutes, balance.reserved_minutes, balance.available_minutes), (30, 0, 30));
    assert_eq!(balance_on(&browser.get("/console/ledger").text, &volunteer), "0.5");
    assert!(rebuild_check(console.store()).unwrap().is_empty());
    let actions: Vec<String> =
        console.store().audit_entries(Some(&console.station.id), 20).unwrap().into_iter().map(|e| e.action).collect();
    assert!(actions.contains(&"redemption.fulfil".into()) && actions.contains(&"redemption.release".into()));
}
