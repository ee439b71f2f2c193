//! Pins what the books say for fixed event streams, to the byte: every posting (key,
//! accounts, minutes, memo), outcome, posting line and balance, and which members each
//! event marks for a new ledger document. The fold is tuned for speed; these tests make
//! sure no tuning changes a coin or a word of it.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use timebank_engine::model::ConfirmedBy;

use crate::ledger::event::{ConfirmationEvent, Event, EventBody};
use crate::ledger::properties::{HOUR, MIN, T0, correction, decision, gift, m, redeem, reversal, review, station, visit};
use crate::ledger::reconcile::Books;
use crate::ledger::rules::StationRules;

/// One way of folding one event into the books.
type Fold = fn(&mut Books, &Event);

/// The two ways into the fold: events lent ([`Books::apply`], as the relay folds each
/// write's) and events handed over ([`Books::apply_owned`], as the full rebuild folds the
/// log). Both must post the same, to the byte.
const FOLDS: [(&str, Fold); 2] =
    [("apply", |books, event| books.apply(event)), ("apply_owned", |books, event| books.apply_owned(event.clone()))];

/// Folds `events` one at a time, the way `fold` does, and writes down everything the books show.
fn render(events: &[Event], fold: Fold) -> String {
    let mut books = Books::new();
    let mut out = String::new();
    for event in events {
        fold(&mut books, event);
        let _ = write!(out, "after {}:", event.seq);
        for member in books.take_dirty() {
            let _ = write!(out, " {member}");
        }
        out.push('\n');
    }
    for p in books.postings() {
        let by = p.by.as_ref().map_or("-", |b| b.as_str());
        let _ = writeln!(
            out,
            "posting {} {} {} -> {} {} for {} by {by} (event {} at {}): {}",
            p.key(),
            p.kind.as_str(),
            p.from,
            p.to,
            p.minutes,
            p.subject,
            p.event,
            p.at,
            p.memo
        );
    }
    for (account, balance) in books.balances() {
        let _ = writeln!(out, "balance {account} {balance}");
    }
    for member in books.members() {
        let balance = books.member_balance(&member);
        let _ = writeln!(out, "member {member}: {} confirmed, {} reserved", balance.confirmed_minutes, balance.reserved_minutes);
        for (subject, o) in books.member_outcomes(&member) {
            let _ = writeln!(out, "  outcome {subject} {} {}: {:?}", o.status.as_str(), o.minutes, o.reason);
        }
        for (order, state) in books.member_order_progress(&member) {
            let _ = writeln!(out, "  order {order} {state:?}");
        }
        for (key, l) in books.member_lines(&member) {
            let _ = writeln!(
                out,
                "  line {key} {} {} -> {} at {}: {} ({})",
                l.kind,
                l.minutes,
                l.balance_after,
                l.at.to_rfc3339(),
                l.memo,
                l.subject
            );
        }
    }
    out
}

/// The arrival log of `bodies`: each key once, received `gap` apart from `first`.
fn arrivals(bodies: &[EventBody], first: i64, gap: i64) -> Vec<Event> {
    let mut seen = std::collections::HashSet::new();
    let mut events = Vec::new();
    for (i, body) in (0_i64..).zip(bodies) {
        if seen.insert(body.key()) {
            let seq = i64::try_from(events.len()).unwrap_or(i64::MAX) + 1;
            events.push(Event { seq, received_at: first + i * gap, body: body.clone() });
        }
    }
    events
}

