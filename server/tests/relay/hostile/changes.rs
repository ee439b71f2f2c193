//! Hand-made changes from an enrolled device (and a hand-made answer from a relay): every
//! change over the bounds of one request is refused before it is inflated or decoded
//! (413), every change outside its document's shape before it is applied (403); each
//! refusal stores nothing (another device of the member syncs and sees the document as it
//! was) and leaves a security event naming the device. What the engine writes passes.

use automerge::transaction::{Transactable, Transaction};
use automerge::{Change, ChangeHash, ObjType, ROOT, ReadDoc};
use axum::http::StatusCode;
use timebank_engine::DocId;
use timebank_engine::documents::{fields, member};
use timebank_engine::model::VisitId;
use timebank_engine::model::text::MAX_NOTE_CHARS;
use timebank_engine::sync::bounds::handmade::{self, Handmade};
use timebank_engine::sync::bounds::{self, PUSH};
use timebank_engine::sync::wire::{self, DocPull, DocPush, SyncRequest, SyncResponse};
use timebank_engine::sync::{Transport, TransportError};
use timebank_engine::{Error, PastVisit};
use timebank_server::store::MemberRecord;

use crate::process::{RelayProcess, admin, agent, enrolled_phone};
use crate::support::{Answer, Phone, TestRelay, forged_change, push};

/// A relay, a volunteer with a synced phone and a visit the relay holds.
struct Scene {
    relay: TestRelay,
    volunteer: MemberRecord,
    phone: Phone,
    own: String,
    visit: VisitId,
}

impl Scene {
    fn new() -> Scene {
        let relay = TestRelay::new();
        let volunteer = relay.member("volunteer", "Li Wei");
        let elder = relay.member("elder", "Wang Fang");
        let mut phone = relay.phone(&volunteer);
        let visit = phone.log_visit(&elder.id, "tea");
        relay.sync_phone(&mut phone);
        let own = format!("member/{}", volunteer.id);
        Scene { relay, volunteer, phone, own, visit }
    }

