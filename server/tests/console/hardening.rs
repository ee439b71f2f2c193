//! Review findings on the console, each kept as a test: parallel sign-ins cannot get past
//! the lock-out, reasons and forms are bounded, CSV cells cannot start a formula, no script
//! runs but the live updates' own, nothing personal is logged; and sweeps over every form and page (another
//! station's ids, the district, CSRF tokens, markup in every typed string).

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64ct::Encoding as _;
use sha2::Digest as _;
use timebank_engine::model::{ConfirmedBy, VisitId};
use timebank_server::console::MAX_REASON_CHARS;
use timebank_server::console::visits::log::Month;
use timebank_server::store::MemberRecord;
use tower::ServiceExt as _;

use crate::phones::{Pair, Served};
use crate::review::state;
use crate::support::{Browser, Console, PASSWORD, encode};

/// A volunteer's phone with one hour's visit (three hours ago) synced to the relay.
fn synced_visit(console: &Console) -> (Pair, VisitId) {
    let mut pair = Pair::new(console);
    let visit = pair.phone.log_visit(&pair.elder.id, 3, 60, "");
    pair.phone.sync();
    (pair, visit)
}

/// `li` places an order for `elder` with `note`; its id, from the board.
fn place_order(li: &mut Browser<'_>, elder: &MemberRecord, note: &str) -> String {
    li.get("/console/orders");
    let placed = li.post("/console/orders", &[("elder", elder.id.as_str()), ("service", "companionship"), ("note", note)]);
    assert_eq!(placed.status, StatusCode::SEE_OTHER, "{}", placed.text);
    li.get("/console/orders").text.split("data-order=\"").nth(1).unwrap().split('"').next().unwrap().to_owned()
}

/// The id of `pair`'s volunteer's phone.
fn device_of(console: &Console, pair: &Pair) -> String {
    console.store().devices().unwrap().into_iter().find(|d| d.member == pair.volunteer.id).unwrap().id
}

/// Sends `count` sign-ins for `username` with `password` at the same time, from one
/// sign-in page; their statuses.
fn parallel_sign_ins(console: &Console, username: &str, password: &str, count: usize) -> Vec<StatusCode> {
    let mut browser = console.browser();
    browser.get("/console/login");
    let csrf = browser.csrf.clone().unwrap();
    let cookies = browser.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
    let body = format!("csrf={}&username={}&password={}&next=%2Fconsole%2Freview", encode(&csrf), encode(username), encode(password));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let tries: Vec<_> = (0..count)
            .map(|_| {
                let request = Request::builder()
                    .method("POST")
                    .uri("/console/login")
                    .header("cookie", &cookies)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(Body::from(body.clone()))
                    .unwrap();
                tokio::spawn(console.router.clone().oneshot(request))
            })
            .collect();
        let mut statuses = Vec::new();
        for attempt in tries {
            statuses.push(attempt.await.unwrap().unwrap().status());
        }
        statuses
    })
}

