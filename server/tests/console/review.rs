//! The review queue at the console: a flagged visit approved in the browser earns the
//! volunteer their coins on their own phone; a rejection needs a reason; another
//! station's visit, a form without its CSRF token and the district's read-only account
//! change nothing; a volunteer's note is shown as text; clean visits are approved in bulk.

use axum::http::StatusCode;
use timebank_engine::model::{ConfirmedBy, VisitId};

use crate::phones::{Pair, Phone, Served};
use crate::support::{Browser, Console};

/// Everything the ledger and the documents hold, to check that a refusal changed nothing.
pub fn state(console: &Console) -> (usize, usize, Vec<i64>) {
    let store = console.store();
    let generations = store.document_ids().unwrap().iter().map(|id| store.document(id).unwrap().unwrap().generation).collect();
    (store.postings().unwrap().len(), store.ledger_events(0).unwrap().len(), generations)
}

/// A volunteer's phone with two overlapping visits synced: the second one is held by the
/// ledger for review (it overlaps the first).
struct Scene {
    served: Served,
    phone: Phone,
    first: VisitId,
    second: VisitId,
}

fn overlapping_visits(console: &Console, note: &str) -> Scene {
    let Pair { served, elder, mut phone, .. } = Pair::new(console);
    let other_elder = console.member("elder", "陈秀英");
    let first = phone.log_visit(&elder.id, 6, 120, "read the newspaper");
    let second = phone.log_visit(&other_elder.id, 5, 60, note);
    phone.sync();
    Scene { served, phone, first, second }
}

fn row_of(page: &str, visit: &VisitId) -> usize {
    page.find(&format!("data-visit=\"{visit}\"")).unwrap_or_else(|| panic!("visit {visit} is not on the page"))
}

#[test]
fn a_flagged_visit_approved_at_the_console_reaches_the_volunteers_balance() {
    let console = Console::new();
    let Scene { mut phone, second, first, .. } = overlapping_visits(&console, "tea");
    assert_eq!(phone.confirmed(), 0);

    let mut li = console.signed_in("li");
    let queue = li.get("/console/review");
    assert_eq!(queue.status, StatusCode::OK);
    // The overlapping visits come first, marked, with the overlap named as evidence.
    let row = row_of(&queue.text, &second);
    let tag = &queue.text[row..row + queue.text[row..].find('>').unwrap()];
    assert!(tag.contains("anomaly"), "{tag}");
    assert!(queue.text.contains("时间重叠"), "the anomaly is named in Chinese by default");

    // An anomaly is approved only after a confirmation page, with a note.
    let approve = format!("/console/review/{second}/approve");
    assert!(queue.text.contains(&format!("href=\"{approve}\"")), "the queue links to the confirmation");
    let before = state(&console);
    let unconfirmed = li.post(&approve, &[]);
    assert_eq!(unconfirmed.status, StatusCode::SEE_OTHER, "{}", unconfirmed.text);
    assert_eq!(unconfirmed.location.as_deref(), Some(approve.as_str()), "to the confirmation page");
    assert_eq!(state(&console), before, "nothing was approved without the confirmation");
    let confirm = li.get(&approve);
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.text.contains("时间重叠") && confirm.text.contains("确认批准"), "{}", confirm.text);
    let no_note = li.post(&approve, &[("confirmed", "yes")]);
    assert_eq!(no_note.status, StatusCode::BAD_REQUEST);
    assert!(no_note.text.contains("须写明说明"), "{}", no_note.text);
    assert_eq!(state(&console), before, "nor without a note");

    let done = li.post(&approve, &[("confirmed", "yes"), ("reason", "电话核实：两次服务都属实")]);
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    assert_eq!(done.location.as_deref(), Some("/console/review"));
    let after = li.get("/console/review");
    // A flash says what was done, naming the people rather than the visit's id.
    assert!(after.text.contains("已批准记录：李伟 → 陈秀英 · "), "{}", after.text);
    assert!(!after.text.contains(&format!("已批准记录 {second}")));
    assert!(!after.text.contains(&format!("data-visit=\"{second}\"")), "the approved visit left the queue");
    assert!(after.text.contains(&format!("data-visit=\"{first}\"")));

    phone.sync();
    assert_eq!(phone.confirmed(), 60, "one hour approved: one coin");
    let states: Vec<(String, String)> =
        phone.engine.visits().unwrap().into_iter().map(|v| (v.visit.id.to_string(), v.state_label)).collect();
    assert!(states.contains(&(second.to_string(), "approved".into())), "{states:?}");
    // The audit trail and the posting name who decided.
    let audit = console.store().audit_entries(Some(&console.station.id), 10).unwrap();
    assert!(audit.iter().any(|a| a.action == "review.approve" && a.target == second.as_str() && a.username == "li"));
    assert!(li.get(&format!("/console/visits/{second}")).text.contains("电话核实：两次服务都属实"), "the note is in the history");
    let posting = console.store().postings().unwrap().into_iter().find(|p| p.subject == second.as_str()).unwrap();
    assert_eq!(posting.by.as_deref(), Some(console.coordinator.id.as_str()), "the coordinator is the author");
}

