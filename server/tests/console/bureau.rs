//! The bureau's reports (ADR 43) through a real relay: phones on 127.0.0.1 log visits of
//! three services at stations of two districts, coordinators approve them in the console,
//! and a coin is redeemed across districts. Every scope's report (station, district, city;
//! this month and this year) equals the figures computed here from what was logged and from
//! the ledger's postings and balances; the XLSX downloaded over HTTP reads back (calamine)
//! with the same figures; each account reads its reach only.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Cursor;

use axum::http::StatusCode;
use calamine::{Data, Reader, Xlsx};
use chrono::{DateTime, Duration, Utc};
use timebank_engine::Clock as _;
use timebank_engine::model::{MemberId, StationId};
use timebank_server::console::bureau::report::{SERVICES, SUMMARY};
use timebank_server::console::bureau::scope::Period;
use timebank_server::console::bureau::workbook::HEADER_ROW;
use timebank_server::console::visits::log::Month;
use timebank_server::ledger::rebuild::rebuild_check;
use timebank_server::ledger::statement::balances;
use timebank_server::registry::{self, NewMember};
use timebank_server::store::{DEFAULT_DISTRICT, MemberRecord, StationRecord};

use crate::phones::{Phone, Served};
use crate::support::{Browser, Console};

/// A visit the test logged: who, where, when it started (ms), how long.
struct Logged {
    volunteer: MemberId,
    elder: MemberId,
    service: &'static str,
    at: i64,
    minutes: i64,
}

/// A volunteer of 71 (old enough to redeem) at `station`, an elder there, and the
/// volunteer's phone, synced once.
fn people(
    console: &Console,
    served: &Served,
    station: &StationRecord,
    volunteer: &str,
    elder: &str,
) -> (MemberRecord, MemberRecord, Phone) {
    let volunteer = registry::create_member(
        &console.relay,
        &NewMember {
            station: station.id.as_str(),
            role: "volunteer",
            name: volunteer,
            birth_year: 1955,
            household: None,
            hardship: false,
        },
    )
    .unwrap();
    let elder = console.member_at(station, "elder", elder);
    let mut phone = served.phone(console, &volunteer);
    phone.sync();
    (volunteer, elder, phone)
}

/// Logs a one-hour visit of `service` started `hours_ago`, synced, approved by `coordinator`.
fn approved_visit(
    phone: &mut Phone,
    coordinator: &mut Browser<'_>,
    elder: &MemberRecord,
    service: &'static str,
    hours_ago: i64,
) -> Logged {
    let at = (phone.clock.now() - Duration::hours(hours_ago)).timestamp_millis();
    let visit = phone.log_order_visit(&elder.id, None, service, hours_ago, "");
    phone.sync();
    coordinator.get("/console/review");
    let done = coordinator.post(&format!("/console/review/{visit}/approve"), &[]);
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    phone.sync();
    Logged { volunteer: phone.member.id.clone(), elder: elder.id.clone(), service, at, minutes: 60 }
}

/// The figures of a report row, by column key.
pub(crate) type Figures = BTreeMap<&'static str, String>;

