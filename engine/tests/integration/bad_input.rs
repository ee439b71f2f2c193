//! Bad input is refused with an error that names the problem, and leaves the store
//! exactly as it was, in memory and on disk.

use chrono::Duration;
use timebank_engine::model::{ConfirmedBy, MemberId, OrderId, ReviewDecision, Role, VisitId};
use timebank_engine::{Engine, Error, PastVisit};

use crate::support::{
    COORDINATOR, Device, ELDER, OTHER_ELDER, OTHER_VOLUNTEER, VOLUNTEER, carry, file_bytes, member, member_doc, paper_visit, seen,
};

/// A volunteer's phone with some history: a confirmed visit, a paper visit and a request.
fn volunteer_with_history() -> Device {
    let mut phone = Device::volunteer();
    let visit = phone.start_visit(&member(ELDER), "meals", None).unwrap();
    phone.wait_minutes(45);
    phone.end_visit(&visit, None, None).unwrap();
    phone.confirm_visit(&visit, ConfirmedBy::Elder).unwrap();
    phone.log_paper(2, 60).unwrap();
    phone.request_redemption("housekeeping", 30).unwrap();
    phone.wait_minutes(10);
    phone
}

/// Runs `attempt`, which must fail, and checks that nothing the user can see changed,
/// neither right away nor after the store is opened again. Returns the error.
fn refused<T: std::fmt::Debug>(device: &mut Device, attempt: impl FnOnce(&mut Engine) -> Result<T, Error>) -> Error {
    device.close();
    let file = file_bytes(&device.store_file());
    device.reopen();
    let before = seen(device);
    let error = attempt(device).expect_err("the engine refuses the input");
    assert_eq!(seen(device), before, "a refused operation changed the store in memory ({error})");
    device.close();
    assert!(file_bytes(&device.store_file()) == file, "a refused operation changed the store file ({error})");
    device.reopen();
    assert_eq!(seen(device), before, "a refused operation changed the store on disk ({error})");
    error
}

fn assert_invalid(error: &Error, expected: &str) {
    assert!(matches!(error, Error::Invalid(_)), "expected a domain error, got {error:?}");
    assert!(error.to_string().contains(expected), "{error:?} does not say {expected:?}");
}

fn past(device: &Device, start_minutes_ago: i64, length_minutes: i64) -> PastVisit {
    let start = device.now() - Duration::minutes(start_minutes_ago);
    PastVisit { start, end: start + Duration::minutes(length_minutes), ..paper_visit(device, 0, 0) }
}

#[test]
fn a_visit_that_ends_before_it_starts_is_refused() {
    let mut phone = volunteer_with_history();
    let visit = past(&phone, 120, -30);
    let error = refused(&mut phone, |e| e.log_visit(&visit));
    assert_invalid(&error, "before it starts");

    // A check-out given before the check-in is refused the same way, and the visit stays open.
    let open = phone.start_visit(&member(ELDER), "meals", None).unwrap();
    let too_early = phone.now() - Duration::minutes(5);
    phone.wait_minutes(30);
    let error = refused(&mut phone, |e| e.end_visit(&open, Some(too_early), None));
    assert_invalid(&error, "before it starts");
    assert_eq!(phone.status().unwrap().open_visits, 1);
}

#[test]
fn a_zero_length_visit_is_refused() {
    let mut phone = volunteer_with_history();
    let visit = past(&phone, 120, 0);
    let error = refused(&mut phone, |e| e.log_visit(&visit));
    assert_invalid(&error, "shorter than one minute");

    // Checking out right after checking in: the visit stays open.
    let open = phone.start_visit(&member(ELDER), "meals", None).unwrap();
    let error = refused(&mut phone, |e| e.end_visit(&open, None, None));
    assert_invalid(&error, "shorter than one minute");
    assert_eq!(phone.status().unwrap().open_visits, 1);
}

