//! Signing in and out: wrong password, lock-out, expiry, CSRF, the session cookie.

use axum::http::StatusCode;
use chrono::Duration;

use crate::support::{Console, PASSWORD};

#[test]
fn a_wrong_password_is_refused_without_saying_which_part_was_wrong() {
    let console = Console::new();
    let mut browser = console.browser();
    let wrong = browser.sign_in("li", "not the password");
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.text.contains("用户名或密码不正确"), "{}", wrong.text);
    let unknown = browser.sign_in("nobody", "not the password");
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert!(unknown.text.contains("用户名或密码不正确"));
    assert!(!browser.cookies.contains_key("tb_session"));
    assert_eq!(browser.get("/console/audit").status, StatusCode::SEE_OTHER, "still signed out");
}

#[test]
fn signing_in_sets_a_strict_http_only_cookie_and_lands_on_the_page_asked_for() {
    let console = Console::new();
    let mut browser = console.browser();
    let asked = browser.get("/console/audit?x=1");
    assert_eq!(asked.status, StatusCode::SEE_OTHER);
    assert_eq!(asked.location.as_deref(), Some("/console/login?next=/console/audit%3Fx%3D1"));
    let done = browser.sign_in("li", PASSWORD);
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(done.location.as_deref(), Some("/console/members"));
    let cookie = done.set_cookies.iter().find(|c| c.starts_with("tb_session=")).unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http on 127.0.0.1: {cookie}");
    let token = cookie.trim_start_matches("tb_session=").split(';').next().unwrap();
    let stored = console.store().console_session(&timebank_server::secret::hash(token)).unwrap().unwrap();
    assert_eq!(stored.username, "li", "the session is stored by the token's hash");
    let page = browser.get("/console/audit");
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("sign-in"));
}

#[test]
fn behind_tls_the_cookie_is_secure() {
    let console = Console::new();
    let router = timebank_server::app_with(
        console.relay.clone(),
        timebank_server::console::ConsoleConfig::for_public_url(Some("https://relay.example.org")),
    );
    let response =
        console.call(&router, axum::http::Request::builder().uri("/console/login").body(axum::body::Body::empty()).unwrap());
    let cookie = response.headers().get("set-cookie").unwrap().to_str().unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
}

#[test]
fn five_failures_lock_the_username_and_say_until_when() {
    let console = Console::new();
    let mut browser = console.browser();
    for _ in 0..4 {
        assert_eq!(browser.sign_in("li", "wrong").status, StatusCode::UNAUTHORIZED);
    }
    let fifth = browser.sign_in("li", "wrong");
    assert_eq!(fifth.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(fifth.text.contains("已锁定至"), "{}", fifth.text);
    let right = browser.sign_in("li", PASSWORD);
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS, "the right password does not unlock it");
    assert!(!browser.cookies.contains_key("tb_session"));
    // An unknown username locks the same way: the lock does not tell who exists.
    for _ in 0..5 {
        browser.sign_in("ghost", "wrong");
    }
    assert!(browser.sign_in("ghost", "wrong").text.contains("已锁定至"));
    // Another coordinator is not affected; after 15 minutes li may try again.
    console.signed_in("zhao");
    console.clock.advance(Duration::minutes(16));
    assert_eq!(browser.sign_in("li", PASSWORD).status, StatusCode::SEE_OTHER);
}

#[test]
fn an_idle_or_old_session_expires_and_the_login_page_says_so() {
    let console = Console::new();
    let mut browser = console.signed_in("li");
    console.clock.advance(Duration::minutes(29));
    assert_eq!(browser.get("/console/audit").status, StatusCode::OK);
    console.clock.advance(Duration::minutes(31));
    let expired = browser.get("/console/audit");
    assert_eq!(expired.status, StatusCode::SEE_OTHER);
    let to = expired.location.unwrap();
    assert!(to.starts_with("/console/login?expired=1"), "{to}");
    let login = browser.get(&to);
    assert!(login.text.contains("会话已过期"), "{}", login.text);
    // A form posted with the expired session changes nothing either.
    let before = console.store().station_members(&console.station.id).unwrap().len();
    let csrf = browser.csrf.clone().unwrap();
    browser.cookies.insert("tb_session".into(), "expired-token".into());
    let posted = browser.post_raw("/console/members", &[("csrf", &csrf), ("name", "x"), ("birth_year", "1950"), ("role", "elder")]);
    assert_eq!(posted.status, StatusCode::SEE_OTHER);
    assert!(posted.location.unwrap().starts_with("/console/login?expired=1"));
    assert_eq!(console.store().station_members(&console.station.id).unwrap().len(), before);

    // Busy all day: still expires 12 hours after signing in.
    let mut busy = console.signed_in("li");
    for _ in 0..25 {
        console.clock.advance(Duration::minutes(29));
        if busy.get("/console/audit").status != StatusCode::OK {
            break;
        }
    }
    assert_eq!(busy.get("/console/audit").status, StatusCode::SEE_OTHER);
}