/// What the report of `stations` for `period` must say, computed here: visits, hours,
/// volunteers and elders from what the test logged; new volunteers from the store's
/// members; coins from the ledger's postings (issued, redeemed, donated, and where each
/// redemption was given, from its memo) and balances (outstanding).
fn expected(console: &Console, stations: &[&StationRecord], period: Period, logged: &[Logged]) -> Figures {
    let (start, end) = period.range();
    let store = console.store();
    let members: Vec<MemberRecord> = stations.iter().flat_map(|s| store.station_members(&s.id).unwrap()).collect();
    let ours: BTreeSet<&MemberId> = members.iter().map(|m| &m.id).collect();
    let visits: Vec<&Logged> = logged.iter().filter(|l| ours.contains(&l.volunteer) && (start..end).contains(&l.at)).collect();
    let new_volunteers =
        members.iter().filter(|m| m.role == timebank_engine::model::Role::Volunteer && (start..end).contains(&m.created_at)).count();

    let accounts: BTreeSet<String> = members
        .iter()
        .flat_map(|m| [format!("member:{}", m.id), format!("held:{}", m.id)])
        .chain(stations.iter().map(|s| format!("pool:{}", s.id)))
        .collect();
    let district_of: HashMap<StationId, String> =
        store.stations().unwrap().into_iter().map(|s| (s.id, s.district.to_string())).collect();
    let station_of: HashMap<String, StationId> = store
        .stations()
        .unwrap()
        .into_iter()
        .flat_map(|s| store.station_members(&s.id).unwrap().into_iter().map(move |m| (format!("held:{}", m.id), s.id.clone())))
        .collect();
    let covered: BTreeSet<&StationId> = stations.iter().map(|s| &s.id).collect();
    let (mut issued, mut redeemed, mut donated, mut outstanding, mut redeemed_in, mut redeemed_out) = (0, 0, 0, 0, 0, 0);
    for p in store.postings().unwrap() {
        if p.at >= end {
            continue;
        }
        if accounts.contains(&p.credit) && !accounts.contains(&p.debit) {
            outstanding += p.minutes;
        }
        if accounts.contains(&p.debit) && !accounts.contains(&p.credit) {
            outstanding -= p.minutes;
        }
        if p.at < start {
            continue;
        }
        match p.kind.as_str() {
            "earn" | "overflow" if accounts.contains(&p.credit) => issued += p.minutes,
            "reversal" if p.credit == "program" && accounts.contains(&p.debit) => issued -= p.minutes,
            "donation" if accounts.contains(&p.credit) => donated += p.minutes,
            "redeem" => {
                let home = &station_of[&p.debit];
                let given = store
                    .stations()
                    .unwrap()
                    .into_iter()
                    .find(|s| p.memo.contains(&format!("at station {}", s.id)))
                    .map_or(home.clone(), |s| s.id);
                if accounts.contains(&p.debit) {
                    redeemed += p.minutes;
                }
                if district_of[home] != district_of[&given] {
                    if covered.contains(&given) {
                        redeemed_in += p.minutes;
                    }
                    if covered.contains(home) {
                        redeemed_out += p.minutes;
                    }
                }
            }
            _ => {}
        }
    }
    // The balance now is the balance at the period's end (the period is the current one).
    let held: i64 = balances(store).unwrap().iter().filter(|(m, _)| ours.contains(m)).map(|(_, (a, r))| a + r).sum();
    assert_eq!(outstanding, held, "the postings' sum is the ledger's balances");

    let hours = |minutes: i64| format!("{:.2}", minutes as f64 / 60.0);
    let count = |n: usize| n.to_string();
    [
        ("volunteers_active", count(visits.iter().map(|l| &l.volunteer).collect::<BTreeSet<_>>().len())),
        ("new_volunteers", count(new_volunteers)),
        ("elders_served", count(visits.iter().map(|l| &l.elder).collect::<BTreeSet<_>>().len())),
        ("visits", count(visits.len())),
        ("hours", hours(visits.iter().map(|l| l.minutes).sum())),
        ("coins_issued", hours(issued)),
        ("coins_redeemed", hours(redeemed)),
        ("coins_donated", hours(donated)),
        ("coins_outstanding", hours(outstanding)),
        ("redeemed_in", hours(redeemed_in)),
        ("redeemed_out", hours(redeemed_out)),
    ]
    .into_iter()
    .collect()
}

/// The CSV's rows by their first field (the id), each as column key → field.
pub(crate) fn csv_rows(text: &str, columns: &[timebank_server::console::bureau::table::Column]) -> BTreeMap<String, Figures> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    assert!(text.ends_with("\r\n"), "RFC 4180 records end in CRLF");
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header, columns.iter().map(|c| c.zh).collect::<Vec<_>>());
    lines
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            assert_eq!(fields.len(), columns.len(), "{line}");
            (fields[0].to_owned(), columns.iter().map(|c| c.key).zip(fields.iter().map(|f| (*f).to_owned())).collect())
        })
        .collect()
}

