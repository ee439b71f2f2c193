//! Failed sign-ins per network address (ADR 0020): past the limit the sign-in page says so
//! in the reader's language with 429 and `Retry-After`, checks no password and records
//! nothing more; other addresses sign in, and the address may try again after the window.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::StatusCode;
use chrono::Duration;

use crate::support::{Console, PASSWORD};

/// Routes the console's requests through `router` (one limiter) as coming from `address`.
fn from(console: &mut Console, router: &Router, address: &str) {
    let peer = SocketAddr::new(address.parse().unwrap(), 40_000);
    console.router = router.clone().layer(MockConnectInfo(peer));
}

#[test]
fn too_many_failed_sign_ins_from_one_address_get_a_readable_429_page_and_other_addresses_sign_in() {
    let mut console = Console::new();
    let router = console.router.clone();
    from(&mut console, &router, "203.0.113.7");
    {
        let mut browser = console.browser();
        // Twenty guesses spread over usernames, so no single username locks.
        for n in 0..20 {
            let page = browser.sign_in(&format!("user{}", n % 5), "guess");
            assert_eq!(page.status, StatusCode::UNAUTHORIZED, "attempt {n}");
        }
        let audit_rows = console.store().audit_entries(None, 1000).unwrap().len();
        let limited = browser.sign_in("li", PASSWORD);
        assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS, "the right password is not even checked");
        assert!(limited.text.contains("来自您网络地址的登录失败次数过多"), "{}", limited.text);
        let wait: u64 = limited.retry_after.as_deref().unwrap().parse().unwrap();
        assert!((1..=15 * 60).contains(&wait), "Retry-After: {wait}");
        assert!(!browser.cookies.contains_key("tb_session"));

        browser.get("/console/login?lang=en");
        for _ in 0..10 {
            let english = browser.sign_in("zhao", "guess");
            assert_eq!(english.status, StatusCode::TOO_MANY_REQUESTS);
            assert!(english.text.contains("Too many failed sign-ins from your network address: try again after"), "{}", english.text);
        }
        assert_eq!(console.store().audit_entries(None, 1000).unwrap().len(), audit_rows, "no audit row per refused try");
        let limited_events: Vec<String> = console
            .store()
            .security_events()
            .unwrap()
            .into_iter()
            .map(|event| event.reason)
            .filter(|reason| reason.starts_with("rate limited"))
            .collect();
        assert_eq!(limited_events.len(), 1, "{limited_events:?}");
        assert!(limited_events[0].contains("failed console sign-ins") && limited_events[0].contains("203.0.113.7"));
    }
    // A coordinator at another address signs in, as often as she likes: successes never count.
    from(&mut console, &router, "198.51.100.20");
    for n in 0..25 {
        assert_eq!(console.browser().sign_in("li", PASSWORD).status, StatusCode::SEE_OTHER, "sign-in {n}");
    }

    // After the window the first address may sign in again.
    from(&mut console, &router, "203.0.113.7");
    assert_eq!(console.browser().sign_in("li", PASSWORD).status, StatusCode::TOO_MANY_REQUESTS);
    console.clock.advance(Duration::minutes(15));
    assert_eq!(console.browser().sign_in("li", PASSWORD).status, StatusCode::SEE_OTHER);
}