    /// A change to the volunteer's document by its own phone's actor, made by `edit` on the
    /// visit's record, with the heads it was made on.
    fn forge(&self, edit: impl FnOnce(&mut Transaction<'_>, &automerge::ObjId)) -> (Vec<u8>, Vec<ChangeHash>) {
        let visit = self.visit.as_str().to_owned();
        forged_change(&self.relay.document(&self.own), &self.phone.actor, |tx| {
            let visits = fields::map_at(tx, &ROOT, member::VISITS).unwrap();
            let record = fields::map_at(tx, &visits, &visit).unwrap();
            edit(tx, &record);
        })
    }

    fn send(&self, heads: &[ChangeHash], changes: Vec<Vec<u8>>) -> Answer {
        self.relay.sync(&self.phone.token, &push(&self.own, heads, changes))
    }

    /// Sends `changes`, expects `status` with `words` in the error, and checks that nothing
    /// was stored and one security event names the phone.
    fn refused(&self, heads: &[ChangeHash], changes: Vec<Vec<u8>>, status: StatusCode, words: &str) {
        let before = self.relay.document(&self.own).get_heads();
        let events = self.relay.store().security_events().unwrap().len();
        let answer = self.send(heads, changes);
        assert_eq!(answer.status, status, "{}", String::from_utf8_lossy(&answer.body));
        let error = answer.error();
        assert!(error.contains(words), "{error}");
        assert!(error.contains(&self.own), "{error}");
        assert!(error.to_lowercase().contains("nothing from this sync was stored"), "{error}");
        let mut other = self.relay.phone(&self.volunteer);
        super::nothing_stored(&self.relay, &mut other, &DocId::Member(self.volunteer.id.clone()), &before);
        let all = self.relay.store().security_events().unwrap();
        assert_eq!(all.len(), events + 1);
        let event = all.last().unwrap();
        assert_eq!(event.device.as_deref(), Some(self.phone.device.as_str()));
        assert_eq!(event.doc.as_deref(), Some(self.own.as_str()));
        assert!(event.reason.contains(words), "{}", event.reason);
    }
}

#[test]
fn a_compression_bomb_is_refused_before_it_is_inflated() {
    let scene = Scene::new();
    let heads = scene.relay.document(&scene.own).get_heads();
    let bomb = handmade::zero_bomb(128);
    assert!(bomb.len() < 200 * 1024, "{} bytes on the wire", bomb.len());
    let started = std::time::Instant::now();
    scene.refused(&heads, vec![bomb], StatusCode::PAYLOAD_TOO_LARGE, "bytes in one change once inflated");
    // Inflating 128 MiB takes automerge seconds in this build; one MiB takes milliseconds.
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
}

#[test]
fn a_ten_megabyte_note_is_refused_compressed_or_not() {
    let scene = Scene::new();
    let (raw, heads) = scene.forge(|tx, visit| tx.put(visit, "note", "x".repeat(10 * 1024 * 1024)).unwrap());
    let compressed = Change::from_bytes(raw).unwrap().bytes().into_owned();
    assert!(compressed.len() < wire::MAX_BODY_BYTES / 100, "{} bytes compressed", compressed.len());
    scene.refused(&heads, vec![compressed], StatusCode::PAYLOAD_TOO_LARGE, "bytes in one change once inflated");
    // A note that fits the bounds but not the shape is refused by the shape.
    let (long, heads) = scene.forge(|tx, visit| tx.put(visit, "note", "字".repeat(MAX_NOTE_CHARS + 1)).unwrap());
    let words = format!("visits/{}/note holds {} characters; at most {MAX_NOTE_CHARS}", scene.visit, MAX_NOTE_CHARS + 1);
    scene.refused(&heads, vec![long], StatusCode::FORBIDDEN, &words);
    // A Text note is counted once its splices are applied: refused then, and the relay's
    // copy they were applied to (its cached document itself, ADR 62) is not kept.
    let (text, heads) = scene.forge(|tx, visit| {
        let note = tx.put_object(visit, "note", ObjType::Text).unwrap();
        tx.splice_text(&note, 0, 0, &"字".repeat(MAX_NOTE_CHARS + 1)).unwrap();
    });
    scene.refused(&heads, vec![text], StatusCode::FORBIDDEN, &words);
}

#[test]
fn too_many_operations_in_one_change_or_one_request_are_refused() {
    let scene = Scene::new();
    // One splice into a Text note: an operation per character.
    let chars = usize::try_from(PUSH.change_ops).unwrap() + 1;
    let (raw, heads) = scene.forge(|tx, visit| {
        let note = tx.put_object(visit, "note", ObjType::Text).unwrap();
        tx.splice_text(&note, 0, 0, &"x".repeat(chars)).unwrap();
    });
    // Well within the bytes one change may hold: the operations are what is over.
    assert!((raw.len() as u64) < PUSH.change_bytes / 4, "{chars} characters take {} bytes", raw.len());
    scene.refused(&heads, vec![raw], StatusCode::PAYLOAD_TOO_LARGE, "operations in one change");
    // Hand-made: a billion operations in a hundred bytes.
    let mut billion = Handmade::puts(1_000_000_000, "x");
    billion.actor = scene.phone.actor.to_bytes().to_vec();
    scene.refused(&heads, vec![billion.chunk()], StatusCode::PAYLOAD_TOO_LARGE, "operations in one change");
    // Changes each within the bound, together over the request's.
    let changes = (1..=PUSH.batch_ops / PUSH.change_ops + 1)
        .map(|seq| {
            let mut change = Handmade::puts(PUSH.change_ops, "x");
            change.actor = scene.phone.actor.to_bytes().to_vec();
            change.seq = seq;
            change.start_op = 1 + (seq - 1) * PUSH.change_ops;
            change.chunk()
        })
        .collect();
    scene.refused(&heads, changes, StatusCode::PAYLOAD_TOO_LARGE, "operations in one sync");
}

#[test]
fn deep_nesting_is_refused_at_its_first_level() {
    let scene = Scene::new();
    let (raw, heads) = scene.forge(|tx, visit| {
        let mut obj = tx.put_object(visit, "evidence", ObjType::Map).unwrap();
        for _ in 0..1000 {
            obj = tx.put_object(&obj, "inner", ObjType::Map).unwrap();
        }
    });
    scene.refused(&heads, vec![raw], StatusCode::FORBIDDEN, "has no field \"evidence\"");
}

#[test]
fn objects_fields_and_types_outside_the_shape_are_refused() {
    let scene = Scene::new();
    let (outside, heads) = forged_change(&scene.relay.document(&scene.own), &scene.phone.actor, |tx| {
        tx.put_object(ROOT, "photos", ObjType::List).unwrap();
    });
    scene.refused(&heads, vec![outside], StatusCode::FORBIDDEN, "\"photos\" is not a top-level field of a member document");
    let (unknown, heads) = scene.forge(|tx, visit| tx.put(visit, "colour", "red").unwrap());
    scene.refused(&heads, vec![unknown], StatusCode::FORBIDDEN, "has no field \"colour\"");
    let (wrong, heads) = scene.forge(|tx, visit| tx.put(visit, "check_out", "soon").unwrap());
    scene.refused(&heads, vec![wrong], StatusCode::FORBIDDEN, "check_out must hold a time, not text");
    // A damaged change is a plain 400, with nothing stored.
    let stray = Handmade::puts(1, "x")
        .with_column(handmade::column::OBJ_ACTOR, [handmade::run(1), handmade::uleb_bytes(7)].concat())
        .with_column(handmade::column::OBJ_COUNTER, [handmade::run(1), handmade::uleb_bytes(1)].concat());
    let answer = scene.send(&heads, vec![stray.chunk()]);
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(answer.error().contains("actor number 7"), "{}", answer.error());
}

#[test]
fn a_change_that_skips_its_authors_numbers_is_refused_before_automerge_sees_it() {
    // automerge 0.12 panics applying a change whose author wrote nothing in the document
    // yet and that is not its first: a new phone of the volunteer sends one.
    let scene = Scene::new();
    let mut fresh = scene.relay.phone(&scene.volunteer);
    scene.relay.sync_phone(&mut fresh);
    let heads = scene.relay.document(&scene.own).get_heads();
    let mut second = Handmade::puts(1, "x");
    second.columns.clear();
    second.actor = fresh.actor.to_bytes().to_vec();
    second.seq = 2;
    second.deps = heads.iter().map(|h| h.0).collect();
    let answer = scene.relay.sync(&fresh.token, &push(&scene.own, &heads, vec![second.chunk()]));
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(&answer.body));
    let error = answer.error();
    assert!(error.contains("change number 2, but the document holds 0") && error.contains("nothing was stored"), "{error}");
    assert_eq!(scene.relay.document(&scene.own).get_heads(), heads);
    // The relay carries on: the phone's honest visit goes through.
    let elder = scene.relay.member("elder", "Zhao Min");
    fresh.log_visit(&elder.id, "tea");
    scene.relay.sync_phone(&mut fresh);
    assert_eq!(fresh.visit_states(), ["sent", "sent"], "the first phone's visit and this one");
}