/// The summary worksheet of the XLSX `account` downloads over HTTP for `period` and `scope`:
/// each row by its id, each figure as column key → the number with two decimals.
pub(crate) fn xlsx_summary(console: &Console, account: &str, period: &str, scope: &str) -> BTreeMap<String, Figures> {
    let browser = console.signed_in(account);
    let cookie = browser.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
    let url = format!("{}/console/bureau.xlsx?period={period}&scope={scope}", console.url());
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut answer = agent.get(&url).header("cookie", &cookie).call().unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let bytes = answer.body_mut().read_to_vec().unwrap();
    let mut workbook: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes)).unwrap();
    let summary = workbook.worksheet_range("汇总").unwrap();
    (HEADER_ROW as usize + 1..summary.height())
        .map(|row| {
            let id = match summary.get((row, 0)) {
                Some(Data::String(s)) => s.clone(),
                other => panic!("an id expected: {other:?}"),
            };
            let figures = SUMMARY
                .iter()
                .enumerate()
                .skip(3)
                .map(|(col, column)| match summary.get((row, col)) {
                    Some(Data::Float(f)) => (column.key, format!("{f:.2}")),
                    Some(Data::Int(i)) => (column.key, format!("{i}.00")),
                    other => panic!("a number expected: {other:?}"),
                })
                .collect();
            (id, figures)
        })
        .collect()
}

/// The figures `expected` computes, out of a report row.
fn figures_of(row: &Figures) -> Figures {
    row.iter().filter(|(k, _)| !["id", "name", "period"].contains(k)).map(|(k, v)| (*k, v.clone())).collect()
}

/// Everything the test set up.
struct City<'a> {
    console: &'a Console,
    logged: Vec<Logged>,
    _phones: Vec<Phone>,
}

/// Visits of three services at three stations of two districts, all approved, and a
/// volunteer of 曹杨 redeeming 30 minutes at 新华路 (长宁区) and 15 at home.
fn city(console: &Console) -> City<'_> {
    let served = Served::start(console);
    let (mut li, mut zhao, mut he) = (console.signed_in("li"), console.signed_in("zhao"), console.signed_in("he"));
    let (liu, wang, mut liu_phone) = people(console, &served, &console.station, "刘师傅", "王奶奶");
    let zhang = console.member("elder", "张爷爷");
    let (_, sun, mut zhou_phone) = people(console, &served, &console.other, "周明", "孙玉珍");
    let (_, gao, mut chen_phone) = people(console, &served, &console.across, "陈志强", "高阿姨");
    let logged = vec![
        approved_visit(&mut liu_phone, &mut li, &wang, "companionship", 3),
        approved_visit(&mut liu_phone, &mut li, &zhang, "meals", 5),
        approved_visit(&mut zhou_phone, &mut zhao, &sun, "companionship", 4),
        approved_visit(&mut chen_phone, &mut he, &gao, "cleaning", 6),
    ];
    let across = liu_phone.engine.request_redemption_at("tcm-physiotherapy", 30, &console.across.id).unwrap();
    let home = liu_phone.engine.request_redemption("tcm-physiotherapy", 15).unwrap();
    liu_phone.sync();
    he.get("/console/redemptions");
    assert_eq!(he.post(&format!("/console/redemptions/{across}/fulfil"), &[]).status, StatusCode::SEE_OTHER);
    li.get("/console/redemptions");
    assert_eq!(li.post(&format!("/console/redemptions/{home}/fulfil"), &[]).status, StatusCode::SEE_OTHER);
    liu_phone.sync();
    assert_eq!(liu_phone.confirmed(), 120 - 45, "two hours earned, 45 minutes redeemed");
    assert_eq!(liu.station, console.station.id);
    assert!(rebuild_check(console.store()).unwrap().is_empty(), "the ledger equals its rebuild");
    City { console, logged, _phones: vec![liu_phone, zhou_phone, chen_phone] }
}

