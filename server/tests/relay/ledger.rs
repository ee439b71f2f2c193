//! The ledger through the relay: coordinators' reviews in the desk earn coins that phones
//! see, concurrent offline redemptions are decided by arrival, replays post nothing, and
//! a relay that died between storing and posting catches up at start, and so does one
//! whose machine lost the ledger's last derived write (ADR 37).

use std::sync::Arc;

use automerge::ActorId;
use chrono::Utc;
use timebank_engine::DocId;
use timebank_engine::documents::desk;
use timebank_engine::model::{MemberId, RedemptionAction, RequestId, ReviewDecision, VisitId};
use timebank_engine::sync::wire::EnrollResponse;
use timebank_server::Relay;
use timebank_server::ledger::rebuild::rebuild_check;
use timebank_server::registry::{self, NewMember};
use timebank_server::store::{MemberRecord, RelayStore, SqliteStore, WriteBatch};

use crate::support::{Phone, TestRelay, forged_change, push};

struct Coordinator {
    enrolled: EnrollResponse,
    actor: ActorId,
    id: MemberId,
}

fn coordinator(relay: &TestRelay) -> Coordinator {
    let member = relay.member("coordinator", "Zhang Min");
    let (enrolled, actor, _) = relay.enroll(&member);
    Coordinator { enrolled, actor, id: member.id }
}

fn senior(relay: &TestRelay, name: &str) -> MemberRecord {
    registry::create_member(
        &relay.relay,
        &NewMember { station: relay.station.id.as_str(), role: "volunteer", name, birth_year: 1950, household: None, hardship: false },
    )
    .unwrap()
}

/// A volunteer, an elder and a coordinator, and one visit logged on the volunteer's phone
/// and synced, waiting for review.
struct Scene {
    volunteer: MemberRecord,
    elder: MemberRecord,
    desk: Coordinator,
    phone: crate::support::Phone,
    visit: VisitId,
}

fn synced_visit(relay: &TestRelay, note: &str) -> Scene {
    let volunteer = relay.member("volunteer", "Li Wei");
    let elder = relay.member("elder", "Wang Fang");
    let desk = coordinator(relay);
    let mut phone = relay.phone(&volunteer);
    let visit = phone.log_visit(&elder.id, note);
    relay.sync_phone(&mut phone);
    Scene { volunteer, elder, desk, phone, visit }
}