#[test]
fn a_rejection_needs_a_reason_and_reaches_the_volunteer_with_it() {
    let console = Console::new();
    let Scene { mut phone, second, .. } = overlapping_visits(&console, "tea");
    let mut li = console.signed_in("li");
    li.get("/console/review");
    let before = state(&console);
    let refused = li.post(&format!("/console/review/{second}/reject"), &[("reason", "   ")]);
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.text.contains("驳回必须写明原因"), "{}", refused.text);
    assert_eq!(state(&console), before, "nothing changed");

    let done = li.post(&format!("/console/review/{second}/reject"), &[("reason", "老人那天在医院")]);
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    phone.sync();
    let label = phone.engine.visit_view(&second).unwrap().state_label;
    assert_eq!(label, "rejected: 老人那天在医院");
}

#[test]
fn another_station_a_missing_csrf_token_and_the_district_change_nothing() {
    let console = Console::new();
    let Scene { second, .. } = overlapping_visits(&console, "tea");
    let before = state(&console);

    let mut zhao = console.signed_in("zhao");
    zhao.get("/console/review");
    let theirs = zhao.post(&format!("/console/review/{second}/approve"), &[]);
    assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{}", theirs.text);
    assert!(theirs.text.contains("在您的服务站找不到"));
    assert_eq!(zhao.get(&format!("/console/visits/{second}")).status, StatusCode::NOT_FOUND);
    assert!(!zhao.get("/console/review").text.contains(second.as_str()), "their queue does not list it");
    assert!(!zhao.get("/console/visits").text.contains(second.as_str()));

    let mut li = console.signed_in("li");
    li.get("/console/review");
    let forged = li.post_raw(&format!("/console/review/{second}/approve"), &[]);
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let wrong = li.post_raw(&format!("/console/review/{second}/approve"), &[("csrf", "not-the-token")]);
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);

    let mut qu = console.signed_in("qu");
    let everything = qu.get("/console/review");
    assert!(everything.text.contains(second.as_str()), "the district reads every station");
    assert!(!everything.text.contains("/approve\""), "and has no buttons");
    assert!(everything.text.contains("data-testid=\"station-choice\""), "the district chooses a station");
    let theirs_only = qu.get(&format!("/console/visits?station={}", console.other.id));
    assert!(!theirs_only.text.contains(second.as_str()), "?station= narrows to one station");
    assert!(qu.get(&format!("/console/visits?station={}", console.station.id)).text.contains(second.as_str()));
    assert!(!li.get("/console/review").text.contains("station-choice"), "a coordinator has no choice");
    let read_only = qu.post(&format!("/console/review/{second}/approve"), &[]);
    assert_eq!(read_only.status, StatusCode::FORBIDDEN);

    assert_eq!(state(&console), before, "nothing changed");
}

