//! Tests of the pure reconciliation: worked examples, and property tests over random
//! streams of visits, reviews, redemptions, gifts, decisions and corrections from several offline
//! devices merged in random orders.

use std::collections::{BTreeMap, HashSet};

use proptest::prelude::*;
use timebank_engine::documents::ledger;
use timebank_engine::model::{HouseholdId, MemberId, OutcomeStatus, RedemptionAction, ReviewDecision, StationId};

use crate::ledger::document;
use crate::ledger::event::{
    CorrectionEvent, DecisionEvent, Event, EventBody, RequestEvent, RequestWhat, ReversalEvent, ReviewEvent, TransferEvent, VisitEvent,
};
use crate::ledger::posting::{Account, PostingKind};
use crate::ledger::reconcile::Books;
use crate::ledger::rules::StationRules;

pub(super) const MIN: i64 = 60_000;
pub(super) const HOUR: i64 = 60 * MIN;
/// 2026-01-05 00:00 UTC.
pub(super) const T0: i64 = 1_767_571_200_000;

pub(super) fn m(raw: &str) -> MemberId {
    MemberId::parse(raw).unwrap()
}

pub(super) fn station() -> StationId {
    StationId::parse("s-1").unwrap()
}

pub(super) fn household(member: &str) -> Option<HouseholdId> {
    match member {
        "m-v0" | "m-v1" => Some(HouseholdId::parse("h-a").unwrap()),
        "m-e0" => Some(HouseholdId::parse("h-b").unwrap()),
        "m-v2" => Some(HouseholdId::parse("h-b").unwrap()),
        _ => None,
    }
}

pub(super) fn birth_year(member: &str) -> u16 {
    if member == "m-v1" { 1990 } else { 1950 }
}

pub(super) fn visit(id: &str, volunteer: &str, elder: &str, start: i64, minutes: i64, device: &str) -> EventBody {
    EventBody::Visit(VisitEvent {
        id: id.into(),
        volunteer: m(volunteer),
        station: station(),
        elder: m(elder),
        check_in: start,
        check_out: start + minutes * MIN,
        monotonic_ms: None,
        recorded_at: start + minutes * MIN,
        device: device.into(),
        volunteer_household: household(volunteer),
        elder_household: household(elder),
        source: None,
        check_out_recorded_at: None,
        order: None,
    })
}

pub(super) fn review(visit: &str, decision: &str, at: i64) -> EventBody {
    EventBody::Review(ReviewEvent {
        visit: visit.into(),
        station: station(),
        decision: ReviewDecision::parse(decision).unwrap(),
        reason: if decision == "reject" { "the elder was away that day".into() } else { String::new() },
        by: m("m-c"),
        at,
    })
}

pub(super) fn reversal(visit: &str, decision: &str, review_at: i64, at: i64) -> EventBody {
    EventBody::Reversal(ReversalEvent {
        visit: visit.into(),
        station: station(),
        decision: ReviewDecision::parse(decision).unwrap(),
        review_at,
        reason: "approved by mistake".into(),
        by: m("m-c2"),
        at,
    })
}

pub(super) fn request(id: &str, member: &str, what: RequestWhat, minutes: i64, at: i64) -> EventBody {
    EventBody::Request(RequestEvent {
        id: id.into(),
        member: m(member),
        station: station(),
        what,
        minutes,
        created_at: at,
        birth_year: Some(birth_year(member)),
        household: household(member),
        hardship: false,
    })
}

pub(super) fn redeem(id: &str, member: &str, minutes: i64, at: i64) -> EventBody {
    request(id, member, RequestWhat::Redeem { service: "massage".into(), at: None, at_unknown: false }, minutes, at)
}

pub(super) fn gift(id: &str, member: &str, to: &str, minutes: i64, at: i64) -> EventBody {
    let what =
        if to == "pool" { RequestWhat::Donate } else { RequestWhat::Gift { to: m(to), to_household: household(to), to_known: true } };
    request(id, member, what, minutes, at)
}

pub(super) fn decision(request: &str, action: &str, at: i64) -> EventBody {
    EventBody::Decision(DecisionEvent {
        request: request.into(),
        station: station(),
        action: RedemptionAction::parse(action).unwrap(),
        by: m("m-c"),
        at,
    })
}

pub(super) fn correction(id: &str, member: &str, minutes: i64, at: i64) -> EventBody {
    EventBody::Correction(CorrectionEvent {
        id: id.into(),
        station: station(),
        member: m(member),
        minutes,
        reason: "paper record".into(),
        by: m("m-c"),
        at,
    })
}

/// The arrival log: each distinct key once, numbered in arrival order.
fn log(bodies: &[EventBody]) -> Vec<Event> {
    let mut seen = HashSet::new();
    let mut events = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        if seen.insert(body.key()) {
            let seq = i64::try_from(events.len()).unwrap() + 1;
            events.push(Event { seq, received_at: T0 + 10 * 24 * HOUR + i64::try_from(i).unwrap() * MIN, body: body.clone() });
        }
    }
    events
}

