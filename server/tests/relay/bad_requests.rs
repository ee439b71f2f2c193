//! Bad bodies on `/v1/sync`: each gets the right status and a clear JSON error, nothing is
//! stored, and the next good request (from another device too) still succeeds.

use automerge::ChangeHash;
use axum::http::StatusCode;
use timebank_engine::DocId;
use timebank_engine::sync::wire::{self, DocPush, MAX_BODY_BYTES, SyncRequest};

use crate::support::{Phone, TestRelay, push};

/// A real request from `phone`: its member document's changes since the relay's acknowledged heads.
fn pending(relay: &TestRelay, phone: &Phone) -> (SyncRequest, Vec<ChangeHash>) {
    let doc = format!("member/{}", phone.member.id);
    let acked = relay.store().acked_heads(&phone.device).unwrap().remove(&doc).unwrap().cur;
    let changes =
        phone.document(&DocId::Member(phone.member.id.clone())).get_changes(&acked).iter().map(|c| c.raw_bytes().to_vec()).collect();
    (push(&doc, &acked, changes), acked)
}

#[test]
fn bad_bodies_are_refused_clearly_and_store_nothing() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let elder = relay.member("elder", "Wang Fang");
    let mut phone = relay.phone(&volunteer);
    let mut other = relay.phone(&relay.member("volunteer", "Zhao Min"));
    relay.sync_phone(&mut phone);
    phone.log_visit(&elder.id, "read the newspaper");
    let (good, _) = pending(&relay, &phone);
    assert_eq!(good.docs[0].changes.len(), 1);
    let good_bytes = wire::encode(&good);
    let doc = format!("member/{}", volunteer.id);
    let generation = relay.generation(&doc);
    let acked = relay.store().acked_heads(&phone.device).unwrap();

    let mut truncated = good_bytes.clone();
    truncated.truncate(good_bytes.len() - 5);
    let mut wrong_version = good_bytes.clone();
    wrong_version[0] = wire::WIRE_VERSION + 1;
    let mut trailing = good_bytes.clone();
    trailing.push(0);
    let mut ghost = good.clone();
    ghost.docs.push(DocPush { doc: "member/m-ghost".into(), acked: [0; 8], ..DocPush::default() });
    let mut unparseable = good.clone();
    unparseable.docs.push(DocPush { doc: "visits/v-1".into(), acked: [0; 8], ..DocPush::default() });
    let mut damaged_change = good.clone();
    damaged_change.docs[0].changes[0].truncate(10);
    let mut twice = good.clone();
    twice.docs.push(good.docs[0].clone());

    let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        ("empty", vec![], StatusCode::BAD_REQUEST, "the message is empty"),
        ("garbage", vec![wire::WIRE_VERSION, 0xff, 0xff, 0xff, 0xff, 0xff], StatusCode::BAD_REQUEST, "damaged or truncated"),
        ("truncated", truncated, StatusCode::BAD_REQUEST, "damaged or truncated"),
        ("trailing bytes", trailing, StatusCode::BAD_REQUEST, "unexpected bytes at the end"),
        ("wrong version", wrong_version, StatusCode::UNSUPPORTED_MEDIA_TYPE, "protocol version 3"),
        ("oversize", vec![1; MAX_BODY_BYTES + 1], StatusCode::PAYLOAD_TOO_LARGE, "over the limit"),
        ("unknown document", wire::encode(&ghost), StatusCode::NOT_FOUND, "member/m-ghost does not exist"),
        ("unparseable id", wire::encode(&unparseable), StatusCode::BAD_REQUEST, "\"visits/v-1\" is not a document id"),
        ("damaged change", wire::encode(&damaged_change), StatusCode::BAD_REQUEST, "change 1 of member/"),
        ("listed twice", wire::encode(&twice), StatusCode::BAD_REQUEST, "listed twice"),
    ];
    for (what, body, status, expected) in cases {
        let answer = relay.post("/v1/sync", Some(&phone.token), body);
        assert_eq!(answer.status, status, "{what}: {}", String::from_utf8_lossy(&answer.body));
        let message = answer.error();
        assert!(message.contains(expected), "{what}: {message}");
        assert!(message.contains("nothing was stored") || message.contains("nothing from this sync"), "{what}: {message}");
        assert_eq!(relay.generation(&doc), generation, "{what} stored a change");
        assert_eq!(relay.store().acked_heads(&phone.device).unwrap(), acked, "{what} moved the sync state");

        // Another device's good sync is not disturbed.
        let report = relay.sync_phone(&mut other);
        assert_eq!(report.round_trips, 1, "{what}");
    }
    assert!(relay.document(&doc).get_changes(&[]).len() < phone.document(&DocId::Member(volunteer.id.clone())).get_changes(&[]).len());

    // The phone's own sync goes through afterwards.
    relay.sync_phone(&mut phone);
    assert_eq!(phone.visit_states(), ["sent"]);
    assert_eq!(relay.generation(&doc), generation + 1);
}
