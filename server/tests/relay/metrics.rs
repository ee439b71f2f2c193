//! What an operator watches, against the real binary: Prometheus scrapes `/metrics` on the
//! separate `--metrics-listen` address and sees the counters move after a phone's sync (the
//! sync's latency, the visit waiting in its station's review queue, the device, a refused
//! token and its security event); `/readyz` answers when the store can be read, and 503
//! with the reason when it cannot. The PostgreSQL suite runs the same on a database.

use axum::http::StatusCode;
use timebank_testing::cluster::free_port;

use crate::process::{RelayProcess, Store, admin_on, agent, enrolled_phone_on, transport};
use crate::support::TestRelay;

/// One scrape: the metric lines (no comments).
fn scrape(url: &str) -> Vec<String> {
    let mut answer = agent().get(url).call().unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let kind = answer.headers().get("content-type").unwrap().to_str().unwrap().to_owned();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    let text = answer.body_mut().read_to_string().unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    text.lines().filter(|l| !l.starts_with('#')).map(str::to_owned).collect()
}

/// The value of the series named exactly `series` (name and labels), if scraped.
fn value(lines: &[String], series: &str) -> Option<f64> {
    lines.iter().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn create(store: Store<'_>, station: &str, role: &str, name: &str) -> String {
    admin_on(store, &["member", "create", "--station", station, "--role", role, "--name", name, "--birth-year", "1950"])["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn prometheus_sees_the_counters_move_after_a_sync() {
    let dir = tempfile::tempdir().unwrap();
    counters_move_after_a_sync(Store::Data(dir.path()));
}

/// A relay on `store` with its metrics on a separate address: the counters move after a
/// phone's sync and a stranger's bad token; `/readyz` answers "ready".
pub fn counters_move_after_a_sync(store: Store<'_>) {
    let station = admin_on(store, &["station", "create", "--name", "Caoyang"])["id"].as_str().unwrap().to_owned();
    let volunteer = create(store, &station, "volunteer", "Li Wei");
    let elder = create(store, &station, "elder", "Wang Fang");
    let port = free_port().unwrap();
    let listen = format!("127.0.0.1:{port}");
    let relay = RelayProcess::start_on(store, None, &["--metrics-listen", &listen]);
    let metrics = format!("http://{listen}/metrics");
    let queue = format!("timebank_review_queue_visits{{station=\"{station}\"}}");
    let syncs = "timebank_sync_duration_seconds_count";

    let before = scrape(&metrics);
    assert_eq!(value(&before, syncs), Some(0.0), "{before:#?}");
    assert_eq!(value(&before, &queue), Some(0.0));
    assert_eq!(value(&before, "timebank_ledger_lag_events"), Some(0.0));
    assert_eq!(value(&before, "timebank_devices{state=\"active\"}"), Some(0.0));
    assert!(value(&before, "timebank_store_bytes").unwrap() > 0.0);
    // The metrics are not on the public address.
    assert_eq!(agent().get(&format!("{}/metrics", relay.url)).call().unwrap().status().as_u16(), 404);

    // A phone enrolls, logs a visit and syncs: one more sync, one visit waiting for review.
    let phone_dir = tempfile::tempdir().unwrap();
    let mut phone = enrolled_phone_on(&relay.url, store, &volunteer, phone_dir.path());
    phone.log_visit(&crate::process::visit(&elder, 2)).unwrap();
    phone.sync(&mut transport(&phone, &relay.url)).unwrap();
    // A stranger's sync with a made-up token is refused and leaves a security event.
    let refused = agent().post(&format!("{}/v1/sync", relay.url)).header("authorization", "Bearer made-up").send(&[1_u8][..]).unwrap();
    assert_eq!(refused.status().as_u16(), 401);

    let after = scrape(&metrics);
    assert!(value(&after, syncs).unwrap() >= 1.0, "{after:#?}");
    assert!(value(&after, "timebank_sync_duration_seconds_sum").unwrap() > 0.0);
    assert!(value(&after, "timebank_http_responses_total{endpoint=\"sync\",status=\"200\"}").unwrap() >= 1.0);
    assert_eq!(value(&after, "timebank_http_responses_total{endpoint=\"enroll\",status=\"200\"}"), Some(1.0));
    assert_eq!(value(&after, &queue), Some(1.0), "the visit waits for a coordinator");
    assert_eq!(value(&after, "timebank_devices{state=\"active\"}"), Some(1.0));
    assert_eq!(value(&after, "timebank_refusals_total{endpoint=\"sync\",reason=\"unauthorized\"}"), Some(1.0));
    assert_eq!(value(&after, "timebank_security_events_total"), Some(1.0));
    assert_eq!(value(&after, "timebank_ledger_lag_events"), Some(0.0), "the ledger posts right after the sync");

    let mut ready = agent().get(&format!("{}/readyz", relay.url)).call().unwrap();
    assert_eq!((ready.status().as_u16(), ready.body_mut().read_to_string().unwrap()), (200, "ready".to_owned()));
    relay.stop();
}

#[test]
fn readyz_says_not_ready_when_the_store_cannot_be_read() {
    let relay = TestRelay::new();
    assert_eq!(relay.get("/readyz").status, StatusCode::OK);
    // The store loses a table the read needs (a damaged or half-restored file).
    let conn = rusqlite::Connection::open(relay.dir.path().join("relay.sqlite3")).unwrap();
    conn.execute_batch("DROP TABLE ledger_state").unwrap();
    drop(conn);
    let answer = relay.get("/readyz");
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(answer.error().contains("store cannot be read"), "{}", answer.error());
    assert_eq!(relay.get("/healthz").status, StatusCode::OK, "the process itself still answers");
}