#[test]
fn a_volunteers_note_is_shown_as_text() {
    let console = Console::new();
    let Scene { second, .. } = overlapping_visits(&console, "<script>alert(1)</script>");
    let mut li = console.signed_in("li");
    for path in ["/console/review".to_owned(), "/console/visits".to_owned(), format!("/console/visits/{second}")] {
        let page = li.get(&path);
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(page.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{path}: {}", page.text);
        assert!(!page.text.contains("<script>alert(1)"), "{path}");
    }
}

#[test]
fn clean_confirmed_visits_are_approved_together_and_others_refused() {
    let console = Console::new();
    let Pair { elder, mut phone, .. } = Pair::new(&console);
    let a = phone.log_visit(&elder.id, 30, 60, "");
    let b = phone.log_visit(&elder.id, 20, 45, "");
    let unconfirmed = phone.log_visit(&elder.id, 10, 30, "");
    for visit in [&a, &b] {
        phone.engine.confirm_visit(visit, ConfirmedBy::Elder).unwrap();
    }
    phone.sync();

    let mut li: Browser<'_> = console.signed_in("li");
    let queue = li.get("/console/review");
    assert!(queue.text.contains(&format!("name=\"visit\" value=\"{a}\"")));
    assert!(!queue.text.contains(&format!("name=\"visit\" value=\"{unconfirmed}\"")), "not clean: no checkbox");
    let before = state(&console);
    let refused = li.post("/console/review/approve-clean", &[("visit", a.as_str()), ("visit", unconfirmed.as_str())]);
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    assert_eq!(state(&console), before, "none of them was approved");

    let done = li.post("/console/review/approve-clean", &[("visit", a.as_str()), ("visit", b.as_str())]);
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    phone.sync();
    assert_eq!(phone.confirmed(), 60 + 45);
}

#[test]
fn a_reversed_approval_takes_the_coins_back_on_the_phone_in_the_ledger_and_the_report() {
    let console = Console::new();
    let Pair { elder, mut phone, .. } = Pair::new(&console);
    let visit = phone.log_visit(&elder.id, 3, 90, "");
    phone.sync();
    let mut li = console.signed_in("li");
    li.get("/console/review");
    assert_eq!(li.post(&format!("/console/review/{visit}/approve"), &[]).status, StatusCode::SEE_OTHER);
    phone.sync();
    assert_eq!(phone.confirmed(), 90);
    let page = format!("/console/visits/{visit}");
    assert!(li.get(&page).text.contains("data-testid=\"reverse\""), "the approval can be reversed from the visit's page");

    let reverse = format!("{page}/reverse");
    let before = state(&console);
    let refused = li.post(&reverse, &[("reason", "  ")]);
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.text.contains("撤销必须写明原因"), "{}", refused.text);
    assert_eq!(state(&console), before, "nothing changed");

    let done = li.post(&reverse, &[("reason", "记错了老人，应为另一位")]);
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    assert_eq!(done.location.as_deref(), Some(page.as_str()));
    let detail = li.get(&page);
    assert!(detail.text.contains("已撤销批准：李伟 → 王芳"), "the banner names the people");
    assert!(detail.text.contains("批准已撤销") && detail.text.contains("记错了老人，应为另一位"), "in the history");
    assert!(detail.text.contains("冲正"), "the reversal posting is in the history");
    assert!(!detail.text.contains("data-testid=\"reverse\""), "nothing stands to reverse now");
    assert!(li.get("/console/review").text.contains(&format!("data-visit=\"{visit}\"")), "back in the queue");
    let again = li.post(&reverse, &[("reason", "again")]);
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);

    // The ledger: the earn stays, a reversal undoes it, by the coordinator.
    let postings: Vec<_> = console.store().postings().unwrap().into_iter().filter(|p| p.subject == visit.as_str()).collect();
    let kinds: Vec<(&str, i64)> = postings.iter().map(|p| (p.kind.as_str(), p.minutes)).collect();
    assert_eq!(kinds, [("earn", 90), ("reversal", 90)]);
    assert_eq!(postings[1].by.as_deref(), Some(console.coordinator.id.as_str()));
    // The month's figures net it out.
    // The month of the relay's clock, which dated the earn and its reversal.
    let month =
        timebank_server::console::visits::log::Month::of(timebank_engine::Clock::now(console.clock.as_ref()).timestamp_millis());
    let csv = li.get(&format!("/console/reports.csv?month={month}"));
    let row: Vec<String> = csv.text.trim_start_matches('\u{feff}').lines().nth(1).unwrap().split(',').map(str::to_owned).collect();
    assert_eq!((row[6].as_str(), row[9].as_str()), ("0.00", "0.00"), "nothing issued, nothing outstanding: {row:?}");
    // The volunteer's phone: the balance and the state, with the reason.
    phone.sync();
    assert_eq!(phone.confirmed(), 0);
    assert_eq!(
        phone.engine.visit_view(&visit).unwrap().state_label,
        "under review: the approval was reversed: 记错了老人，应为另一位"
    );
    let audit = console.store().audit_entries(Some(&console.station.id), 10).unwrap();
    assert!(audit.iter().any(|a| a.action == "review.reverse" && a.target == visit.as_str() && a.detail == "记错了老人，应为另一位"));

    // Approved again after a closer look: it earns again, once.
    assert_eq!(
        li.post(&format!("/console/review/{visit}/approve"), &[("confirmed", "yes"), ("reason", "核实无误")]).status,
        StatusCode::SEE_OTHER
    );
    phone.sync();
    assert_eq!(phone.confirmed(), 90);
}

