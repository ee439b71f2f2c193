//! A member's move to another station (ADR 42), through real phones on 127.0.0.1 and the
//! console: a volunteer who earned at 曹杨 (the default district) moves to 新华路 (长宁区),
//! keeps balance and history and redeems there; the old station's coordinator no longer
//! reads them and the new one's does; a visit logged offline before the move posts after
//! it; what the old desk held is released; a bad move is refused and changes nothing; a
//! move racing a phone's syncs loses no coin; the ledger equals its rebuild throughout; the
//! monthly reports and the bureau's keep a mover's earlier months at the station they left.

use std::sync::mpsc;

use chrono::{DateTime, Duration, Utc};
use timebank_engine::Clock as _;

use axum::http::StatusCode;
use timebank_engine::DocId;
use timebank_engine::documents::ledger;
use timebank_engine::model::{ReviewDecision, Role, VisitId};
use timebank_engine::sync::{SyncRun, Transport as _};
use timebank_server::admin::{self, AdminCommand, TagCommand};
use timebank_server::console::bureau::report::SUMMARY;
use timebank_server::console::visits::log::Month;
use timebank_server::desk;
use timebank_server::ledger::rebuild::rebuild_check;
use timebank_server::presence::keys::station_keys;
use timebank_server::presence::sun::{SoftwareTag, parse_uid};
use timebank_server::registry::{self, RegistryError};
use timebank_server::store::{MemberRecord, StationRecord};

use crate::bureau::{csv_rows, xlsx_summary};
use crate::ledger::earner;
use crate::phones::Served;
use crate::support::Console;
use crate::tags::tapped_visit;

/// The coordinator of `station`.
fn coordinator_of(console: &Console, station: &StationRecord) -> MemberRecord {
    console.store().station_members(&station.id).unwrap().into_iter().find(|m| m.role == Role::Coordinator).unwrap()
}

/// Moves `member` to `to`, unaudited.
fn move_to(console: &Console, member: &MemberRecord, to: &StationRecord) -> Result<(), RegistryError> {
    registry::move_member(&console.relay, member.id.as_str(), to.id.as_str(), |_| None).map(|_| ())
}