#[test]
fn a_text_object_note_and_what_the_engine_writes_are_accepted() {
    let mut scene = Scene::new();
    let (raw, heads) = scene.forge(|tx, visit| {
        let note = tx.put_object(visit, "note", ObjType::Text).unwrap();
        tx.splice_text(&note, 0, 0, "读报纸, read the paper").unwrap();
    });
    let answer = scene.send(&heads, vec![raw]);
    assert_eq!(answer.status, StatusCode::OK, "{}", String::from_utf8_lossy(&answer.body));
    let doc = scene.relay.document(&scene.own);
    let visits = fields::map_at(&doc, &ROOT, member::VISITS).unwrap();
    let record = fields::map_at(&doc, &visits, scene.visit.as_str()).unwrap();
    let (_, note) = doc.get(&record, "note").unwrap().unwrap();
    assert_eq!(doc.text(&note).unwrap(), "读报纸, read the paper");

    // The engine's own writes, at the limits of the shape, pass untouched (on another
    // phone of the volunteer: the forged change above took this phone's next sequence
    // number, which the relay now holds).
    let elder = scene.relay.member("elder", "Zhao Min");
    let note = "好".repeat(MAX_NOTE_CHARS);
    let now = chrono::Utc::now();
    scene.phone = scene.relay.phone(&scene.volunteer);
    scene.relay.sync_phone(&mut scene.phone);
    let visit = scene
        .phone
        .engine
        .log_visit(&PastVisit {
            elder: elder.id.clone(),
            service: "companionship".into(),
            order: None,
            start: now - chrono::Duration::hours(30),
            end: now - chrono::Duration::hours(29),
            note: note.clone(),
        })
        .unwrap();
    scene.phone.engine.confirm_visit(&visit, timebank_engine::model::ConfirmedBy::Elder).unwrap();
    scene.relay.sync_phone(&mut scene.phone);
    let states: Vec<(String, String)> =
        scene.phone.engine.visits().unwrap().into_iter().map(|v| (v.visit.id.to_string(), v.state_label)).collect();
    assert!(states.contains(&(visit.to_string(), "sent".to_owned())), "{states:?}");
    let stored = member::visit(&scene.relay.document(&scene.own), &scene.volunteer.id, &visit).unwrap();
    assert_eq!(stored.note, note);
    assert!(stored.confirmation.is_some());
    assert!(scene.relay.store().security_events().unwrap().is_empty());
}