fn fold(events: &[Event]) -> Books {
    let mut books = Books::new();
    books.apply_all(events);
    books
}

fn outcome(books: &Books, member: &str, subject: &str) -> (OutcomeStatus, String, i64) {
    let o = books.member_outcomes(&m(member)).get(subject).cloned().unwrap_or_else(|| panic!("no outcome for {subject}"));
    (o.status, o.reason, o.minutes)
}

#[test]
fn an_approved_visit_earns_rounded_minutes_and_a_rejection_reverses_them() {
    let books = fold(&log(&[visit("v-1", "m-v2", "m-e1", T0, 68, "a"), review("v-1", "approve", T0)]));
    assert_eq!(outcome(&books, "m-v2", "v-1"), (OutcomeStatus::Approved, String::new(), 75));
    assert_eq!(books.balance(&Account::Member(m("m-v2"))), 75);
    assert_eq!(books.postings()[0].key().to_string(), "earn:v-1:r1");

    let books =
        fold(&log(&[visit("v-1", "m-v2", "m-e1", T0, 60, "a"), review("v-1", "approve", T0), review("v-1", "reject", T0 + 1)]));
    let (state, reason, _) = outcome(&books, "m-v2", "v-1");
    assert_eq!((state, reason.as_str()), (OutcomeStatus::Rejected, "the elder was away that day"));
    assert_eq!(books.balance(&Account::Member(m("m-v2"))), 0);
    assert_eq!(books.postings().len(), 2, "the earn stays; a reversal undoes it");
    assert_eq!(books.postings()[1].key().to_string(), "reversal:earn:v-1:r1");
    assert_eq!(books.postings()[1].by, Some(m("m-c")));
}

#[test]
fn a_redemption_at_another_station_is_decided_there_and_only_there() {
    let across = StationId::parse("s-2").unwrap();
    let at = |station: StationId| RequestWhat::Redeem { service: "massage".into(), at: Some(station), at_unknown: false };
    let decided_by = |station: StationId| match decision("r-1", "fulfil", T0 + 2) {
        EventBody::Decision(d) => EventBody::Decision(DecisionEvent { station, ..d }),
        other => other,
    };
    let earned = [visit("v-1", "m-v2", "m-e1", T0, 60, "a"), review("v-1", "approve", T0)];
    let asked = request("r-1", "m-v2", at(across.clone()), 45, T0 + 1);
    // The member's own station's decision posts nothing; the giving station's redeems.
    let books = fold(&log(&[earned[0].clone(), earned[1].clone(), asked.clone(), decided_by(station())]));
    assert_eq!(outcome(&books, "m-v2", "r-1").0, OutcomeStatus::Accepted);
    assert_eq!(books.balance(&Account::Held(m("m-v2"))), 45, "still held");
    let books = fold(&log(&[earned[0].clone(), earned[1].clone(), asked.clone(), decided_by(across.clone())]));
    assert_eq!(outcome(&books, "m-v2", "r-1").0, OutcomeStatus::Fulfilled);
    let redeemed = books.postings().iter().find(|p| p.kind == PostingKind::Redeem).unwrap();
    assert_eq!(redeemed.memo.to_string(), "redeemed at station s-2: the service was given");
    assert_eq!(books.member_balance(&m("m-v2")).confirmed_minutes, 15);
    // A station the relay does not know: refused, nothing held.
    let unknown = RequestWhat::Redeem { service: "massage".into(), at: Some(StationId::parse("s-9").unwrap()), at_unknown: true };
    let books = fold(&log(&[earned[0].clone(), earned[1].clone(), request("r-1", "m-v2", unknown, 45, T0 + 1)]));
    let (state, reason, _) = outcome(&books, "m-v2", "r-1");
    assert_eq!(state, OutcomeStatus::Refused);
    assert!(reason.contains("no station s-9"), "{reason}");
    assert_eq!(books.balance(&Account::Held(m("m-v2"))), 0);
}

/// `event` (a review or decision) as written at `station`'s desk.
fn at_desk(station: &str, event: EventBody) -> EventBody {
    let station = StationId::parse(station).unwrap();
    match event {
        EventBody::Review(r) => EventBody::Review(ReviewEvent { station, ..r }),
        EventBody::Decision(d) => EventBody::Decision(DecisionEvent { station, ..d }),
        other => other,
    }
}