#[test]
fn a_reversed_rejection_sends_the_visit_back_to_the_queue_and_the_phone_sees_why() {
    let console = Console::new();
    let Pair { elder, mut phone, .. } = Pair::new(&console);
    let visit = phone.log_visit(&elder.id, 3, 60, "");
    phone.sync();
    let mut li = console.signed_in("li");
    li.get("/console/review");
    assert_eq!(li.post(&format!("/console/review/{visit}/reject"), &[("reason", "老人说没来过")]).status, StatusCode::SEE_OTHER);
    assert!(!li.get("/console/review").text.contains(&format!("data-visit=\"{visit}\"")));
    let page = format!("/console/visits/{visit}");
    assert!(li.get(&page).text.contains("撤销驳回"));
    let done = li.post(&format!("{page}/reverse"), &[("reason", "老人的女儿确认来过")]);
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    assert!(li.get(&page).text.contains("已撤销驳回："));
    assert!(li.get("/console/review").text.contains(&format!("data-visit=\"{visit}\"")), "back in the queue");
    phone.sync();
    assert_eq!(phone.engine.visit_view(&visit).unwrap().state_label, "under review: the rejection was reversed: 老人的女儿确认来过");
    assert_eq!(phone.confirmed(), 0);
    assert!(console.store().postings().unwrap().iter().all(|p| p.subject != visit.as_str()), "a rejection posted nothing to undo");
}

/// Visit of `minutes` to `elder`, yesterday (UTC+8) from `hour` o'clock.
fn yesterday(phone: &mut crate::phones::Phone, elder: &timebank_engine::model::MemberId, hour: u32, minutes: i64) -> VisitId {
    use chrono::{Duration, FixedOffset, TimeZone, Utc};
    let zone = FixedOffset::east_opt(8 * 3600).unwrap();
    let day = (Utc::now().with_timezone(&zone) - Duration::days(1)).date_naive();
    let start = zone.from_local_datetime(&day.and_hms_opt(hour, 0, 0).unwrap()).unwrap().with_timezone(&Utc);
    phone
        .engine
        .log_visit(&timebank_engine::PastVisit {
            elder: elder.clone(),
            service: "companionship".into(),
            order: None,
            start,
            end: start + Duration::minutes(minutes),
            note: String::new(),
        })
        .unwrap()
}

