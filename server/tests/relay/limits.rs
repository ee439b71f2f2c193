//! Per-address rate limits (ADR 0020): guessing enrollment codes and sending bad tokens
//! from one address ends in 429 with `Retry-After` and stops adding security events, other
//! addresses and enrolled phones carry on, and the address may try again after the window.

use std::net::SocketAddr;
use std::time::Duration as StdDuration;

use automerge::ActorId;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode};
use chrono::Duration;
use timebank_engine::sync::wire::{self, EnrollRequest, SyncRequest};
use timebank_server::console::ConsoleConfig;
use timebank_server::limits::Limits;
use timebank_server::registry;

use crate::process::{RelayProcess, agent};
use crate::support::{Answer, TestRelay};

/// An enrollment request with `code` and a fresh device id.
fn enrollment(code: &str) -> Vec<u8> {
    wire::encode(&EnrollRequest { code: code.into(), actor: ActorId::random().to_hex_string(), signing_key: None })
}

fn security_events(relay: &TestRelay) -> Vec<String> {
    relay.store().security_events().unwrap().into_iter().map(|event| event.reason).collect()
}

/// A 429 that says what happened and when to come back.
fn assert_limited(answer: &Answer, what: &str) {
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS, "{}", String::from_utf8_lossy(&answer.body));
    let wait = answer.retry_after.expect("a 429 carries Retry-After");
    assert!((1..=15 * 60).contains(&wait), "Retry-After: {wait}");
    let message = answer.error();
    assert!(message.contains(what) && message.contains("Try again in"), "{message}");
}

#[test]
fn guessing_enrollment_codes_from_one_address_ends_in_429_while_another_address_enrolls() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Wang Fang");
    let guesser = relay.from("203.0.113.7");
    for n in 0..10 {
        let answer = relay.post_to(&guesser, "/v1/enroll", None, enrollment(&format!("GUESS{n:05}")));
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "guess {n}: {}", answer.error());
    }
    assert_eq!(security_events(&relay).len(), 10);

    let limited = relay.post_to(&guesser, "/v1/enroll", None, enrollment("GUESS99999"));
    assert_limited(&limited, "too many refused enrollments");
    // Past the limit nothing is checked, not even a good code (it stays unused).
    let (code, _) = registry::issue_enrollment_code(&relay.relay, volunteer.id.as_str(), 7).unwrap();
    assert_limited(&relay.post_to(&guesser, "/v1/enroll", None, enrollment(&code)), "too many refused enrollments");
    for n in 0..40 {
        let answer = relay.post_to(&guesser, "/v1/enroll", None, enrollment(&format!("MORE{n:05}")));
        assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    }
    let events = security_events(&relay);
    assert_eq!(events.len(), 11, "ten refusals and one rate-limit event, not one per attempt: {events:?}");
    assert!(events[10].contains("rate limited") && events[10].contains("203.0.113.7"), "{}", events[10]);

    // The coordinator's phone at another address enrolls with that code.
    let desk = relay.from("198.51.100.20");
    assert_eq!(relay.post_to(&desk, "/v1/enroll", None, enrollment(&code)).status, StatusCode::OK);

    // After the window the address may try again.
    relay.clock.advance(Duration::minutes(15));
    let (fresh, _) = registry::issue_enrollment_code(&relay.relay, volunteer.id.as_str(), 7).unwrap();
    let again = relay.post_to(&guesser, "/v1/enroll", None, enrollment(&fresh));
    assert_eq!(again.status, StatusCode::OK, "{}", String::from_utf8_lossy(&again.body));
}

#[test]
fn bad_tokens_from_one_address_end_in_429_and_the_security_events_stop_growing() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let revoked = relay.phone(&volunteer);
    registry::revoke_device(&relay.relay, &revoked.device, None).unwrap();
    let attacker = relay.from("203.0.113.9");
    let body = wire::encode(&SyncRequest::default());
    for n in 0..20 {
        let token = match n % 3 {
            0 => Some(revoked.token.clone()),
            1 => Some(format!("guessed-token-{n}")),
            _ => None,
        };
        let answer = relay.post_to(&attacker, "/v1/sync", token.as_deref(), body.clone());
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "attempt {n}: {}", answer.error());
    }
    let before = security_events(&relay).len();
    for n in 0..60 {
        let answer = relay.post_to(&attacker, "/v1/sync", Some(&format!("still-guessing-{n}")), body.clone());
        assert_limited(&answer, "missing, unknown or revoked device token");
    }
    let events = security_events(&relay);
    assert_eq!(events.len(), before + 1, "one rate-limit event for sixty refused syncs: {:?}", &events[before..]);
    assert!(events[before].starts_with("rate limited") && events[before].contains("203.0.113.9"));

    // Another address is told the usual 401.
    let elsewhere = relay.post_to(&relay.from("198.51.100.30"), "/v1/sync", Some("wrong"), body.clone());
    assert_eq!(elsewhere.status, StatusCode::UNAUTHORIZED);
    // After the window the attacker's address is answered 401 again, not 429.
    relay.clock.advance(Duration::minutes(15));
    assert_eq!(relay.post_to(&attacker, "/v1/sync", Some("wrong"), body).status, StatusCode::UNAUTHORIZED);
}