/// A relay that answers every request with `answer`.
struct HostileRelay {
    answer: Vec<u8>,
}

impl Transport for HostileRelay {
    fn exchange(&mut self, _body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        Ok(self.answer.clone())
    }
}

#[test]
fn a_phone_refuses_a_hostile_answer_whole_before_inflating_it() {
    let scene = Scene::new();
    let mut phone = scene.phone;
    let id = DocId::Member(scene.volunteer.id.clone());
    let held = phone.document(&id).get_heads();
    // An honest change the phone lacks, then a bomb, in one answer.
    let (honest, _) = forged_change(&scene.relay.document(&scene.own), &automerge::ActorId::random(), |tx| {
        crate::support::put_at(tx, &["profile"], "display_name", "Li Wei (verified)");
    });
    // A change numbered 2 by a device the phone never heard of: automerge 0.12 panics
    // applying it.
    let mut skipping = Handmade::puts(1, "x");
    skipping.seq = 2;
    skipping.deps = held.iter().map(|h| h.0).collect();
    for (bomb, words) in [
        (handmade::zero_bomb(64), "once inflated"),
        (Handmade::puts(u64::MAX >> 2, "x").chunk(), "operations in one change"),
        (skipping.chunk(), "change number 2, but the document holds 0"),
    ] {
        let answer = SyncResponse {
            docs: vec![
                DocPull { doc: scene.own.clone(), changes: vec![honest.clone()], ..DocPull::default() },
                DocPull { doc: format!("ledger/{}", scene.volunteer.id), changes: vec![bomb], ..DocPull::default() },
            ],
            ..SyncResponse::default()
        };
        let error = phone.engine.sync(&mut HostileRelay { answer: wire::encode(&answer) }).unwrap_err();
        assert!(matches!(error, Error::Protocol(_)), "{error:?}");
        let message = error.to_string();
        assert!(message.contains(words) && message.contains("nothing from this answer was stored"), "{message}");
        assert_eq!(phone.document(&id).get_heads(), held);
    }
    // Within the bounds of one answer, the same honest change is taken.
    let fine = SyncResponse {
        docs: vec![DocPull { doc: scene.own.clone(), changes: vec![honest], ..DocPull::default() }],
        ..SyncResponse::default()
    };
    phone.engine.sync(&mut HostileRelay { answer: wire::encode(&fine) }).unwrap();
    assert_ne!(phone.document(&id).get_heads(), held);
    assert!(bounds::PULL.batch_bytes >= wire::MAX_BODY_BYTES as u64);
}

/// Peak resident memory of process `pid`, in KiB (Linux).
fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn the_relay_process_never_holds_a_bomb_in_memory() {
    let data = tempfile::tempdir().unwrap();
    let data = data.path();
    let station = admin(data, &["station", "create", "--name", "Caoyang"])["id"].as_str().unwrap().to_owned();
    let volunteer = admin(
        data,
        &["member", "create", "--station", &station, "--role", "volunteer", "--name", "Li Wei", "--birth-year", "1955"],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let served = RelayProcess::start(data, None);
    let phone_dir = tempfile::tempdir().unwrap();
    let phone = enrolled_phone(&served.url, data, &volunteer, phone_dir.path());
    let token = phone.relay_link().unwrap().unwrap().token;
    let before = peak_kib(served.pid());
    // 512 MiB once inflated, half a megabyte on the wire.
    let request = SyncRequest {
        manifest: None,
        docs: vec![DocPush {
            doc: format!("member/{volunteer}"),
            acked: wire::heads_digest(&[]),
            changes: vec![handmade::zero_bomb(512)],
            ..DocPush::default()
        }],
    };
    let answer = agent()
        .post(&format!("{}/v1/sync", served.url))
        .header("authorization", &format!("Bearer {token}"))
        .send(&wire::encode(&request)[..])
        .unwrap();
    assert_eq!(answer.status().as_u16(), 413);
    let grown_mib = peak_kib(served.pid()).saturating_sub(before) / 1024;
    assert!(grown_mib < 64, "the relay's peak memory grew by {grown_mib} MiB");
}