/// A report asked for: by whom, of which scope, its stations, and its parts with theirs.
struct Asked<'a> {
    account: &'static str,
    scope: String,
    stations: Vec<&'a StationRecord>,
    parts: Vec<(String, Vec<&'a StationRecord>)>,
}

impl<'a> Asked<'a> {
    fn new(
        account: &'static str,
        scope: &str,
        stations: Vec<&'a StationRecord>,
        parts: Vec<(String, Vec<&'a StationRecord>)>,
    ) -> Self {
        Asked { account, scope: scope.to_owned(), stations, parts }
    }
}

#[test]
fn every_scopes_report_equals_the_figures_computed_from_the_ledger() {
    let console = Console::at(Utc::now());
    let city = city(&console);
    every_scopes_report_is_the_ledgers(&console, &city);
}

/// Half an hour into 2027 in the stations' calendar (UTC+8), still 2026 in UTC.
pub(crate) fn new_year() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2027-01-01T00:30:00+08:00").unwrap().with_timezone(&Utc)
}

/// Half an hour into a new year (UTC+8), the evening's visits (three to six hours ago) are
/// the old year's and its approvals, members and redemptions the new one's: each report
/// still equals the ledger's figures, and the two years split what happened that way.
#[test]
fn in_the_first_hour_of_a_year_the_evenings_visits_stay_in_the_old_year() {
    let console = Console::at(new_year());
    let city = city(&console);
    every_scopes_report_is_the_ledgers(&console, &city);
    let mut shi = console.signed_in("shi");
    let mut year = |year: i32| csv_rows(&shi.get(&format!("/console/bureau.csv?period={year}&scope=city")).text, SUMMARY);
    let (old, new) = (year(2026), year(2027));
    let figures = |row: &Figures| ["visits", "hours", "coins_issued", "new_volunteers"].map(|key| row[key].clone()).join(" ");
    assert_eq!(figures(&old["city"]), "4 4.00 0.00 0", "the visits of New Year's Eve");
    assert_eq!(figures(&new["city"]), "0 0.00 4.00 3", "approved, and the volunteers registered, after midnight");
}

