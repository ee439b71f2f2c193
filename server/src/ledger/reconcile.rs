//! Reconciliation, pure: [`Books`] folds the arrival-ordered events (visits, reviews,
//! requests, decisions, rules) into postings and outcomes. No I/O, no clock, no
//! randomness: the same events in the same order give the same ledger, so the
//! incremental run (events applied as they arrive) and the full rebuild (all events
//! folded into empty books) agree posting for posting.
//!
//! - A visit waits for a coordinator's review; an anomaly puts it `under-review` with the
//!   evidence. Evidence of presence that failed (a tag's bad MAC, a replayed counter, ...)
//!   is such an anomaly; a visit verified at both ends is approved without a coordinator
//!   where the station's rule says so and no anomaly holds it (ADR 30). Approval earns by
//!   the station's rules (rounding, caps with overflow to the station's pool); a rejection
//!   after approval reverses what was earned. A coordinator's reversal of the approval (or
//!   of a rejection) puts the visit back under review with the reason, and an approval's
//!   earnings are reversed.
//! - Redemptions and gifts are taken in arrival order: accepted if the balance covers
//!   them at that point (first wins), refused with the reason otherwise; a refused
//!   request takes no coins. An accepted redemption holds its coins until a coordinator
//!   fulfils or releases it.
//! - A member's move to another station keeps their accounts as they are; what was open at
//!   the old station's desk moves or closes with it (ADR 42): a visit waiting for review
//!   waits at the new station, a redemption held at the old one is released.
//! - Every posting has an idempotency key; an event applied twice posts nothing.

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Utc};
use foldhash::{HashMap, HashSet};
use smol_str::SmolStr;
use timebank_engine::documents::ledger::{LedgerBalance, Outcome, PostingLine};
use timebank_engine::model::{MemberId, OrderState, OutcomeStatus, RedemptionAction, ReviewDecision, StationId, VerifiedVisits};

use crate::ledger::anomaly::{self, Anomaly};
use crate::ledger::event::{
    ConfirmationEvent, CorrectionEvent, DecisionEvent, Event, EventBody, RequestEvent, RequestWhat, ReversalEvent, ReviewEvent,
    TransferEvent, VisitEvent,
};
use crate::ledger::evidence::{EvidenceBook, EvidenceState};
use crate::ledger::positions::Positions;
use crate::ledger::posting::{Account, KeyText, Memo, Posting, PostingKey, PostingKind};
use crate::ledger::rules::{Cap, Credit, StationRules};
use crate::ledger::visits::{Named, Visits};

/// What was earned for one approval of a visit: its postings named by their place in
/// [`Books::postings`] (their keys are there, not copied per visit).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Earned {
    earn_posting: Option<usize>,
    earn: i64,
    overflow_posting: Option<usize>,
    overflow: i64,
    day: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct VisitState {
    /// The version the ledger follows (the reviewed one, once reviewed).
    event: VisitEvent,
    review: Option<ReviewEvent>,
    earned: Option<Earned>,
    rejected: bool,
    approvals: u32,
    anomalies: Vec<String>,
    /// The reviews reversed (decision, time): one arriving again stays reversed.
    reversed: Vec<(ReviewDecision, i64)>,
    /// The elder or family confirmed it.
    confirmed: bool,
    /// What the volunteer's ledger says of it, once it says anything (kept with the visit,
    /// not in a table per member: a district-year has a million).
    outcome: Option<Outcome>,
    /// The station whose desk decides it: where it was given, or, when its volunteer has
    /// moved since and it still waits, the station they moved to (ADR 42).
    desk: StationId,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RequestStatus {
    Accepted,
    Refused,
    Settled,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct RequestState {
    event: RequestEvent,
    status: RequestStatus,
    version: u32,
}

impl Named for VisitState {
    fn id(&self) -> &str {
        &self.event.id
    }
}

/// One volunteer's visits ordered by start (then by their place in the books' visits), so
/// the overlap check looks only at the visits that can overlap a new one: the cost of a
/// visit does not grow with the history.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct VisitIndex {
    by_start: BTreeSet<(i64, usize)>,
    /// The longest interval indexed: no visit starting earlier than a new one's start
    /// minus this can overlap it.
    longest: i64,
}

impl VisitIndex {
    /// Indexes `visit`, kept at `position`.
    fn insert(&mut self, visit: &VisitEvent, position: usize) {
        let (start, stop) = visit.interval();
        self.by_start.insert((start, position));
        self.longest = self.longest.max(stop - start);
    }

    fn remove(&mut self, visit: &VisitEvent, position: usize) {
        self.by_start.remove(&(visit.interval().0, position));
    }

    /// Places of the indexed visits whose start lies where they could overlap `[start, stop)`.
    fn near(&self, start: i64, stop: i64) -> impl Iterator<Item = usize> + '_ {
        let from = start.saturating_sub(self.longest);
        self.by_start.range((from, 0)..(stop.max(from), 0)).map(|&(_, position)| position)
    }
}