#[test]
fn a_visit_over_the_eight_hour_maximum_is_refused() {
    let mut phone = volunteer_with_history();
    let visit = past(&phone, 24 * 60, 8 * 60 + 1);
    let error = refused(&mut phone, |e| e.log_visit(&visit));
    assert_invalid(&error, "over the station's maximum of 8 h");

    // Exactly eight hours is still accepted.
    let eight_hours = past(&phone, 12 * 60, 8 * 60);
    phone.log_visit(&eight_hours).unwrap();

    // A live visit left open over nine hours: the error says how long it was and what to do.
    let open = phone.start_visit(&member(ELDER), "meals", None).unwrap();
    phone.wait_minutes(9 * 60 + 5);
    let error = refused(&mut phone, |e| e.end_visit(&open, None, None));
    assert_invalid(&error, "9 h 5 min");
    assert!(error.to_string().contains("--at"), "{error}");
    assert_eq!(phone.status().unwrap().open_visits, 1);
}

#[test]
fn a_visit_in_the_future_or_too_long_ago_is_refused() {
    let mut phone = volunteer_with_history();
    let future = past(&phone, -60, 30);
    let error = refused(&mut phone, |e| e.log_visit(&future));
    assert_invalid(&error, "in the future");
    let stale = paper_visit(&phone, 31, 60);
    let error = refused(&mut phone, |e| e.log_visit(&stale));
    assert_invalid(&error, "30-day limit");
}

#[test]
fn an_unknown_service_is_refused_with_the_choices() {
    let mut phone = volunteer_with_history();
    let error = refused(&mut phone, |e| e.start_visit(&member(ELDER), "karaoke", None));
    assert_invalid(&error, "\"karaoke\" is not a known service");
    assert!(error.to_string().contains("companionship"), "{error}");

    let visit = PastVisit { service: "karaoke".into(), ..paper_visit(&phone, 1, 30) };
    let error = refused(&mut phone, |e| e.log_visit(&visit));
    assert_invalid(&error, "is not a known service");

    let error = refused(&mut phone, |e| e.request_redemption("karaoke", 60));
    assert_invalid(&error, "is not a known service");
}

#[test]
fn a_redeemable_service_cannot_be_logged_as_a_visit() {
    let mut phone = volunteer_with_history();
    let error = refused(&mut phone, |e| e.start_visit(&member(ELDER), "housekeeping", None));
    assert_invalid(&error, "\"housekeeping\" is not a service volunteers give");
    assert!(error.to_string().contains("meals"), "{error}");

    // And the other way round: coins are not redeemed for a service volunteers give.
    let error = refused(&mut phone, |e| e.request_redemption("meals", 60));
    assert_invalid(&error, "is not a service coins can be redeemed for");
}

#[test]
fn a_malformed_elder_id_is_refused_before_it_reaches_the_store() {
    let mut phone = volunteer_with_history();
    let before = seen(&phone);
    for typed in ["E-2001", "e 2001", "", "长者", "e/2001"] {
        let error = MemberId::parse(typed).unwrap_err();
        assert!(matches!(error, Error::Invalid(_)), "{error:?}");
        assert!(error.to_string().contains("not a valid member id"), "{error}");
        assert!(error.to_string().contains(&format!("{typed:?}")), "{error} names what was typed");
    }
    assert!(VisitId::parse("V 1").is_err());
    assert!(OrderId::parse("o/1").is_err());
    phone.reopen();
    assert_eq!(seen(&phone), before);
}

#[test]
fn a_visit_to_yourself_is_refused() {
    let mut phone = volunteer_with_history();
    let error = refused(&mut phone, |e| e.start_visit(&member(VOLUNTEER), "meals", None));
    assert_invalid(&error, "visit to yourself");
}

#[test]
fn ending_a_visit_that_is_already_over_is_refused() {
    let mut phone = volunteer_with_history();
    let done = phone.visits().unwrap()[0].visit.clone();
    let checked_out = done.check_out.expect("the first visit is over");
    let error = refused(&mut phone, |e| e.end_visit(&done.id, None, Some("again")));
    assert_invalid(&error, "is not open");
    assert!(error.to_string().contains(&checked_out.format("%Y-%m-%d %H:%M").to_string()), "{error}");
    assert!(error.to_string().contains(done.id.as_str()), "{error}");
}

#[test]
fn ending_a_visit_that_does_not_exist_is_refused() {
    let mut phone = volunteer_with_history();
    let unknown = VisitId::parse("v-nowhere").unwrap();
    let error = refused(&mut phone, |e| e.end_visit(&unknown, None, None));
    assert!(matches!(error, Error::NotFound { what: "visit", .. }), "{error:?}");
    assert!(error.to_string().contains("v-nowhere is not on this phone"), "{error}");
    let error = refused(&mut phone, |e| e.confirm_visit(&unknown, ConfirmedBy::Elder));
    assert!(matches!(error, Error::NotFound { .. }), "{error:?}");
}