/// Every scope's report of this month and year (by the relay's clock) equals the figures
/// computed from what `city` logged and the ledger's postings; the year's figures say what
/// the test did in plain numbers.
fn every_scopes_report_is_the_ledgers(console: &Console, city: &City<'_>) {
    let changning = console.across.district.to_string();
    let now = console.clock.now().timestamp_millis();
    let month = Month::of(now);
    for period in [Period::Month(month), Period::Year(month.year)] {
        let (s, o, a) = (&console.station, &console.other, &console.across);
        let scopes = [
            Asked::new("li", s.id.as_str(), vec![s], vec![]),
            Asked::new("zhao", o.id.as_str(), vec![o], vec![]),
            Asked::new("he", a.id.as_str(), vec![a], vec![]),
            Asked::new("qu", s.id.as_str(), vec![s], vec![]),
            Asked::new("qu", DEFAULT_DISTRICT, vec![s, o], vec![(s.id.to_string(), vec![s]), (o.id.to_string(), vec![o])]),
            Asked::new("chang", &changning, vec![a], vec![(a.id.to_string(), vec![a])]),
            Asked::new("shi", "city", vec![s, o, a], vec![(DEFAULT_DISTRICT.to_owned(), vec![s, o]), (changning.clone(), vec![a])]),
        ];
        for Asked { account, scope, stations, parts } in scopes {
            let mut browser = console.signed_in(account);
            let csv = browser.get(&format!("/console/bureau.csv?period={period}&scope={scope}"));
            assert_eq!(csv.status, StatusCode::OK, "{account} {scope}: {}", csv.text);
            let rows = csv_rows(&csv.text, SUMMARY);
            assert_eq!(rows.len(), parts.len() + 1, "{account} {scope}: a row per part and the total:\n{}", csv.text);
            let total = &rows[&scope];
            assert_eq!(total["period"], period.to_string());
            assert_eq!(figures_of(total), expected(console, &stations, period, &city.logged), "{account} {scope} {period}");
            for (id, stations) in &parts {
                assert_eq!(figures_of(&rows[id]), expected(console, stations, period, &city.logged), "{scope}'s part {id}");
            }
            // The page shows the same figures.
            let page = browser.get(&format!("/console/bureau?period={period}&scope={scope}"));
            assert_eq!(page.status, StatusCode::OK);
            let at = page.text.find(&format!("data-row=\"{scope}\"")).unwrap();
            let row = &page.text[at..];
            let cell = |key: &str| {
                let start = row.find(&format!("data-testid=\"{key}\"")).unwrap();
                let start = start + row[start..].find('>').unwrap() + 1;
                row[start..start + row[start..].find('<').unwrap()].to_owned()
            };
            assert_eq!(cell("visits"), total["visits"]);
            assert_eq!(cell("hours"), total["hours"]);
        }
    }
    // The city's year by service: what was logged and redeemed, each service once.
    let mut shi = console.signed_in("shi");
    // What the test did, in plain numbers (and what `expected` found in the ledger).
    let year = csv_rows(&shi.get(&format!("/console/bureau.csv?period={}&scope=city", month.year)).text, SUMMARY);
    let whole = &year["city"];
    // The four visits of an hour started three to six hours ago: this year's unless it has
    // just begun; what the desks and the registry did, they did now.
    let in_year = |service: Option<&str>| {
        let since = Period::Year(month.year).range().0;
        city.logged.iter().filter(|l| service.is_none_or(|s| l.service == s) && since <= l.at).count()
    };
    let (visits, hours) = (in_year(None).to_string(), format!("{}.00", in_year(None)));
    let plain =
        [("new_volunteers", "3"), ("visits", &visits), ("hours", &hours), ("coins_issued", "4.00"), ("coins_redeemed", "0.75")];
    for (key, value) in plain.into_iter().chain([("redeemed_in", "0.50"), ("redeemed_out", "0.50"), ("coins_outstanding", "3.25")]) {
        assert_eq!(whole[key], value, "{key}");
    }
    assert_eq!((year[&changning]["redeemed_in"].as_str(), year[DEFAULT_DISTRICT]["redeemed_out"].as_str()), ("0.50", "0.50"));
    assert_eq!((year[&changning]["redeemed_out"].as_str(), year[DEFAULT_DISTRICT]["redeemed_in"].as_str()), ("0.00", "0.00"));
    let services = csv_rows(&shi.get(&format!("/console/bureau/services.csv?period={}&scope=city", month.year)).text, SERVICES);
    // A service with nothing in the year has no row.
    for (service, redeemed) in [("companionship", "0.00"), ("meals", "0.00"), ("cleaning", "0.00"), ("tcm-physiotherapy", "0.75")] {
        let row = services.get(service).map(|row| (row["visits"].as_str(), row["coins_redeemed"].as_str()));
        let visits = in_year(Some(service));
        let wanted = (visits > 0 || redeemed != "0.00").then_some((visits.to_string(), redeemed));
        assert_eq!(row, wanted.as_ref().map(|(v, r)| (v.as_str(), *r)), "{service}");
    }
    assert_eq!(services["tcm-physiotherapy"]["service_name"], "中医理疗");
    let total = &services[""];
    assert_eq!((total["service_name"].as_str(), total["coins_redeemed"].as_str()), ("合计", "0.75"));

    // A station's month is the monthly report's (ADR 18) for that station.
    let mut li = console.signed_in("li");
    let monthly = li.get(&format!("/console/reports.csv?month={month}"));
    let fields: Vec<String> =
        monthly.text.trim_start_matches('\u{feff}').lines().nth(1).unwrap().split(',').map(str::to_owned).collect();
    let ours = csv_rows(&li.get(&format!("/console/bureau.csv?period={month}")).text, SUMMARY);
    let ours = &ours[console.station.id.as_str()];
    for (i, key) in [
        "volunteers_active",
        "elders_served",
        "visits",
        "hours",
        "coins_issued",
        "coins_redeemed",
        "coins_donated",
        "coins_outstanding",
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(fields[i + 2], ours[key], "{key}");
    }
}