/// The ledger as folded so far: postings, balances, outcomes, and what reconciliation
/// needs to remember (visits per volunteer, earnings per day, accepted requests).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Books {
    last_seq: i64,
    postings: Vec<Posting>,
    /// Where each posting key is in `postings` (each kept once, in its posting).
    posting_keys: Positions,
    // What the fold only looks up by key is hashed (no map's order reaches the books), with
    // foldhash, seeded per process (ids come from phones): a district-year holds a million
    // visits, and every posting moves two balances.
    balances: HashMap<Account, i64>,
    member_postings: HashMap<MemberId, Vec<usize>>,
    /// Each member's outcomes of requests by id (ordered when read: [`Books::member_outcomes`]);
    /// a visit's outcome is kept with the visit.
    outcomes: HashMap<MemberId, HashMap<SmolStr, Outcome>>,
    rules: BTreeMap<StationId, StationRules>,
    visits: Visits<VisitState>,
    volunteer_visits: HashMap<MemberId, VisitIndex>,
    reviews_waiting: HashMap<SmolStr, (ReviewEvent, i64, i64)>,
    /// Reversals whose review has not arrived (out of order), by visit.
    reversals_waiting: HashMap<String, Vec<(ReversalEvent, i64, i64)>>,
    requests: HashMap<String, RequestState>,
    last_accepted: HashMap<MemberId, String>,
    decisions_waiting: HashMap<String, (DecisionEvent, i64, i64)>,
    /// Corrections folded, posted or not: one arriving again (a resync, a catch-up) is not
    /// applied again, even when the balance it could not take from has grown since.
    corrections: HashSet<String>,
    /// What each volunteer earned, per day of service and in all (the caps).
    earned: HashMap<MemberId, Earnings>,
    /// Confirmations of visits that have not arrived yet.
    confirmations_waiting: HashSet<String>,
    /// Each order a visit served: its elder and those visits.
    orders: HashMap<String, (MemberId, BTreeSet<String>)>,
    /// How far each elder's orders were served, for the elder's ledger document.
    order_progress: BTreeMap<MemberId, BTreeMap<String, OrderState>>,
    /// The station each member who moved moved to last.
    moved_to: BTreeMap<MemberId, StationId>,
    /// Evidence of presence: the tags' accepted taps and each visit's state.
    presence: EvidenceBook,
    /// The members whose ledger changed since last taken, and what changed.
    dirty: BTreeMap<MemberId, Touched>,
    /// Set while the full rebuild folds: nothing is noted in `dirty` (every member's
    /// document is looked at after a rebuild, and a million visits' ids noted there would
    /// cost the rebuild more than the rest of its bookkeeping).
    untracked: bool,
}

/// What changed in one member's ledger since the books last said ([`Books::take_touched`]),
/// so their `ledger/<member>` document is brought up to date by looking at those entries
/// only, not at the member's whole history.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Touched {
    /// The member's first new posting line (their lines before it were there already).
    pub lines_from: Option<usize>,
    /// Visits and requests whose outcome changed.
    pub outcomes: BTreeSet<String>,
    /// Orders (of an elder) whose progress changed.
    pub orders: BTreeSet<String>,
}

/// What one volunteer earned: per day of service (the station's day number) and in all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Earnings {
    by_day: HashMap<i64, i64>,
    total: i64,
}

/// When and why a posting is made: the event that caused it.
#[derive(Clone, Copy)]
struct Cause {
    seq: i64,
    at: i64,
}

impl Books {
    /// Empty books.
    pub fn new() -> Books {
        Books::default()
    }

    /// Empty books that note no changes ([`Books::take_touched`] says nothing) until
    /// [`Books::track_changes`]: for the full rebuild, after which every member's document
    /// is looked at anyway.
    pub fn untracked() -> Books {
        Books { untracked: true, ..Books::default() }
    }

    /// Makes room at once for what folding a log of about `events` events holds, so a
    /// full rebuild does not grow (copy and fault in again) its largest tables as it goes.
    /// Most events of a year are visits and their reviews: about half of them are visits,
    /// each with its earning.
    pub fn reserve(&mut self, events: usize) {
        let visits = events / 2;
        self.postings.reserve(visits);
        let postings = &self.postings;
        self.posting_keys.reserve(visits, |i| postings[i].key());
        self.visits.reserve(visits);
    }

    /// From now on, notes what changes for [`Books::take_touched`].
    pub fn track_changes(&mut self) {
        self.untracked = false;
    }

