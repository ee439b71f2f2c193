//! Security over real HTTP: forged changes (a tampered engine writing into another
//! volunteer's document; a hand-built request with a change made as another device) are
//! refused with 403, leave the relay's documents as they were and are recorded as
//! security events; a revoked device gets 401 and is told to ask its coordinator while
//! its visits stay "saved on phone"; an enrollment code enrolls one device only.

use std::sync::Arc;

use automerge::transaction::Transactable as _;
use automerge::{ChangeHash, ObjType, ROOT};
use serde_json::Value;
use timebank_cli::relay::{HttpTransport, enroll};
use timebank_engine::documents::{fields, member};
use timebank_engine::sync::wire::{self, DocPush, SyncRequest};
use timebank_engine::sync::{Transport as _, TransportError};
use timebank_engine::{DocId, Engine, Enrollment, Error, NewIdentity, RelayLink, SystemClock};
use timebank_server::admin::{self, AdminCommand, DeviceCommand};

use crate::support::{TestRelay, on_relay, sorted};

/// The security events, as `timebank-relay admin security-events --json` prints them.
fn security_events(relay: &TestRelay) -> Vec<Value> {
    let report = admin::run(&relay.relay, &AdminCommand::SecurityEvents).unwrap();
    report.json.as_array().unwrap().clone()
}

/// The one hand-built sync request of these tests (everything else goes through
/// `Engine::sync`): `changes` pushed to `doc`, claiming `acked` as the acknowledged heads,
/// with the device token of `link`, over HTTP.
fn push_by_hand(link: &RelayLink, doc: &DocId, acked: &[ChangeHash], changes: Vec<Vec<u8>>) -> Result<Vec<u8>, TransportError> {
    // No manifest: the request lists every document it names, so the relay checks it as
    // it is instead of first asking for a full listing.
    let request = SyncRequest {
        manifest: None,
        docs: vec![DocPush { doc: doc.to_string(), acked: wire::heads_digest(acked), changes, ..DocPush::default() }],
    };
    HttpTransport::new(link).exchange(wire::encode(&request))
}

fn refused(result: Result<Vec<u8>, TransportError>) -> (u16, String) {
    match result {
        Err(TransportError::Refused { status, message }) => (status, message),
        Ok(body) => panic!("expected a refusal, got an answer of {} bytes", body.len()),
        Err(error) => panic!("expected a refusal, got {error}"),
    }
}

#[test]
fn forged_changes_are_refused_with_403_recorded_and_change_nothing() {
    let relay = TestRelay::start();
    let li = relay.member("volunteer", "Li Wei");
    let zhao = relay.member("volunteer", "Zhao Min");
    let elder = relay.member("elder", "Wang Fang");
    let mut li_phone = relay.phone(&li);
    let mut zhao_phone = relay.phone(&zhao);
    let zhao_visit = zhao_phone.log_paper_visit(&elder.id, None, "Zhao's own visit");
    zhao_phone.sync().unwrap();
    li_phone.log_paper_visit(&elder.id, None, "Li's own visit");
    li_phone.sync().unwrap();
    let zhao_doc = DocId::Member(zhao.id.clone());
    let li_doc = DocId::Member(li.id.clone());
    let zhao_heads = relay.heads(&zhao_doc);
    let li_heads = relay.heads(&li_doc);
    assert!(security_events(&relay).is_empty());

    // 1. A tampered app on Li's phone: an engine that believes it belongs to Zhao, with
    //    Li's device actor and token, holding a copy of Zhao's document (as if passed
    //    from Zhao's phone), logs a visit in Zhao's name and syncs like any engine.
    let tampered_dir = tempfile::tempdir().unwrap();
    let mut tampered = Engine::create_enrolled(
        tampered_dir.path(),
        &Enrollment {
            identity: NewIdentity { member: zhao.id.clone(), station: zhao.station.clone(), role: zhao.role },
            actor: li_phone.actor.to_hex_string(),
            relay: li_phone.url.clone(),
            device: li_phone.device.clone(),
            token: li_phone.token.clone(),
            signing_key: None,
        },
        Arc::new(SystemClock),
    )
    .unwrap();
    tampered.receive_changes(&zhao_doc, &zhao_phone.engine.document_bytes(&zhao_doc).unwrap()).unwrap();
    let now = chrono::Utc::now();
    tampered
        .log_visit(&timebank_engine::PastVisit {
            elder: elder.id.clone(),
            service: "companionship".into(),
            order: None,
            start: now - chrono::Duration::hours(5),
            end: now - chrono::Duration::hours(1),
            note: "a visit Zhao never made".into(),
        })
        .unwrap();
    let error = tampered.sync(&mut HttpTransport::new(&li_phone.link())).unwrap_err();
    let Error::Transport(TransportError::Refused { status, message }) = &error else { panic!("{error}") };
    assert_eq!(*status, 403, "{message}");
    assert!(message.contains(&zhao_doc.to_string()) && message.contains("nothing from this sync was stored"), "{message}");
    assert_eq!(relay.heads(&zhao_doc), zhao_heads, "Zhao's document changed");
    assert_eq!(relay.visits(&zhao.id).into_keys().collect::<Vec<_>>(), vec![zhao_visit.clone()]);
    let events = security_events(&relay);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["device"], li_phone.device.as_str());
    assert_eq!(events[0]["member"], li.id.as_str());
    assert_eq!(events[0]["doc"], zhao_doc.to_string().as_str());

    // 2. A hand-built request: into Li's own document, a change made with Zhao's device
    //    actor (Li's phone posing as Zhao's), creating a visit record.
    let mut copy = relay.document(&li_doc).with_actor(zhao_phone.actor.clone());
    let base = copy.get_heads();
    copy.transact::<_, _, automerge::AutomergeError>(|tx| {
        let visits = fields::map_at(tx, &ROOT, member::VISITS).unwrap();
        let forged = tx.put_object(&visits, "v-forged", ObjType::Map)?;
        tx.put(&forged, "note", "posing as Zhao's phone")?;
        Ok(())
    })
    .unwrap();
    let change = copy.get_last_local_change().unwrap().raw_bytes().to_vec();
    let (status, message) = refused(push_by_hand(&li_phone.link(), &li_doc, &base, vec![change]));
    assert_eq!(status, 403, "{message}");
    // Refused before any writer check: a device sends only its own changes, whatever the
    // other actor may write.
    assert!(message.contains(&format!("device {} sent a change authored by actor", li_phone.device)), "{message}");
    assert_eq!(relay.heads(&li_doc), li_heads, "Li's document changed");

    // 3. A hand-built request: Li's own actor, straight into Zhao's document.
    let mut copy = relay.document(&zhao_doc).with_actor(li_phone.actor.clone());
    let base = copy.get_heads();
    copy.transact::<_, _, automerge::AutomergeError>(|tx| {
        let visits = fields::map_at(tx, &ROOT, member::VISITS).unwrap();
        tx.delete(&visits, zhao_visit.as_str())?;
        Ok(())
    })
    .unwrap();
    let change = copy.get_last_local_change().unwrap().raw_bytes().to_vec();
    let (status, message) = refused(push_by_hand(&li_phone.link(), &zhao_doc, &base, vec![change]));
    assert_eq!(status, 403, "{message}");
    assert_eq!(relay.heads(&zhao_doc), zhao_heads, "Zhao's document changed");
    assert_eq!(relay.visit_records(&zhao.id), 1);

    let events = security_events(&relay);
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(events[1]["doc"], li_doc.to_string().as_str());
    assert_eq!(events[2]["doc"], zhao_doc.to_string().as_str());
    assert!(events.iter().all(|e| e["device"] == li_phone.device.as_str()), "{events:?}");

    // The honest apps on both phones go on syncing; Li's copy of its document is the
    // relay's, without the forged records.
    li_phone.log_paper_visit(&elder.id, None, "Li's second visit");
    li_phone.sync().unwrap();
    zhao_phone.sync().unwrap();
    assert!(li_phone.states().values().all(|s| on_relay(s)), "{:?}", li_phone.states());
    assert_eq!(relay.heads(&li_doc), sorted(li_phone.engine.heads(&li_doc)));
    assert_eq!(relay.heads(&zhao_doc), sorted(zhao_phone.engine.heads(&zhao_doc)));
    assert_eq!(relay.visit_records(&li.id), 2);
    assert_eq!(relay.visit_records(&zhao.id), 1);
    assert_eq!(security_events(&relay).len(), 3);
}