#[test]
fn the_xlsx_downloaded_over_http_reads_back_with_the_ledgers_figures() {
    let console = Console::at(Utc::now());
    let city = city(&console);
    let year = Month::of(console.clock.now().timestamp_millis()).year;
    let shi = console.signed_in("shi");
    let cookie = shi.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
    let url = format!("{}/console/bureau.xlsx?period={year}&scope=city", console.url());
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut answer = agent.get(&url).header("cookie", &cookie).call().unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let header = |name: &str| answer.headers().get(name).unwrap().to_str().unwrap().to_owned();
    assert_eq!(header("content-type"), timebank_server::console::bureau::XLSX_TYPE);
    assert_eq!(header("content-disposition"), format!("attachment; filename=\"bureau-city-{year}.xlsx\""));
    let bytes = answer.body_mut().read_to_vec().unwrap();
    let mut workbook: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes)).unwrap();
    assert_eq!(workbook.sheet_names(), ["汇总", "按服务类型"]);

    let summary = workbook.worksheet_range("汇总").unwrap();
    let text = |cell: Option<&Data>| match cell {
        Some(Data::String(s)) => s.clone(),
        // The total of the services has no id: an empty cell.
        Some(Data::Empty) => String::new(),
        other => panic!("text expected: {other:?}"),
    };
    let number = |cell: Option<&Data>| match cell {
        Some(Data::Float(f)) => *f,
        Some(Data::Int(i)) => *i as f64,
        other => panic!("a number expected: {other:?}"),
    };
    assert_eq!(text(summary.get((0, 0))), format!("全市 {year}年 服务报表"));
    let header = HEADER_ROW as usize;
    for (col, column) in SUMMARY.iter().enumerate() {
        assert_eq!(text(summary.get((header, col))), column.zh);
    }
    let changning = console.across.district.to_string();
    let (s, o, a) = (&console.station, &console.other, &console.across);
    let wanted: [(&str, Vec<&StationRecord>); 3] = [(DEFAULT_DISTRICT, vec![s, o]), (&changning, vec![a]), ("city", vec![s, o, a])];
    let row_of: HashMap<String, usize> = (header + 1..summary.height()).map(|row| (text(summary.get((row, 0))), row)).collect();
    assert_eq!(row_of.len(), 3, "two districts and the city");
    assert_eq!(row_of["city"], header + 3, "the city's total last");
    for (id, stations) in &wanted {
        let row = row_of[*id];
        let expected = expected(&console, stations, Period::Year(year), &city.logged);
        for (col, column) in SUMMARY.iter().enumerate().skip(3) {
            let value = number(summary.get((row, col)));
            let wanted = &expected[column.key];
            assert_eq!(format!("{value:.2}"), format!("{:.2}", wanted.parse::<f64>().unwrap()), "{id} {}", column.key);
        }
    }
    // The same figures as the CSV of the same report, and the ledger's coins exactly.
    let mut shi = console.signed_in("shi");
    let csv = csv_rows(&shi.get(&format!("/console/bureau.csv?period={year}&scope=city")).text, SUMMARY);
    let issued: i64 = console.store().postings().unwrap().iter().filter(|p| p.kind == "earn").map(|p| p.minutes).sum();
    let row = header + 3;
    assert_eq!((number(summary.get((row, 8))) * 60.0).round() as i64, issued, "the city's coins issued: every earn posting");
    assert_eq!(csv["city"]["coins_issued"], format!("{:.2}", number(summary.get((row, 8)))));

    let services = workbook.worksheet_range("按服务类型").unwrap();
    let rows: Vec<(String, f64, f64)> = (header + 1..services.height())
        .map(|row| (text(services.get((row, 0))), number(services.get((row, 3))), number(services.get((row, 5)))))
        .collect();
    let visits: f64 = rows.iter().filter(|(id, ..)| !id.is_empty()).map(|(_, v, _)| v).sum();
    assert_eq!(rows.last().unwrap(), &(String::new(), visits, 0.75), "the total: every visit, the 45 minutes redeemed");
}

