//! Coordinator decisions written by the relay itself (what the console does): they reach
//! the phones at their next sync and the ledger acts on them, exactly as if a
//! coordinator's phone had made them; bad decisions change nothing.

use axum::http::StatusCode;
use timebank_engine::DocId;
use timebank_engine::model::{OrderState, ReviewDecision, VisitId};
use timebank_server::AppError;
use timebank_server::desk::{self, StationDocs};
use timebank_server::ledger::rebuild::rebuild_check;

use crate::support::TestRelay;

/// Everything stored, to check a refusal changed nothing.
fn snapshot(relay: &TestRelay) -> (Vec<(String, i64)>, usize, usize) {
    let ids = relay.store().document_ids().unwrap();
    let generations = ids.iter().map(|id| (id.clone(), relay.generation(id))).collect();
    (generations, relay.store().postings().unwrap().len(), relay.store().ledger_events(0).unwrap().len())
}

fn status(result: Result<impl std::fmt::Debug, AppError>) -> StatusCode {
    result.expect_err("the decision should be refused").status()
}

#[test]
fn a_review_written_by_the_relay_reaches_the_volunteers_phone_with_its_coins() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let elder = relay.member("elder", "Wang Fang");
    let coordinator = relay.member("coordinator", "Zhang Min");
    let mut phone = relay.phone(&volunteer);
    let visit = phone.log_visit(&elder.id, "read the newspaper");
    relay.sync_phone(&mut phone);
    assert_eq!(phone.engine.balance().confirmed_minutes, 0);

    desk::review_visit(&relay.relay, &coordinator.id, &visit, ReviewDecision::Approve, "", None).unwrap();
    // The ledger acted at once: the posting names the coordinator.
    let postings = relay.store().postings().unwrap();
    assert_eq!(postings.len(), 1);
    assert_eq!((postings[0].kind.as_str(), postings[0].minutes), ("earn", 60));
    assert_eq!(postings[0].by.as_deref(), Some(coordinator.id.as_str()));

    relay.sync_phone(&mut phone);
    assert_eq!(phone.visit_states(), ["approved"]);
    assert_eq!(phone.engine.balance().confirmed_minutes, 60);

    // The desk review carries the coordinator as author, and a coordinator's phone sees it.
    let mut desk_phone = relay.phone(&coordinator);
    relay.sync_phone(&mut desk_phone);
    let review = desk_phone.engine.review(&visit).unwrap();
    assert_eq!((review.decision.as_str(), &review.by), ("approve", &coordinator.id));

    // A rejection afterwards takes the coins back, with the reason, on the phone.
    desk::review_visit(&relay.relay, &coordinator.id, &visit, ReviewDecision::Reject, "the elder was away", None).unwrap();
    relay.sync_phone(&mut phone);
    assert_eq!(phone.visit_states(), ["rejected: the elder was away"]);
    assert_eq!(phone.engine.balance().confirmed_minutes, 0);
    assert!(rebuild_check(relay.store()).unwrap().is_empty(), "the arrival log holds the relay's writes");
}

#[test]
fn an_order_placed_and_dispatched_by_the_relay_reaches_the_volunteer_who_accepts_it() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let elder = relay.member("elder", "Wang Fang");
    let coordinator = relay.member("coordinator", "Zhang Min");
    let mut phone = relay.phone(&volunteer);

    let order = desk::place_order(&relay.relay, &coordinator.id, &elder.id, "companionship", "Tuesday afternoon", None).unwrap();
    desk::dispatch(&relay.relay, &coordinator.id, &order, &volunteer.id, None).unwrap();
    relay.sync_phone(&mut phone);
    let assignments = phone.engine.assignments();
    assert_eq!(assignments.len(), 1);
    assert_eq!(assignments[0].assignment.order, order);
    assert_eq!(assignments[0].assignment.note, "Tuesday afternoon");
    assert_eq!(assignments[0].state, OrderState::Dispatched);

    phone.engine.accept(&order).unwrap();
    relay.sync_phone(&mut phone);
    let docs = StationDocs::load(&relay.relay, &relay.station.id).unwrap();
    assert_eq!(docs.order(&order).unwrap().1, OrderState::Accepted);

    // Accepted orders can still be cancelled; the elder's document says so.
    desk::cancel_order(&relay.relay, &coordinator.id, &order, None).unwrap();
    let docs = StationDocs::load(&relay.relay, &relay.station.id).unwrap();
    assert!(docs.order(&order).unwrap().0.cancelled_at.is_some());
}

#[test]
fn bad_decisions_are_refused_and_change_nothing() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let elder = relay.member("elder", "Wang Fang");
    let coordinator = relay.member("coordinator", "Zhang Min");
    let mut phone = relay.phone(&volunteer);
    let visit = phone.log_visit(&elder.id, "tea");
    relay.sync_phone(&mut phone);
    // A coordinator of another station.
    let other = timebank_server::registry::create_station(&relay.relay, "Huangpu").unwrap();
    let stranger = timebank_server::registry::create_member(
        &relay.relay,
        &timebank_server::registry::NewMember {
            station: other.id.as_str(),
            role: "coordinator",
            name: "Chen Jing",
            birth_year: 1980,
            household: None,
            hardship: false,
        },
    )
    .unwrap();
    let before = snapshot(&relay);

    // A rejection without a reason.
    assert_eq!(
        status(desk::review_visit(&relay.relay, &coordinator.id, &visit, ReviewDecision::Reject, " ", None)),
        StatusCode::BAD_REQUEST
    );
    // A volunteer is no coordinator.
    assert_eq!(
        status(desk::review_visit(&relay.relay, &volunteer.id, &visit, ReviewDecision::Approve, "", None)),
        StatusCode::FORBIDDEN
    );
    // A visit that does not exist.
    let unknown = VisitId::generate();
    assert_eq!(
        status(desk::review_visit(&relay.relay, &coordinator.id, &unknown, ReviewDecision::Approve, "", None)),
        StatusCode::NOT_FOUND
    );
    // Orders for a volunteer, or with a service not in the catalogue.
    assert_eq!(
        status(desk::place_order(&relay.relay, &coordinator.id, &volunteer.id, "companionship", "", None)),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(status(desk::place_order(&relay.relay, &coordinator.id, &elder.id, "juggling", "", None)), StatusCode::BAD_REQUEST);

    // Another station's coordinator sees none of this station's visits or documents.
    assert_eq!(
        status(desk::review_visit(&relay.relay, &stranger.id, &visit, ReviewDecision::Approve, "", None)),
        StatusCode::NOT_FOUND
    );
    let desk_id = DocId::Desk(relay.station.id.clone());
    let review = timebank_engine::documents::desk::Review {
        decision: ReviewDecision::Approve,
        reason: String::new(),
        by: stranger.id.clone(),
        at: chrono::Utc::now(),
    };
    let written = relay.relay.write_as(
        &stranger.id,
        &[(desk_id, &|tx| timebank_engine::documents::desk::put_review(tx, &visit, &review))],
        None,
    );
    assert_eq!(status(written), StatusCode::NOT_FOUND);

    assert_eq!(snapshot(&relay), before);
    relay.sync_phone(&mut phone);
    assert_eq!(phone.visit_states(), ["sent"]);
}
