//! Convergence: phones of the same member work offline, each on its own, then exchange
//! their member document in any order; every phone ends with the same document and
//! shows the same visits, requests and balance, and nothing anyone saved is lost.

use std::collections::BTreeSet;

use chrono::Duration;
use proptest::prelude::*;
use timebank_engine::model::{ConfirmedBy, Role, SpendRequest, Visit, VisitId};
use timebank_engine::{Engine, Error, PastVisit};

use crate::support::{Device, VOLUNTEER, clock_at_base, member, member_doc};

/// Elders a visit may be logged for; the last is the volunteer themself (refused).
const ELDERS: &[&str] = &["e-2001", "e-2002", VOLUNTEER];
/// Services a visit may name; the last two are refused (redeemable, unknown).
const VISIT_SERVICES: &[&str] = &["companionship", "meals", "housekeeping", "karaoke"];
/// Services a redemption may name; the last is refused (volunteers give it).
const REDEEM_SERVICES: &[&str] = &["housekeeping", "tcm-physiotherapy", "meals"];
/// Members a gift may go to; the last is the volunteer themself (refused).
const GIFT_TO: &[&str] = &["v-1002", "e-2001", VOLUNTEER];

/// One thing a volunteer does on one phone while offline.
#[derive(Clone, Debug)]
enum Op {
    /// Check in now.
    Start { elder: usize, service: usize },
    /// Wait, then check out of the `pick`-th visit in the list (one past the end: an
    /// unknown visit), now or `back` minutes ago.
    End { pick: usize, wait: i64, back: Option<i64> },
    /// Log a paper visit.
    Paper { elder: usize, service: usize, days_ago: i64, length: i64 },
    /// The elder or family confirms the `pick`-th visit.
    Confirm { pick: usize, family: bool },
    /// Ask to redeem.
    Redeem { service: usize, minutes: i64 },
    /// Ask to give coins.
    Gift { to: usize, minutes: i64 },
    /// Time passes.
    Wait { minutes: i64 },
}

/// An index into `choices` whose last `refused` entries the engine refuses; the others
/// are picked four times as often, so most operations succeed.
fn choice(choices: &'static [&'static str], refused: usize) -> impl Strategy<Value = usize> {
    let valid = choices.len() - refused;
    prop_oneof![4 => 0..valid, 1 => valid..choices.len()]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (choice(ELDERS, 1), choice(VISIT_SERVICES, 2)).prop_map(|(elder, service)| Op::Start { elder, service }),
        3 => (0usize..6, 0i64..600, proptest::option::of(0i64..120))
            .prop_map(|(pick, wait, back)| Op::End { pick, wait, back }),
        2 => (choice(ELDERS, 1), choice(VISIT_SERVICES, 2), 0i64..35, -10i64..600)
            .prop_map(|(elder, service, days_ago, length)| Op::Paper { elder, service, days_ago, length }),
        2 => (0usize..6, any::<bool>()).prop_map(|(pick, family)| Op::Confirm { pick, family }),
        1 => (choice(REDEEM_SERVICES, 1), -30i64..240).prop_map(|(service, minutes)| Op::Redeem { service, minutes }),
        1 => (choice(GIFT_TO, 1), -30i64..240).prop_map(|(to, minutes)| Op::Gift { to, minutes }),
        1 => (1i64..240).prop_map(|minutes| Op::Wait { minutes }),
    ]
}

/// A whole scenario: how the phones start, what each does, and how they exchange.
#[derive(Clone, Debug)]
struct Scenario {
    /// Whether phones B and C start from phone A's member document (shared history) or
    /// each create the document on their own.
    shared_start: bool,
    /// Two or three phones.
    phones: usize,
    /// What each phone does before any exchange.
    first: Vec<Vec<Op>>,
    /// Exchanges (from, to) while some phones are still working.
    early: Vec<(usize, usize)>,
    /// What each phone does after the early exchanges.
    second: Vec<Vec<Op>>,
    /// The final exchange: every ordered pair once, in this order ...
    last: Vec<(usize, usize)>,
    /// ... repeated this many times.
    rounds: usize,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let ops = || proptest::collection::vec(proptest::collection::vec(op(), 0..6), 3);
    let pairs: Vec<(usize, usize)> = (0..3).flat_map(|from| (0..3).filter(move |to| *to != from).map(move |to| (from, to))).collect();
    (
        any::<bool>(),
        2usize..=3,
        ops(),
        proptest::collection::vec((0usize..3, 0usize..3), 0..4),
        ops(),
        Just(pairs).prop_shuffle(),
        1usize..=2,
    )
        .prop_map(|(shared_start, phones, first, early, second, last, rounds)| Scenario {
            shared_start,
            phones,
            first,
            early,
            second,
            last,
            rounds,
        })
}