#[test]
fn a_move_keeps_the_balance_hands_waiting_visits_over_and_releases_what_the_old_desk_held() {
    let moved = EventBody::Transfer(TransferEvent {
        member: m("m-v2"),
        ordinal: 1,
        from: station(),
        to: StationId::parse("s-2").unwrap(),
        at: T0 + 5 * HOUR,
    });
    let elsewhere = RequestWhat::Redeem { service: "massage".into(), at: Some(StationId::parse("s-3").unwrap()), at_unknown: false };
    let events = log(&[
        visit("v-1", "m-v2", "m-e1", T0, 60, "a"),
        review("v-1", "approve", T0 + HOUR),
        visit("v-2", "m-v2", "m-e1", T0 + 2 * HOUR, 60, "a"),
        redeem("r-1", "m-v2", 30, T0 + 3 * HOUR),
        request("r-2", "m-v2", elsewhere, 15, T0 + 3 * HOUR),
        moved.clone(),
        moved,
        // The old desk decides nothing of theirs any more; the new one reviews what waited.
        review("v-2", "approve", T0 + 6 * HOUR),
        decision("r-1", "fulfil", T0 + 6 * HOUR),
        at_desk("s-2", review("v-2", "approve", T0 + 7 * HOUR)),
        at_desk("s-3", decision("r-2", "fulfil", T0 + 7 * HOUR)),
    ]);
    let books = fold(&events);
    assert_eq!(outcome(&books, "m-v2", "v-1"), (OutcomeStatus::Approved, String::new(), 60), "earned before, kept");
    assert_eq!(outcome(&books, "m-v2", "v-2"), (OutcomeStatus::Approved, String::new(), 60), "approved at the new desk");
    let earned_v2 = books.postings().iter().find(|p| p.subject == "v-2").unwrap();
    assert_eq!(earned_v2.event, 9, "the new desk's review posted it, not the old one's");
    let (state, reason, minutes) = outcome(&books, "m-v2", "r-1");
    assert_eq!((state, minutes), (OutcomeStatus::Released, 30));
    assert!(reason.contains("moved to station s-2"), "{reason}");
    assert_eq!(outcome(&books, "m-v2", "r-2").0, OutcomeStatus::Fulfilled, "a third station's redemption stays its own");
    assert_eq!(books.member_balance(&m("m-v2")).confirmed_minutes, 120 - 15);
    assert_eq!(books.balance(&Account::Held(m("m-v2"))), 0);
    assert_eq!(books.postings().iter().filter(|p| p.kind == PostingKind::Release).count(), 1, "released once");
    // The same log folded again gives the same ledger (the rebuild).
    assert_eq!(fold(&events), books);
}

#[test]
fn a_visit_without_review_earns_nothing_and_anomalies_wait_with_evidence() {
    let books = fold(&log(&[visit("v-1", "m-v2", "m-e1", T0, 60, "a")]));
    assert!(books.postings().is_empty());
    assert!(books.member_outcomes(&m("m-v2")).is_empty(), "a clean visit waits for review as `sent`");

    let books = fold(&log(&[visit("v-1", "m-v2", "m-e1", T0, 60, "a"), visit("v-2", "m-v2", "m-e1", T0 + 30 * MIN, 60, "b")]));
    let (state, reason, _) = outcome(&books, "m-v2", "v-2");
    assert_eq!(state, OutcomeStatus::UnderReview);
    assert!(reason.contains("logged twice, also as v-1"), "{reason}");
    assert!(outcome(&books, "m-v2", "v-1").1.contains("v-2"), "the first one is flagged too");

    let books = fold(&log(&[visit("v-1", "m-v2", "m-e0", T0, 60, "a")]));
    assert!(outcome(&books, "m-v2", "v-1").1.contains("own household"));
}

#[test]
fn a_thousand_visits_at_the_same_hour_each_name_a_few_others() {
    let visits: Vec<EventBody> = (0..1000).map(|i| visit(&format!("v-{i}"), "m-v2", "m-e1", T0, 60, "a")).collect();
    let books = fold(&log(&visits));
    let outcomes = books.member_outcomes(&m("m-v2"));
    assert_eq!(outcomes.len(), 1000, "every visit is under review");
    for (subject, outcome) in outcomes {
        assert_eq!(outcome.status, OutcomeStatus::UnderReview, "{subject}");
        let reasons = outcome.reason.split("; ").count();
        assert!((1..=crate::ledger::anomaly::MAX_REASONS).contains(&reasons), "{subject}: {}", outcome.reason);
    }
    // The first visit names the later ones that overlap it, the last the first it overlaps.
    assert!(outcome(&books, "m-v2", "v-0").1.contains("overlaps visit v-1"));
    assert_eq!(outcome(&books, "m-v2", "v-999").1.split("; ").count(), crate::ledger::anomaly::MAX_OVERLAPS_NAMED);
}