    /// Folds `events` in order (see [`Books::apply`]).
    pub fn apply_all<'a>(&mut self, events: impl IntoIterator<Item = &'a Event>) {
        for event in events {
            self.apply(event);
        }
    }

    /// Folds one event. Events at or below the last sequence number applied are replays
    /// and change nothing.
    pub fn apply(&mut self, event: &Event) {
        let Some(cause) = self.next(event) else { return };
        match &event.body {
            EventBody::Rules { station, rules } => {
                if self.rules.get(station).is_none_or(|current| rules.version > current.version) {
                    self.rules.insert(station.clone(), rules.clone());
                }
            }
            EventBody::Visit(visit) => {
                self.visit(Cow::Borrowed(visit), cause);
                self.settle_evidence(&visit.id, cause);
            }
            EventBody::Evidence(evidence) => {
                self.presence.apply(evidence);
                self.settle_evidence(&evidence.visit, cause);
            }
            EventBody::Confirmation(confirmation) => self.confirmation(confirmation),
            EventBody::Review(review) => self.review_arrived(Cow::Borrowed(review), cause),
            EventBody::Reversal(reversal) => self.reversal(reversal, cause),
            EventBody::Request(request) => self.request(request, cause),
            EventBody::Correction(correction) => self.correction(correction, cause),
            EventBody::Transfer(transfer) => self.transfer(transfer, cause),
            EventBody::Decision(decision) => {
                if self.requests.contains_key(&decision.request) {
                    self.decision(decision, cause);
                } else {
                    self.decisions_waiting.insert(decision.request.clone(), (decision.clone(), cause.seq, cause.at));
                }
            }
        }
    }

    /// Folds one event as [`Books::apply`] does, keeping what it can of it instead of a copy
    /// (a visit is kept as it came): the full rebuild hands over the events it decoded.
    pub fn apply_owned(&mut self, event: Event) {
        if !matches!(event.body, EventBody::Visit(_) | EventBody::Review(_)) {
            return self.apply(&event);
        }
        let Some(cause) = self.next(&event) else { return };
        match event.body {
            EventBody::Visit(visit) => {
                let id = visit.id.clone();
                self.visit(Cow::Owned(visit), cause);
                self.settle_evidence(&id, cause);
            }
            EventBody::Review(review) => self.review_arrived(Cow::Owned(review), cause),
            _ => {}
        }
    }

    /// A review: decided now if its visit arrived, else kept until it does.
    fn review_arrived(&mut self, review: Cow<'_, ReviewEvent>, cause: Cause) {
        if self.visits.contains_key(&review.visit) {
            self.review(review, cause);
        } else {
            self.reviews_waiting.insert(review.visit.clone(), (review.into_owned(), cause.seq, cause.at));
        }
    }

    /// Why `event` posts what it posts ([`Cause`]), and it now the last applied; `None` for
    /// a replay (at or below the last sequence number applied), which changes nothing.
    fn next(&mut self, event: &Event) -> Option<Cause> {
        if event.seq <= self.last_seq {
            return None;
        }
        self.last_seq = event.seq;
        Some(Cause { seq: event.seq, at: event.received_at })
    }

    /// The sequence number of the last event applied.
    pub fn last_seq(&self) -> i64 {
        self.last_seq
    }

    /// Every posting, in the order posted.
    pub fn postings(&self) -> &[Posting] {
        &self.postings
    }

    /// The balance of `account`.
    pub fn balance(&self, account: &Account) -> i64 {
        self.balances.get(account).copied().unwrap_or(0)
    }

    /// Every account with a posting, and its balance, in account order.
    pub fn balances(&self) -> BTreeMap<&Account, i64> {
        self.balances.iter().map(|(account, balance)| (account, *balance)).collect()
    }

    /// The rules in force at every station that has its own.
    pub fn all_rules(&self) -> &BTreeMap<StationId, StationRules> {
        &self.rules
    }

    /// The rules of `station` (the defaults until it has its own).
    pub fn rules(&self, station: &StationId) -> StationRules {
        self.rules.get(station).cloned().unwrap_or_default()
    }

    /// A member's balance figures: confirmed = spendable + held; reserved = held.
    pub fn member_balance(&self, member: &MemberId) -> LedgerBalance {
        let held = self.balance(&Account::Held(member.clone()));
        LedgerBalance { confirmed_minutes: self.balance(&Account::Member(member.clone())) + held, reserved_minutes: held }
    }

    /// A member's outcomes, by visit or request id.
    pub fn member_outcomes(&self, member: &MemberId) -> BTreeMap<String, Outcome> {
        let requests = self.outcomes.get(member).into_iter().flatten().map(|(subject, outcome)| (subject.as_str(), outcome));
        let visits = self.visit_outcomes(member).map(|(state, outcome)| (state.id(), outcome));
        requests.chain(visits).map(|(subject, outcome)| (subject.to_owned(), outcome.clone())).collect()
    }

    /// A member's outcome of one visit or request.
    pub fn member_outcome(&self, member: &MemberId, subject: &str) -> Option<&Outcome> {
        let visit = self.visits.get(subject).filter(|state| state.event.volunteer == *member);
        visit.and_then(|state| state.outcome.as_ref()).or_else(|| self.outcomes.get(member)?.get(subject))
    }

    /// The outcomes of the visits `volunteer` gave, with each visit.
    fn visit_outcomes(&self, volunteer: &MemberId) -> impl Iterator<Item = (&VisitState, &Outcome)> {
        let positions = self.volunteer_visits.get(volunteer).into_iter().flat_map(|index| index.by_start.iter());
        positions.filter_map(|&(_, position)| self.visits.at(position)).filter_map(|state| Some((state, state.outcome.as_ref()?)))
    }

    /// How far one of an elder's orders was served.
    pub fn member_order_state(&self, member: &MemberId, order: &str) -> Option<OrderState> {
        self.order_progress.get(member)?.get(order).copied()
    }

    /// How far each of an elder's orders was served, by order id.
    pub fn member_order_progress(&self, member: &MemberId) -> BTreeMap<String, OrderState> {
        self.order_progress.get(member).cloned().unwrap_or_default()
    }

    /// Every member with a posting, an outcome or an order served.
    pub fn members(&self) -> BTreeSet<MemberId> {
        let with_visit_outcomes = self.volunteer_visits.keys().filter(|v| self.visit_outcomes(v).next().is_some());
        self.member_postings
            .keys()
            .chain(self.outcomes.keys())
            .chain(self.order_progress.keys())
            .chain(with_visit_outcomes)
            .cloned()
            .collect()
    }

    /// A member's posting lines as their phone shows them (key, line), oldest first, with
    /// the confirmed balance after each.
    pub fn member_lines(&self, member: &MemberId) -> Vec<(String, PostingLine)> {
        self.member_lines_from(member, 0)
    }

    /// A member's posting lines from their `from`-th on (what [`Touched::lines_from`] names),
    /// with the confirmed balance after each counted from the first.
    pub fn member_lines_from(&self, member: &MemberId, from: usize) -> Vec<(String, PostingLine)> {
        let own = Account::Member(member.clone());
        let held = Account::Held(member.clone());
        let Some(indices) = self.member_postings.get(member) else { return Vec::new() };
        let effect = |i: usize| self.postings[i].effect_on(&own) + self.postings[i].effect_on(&held);
        let mut running: i64 = indices.iter().take(from).map(|&i| effect(i)).sum();
        indices
            .iter()
            .skip(from)
            .map(|&i| {
                let p = &self.postings[i];
                let minutes = effect(i);
                running += minutes;
                let kind = match p.kind {
                    PostingKind::Gift if p.from == own => "gift-out",
                    PostingKind::Gift => "gift-in",
                    other => other.as_str(),
                };
                let line = PostingLine {
                    kind: kind.to_owned(),
                    minutes,
                    balance_after: running,
                    subject: p.subject.to_string(),
                    memo: p.memo.to_string(),
                    at: DateTime::from_timestamp_millis(p.at).unwrap_or_default(),
                };
                (p.key().to_string(), line)
            })
            .collect()
    }

    /// Where `visit`'s evidence of presence stands, if any arrived.
    pub fn evidence(&self, visit: &str) -> Option<&EvidenceState> {
        self.presence.state(visit)
    }

    /// The members whose ledger changed since the last call (their documents need writing).
    pub fn take_dirty(&mut self) -> BTreeSet<MemberId> {
        self.take_touched().into_keys().collect()
    }

    /// The members whose ledger changed since the last call, each with what changed.
    pub fn take_touched(&mut self) -> BTreeMap<MemberId, Touched> {
        std::mem::take(&mut self.dirty)
    }

    // ----- postings and outcomes -----

    /// Posts unless the key was posted before, and says where the posting is in
    /// [`Books::postings`]. `also` names a member whose ledger shows the line though none of
    /// their accounts moves (overflow of their visit).
    #[allow(clippy::too_many_arguments)]
    fn post(
        &mut self,
        key: PostingKey,
        kind: PostingKind,
        from: Account,
        to: Account,
        minutes: i64,
        subject: &str,
        memo: impl Into<Memo>,
        by: Option<&MemberId>,
        cause: Cause,
        also: Option<&MemberId>,
    ) -> Option<usize> {
        let index = self.postings.len();
        let postings = &self.postings;
        if minutes <= 0
            || from == to
            || self.posting_keys.insert_new(KeyText::new(kind, subject, &key), index, |i| postings[i].key()).is_err()
        {
            return None;
        }
        add_to(&mut self.balances, &from, -minutes);
        add_to(&mut self.balances, &to, minutes);
        let named = [from.member(), to.member(), also];
        for (i, member) in named.iter().enumerate() {
            let Some(member) = *member else { continue };
            if named[..i].contains(&Some(member)) {
                continue;
            }
            let lines = match self.member_postings.get_mut(member) {
                Some(indices) => {
                    indices.push(index);
                    indices.len() - 1
                }
                None => {
                    self.member_postings.insert(member.clone(), vec![index]);
                    0
                }
            };
            if !self.untracked {
                touch(&mut self.dirty, member).lines_from.get_or_insert(lines);
            }
        }
        self.postings.push(Posting {
            key,
            kind,
            from,
            to,
            minutes,
            subject: SmolStr::new(subject),
            memo: memo.into(),
            by: by.cloned(),
            event: cause.seq,
            at: cause.at,
        });
        Some(index)
    }

    fn set_outcome(&mut self, member: &MemberId, subject: &str, status: OutcomeStatus, reason: String, minutes: i64) {
        let outcome = Outcome { status, reason, minutes };
        if !self.outcomes.contains_key(member) {
            self.outcomes.insert(member.clone(), HashMap::default());
        }
        let Some(slot) = self.outcomes.get_mut(member) else { return };
        match slot.entry(SmolStr::new(subject)) {
            Entry::Occupied(current) if *current.get() == outcome => return,
            // A visit's outcome changes in place (under review, then approved): its key stays.
            Entry::Occupied(mut current) => *current.get_mut() = outcome,
            Entry::Vacant(slot) => {
                slot.insert(outcome);
            }
        }
        if !self.untracked {
            touch(&mut self.dirty, member).outcomes.insert(subject.to_owned());
        }
    }

    /// Sets the outcome of the visit `visit` the books hold (its volunteer's ledger says it).
    fn set_visit_outcome(&mut self, visit: &str, status: OutcomeStatus, reason: String, minutes: i64) {
        let Some(state) = self.visits.get_mut(visit) else { return };
        let outcome = Outcome { status, reason, minutes };
        if state.outcome.as_ref() == Some(&outcome) {
            return;
        }
        state.outcome = Some(outcome);
        if !self.untracked {
            touch(&mut self.dirty, &state.event.volunteer).outcomes.insert(visit.to_owned());
        }
    }

    // ----- visits -----

    fn visit(&mut self, visit: Cow<'_, VisitEvent>, cause: Cause) {
        if let Some(state) = self.visits.get(&visit.id) {
            if state.event == *visit || state.event.volunteer != visit.volunteer {
                return;
            }
            if state.review.is_some() || state.earned.is_some() {
                // ADR 8: an edit after the review does not change the ledger, which follows
                // the reviewed version; the edit is noted for the coordinators.
                let (status, minutes) = match (&state.earned, state.rejected) {
                    (Some(earned), _) => (OutcomeStatus::Approved, earned.earn),
                    (None, true) => (OutcomeStatus::Rejected, 0),
                    (None, false) => (OutcomeStatus::UnderReview, 0),
                };
                let reason = "edited on the phone after the review; the ledger follows the reviewed version".to_owned();
                self.set_visit_outcome(&visit.id, status, reason, minutes);
                return;
            }
        }
        let rules = self.rules(&visit.station);
        let found = {
            let (start, stop) = visit.interval();
            let mut others: Vec<&VisitEvent> = self
                .volunteer_visits
                .get(&visit.volunteer)
                .into_iter()
                .flat_map(|index| index.near(start, stop))
                .filter_map(|position| self.visits.at(position))
                .filter(|v| !v.rejected && v.event.id != visit.id)
                .map(|v| &v.event)
                .collect();
            // Overlaps are named by start, then id (visits starting together are few).
            others.sort_by(|a, b| (a.interval().0, &a.id).cmp(&(b.interval().0, &b.id)));
            anomaly::detect(&visit, cause.at, &rules, others)
        };
        let mut anomalies: Vec<String> = found.iter().map(Anomaly::reason).collect();
        if let Some(previous) = self.visits.get(&visit.id) {
            // Keep what other visits said of this one (overlapped by a later visit).
            for note in &previous.anomalies {
                if !anomalies.contains(note) && note.starts_with("overlaps") {
                    anomalies.push(note.clone());
                }
            }
        }
        for anomaly in &found {
            if let Anomaly::Overlaps { other } | Anomaly::LoggedTwice { other } = anomaly {
                self.note_anomaly(other, &anomaly_seen_from(anomaly, &visit.id));
            }
        }
        if !self.volunteer_visits.contains_key(&visit.volunteer) {
            self.volunteer_visits.insert(visit.volunteer.clone(), VisitIndex::default());
        }
        // Where the visit is kept: in its own place when it came before.
        let position = self.visits.position(&visit.id).unwrap_or(self.visits.len());
        if let Some(index) = self.volunteer_visits.get_mut(&visit.volunteer) {
            if let Some(previous) = self.visits.at(position) {
                index.remove(&previous.event, position);
            }
            index.insert(&visit, position);
        }
        let reversed = self.visits.get(&visit.id).map(|previous| previous.reversed.clone()).unwrap_or_default();
        let confirmed = self.visits.get(&visit.id).is_some_and(|previous| previous.confirmed)
            | self.confirmations_waiting.remove(visit.id.as_str());
        if let Some(order) = &visit.order {
            let (_, visits) = self.orders.entry(order.clone()).or_insert_with(|| (visit.elder.clone(), BTreeSet::new()));
            visits.insert(visit.id.to_string());
        }
        let held = (!anomalies.is_empty()).then(|| anomalies.join("; "));
        // A visit arriving again keeps what its ledger said of it.
        let outcome = self.visits.get(&visit.id).and_then(|previous| previous.outcome.clone());
        let id = visit.id.clone();
        let desk = self.moved_to.get(&visit.volunteer).unwrap_or(&visit.station).clone();
        // The event is kept as it came when the caller handed it over (the full rebuild).
        let event = visit.into_owned();
        let kept = self.visits.insert(VisitState {
            event,
            review: None,
            earned: None,
            rejected: false,
            approvals: 0,
            anomalies,
            reversed,
            confirmed,
            desk,
            outcome,
        });
        debug_assert_eq!(kept, position, "the visit is kept where it was indexed");
        if let Some(reason) = held {
            self.set_visit_outcome(&id, OutcomeStatus::UnderReview, reason, 0);
        }
        if let Some((review, seq, at)) = self.reviews_waiting.remove(&id) {
            self.review(Cow::Owned(review), Cause { seq, at: at.max(cause.at) });
        }
        self.refresh_order(&id);
    }

    /// The elder's or family's confirmation of a visit of that volunteer (waiting for the
    /// visit when it has not arrived).
    fn confirmation(&mut self, confirmation: &ConfirmationEvent) {
        match self.visits.get_mut(confirmation.visit.as_str()) {
            Some(state) if state.event.volunteer == confirmation.volunteer => state.confirmed = true,
            Some(_) => return,
            None => {
                self.confirmations_waiting.insert(confirmation.visit.clone());
                return;
            }
        }
        self.refresh_order(&confirmation.visit);
    }

    /// Brings the progress of the order `visit` served (if any) to what its visits say: settled
    /// when one is approved, else confirmed when one is, else visited.
    fn refresh_order(&mut self, visit: &str) {
        let Some(order) = self.visits.get(visit).and_then(|s| s.event.order.clone()) else { return };
        let Some((elder, visits)) = self.orders.get(&order) else { return };
        let states: Vec<&VisitState> = visits.iter().filter_map(|v| self.visits.get(v.as_str())).collect();
        let progress = if states.iter().any(|s| s.earned.is_some()) {
            OrderState::Settled
        } else if states.iter().any(|s| s.confirmed) {
            OrderState::Confirmed
        } else {
            OrderState::Visited
        };
        let elder = elder.clone();
        let slot = self.order_progress.entry(elder.clone()).or_default();
        if slot.get(&order) != Some(&progress) {
            if !self.untracked {
                touch(&mut self.dirty, &elder).orders.insert(order.clone());
            }
            slot.insert(order, progress);
        }
    }

    /// What a visit's evidence of presence does to it: failed evidence holds it for review
    /// with the reasons; verified evidence approves it without a coordinator where the
    /// station's rule says so, nothing else holds it and nobody decided it yet.
    fn settle_evidence(&mut self, visit: &str, cause: Cause) {
        let (Some(state), Some(standing)) = (self.presence.state(visit), self.visits.get(visit)) else { return };
        match state {
            EvidenceState::Failed(_) => {
                let note = format!("evidence of presence failed: {}", state.reasons());
                self.note_anomaly(visit, &note);
            }
            EvidenceState::Verified => {
                let rules = self.rules(&standing.event.station);
                let undecided = standing.review.is_none() && standing.earned.is_none() && !standing.rejected;
                if rules.verified_visits == VerifiedVisits::Auto && undecided && standing.anomalies.is_empty() {
                    self.earn(visit, None, cause);
                    if let Some(earned) = self.visits.get(visit).and_then(|state| state.outcome.clone()) {
                        let reason = match earned.reason.as_str() {
                            "" => AUTO_APPROVED.to_owned(),
                            also => format!("{AUTO_APPROVED}; {also}"),
                        };
                        self.set_visit_outcome(visit, earned.status, reason, earned.minutes);
                    }
                }
            }
            EvidenceState::OneEnd | EvidenceState::None => {}
        }
    }

    /// Adds `note` to an undecided visit's evidence, unless it already holds
    /// [`anomaly::MAX_REASONS`] (then it is under review, with reasons enough).
    fn note_anomaly(&mut self, visit: &str, note: &str) {
        let Some(state) = self.visits.get_mut(visit) else { return };
        if state.review.is_some()
            || state.earned.is_some()
            || state.anomalies.len() >= anomaly::MAX_REASONS
            || state.anomalies.iter().any(|n| n == note)
        {
            return;
        }
        state.anomalies.push(note.to_owned());
        let reason = state.anomalies.join("; ");
        self.set_visit_outcome(visit, OutcomeStatus::UnderReview, reason, 0);
    }

    /// A coordinator's review of a visit the books hold; kept as the review the ledger
    /// follows (as it came when the caller handed it over: the full rebuild).
    fn review(&mut self, review: Cow<'_, ReviewEvent>, cause: Cause) {
        let Some(state) = self.visits.get(&review.visit) else { return };
        if state.desk != review.station
            || state.review.as_ref() == Some(&*review)
            || state.reversed.contains(&(review.decision, review.at))
        {
            return;
        }
        let visit = review.visit.as_str();
        let earned = state.earned.is_some();
        let rejected = state.rejected;
        // What follows neither reads nor changes the visit's review, which is kept after it.
        match review.decision {
            ReviewDecision::Approve if !earned => self.earn(visit, Some(&review.by), cause),
            ReviewDecision::Reject => {
                let reason = if review.reason.trim().is_empty() {
                    "rejected by the station's coordinator".to_owned()
                } else {
                    review.reason.clone()
                };
                if earned {
                    self.reverse(visit, &review.by, &reason, cause);
                }
                if let Some(state) = self.visits.get_mut(visit) {
                    state.rejected = true;
                }
                self.set_visit_outcome(visit, OutcomeStatus::Rejected, reason, 0);
            }
            ReviewDecision::Flag if !earned => {
                if let Some(state) = self.visits.get_mut(visit).filter(|_| rejected) {
                    state.rejected = false;
                }
                let reason = if review.reason.trim().is_empty() {
                    "a coordinator is taking a closer look".to_owned()
                } else {
                    review.reason.clone()
                };
                self.set_visit_outcome(visit, OutcomeStatus::UnderReview, reason, 0);
            }
            _ => {}
        }
        let (decision, at) = (review.decision, review.at);
        let visit = review.visit.clone();
        if let Some(state) = self.visits.get_mut(&visit) {
            state.review = Some(review.into_owned());
        }
        let visit = visit.as_str();
        self.refresh_order(visit);
        // A reversal of this review that arrived before it applies now.
        let waiting = self.reversals_waiting.get_mut(visit).and_then(|list| {
            let named = list.iter().position(|(r, _, _)| r.decision == decision && r.review_at == at)?;
            Some(list.remove(named))
        });
        if let Some((reversal, seq, at)) = waiting {
            self.reversal(&reversal, Cause { seq, at: at.max(cause.at) });
        }
    }

    /// A coordinator's reversal of the review the visit's ledger follows (the same decision
    /// made at the same time): an approval's earnings are reversed, a rejection no longer
    /// holds, and the visit waits under review with the reason until a new decision. A
    /// reversal of a review that has not arrived waits for it (so the order of arrival does
    /// not matter); one of a review since replaced, or reversed already, changes nothing.
    fn reversal(&mut self, reversal: &ReversalEvent, cause: Cause) {
        if reversal.decision == ReviewDecision::Flag {
            return;
        }
        let named = (reversal.decision, reversal.review_at);
        let state = self.visits.get(reversal.visit.as_str());
        if state.is_some_and(|s| s.reversed.contains(&named)) {
            return;
        }
        let names_the_review = state
            .and_then(|s| s.review.as_ref())
            .is_some_and(|r| r.decision == reversal.decision && r.at == reversal.review_at && r.station == reversal.station);
        if !names_the_review {
            let waiting = self.reversals_waiting.entry(reversal.visit.clone()).or_default();
            if !waiting.iter().any(|(r, _, _)| r == reversal) {
                waiting.push((reversal.clone(), cause.seq, cause.at));
            }
            return;
        }
        let visit = reversal.visit.clone();
        let reason = reversal_reason(reversal.decision, &reversal.reason);
        if reversal.decision == ReviewDecision::Approve {
            self.reverse(&visit, &reversal.by, &reason, cause);
        }
        if let Some(state) = self.visits.get_mut(visit.as_str()) {
            state.review = None;
            state.rejected = false;
            state.reversed.push((reversal.decision, reversal.review_at));
        }
        self.set_visit_outcome(&visit, OutcomeStatus::UnderReview, reason, 0);
        self.refresh_order(&visit);
    }

    fn earn(&mut self, visit: &str, by: Option<&MemberId>, cause: Cause) {
        let Some(state) = self.visits.get_mut(visit) else { return };
        state.rejected = false;
        state.approvals += 1;
        let round = state.approvals;
        let Some(event) = self.visits.get(visit).map(|state| &state.event) else { return };
        let rules = self.rules(&event.station);
        let day = rules.day_of(event.check_in);
        let Credit { logged: exact, credited, earned: earn, overflow, cap } = self.credit_of(event, &rules);
        let memo = Memo::Visit { elder: event.elder.clone(), check_in: event.check_in, logged: exact, credited };
        let (v, station) = (event.volunteer.clone(), event.station.clone());
        let cap = cap.unwrap_or(Cap::Daily).as_str();
        let earn_posting = self.post(
            PostingKey::ruled(rules.version, round),
            PostingKind::Earn,
            Account::Program,
            Account::Member(v.clone()),
            earn,
            visit,
            memo,
            by,
            cause,
            None,
        );
        // Most visits stay within the caps: no overflow, so no key or memo to write (a
        // posting of nothing posts nothing).
        let overflow_posting = if overflow <= 0 {
            None
        } else {
            self.post(
                PostingKey::ruled(rules.version, round),
                PostingKind::Overflow,
                Account::Program,
                Account::Pool(station),
                overflow,
                visit,
                format!("{overflow} min over the {cap} cap went to the station's donation pool"),
                by,
                cause,
                Some(&v),
            )
        };
        if !self.earned.contains_key(&v) {
            self.earned.insert(v.clone(), Earnings::default());
        }
        if let Some(earnings) = self.earned.get_mut(&v) {
            *earnings.by_day.entry(day).or_insert(0) += earn;
            earnings.total += earn;
        }
        if let Some(state) = self.visits.get_mut(visit) {
            state.earned = Some(Earned { earn_posting, earn, overflow_posting, overflow, day });
        }
        let reason = match (credited, overflow) {
            (0, _) => "the visit has no length to credit".to_owned(),
            (_, 0) => String::new(),
            _ => format!("{overflow} min over the {cap} cap went to the station's donation pool"),
        };
        self.set_visit_outcome(visit, OutcomeStatus::Approved, reason, earn);
    }

    /// What approving `event` now would credit, by its station's `rules` and what its
    /// volunteer earned so far that day and in all.
    fn credit_of(&self, event: &VisitEvent, rules: &StationRules) -> Credit {
        let v = &event.volunteer;
        let earnings = self.earned.get(v);
        let that_day = earnings.and_then(|e| e.by_day.get(&rules.day_of(event.check_in))).copied().unwrap_or(0);
        let in_all = earnings.map_or(0, |e| e.total);
        rules.credit(event.length_ms() / 60_000, that_day, in_all)
    }

    /// What approving visit `visit` now would credit (the version the ledger follows), by
    /// the same computation the approval posts by; `None` for a visit the books do not hold.
    pub fn credit_preview(&self, visit: &str) -> Option<Credit> {
        let state = self.visits.get(visit)?;
        Some(self.credit_of(&state.event, &self.rules(&state.event.station)))
    }

    fn reverse(&mut self, visit: &str, by: &MemberId, reason: &str, cause: Cause) {
        let Some(state) = self.visits.get_mut(visit) else { return };
        let Some(earned) = state.earned.take() else { return };
        let v = state.event.volunteer.clone();
        let station = state.event.station.clone();
        let reversal_of = |posting: Option<usize>, postings: &[Posting]| posting.map(|i| PostingKey::reversal_of(postings[i].key()));
        if let Some(key) = reversal_of(earned.earn_posting, &self.postings) {
            let available = self.balance(&Account::Member(v.clone())).max(0);
            let back = earned.earn.min(available);
            let memo = if back < earned.earn {
                format!("{reason}; {} min already spent could not be taken back", earned.earn - back)
            } else {
                reason.to_owned()
            };
            self.post(
                key,
                PostingKind::Reversal,
                Account::Member(v.clone()),
                Account::Program,
                back,
                visit,
                memo,
                Some(by),
                cause,
                None,
            );
        }
        if let Some(key) = reversal_of(earned.overflow_posting, &self.postings) {
            let back = earned.overflow.min(self.balance(&Account::Pool(station.clone())).max(0));
            self.post(
                key,
                PostingKind::Reversal,
                Account::Pool(station),
                Account::Program,
                back,
                visit,
                reason.to_owned(),
                Some(by),
                cause,
                Some(&v),
            );
        }
        if let Some(earnings) = self.earned.get_mut(&v) {
            if let Some(day) = earnings.by_day.get_mut(&earned.day) {
                *day -= earned.earn;
            }
            earnings.total -= earned.earn;
        }
    }

    // ----- corrections -----

    /// A coordinator's correction: minutes added come from the program; minutes taken
    /// back return to it, at most what the member has available (a balance never goes
    /// below zero; the memo says how much could not be taken).
    fn correction(&mut self, correction: &CorrectionEvent, cause: Cause) {
        if !self.corrections.insert(correction.id.clone()) {
            return;
        }
        let member = Account::Member(correction.member.clone());
        let key = PostingKey::correction(&correction.id);
        let by = Some(&correction.by);
        if correction.minutes > 0 {
            let memo = correction.reason.clone();
            self.post(
                key,
                PostingKind::Correction,
                Account::Program,
                member,
                correction.minutes,
                &correction.id,
                memo,
                by,
                cause,
                None,
            );
        } else {
            let wanted = correction.minutes.saturating_neg();
            let back = wanted.min(self.balance(&member).max(0));
            let memo = if back < wanted {
                format!("{}; {} min could not be taken back (not available)", correction.reason, wanted - back)
            } else {
                correction.reason.clone()
            };
            self.post(key, PostingKind::Correction, member, Account::Program, back, &correction.id, memo, by, cause, None);
        }
    }

    // ----- requests -----

    fn request(&mut self, request: &RequestEvent, cause: Cause) {
        if self.requests.contains_key(&request.id) {
            return;
        }
        let rules = self.rules(&request.station);
        let member = request.member.clone();
        let refusal = self.refusal(request, cause.at, &rules);
        let status = match refusal {
            Some(reason) => {
                self.set_outcome(&member, &request.id, OutcomeStatus::Refused, reason, 0);
                RequestStatus::Refused
            }
            None => {
                let version = rules.version;
                let (kind, to, memo, settled) = match &request.what {
                    RequestWhat::Redeem { service, at, .. } => (
                        PostingKind::Reserve,
                        Account::Held(member.clone()),
                        match at {
                            Some(at) => format!("held for the redemption of {service} at station {at}"),
                            None => format!("held for the redemption of {service}"),
                        },
                        false,
                    ),
                    RequestWhat::Gift { to, .. } => {
                        (PostingKind::Gift, Account::Member(to.clone()), format!("gift from {member} to {to}"), true)
                    }
                    RequestWhat::Donate => (
                        PostingKind::Donation,
                        Account::Pool(request.station.clone()),
                        "gift to the station's donation pool".to_owned(),
                        true,
                    ),
                };
                self.post(
                    PostingKey::ruled(version, 1),
                    kind,
                    Account::Member(member.clone()),
                    to,
                    request.minutes,
                    &request.id,
                    memo,
                    None,
                    cause,
                    None,
                );
                self.last_accepted.insert(member.clone(), request.id.clone());
                self.set_outcome(&member, &request.id, OutcomeStatus::Accepted, String::new(), request.minutes);
                if settled { RequestStatus::Settled } else { RequestStatus::Accepted }
            }
        };
        self.requests.insert(request.id.clone(), RequestState { event: request.clone(), status, version: rules.version });
        if let Some((decision, seq, at)) = self.decisions_waiting.remove(&request.id) {
            self.decision(&decision, Cause { seq, at: at.max(cause.at) });
        }
    }

    /// Why `request` is refused at this point of the arrival order, if it is.
    /// Why `request`, received at `received_at`, is refused, if it is. The age gate reads
    /// the earlier of the phone's clock and the relay's: a phone set to a later year does
    /// not make its owner older.
    fn refusal(&self, request: &RequestEvent, received_at: i64, rules: &StationRules) -> Option<String> {
        if request.minutes <= 0 {
            return Some("there is nothing to spend in a request of 0 minutes".into());
        }
        match &request.what {
            RequestWhat::Redeem { at: Some(at), at_unknown: true, .. } => {
                return Some(format!("there is no station {at} in the city; ask to redeem at one of its stations"));
            }
            RequestWhat::Redeem { .. } => {
                let Some(birth_year) = request.birth_year else {
                    return Some("the station has no birth year for you; ask your coordinator".into());
                };
                let asked_at = request.created_at.min(received_at);
                let year = DateTime::<Utc>::from_timestamp_millis(asked_at.saturating_add(rules.utc_offset_minutes * 60_000))
                    .map_or(0, |t| t.year());
                let age = year - i32::from(birth_year);
                let gate = if request.hardship { rules.redeem_age_hardship } else { rules.redeem_age };
                if age < gate {
                    return Some(format!(
                        "coins can be redeemed from age {} ({} in special hardship); you are {age}",
                        rules.redeem_age, rules.redeem_age_hardship
                    ));
                }
            }
            RequestWhat::Gift { to, to_household, to_known } => {
                let relative = request.household.is_some() && *to_household == request.household;
                if *to == request.member || !to_known || !relative || !rules.gifts_to_household {
                    return Some(format!(
                        "coins can be given to relatives in your household or to the station's pool, and {to} is not one of them"
                    ));
                }
            }
            RequestWhat::Donate => {}
        }
        let available = self.balance(&Account::Member(request.member.clone()));
        if available < request.minutes {
            let first = self.last_accepted.get(&request.member).map(|r| format!("; request {r} came first")).unwrap_or_default();
            return Some(format!(
                "the balance ({available} min) did not cover {} min when this request reached the station{first}",
                request.minutes
            ));
        }
        None
    }

    fn decision(&mut self, decision: &DecisionEvent, cause: Cause) {
        let Some(state) = self.requests.get(&decision.request) else { return };
        // Only the station that gives the service decides: the member's own, or the one
        // they asked to redeem at (通存通兑).
        if state.status != RequestStatus::Accepted
            || *state.event.redeemed_at() != decision.station
            || !matches!(state.event.what, RequestWhat::Redeem { .. })
        {
            return;
        }
        let id = state.event.id.clone();
        let elsewhere = (state.event.station != decision.station).then(|| format!(" at station {}", decision.station));
        let (kind, outcome, memo) = match decision.action {
            RedemptionAction::Fulfil => (PostingKind::Redeem, OutcomeStatus::Fulfilled, "redeemed: the service was given"),
            RedemptionAction::Release => (PostingKind::Release, OutcomeStatus::Released, "released: the held coins are back"),
        };
        let memo = match elsewhere {
            Some(place) => memo.replacen(':', &format!("{place}:"), 1),
            None => memo.to_owned(),
        };
        self.settle(&id, kind, outcome, memo, String::new(), Some(&decision.by), cause);
    }

    /// Settles the accepted redemption `id`: its held coins go back to the program (a
    /// `Redeem`) or to the member (a `Release`), and nothing decides it again.
    #[allow(clippy::too_many_arguments)]
    fn settle(
        &mut self,
        id: &str,
        kind: PostingKind,
        outcome: OutcomeStatus,
        memo: String,
        reason: String,
        by: Option<&MemberId>,
        cause: Cause,
    ) {
        let Some(state) = self.requests.get_mut(id) else { return };
        state.status = RequestStatus::Settled;
        let (member, minutes, version) = (state.event.member.clone(), state.event.minutes, state.version);
        let to = if kind == PostingKind::Redeem { Account::Program } else { Account::Member(member.clone()) };
        self.post(PostingKey::ruled(version, 1), kind, Account::Held(member.clone()), to, minutes, id, memo, by, cause, None);
        self.set_outcome(&member, id, outcome, reason, minutes);
    }

    // ----- moves -----

    /// A member's move (ADR 42). Their accounts stay as they are: the balance and every
    /// posting are theirs wherever they are. What was open at the old station's desk, which
    /// no longer reads their documents, moves or closes: a visit of theirs still waiting
    /// for review (none, or a flag), or arriving later from before the move, waits at the
    /// new station, whose review decides it (credited by the rules of the station where it
    /// was given, which its figures count); a redemption held to be given at the old station is released with the
    /// reason (the old desk's decision arriving afterwards posts nothing). A redemption
    /// asked at a third station (通存通兑) stays that station's to decide.
    fn transfer(&mut self, transfer: &TransferEvent, cause: Cause) {
        let member = &transfer.member;
        let visits: Vec<usize> = self
            .volunteer_visits
            .get(member)
            .into_iter()
            .flat_map(|index| index.by_start.iter().map(|&(_, position)| position))
            .collect();
        for position in visits {
            let Some(state) = self.visits.at_mut(position) else { continue };
            let waiting = state.earned.is_none()
                && !state.rejected
                && state.review.as_ref().is_none_or(|review| review.decision == ReviewDecision::Flag);
            if waiting && state.desk == transfer.from {
                state.desk = transfer.to.clone();
            }
        }
        self.moved_to.insert(member.clone(), transfer.to.clone());
        let held: Vec<String> = self
            .requests
            .values()
            .filter(|r| r.event.member == *member && r.status == RequestStatus::Accepted && *r.event.redeemed_at() == transfer.from)
            .map(|r| r.event.id.clone())
            .collect();
        let reason = format!("you moved to station {}; ask again there", transfer.to);
        for id in held {
            self.settle(
                &id,
                PostingKind::Release,
                OutcomeStatus::Released,
                format!("released: {reason}"),
                reason.clone(),
                None,
                cause,
            );
        }
    }
}

