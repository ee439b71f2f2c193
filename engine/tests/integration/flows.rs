//! A volunteer's everyday flows on one phone: check in and out, paper visits, the
//! elder's confirmation, clocks that jump, notifications, status, balance and requests.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::Duration;
use timebank_engine::model::{ConfirmedBy, RequestId, RequestKind, Role, StationId, VisitSource};
use timebank_engine::{Balance, Listener, Topic, VisitState};

use crate::support::{Device, ELDER, OTHER_ELDER, OTHER_VOLUNTEER, STATION, VOLUNTEER, member, paper_visit, seen};

#[test]
fn check_in_then_check_out_lists_the_visit_with_its_minutes_as_saved_on_phone() {
    let mut phone = Device::volunteer();
    let arrived = phone.now();
    let visit = phone.start_visit(&member(ELDER), "companionship", None).unwrap();

    let open = phone.visits().unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].visit.id, visit);
    assert_eq!(open[0].state, VisitState::CheckedIn);
    assert_eq!(open[0].state_label, "checked in");
    assert_eq!(open[0].minutes, None);

    phone.wait_minutes(75);
    let done = phone.end_visit(&visit, None, Some("read the newspaper together")).unwrap();
    assert_eq!(done.minutes, Some(75));
    assert_eq!(done.state, VisitState::SavedOnPhone);
    assert_eq!(done.state_label, "saved on phone");

    let listed = phone.visits().unwrap();
    assert_eq!(listed, vec![done]);
    let v = &listed[0].visit;
    assert_eq!(v.elder, member(ELDER));
    assert_eq!(v.service, "companionship");
    assert_eq!(v.source, VisitSource::Live);
    assert_eq!(v.check_in, arrived);
    assert_eq!(v.check_out, Some(arrived + Duration::minutes(75)));
    assert_eq!(v.note, "read the newspaper together");
    assert_eq!(v.device, phone.identity().device);
}

#[test]
fn everything_is_still_there_after_the_store_is_reopened() {
    let mut phone = Device::volunteer();
    let identity = phone.identity().clone();
    let live = phone.start_visit(&member(ELDER), "meals", None).unwrap();
    phone.wait_minutes(40);
    phone.end_visit(&live, None, Some("lunch")).unwrap();
    phone.confirm_visit(&live, ConfirmedBy::Family).unwrap();
    phone.log_paper(2, 90).unwrap();
    phone.request_redemption("housekeeping", 60).unwrap();
    phone.request_gift(&member(OTHER_VOLUNTEER), 30).unwrap();
    phone.wait_minutes(5);
    let open = phone.start_visit(&member(OTHER_ELDER), "cleaning", None).unwrap();
    let before = seen(&phone);
    assert_eq!(before.visits.len(), 3);
    assert_eq!(before.requests.len(), 2);

    phone.reopen();

    assert_eq!(phone.identity(), &identity);
    assert_eq!(seen(&phone), before);
    // The visit left open before the restart can still be checked out, with its length.
    phone.wait_minutes(20);
    let done = phone.end_visit(&open, None, None).unwrap();
    assert_eq!(done.minutes, Some(20));
}

#[test]
fn a_visit_checked_in_before_the_app_was_killed_is_checked_out_after_restart() {
    let mut phone = Device::volunteer();
    let visit = phone.start_visit(&member(ELDER), "escort", None).unwrap();
    phone.close();
    phone.wait_minutes(50);
    phone.reopen();
    let done = phone.end_visit(&visit, None, Some("hospital and back")).unwrap();
    assert_eq!(done.minutes, Some(50));
    assert_eq!(done.visit.monotonic_ms, Some(50 * 60_000));
    assert_eq!(done.state_label, "saved on phone");
}