#[test]
fn a_form_without_the_right_csrf_token_changes_nothing() {
    let console = Console::new();
    // The sign-in form itself needs its token.
    let mut browser = console.browser();
    browser.get("/console/login");
    let forged = browser.post_raw("/console/login", &[("username", "li"), ("password", PASSWORD)]);
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(forged.text.contains("此表单已过期"));
    assert!(!browser.cookies.contains_key("tb_session"));

    let mut browser = console.signed_in("li");
    browser.get("/console/audit");
    let before = console.store().audit_entries(None, 100).unwrap().len();
    let missing = browser.post_raw("/console/logout", &[]);
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    let wrong = browser.post_raw("/console/logout", &[("csrf", "0000")]);
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert!(wrong.text.contains("reload") || wrong.text.contains("重新加载"));
    assert_eq!(console.store().audit_entries(None, 100).unwrap().len(), before, "nothing recorded, nothing done");
    assert_eq!(browser.get("/console/audit").status, StatusCode::OK, "still signed in");
}

#[test]
fn signing_out_ends_the_session_on_the_relay() {
    let console = Console::new();
    let mut browser = console.signed_in("li");
    let token = browser.cookies["tb_session"].clone();
    browser.get("/console/audit");
    let out = browser.post("/console/logout", &[]);
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(console.store().console_session(&timebank_server::secret::hash(&token)).unwrap().is_none());
    // The old cookie, replayed, no longer works.
    browser.cookies.insert("tb_session".into(), token);
    assert_eq!(browser.get("/console/audit").status, StatusCode::SEE_OTHER);
    let audit: Vec<String> = console.store().audit_entries(None, 10).unwrap().into_iter().map(|e| e.action).collect();
    assert!(audit.contains(&"sign-out".to_owned()), "{audit:?}");
}

#[test]
fn chinese_by_default_english_on_request_and_remembered() {
    let console = Console::new();
    let mut browser = console.browser();
    let zh = browser.get("/console/login");
    assert!(zh.text.contains("lang=\"zh-CN\"") && zh.text.contains("协调员登录"));
    let en = browser.get("/console/login?lang=en");
    assert!(en.text.contains("Coordinator sign-in"));
    let again = browser.get("/console/login");
    assert!(again.text.contains("Coordinator sign-in"), "the choice is remembered in a cookie");
}

#[test]
fn the_console_root_and_unknown_pages() {
    let console = Console::new();
    let mut browser = console.signed_in("li");
    assert_eq!(browser.get("/console/").location.as_deref(), Some("/console/review"));
    assert_eq!(browser.get("/console/no-such-page").status, StatusCode::NOT_FOUND);
}

#[test]
fn the_audit_page_shows_a_station_its_own_entries_and_the_district_all() {
    let console = Console::new();
    let mut li = console.signed_in("li");
    let mut zhao = console.signed_in("zhao");
    console.browser().sign_in("li", "wrong password");
    let own = li.get("/console/audit").text;
    assert!(own.contains(">li<") && own.contains("sign-in.failed"), "{own}");
    assert!(!own.contains(">zhao<"), "another station's sign-ins are not shown");
    let theirs = zhao.get("/console/audit").text;
    assert!(theirs.contains(">zhao<") && !theirs.contains(">li<"));
    let mut district = console.signed_in("qu");
    let all = district.get("/console/audit").text;
    assert!(all.contains(">li<") && all.contains(">zhao<") && all.contains(">qu<"), "{all}");
    let one = district.get(&format!("/console/audit?station={}", console.other.id)).text;
    assert!(one.contains(">zhao<") && !one.contains(">li<"));
}