/// The ledger's words for a reversed `decision` with the coordinator's `reason` (what the
/// volunteer reads, and the reversal postings' memo).
pub fn reversal_reason(decision: ReviewDecision, reason: &str) -> String {
    let what = if decision == ReviewDecision::Reject { "rejection" } else { "approval" };
    format!("the {what} was reversed: {}", reason.trim())
}

/// Adds `minutes` to the balance of `account`.
fn add_to(balances: &mut HashMap<Account, i64>, account: &Account, minutes: i64) {
    match balances.get_mut(account) {
        Some(balance) => *balance += minutes,
        None => {
            balances.insert(account.clone(), minutes);
        }
    }
}

/// Marks `member`'s ledger document for writing; what changed is noted in what it returns.
fn touch<'d>(dirty: &'d mut BTreeMap<MemberId, Touched>, member: &MemberId) -> &'d mut Touched {
    dirty.entry(member.clone()).or_default()
}

/// The reason on a visit the relay approved because its presence was verified.
pub const AUTO_APPROVED: &str = "approved without a coordinator: the elder's tag or phone proved the visit at both ends";

/// What an overlap found on a new visit says on the older one.
fn anomaly_seen_from(anomaly: &Anomaly, new: &str) -> String {
    match anomaly {
        Anomaly::LoggedTwice { .. } => Anomaly::LoggedTwice { other: new.to_owned() }.reason(),
        _ => Anomaly::Overlaps { other: new.to_owned() }.reason(),
    }
}