#[test]
fn wrong_passwords_sent_in_parallel_still_lock_after_five() {
    let console = Console::new();
    let statuses = parallel_sign_ins(&console, "li", "wrong password", 12);
    let checked = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    assert!(checked <= 4, "at most four plain refusals before the lock, got {checked}: {statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count(), 12 - checked, "{statuses:?}");
    let mut browser = console.browser();
    assert_eq!(browser.sign_in("li", PASSWORD).status, StatusCode::TOO_MANY_REQUESTS, "locked: the right password waits");
}

#[test]
fn a_review_reason_that_is_too_long_or_has_control_characters_changes_nothing() {
    let console = Console::new();
    let (_pair, visit) = synced_visit(&console);
    let before = state(&console);
    let mut li = console.signed_in("li");
    li.get("/console/review");
    let long = "长".repeat(MAX_REASON_CHARS + 1);
    for (decision, reason) in [("reject", long.as_str()), ("flag", "look \u{1b}[2J here")] {
        let refused = li.post(&format!("/console/review/{visit}/{decision}"), &[("reason", reason)]);
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{decision} {:.80}", refused.text);
        assert!(refused.text.contains(&MAX_REASON_CHARS.to_string()), "the message says the limit: {:.300}", refused.text);
    }
    assert_eq!(state(&console), before, "nothing reached the desk or the ledger");
    assert_eq!(li.post(&format!("/console/review/{visit}/reject"), &[("reason", "老人那天不在家")]).status, StatusCode::SEE_OTHER);
}

#[test]
fn csv_cells_never_start_a_spreadsheet_formula_and_keep_their_commas_quotes_and_lines() {
    let console = Console::at(chrono::Utc::now());
    let Pair { mut phone, .. } = Pair::new(&console);
    let elder = console.member("elder", "=2+3");
    let notes = [
        ("\t=HYPERLINK(\"http://evil.example\",\"x\")", "\"'\t=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\""),
        ("\r@SUM(1,2)", "\"'\r@SUM(1,2)\""),
        ("-1+2", ",'-1+2"),
        ("tea, then \"chess\"\nand a walk", ",\"tea, then \"\"chess\"\"\nand a walk\""),
    ];
    for (hours, (note, _)) in (2_i64..).zip(notes) {
        phone.log_visit(&elder.id, hours, 30, note);
    }
    phone.sync();
    let mut li = console.signed_in("li");
    // The visits started two to five hours ago by the relay's clock (the phone's too): the
    // month's log, or two months' at the turn of a month.
    let now = timebank_engine::Clock::now(console.clock.as_ref()).timestamp_millis();
    let months: BTreeSet<Month> = (2..2 + notes.len() as i64).map(|hours| Month::of(now - hours * 3_600_000)).collect();
    let mut csv = li.get(&format!("/console/visits.csv?month={}", months.first().unwrap()));
    for month in months.iter().skip(1) {
        let more = li.get(&format!("/console/visits.csv?month={month}"));
        assert_eq!(more.status, StatusCode::OK);
        csv.text.push_str(&more.text);
    }
    assert_eq!(csv.status, StatusCode::OK);
    for (note, cell) in notes {
        assert!(csv.text.contains(cell), "{note:?} is written as {cell:?}: {:?}", csv.text);
    }
    assert_eq!(csv.text.matches(",'=2+3,").count(), notes.len(), "the elder's name, once a row: {:?}", csv.text);
}

#[test]
fn no_script_but_the_live_updates_and_no_inline_style_may_run_on_a_console_page() {
    let console = Console::new();
    let mut li = console.signed_in("li");
    let script = console.call(&console.router, Request::builder().uri("/console/static/live.js").body(Body::empty()).unwrap());
    let hash = format!("sha256-{}", base64ct::Base64::encode_string(&sha2::Sha256::digest(script.body())));
    for path in ["/console/login", "/console/review", "/console/members", "/console/orders", "/console/visits"] {
        let request = Request::builder()
            .uri(path)
            .header("cookie", format!("tb_session={}", li.cookies["tb_session"]))
            .body(Body::empty())
            .unwrap();
        let response = console.call(&console.router, request);
        let policy = response.headers()["content-security-policy"].to_str().unwrap().to_owned();
        // Exactly one script may run, the one served whole at /console/static/live.js.
        assert!(policy.contains(&format!("script-src '{hash}';")) && !policy.contains("unsafe-inline"), "{path}: {policy}");
        assert!(policy.contains("style-src 'self';"), "{path}: {policy}");
        let page = li.get(path).text;
        let scripts: Vec<&str> = page.split("<script").skip(1).collect();
        if ["/console/login", "/console/members"].contains(&path) {
            assert!(scripts.is_empty(), "{path} updates nothing by itself, so it has no script");
        } else {
            assert_eq!(scripts.len(), 1, "{path}");
            assert!(
                scripts[0].starts_with(&format!(" src=\"/console/static/live.js\" integrity=\"{hash}\"></script>")),
                "{path}: nothing inline: {}",
                scripts[0]
            );
        }
    }
}

#[test]
fn a_console_form_of_a_megabyte_is_refused_before_it_is_read() {
    let console = Console::new();
    let (_pair, visit) = synced_visit(&console);
    let before = state(&console);
    let huge = "x".repeat(1_000_000);
    let mut stranger = console.browser();
    let login = stranger.sign_in("li", &huge);
    assert_eq!(login.status, StatusCode::PAYLOAD_TOO_LARGE, "{:.200}", login.text);
    let mut li = console.signed_in("li");
    li.get("/console/review");
    let refused = li.post(&format!("/console/review/{visit}/reject"), &[("reason", huge.as_str())]);
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{:.200}", refused.text);
    assert!(refused.text.contains("表单无法读取"), "{:.300}", refused.text);
    assert_eq!(state(&console), before, "nothing changed");
}

/// Every POST route of the console with the ids of `li`'s station (a visit, an order, a
/// volunteer, an elder, a device, a redemption request that does not exist).
fn every_post(pair: &Pair, visit: &str, order: &str, device: &str) -> Vec<(String, Vec<(&'static str, String)>)> {
    let (volunteer, elder) = (pair.volunteer.id.to_string(), pair.elder.id.to_string());
    vec![
        (format!("/console/review/{visit}/approve"), vec![]),
        (format!("/console/review/{visit}/reject"), vec![("reason", "no".to_owned())]),
        (format!("/console/review/{visit}/flag"), vec![("reason", "look".to_owned())]),
        ("/console/review/approve-clean".to_owned(), vec![("visit", visit.to_owned())]),
        (format!("/console/visits/{visit}/reverse"), vec![("reason", "mistake".to_owned())]),
        ("/console/orders".to_owned(), vec![("elder", elder.clone()), ("service", "companionship".to_owned())]),
        (format!("/console/orders/{order}/dispatch"), vec![("volunteer", volunteer.clone())]),
        (format!("/console/orders/{order}/cancel"), vec![]),
        (format!("/console/members/{volunteer}/enroll-code"), vec![]),
        (format!("/console/members/{elder}/erase-contact"), vec![]),
        (format!("/console/devices/{device}/revoke"), vec![]),
        (format!("/console/ledger/{volunteer}/correction"), vec![("minutes", "60".to_owned()), ("reason", "gift".to_owned())]),
        ("/console/redemptions/r-0000000000000000/fulfil".to_owned(), vec![]),
        ("/console/redemptions/r-0000000000000000/release".to_owned(), vec![]),
        ("/console/tags/register".to_owned(), vec![("elder", elder.clone()), ("uid", "04a1b2c3d4e5f7".to_owned())]),
        (format!("/console/tags/{TAG}/replace"), vec![("uid", "04a1b2c3d4e5f8".to_owned())]),
        (format!("/console/tags/{TAG}/revoke"), vec![("reason", "lost".to_owned())]),
    ]
}

/// The tag of `li`'s station's elder the sweeps aim at.
const TAG: &str = "04a1b2c3d4e5f6";

#[test]
fn another_stations_coordinator_and_the_district_change_nothing_through_any_form() {
    let console = Console::new();
    let (pair, visit) = synced_visit(&console);
    let mut li = console.signed_in("li");
    let order = place_order(&mut li, &pair.elder, "");
    let device = device_of(&console, &pair);
    let theirs = console.member_elsewhere("volunteer", "赵志愿");
    timebank_server::registry::register_tag(&console.relay, &console.station.id, pair.elder.id.as_str(), TAG, "li", None).unwrap();
    let tags = || console.store().station_tags(&console.station.id).unwrap();
    let tags_before = tags();
    let before = (state(&console), console.store().devices().unwrap(), console.store().audit_entries(None, 1000).unwrap().len());

    for (who, refused) in [("zhao", StatusCode::NOT_FOUND), ("qu", StatusCode::FORBIDDEN)] {
        let mut browser = console.signed_in(who);
        browser.get("/console/review");
        for (path, fields) in every_post(&pair, visit.as_str(), &order, &device) {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let page = browser.post(&path, &fields);
            let expected = if who == "zhao" && path == "/console/orders" { StatusCode::NOT_FOUND } else { refused };
            assert_eq!(page.status, expected, "{who} {path}: {:.300}", page.text);
        }
    }
    // Their own volunteer in a dispatch of li's order, by li: not at li's station.
    let foreign = li.post(&format!("/console/orders/{order}/dispatch"), &[("volunteer", theirs.id.as_str())]);
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{:.300}", foreign.text);
    let after = (state(&console), console.store().devices().unwrap(), console.store().audit_entries(None, 1000).unwrap().len());
    assert_eq!(after.0, before.0, "no document or posting changed");
    assert_eq!(after.1, before.1, "no device changed");
    assert_eq!(after.2, before.2 + 2, "only the two sign-ins were audited");
    assert_eq!(tags(), tags_before, "no tag changed");
}

#[test]
fn a_visit_named_twice_in_the_bulk_approval_is_approved_and_counted_once() {
    let console = Console::new();
    let (Pair { mut phone, .. }, visit) = synced_visit(&console);
    phone.engine.confirm_visit(&visit, ConfirmedBy::Elder).unwrap();
    phone.sync();
    let mut li = console.signed_in("li");
    li.get("/console/review");
    let twice = [("visit", visit.as_str()); 3];
    assert_eq!(li.post("/console/review/approve-clean", &twice).status, StatusCode::SEE_OTHER);
    let flash = li.get("/console/review");
    assert!(flash.text.contains("已批准正常记录： 1<"), "{}", flash.text);
    let entry = console.store().audit_entries(Some(&console.station.id), 1).unwrap().remove(0);
    assert_eq!((entry.action.as_str(), entry.target.as_str()), ("review.approve-clean", visit.as_str()));
    phone.sync();
    assert_eq!(phone.confirmed(), 60);
}

#[test]
fn signing_in_again_in_the_same_browser_ends_its_earlier_session() {
    let console = Console::new();
    let mut desk = console.signed_in("li");
    let earlier = desk.cookies["tb_session"].clone();
    assert_eq!(desk.sign_in("zhao", PASSWORD).status, StatusCode::SEE_OTHER, "another coordinator at the same desk");
    assert_ne!(desk.cookies["tb_session"], earlier, "a new session token");
    let mut kept = console.browser();
    kept.cookies.insert("tb_session".into(), earlier);
    let page = kept.get("/console/members");
    assert_eq!(page.status, StatusCode::SEE_OTHER, "the earlier session is over on the relay: {:.200}", page.text);
    assert!(page.location.unwrap().starts_with("/console/login"));
    assert_eq!(desk.get("/console/members").status, StatusCode::OK, "the new one works");
}

#[test]
fn every_form_needs_the_token_of_its_own_session() {
    let console = Console::new();
    let (mut pair, visit) = synced_visit(&console);
    pair.phone.engine.confirm_visit(&visit, ConfirmedBy::Elder).unwrap();
    pair.phone.sync();
    let mut li = console.signed_in("li");
    let order = place_order(&mut li, &pair.elder, "");
    let device = device_of(&console, &pair);
    let mut other_tab = console.signed_in("li");
    other_tab.get("/console/review");
    let other_token = other_tab.csrf.clone().unwrap();
    assert_ne!(Some(&other_token), li.csrf.as_ref(), "each session has its own token");
    let before = (state(&console), console.store().devices().unwrap(), console.store().audit_entries(None, 1000).unwrap().len());

    let mut posts = every_post(&pair, visit.as_str(), &order, &device);
    posts.push((
        "/console/members".to_owned(),
        vec![("name", "王芳".to_owned()), ("birth_year", "1948".to_owned()), ("role", "elder".to_owned())],
    ));
    posts.push(("/console/logout".to_owned(), vec![]));
    posts.push(("/console/tags/rule".to_owned(), vec![("rule", "auto".to_owned())]));
    for (path, fields) in posts {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        for token in [None, Some(""), Some(other_token.as_str())] {
            let mut all = fields.clone();
            if let Some(token) = token {
                all.push(("csrf", token));
            }
            let page = li.post_raw(&path, &all);
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{path} with {token:?}: {:.300}", page.text);
        }
    }
    let after = (state(&console), console.store().devices().unwrap(), console.store().audit_entries(None, 1000).unwrap().len());
    assert_eq!(after, before, "nothing changed, nothing audited");
    assert_eq!(li.get("/console/review").status, StatusCode::OK, "still signed in");
}

/// Markup a person could type anywhere: it must reach every page as text.
const MARKUP: &str = "<img src=x onerror=alert(1)>\"'";

#[test]
fn every_string_a_person_typed_is_shown_as_text_on_every_page() {
    let console = Console::new();
    let served = Served::start(&console);
    let volunteer = console.member("volunteer", &format!("志愿者{MARKUP}"));
    let elder = console.member("elder", &format!("老人{MARKUP}"));
    let mut phone = served.phone(&console, &volunteer);
    let visit = phone.log_visit(&elder.id, 3, 60, &format!("note{MARKUP}"));
    phone.sync();
    let mut li = console.signed_in("li");
    let order = place_order(&mut li, &elder, &format!("order{MARKUP}"));
    assert_eq!(
        li.post(&format!("/console/orders/{order}/dispatch"), &[("volunteer", volunteer.id.as_str())]).status,
        StatusCode::SEE_OTHER
    );
    phone.sync();
    phone.engine.decline(&timebank_engine::model::OrderId::parse(&order).unwrap(), &format!("decline{MARKUP}")).unwrap();
    phone.sync();
    li.get("/console/review");
    assert_eq!(
        li.post(&format!("/console/review/{visit}/flag"), &[("reason", &format!("flag{MARKUP}"))]).status,
        StatusCode::SEE_OTHER
    );
    let correction =
        li.post(&format!("/console/ledger/{}/correction", volunteer.id), &[("minutes", "30"), ("reason", &format!("fix{MARKUP}"))]);
    assert_eq!(correction.status, StatusCode::SEE_OTHER, "{}", correction.text);

    let pages = [
        "/console/review".to_owned(),
        "/console/visits".to_owned(),
        format!("/console/visits/{visit}"),
        format!("/console/visits?q={}", encode(MARKUP)),
        "/console/orders".to_owned(),
        format!("/console/orders/{order}"),
        "/console/members".to_owned(),
        format!("/console/members/{}", volunteer.id),
        "/console/ledger".to_owned(),
        format!("/console/ledger/{}", volunteer.id),
        "/console/redemptions".to_owned(),
        "/console/reports".to_owned(),
        "/console/audit".to_owned(),
    ];
    let mut seen = 0;
    for who in ["li", "qu"] {
        let mut browser = console.signed_in(who);
        for path in &pages {
            let page = browser.get(path);
            assert_eq!(page.status, StatusCode::OK, "{who} {path}");
            assert!(!page.text.contains("<img"), "{who} {path}: {}", page.text);
            seen += page.text.matches("&lt;img src=x onerror=alert(1)&gt;").count();
        }
    }
    assert!(seen >= 20, "the typed strings are on the pages, as text ({seen} times)");
    for what in ["note", "order", "decline", "flag", "fix", "志愿者", "老人"] {
        let shown = pages.iter().any(|path| li.get(path).text.contains(&format!("{what}&lt;img src=x onerror=alert(1)&gt;&quot;")));
        assert!(shown, "{what}… is shown somewhere, escaped");
    }
}

#[test]
fn the_lock_out_answers_a_real_and_a_made_up_username_alike() {
    let console = Console::new();
    let without_token = |text: &str| {
        let token =
            |t: &str| t.split("name=\"csrf\" value=\"").nth(1).and_then(|rest| rest.split('"').next()).unwrap_or("").to_owned();
        text.replace(&token(text), "TOKEN").replace("li", "NAME").replace("nobody", "NAME")
    };
    let (mut real, mut made_up) = (console.browser(), console.browser());
    for attempt in 1..=7 {
        let a = real.sign_in("li", "wrong password");
        let b = made_up.sign_in("nobody", "wrong password");
        assert_eq!(a.status, b.status, "attempt {attempt}");
        assert_eq!(without_token(&a.text), without_token(&b.text), "attempt {attempt}");
    }
}

/// Everything the relay logs from the moment it is installed.
#[derive(Clone, Default)]
struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn no_personal_detail_typed_at_the_console_reaches_the_log() {
    let logs = Logs::default();
    let writer = logs.clone();
    // Global, so the store's blocking threads are heard too; only the relay's own and the
    // HTTP layer's lines, so the other tests running meanwhile add little.
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("timebank_server=trace,tower_http=trace")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let console = Console::new();
    let mut li = console.signed_in("li");
    li.get("/console/members");
    let registered = li.post(
        "/console/members",
        &[("name", "欧阳秀兰"), ("phone", "139 8765 4321"), ("birth_year", "1944"), ("id_last4", "805X"), ("role", "elder")],
    );
    assert_eq!(registered.status, StatusCode::SEE_OTHER, "{}", registered.text);
    assert_eq!(li.get(&format!("/console/visits?q={}", encode("欧阳秀兰"))).status, StatusCode::OK);
    let logged = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(logged.contains("/console/members"), "the requests are logged: {logged}");
    // The phone number in every form it could take (not a short piece of it: other tests'
    // random hex ids in the same log may hold any four digits).
    for secret in ["欧阳", "%E6%AC%A7", "8765 4321", "87654321", "139+8765", "805X", PASSWORD, &encode(PASSWORD)] {
        assert!(!logged.contains(secret), "{secret:?} is in the log: {logged}");
    }
}