#[test]
fn a_worked_stream_posts_exactly_these_lines() {
    let rules = StationRules { version: 2, round_to_minutes: 30, daily_cap_minutes: 90, ..StationRules::default() };
    let bodies = [
        review("v-early", "approve", T0),
        visit("v-early", "m-v0", "m-e1", T0, 50, "a"),
        visit("v-1", "m-v2", "m-e1", T0 + 2 * HOUR, 68, "a"),
        review("v-1", "approve", T0 + 4 * HOUR),
        visit("v-2", "m-v2", "m-e1", T0 + 2 * HOUR + 30 * MIN, 60, "b"),
        visit("v-3", "m-v2", "m-e0", T0 + 5 * HOUR, 600, "a"),
        visit("v-3", "m-v2", "m-e0", T0 + 5 * HOUR, 90, "a"),
        review("v-3", "approve", T0 + 7 * HOUR),
        visit("v-1", "m-v2", "m-e1", T0 + 2 * HOUR, 80, "a"),
        review("v-2", "flag", T0 + 8 * HOUR),
        review("v-2", "reject", T0 + 9 * HOUR),
        review("v-2", "approve", T0 + 10 * HOUR),
        review("v-1", "reject", T0 + 11 * HOUR),
        review("v-1", "approve", T0 + 12 * HOUR),
        EventBody::Rules { station: station(), rules },
        visit("v-4", "m-v0", "m-e1", T0 + 30 * HOUR, 200, "c"),
        review("v-4", "approve", T0 + 40 * HOUR),
        decision("r-1", "fulfil", T0 + 41 * HOUR),
        redeem("r-1", "m-v0", 30, T0 + 41 * HOUR),
        redeem("r-2", "m-v0", 45, T0 + 41 * HOUR),
        redeem("r-3", "m-v0", 500, T0 + 41 * HOUR),
        decision("r-2", "release", T0 + 42 * HOUR),
        gift("r-4", "m-v0", "m-v1", 20, T0 + 42 * HOUR),
        gift("r-5", "m-v2", "m-v0", 20, T0 + 42 * HOUR),
        gift("r-6", "m-v2", "pool", 15, T0 + 42 * HOUR),
        correction("c-1", "m-v1", 45, T0 + 43 * HOUR),
        correction("c-2", "m-v1", -500, T0 + 43 * HOUR),
        visit("v-5", "m-v1", "m-e0", T0 + 44 * HOUR, 60, "d"),
    ];
    let expected = "\
after 1:
after 2: m-v0
after 3:
after 4: m-v2
after 5: m-v2
after 6: m-v2
after 7: m-v2
after 8: m-v2
after 9: m-v2
after 10: m-v2
after 11: m-v2
after 12: m-v2
after 13: m-v2
after 14: m-v2
after 15:
after 16:
after 17: m-v0
after 18:
after 19: m-v0
after 20: m-v0
after 21: m-v0
after 22: m-v0
after 23: m-v0 m-v1
after 24: m-v2
after 25: m-v2
after 26: m-v1
after 27: m-v1
after 28:
posting earn:v-early:r1 earn program -> member:m-v0 45 for v-early by m-c (event 1 at 1767733260000): visit to m-e1 on 2026-01-05: 50 min logged, 45 min credited
posting earn:v-1:r1 earn program -> member:m-v2 75 for v-1 by m-c (event 4 at 1767733380000): visit to m-e1 on 2026-01-05: 68 min logged, 75 min credited
posting earn:v-3:r1 earn program -> member:m-v2 45 for v-3 by m-c (event 8 at 1767733620000): visit to m-e0 on 2026-01-05: 90 min logged, 90 min credited
posting overflow:v-3:r1 overflow program -> pool:s-1 45 for v-3 by m-c (event 8 at 1767733620000): 45 min over the daily cap went to the station's donation pool
posting overflow:v-2:r1 overflow program -> pool:s-1 60 for v-2 by m-c (event 12 at 1767733860000): 60 min over the daily cap went to the station's donation pool
posting reversal:earn:v-1:r1 reversal member:m-v2 -> program 75 for v-1 by m-c (event 13 at 1767733920000): the elder was away that day
posting earn:v-1:r1:2 earn program -> member:m-v2 75 for v-1 by m-c (event 14 at 1767733980000): visit to m-e1 on 2026-01-05: 68 min logged, 75 min credited
posting earn:v-4:r2 earn program -> member:m-v0 90 for v-4 by m-c (event 17 at 1767734160000): visit to m-e1 on 2026-01-06: 200 min logged, 210 min credited
posting overflow:v-4:r2 overflow program -> pool:s-1 120 for v-4 by m-c (event 17 at 1767734160000): 120 min over the daily cap went to the station's donation pool
posting reserve:r-1:r2 reserve member:m-v0 -> held:m-v0 30 for r-1 by - (event 19 at 1767734280000): held for the redemption of massage
posting redeem:r-1:r2 redeem held:m-v0 -> program 30 for r-1 by m-c (event 18 at 1767734280000): redeemed: the service was given
posting reserve:r-2:r2 reserve member:m-v0 -> held:m-v0 45 for r-2 by - (event 20 at 1767734340000): held for the redemption of massage
posting release:r-2:r2 release held:m-v0 -> member:m-v0 45 for r-2 by m-c (event 22 at 1767734460000): released: the held coins are back
posting gift:r-4:r2 gift member:m-v0 -> member:m-v1 20 for r-4 by - (event 23 at 1767734520000): gift from m-v0 to m-v1
posting donation:r-6:r2 donation member:m-v2 -> pool:s-1 15 for r-6 by - (event 25 at 1767734640000): gift to the station's donation pool
posting correction:c-1 correction program -> member:m-v1 45 for c-1 by m-c (event 26 at 1767734700000): paper record
posting correction:c-2 correction member:m-v1 -> program 65 for c-2 by m-c (event 27 at 1767734760000): paper record; 435 min could not be taken back (not available)
balance program -430
balance member:m-v0 85
balance member:m-v1 0
balance member:m-v2 105
balance held:m-v0 0
balance pool:s-1 240
member m-v0: 85 confirmed, 0 reserved
  outcome r-1 fulfilled 30: \"\"
  outcome r-2 released 45: \"\"
  outcome r-3 refused 0: \"the balance (60 min) did not cover 500 min when this request reached the station; request r-2 came first\"
  outcome r-4 accepted 20: \"\"
  outcome v-4 approved 90: \"120 min over the daily cap went to the station's donation pool\"
  outcome v-early approved 45: \"\"
  line earn:v-early:r1 earn 45 -> 45 at 2026-01-06T21:01:00+00:00: visit to m-e1 on 2026-01-05: 50 min logged, 45 min credited (v-early)
  line earn:v-4:r2 earn 90 -> 135 at 2026-01-06T21:16:00+00:00: visit to m-e1 on 2026-01-06: 200 min logged, 210 min credited (v-4)
  line overflow:v-4:r2 overflow 0 -> 135 at 2026-01-06T21:16:00+00:00: 120 min over the daily cap went to the station's donation pool (v-4)
  line reserve:r-1:r2 reserve 0 -> 135 at 2026-01-06T21:18:00+00:00: held for the redemption of massage (r-1)
  line redeem:r-1:r2 redeem -30 -> 105 at 2026-01-06T21:18:00+00:00: redeemed: the service was given (r-1)
  line reserve:r-2:r2 reserve 0 -> 105 at 2026-01-06T21:19:00+00:00: held for the redemption of massage (r-2)
  line release:r-2:r2 release 0 -> 105 at 2026-01-06T21:21:00+00:00: released: the held coins are back (r-2)
  line gift:r-4:r2 gift-out -20 -> 85 at 2026-01-06T21:22:00+00:00: gift from m-v0 to m-v1 (r-4)
member m-v1: 0 confirmed, 0 reserved
  line gift:r-4:r2 gift-in 20 -> 20 at 2026-01-06T21:22:00+00:00: gift from m-v0 to m-v1 (r-4)
  line correction:c-1 correction 45 -> 65 at 2026-01-06T21:25:00+00:00: paper record (c-1)
  line correction:c-2 correction -65 -> 0 at 2026-01-06T21:26:00+00:00: paper record; 435 min could not be taken back (not available) (c-2)
member m-v2: 105 confirmed, 0 reserved
  outcome r-5 refused 0: \"coins can be given to relatives in your household or to the station's pool, and m-v0 is not one of them\"
  outcome r-6 accepted 15: \"\"
  outcome v-1 approved 75: \"\"
  outcome v-2 approved 0: \"60 min over the daily cap went to the station's donation pool\"
  outcome v-3 approved 45: \"45 min over the daily cap went to the station's donation pool\"
  line earn:v-1:r1 earn 75 -> 75 at 2026-01-06T21:03:00+00:00: visit to m-e1 on 2026-01-05: 68 min logged, 75 min credited (v-1)
  line earn:v-3:r1 earn 45 -> 120 at 2026-01-06T21:07:00+00:00: visit to m-e0 on 2026-01-05: 90 min logged, 90 min credited (v-3)
  line overflow:v-3:r1 overflow 0 -> 120 at 2026-01-06T21:07:00+00:00: 45 min over the daily cap went to the station's donation pool (v-3)
  line overflow:v-2:r1 overflow 0 -> 120 at 2026-01-06T21:11:00+00:00: 60 min over the daily cap went to the station's donation pool (v-2)
  line reversal:earn:v-1:r1 reversal -75 -> 45 at 2026-01-06T21:12:00+00:00: the elder was away that day (v-1)
  line earn:v-1:r1:2 earn 75 -> 120 at 2026-01-06T21:13:00+00:00: visit to m-e1 on 2026-01-05: 68 min logged, 75 min credited (v-1)
  line donation:r-6:r2 donation -15 -> 105 at 2026-01-06T21:24:00+00:00: gift to the station's donation pool (r-6)
";
    for (name, fold) in FOLDS {
        assert_eq!(render(&arrivals(&bodies, T0 + 45 * HOUR, MIN), fold), expected, "{name}");
    }
}