#[test]
fn the_daily_cap_overflows_to_the_station_pool() {
    let books = fold(&log(&[
        visit("v-1", "m-v2", "m-e1", T0, 90, "a"),
        review("v-1", "approve", T0),
        visit("v-2", "m-v2", "m-e1", T0 + 2 * HOUR, 60, "a"),
        review("v-2", "approve", T0),
    ]));
    assert_eq!(books.balance(&Account::Member(m("m-v2"))), 120);
    assert_eq!(books.balance(&Account::Pool(station())), 30);
    let (_, reason, minutes) = outcome(&books, "m-v2", "v-2");
    assert_eq!(minutes, 30);
    assert!(reason.contains("30 min over the daily cap"), "{reason}");
}

#[test]
fn two_offline_redemptions_that_overdraw_are_decided_by_arrival() {
    let earn = [visit("v-1", "m-v0", "m-e1", T0, 120, "a"), review("v-1", "approve", T0)];
    let first = redeem("r-1", "m-v0", 90, T0 + 5 * HOUR);
    let second = redeem("r-2", "m-v0", 60, T0 + 4 * HOUR);
    for (a, b) in [(&first, &second), (&second, &first)] {
        let mut bodies = earn.to_vec();
        bodies.extend([a.clone(), b.clone()]);
        let books = fold(&log(&bodies));
        let (EventBody::Request(won), EventBody::Request(lost)) = (a, b) else { unreachable!() };
        assert_eq!(outcome(&books, "m-v0", &won.id).0, OutcomeStatus::Accepted);
        let (state, reason, _) = outcome(&books, "m-v0", &lost.id);
        assert_eq!(state, OutcomeStatus::Refused);
        assert!(reason.contains(&format!("request {} came first", won.id)), "{reason}");
        assert_eq!(books.member_balance(&m("m-v0")).reserved_minutes, won.minutes);
    }
}

#[test]
fn redemptions_are_fulfilled_or_released_and_gated_by_age() {
    let books = fold(&log(&[
        visit("v-1", "m-v0", "m-e1", T0, 120, "a"),
        review("v-1", "approve", T0),
        redeem("r-1", "m-v0", 60, T0),
        redeem("r-2", "m-v0", 30, T0),
        decision("r-1", "fulfil", T0),
        decision("r-2", "release", T0),
    ]));
    assert_eq!(outcome(&books, "m-v0", "r-1").0, OutcomeStatus::Fulfilled);
    assert_eq!(outcome(&books, "m-v0", "r-2").0, OutcomeStatus::Released);
    assert_eq!(books.member_balance(&m("m-v0")).confirmed_minutes, 60);
    assert_eq!(books.balance(&Account::Program), -60);

    let books = fold(&log(&[visit("v-1", "m-v1", "m-e1", T0, 60, "a"), review("v-1", "approve", T0), redeem("r-1", "m-v1", 60, T0)]));
    let (state, reason, _) = outcome(&books, "m-v1", "r-1");
    assert_eq!(state, OutcomeStatus::Refused);
    assert!(reason.contains("from age 65"), "{reason}");
    assert_eq!(books.balance(&Account::Member(m("m-v1"))), 60, "a refused request takes no coins");
}

#[test]
fn a_phone_clock_set_decades_ahead_does_not_pass_the_age_gate() {
    let decades = 60 * 366 * 24 * HOUR;
    let books = fold(&log(&[
        visit("v-1", "m-v1", "m-e1", T0, 60, "a"),
        review("v-1", "approve", T0),
        redeem("r-1", "m-v1", 60, T0 + decades),
    ]));
    let (state, reason, _) = outcome(&books, "m-v1", "r-1");
    assert_eq!(state, OutcomeStatus::Refused);
    assert!(reason.contains("from age 65"), "{reason}");
}

#[test]
fn gifts_go_to_the_household_or_the_pool() {
    let books = fold(&log(&[
        visit("v-1", "m-v0", "m-e1", T0, 120, "a"),
        review("v-1", "approve", T0),
        gift("r-1", "m-v0", "m-v1", 30, T0),
        gift("r-2", "m-v0", "m-v2", 30, T0),
        gift("r-3", "m-v0", "pool", 30, T0),
    ]));
    assert_eq!(outcome(&books, "m-v0", "r-1").0, OutcomeStatus::Accepted);
    assert_eq!(outcome(&books, "m-v0", "r-2").0, OutcomeStatus::Refused);
    assert_eq!(outcome(&books, "m-v0", "r-3").0, OutcomeStatus::Accepted);
    assert_eq!(books.balance(&Account::Member(m("m-v1"))), 30);
    assert_eq!(books.balance(&Account::Pool(station())), 30);
    let lines = books.member_lines(&m("m-v1"));
    assert_eq!((lines[0].1.kind.as_str(), lines[0].1.minutes), ("gift-in", 30));
}