/// What a phone shows of the member document, with the parts that differ by design
/// between phones left out (whether a change is still waiting on *this* phone).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Shown {
    heads: Vec<String>,
    visits: Vec<(Visit, Option<u32>)>,
    requests: Vec<SpendRequest>,
    pending_minutes: i64,
    reserved_minutes: i64,
    open_visits: usize,
}

fn shown(engine: &Engine) -> Shown {
    let mut heads: Vec<String> = engine.heads(&member_doc(VOLUNTEER)).iter().map(ToString::to_string).collect();
    heads.sort();
    let balance = engine.balance();
    Shown {
        heads,
        visits: engine.visits().unwrap().into_iter().map(|v| (v.visit, v.minutes)).collect(),
        requests: engine.requests().unwrap().into_iter().map(|r| r.request).collect(),
        pending_minutes: balance.pending_minutes,
        reserved_minutes: balance.reserved_minutes,
        open_visits: engine.status().unwrap().open_visits,
    }
}

/// What a successful operation created.
#[derive(Default)]
struct Created {
    visits: BTreeSet<String>,
    requests: BTreeSet<String>,
}

fn pick_visit(engine: &Engine, pick: usize) -> VisitId {
    let visits = engine.visits().unwrap();
    visits.get(pick % (visits.len() + 1)).map_or_else(|| VisitId::parse("v-unknown").unwrap(), |v| v.visit.id.clone())
}

/// Applies `op` on `phone`. A refused operation must leave the phone as it was.
fn apply(phone: &mut Device, op: &Op, created: &mut Created) -> Result<(), TestCaseError> {
    let before = shown(phone);
    let result: Result<(), Error> = match op {
        Op::Start { elder, service } => phone.start_visit(&member(ELDERS[*elder]), VISIT_SERVICES[*service], None).map(|id| {
            created.visits.insert(id.to_string());
        }),
        Op::End { pick, wait, back } => {
            let id = pick_visit(phone, *pick);
            phone.wait_minutes(*wait);
            let at = back.map(|b| phone.now() - Duration::minutes(b));
            phone.end_visit(&id, at, Some("done")).map(drop)
        }
        Op::Paper { elder, service, days_ago, length } => {
            let start = phone.now() - Duration::days(*days_ago) - Duration::hours(10);
            let past = PastVisit {
                elder: member(ELDERS[*elder]),
                service: VISIT_SERVICES[*service].into(),
                order: None,
                start,
                end: start + Duration::minutes(*length),
                note: String::new(),
            };
            phone.log_visit(&past).map(|id| {
                created.visits.insert(id.to_string());
            })
        }
        Op::Confirm { pick, family } => {
            let id = pick_visit(phone, *pick);
            let by = if *family { ConfirmedBy::Family } else { ConfirmedBy::Elder };
            phone.confirm_visit(&id, by).map(drop)
        }
        Op::Redeem { service, minutes } => phone.request_redemption(REDEEM_SERVICES[*service], *minutes).map(|id| {
            created.requests.insert(id.to_string());
        }),
        Op::Gift { to, minutes } => phone.request_gift(&member(GIFT_TO[*to]), *minutes).map(|id| {
            created.requests.insert(id.to_string());
        }),
        Op::Wait { minutes } => {
            phone.wait_minutes(*minutes);
            Ok(())
        }
    };
    if let Err(error) = result {
        prop_assert_eq!(&shown(phone), &before, "refused {:?} ({}) changed the phone", op, error);
    }
    Ok(())
}

/// Sends phone `from`'s member document to phone `to`.
fn exchange(phones: &mut [Device], from: usize, to: usize) -> Result<usize, TestCaseError> {
    let doc = member_doc(VOLUNTEER);
    let bytes = phones[from].document_bytes(&doc).ok_or_else(|| TestCaseError::fail("no member document"))?;
    phones[to].receive_changes(&doc, &bytes).map_err(|e| TestCaseError::fail(format!("merge refused: {e}")))
}