#[test]
fn a_volunteer_who_moves_keeps_balance_and_history_and_redeems_at_the_new_station() {
    let console = Console::new();
    let served = Served::start(&console);
    let (volunteer, mut phone) = earner(&console, &served);
    let elder = console.member("elder", "张奶奶");
    let held = phone.engine.request_redemption("tcm-physiotherapy", 15).unwrap();
    phone.sync();
    assert_eq!(phone.engine.balance().reserved_minutes, 15, "held at the old station");
    // Logged on the phone before the move, reaching the relay only after it.
    let offline = phone.log_visit(&elder.id, 3, 60, "陪聊");
    let history_before = ledger::postings(&phone.document(&DocId::Ledger(volunteer.id.clone())));
    let mut li = console.signed_in("li");
    let mut he = console.signed_in("he");
    assert!(li.get("/console/members").text.contains(volunteer.id.as_str()));
    assert!(!he.get("/console/members").text.contains(volunteer.id.as_str()));

    // The move, two hours ago by the relay's clock: a visit of the last hour is the new station's.
    let now = console.clock.now();
    console.clock.set(now - Duration::hours(2));
    move_to(&console, &volunteer, &console.across).unwrap();
    console.clock.set(now);

    // The coordinators: the old one no longer reads them, the new one does.
    assert!(!li.get("/console/members").text.contains(volunteer.id.as_str()));
    assert_eq!(li.get(&format!("/console/ledger/{}", volunteer.id)).status, StatusCode::NOT_FOUND);
    assert!(he.get("/console/members").text.contains(volunteer.id.as_str()));
    assert_eq!(he.get(&format!("/console/ledger/{}", volunteer.id)).status, StatusCode::OK);

    // The phone learns its station, keeps its balance and history; the old desk's hold is released.
    phone.sync();
    assert_eq!(phone.engine.identity().station, console.across.id);
    assert!(phone.documents().contains(&format!("station/{}", console.across.id)), "{:?}", phone.documents());
    let balance = phone.engine.balance();
    assert_eq!((balance.confirmed_minutes, balance.reserved_minutes), (60, 0));
    let released = phone.engine.requests().unwrap().into_iter().find(|r| r.request.id == held).unwrap();
    assert!(released.state_label.starts_with("released: you moved to station s-"), "{}", released.state_label);
    let history_after = ledger::postings(&phone.document(&DocId::Ledger(volunteer.id.clone())));
    assert!(!history_before.is_empty());
    for line in &history_before {
        assert!(history_after.contains(line), "the history is the same history, not a copy: {line:?} in {history_after:?}");
    }

    // The visit from before the move waits at the new station, which approves it.
    assert!(he.get("/console/review").text.contains(offline.as_str()));
    assert!(!li.get("/console/review").text.contains(offline.as_str()));
    let hers = coordinator_of(&console, &console.across);
    desk::review_visit(&console.relay, &hers.id, &offline, ReviewDecision::Approve, "", None).unwrap();
    let after = phone.log_visit(&elder.id, 1, 30, "读报");
    phone.sync();
    desk::review_visit(&console.relay, &hers.id, &after, ReviewDecision::Approve, "", None).unwrap();
    phone.sync();
    assert_eq!(phone.confirmed(), 60 + 60 + 30);

    // Redeemed at the new station, at home now: its desk fulfils it.
    let asked = phone.engine.request_redemption("tcm-physiotherapy", 30).unwrap();
    phone.sync();
    he.get("/console/redemptions");
    let done = he.post(&format!("/console/redemptions/{asked}/fulfil"), &[]);
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    li.get("/console/redemptions");
    assert_eq!(li.post(&format!("/console/redemptions/{asked}/fulfil"), &[]).status, StatusCode::NOT_FOUND);
    phone.sync();
    assert_eq!(phone.confirmed(), 120);
    // What the program holds about them keeps the old station's part: its review, the move.
    let export = registry::export_member(&console.relay, volunteer.id.as_str()).unwrap();
    assert_eq!(export["moves"][0]["from"], console.station.id.as_str());
    assert_eq!(export["moves"][0]["to"], console.across.id.as_str());
    assert_eq!(export["reviews"].as_object().unwrap().len(), 3, "{}", export["reviews"]);
    let differences = rebuild_check(console.store()).unwrap();
    assert!(differences.is_empty(), "the ledger equals its rebuild: {differences:?}");

    // Each visit was given where its volunteer was when it started: the old district keeps
    // the coins of the visits given there, the one from before the move included; the new
    // one has what happened after.
    let page = console.signed_in("shi").get("/console/districts").text;
    let row = |district: &str, id: &str| -> String {
        let at = page.find(&format!("data-district=\"{district}\"")).unwrap();
        let cell = at + page[at..].find(&format!("data-testid=\"{id}\"")).unwrap();
        let start = cell + page[cell..].find('>').unwrap() + 1;
        page[start..start + page[start..].find('<').unwrap()].to_owned()
    };
    let across = console.across.district.to_string();
    assert_eq!((row("q-default", "issued"), row("q-default", "redeemed")), ("2".to_owned(), "0".to_owned()));
    assert_eq!((row(&across, "issued"), row(&across, "redeemed")), ("0.5".to_owned(), "0.5".to_owned()));
}

/// The monthly report's (ADR 18) CSV row of `account`'s station for `month`, from
/// volunteers active on: volunteers, elders, visits, hours, issued, redeemed, donated, outstanding.
fn monthly(console: &Console, account: &str, month: Month) -> Vec<String> {
    let text = console.signed_in(account).get(&format!("/console/reports.csv?month={month}")).text;
    text.trim_start_matches('\u{feff}').lines().nth(1).unwrap().split(',').skip(2).map(str::to_owned).collect()
}

