//! The audit trail of the console's decisions: a decision that writes documents is audited
//! in the same transaction, so an approval leaves exactly one entry, a refused decision
//! (another station's visit or order) none, and a decision that changes nothing (a visit
//! approved again, an order cancelled again) still one: the coordinator did ask. So are a
//! registration and a revocation (not a revocation of a revoked device).

use axum::http::StatusCode;
use timebank_engine::model::VisitId;
use timebank_server::store::AuditRecord;

use crate::phones::Pair;
use crate::review::state;
use crate::support::Console;

/// Every audit entry, newest first.
fn entries(console: &Console) -> Vec<AuditRecord> {
    console.store().audit_entries(None, 1000).unwrap()
}

/// A volunteer's phone with one hour's visit (three hours ago) synced to the relay.
fn synced_visit(console: &Console) -> (Pair, VisitId) {
    let mut pair = Pair::new(console);
    let visit = pair.phone.log_visit(&pair.elder.id, 3, 60, "");
    pair.phone.sync();
    (pair, visit)
}

#[test]
fn an_approval_is_audited_once_and_another_stations_not_at_all() {
    let console = Console::new();
    let (_pair, visit) = synced_visit(&console);
    let mut zhao = console.signed_in("zhao");
    zhao.get("/console/review");
    let mut li = console.signed_in("li");
    li.get("/console/review");
    let before = (state(&console), entries(&console));

    let theirs = zhao.post(&format!("/console/review/{visit}/approve"), &[]);
    assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{}", theirs.text);
    assert_eq!((state(&console), entries(&console)), before, "refused: nothing written, nothing audited");

    let done = li.post(&format!("/console/review/{visit}/approve"), &[]);
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    assert_ne!(state(&console), before.0, "the approval was written");
    let after = entries(&console);
    assert_eq!(after.len(), before.1.len() + 1, "exactly one entry: {after:?}");
    let entry = &after[0];
    assert_eq!(
        (entry.action.as_str(), entry.target.as_str(), entry.username.as_str(), entry.station.as_ref()),
        ("review.approve", visit.as_str(), "li", Some(&console.station.id))
    );
}

#[test]
fn another_stations_order_is_refused_unaudited_and_a_repeated_cancel_is_audited() {
    let console = Console::new();
    let elder = console.member("elder", "王芳");
    let mut li = console.signed_in("li");
    li.get("/console/orders");
    let placed = li.post("/console/orders", &[("elder", elder.id.as_str()), ("service", "companionship"), ("note", "")]);
    assert_eq!(placed.status, StatusCode::SEE_OTHER, "{}", placed.text);
    let order = entries(&console).remove(0);
    assert_eq!(order.action, "order.place");
    assert!(order.target.starts_with("o-"), "the entry names the new order: {order:?}");

    let mut zhao = console.signed_in("zhao");
    zhao.get("/console/orders");
    let before = (state(&console), entries(&console));
    let theirs = zhao.post(&format!("/console/orders/{}/cancel", order.target), &[]);
    assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{}", theirs.text);
    assert_eq!((state(&console), entries(&console)), before, "refused: nothing written, nothing audited");

    let cancelled = li.post(&format!("/console/orders/{}/cancel", order.target), &[]);
    assert_eq!(cancelled.status, StatusCode::SEE_OTHER, "{}", cancelled.text);
    let written = state(&console);
    assert_ne!(written, before.0);
    assert_eq!(entries(&console).len(), before.1.len() + 1);

    // Cancelled again: no document changes, but the coordinator asked, and the trail says so.
    let again = li.post(&format!("/console/orders/{}/cancel", order.target), &[]);
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.text);
    assert_eq!(state(&console), written, "nothing was written");
    let after = entries(&console);
    assert_eq!(after.len(), before.1.len() + 2);
    assert_eq!((after[0].action.as_str(), after[0].target.as_str()), ("order.cancel", order.target.as_str()));
}

#[test]
fn a_visit_approved_again_changes_no_document_and_is_audited_again() {
    let console = Console::new();
    let (_pair, visit) = synced_visit(&console);
    let mut li = console.signed_in("li");
    li.get("/console/review");
    let approve = format!("/console/review/{visit}/approve");
    assert_eq!(li.post(&approve, &[]).status, StatusCode::SEE_OTHER);
    let (written, audited) = (state(&console), entries(&console).len());

    let again = li.post(&approve, &[]);
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.text);
    assert_eq!(state(&console), written, "the same review, by the same coordinator, at the same time: nothing written");
    let after = entries(&console);
    assert_eq!(after.len(), audited + 1);
    assert_eq!((after[0].action.as_str(), after[0].target.as_str()), ("review.approve", visit.as_str()));
}

#[test]
fn a_registration_and_a_revocation_are_audited_with_them_and_a_second_revocation_not() {
    let console = Console::new();
    let pair = Pair::new(&console);
    let mut li = console.signed_in("li");
    li.get("/console/members");
    let fields = [("name", " 陈秀英 "), ("birth_year", "1941"), ("role", "elder"), ("household", ""), ("phone", ""), ("id_last4", "")];
    let registered = li.post("/console/members", &fields);
    assert_eq!(registered.status, StatusCode::SEE_OTHER, "{}", registered.text);
    let member = registered.location.unwrap().trim_start_matches("/console/members/").to_owned();
    let entry = entries(&console).remove(0);
    assert_eq!(
        (entry.action.as_str(), entry.target.as_str(), entry.detail.as_str()),
        ("member.create", member.as_str(), "陈秀英 (elder)")
    );

    let device = console.store().devices().unwrap().into_iter().find(|d| d.member == pair.volunteer.id).unwrap().id;
    li.get(&format!("/console/members/{}", pair.volunteer.id));
    let before = entries(&console).len();
    let revoke = format!("/console/devices/{device}/revoke");
    assert_eq!(li.post(&revoke, &[]).status, StatusCode::SEE_OTHER);
    assert_eq!(li.post(&revoke, &[]).status, StatusCode::SEE_OTHER, "revoked before: said so");
    let after = entries(&console);
    assert_eq!(after.len(), before + 1, "only the revocation that revoked is audited: {after:?}");
    assert_eq!((after[0].action.as_str(), after[0].target.as_str()), ("device.revoke", device.as_str()));
}
