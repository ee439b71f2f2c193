//! `POST /v1/enroll`: one-time codes, expiry, device ids, and what is stored.

use automerge::ActorId;
use axum::http::StatusCode;
use chrono::Duration;
use timebank_engine::sync::wire::{self, EnrollRequest, EnrollResponse};
use timebank_server::registry;
use timebank_server::secret;

use crate::support::{TestRelay, store_bytes};

fn enroll_with(relay: &TestRelay, code: &str, actor: &str) -> crate::support::Answer {
    relay.post("/v1/enroll", None, wire::encode(&EnrollRequest { code: code.into(), actor: actor.into(), signing_key: None }))
}

#[test]
fn a_code_enrolls_a_device_and_only_the_token_hash_is_stored() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let (code, _) = registry::issue_enrollment_code(&relay.relay, volunteer.id.as_str(), 7).unwrap();
    let actor = ActorId::random().to_hex_string();
    let answer = enroll_with(&relay, &code, &actor);
    assert_eq!(answer.status, StatusCode::OK);
    let enrolled: EnrollResponse = wire::decode(&answer.body).unwrap();
    assert_eq!(enrolled.member, volunteer.id.as_str());
    assert_eq!(enrolled.station, relay.station.id.as_str());
    assert_eq!(enrolled.role, "volunteer");
    assert!(enrolled.token.len() >= 64 && enrolled.token.bytes().all(|b| b.is_ascii_hexdigit()), "{}", enrolled.token);

    let devices = relay.store().devices().unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!((devices[0].id.as_str(), devices[0].actor.as_str()), (enrolled.device.as_str(), actor.as_str()));
    let by_token = relay.store().device_by_token(&secret::hash(&enrolled.token)).unwrap();
    assert_eq!(by_token.map(|d| d.id), Some(enrolled.device));
    // Neither the token nor the code appears anywhere in the store's files.
    let bytes = store_bytes(relay.dir.path());
    let contains = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(!contains(&enrolled.token), "the token is stored in clear");
    assert!(!contains(&code), "the code is stored in clear");
}

#[test]
fn a_code_typed_loosely_still_works() {
    let relay = TestRelay::new();
    let elder = relay.member("elder", "Wang Fang");
    let (code, _) = registry::issue_enrollment_code(&relay.relay, elder.id.as_str(), 7).unwrap();
    let typed = format!(" {}-{} ", code[..5].to_lowercase(), &code[5..]);
    let answer = enroll_with(&relay, &typed, &ActorId::random().to_hex_string());
    assert_eq!(answer.status, StatusCode::OK, "{}", String::from_utf8_lossy(&answer.body));
}

#[test]
fn a_used_code_is_gone_and_enrolls_nothing_more() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let (code, _) = registry::issue_enrollment_code(&relay.relay, volunteer.id.as_str(), 7).unwrap();
    assert_eq!(enroll_with(&relay, &code, &ActorId::random().to_hex_string()).status, StatusCode::OK);
    let again = enroll_with(&relay, &code, &ActorId::random().to_hex_string());
    assert_eq!(again.status, StatusCode::GONE);
    assert!(again.error().contains("already used"), "{}", again.error());
    assert!(again.error().contains("coordinator for a new code"), "{}", again.error());
    assert_eq!(relay.store().devices().unwrap().len(), 1);
    let events = relay.store().security_events().unwrap();
    assert!(events.iter().any(|e| e.reason.contains("already used")), "{events:?}");
}

#[test]
fn an_expired_code_is_gone() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let (code, _) = registry::issue_enrollment_code(&relay.relay, volunteer.id.as_str(), registry::DEFAULT_CODE_DAYS).unwrap();
    relay.clock.advance(Duration::days(7) + Duration::minutes(1));
    let answer = enroll_with(&relay, &code, &ActorId::random().to_hex_string());
    assert_eq!(answer.status, StatusCode::GONE);
    assert!(answer.error().contains("expired"), "{}", answer.error());
    assert!(relay.store().devices().unwrap().is_empty());
}

#[test]
fn unknown_codes_bad_device_ids_and_taken_device_ids_are_refused() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let unknown = enroll_with(&relay, "ABCDEFGHJK", &ActorId::random().to_hex_string());
    assert_eq!(unknown.status, StatusCode::FORBIDDEN);
    assert!(unknown.error().contains("not valid"), "{}", unknown.error());

    let (code, _) = registry::issue_enrollment_code(&relay.relay, volunteer.id.as_str(), 7).unwrap();
    let bad_actor = enroll_with(&relay, &code, "not-hex");
    assert_eq!(bad_actor.status, StatusCode::BAD_REQUEST);
    assert!(bad_actor.error().contains("not a valid automerge actor id"), "{}", bad_actor.error());
    let empty = enroll_with(&relay, "  ", &ActorId::random().to_hex_string());
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);

    let actor = ActorId::random().to_hex_string();
    assert_eq!(enroll_with(&relay, &code, &actor).status, StatusCode::OK);
    let (second, _) = registry::issue_enrollment_code(&relay.relay, volunteer.id.as_str(), 7).unwrap();
    let taken = enroll_with(&relay, &second, &actor);
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert!(taken.error().contains("already enrolled"), "{}", taken.error());
    // The refused attempts left the second code usable.
    assert_eq!(enroll_with(&relay, &second, &ActorId::random().to_hex_string()).status, StatusCode::OK);
    let relay_actor = relay.relay.actor().to_hex_string();
    let (third, _) = registry::issue_enrollment_code(&relay.relay, volunteer.id.as_str(), 7).unwrap();
    assert_eq!(enroll_with(&relay, &third, &relay_actor).status, StatusCode::CONFLICT);
}

#[test]
fn a_member_may_enroll_several_devices() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let (first, _, _) = relay.enroll(&volunteer);
    let (second, _, _) = relay.enroll(&volunteer);
    assert_ne!(first.device, second.device);
    assert_ne!(first.token, second.token);
    assert_eq!(relay.store().devices().unwrap().len(), 2);
}