#[test]
fn a_second_check_in_while_one_visit_is_open_is_refused() {
    let mut phone = volunteer_with_history();
    let open = phone.start_visit(&member(ELDER), "meals", None).unwrap();
    phone.wait_minutes(20);
    let error = refused(&mut phone, |e| e.start_visit(&member(OTHER_ELDER), "cleaning", None));
    assert_invalid(&error, "still checked in");
    assert!(error.to_string().contains(open.as_str()), "{error} names the open visit");
    assert!(error.to_string().contains(ELDER), "{error} names the elder");
    // Once checked out, the next visit starts.
    phone.end_visit(&open, None, None).unwrap();
    phone.start_visit(&member(OTHER_ELDER), "cleaning", None).unwrap();
}

#[test]
fn a_gift_to_yourself_is_refused() {
    let mut phone = volunteer_with_history();
    let error = refused(&mut phone, |e| e.request_gift(&member(VOLUNTEER), 60));
    assert_invalid(&error, "cannot give coins to yourself");
}

#[test]
fn a_zero_negative_or_impossible_amount_is_refused() {
    let mut phone = volunteer_with_history();
    for minutes in [0, -60] {
        let error = refused(&mut phone, |e| e.request_redemption("housekeeping", minutes));
        assert_invalid(&error, &format!("{minutes} minutes is not an amount you can spend"));
        let error = refused(&mut phone, |e| e.request_gift(&member(OTHER_VOLUNTEER), minutes));
        assert_invalid(&error, "not an amount you can spend");
    }
    let error = refused(&mut phone, |e| e.request_redemption("housekeeping", i64::from(u32::MAX) + 1));
    assert_invalid(&error, "more than any balance can hold");
}

#[test]
fn an_elder_device_may_not_check_in_or_log_visits() {
    let mut elder = Device::create(ELDER, Role::Elder);
    elder.place_order(None, "meals", "lunch on Tuesday").unwrap();
    let error = refused(&mut elder, |e| e.start_visit(&member(OTHER_ELDER), "meals", None));
    assert!(matches!(error, Error::NotAllowed(_)), "{error:?}");
    assert!(error.to_string().contains("checking in is for volunteer devices"), "{error}");
    assert!(error.to_string().contains("(elder)"), "{error}");
    let visit = PastVisit { elder: member(OTHER_ELDER), ..paper_visit(&elder, 1, 30) };
    let error = refused(&mut elder, |e| e.log_visit(&visit));
    assert!(matches!(error, Error::NotAllowed(_)), "{error:?}");
}

#[test]
fn other_roles_may_not_do_what_is_not_theirs() {
    let mut coordinator = Device::create(COORDINATOR, Role::Coordinator);
    let error = refused(&mut coordinator, |e| e.request_redemption("housekeeping", 60));
    assert!(matches!(error, Error::NotAllowed(_)), "{error:?}");
    assert!(error.to_string().contains("spending coins"), "{error}");

    let mut volunteer = volunteer_with_history();
    let error = refused(&mut volunteer, |e| e.place_order(Some(&member(ELDER)), "meals", ""));
    assert!(matches!(error, Error::NotAllowed(_)), "{error:?}");
    let order = OrderId::parse("o-1").unwrap();
    let error = refused(&mut volunteer, |e| e.dispatch(&order, &member(OTHER_VOLUNTEER)));
    assert!(matches!(error, Error::NotAllowed(_)), "{error:?}");

    let mut elder = Device::create(ELDER, Role::Elder);
    let error = refused(&mut elder, |e| e.place_order(Some(&member(OTHER_ELDER)), "meals", ""));
    assert!(matches!(error, Error::NotAllowed(_)), "{error:?}");
    assert!(error.to_string().contains("for that elder only"), "{error}");
}