#[test]
fn rules_are_versioned_and_named_in_the_keys() {
    let rules = StationRules { version: 2, round_to_minutes: 30, ..StationRules::default() };
    let books = fold(&log(&[
        EventBody::Rules { station: station(), rules },
        visit("v-1", "m-v2", "m-e1", T0, 50, "a"),
        review("v-1", "approve", T0),
    ]));
    assert_eq!(books.postings()[0].key().to_string(), "earn:v-1:r2");
    assert_eq!(books.postings()[0].minutes, 60);
}

#[test]
fn a_correction_adds_or_takes_back_but_never_below_zero_and_posts_once() {
    let books = fold(&log(&[
        visit("v-1", "m-v2", "m-e1", T0, 60, "a"),
        review("v-1", "approve", T0),
        correction("c-1", "m-v2", 30, T0),
        correction("c-1", "m-v2", 30, T0),
        correction("c-2", "m-v2", -120, T0),
    ]));
    let kinds: Vec<(&str, i64)> = books.postings().iter().map(|p| (p.kind.as_str(), p.minutes)).collect();
    assert_eq!(kinds, [("earn", 60), ("correction", 30), ("correction", 90)]);
    assert_eq!(books.balance(&Account::Member(m("m-v2"))), 0);
    assert!(books.postings()[2].memo.to_string().contains("30 min could not be taken back"), "{}", books.postings()[2].memo);
    assert_eq!(books.postings()[1].by, Some(m("m-c")));
}

#[test]
fn a_reversed_approval_takes_the_coins_back_and_the_visit_waits_again() {
    let approved = [visit("v-1", "m-v2", "m-e1", T0, 90, "a"), review("v-1", "approve", T0)];
    let mut bodies = approved.to_vec();
    bodies.push(reversal("v-1", "approve", T0, T0 + HOUR));
    let books = fold(&log(&bodies));
    let (state, reason, minutes) = outcome(&books, "m-v2", "v-1");
    assert_eq!((state, reason.as_str(), minutes), (OutcomeStatus::UnderReview, "the approval was reversed: approved by mistake", 0));
    assert_eq!(books.balance(&Account::Member(m("m-v2"))), 0);
    let reversal_posting = &books.postings()[1];
    assert_eq!(
        (reversal_posting.key().to_string().as_str(), reversal_posting.minutes, reversal_posting.by.as_ref()),
        ("reversal:earn:v-1:r1", 90, Some(&m("m-c2")))
    );
    assert_eq!(reversal_posting.memo.to_string(), "the approval was reversed: approved by mistake");

    // Approved again: earns again (a second round), once however often it arrives.
    bodies.push(review("v-1", "approve", T0 + 2 * HOUR));
    let books = fold(&log(&bodies));
    assert_eq!(outcome(&books, "m-v2", "v-1"), (OutcomeStatus::Approved, String::new(), 90));
    assert_eq!(books.postings().last().map(|p| p.key().to_string()).as_deref(), Some("earn:v-1:r1:2"));
    let mut replayed = books.clone();
    let again: Vec<Event> = log(&bodies).into_iter().map(|e| Event { seq: e.seq + 100, ..e }).collect();
    replayed.apply_all(&again);
    assert_eq!(replayed.postings(), books.postings(), "the reversed review arriving again earns nothing");

    // A reversal that names another review (one since replaced) changes nothing.
    let mut stale = approved.to_vec();
    stale.push(reversal("v-1", "approve", T0 - 5, T0 + HOUR));
    let books = fold(&log(&stale));
    assert_eq!(outcome(&books, "m-v2", "v-1").0, OutcomeStatus::Approved);
    assert_eq!(books.balance(&Account::Member(m("m-v2"))), 90);
}

#[test]
fn a_reversed_rejection_sends_the_visit_back_to_the_queue() {
    // However the events arrive, the reversal applies to the review it names.
    let books = fold(&log(&[
        reversal("v-1", "reject", T0, T0 + HOUR),
        visit("v-1", "m-v2", "m-e1", T0, 60, "a"),
        review("v-1", "reject", T0),
    ]));
    assert_eq!(outcome(&books, "m-v2", "v-1").0, OutcomeStatus::UnderReview, "a reversal before its review waits for it");
    let books = fold(&log(&[
        visit("v-1", "m-v2", "m-e1", T0, 60, "a"),
        review("v-1", "reject", T0),
        reversal("v-1", "reject", T0, T0 + HOUR),
    ]));
    let (state, reason, _) = outcome(&books, "m-v2", "v-1");
    assert_eq!((state, reason.as_str()), (OutcomeStatus::UnderReview, "the rejection was reversed: approved by mistake"));
    assert!(books.postings().is_empty());
    // Waiting before its visit arrived, review and reversal are folded when it does.
    let books = fold(&log(&[
        review("v-1", "approve", T0),
        reversal("v-1", "approve", T0, T0 + HOUR),
        visit("v-1", "m-v2", "m-e1", T0, 60, "a"),
    ]));
    assert_eq!(outcome(&books, "m-v2", "v-1").0, OutcomeStatus::UnderReview);
    assert_eq!(books.balance(&Account::Member(m("m-v2"))), 0);
}