/// A small deterministic generator (SplitMix64), so the streams never depend on a crate's
/// random numbers.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }

    fn int(&mut self, from: i64, to: i64) -> i64 {
        from + i64::try_from(self.below(u64::try_from(to - from).unwrap_or(1))).unwrap_or(0)
    }

    fn pick<'a>(&mut self, of: &[&'a str]) -> &'a str {
        of[usize::try_from(self.below(of.len() as u64)).unwrap_or(0)]
    }
}

/// Stream `n`: visits (some edited, some overlapping, some too long or ahead of the
/// relay's clock, some serving an order), the elders' confirmations, reviews of visits
/// that exist or not yet and their reversals, redemptions, gifts, decisions, corrections
/// and new rules, in an order the dice decide.
fn stream(n: u64) -> Vec<EventBody> {
    const VOLUNTEERS: [&str; 3] = ["m-v0", "m-v1", "m-v2"];
    let mut dice = Dice(n);
    let mut visits: Vec<(String, &str)> = Vec::new();
    let mut reviews: Vec<(String, &str, i64)> = Vec::new();
    let mut rules = 1;
    let mut bodies = Vec::new();
    for i in 0..150_i64 {
        let at = T0 + i * 20 * MIN;
        let roll = dice.below(100);
        let body = if roll < 35 || visits.is_empty() {
            let id = format!("v-{i}");
            let volunteer = dice.pick(&VOLUNTEERS);
            visits.push((id.clone(), volunteer));
            let device = dice.pick(&["a", "b", "c"]);
            let body = visit(
                &id,
                volunteer,
                dice.pick(&["m-e0", "m-e1", "m-v1"]),
                T0 + dice.int(0, 288) * 15 * MIN,
                dice.int(-10, 600),
                device,
            );
            match body {
                EventBody::Visit(v) if dice.below(4) == 0 => {
                    EventBody::Visit(crate::ledger::event::VisitEvent { order: Some(dice.pick(&["o-1", "o-2"]).into()), ..v })
                }
                other => other,
            }
        } else if roll < 40 {
            let (id, volunteer) = visits[usize::try_from(dice.below(visits.len() as u64)).unwrap_or(0)].clone();
            EventBody::Confirmation(ConfirmationEvent { visit: id, volunteer: m(volunteer), by: ConfirmedBy::Elder, at })
        } else if roll < 43 && !reviews.is_empty() {
            let (id, decision, review_at) = reviews[usize::try_from(dice.below(reviews.len() as u64)).unwrap_or(0)].clone();
            reversal(&id, decision, review_at, at + 1)
        } else if roll < 45 {
            let (id, volunteer) = visits[usize::try_from(dice.below(visits.len() as u64)).unwrap_or(0)].clone();
            visit(&id, volunteer, "m-e0", T0 + dice.int(0, 288) * 15 * MIN, dice.int(1, 200), "a")
        } else if roll < 65 {
            let (id, decision, review_at) =
                (format!("v-{}", dice.int(0, i + 5)), dice.pick(&["approve", "approve", "reject", "flag"]), at + dice.int(0, 3));
            reviews.push((id.clone(), decision, review_at));
            review(&id, decision, review_at)
        } else if roll < 74 {
            redeem(&format!("r-{i}"), dice.pick(&VOLUNTEERS), dice.int(1, 200), at)
        } else if roll < 82 {
            gift(&format!("r-{i}"), dice.pick(&VOLUNTEERS), dice.pick(&["m-v0", "m-v1", "m-v2", "pool"]), dice.int(1, 200), at)
        } else if roll < 90 {
            decision(&format!("r-{}", dice.int(0, i + 5)), dice.pick(&["fulfil", "release"]), at)
        } else if roll < 96 {
            let minutes = dice.int(-300, 300);
            correction(&format!("c-{i}"), dice.pick(&VOLUNTEERS), if minutes == 0 { 1 } else { minutes }, at)
        } else {
            rules += 1;
            let terms = StationRules {
                version: rules,
                round_to_minutes: dice.int(1, 31),
                daily_cap_minutes: dice.int(30, 300),
                lifetime_cap_minutes: dice.int(300, 3000),
                max_visit_minutes: dice.int(60, 600),
                ..StationRules::default()
            };
            EventBody::Rules { station: station(), rules: terms }
        };
        bodies.push(body);
    }
    bodies
}

#[test]
fn random_streams_post_exactly_what_they_posted_before() {
    for (name, fold) in FOLDS {
        let mut digest = Sha256::new();
        let mut postings = 0;
        for n in 0..60 {
            // Received a few hours after the visits began, or a month and more later (late).
            let first = if n % 3 == 2 { T0 + 40 * 24 * HOUR } else { T0 + 2 * HOUR };
            let events = arrivals(&stream(n), first, 7 * MIN);
            let rendered = render(&events, fold);
            postings += rendered.lines().filter(|l| l.starts_with("posting ")).count();
            digest.update(rendered.as_bytes());
        }
        let digest = hex::encode(digest.finalize());
        assert_eq!(
            (postings, digest.as_str()),
            (1245, "cd0d37293fef8aa4dacf98ebfe1e1ff9f3445775f01537e036823e00290399d8"),
            "pinned before the fold was tuned for speed ({name})"
        );
    }
}