#[test]
fn a_paper_visit_keeps_its_service_date_and_the_date_it_was_entered() {
    let mut phone = Device::volunteer();
    let past = paper_visit(&phone, 3, 90);
    let id = phone.log_visit(&past).unwrap();

    let visits = phone.visits().unwrap();
    assert_eq!(visits.len(), 1);
    let view = &visits[0];
    assert_eq!(view.visit.id, id);
    assert_eq!(view.visit.source, VisitSource::Paper);
    assert_eq!(view.visit.check_in, past.start);
    assert_eq!(view.visit.check_out, Some(past.end));
    assert_eq!(view.visit.recorded_at, phone.now());
    assert_eq!(view.visit.note, past.note);
    assert_eq!(view.minutes, Some(90));
    assert_eq!(view.state_label, "saved on phone");
    assert_eq!(phone.status().unwrap().open_visits, 0);
}

#[test]
fn visits_are_listed_oldest_first() {
    let mut phone = Device::volunteer();
    let recent = phone.log_paper(1, 30).unwrap();
    let oldest = phone.log_paper(5, 30).unwrap();
    let live = phone.start_visit(&member(ELDER), "meals", None).unwrap();
    let order: Vec<_> = phone.visits().unwrap().into_iter().map(|v| v.visit.id).collect();
    assert_eq!(order, vec![oldest, recent, live]);
}

#[test]
fn the_elder_confirms_a_visit_once_it_is_over() {
    let mut phone = Device::volunteer();
    let visit = phone.start_visit(&member(ELDER), "companionship", None).unwrap();

    let err = phone.confirm_visit(&visit, ConfirmedBy::Elder).unwrap_err();
    assert!(err.to_string().contains("still open"), "{err}");
    assert_eq!(phone.visit_view(&visit).unwrap().visit.confirmation, None);

    phone.wait_minutes(60);
    phone.end_visit(&visit, None, None).unwrap();
    phone.wait_minutes(1);
    let confirmed_at = phone.now();
    let view = phone.confirm_visit(&visit, ConfirmedBy::Elder).unwrap();
    let confirmation = view.visit.confirmation.clone().expect("the visit is confirmed");
    assert_eq!(confirmation.by, ConfirmedBy::Elder);
    assert_eq!(confirmation.at, confirmed_at);

    // Confirming again (the elder taps twice) keeps the first confirmation and writes nothing.
    let unsynced = phone.status().unwrap().unsynced_changes;
    phone.wait_minutes(3);
    let again = phone.confirm_visit(&visit, ConfirmedBy::Family).unwrap();
    assert_eq!(again.visit.confirmation, Some(confirmation.clone()));
    assert_eq!(phone.status().unwrap().unsynced_changes, unsynced);

    phone.reopen();
    assert_eq!(phone.visit_view(&visit).unwrap().visit.confirmation, Some(confirmation));
}

#[test]
fn the_monotonic_length_wins_when_the_wall_clock_jumps_forward() {
    let mut phone = Device::volunteer();
    let visit = phone.start_visit(&member(ELDER), "companionship", None).unwrap();
    // An hour passes, and meanwhile the phone's clock is set ten hours ahead: by the
    // wall clock the visit would be over the 8 h maximum.
    phone.clock.advance(Duration::minutes(60));
    phone.clock.set_wall(phone.now() + Duration::hours(10));
    let done = phone.end_visit(&visit, None, None).unwrap();
    assert_eq!(done.minutes, Some(60));
    assert_eq!(done.visit.monotonic_ms, Some(60 * 60_000));
    assert_eq!(phone.balance().pending_minutes, 60);
}

#[test]
fn the_monotonic_length_wins_when_the_wall_clock_jumps_back() {
    let mut phone = Device::volunteer();
    let visit = phone.start_visit(&member(ELDER), "companionship", None).unwrap();
    let checked_in = phone.now();
    // 45 minutes pass, and the network sets the phone's clock back by two hours.
    phone.clock.advance(Duration::minutes(45));
    phone.clock.set_wall(checked_in - Duration::minutes(75));
    let done = phone.end_visit(&visit, None, None).unwrap();
    assert_eq!(done.minutes, Some(45));
    assert_eq!(phone.status().unwrap().open_visits, 0);
    assert_eq!(phone.balance().pending_minutes, 45);
}