#[test]
fn an_elders_ledger_follows_the_order_a_visit_served_to_confirmed_and_settled() {
    use crate::ledger::event::ConfirmationEvent;
    use timebank_engine::model::{ConfirmedBy, OrderState};
    let served = |id: &str| {
        let EventBody::Visit(v) = visit(id, "m-v2", "m-e1", T0, 60, "a") else { unreachable!() };
        EventBody::Visit(VisitEvent { order: Some("o-1".into()), ..v })
    };
    let confirmed =
        EventBody::Confirmation(ConfirmationEvent { visit: "v-1".into(), volunteer: m("m-v2"), by: ConfirmedBy::Elder, at: T0 });
    let progress = |bodies: &[EventBody]| fold(&log(bodies)).member_order_progress(&m("m-e1")).get("o-1").copied();
    assert_eq!(progress(&[served("v-1")]), Some(OrderState::Visited));
    assert_eq!(progress(&[served("v-1"), confirmed.clone()]), Some(OrderState::Confirmed));
    assert_eq!(progress(&[confirmed.clone(), served("v-1")]), Some(OrderState::Confirmed), "a confirmation may arrive first");
    let approved = [served("v-1"), confirmed.clone(), review("v-1", "approve", T0)];
    assert_eq!(progress(&approved), Some(OrderState::Settled));
    let mut reversed = approved.to_vec();
    reversed.push(reversal("v-1", "approve", T0, T0 + HOUR));
    assert_eq!(progress(&reversed), Some(OrderState::Confirmed), "a reversed approval settles nothing");
    assert_eq!(fold(&log(&[visit("v-1", "m-v2", "m-e1", T0, 60, "a")])).member_order_progress(&m("m-e1")), BTreeMap::new());
    let books = fold(&log(&approved));
    assert!(books.members().contains(&m("m-e1")), "the elder's ledger document is written");
    assert!(books.member_outcomes(&m("m-e1")).is_empty(), "an order's progress is no outcome");
}

// ----- properties -----

#[derive(Clone, Debug)]
enum Op {
    Visit {
        volunteer: usize,
        elder: usize,
        start_quarter: i64,
        minutes: i64,
    },
    Review {
        visit: usize,
        decision: usize,
    },
    Redeem {
        member: usize,
        minutes: i64,
    },
    Gift {
        member: usize,
        to: usize,
        minutes: i64,
    },
    Decide {
        request: usize,
        fulfil: bool,
    },
    Correct {
        member: usize,
        minutes: i64,
    },
    /// Reverses the last review generated for a visit (by any device so far).
    Reverse {
        visit: usize,
    },
}

const VOLUNTEERS: [&str; 3] = ["m-v0", "m-v1", "m-v2"];
const ELDERS: [&str; 2] = ["m-e0", "m-e1"];
const TO: [&str; 4] = ["m-v0", "m-v1", "m-v2", "pool"];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3usize, 0..2usize, 0..96i64, -10..600i64)
            .prop_map(|(volunteer, elder, start_quarter, minutes)| Op::Visit { volunteer, elder, start_quarter, minutes }),
        4 => (0..40usize, 0..6usize).prop_map(|(visit, decision)| Op::Review { visit, decision }),
        2 => (0..3usize, 1..200i64).prop_map(|(member, minutes)| Op::Redeem { member, minutes }),
        2 => (0..3usize, 0..4usize, 1..200i64).prop_map(|(member, to, minutes)| Op::Gift { member, to, minutes }),
        1 => (0..20usize, any::<bool>()).prop_map(|(request, fulfil)| Op::Decide { request, fulfil }),
        1 => (0..3usize, -300..300i64)
            .prop_map(|(member, minutes)| Op::Correct { member, minutes: if minutes == 0 { 1 } else { minutes } }),
        1 => (0..40usize).prop_map(|visit| Op::Reverse { visit }),
    ]
}