#[test]
fn a_revoked_phone_gets_401_asks_the_coordinator_and_keeps_its_visits() {
    let relay = TestRelay::start();
    let li = relay.member("volunteer", "Li Wei");
    let elder = relay.member("elder", "Wang Fang");
    let mut phone = relay.phone(&li);
    let before = phone.log_paper_visit(&elder.id, None, "before it was lost");
    phone.sync().unwrap();

    let report = admin::run(&relay.relay, &AdminCommand::Device(DeviceCommand::Revoke { device: phone.device.clone() })).unwrap();
    assert_eq!(report.json["id"], phone.device.as_str());

    let after = phone.log_paper_visit(&elder.id, None, "after the revocation");
    for _ in 0..2 {
        let error = phone.sync().unwrap_err();
        let Error::Transport(TransportError::Refused { status, message }) = &error else { panic!("{error}") };
        assert_eq!(*status, 401, "{message}");
        assert!(message.contains("revoked") && message.contains("coordinator"), "{message}");
        assert!(error.to_string().contains("401"), "{error}");
        assert_eq!(phone.states()[&after], "saved on phone");
        assert!(on_relay(&phone.states()[&before]));
    }
    // The relay kept what the phone sent before, and nothing after.
    assert_eq!(relay.visits(&li.id).into_keys().collect::<Vec<_>>(), vec![before]);
    let events = security_events(&relay);
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events.iter().all(|e| e["device"] == phone.device.as_str()), "{events:?}");

    // A new phone, enrolled with a new code, carries on.
    let mut new_phone = relay.phone(&li);
    new_phone.sync().unwrap();
    assert!(new_phone.states().values().all(|s| on_relay(s)) && new_phone.states().len() == 1);
}

#[test]
fn an_enrollment_code_enrolls_one_device_only() {
    let relay = TestRelay::start();
    let li = relay.member("volunteer", "Li Wei");
    let code = relay.code(&li);
    let url = relay.proxy.url();
    let first = enroll(&url, &code, &timebank_engine::new_device_actor()).unwrap();
    assert_eq!(first.member, li.id.as_str());

    let again = enroll(&url, &code, &timebank_engine::new_device_actor()).unwrap_err();
    let Error::Transport(TransportError::Refused { status, message }) = &again else { panic!("{again}") };
    assert_eq!(*status, 410, "{message}");
    assert!(message.contains("already used") && message.contains("coordinator"), "{message}");
    let devices = relay.relay.store().devices().unwrap();
    assert_eq!(devices.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), [first.device.as_str()]);
    let events = security_events(&relay);
    assert!(events.iter().any(|e| e["reason"].as_str().is_some_and(|r| r.contains("already used"))), "{events:?}");
}
