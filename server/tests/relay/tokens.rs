//! Device tokens on `/v1/sync`: missing, unknown and revoked tokens are refused (401) and
//! recorded.

use axum::http::StatusCode;
use timebank_engine::sync::wire::{self, SyncRequest};
use timebank_server::admin::{self, AdminCommand, DeviceCommand};

use crate::support::TestRelay;

#[test]
fn a_sync_without_a_token_or_with_an_unknown_one_is_refused() {
    let relay = TestRelay::new();
    let body = wire::encode(&SyncRequest::default());
    let none = relay.post("/v1/sync", None, body.clone());
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert!(none.error().contains("no device token"), "{}", none.error());

    let unknown = relay.post("/v1/sync", Some("00112233"), body);
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert!(unknown.error().contains("does not know this device token"), "{}", unknown.error());
    let events = relay.store().security_events().unwrap();
    assert_eq!(events.len(), 1);
    assert!(events[0].reason.contains("unknown device token"), "{events:?}");
}

#[test]
fn a_revoked_device_is_told_to_ask_the_coordinator() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let mut phone = relay.phone(&volunteer);
    relay.sync_phone(&mut phone);
    let report = admin::run(&relay.relay, &AdminCommand::Device(DeviceCommand::Revoke { device: phone.device.clone() })).unwrap();
    assert_eq!(report.json["id"], phone.device.as_str());

    let answer = relay.sync(&phone.token, &SyncRequest::default());
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let message = answer.error();
    assert!(message.contains("was revoked") && message.contains("coordinator"), "{message}");
    let events = relay.store().security_events().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].device.as_deref(), Some(phone.device.as_str()));
    assert_eq!(events[0].member.as_deref(), Some(volunteer.id.as_str()));

    // The engine shows the relay's words, and keeps the visit on the phone.
    let elder = relay.member("elder", "Wang Fang");
    phone.log_visit(&elder.id, "tea");
    let err = phone.engine.sync(&mut relay.transport(&phone.token)).unwrap_err().to_string();
    assert!(err.contains("401") && err.contains("revoked"), "{err}");
    assert_eq!(phone.visit_states(), ["saved on phone"]);
    // Its data stays on the relay.
    assert!(relay.store().document(&format!("member/{}", volunteer.id)).unwrap().is_some());
}

#[test]
fn health_needs_no_token_and_unknown_paths_are_json_errors() {
    let relay = TestRelay::new();
    let health = relay.get("/healthz");
    assert_eq!((health.status, health.body.as_slice()), (StatusCode::OK, b"ok".as_slice()));
    let missing = relay.get("/v2/sync");
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.error().contains("no such endpoint"), "{}", missing.error());
}
