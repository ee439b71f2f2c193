//! Monthly reports at the console: the CSV's figures are the ledger's (postings, the
//! volunteer's balance) and the visit log's; the page draws its charts; a bad month is
//! refused; the visit log exports as CSV.

use axum::http::StatusCode;
use timebank_engine::Clock as _;
use timebank_server::console::reports::figures::{CSV_HEADER, CSV_HEADER_ZH, two_decimals};
use timebank_server::console::visits::log::Month;
use timebank_server::console::visits::{VISITS_CSV_HEADER, VISITS_CSV_HEADER_ZH};

use crate::phones::Pair;
use crate::support::Console;

#[test]
fn the_monthly_csv_shows_the_ledgers_figures() {
    let console = Console::at(chrono::Utc::now());
    let Pair { elder, mut phone, .. } = Pair::new(&console);
    // Two visits, one approved, one waiting: this month's, unless it began less than six
    // hours ago (UTC+8) by the relay's clock, which the phone reads too.
    let visits = [(3, 90), (6, 30)];
    let approved = phone.log_visit(&elder.id, visits[0].0, visits[0].1, "");
    phone.log_visit(&elder.id, visits[1].0, visits[1].1, "");
    phone.sync();
    let mut li = console.signed_in("li");
    li.get("/console/review");
    assert_eq!(li.post(&format!("/console/review/{approved}/approve"), &[]).status, StatusCode::SEE_OTHER);
    phone.sync();

    let now = console.clock.now().timestamp_millis();
    let started = |hours_ago: i64| now - hours_ago * 3_600_000;
    let (month, now_month) = (Month::of(started(visits[0].0)), Month::of(now));
    let csv = li.get(&format!("/console/reports.csv?month={now_month}"));
    assert_eq!(csv.status, StatusCode::OK);
    let lines: Vec<&str> = csv.text.trim_start_matches('\u{feff}').lines().collect();
    // Chinese headers on a Chinese page, and the station by its name.
    assert_eq!(lines[0], CSV_HEADER_ZH);
    assert_eq!(lines.len(), 2, "one station for its coordinator: {}", csv.text);
    let row: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(row[0], console.station.name.as_str());
    assert_eq!(row[1], now_month.to_string());

    let issued: i64 = console.store().postings().unwrap().iter().filter(|p| p.debit == "program").map(|p| p.minutes).sum();
    let coins = two_decimals;
    assert_eq!(row[6], coins(issued), "coins issued are the ledger's earn postings");
    assert_eq!(row[9], coins(phone.confirmed()), "outstanding: the volunteer's balance on their phone");
    assert_eq!((row[7], row[8]), ("0.00", "0.00"), "nothing redeemed or donated");
    let this_month: Vec<i64> = visits.iter().filter(|(ago, _)| now_month.contains(started(*ago))).map(|(_, m)| *m).collect();
    let people = if this_month.is_empty() { "0" } else { "1" };
    let hours = format!("{:.2}", this_month.iter().sum::<i64>() as f64 / 60.0);
    assert_eq!(
        (row[2], row[3], row[4].to_owned(), row[5].to_owned()),
        (people, people, this_month.len().to_string(), hours),
        "the month's visits (two, 2 hours, unless it has just begun), its volunteer and elder"
    );

    let page = li.get(&format!("/console/reports?month={now_month}"));
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("<svg") && page.text.contains("每日服务次数"));
    assert_eq!(page.testid("coins_issued").unwrap(), timebank_server::console::i18n::coins(issued));

    let visits = li.get(&format!("/console/visits.csv?month={month}"));
    assert_eq!(visits.status, StatusCode::OK);
    let text = visits.text.trim_start_matches('\u{feff}');
    assert_eq!(text.lines().next().unwrap(), VISITS_CSV_HEADER_ZH);
    assert!(text.contains(approved.as_str()) && text.contains("李伟"));
    // Values in words and times in the stations' zone: the station's name, the service's,
    // the status in Chinese, `YYYY-MM-DD HH:MM`.
    let row = text.lines().find(|l| l.starts_with(approved.as_str())).unwrap();
    assert!(row.contains(&format!(",{},", console.station.name)) && row.contains(",陪伴聊天,") && row.contains(",已批准,"), "{row}");
    assert!(!row.contains("approved") && !row.contains(console.station.id.as_str()), "{row}");
    let english = li.get(&format!("/console/visits.csv?month={month}&lang=en"));
    assert_eq!(english.text.trim_start_matches('\u{feff}').lines().next().unwrap(), VISITS_CSV_HEADER);
    assert_eq!(
        li.get(&format!("/console/reports.csv?month={now_month}&lang=en")).text.trim_start_matches('\u{feff}').lines().next(),
        Some(CSV_HEADER)
    );
    li.get("/console/review?lang=zh");

    for bad in ["2026-13", "november", "2026-1"] {
        assert_eq!(li.get(&format!("/console/reports.csv?month={bad}")).status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(li.get(&format!("/console/visits.csv?month={bad}")).status, StatusCode::BAD_REQUEST, "{bad}");
        let page = li.get(&format!("/console/reports?month={bad}"));
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(page.text.contains("YYYY-MM"), "the message says how to write it");
    }
    for bad in ["day=2026-02-30", "day=yesterday", "volunteer=not%20an%20id", "month=13"] {
        assert_eq!(li.get(&format!("/console/visits?{bad}")).status, StatusCode::BAD_REQUEST, "{bad}");
    }
    // The district gets a row per station; a coordinator never another station's.
    let mut qu = console.signed_in("qu");
    let all = qu.get(&format!("/console/reports.csv?month={now_month}"));
    assert_eq!(all.text.lines().count(), 3, "{}", all.text);
    let one = qu.get(&format!("/console/reports.csv?month={now_month}&station={}", console.station.id));
    assert_eq!(
        one.text.trim_start_matches('\u{feff}').lines().collect::<Vec<_>>()[1..],
        lines[1..],
        "the district's view of one station"
    );
    assert_eq!(qu.get("/console/reports?station=s-nowhere").status, StatusCode::NOT_FOUND);
    // A coordinator's `?station=` names no other station.
    let own = li.get(&format!("/console/reports.csv?month={now_month}&station={}", console.other.id));
    assert!(own.text.contains(console.station.name.as_str()) && !own.text.contains(console.other.name.as_str()));
    let mut zhao = console.signed_in("zhao");
    let theirs = zhao.get(&format!("/console/reports.csv?month={now_month}"));
    assert!(!theirs.text.contains(console.station.name.as_str()));
}