fn run(scenario: &Scenario) -> Result<(), TestCaseError> {
    let n = scenario.phones;
    let mut phones: Vec<Device> =
        (0..n).map(|i| Device::create_with_clock(VOLUNTEER, Role::Volunteer, clock_at_base(&format!("boot-{i}")))).collect();
    let actors: BTreeSet<String> = phones.iter().map(|p| p.identity().device.clone()).collect();
    prop_assert_eq!(actors.len(), n, "every phone has its own actor");
    if scenario.shared_start {
        for to in 1..n {
            exchange(&mut phones, 0, to)?;
        }
    }

    let mut created = Created::default();
    for (i, phone) in phones.iter_mut().enumerate() {
        for op in &scenario.first[i] {
            apply(phone, op, &mut created)?;
        }
    }
    for &(from, to) in &scenario.early {
        let (from, to) = (from % n, to % n);
        if from != to {
            exchange(&mut phones, from, to)?;
        }
    }
    for (i, phone) in phones.iter_mut().enumerate() {
        for op in &scenario.second[i] {
            apply(phone, op, &mut created)?;
        }
    }
    for _ in 0..scenario.rounds {
        for &(from, to) in scenario.last.iter().filter(|(from, to)| *from < n && *to < n) {
            exchange(&mut phones, from, to)?;
        }
    }

    let first = shown(&phones[0]);
    for (i, phone) in phones.iter().enumerate().skip(1) {
        prop_assert_eq!(&shown(phone), &first, "phone {} differs from phone 0", i);
    }
    let visits: BTreeSet<String> = first.visits.iter().map(|(v, _)| v.id.to_string()).collect();
    let requests: BTreeSet<String> = first.requests.iter().map(|r| r.id.to_string()).collect();
    prop_assert_eq!(&visits, &created.visits, "visits were lost or invented");
    prop_assert_eq!(&requests, &created.requests, "requests were lost or invented");

    // Nothing is left to exchange, and what was received is on disk.
    for from in 0..n {
        for to in 0..n {
            if from != to {
                prop_assert_eq!(exchange(&mut phones, from, to)?, 0);
            }
        }
    }
    for (i, phone) in phones.iter_mut().enumerate() {
        phone.reopen();
        prop_assert_eq!(&shown(phone), &first, "phone {} differs after reopening", i);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn phones_of_one_member_converge_whatever_the_order_of_exchange(scenario in scenario()) {
        run(&scenario)?;
    }
}

#[test]
fn phones_that_created_the_document_separately_merge_into_one() {
    // The deterministic genesis: two phones that never met share the document's first
    // change, so their visits land in the same maps instead of in conflicting copies.
    let mut a = Device::volunteer();
    let mut b = Device::create_with_clock(VOLUNTEER, Role::Volunteer, clock_at_base("boot-b"));
    let on_a = a.log_paper(1, 30).unwrap();
    let on_b = b.log_paper(2, 45).unwrap();
    let mut phones = [a, b];
    exchange(&mut phones, 0, 1).unwrap();
    exchange(&mut phones, 1, 0).unwrap();
    for phone in &phones {
        let ids: Vec<VisitId> = phone.visits().unwrap().into_iter().map(|v| v.visit.id).collect();
        assert_eq!(ids, [on_b.clone(), on_a.clone()]);
        assert_eq!(phone.balance().pending_minutes, 75);
    }
    assert_eq!(shown(&phones[0]), shown(&phones[1]));
}

#[test]
fn a_visit_started_on_one_phone_is_checked_out_on_the_other() {
    let mut a = Device::volunteer();
    let b = Device::create_with_clock(VOLUNTEER, Role::Volunteer, clock_at_base("boot-b"));
    let visit = a.start_visit(&member("e-2001"), "meals", None).unwrap();
    let mut phones = [a, b];
    exchange(&mut phones, 0, 1).unwrap();
    // Phone B does not know phone A's monotonic clock: the wall clock measures the visit.
    phones[1].wait_minutes(35);
    let done = phones[1].end_visit(&visit, None, None).unwrap();
    assert_eq!(done.minutes, Some(35));
    assert_eq!(done.visit.monotonic_ms, None);
    // Meanwhile phone A still shows the visit open and refuses a second check-in only there.
    assert_eq!(phones[0].status().unwrap().open_visits, 1);
    exchange(&mut phones, 1, 0).unwrap();
    assert_eq!(phones[0].status().unwrap().open_visits, 0);
    assert_eq!(shown(&phones[0]), shown(&phones[1]));
}