#[test]
fn without_a_comparable_monotonic_reading_the_wall_clock_measures_the_visit() {
    let mut phone = Device::volunteer();
    let visit = phone.start_visit(&member(ELDER), "meals", None).unwrap();
    phone.clock.advance(Duration::minutes(30));
    phone.clock.reboot("boot-after-restart");
    phone.clock.advance(Duration::minutes(10));
    let done = phone.end_visit(&visit, None, None).unwrap();
    assert_eq!(done.minutes, Some(40));
    assert_eq!(done.visit.monotonic_ms, None);
}

#[test]
fn on_a_phone_without_a_monotonic_clock_the_wall_clock_measures_the_visit() {
    let mut phone = Device::volunteer();
    phone.clock.without_monotonic();
    let visit = phone.start_visit(&member(ELDER), "meals", None).unwrap();
    phone.wait_minutes(25);
    let done = phone.end_visit(&visit, None, None).unwrap();
    assert_eq!(done.minutes, Some(25));
    assert_eq!(done.visit.monotonic_ms, None);
}

#[test]
fn a_forgotten_check_out_is_given_afterwards() {
    let mut phone = Device::volunteer();
    let visit = phone.start_visit(&member(ELDER), "cleaning", None).unwrap();
    let left = phone.now() + Duration::minutes(95);
    phone.wait_minutes(300);
    let done = phone.end_visit(&visit, Some(left), None).unwrap();
    assert_eq!(done.visit.check_out, Some(left));
    assert_eq!(done.minutes, Some(95));
}

#[derive(Default)]
struct Heard(Mutex<Vec<Topic>>);

impl Heard {
    fn topics(&self) -> Vec<Topic> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl Listener for Heard {
    fn on_change(&self, topic: Topic) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push(topic);
    }
}

#[test]
fn a_listener_hears_each_write_until_its_subscription_is_dropped() {
    let mut phone = Device::volunteer();
    let heard = Arc::new(Heard::default());
    let subscription = phone.subscribe(heard.clone());

    let visit = phone.start_visit(&member(ELDER), "meals", None).unwrap();
    assert_eq!(heard.topics(), vec![Topic::Visits]);
    phone.wait_minutes(30);
    phone.end_visit(&visit, None, None).unwrap();
    assert_eq!(heard.topics(), vec![Topic::Visits, Topic::Visits]);
    phone.request_redemption("housekeeping", 30).unwrap();
    assert_eq!(heard.topics(), vec![Topic::Visits, Topic::Visits, Topic::Requests]);

    // A refused write is not announced.
    phone.request_gift(&member(VOLUNTEER), 30).unwrap_err();
    assert_eq!(heard.topics().len(), 3);

    drop(subscription);
    phone.log_paper(1, 30).unwrap();
    phone.request_redemption("housekeeping", 30).unwrap();
    assert_eq!(heard.topics().len(), 3);
}

#[test]
fn status_counts_visits_open_visits_and_unsynced_changes() {
    let mut phone = Device::volunteer();
    let fresh = phone.status().unwrap();
    assert_eq!(fresh.member, VOLUNTEER);
    assert_eq!(fresh.station, STATION);
    assert_eq!(fresh.role, "volunteer");
    assert_eq!(fresh.device, phone.identity().device);
    assert_eq!((fresh.visits, fresh.open_visits), (0, 0));
    assert!(fresh.store_bytes > 0);

    let visit = phone.start_visit(&member(ELDER), "meals", None).unwrap();
    let checked_in = phone.status().unwrap();
    assert_eq!((checked_in.visits, checked_in.open_visits), (1, 1));
    assert_eq!(checked_in.unsynced_changes, fresh.unsynced_changes + 1);

    phone.wait_minutes(30);
    phone.end_visit(&visit, None, None).unwrap();
    phone.log_paper(1, 45).unwrap();
    phone.request_redemption("housekeeping", 15).unwrap();
    let later = phone.status().unwrap();
    assert_eq!((later.visits, later.open_visits), (2, 0));
    assert_eq!(later.unsynced_changes, fresh.unsynced_changes + 4);

    phone.reopen();
    let reopened = phone.status().unwrap();
    assert_eq!((reopened.visits, reopened.open_visits, reopened.unsynced_changes), (2, 0, later.unsynced_changes));
}