#[test]
fn the_queue_shows_what_the_ledger_will_credit_rounded_and_capped() {
    let console = Console::new();
    let Pair { elder, mut phone, .. } = Pair::new(&console);
    let morning = yesterday(&mut phone, &elder.id, 9, 95);
    let afternoon = yesterday(&mut phone, &elder.id, 14, 60);
    phone.sync();
    let mut li = console.signed_in("li");
    let queue = li.get("/console/review");
    let row = |page: &str, visit: &VisitId| {
        let start = row_of(page, visit);
        page[start..start + page[start..].find("</tr>").unwrap()].to_owned()
    };
    let first = row(&queue.text, &morning);
    assert!(first.contains("1 小时 35 分"), "the logged time: {first}");
    assert!(
        first.contains("批准后入账 <strong>1.5 币</strong>") && first.contains("计为 1 小时 30 分"),
        "rounded to quarter hours: {first}"
    );
    assert!(row(&queue.text, &afternoon).contains("批准后入账 <strong>1 币</strong>"), "alone, the afternoon earns its hour");

    assert_eq!(li.post(&format!("/console/review/{morning}/approve"), &[]).status, StatusCode::SEE_OTHER);
    let second = row(&li.get("/console/review").text, &afternoon);
    assert!(
        second.contains("批准后入账 <strong>0.5 币</strong>"),
        "after the morning, the daily cap of 2 coins leaves half: {second}"
    );
    assert!(second.contains("0.5 币 超出每日上限，转入服务站捐赠池"), "{second}");
    assert_eq!(li.post(&format!("/console/review/{afternoon}/approve"), &[]).status, StatusCode::SEE_OTHER);
    let credited: Vec<(String, i64)> = console.store().postings().unwrap().into_iter().map(|p| (p.kind, p.minutes)).collect();
    assert_eq!(
        credited,
        [("earn".to_owned(), 90), ("earn".to_owned(), 30), ("overflow".to_owned(), 30)],
        "what was shown is what was posted"
    );
}

#[test]
fn a_check_in_filled_in_long_after_it_claims_is_held_with_its_evidence_and_reads_as_back_entered() {
    use chrono::{Duration, Utc};
    let console = Console::new();
    let Pair { elder, mut phone, .. } = Pair::new(&console);
    // Forgot to check in on arrival: tapped 95 minutes later, with the arrival time.
    let late = phone.engine.start_visit_at(&elder.id, "companionship", None, Some(Utc::now() - Duration::minutes(95))).unwrap();
    phone.engine.end_visit(&late, None, None).unwrap();
    // Ten minutes late is within the station's hour.
    let near = phone.engine.start_visit_at(&elder.id, "meals", None, Some(Utc::now() - Duration::minutes(10))).unwrap();
    phone.engine.end_visit(&near, None, None).unwrap();
    phone.sync();

    let mut li = console.signed_in("li");
    let queue = li.get("/console/review");
    let start = row_of(&queue.text, &late);
    let row = &queue.text[start..start + queue.text[start..].find("</tr>").unwrap()];
    assert!(row.contains("签到补录") && row.contains("在手机上录入比填写的时间晚 1 小时 35 分"), "{row}");
    assert!(row.contains("填写的签到时间 ") && row.contains("，手机录入于 "), "claimed against entered: {row}");
    let start = row_of(&queue.text, &near);
    assert!(!queue.text[start..start + queue.text[start..].find("</tr>").unwrap()].contains("补录"));

    assert_eq!(li.get(&format!("/console/visits/{late}")).testid("source").as_deref(), Some("补录：签到时间是事后填写的"));
    assert_eq!(li.get(&format!("/console/visits/{near}")).testid("source").as_deref(), Some("手机签到签退"));
    phone.sync();
    let state = phone.engine.visit_view(&late).unwrap().state_label;
    assert!(state.starts_with("under review: the check-in was entered 9"), "the volunteer sees why: {state}");
}