/// An account, the scopes it reads, and the scopes it is refused with the answer's status.
type Reach<'a> = (&'a str, &'a [&'a str], &'a [(&'a str, StatusCode)]);

#[test]
fn each_account_reads_the_bureau_reports_of_its_reach_only() {
    let console = Console::new();
    let changning = console.across.district.to_string();
    let (s, o, a) = (console.station.id.to_string(), console.other.id.to_string(), console.across.id.to_string());
    let cases: [Reach<'_>; 5] = [
        (
            "li",
            &[s.as_str()],
            &[(o.as_str(), StatusCode::NOT_FOUND), (DEFAULT_DISTRICT, StatusCode::FORBIDDEN), ("city", StatusCode::FORBIDDEN)],
        ),
        (
            "he",
            &[a.as_str()],
            &[(s.as_str(), StatusCode::NOT_FOUND), (changning.as_str(), StatusCode::FORBIDDEN), ("city", StatusCode::FORBIDDEN)],
        ),
        (
            "qu",
            &[s.as_str(), o.as_str(), DEFAULT_DISTRICT],
            &[(a.as_str(), StatusCode::NOT_FOUND), (changning.as_str(), StatusCode::FORBIDDEN), ("city", StatusCode::FORBIDDEN)],
        ),
        (
            "chang",
            &[a.as_str(), changning.as_str()],
            &[(s.as_str(), StatusCode::NOT_FOUND), (DEFAULT_DISTRICT, StatusCode::FORBIDDEN), ("city", StatusCode::FORBIDDEN)],
        ),
        (
            "shi",
            &[s.as_str(), o.as_str(), a.as_str(), DEFAULT_DISTRICT, changning.as_str(), "city"],
            &[("q-nowhere", StatusCode::NOT_FOUND), ("s-nowhere", StatusCode::NOT_FOUND)],
        ),
    ];
    for (account, readable, refused) in cases {
        let mut browser = console.signed_in(account);
        for path in ["/console/bureau", "/console/bureau.csv", "/console/bureau/services.csv", "/console/bureau.xlsx"] {
            for scope in readable {
                assert_eq!(browser.get(&format!("{path}?scope={scope}")).status, StatusCode::OK, "{account} {path} {scope}");
            }
            for (scope, status) in refused {
                let answer = browser.get(&format!("{path}?scope={scope}"));
                assert_eq!(answer.status, *status, "{account} {path} {scope}");
                assert!(
                    !answer.text.contains("data-testid=\"summary\"") && !answer.text.contains("活跃志愿者"),
                    "{account} {scope}: no figures"
                );
            }
        }
        // Without a scope, the account's own: its station, its district, the city.
        let own = browser.get("/console/bureau.csv");
        assert_eq!(own.status, StatusCode::OK);
        let total = own.text.trim_end().lines().last().unwrap().split(',').next().unwrap().to_owned();
        assert_eq!(total, readable.last().unwrap().to_string(), "{account}");
    }
    let mut li = console.signed_in("li");
    for bad in ["2026-13", "26", "november", "2026-1"] {
        let answer = li.get(&format!("/console/bureau.xlsx?period={bad}"));
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(answer.text.contains("YYYY-MM") && answer.text.contains("YYYY"), "the message says how to write it");
    }
    assert_eq!(li.get("/console/bureau?scope=not-a-scope").status, StatusCode::NOT_FOUND);
    // Signed out: to the sign-in page, no figures.
    let answer = console.browser().get("/console/bureau.xlsx?scope=city");
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert!(answer.location.unwrap().starts_with("/console/login"));
}