/// The monthly report page's row of `volunteer` in `account`'s table of each volunteer's
/// month: visits, hours, coins earned for the month's visits, credited in the month and
/// spent (coins as the page writes them); and
/// whether it says they moved away. `None` without a row.
fn volunteer_month(console: &Console, account: &str, month: Month, volunteer: &MemberRecord) -> Option<(Vec<String>, bool)> {
    let page = console.signed_in(account).get(&format!("/console/reports?month={month}")).text;
    let table = &page[page.find("data-testid=\"volunteers\"")?..];
    let table = &table[..table.find("</table>").unwrap()];
    let row = &table[table.find(&format!("data-member=\"{}\"", volunteer.id))?..];
    let row = &row[..row.find("</tr>").unwrap()];
    let cell = |id: &str| {
        let at = row.find(&format!("data-testid=\"{id}\"")).unwrap();
        let start = at + row[at..].find('>').unwrap() + 1;
        row[start..start + row[start..].find('<').unwrap()].to_owned()
    };
    let cells = ["v-visits", "v-hours", "v-earned-for-month", "v-earned-in-month", "v-spent"].map(cell).to_vec();
    Some((cells, row.contains("data-testid=\"v-moved\"")))
}

/// A volunteer of 曹杨 earns there in the last month and moves to 新华路 (长宁区) as this one
/// begins: 曹杨's last month and its district's keep those visits and coins, 新华路's last
/// month holds none of them and this month what came after, in the totals and in the table
/// of each volunteer's month; the bureau's CSV and XLSX agree.
#[test]
fn a_movers_earlier_months_stay_in_the_reports_of_the_station_they_left() {
    movers_months_read_at(Utc::now());
}

/// The same read on a month's last evening, when the last month's visit is more than 30
/// days old, and in the first hour of a month (and of a year), UTC+8.
#[test]
fn a_movers_months_read_the_same_on_a_months_last_evening_and_in_its_first_hour() {
    for now in ["2026-12-31T23:30:00+08:00", "2027-01-01T00:30:00+08:00"] {
        movers_months_read_at(DateTime::parse_from_rfc3339(now).unwrap().with_timezone(&Utc));
    }
}

/// The move at the turn of `now`'s month, its history written on the relay's clock (which
/// the phones read too) as it happened, and the reports read at `now` (or two hours into
/// the month, when `now` is earlier, so that a visit after the move has ended).
fn movers_months_read_at(now: DateTime<Utc>) {
    let this = Month::of(now.timestamp_millis());
    let last = this.previous();
    let turn = DateTime::from_timestamp_millis(this.range().0).unwrap();
    let console = Console::at(turn - Duration::minutes(30));
    let served = Served::start(&console);
    let volunteer = console.member("volunteer", "刘师傅");
    let elder = console.member("elder", "王奶奶");
    let mut phone = served.phone(&console, &volunteer);
    phone.sync();
    // An hour's visit that ended an hour before the month turned, approved half an hour before.
    let before = phone.log_visit(&elder.id, 2, 60, "陪聊");
    phone.sync();
    desk::review_visit(&console.relay, &console.coordinator.id, &before, ReviewDecision::Approve, "", None).unwrap();
    console.clock.set(turn + Duration::minutes(1));
    move_to(&console, &volunteer, &console.across).unwrap();
    console.clock.set(now.max(turn + Duration::hours(2)));
    phone.sync();
    let after = phone.log_visit(&elder.id, 1, 30, "读报");
    phone.sync();
    desk::review_visit(&console.relay, &coordinator_of(&console, &console.across).id, &after, ReviewDecision::Approve, "", None)
        .unwrap();
    phone.sync();
    assert_eq!(phone.confirmed(), 90);

    // The monthly reports: volunteers, elders, visits, hours, issued, redeemed, donated, outstanding.
    let row = |fields: &[&str]| fields.iter().map(|f| (*f).to_owned()).collect::<Vec<_>>();
    assert_eq!(monthly(&console, "li", last), row(&["1", "1", "1", "1.00", "1.00", "0.00", "0.00", "1.00"]), "曹杨 keeps its month");
    assert_eq!(monthly(&console, "he", last), row(&["0", "0", "0", "0.00", "0.00", "0.00", "0.00", "0.00"]), "新华路 had none of it");
    // The coins earned at 曹杨 stay in its balance (posted there); 新华路 has what came after.
    assert_eq!(monthly(&console, "li", this), row(&["0", "0", "0", "0.00", "0.00", "0.00", "0.00", "1.00"]));
    assert_eq!(monthly(&console, "he", this), row(&["1", "1", "1", "0.50", "0.50", "0.00", "0.00", "0.50"]));
    // Each volunteer's month, placed the same way: the mover's last month at 曹杨 (marked as
    // moved away), this month's at 新华路.
    let months = |account: &str, month: Month| volunteer_month(&console, account, month, &volunteer);
    assert_eq!(months("li", last), Some((row(&["1", "1.00", "1", "1", "0"]), true)), "曹杨 keeps the mover's month");
    assert_eq!(months("he", last), None, "新华路 had none of it");
    assert_eq!(months("li", this), None, "nothing at 曹杨 after the move");
    assert_eq!(months("he", this), Some((row(&["1", "0.50", "0.5", "0.5", "0"]), false)));

    // The bureau's: a station's month equals its monthly report, the districts follow, and
    // the XLSX says what the CSV says.
    let key = |figures: &crate::bureau::Figures, key: &str| format!("{:.2}", figures[key].parse::<f64>().unwrap());
    let ours = csv_rows(&console.signed_in("li").get(&format!("/console/bureau.csv?period={last}")).text, SUMMARY);
    assert_eq!(
        (key(&ours[console.station.id.as_str()], "visits"), key(&ours[console.station.id.as_str()], "coins_issued")),
        ("1.00".into(), "1.00".into())
    );
    let across = console.across.district.to_string();
    for (month, home, moved) in [(last, ("1.00", "1.00"), ("0.00", "0.00")), (this, ("0.00", "0.00"), ("1.00", "0.50"))] {
        let csv = csv_rows(&console.signed_in("shi").get(&format!("/console/bureau.csv?period={month}&scope=city")).text, SUMMARY);
        let xlsx = xlsx_summary(&console, "shi", &month.to_string(), "city");
        for (district, (visits, issued)) in [(timebank_server::store::DEFAULT_DISTRICT, home), (across.as_str(), moved)] {
            assert_eq!(
                (key(&csv[district], "visits"), key(&csv[district], "coins_issued")),
                (visits.to_owned(), issued.to_owned()),
                "{district} {month}"
            );
            for (column, number) in &xlsx[district] {
                assert_eq!(&key(&csv[district], column), number, "{district} {month} {column}: the XLSX says what the CSV says");
            }
        }
    }
}