/// The coordinator writes into the desk (as the console will) and syncs it.
fn desk_write(relay: &TestRelay, by: &Coordinator, edit: impl FnOnce(&mut automerge::transaction::Transaction<'_>)) {
    let desk_id = format!("station/{}/desk", relay.station.id);
    let (change, _) = forged_change(&relay.document(&desk_id), &by.actor, edit);
    let acked = relay.store().acked_heads(&by.enrolled.device).unwrap().get(&desk_id).map(|h| h.cur.clone()).unwrap_or_default();
    relay.sync(&by.enrolled.token, &push(&desk_id, &acked, vec![change])).sync_response();
}

fn review(relay: &TestRelay, by: &Coordinator, visit: &VisitId, decision: &str, reason: &str) {
    let review =
        desk::Review { decision: ReviewDecision::parse(decision).unwrap(), reason: reason.into(), by: by.id.clone(), at: Utc::now() };
    desk_write(relay, by, |tx| desk::put_review(tx, visit, &review).unwrap());
}

fn decide(relay: &TestRelay, by: &Coordinator, request: &RequestId, action: &str) {
    let decision = desk::Decision { action: RedemptionAction::parse(action).unwrap(), by: by.id.clone(), at: Utc::now() };
    desk_write(relay, by, |tx| desk::put_decision(tx, request, &decision).unwrap());
}

/// A visit logged and not yet reviewed posts nothing: the relay knows at once that its
/// ledger has folded it (what its metrics report), and the store's cursor, which admin
/// commands on other processes wait for, follows within a second, not in the sync's
/// own transaction.
#[test]
fn a_fold_that_posts_nothing_is_counted_at_once_and_stored_soon() {
    let relay = TestRelay::new();
    let _scene = synced_visit(&relay, "tea and a walk");
    relay.relay.settle();
    let logged = relay.store().ledger_progress().unwrap().logged;
    assert!(logged >= 1, "the visit was logged");
    assert!(relay.store().postings().unwrap().is_empty(), "a visit waiting for review posts nothing");
    assert_eq!(relay.relay.ledger_folded(), logged, "the relay's own count moves with the fold");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while relay.store().ledger_progress().unwrap().folded < logged {
        assert!(std::time::Instant::now() < deadline, "the stored cursor did not follow the books");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_visit_approved_at_the_desk_shows_approved_with_its_coins_on_the_phone() {
    let relay = TestRelay::new();
    let Scene { desk, mut phone, visit, .. } = synced_visit(&relay, "read the newspaper");
    assert_eq!(phone.visit_states(), ["sent"], "waiting for the coordinators' review");
    assert_eq!(phone.engine.balance().confirmed_minutes, 0);

    review(&relay, &desk, &visit, "approve", "");
    relay.sync_phone(&mut phone);
    assert_eq!(phone.visit_states(), ["approved"]);
    let balance = phone.engine.balance();
    assert_eq!((balance.confirmed_minutes, balance.pending_minutes, balance.available_minutes), (60, 0, 60));
    let postings = relay.store().postings().unwrap();
    assert_eq!(postings.len(), 1);
    assert_eq!((postings[0].kind.as_str(), postings[0].minutes), ("earn", 60));
    assert_eq!(postings[0].by.as_deref(), Some(desk.id.as_str()));

    // A rejection afterwards reverses the coins and tells the volunteer why.
    review(&relay, &desk, &visit, "reject", "the elder was in hospital that day");
    relay.sync_phone(&mut phone);
    assert_eq!(phone.visit_states(), ["rejected: the elder was in hospital that day"]);
    assert_eq!(phone.engine.balance().confirmed_minutes, 0);
    assert_eq!(relay.store().postings().unwrap().len(), 2, "the earn stays; a reversal undoes it");
    assert!(rebuild_check(relay.store()).unwrap().is_empty());
}

/// A hand-made push sets a new visit's check-out twice without the second replacing the
/// first, numbering the second's operation below the first: automerge keeps the first
/// (one hour), though the second (five hours) comes later in the push. The ledger logs
/// what the document shows, not the later operation, and the rebuild check stays equal.
#[test]
fn a_field_set_twice_concurrently_in_one_push_is_logged_as_the_document_shows_it() {
    use std::num::NonZeroU64;

    use automerge::legacy::{Key, ObjectId, Op, OpId, OpType, SortedVec};
    use automerge::transaction::Transactable;
    use automerge::{Change, ExpandedChange, ObjType, ROOT, ScalarValue};
    use timebank_server::ledger::EventBody;
    use timebank_server::ledger::bookkeeper::event_of;

    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let elder = relay.member("elder", "Wang Fang");
    let mut phone = relay.phone(&volunteer);
    relay.sync_phone(&mut phone);

    let visit = VisitId::generate();
    let doc = format!("member/{}", volunteer.id);
    let check_in = (Utc::now() - chrono::Duration::hours(8)).timestamp_millis();
    let hour = 3_600_000;
    let (first, acked) = forged_change(&relay.document(&doc), &phone.actor, |tx| {
        let visits = timebank_engine::documents::fields::map_at(tx, &ROOT, "visits").unwrap();
        let v = tx.put_object(&visits, visit.as_str(), ObjType::Map).unwrap();
        for (key, value) in [("elder", elder.id.as_str()), ("service", "companionship"), ("source", "paper"), ("note", "tea")] {
            tx.put(&v, key, value).unwrap();
        }
        tx.put(&v, "check_in", ScalarValue::Timestamp(check_in)).unwrap();
        tx.put(&v, "check_out", ScalarValue::Timestamp(check_in + hour)).unwrap();
    });
    let first = Change::from_bytes(first).unwrap();
    let expanded = first.decode();
    let made = expanded.operations.iter().position(|op| matches!(op.action, OpType::Make(ObjType::Map))).unwrap();
    let record = OpId::new(first.start_op().get() + made as u64, first.actor_id());
    let second = Change::from(ExpandedChange {
        operations: vec![Op {
            action: OpType::Put(ScalarValue::Timestamp(check_in + 5 * hour)),
            obj: ObjectId::Id(record),
            key: Key::Map("check_out".into()),
            pred: SortedVec::new(),
            insert: false,
        }],
        actor_id: first.actor_id().clone(),
        hash: None,
        seq: first.seq() + 1,
        // Below every operation of the first change: automerge's winner is the first.
        start_op: NonZeroU64::MIN,
        time: expanded.time,
        message: None,
        deps: vec![first.hash()],
        extra_bytes: Vec::new(),
        author: None,
    });

    let answer = relay.sync(&phone.token, &push(&doc, &acked, vec![first.raw_bytes().to_vec(), second.raw_bytes().to_vec()]));
    assert!(!answer.status.is_server_error(), "{}", answer.error());
    let stored = timebank_engine::documents::member::visit(&relay.document(&doc), &volunteer.id, &visit);
    let logged: Vec<i64> = relay
        .store()
        .ledger_events(0)
        .unwrap()
        .iter()
        .filter_map(|record| match event_of(record).unwrap().body {
            EventBody::Visit(event) if event.id.as_str() == visit.as_str() => Some(event.check_out),
            _ => None,
        })
        .collect();
    match stored {
        Some(shown) => {
            let shown = shown.check_out.unwrap().timestamp_millis();
            assert_eq!(shown, check_in + hour, "automerge keeps the check-out numbered higher");
            assert_eq!(logged, [shown], "the ledger logs the check-out the document shows");
        }
        None => assert!(logged.is_empty(), "a push refused whole logs nothing: {}", answer.error()),
    }
    assert!(rebuild_check(relay.store()).unwrap().is_empty());
}

/// A visit as another automerge implementation writes it from the volunteer's own device:
/// its strings are text objects (the JavaScript library's default). The relay's checks
/// accept it, the ledger logs it, and a review earns its coins as for any visit.
#[test]
fn a_visit_written_with_text_objects_by_another_implementation_is_logged_and_earns() {
    use automerge::transaction::Transactable;
    use automerge::{ObjType, ROOT, ScalarValue};

    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let elder = relay.member("elder", "Wang Fang");
    let desk = coordinator(&relay);
    let mut phone = relay.phone(&volunteer);
    relay.sync_phone(&mut phone);

    let visit = VisitId::generate();
    let doc = format!("member/{}", volunteer.id);
    let now = Utc::now();
    let (change, _) = forged_change(&relay.document(&doc), &phone.actor, |tx| {
        let visits = timebank_engine::documents::fields::map_at(tx, &ROOT, "visits").unwrap();
        let v = tx.put_object(&visits, visit.as_str(), ObjType::Map).unwrap();
        for (key, value) in [("elder", elder.id.as_str()), ("service", "companionship"), ("source", "paper"), ("note", "tea")] {
            let text = tx.put_object(&v, key, ObjType::Text).unwrap();
            tx.splice_text(&text, 0, 0, value).unwrap();
        }
        tx.put(&v, "check_in", ScalarValue::Timestamp((now - chrono::Duration::hours(3)).timestamp_millis())).unwrap();
        tx.put(&v, "check_out", ScalarValue::Timestamp((now - chrono::Duration::hours(2)).timestamp_millis())).unwrap();
    });
    let acked = relay.store().acked_heads(&phone.device).unwrap().get(&doc).map(|h| h.cur.clone()).unwrap_or_default();
    relay.sync(&phone.token, &push(&doc, &acked, vec![change])).sync_response();
    let logged = relay.store().ledger_events(0).unwrap();
    assert!(logged.iter().any(|e| e.key.starts_with(&format!("visit:{visit}@"))), "the ledger logged the visit: {logged:?}");

    review(&relay, &desk, &visit, "approve", "");
    let postings = relay.store().postings().unwrap();
    assert_eq!(
        postings.iter().map(|p| (p.kind.as_str(), p.minutes, p.subject.as_str())).collect::<Vec<_>>(),
        [("earn", 60, visit.as_str())]
    );
    relay.sync_phone(&mut phone);
    assert_eq!(phone.visit_states(), ["approved"], "the phone of this engine reads the text fields too");
    assert!(rebuild_check(relay.store()).unwrap().is_empty());
}

#[test]
fn two_offline_redemptions_with_coins_for_one_are_decided_by_arrival_on_both_phones() {
    let relay = TestRelay::new();
    let member = senior(&relay, "Chen Hua");
    let elder = relay.member("elder", "Wang Fang");
    let desk = coordinator(&relay);
    let mut phone = relay.phone(&member);
    let mut tablet = relay.phone(&member);
    let visit = phone.log_visit(&elder.id, "cleaning");
    relay.sync_phone(&mut phone);
    review(&relay, &desk, &visit, "approve", "");
    relay.sync_phone(&mut phone);
    relay.sync_phone(&mut tablet);
    assert_eq!(tablet.engine.balance().available_minutes, 60);

    // Both offline: each thinks 60 minutes are there.
    let first = phone.engine.request_redemption("tcm-physiotherapy", 45).unwrap();
    let second = tablet.engine.request_redemption("tcm-physiotherapy", 45).unwrap();
    relay.sync_phone(&mut phone);
    relay.sync_phone(&mut tablet);
    relay.sync_phone(&mut phone);
    relay.sync_phone(&mut tablet);

    for device in [&phone, &tablet] {
        let labels: Vec<(RequestId, String)> =
            device.engine.requests().unwrap().into_iter().map(|r| (r.request.id, r.state_label)).collect();
        let label = |id: &RequestId| labels.iter().find(|(r, _)| r == id).map(|(_, l)| l.clone()).unwrap();
        assert_eq!(label(&first), "accepted");
        let refused = label(&second);
        assert!(refused.starts_with("refused: the balance (15 min) did not cover 45 min"), "{refused}");
        assert!(refused.contains(&format!("request {first} came first")), "{refused}");
        let balance = device.engine.balance();
        assert_eq!((balance.confirmed_minutes, balance.reserved_minutes, balance.available_minutes), (60, 45, 15));
    }
    assert!(!relay.store().postings().unwrap().iter().any(|p| p.subject == second.as_str()), "a refused request takes no coins");

    // The coordinator fulfils the accepted one: the held coins are spent.
    decide(&relay, &desk, &first, "fulfil");
    relay.sync_phone(&mut phone);
    let balance = phone.engine.balance();
    assert_eq!((balance.confirmed_minutes, balance.reserved_minutes), (15, 0));
    assert!(phone.engine.requests().unwrap().iter().any(|r| r.request.id == first && r.state_label == "fulfilled"));
    assert!(rebuild_check(relay.store()).unwrap().is_empty());
}

#[test]
fn replaying_the_same_syncs_posts_nothing() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let elder = relay.member("elder", "Wang Fang");
    let desk = coordinator(&relay);
    let mut phone = relay.phone(&volunteer);
    let visit = phone.log_visit(&elder.id, "chat");
    let mut transport = relay.transport(&phone.token);
    phone.engine.sync(&mut transport).unwrap();
    review(&relay, &desk, &visit, "approve", "");
    let postings = relay.store().postings().unwrap();
    let events = relay.store().ledger_events(0).unwrap();
    let ledger_generation = relay.generation(&format!("ledger/{}", volunteer.id));
    assert_eq!(postings.len(), 1);

    for (body, _) in transport.exchanges.clone() {
        relay.post("/v1/sync", Some(&phone.token), body);
    }
    review(&relay, &desk, &visit, "approve", "");
    relay.relay.reconcile_ledger().unwrap();
    assert_eq!(relay.store().postings().unwrap(), postings);
    assert_eq!(relay.store().ledger_events(0).unwrap().len(), events.len() + 1, "only the second review's new content is logged");
    assert_eq!(relay.generation(&format!("ledger/{}", volunteer.id)), ledger_generation, "the ledger document is not written again");
}

#[test]
fn a_relay_killed_between_storing_and_posting_catches_up_at_start_and_posts_once() {
    let relay = TestRelay::new();
    let Scene { volunteer, elder, desk, mut phone, visit } = synced_visit(&relay, "chat");
    review(&relay, &desk, &visit, "approve", "");
    let other = phone.log_visit(&elder.id, "walk");

    // The relay stores the second visit and its review, and dies before the ledger runs:
    // written straight into the store, as the sync's transaction would have.
    let own = DocId::Member(volunteer.id.clone()).to_string();
    let stored = relay.document(&own);
    let chunk = phone.document(&DocId::Member(volunteer.id.clone())).save_after(&stored.get_heads());
    let desk_id = format!("station/{}/desk", relay.station.id);
    let approval = desk::Review { decision: ReviewDecision::Approve, reason: String::new(), by: desk.id.clone(), at: Utc::now() };
    let (review_change, _) =
        forged_change(&relay.document(&desk_id), &desk.actor, |tx| desk::put_review(tx, &other, &approval).unwrap());
    let batch = WriteBatch { chunks: vec![(own, chunk), (desk_id, review_change)], ..WriteBatch::default() };
    relay.store().write_batch(&batch, 0).unwrap();
    assert_eq!(relay.store().postings().unwrap().len(), 1);
    assert!(!rebuild_check(relay.store()).unwrap().is_empty(), "the check sees what was stored but not logged");

    // A new relay on the same store catches up at start.
    let restarted = Relay::new(Arc::new(SqliteStore::open(relay.dir.path()).unwrap()), relay.clock.clone()).unwrap();
    restarted.reconcile_ledger().unwrap();
    let postings = relay.store().postings().unwrap();
    assert_eq!(postings.iter().map(|p| p.subject.as_str()).collect::<Vec<_>>(), [visit.as_str(), other.as_str()]);
    assert!(rebuild_check(relay.store()).unwrap().is_empty());

    // Again, and once more from yet another start: nothing posts twice.
    restarted.reconcile_ledger().unwrap();
    let again = Relay::new(Arc::new(SqliteStore::open(relay.dir.path()).unwrap()), relay.clock.clone()).unwrap();
    again.reconcile_ledger().unwrap();
    assert_eq!(relay.store().postings().unwrap(), postings);

    // The phone sees both approved with two coins (through the relay that restarted).
    let router = timebank_server::app(Arc::new(again));
    let mut transport = relay.transport_via(&router, &phone.token);
    phone.engine.sync(&mut transport).unwrap();
    assert_eq!(phone.visit_states(), ["approved", "approved"]);
    assert_eq!(phone.engine.balance().confirmed_minutes, 120);
}

#[test]
fn the_ledgers_last_write_lost_with_the_power_is_derived_again_at_start() {
    let relay = TestRelay::new();
    let Scene { volunteer, desk, mut phone, visit, .. } = synced_visit(&relay, "chat");
    review(&relay, &desk, &visit, "approve", "");
    relay.relay.settle();
    assert_eq!(relay.store().postings().unwrap().len(), 1);
    let ledger_id = DocId::Ledger(volunteer.id.clone()).to_string();
    let before_loss = relay.document(&ledger_id).get_heads();

    // The poster's write (the posting, the ledger document's new chunk, how far it folded)
    // is not flushed on its own (ADR 37); a power cut before the next flushed commit takes
    // that whole transaction away. Here it is taken out of the file by hand.
    let file = relay.dir.path().join(timebank_server::store::sqlite::STORE_FILE);
    let mut conn = rusqlite::Connection::open(&file).unwrap();
    let tx = conn.transaction().unwrap();
    // (The file refuses to delete postings; a lost transaction never wrote them.)
    tx.execute_batch(
        "DROP TRIGGER postings_append_only_delete; DELETE FROM postings;
         CREATE TRIGGER postings_append_only_delete BEFORE DELETE ON postings
         BEGIN SELECT RAISE(ABORT, 'postings are append-only; correct with a reversal'); END;",
    )
    .unwrap();
    let last_chunk = "SELECT max(rowid) FROM chunks WHERE doc_id = ?1";
    tx.execute(&format!("DELETE FROM chunks WHERE rowid = ({last_chunk})"), [&ledger_id]).unwrap();
    tx.execute("UPDATE document_versions SET generation = generation - 1 WHERE doc_id = ?1", [&ledger_id]).unwrap();
    tx.execute("UPDATE ledger_state SET value = 0 WHERE key = 'folded_seq'", []).unwrap();
    tx.commit().unwrap();
    drop(conn);
    let store = SqliteStore::open(relay.dir.path()).unwrap();
    assert!(store.postings().unwrap().is_empty(), "the posting is gone from the file");
    assert_ne!(relay.document(&ledger_id).get_heads(), before_loss, "the ledger's last change is gone");

    // A relay started on the file derives it again from the arrival log, once.
    let restarted = Relay::new(Arc::new(store), relay.clock.clone()).unwrap();
    restarted.reconcile_ledger().unwrap();
    let postings = restarted.store().postings().unwrap();
    assert_eq!(postings.iter().map(|p| p.subject.as_str()).collect::<Vec<_>>(), [visit.as_str()]);
    assert!(rebuild_check(restarted.store()).unwrap().is_empty());

    // The phone sees the visit approved with its coin.
    let router = timebank_server::app(Arc::new(restarted));
    let mut transport = relay.transport_via(&router, &phone.token);
    phone.engine.sync(&mut transport).unwrap();
    assert_eq!(phone.visit_states(), ["approved"]);
    assert_eq!(phone.engine.balance().confirmed_minutes, 60);
}

#[test]
fn the_admin_shows_a_members_ledger_and_checks_the_rebuild() {
    use timebank_server::admin::{AdminCommand, AdminError, run};
    let relay = TestRelay::new();
    let Scene { volunteer, desk, visit, .. } = synced_visit(&relay, "chat");
    review(&relay, &desk, &visit, "approve", "");

    let report = run(&relay.relay, &AdminCommand::Ledger { member: volunteer.id.to_string() }).unwrap();
    assert_eq!(report.json["balance"]["confirmed_minutes"], 60);
    assert_eq!(report.json["postings"][0]["kind"], "earn");
    assert_eq!(report.json["outcomes"][visit.as_str()]["status"], "approved");
    assert!(report.text.contains("confirmed 60 min"), "{}", report.text);

    let check = run(&relay.relay, &AdminCommand::RebuildLedger { check: true }).unwrap();
    assert_eq!(check.json["identical"], true);

    // A posting the rebuild does not make (written behind the ledger's back) is a difference.
    let conn = rusqlite::Connection::open(relay.dir.path().join("relay.sqlite3")).unwrap();
    conn.execute(
        "INSERT INTO postings (key, kind, debit, credit, minutes, subject, memo, event_seq, posted_at)
         VALUES ('earn:forged:r1', 'earn', 'program', ?1, 600, 'forged', '', 1, 0)",
        [format!("member:{}", volunteer.id)],
    )
    .unwrap();
    let err = run(&relay.relay, &AdminCommand::RebuildLedger { check: true }).unwrap_err();
    assert!(matches!(&err, AdminError::LedgerDiffers(d) if d.iter().any(|l| l.contains("earn:forged:r1"))), "{err}");
}

#[test]
fn a_member_in_special_hardship_redeems_from_sixty_and_others_from_sixty_five() {
    let relay = TestRelay::new();
    let elder = relay.member("elder", "Wang Fang");
    let desk = coordinator(&relay);
    let age_62 = chrono::Datelike::year(&Utc::now()) - 62;
    let register = |name: &str, hardship: bool| {
        registry::create_member(
            &relay.relay,
            &NewMember {
                station: relay.station.id.as_str(),
                role: "volunteer",
                name,
                birth_year: u16::try_from(age_62).unwrap(),
                household: None,
                hardship,
            },
        )
        .unwrap()
    };
    let mut outcomes = Vec::new();
    for (name, hardship) in [("Zhao Lei", false), ("Sun Mei", true)] {
        let member = register(name, hardship);
        let mut phone = relay.phone(&member);
        let visit = phone.log_visit(&elder.id, "meals");
        relay.sync_phone(&mut phone);
        review(&relay, &desk, &visit, "approve", "");
        relay.sync_phone(&mut phone);
        phone.engine.request_redemption("tcm-physiotherapy", 30).unwrap();
        relay.sync_phone(&mut phone);
        relay.sync_phone(&mut phone);
        outcomes.push(phone.engine.requests().unwrap()[0].state_label.clone());
    }
    assert!(outcomes[0].starts_with("refused: coins can be redeemed from age 65 (60 in special hardship)"), "{outcomes:?}");
    assert_eq!(outcomes[1], "accepted");
}

/// A senior volunteer's one-hour visit approved from a coordinator's phone, both phones
/// synced since: (relay, the volunteer's phone, the coordinator's, the visit).
fn approved_visit() -> (TestRelay, Phone, Phone, VisitId) {
    let relay = TestRelay::new();
    let member = senior(&relay, "Chen Hua");
    let elder = relay.member("elder", "Wang Fang");
    let coordinator = relay.member("coordinator", "Chen Jing");
    let mut phone = relay.phone(&member);
    let mut desk = relay.phone(&coordinator);
    let visit = phone.log_visit(&elder.id, "cleaning");
    relay.sync_phone(&mut phone);
    relay.sync_phone(&mut desk);
    desk.engine.review_visit(&visit, ReviewDecision::Approve, "").unwrap();
    relay.sync_phone(&mut desk);
    relay.sync_phone(&mut phone);
    (relay, phone, desk, visit)
}

#[test]
fn a_coordinators_phone_fulfils_an_accepted_redemption_and_the_member_sees_it() {
    let (relay, mut phone, mut desk, _) = approved_visit();
    let request = phone.engine.request_redemption("tcm-physiotherapy", 45).unwrap();
    relay.sync_phone(&mut phone);

    relay.sync_phone(&mut desk);
    let queue = desk.engine.redemption_queue().unwrap();
    assert_eq!(queue.iter().map(|(_, r)| &r.id).collect::<Vec<_>>(), [&request]);
    desk.engine.decide_redemption(&request, RedemptionAction::Fulfil).unwrap();
    assert!(desk.engine.redemption_queue().unwrap().is_empty(), "decided: off the queue");
    relay.sync_phone(&mut desk);
    relay.sync_phone(&mut phone);

    let shown = phone.engine.requests().unwrap();
    assert_eq!(shown[0].state_label, "fulfilled");
    let balance = phone.engine.balance();
    assert_eq!((balance.confirmed_minutes, balance.reserved_minutes), (60 - 45, 0));
    assert!(rebuild_check(relay.store()).unwrap().is_empty());

    // A redemption is decided once, and only by a coordinator.
    let again = desk.engine.decide_redemption(&request, RedemptionAction::Release).unwrap_err().to_string();
    assert!(again.contains("already decided (fulfil"), "{again}");
    assert!(phone.engine.decide_redemption(&request, RedemptionAction::Fulfil).is_err());
}

#[test]
fn a_coordinators_phone_reverses_an_approval_and_the_volunteer_sees_the_coins_go_back() {
    let (relay, mut phone, mut desk, visit) = approved_visit();
    assert_eq!((phone.visit_states(), phone.engine.balance().confirmed_minutes), (vec!["approved".to_owned()], 60));

    desk.engine.reverse_review(&visit, "the elder was in hospital that week").unwrap();
    relay.sync_phone(&mut desk);
    relay.sync_phone(&mut phone);
    assert_eq!(phone.visit_states(), ["under review: the approval was reversed: the elder was in hospital that week"]);
    assert_eq!(phone.engine.balance().confirmed_minutes, 0);
    let kinds: Vec<(String, i64)> = relay.store().postings().unwrap().into_iter().map(|p| (p.kind, p.minutes)).collect();
    assert_eq!(kinds, [("earn".to_owned(), 60), ("reversal".to_owned(), 60)]);
    relay.sync_phone(&mut desk);
    assert!(desk.engine.review_queue().unwrap().iter().any(|item| item.visit.visit.id == visit), "back in the phone's queue");
    assert!(rebuild_check(relay.store()).unwrap().is_empty(), "the rebuild folds the reversal the same way");
}