/// Turns each device's ops into event bodies, then merges the devices in the order
/// `picks` gives (each device keeps its own order, as a phone's outbox does).
fn merged(devices: &[Vec<Op>], picks: &[usize]) -> Vec<EventBody> {
    let mut queues: Vec<Vec<EventBody>> = Vec::new();
    let mut reviewed: BTreeMap<String, (&str, i64)> = BTreeMap::new();
    for (d, ops) in devices.iter().enumerate() {
        let mut bodies = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            let at = T0 + i64::try_from(i).unwrap() * MIN;
            bodies.push(match op {
                Op::Visit { volunteer, elder, start_quarter, minutes } => visit(
                    &format!("v-{d}-{i}"),
                    VOLUNTEERS[*volunteer],
                    ELDERS[*elder],
                    T0 + start_quarter * 15 * MIN,
                    *minutes,
                    &format!("dev{d}"),
                ),
                Op::Review { visit: v, decision: k } => {
                    let target = format!("v-{}-{}", v % devices.len(), v / devices.len());
                    let (decision, review_at) =
                        (["approve", "approve", "approve", "reject", "flag", "approve"][*k], at + i64::try_from(*k).unwrap());
                    reviewed.insert(target.clone(), (decision, review_at));
                    review(&target, decision, review_at)
                }
                Op::Reverse { visit: v } => {
                    let target = format!("v-{}-{}", v % devices.len(), v / devices.len());
                    let (decision, review_at) = reviewed.get(&target).copied().unwrap_or(("approve", at));
                    reversal(&target, decision, review_at, at)
                }
                Op::Redeem { member, minutes } => redeem(&format!("r-{d}-{i}"), VOLUNTEERS[*member], *minutes, at),
                Op::Gift { member, to, minutes } => gift(&format!("r-{d}-{i}"), VOLUNTEERS[*member], TO[*to], *minutes, at),
                Op::Decide { request, fulfil } => decision(
                    &format!("r-{}-{}", request % devices.len(), request / devices.len()),
                    if *fulfil { "fulfil" } else { "release" },
                    at,
                ),
                Op::Correct { member, minutes } => correction(&format!("c-{d}-{i}"), VOLUNTEERS[*member], *minutes, at),
            });
        }
        bodies.reverse();
        queues.push(bodies);
    }
    let mut out = Vec::new();
    let mut pick = picks.iter().cycle();
    while queues.iter().any(|q| !q.is_empty()) {
        let start = *pick.next().unwrap_or(&0) % queues.len();
        let d = (0..queues.len()).map(|k| (start + k) % queues.len()).find(|&k| !queues[k].is_empty()).unwrap_or(0);
        if let Some(body) = queues[d].pop() {
            out.push(body);
        }
    }
    out
}

fn check_invariants(books: &Books) -> Result<(), TestCaseError> {
    let mut sums: BTreeMap<Account, i64> = BTreeMap::new();
    let mut keys = HashSet::new();
    for p in books.postings() {
        prop_assert!(p.minutes > 0, "a posting moves a positive amount: {p:?}");
        prop_assert!(keys.insert(p.key().to_string()), "idempotency keys are unique: {}", p.key());
        *sums.entry(p.from.clone()).or_default() -= p.minutes;
        *sums.entry(p.to.clone()).or_default() += p.minutes;
    }
    for (account, balance) in books.balances() {
        prop_assert_eq!(balance, sums.get(account).copied().unwrap_or(0), "balance of {} is the sum of its postings", account);
        if matches!(account, Account::Member(_) | Account::Held(_)) {
            prop_assert!(balance >= 0, "{} went below zero: {}", account, balance);
        }
    }
    prop_assert_eq!(books.balances().values().sum::<i64>(), 0, "double entry: the accounts sum to zero");
    for member in books.members() {
        let lines = books.member_lines(&member);
        let last = lines.last().map_or(0, |(_, l)| l.balance_after);
        prop_assert_eq!(last, books.member_balance(&member).confirmed_minutes);
    }
    Ok(())
}

