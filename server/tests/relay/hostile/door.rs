//! Early refusal at the door, over a real socket: a body declared over the limit is
//! refused before it is read (413), a body that arrives too slowly is cut after the
//! deadline (408), and both count against the address like other refusals (429 past the
//! limit, one security event per window). An honest phone on the same relay keeps syncing.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use timebank_server::app_with_limits;
use timebank_server::console::ConsoleConfig;
use timebank_server::limits::Limits;
use timebank_testing::Server;

use crate::support::TestRelay;

/// Sends `head` (request line and headers, no blank line) and `body`, then waits for the
/// status line; returns it and how long it took.
fn exchange(url: &str, head: &str, body: &[u8]) -> (String, Duration) {
    let address = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let start = Instant::now();
    stream.write_all(format!("{head}\r\nHost: relay\r\n\r\n").as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = [0_u8; 512];
    let n = stream.read(&mut answer).unwrap_or(0);
    let text = String::from_utf8_lossy(&answer[..n]).into_owned();
    (text.lines().next().unwrap_or_default().to_owned(), start.elapsed())
}

#[test]
fn oversized_and_slow_bodies_are_cut_at_the_door_and_counted_against_the_address() {
    let relay = TestRelay::new();
    let limits = Limits { body: 2, body_deadline_ms: 400, ..Limits::default() };
    let server = Server::new(2).unwrap();
    let address = server.listen(&app_with_limits(relay.relay.clone(), ConsoleConfig::default(), limits)).unwrap();
    let url = format!("http://{address}");
    let volunteer = relay.member("volunteer", "Li Wei");
    let elder = relay.member("elder", "Wang Fang");
    let mut honest = relay.http_phone_via(&url, &volunteer);
    let token = honest.token.clone();

    // 100 MiB declared and none sent: refused at once, not waited for.
    let (status, took) =
        exchange(&url, &format!("POST /v1/sync HTTP/1.1\r\nAuthorization: Bearer {token}\r\nContent-Length: 104857600"), b"");
    assert!(status.contains(" 413 "), "{status}");
    assert!(took < Duration::from_secs(2), "refused before the body: {took:?}");
    // The same at the enrollment door, which needs no token.
    let (status, _) = exchange(&url, "POST /v1/enroll HTTP/1.1\r\nContent-Length: 9000000000", b"");
    assert!(status.contains(" 413 "), "{status}");

    // A body that trickles: cut after the deadline, not held open.
    let (status, took) =
        exchange(&url, &format!("POST /v1/sync HTTP/1.1\r\nAuthorization: Bearer {token}\r\nContent-Length: 1000"), b"\x02\x00");
    assert!(took >= Duration::from_millis(400) && took < Duration::from_secs(5), "{took:?}");
    // Three refusals with a limit of two: the address is now limited.
    assert!(status.contains(" 429 "), "{status}");
    let (status, _) =
        exchange(&url, &format!("POST /v1/sync HTTP/1.1\r\nAuthorization: Bearer {token}\r\nContent-Length: 104857600"), b"");
    assert!(status.contains(" 429 "), "{status}");
    let events = relay.store().security_events().unwrap();
    assert!(events.iter().filter(|e| e.reason.contains("rate limited")).count() == 1, "{events:?}");
    assert!(events.iter().any(|e| e.reason.contains("declares 104857600 bytes")), "{events:?}");

    // Nothing was stored, and the honest phone syncs as ever.
    honest.log_visit(&elder.id, "after the noise");
    honest.sync().unwrap();
    assert_eq!(honest.visit_states(), ["sent"]);
}