#[test]
fn a_bad_move_is_refused_with_the_reason_and_changes_nothing() {
    let console = Console::new();
    let volunteer = console.member("volunteer", "刘师傅");
    let logged = console.store().ledger_events(0).unwrap().len();
    let nowhere = registry::move_member(&console.relay, volunteer.id.as_str(), "s-nowhere", |_| None).unwrap_err();
    assert!(nowhere.to_string().contains("no station s-nowhere"), "{nowhere}");
    let nobody = registry::move_member(&console.relay, "m-nobody", console.across.id.as_str(), |_| None).unwrap_err();
    assert!(nobody.to_string().contains("no member m-nobody"), "{nobody}");
    let home = move_to(&console, &volunteer, &console.station).unwrap_err();
    assert!(home.to_string().contains("already"), "{home}");
    let coordinator = move_to(&console, &console.coordinator, &console.across).unwrap_err();
    assert!(coordinator.to_string().contains("is a coordinator"), "{coordinator}");
    let bad_id = registry::move_member(&console.relay, "M 1", console.across.id.as_str(), |_| None).unwrap_err();
    assert!(matches!(bad_id, RegistryError::Invalid(_)), "{bad_id}");
    assert_eq!(console.store().member(&volunteer.id).unwrap().unwrap().station, console.station.id);
    assert_eq!(console.store().member(&console.coordinator.id).unwrap().unwrap().station, console.station.id);
    assert_eq!(console.store().ledger_events(0).unwrap().len(), logged, "nothing logged");
}

