//! The field rules ([`crate::authority::check_field`]) as vetting applies them to a push's
//! operations: what a volunteer's phone may write in its member document, as scalar
//! strings or text objects, and what is refused even when a concurrent write hides it.

use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, ObjType, ROOT, ReadDoc};
use timebank_engine::DocId;
use timebank_engine::documents::{self, fields, member};

use crate::authority::Refusal;
use crate::vetting::vet;

fn member_doc() -> (DocId, Automerge) {
    let id: DocId = "member/m-vol".parse().unwrap();
    let mut doc = documents::genesis(&id, ActorId::random()).unwrap();
    doc.transact::<_, _, automerge::AutomergeError>(|tx| {
        let assignments = fields::map_at(tx, &ROOT, member::ASSIGNMENTS).unwrap();
        let a = tx.put_object(&assignments, "o-1", ObjType::Map)?;
        tx.put(&a, "elder", "m-elder")?;
        let visits = fields::map_at(tx, &ROOT, member::VISITS).unwrap();
        let v = tx.put_object(&visits, "v-1", ObjType::Map)?;
        tx.put(&v, "note", "")?;
        Ok(())
    })
    .unwrap();
    (id, doc)
}

/// Vets the change an edit makes to the member document, as the relay vets a push:
/// the field rules apply when `non_coordinator`.
fn check(edit: impl FnOnce(&mut automerge::transaction::Transaction<'_>), non_coordinator: bool) -> Result<(), Refusal> {
    let (id, doc) = member_doc();
    let mut fork = doc.clone();
    let before = fork.get_heads();
    let mut tx = fork.transaction();
    edit(&mut tx);
    tx.commit();
    vet(&id, &doc, &fork.get_changes(&before), |_| non_coordinator).map(drop)
}

fn map(tx: &automerge::transaction::Transaction<'_>, path: &[&str]) -> automerge::ObjId {
    path.iter().fold(ROOT, |obj, key| fields::map_at(tx, &obj, key).unwrap())
}

#[test]
fn a_volunteer_may_answer_an_assignment_but_not_create_one() {
    let answer = check(|tx| tx.put(map(tx, &["assignments", "o-1"]), "response", "accepted").unwrap(), true);
    assert_eq!(answer, Ok(()));
    let created = check(
        |tx| {
            let assignments = map(tx, &["assignments"]);
            tx.put_object(&assignments, "o-2", ObjType::Map).unwrap();
        },
        true,
    )
    .unwrap_err();
    assert!(created.reason.contains("only coordinators create or remove assignments (assignment o-2)"), "{created}");
    let changed = check(|tx| tx.put(map(tx, &["assignments", "o-1"]), "elder", "m-other").unwrap(), true).unwrap_err();
    assert!(changed.reason.contains("assignment's elder"), "{changed}");
    // The elder's name a dispatch carries (ADR 0021) is the coordinators' too.
    let renamed = check(|tx| tx.put(map(tx, &["assignments", "o-1"]), "elder_name", "someone else").unwrap(), true).unwrap_err();
    assert!(renamed.reason.contains("assignment's elder_name"), "{renamed}");
    // A coordinator's device may.
    assert_eq!(
        check(
            |tx| {
                let assignments = map(tx, &["assignments"]);
                tx.put_object(&assignments, "o-2", ObjType::Map).unwrap();
            },
            false
        ),
        Ok(())
    );
}

#[test]
fn profile_and_dispatch_are_for_coordinators() {
    let profile = check(|tx| tx.put(map(tx, &["profile"]), "verification", "verified").unwrap(), true).unwrap_err();
    assert!(profile.reason.contains("profile/verification"), "{profile}");
    let dispatch = check(
        |tx| {
            let orders = map(tx, &["orders"]);
            let o = tx.put_object(&orders, "o-9", ObjType::Map).unwrap();
            tx.put(&o, "dispatched_to", "m-vol").unwrap();
        },
        true,
    )
    .unwrap_err();
    assert!(dispatch.reason.contains("only coordinators dispatch orders (order o-9)"), "{dispatch}");
    assert_eq!(check(|tx| tx.put(map(tx, &["profile"]), "display_name", "Li").unwrap(), false), Ok(()));
}

#[test]
fn a_volunteer_may_edit_its_own_visits() {
    assert_eq!(check(|tx| tx.put(map(tx, &["visits", "v-1"]), "note", "tea").unwrap(), true), Ok(()));
}

/// Puts `value` under `key` as an automerge text object (the JavaScript library's
/// default for a string).
fn put_text(tx: &mut automerge::transaction::Transaction<'_>, obj: &automerge::ObjId, key: &str, value: &str) {
    let text = tx.put_object(obj, key, ObjType::Text).unwrap();
    tx.splice_text(&text, 0, 0, value).unwrap();
}

#[test]
fn fields_written_as_text_objects_are_checked_like_strings() {
    // What a volunteer may write passes whether a string is a scalar or a text object.
    let visit = check(|tx| put_text(tx, &map(tx, &["visits", "v-1"]), "note", "read the newspaper"), true);
    assert_eq!(visit, Ok(()));
    let new_visit = check(
        |tx| {
            let visits = map(tx, &["visits"]);
            let v = tx.put_object(&visits, "v-2", ObjType::Map).unwrap();
            put_text(tx, &v, "elder", "m-elder");
            put_text(tx, &v, "service", "meals");
        },
        true,
    );
    assert_eq!(new_visit, Ok(()));
    let answer = check(
        |tx| {
            let a = map(tx, &["assignments", "o-1"]);
            put_text(tx, &a, "response", "declined");
            put_text(tx, &a, "decline_reason", "away this week");
        },
        true,
    );
    assert_eq!(answer, Ok(()));
    // What only coordinators write is refused as text too.
    let dispatch = check(
        |tx| {
            let orders = map(tx, &["orders"]);
            let o = tx.put_object(&orders, "o-9", ObjType::Map).unwrap();
            put_text(tx, &o, "dispatched_to", "m-vol");
        },
        true,
    )
    .unwrap_err();
    assert!(dispatch.reason.contains("only coordinators dispatch orders (order o-9)"), "{dispatch}");
    let renamed = check(|tx| put_text(tx, &map(tx, &["assignments", "o-1"]), "elder_name", "someone else"), true).unwrap_err();
    assert!(renamed.reason.contains("assignment's elder_name"), "{renamed}");
}

#[test]
fn a_write_a_concurrent_one_hides_is_refused_too() {
    // A volunteer's phone dispatches an order to itself while the coordinator's
    // dispatch (made concurrently, with a greater actor) wins: the phone's value is
    // never visible, and its change is refused all the same.
    let (id, mut doc) = member_doc();
    doc.transact::<_, _, automerge::AutomergeError>(|tx| {
        let orders = fields::map_at(tx, &ROOT, member::ORDERS).unwrap();
        tx.put_object(&orders, "o-9", ObjType::Map)?;
        Ok(())
    })
    .unwrap();
    let mut phone = doc.fork().with_actor(ActorId::from([0u8; 16]));
    let mut coordinator = doc.fork().with_actor(ActorId::from([0xff; 16]));
    for (fork, who) in [(&mut phone, "m-vol"), (&mut coordinator, "m-other")] {
        fork.transact::<_, _, automerge::AutomergeError>(|tx| {
            let order = map(tx, &["orders", "o-9"]);
            tx.put(&order, "dispatched_to", who)
        })
        .unwrap();
    }
    let before = doc.get_heads();
    doc.merge(&mut coordinator).unwrap();
    let pushed = phone.get_changes(&before);
    let mut merged = doc.clone();
    merged.apply_changes(pushed.iter().cloned()).unwrap();
    let order = merged.get(ROOT, member::ORDERS).unwrap().unwrap().1;
    let order = merged.get(&order, "o-9").unwrap().unwrap().1;
    let winner = merged.get(&order, "dispatched_to").unwrap().unwrap().0.into_string().unwrap();
    assert_eq!(winner, "m-other", "the coordinator's dispatch is the one visible");
    let refused = vet(&id, &doc, &pushed, |_| true).unwrap_err();
    assert!(refused.reason.contains("only coordinators dispatch orders (order o-9)"), "{refused}");
}