#[test]
fn enrolled_phones_behind_a_limited_address_keep_syncing() {
    let relay = TestRelay::new();
    let elder = relay.member("elder", "Zhang Lan");
    let volunteer = relay.member("volunteer", "Chen Jie");
    let mut phone = relay.phone(&volunteer);
    // One address for the whole station (a NAT), which a broken phone has exhausted.
    let station = relay.from("203.0.113.50");
    for _ in 0..25 {
        relay.post_to(&station, "/v1/sync", Some("an-old-token"), wire::encode(&SyncRequest::default()));
    }
    assert_limited(&relay.post_to(&station, "/v1/sync", Some("an-old-token"), wire::encode(&SyncRequest::default())), "device token");
    for round in 0..60 {
        if round % 20 == 0 {
            phone.log_visit(&elder.id, &format!("visit {round}"));
        }
        let mut transport = relay.transport_via(&station, &phone.token);
        phone.engine.sync(&mut transport).unwrap_or_else(|e| panic!("sync {round} from the station's address: {e}"));
    }
    assert_eq!(phone.visit_states(), ["sent", "sent", "sent"]);
}

#[test]
fn behind_a_trusted_proxy_the_forwarded_address_counts_and_a_client_cannot_choose_it() {
    let relay = TestRelay::new();
    let limits = Limits { enroll: 2, trust_forwarded_for: true, ..Limits::default() };
    let proxy: SocketAddr = "127.0.0.1:50000".parse().unwrap();
    let proxied =
        timebank_server::app_with_limits(relay.relay.clone(), ConsoleConfig::default(), limits).layer(MockConnectInfo(proxy));
    let enroll_as = |forwarded: &str| {
        let request = Request::post("/v1/enroll").header("x-forwarded-for", forwarded).body(Body::from(enrollment("WRONG"))).unwrap();
        relay.send(&proxied, request).status
    };
    assert_eq!(enroll_as("203.0.113.7"), StatusCode::FORBIDDEN);
    assert_eq!(enroll_as("203.0.113.7"), StatusCode::FORBIDDEN);
    assert_eq!(enroll_as("203.0.113.7"), StatusCode::TOO_MANY_REQUESTS);
    // The client wrote its own header; the proxy appended the address it saw.
    assert_eq!(enroll_as("192.0.2.1, 203.0.113.7"), StatusCode::TOO_MANY_REQUESTS);
    // Other clients of the same proxy are not held back.
    assert_eq!(enroll_as("198.51.100.1"), StatusCode::FORBIDDEN);

    // Without the flag the header is ignored: the socket's peer counts.
    let direct = relay.from("203.0.113.77");
    for _ in 0..10 {
        relay.post_to(&direct, "/v1/enroll", None, enrollment("WRONG"));
    }
    let spoofed =
        Request::post("/v1/enroll").header("x-forwarded-for", "198.51.100.99").body(Body::from(enrollment("WRONG"))).unwrap();
    assert_eq!(relay.send(&direct, spoofed).status, StatusCode::TOO_MANY_REQUESTS);
}

#[test]
fn the_relay_binary_limits_by_the_socket_address_with_its_flags_and_lets_the_address_back_after_the_window() {
    let data = tempfile::tempdir().unwrap();
    let served = RelayProcess::start_with(data.path(), None, &["--enroll-limit", "2", "--limit-window-secs", "2"]);
    let enroll = || {
        let mut answer = agent()
            .post(&format!("{}/v1/enroll", served.url))
            .header("content-type", "application/octet-stream")
            .send(&enrollment("WRONG")[..])
            .unwrap();
        let retry_after = answer.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
        (answer.status().as_u16(), retry_after, answer.body_mut().read_to_string().unwrap())
    };
    assert_eq!(enroll().0, 403);
    assert_eq!(enroll().0, 403);
    let (status, retry_after, body) = enroll();
    assert_eq!(status, 429, "{body}");
    assert!(matches!(retry_after.as_deref(), Some("1" | "2")), "Retry-After: {retry_after:?}");
    assert!(body.contains("too many refused enrollments"), "{body}");
    std::thread::sleep(StdDuration::from_millis(2100));
    assert_eq!(enroll().0, 403, "the window has passed");
    served.stop();
}