/// A phone syncs visit after visit while the member moves: every visit is posted once,
/// whichever side of the move it arrived on, and the ledger equals its rebuild.
#[test]
fn a_move_racing_a_phones_syncs_loses_no_coin() {
    let console = Console::new();
    let served = Served::start(&console);
    let volunteer = console.member("volunteer", "孙阿姨");
    let elder = console.member("elder", "钱爷爷");
    let mut phone = served.phone(&console, &volunteer);
    phone.sync();
    let (started, start) = mpsc::channel();
    let visits = std::thread::scope(|scope| {
        let syncing = scope.spawn(move || {
            let mut visits = Vec::new();
            // Within the day's cap (two hours): every minute is the volunteer's.
            for hours_ago in (1..=4).rev() {
                visits.push(phone.log_visit(&elder.id, hours_ago, 30, "买菜"));
                phone.sync();
                if hours_ago == 3 {
                    started.send(()).unwrap();
                }
            }
            (visits, phone)
        });
        start.recv().unwrap();
        move_to(&console, &volunteer, &console.across).unwrap();
        syncing.join().unwrap()
    });
    let (visits, mut phone) = visits;
    // Whatever waited at the old station waits at the new one: its desk decides them all.
    let hers = coordinator_of(&console, &console.across);
    desk::review_visits(&console.relay, &hers.id, &visits, ReviewDecision::Approve, "", None).unwrap();
    phone.sync();
    assert_eq!(phone.confirmed(), 4 * 30);
    assert!(phone.states().values().all(|s| s == "approved"), "{:?}", phone.states());
    assert!(rebuild_check(console.store()).unwrap().is_empty(), "the ledger equals its rebuild");
}

/// Sends what `phone` would sync and loses the answer: its next sync is asked to list every
/// document it holds.
fn lose_an_answer(phone: &mut crate::phones::Phone) {
    let body = SyncRun::default().next_request(&phone.engine).unwrap().unwrap();
    phone.http().exchange(body).unwrap();
}

/// After a move the phones still hold what they read before (the volunteer's the old
/// station's document, the old coordinator's the member's documents): listing it after a
/// lost answer is no trespass; it is left out, and both phones sync on.
#[test]
fn phones_that_hold_what_they_read_before_a_move_sync_on() {
    let console = Console::new();
    let served = Served::start(&console);
    let (volunteer, mut phone) = earner(&console, &served);
    let mut desk = served.phone(&console, &console.coordinator);
    desk.sync();
    assert!(desk.documents().contains(&format!("member/{}", volunteer.id)));
    move_to(&console, &volunteer, &console.across).unwrap();

    let elder = console.member("elder", "周奶奶");
    phone.log_visit(&elder.id, 2, 30, "陪聊");
    lose_an_answer(&mut phone);
    phone.sync();
    assert_eq!(phone.engine.identity().station, console.across.id);
    assert!(phone.sent().len() == 2, "{:?}", phone.states());
    let other = console.member("volunteer", "吴师傅");
    lose_an_answer(&mut desk);
    desk.sync();
    assert!(desk.documents().contains(&format!("member/{}", other.id)), "the old desk syncs on: {:?}", desk.documents());
    assert!(console.store().security_events().unwrap().is_empty(), "{:?}", console.store().security_events().unwrap());
    assert!(rebuild_check(console.store()).unwrap().is_empty());
}