#[test]
fn balance_counts_closed_visits_as_pending_and_requests_as_reserved() {
    let mut phone = Device::volunteer();
    assert_eq!(phone.balance(), Balance::default());

    let live = phone.start_visit(&member(ELDER), "meals", None).unwrap();
    phone.wait_minutes(50);
    // An open visit is not pending yet.
    assert_eq!(phone.balance().pending_minutes, 0);
    phone.end_visit(&live, None, None).unwrap();
    phone.log_paper(2, 70).unwrap();
    phone.wait_minutes(1);
    phone.start_visit(&member(OTHER_ELDER), "cleaning", None).unwrap();
    phone.request_redemption("tcm-physiotherapy", 45).unwrap();
    phone.request_gift(&member(OTHER_VOLUNTEER), 20).unwrap();

    let balance = phone.balance();
    assert_eq!(balance.pending_minutes, 50 + 70);
    assert_eq!(balance.reserved_minutes, 45 + 20);
    assert_eq!(balance.confirmed_minutes, 0);
    assert_eq!(balance.available_minutes, -(45 + 20));
    phone.reopen();
    assert_eq!(phone.balance(), balance);
}

#[test]
fn a_redemption_names_the_station_that_gives_it_unless_it_is_the_members_own() {
    let mut phone = Device::volunteer();
    let elsewhere = StationId::parse("s-xinhua").unwrap();
    let across = phone.request_redemption_at("housekeeping", 60, &elsewhere).unwrap();
    let own = phone.identity().station.clone();
    let home = phone.request_redemption_at("housekeeping", 30, &own).unwrap();
    let requests = phone.requests().unwrap();
    let kind = |id: &RequestId| requests.iter().find(|r| &r.request.id == id).unwrap().request.kind.clone();
    assert_eq!(kind(&across), RequestKind::Redeem { service: "housekeeping".into(), at: Some(elsewhere) });
    assert_eq!(
        kind(&home),
        RequestKind::Redeem { service: "housekeeping".into(), at: None },
        "the own station is an ordinary redemption"
    );
    let err = phone.request_redemption_at("no-such-service", 30, &StationId::parse("s-xinhua").unwrap()).unwrap_err();
    assert!(err.to_string().contains("no-such-service"), "{err}");
}

#[test]
fn redemption_and_gift_requests_list_as_saved_on_phone() {
    let mut phone = Device::volunteer();
    let start = phone.now();
    let redeem = phone.request_redemption("housekeeping", 90).unwrap();
    phone.wait_minutes(2);
    let gift = phone.request_gift(&member(OTHER_VOLUNTEER), 60).unwrap();

    let requests = phone.requests().unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].request.id, redeem);
    assert_eq!(requests[0].request.kind, RequestKind::Redeem { service: "housekeeping".into(), at: None });
    assert_eq!(requests[0].request.minutes, 90);
    assert_eq!(requests[0].request.created_at, start);
    assert_eq!(requests[1].request.id, gift);
    assert_eq!(requests[1].request.kind, RequestKind::Gift { to: member(OTHER_VOLUNTEER) });
    assert_eq!(requests[1].request.minutes, 60);
    for request in &requests {
        assert_eq!(request.state_label, "saved on phone");
    }
    phone.reopen();
    assert_eq!(phone.requests().unwrap(), requests);
}

#[test]
fn an_elder_may_spend_coins_too() {
    let mut elder = Device::create(ELDER, Role::Elder);
    let id = elder.request_redemption("tcm-physiotherapy", 60).unwrap();
    let requests = elder.requests().unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].request.id, id);
    assert_eq!(requests[0].state_label, "saved on phone");
    assert_eq!(elder.balance().reserved_minutes, 60);
}