fn same_ledger(a: &Books, b: &Books) -> Result<(), TestCaseError> {
    prop_assert_eq!(a.postings(), b.postings());
    prop_assert_eq!(a.balances(), b.balances());
    for member in a.members().union(&b.members()) {
        prop_assert_eq!(a.member_outcomes(member), b.member_outcomes(member));
        prop_assert_eq!(a.member_lines(member), b.member_lines(member));
        prop_assert_eq!(a.member_order_progress(member), b.member_order_progress(member));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_offline_streams_keep_the_ledger_sound(
        devices in prop::collection::vec(prop::collection::vec(op(), 0..25), 1..5),
        picks in prop::collection::vec(0..5usize, 1..40),
        chunks in prop::collection::vec(1..8usize, 1..20),
        resend in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
    ) {
        let events = log(&merged(&devices, &picks));
        let rebuilt = fold(&events);
        check_invariants(&rebuilt)?;

        // Incremental: the events arrive in chunks, with syncs that are retried (events
        // the log already holds come back with their sequence number).
        let mut incremental = Books::new();
        let mut at = 0;
        let mut sizes = chunks.iter().cycle();
        let mut resend = resend.iter();
        while at < events.len() {
            let end = (at + sizes.next().copied().unwrap_or(1)).min(events.len());
            incremental.apply_all(&events[at..end]);
            if let Some(index) = resend.next() {
                incremental.apply(&events[index.index(end)]);
            }
            check_invariants(&incremental)?;
            at = end;
        }
        same_ledger(&incremental, &rebuilt)?;

        // Processing the same documents again posts nothing: neither the log's events
        // again, nor what the documents hold now (the latest version of every visit,
        // review, request and decision) under new numbers.
        let before = incremental.clone();
        incremental.apply_all(&events);
        let offset = events.last().map_or(0, |e| e.seq);
        let mut current: BTreeMap<String, Event> = BTreeMap::new();
        for e in &events {
            let subject = e.body.key().split('@').next().unwrap_or_default().to_owned();
            current.insert(subject, Event { seq: e.seq + offset, ..e.clone() });
        }
        let mut again: Vec<Event> = current.into_values().collect();
        again.sort_by_key(|e| e.seq);
        incremental.apply_all(&again);
        same_ledger(&incremental, &before)?;
    }

    #[test]
    fn ledger_documents_written_from_what_changed_say_what_the_books_say(
        devices in prop::collection::vec(prop::collection::vec(op(), 0..25), 1..5),
        picks in prop::collection::vec(0..5usize, 1..40),
        chunks in prop::collection::vec(1..8usize, 1..20),
    ) {
        // Some visits serve an elder's order, so order progress is written too.
        let bodies: Vec<EventBody> = merged(&devices, &picks)
            .into_iter()
            .enumerate()
            .map(|(i, body)| match body {
                EventBody::Visit(v) if i % 2 == 0 => {
                    let order = format!("o-{}-{}", v.elder, i % 3);
                    EventBody::Visit(VisitEvent { order: Some(order), ..v })
                }
                other => other,
            })
            .collect();
        let events = log(&bodies);
        let mut books = Books::new();
        let mut docs: BTreeMap<MemberId, automerge::Automerge> = BTreeMap::new();
        let mut at = 0;
        let mut sizes = chunks.iter().cycle();
        while at < events.len() {
            let end = (at + sizes.next().copied().unwrap_or(1)).min(events.len());
            books.apply_all(&events[at..end]);
            for (member, touched) in books.take_touched() {
                let doc = docs.entry(member.clone()).or_default();
                if let Some((_, written)) = document::update(doc, &books, &member, Some(&touched), 0).unwrap() {
                    *doc = written;
                }
            }
            at = end;
        }
        // Compared whole, each document lacks nothing and says nothing else.
        for member in books.members() {
            let doc = docs.get(&member).cloned().unwrap_or_default();
            prop_assert!(document::update(&doc, &books, &member, None, 0).unwrap().is_none(), "{}'s document lacks entries", member);
            // (The document lists lines by time, the books by posting: the same lines.)
            let by_key = |lines: Vec<(String, ledger::PostingLine)>| lines.into_iter().collect::<BTreeMap<_, _>>();
            prop_assert_eq!(by_key(ledger::postings(&doc)), by_key(books.member_lines(&member)));
            prop_assert_eq!(ledger::outcomes(&doc).into_iter().collect::<BTreeMap<_, _>>(), books.member_outcomes(&member));
            prop_assert_eq!(ledger::balance(&doc), books.member_balance(&member));
        }
    }

    #[test]
    fn concurrent_spends_never_overdraw_and_refused_ones_take_nothing(
        earned in 0..6i64,
        spends in prop::collection::vec((1..240i64, any::<bool>()), 1..8),
        order in Just(()).prop_perturb(|(), mut rng| rng.random::<u64>()),
    ) {
        let mut bodies = Vec::new();
        for k in 0..earned {
            let id = format!("v-{k}");
            bodies.push(visit(&id, "m-v0", "m-e1", T0 + k * 24 * HOUR, 60, "a"));
            bodies.push(review(&id, "approve", T0));
        }
        let mut requests: Vec<EventBody> = spends
            .iter()
            .enumerate()
            .map(|(i, (minutes, is_gift))| {
                let id = format!("r-{i}");
                if *is_gift { gift(&id, "m-v0", "m-v1", *minutes, T0) } else { redeem(&id, "m-v0", *minutes, T0) }
            })
            .collect();
        let n = requests.len();
        for i in 0..n {
            let j = usize::try_from((order >> (i % 16)) % (n as u64)).unwrap_or(0);
            requests.swap(i, j);
        }
        bodies.extend(requests.iter().cloned());
        let books = fold(&log(&bodies));
        check_invariants(&books)?;
        // First in arrival order wins: replay the requests by hand.
        let mut available = earned * 60;
        for body in &requests {
            let EventBody::Request(r) = body else { continue };
            let outcome = books.member_outcomes(&m("m-v0")).get(&r.id).cloned().unwrap();
            if r.minutes <= available {
                prop_assert_eq!(outcome.status, OutcomeStatus::Accepted);
                available -= r.minutes;
            } else {
                prop_assert_eq!(outcome.status, OutcomeStatus::Refused);
                prop_assert!(!books.postings().iter().any(|p| p.subject == r.id));
            }
        }
        prop_assert_eq!(books.balance(&Account::Member(m("m-v0"))), available);
    }
}