/// The evidence shown for `visit` in `queue` (a review page): its kind and its row's text.
fn presence_in(queue: &str, visit: &VisitId) -> (String, String) {
    let row = &queue[queue.find(&format!("data-visit=\"{visit}\"")).unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    let kind = row.split("data-presence=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    (kind, row.to_owned())
}

/// An elder with a tag of 曹杨 moves to 新华路: the move revokes the tag ("moved to s-…"),
/// so a visit tapped with it, by a volunteer of either station, waits for a coordinator
/// with the reason; 新华路's tags page and `admin tag list` say the elder needs a tag
/// there; once 新华路 registers one, its taps verify again.
#[test]
fn an_elders_tag_is_revoked_by_the_move_and_the_new_station_registers_one() {
    let console = Console::new();
    let served = Served::start(&console);
    let elder = console.member("elder", "王奶奶");
    let theirs = console.member("volunteer", "刘师傅");
    let ours = console.member_at(&console.across, "volunteer", "陈志强");
    let (mut theirs_phone, mut ours_phone) = (served.phone(&console, &theirs), served.phone(&console, &ours));
    theirs_phone.sync();
    ours_phone.sync();
    let mut li = console.signed_in("li");
    li.get("/console/tags");
    assert_eq!(
        li.post("/console/tags/register", &[("elder", elder.id.as_str()), ("uid", "04A1B2C3D4E5F6")]).status,
        StatusCode::SEE_OTHER
    );
    let keys = |station: &StationRecord| station_keys(console.relay.store(), &station.id).unwrap();
    let mut old_tag = SoftwareTag::new(&keys(&console.station), parse_uid("04A1B2C3D4E5F6").unwrap(), 0);
    let before = tapped_visit(&mut theirs_phone, &elder.id, &mut old_tag, 50);
    theirs_phone.sync();
    assert_eq!(presence_in(&li.get("/console/review").text, &before).0, "verified", "the tag proves the visit before the move");

    move_to(&console, &elder, &console.across).unwrap();
    let tag = console.store().tag("04a1b2c3d4e5f6").unwrap().unwrap();
    assert_eq!(tag.revoked_why, Some(format!("moved to {}", console.across.id)));
    assert!(li.get("/console/tags").text.contains(&format!("moved to {}", console.across.id)), "曹杨's page says why");

    // Tapped with the old tag after the move: by 新华路's volunteer (the tag was written with
    // 曹杨's keys) and by 曹杨's (the tag is revoked), each waits with the reason.
    let mut he = console.signed_in("he");
    let by_ours = tapped_visit(&mut ours_phone, &elder.id, &mut old_tag, 40);
    ours_phone.sync();
    let (kind, row) = presence_in(&he.get("/console/review").text, &by_ours);
    assert_eq!(kind, "failed", "{row}");
    assert!(row.contains("老人已迁往其他站点"), "the reason, in Chinese: {row}");
    let reason = "evidence of presence failed: the tag tapped is from the station the elder moved away from";
    ours_phone.sync();
    let label = ours_phone.engine.visit_view(&by_ours).unwrap().state_label;
    assert!(label.contains(reason), "the volunteer reads why: {label}");
    let by_theirs = tapped_visit(&mut theirs_phone, &elder.id, &mut old_tag, 30);
    theirs_phone.sync();
    theirs_phone.sync();
    let label = theirs_phone.engine.visit_view(&by_theirs).unwrap().state_label;
    assert!(label.contains(reason), "a tap under 曹杨's keys proves nothing now: {label}");

    // 新华路 sees that the elder needs a tag, on its page and in `admin tag list`.
    let page = he.get("/console/tags");
    let needed = page.testid("tags-needed").map(|_| &page.text[page.text.find("data-testid=\"tags-needed\"").unwrap()..]).unwrap();
    assert!(needed.contains(&format!("data-elder=\"{}\"", elder.id)) && needed.contains("04a1b2c3d4e5f6"), "{needed}");
    let list = |station: &StationRecord| {
        let command = TagCommand::List { station: station.id.to_string() };
        admin::run(&console.relay, &AdminCommand::Tag(command)).unwrap()
    };
    let listed = list(&console.across);
    assert!(
        listed.text.contains(&format!("elder {} (王奶奶) needs a tag here: moved from {}", elder.id, console.station.id)),
        "{}",
        listed.text
    );
    assert_eq!(listed.json["needed"][0]["left"]["uid"], "04a1b2c3d4e5f6");
    assert!(list(&console.station).json["needed"].as_array().unwrap().is_empty(), "曹杨 has nothing to register");

    // Registered at 新华路 (written with its keys), a tap proves the visit again.
    assert_eq!(
        he.post("/console/tags/register", &[("elder", elder.id.as_str()), ("uid", "04A1B2C3D4E5F7")]).status,
        StatusCode::SEE_OTHER
    );
    assert!(he.get("/console/tags").testid("tags-needed").is_none(), "nothing left to register");
    let mut new_tag = SoftwareTag::new(&keys(&console.across), parse_uid("04A1B2C3D4E5F7").unwrap(), 0);
    let after = tapped_visit(&mut ours_phone, &elder.id, &mut new_tag, 20);
    ours_phone.sync();
    assert_eq!(presence_in(&he.get("/console/review").text, &after).0, "verified");
    assert!(rebuild_check(console.store()).unwrap().is_empty(), "the ledger equals its rebuild");
}