#[test]
fn a_visit_for_an_order_not_assigned_to_you_is_refused() {
    let mut phone = volunteer_with_history();
    let order = OrderId::parse("o-unknown").unwrap();
    let error = refused(&mut phone, |e| e.start_visit(&member(ELDER), "meals", Some(&order)));
    assert_invalid(&error, "order o-unknown is not among your assignments");
    let error = refused(&mut phone, |e| e.accept(&order));
    assert!(matches!(error, Error::NotFound { what: "assignment", .. }), "{error:?}");
}

#[test]
fn a_note_or_reason_too_long_or_with_control_characters_is_refused_on_the_phone() {
    let mut volunteer = volunteer_with_history();
    let long_note = "饭".repeat(501);
    let paper = PastVisit { note: long_note.clone(), ..past(&volunteer, 24 * 60, 60) };
    let error = refused(&mut volunteer, |e| e.log_visit(&paper));
    assert_invalid(&error, "the note has 501 characters; a note has at most 500");
    let open = volunteer.start_visit(&member(ELDER), "meals", None).unwrap();
    volunteer.wait_minutes(30);
    let error = refused(&mut volunteer, |e| e.end_visit(&open, None, Some("tea\u{1b}[2Jand cake")));
    assert_invalid(&error, "the note holds a control character");
    let error = refused(&mut volunteer, |e| e.decline(&OrderId::parse("o-1").unwrap(), &"x".repeat(201)));
    assert_invalid(&error, "the reason has 201 characters; a reason has at most 200");
    let error = refused(&mut volunteer, |e| e.decline(&OrderId::parse("o-1").unwrap(), "away\nall week"));
    assert_invalid(&error, "write it on one line");

    let mut elder = Device::create(ELDER, Role::Elder);
    let error = refused(&mut elder, |e| e.place_order(None, "meals", &long_note));
    assert_invalid(&error, "a note has at most 500");

    let mut coordinator = Device::create(COORDINATOR, Role::Coordinator);
    let visit = VisitId::generate();
    let error = refused(&mut coordinator, |e| e.review_visit(&visit, ReviewDecision::Reject, &"x".repeat(201)));
    assert_invalid(&error, "a reason has at most 200");
}

#[test]
fn a_coordinators_phone_dispatches_open_orders_to_volunteers_only() {
    let mut volunteer = Device::volunteer();
    let other_elder = Device::create(OTHER_ELDER, Role::Elder);
    let mut coordinator = Device::create(COORDINATOR, Role::Coordinator);
    carry(&member_doc(VOLUNTEER), &volunteer, &mut coordinator);
    carry(&member_doc(OTHER_ELDER), &other_elder, &mut coordinator);
    let order = coordinator.place_order(Some(&member(ELDER)), "meals", "").unwrap();

    let error = refused(&mut coordinator, |e| e.dispatch(&order, &member(OTHER_ELDER)));
    assert_invalid(&error, &format!("{OTHER_ELDER} is registered as elder, not as a volunteer"));
    let error = refused(&mut coordinator, |e| e.dispatch(&order, &member(OTHER_VOLUNTEER)));
    assert_invalid(&error, &format!("{OTHER_VOLUNTEER} is not a member known here"));
    let error = refused(&mut coordinator, |e| e.dispatch(&order, &member(ELDER)));
    assert_invalid(&error, "cannot be dispatched to serve their own order");

    // Accepted: the volunteer goes; it is not dispatched again.
    coordinator.dispatch(&order, &member(VOLUNTEER)).unwrap();
    carry(&member_doc(VOLUNTEER), &coordinator, &mut volunteer);
    volunteer.accept(&order).unwrap();
    carry(&member_doc(VOLUNTEER), &volunteer, &mut coordinator);
    let error = refused(&mut coordinator, |e| e.dispatch(&order, &member(VOLUNTEER)));
    assert_invalid(&error, &format!("order {order} is accepted; only a requested, dispatched or declined order can be dispatched"));

    // Cancelled: not dispatched again; cancelling again writes nothing.
    coordinator.cancel_order(&order).unwrap();
    let error = refused(&mut coordinator, |e| e.dispatch(&order, &member(VOLUNTEER)));
    assert_invalid(&error, &format!("order {order} is cancelled"));
    let before = seen(&coordinator);
    coordinator.cancel_order(&order).unwrap();
    assert_eq!(seen(&coordinator), before, "a second cancellation changes nothing");
}
