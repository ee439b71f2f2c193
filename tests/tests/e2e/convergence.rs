//! The story of the issue, end to end: a station with an elder, a coordinator and three
//! volunteers, all enrolled devices, working offline. The elder orders (点单), the
//! coordinator dispatches what it has received (派单), volunteers accept or decline (接单)
//! and log visits, live and from paper, for orders and without. They sync in a random
//! order through a proxy that cuts connections at random points; failed syncs are retried
//! later. After everyone syncs until quiet, every device holds exactly what it may read,
//! equal to the relay's copy; every visit is on the relay exactly once and "sent" (or the
//! relay ledger's outcome) on its phone; the coordinator sees every order in its final
//! state. Several seeds.

use std::collections::{BTreeMap, BTreeSet};

use automerge::{ROOT, ReadDoc as _};
use timebank_engine::documents::{fields, ledger, member};
use timebank_engine::model::{ConfirmedBy, OrderId, OrderState, VisitId};
use timebank_engine::sync::{SyncReport, TransportError};
use timebank_engine::{DocId, Error, PastVisit};
use timebank_server::store::MemberRecord;

use crate::support::{Fault, Phone, Rng, TestRelay, on_relay};

/// Seeds run by default; `TIMEBANK_E2E_SEED=<n>` runs one other seed.
const SEEDS: [u64; 4] = [1, 0x5eed_0fda, 20_260_302, 0xdead_beef];
/// Random steps before the wrap-up.
const STEPS: usize = 110;
/// Orders the elder places.
const ORDERS: usize = 4;
/// Visits without an order per volunteer.
const FREE_VISITS: usize = 2;
/// Most rounds of the wrap-up and of syncing until quiet.
const MAX_ROUNDS: usize = 60;

const ELDER: usize = 0;
const DESK: usize = 1;
const VOLUNTEERS: std::ops::Range<usize> = 2..5;

#[test]
fn a_station_working_offline_with_cut_connections_converges_on_the_relay() {
    let seeds: Vec<u64> = match std::env::var("TIMEBANK_E2E_SEED") {
        Ok(seed) => vec![seed.parse().expect("TIMEBANK_E2E_SEED is a number")],
        Err(_) => SEEDS.to_vec(),
    };
    for seed in seeds {
        eprintln!("story with seed {seed} (rerun alone with TIMEBANK_E2E_SEED={seed})");
        Story::new(seed).run();
    }
}

/// What the test knows happened: the truth each device's view and the relay must match.
#[derive(Debug, Default)]
struct Model {
    orders: BTreeMap<OrderId, Expected>,
    /// Every visit logged, with the phone that logged it.
    visits: BTreeMap<VisitId, usize>,
    /// Visits without an order, per phone.
    free_visits: BTreeMap<usize, usize>,
}

#[derive(Debug)]
struct Expected {
    state: OrderState,
    /// The phone it is dispatched to now.
    volunteer: Option<usize>,
    /// Every phone it was ever dispatched to.
    dispatched_to: Vec<usize>,
    declined_by: BTreeSet<usize>,
}

impl Model {
    fn complete(&self, phones: &[Phone]) -> bool {
        self.orders.len() == ORDERS
            && self.orders.values().all(|o| matches!(o.state, OrderState::Visited | OrderState::Confirmed))
            && phones.iter().all(|p| p.engine.status().unwrap().open_visits == 0)
    }
}

struct Story {
    seed: u64,
    rng: Rng,
    relay: TestRelay,
    members: Vec<MemberRecord>,
    phones: Vec<Phone>,
    model: Model,
    outcomes: BTreeMap<(Fault, bool), usize>,
    paper_slots: i64,
}

impl Story {
    fn new(seed: u64) -> Story {
        let relay = TestRelay::start();
        let people = [
            ("elder", "Wang Fang"),
            ("coordinator", "Chen Jing"),
            ("volunteer", "Li Wei"),
            ("volunteer", "Zhao Min"),
            ("volunteer", "Sun Li"),
        ];
        let members: Vec<MemberRecord> = people.iter().map(|(role, name)| relay.member(role, name)).collect();
        let phones = members.iter().map(|m| relay.phone(m)).collect();
        Story { seed, rng: Rng::new(seed), relay, members, phones, model: Model::default(), outcomes: BTreeMap::new(), paper_slots: 0 }
    }

    fn run(mut self) {
        // The day: everyone works offline and syncs now and then, through a bad network.
        for _ in 0..STEPS {
            let phone = self.rng.below(self.phones.len());
            self.act(phone, false);
        }
        // The evening: everyone finishes what is open, still through a bad network.
        let mut rounds = 0;
        while !self.model.complete(&self.phones) {
            rounds += 1;
            assert!(rounds <= MAX_ROUNDS, "seed {}: the story did not finish: {:#?}", self.seed, self.model);
            let mut order: Vec<usize> = (0..self.phones.len()).collect();
            for i in (1..order.len()).rev() {
                order.swap(i, self.rng.below(i + 1));
            }
            for phone in order {
                self.act(phone, true);
            }
        }
        // Night: good signal; everyone syncs until nothing moves.
        let mut quiet = false;
        for _ in 0..MAX_ROUNDS {
            let reports: Vec<SyncReport> = (0..self.phones.len()).map(|i| self.sync(i, Fault::Pass).unwrap()).collect();
            if reports.iter().all(|r| r.changes_sent == 0 && r.changes_received == 0 && r.docs_changed == 0) {
                quiet = true;
                break;
            }
        }
        assert!(quiet, "seed {}: the syncs never went quiet", self.seed);
        self.check_the_end();
    }

    // ----- what people do -----

    /// One step of `phone`'s owner: some work, or a sync through a random fault. In the
    /// wrap-up (`finish`), all open work is done, then a sync.
    fn act(&mut self, phone: usize, finish: bool) {
        let worked = match phone {
            ELDER => self.elder_works(finish),
            DESK => self.coordinator_works(finish),
            _ => self.volunteer_works(phone, finish),
        };
        if finish || !worked {
            let fault = if self.rng.chance(45) { Fault::Pass } else { *self.rng.pick(&Fault::ALL[1..]) };
            let _ = self.sync(phone, fault);
        }
    }

    fn elder_works(&mut self, finish: bool) -> bool {
        let mut worked = false;
        while self.model.orders.len() < ORDERS && (finish || self.rng.chance(40)) {
            let service = *self.rng.pick(&["companionship", "meals", "cleaning", "escort"]);
            let order = self.phones[ELDER].engine.place_order(None, service, "after lunch, please").unwrap();
            let expected =
                Expected { state: OrderState::Requested, volunteer: None, dispatched_to: vec![], declined_by: BTreeSet::new() };
            self.model.orders.insert(order, expected);
            worked = true;
            if !finish {
                break;
            }
        }
        worked
    }

    fn coordinator_works(&mut self, finish: bool) -> bool {
        let waiting: Vec<OrderId> = self.phones[DESK]
            .engine
            .orders()
            .into_iter()
            .filter(|view| {
                // The coordinator's view may lag, never run ahead of what happened.
                let truth = &self.model.orders[&view.order.id];
                match view.state {
                    OrderState::Requested | OrderState::Declined => {
                        assert_eq!(view.state, truth.state, "seed {}: the desk sees {view:?}", self.seed);
                        true
                    }
                    _ => false,
                }
            })
            .map(|view| view.order.id)
            .collect();
        let mut worked = false;
        for order in waiting {
            if !finish && !self.rng.chance(60) {
                continue;
            }
            let expected = &self.model.orders[&order];
            let candidates: Vec<usize> = VOLUNTEERS.filter(|v| !expected.declined_by.contains(v)).collect();
            let volunteer = *self.rng.pick(&candidates);
            let member = self.members[volunteer].id.clone();
            self.phones[DESK].engine.dispatch(&order, &member).unwrap();
            let expected = self.model.orders.get_mut(&order).unwrap();
            expected.state = OrderState::Dispatched;
            expected.volunteer = Some(volunteer);
            expected.dispatched_to.push(volunteer);
            worked = true;
        }
        worked
    }

    fn volunteer_works(&mut self, me: usize, finish: bool) -> bool {
        let elder = self.members[ELDER].id.clone();
        let mut worked = false;
        // Check out of an open visit.
        let open = self.phones[me].engine.visits().unwrap().into_iter().find(|v| v.visit.is_open());
        if let Some(open) = open
            && (finish || self.rng.chance(50))
        {
            let done = self.phones[me].engine.end_visit(&open.visit.id, None, Some("checked out")).unwrap();
            assert_eq!(done.state_label, "saved on phone");
            worked = true;
        }
        // Answer what the coordinator offered.
        for offered in self.phones[me].engine.assignments() {
            if offered.assignment.response.is_some() || !(finish || self.rng.chance(60)) {
                continue;
            }
            let order = offered.assignment.order.clone();
            let expected = self.model.orders.get_mut(&order).unwrap();
            assert_eq!(expected.volunteer, Some(me), "seed {}: {order} offered to the wrong phone", self.seed);
            let others_left = VOLUNTEERS.filter(|v| *v != me && !expected.declined_by.contains(v)).count();
            if expected.declined_by.is_empty() && others_left > 0 && self.rng.chance(30) {
                self.phones[me].engine.decline(&order, "away this week").unwrap();
                expected.state = OrderState::Declined;
                expected.declined_by.insert(me);
            } else {
                self.phones[me].engine.accept(&order).unwrap();
                expected.state = OrderState::Accepted;
            }
            worked = true;
        }
        // Serve what was accepted: live (check in now, out later) or from a paper record.
        let accepted: Vec<OrderId> = self.phones[me]
            .engine
            .assignments()
            .into_iter()
            .filter(|a| a.state == OrderState::Accepted)
            .map(|a| a.assignment.order)
            .collect();
        for order in accepted {
            if !(finish || self.rng.chance(50)) {
                continue;
            }
            let has_open = self.phones[me].engine.status().unwrap().open_visits > 0;
            let visit = if !has_open && !finish && self.rng.chance(50) {
                self.phones[me].check_in(&elder, Some(&order))
            } else {
                self.paper_visit(me, Some(&order), "from the paper sheet")
            };
            self.model.visits.insert(visit, me);
            self.model.orders.get_mut(&order).unwrap().state = OrderState::Visited;
            worked = true;
        }
        if finish {
            return worked;
        }
        // Now and then: the elder confirms a finished visit on the phone, or a visit
        // without an order.
        if self.rng.chance(15) {
            let unconfirmed = self.phones[me]
                .engine
                .visits()
                .unwrap()
                .into_iter()
                // Not one the station already decided on (the relay's ledger may have).
                .find(|v| {
                    !v.visit.is_open() && v.visit.confirmation.is_none() && matches!(v.state_label.as_str(), "saved on phone" | "sent")
                });
            if let Some(view) = unconfirmed {
                self.phones[me].engine.confirm_visit(&view.visit.id, ConfirmedBy::Elder).unwrap();
                if let Some(order) = &view.visit.order {
                    self.model.orders.get_mut(order).unwrap().state = OrderState::Confirmed;
                }
                worked = true;
            }
        }
        let free = self.model.free_visits.entry(me).or_default();
        if *free < FREE_VISITS && self.rng.chance(25) {
            *free += 1;
            let has_open = self.phones[me].engine.status().unwrap().open_visits > 0;
            let visit =
                if has_open { self.paper_visit(me, None, "read the newspaper") } else { self.phones[me].check_in(&elder, None) };
            self.model.visits.insert(visit, me);
            worked = true;
        }
        worked
    }

    /// Logs a visit from a paper record, in a time slot of its own (three or more hours
    /// ago, 45 minutes long), so paper visits never overlap.
    fn paper_visit(&mut self, me: usize, order: Option<&OrderId>, note: &str) -> VisitId {
        self.paper_slots += 1;
        let start = chrono::Utc::now() - chrono::Duration::hours(2 + self.paper_slots);
        self.phones[me]
            .engine
            .log_visit(&PastVisit {
                elder: self.members[ELDER].id.clone(),
                service: "companionship".into(),
                order: order.cloned(),
                start,
                end: start + chrono::Duration::minutes(45),
                note: note.into(),
            })
            .unwrap()
    }

    // ----- syncing, and what must hold after every sync -----

    /// Syncs `phone` with `fault` on its first exchange, and checks the outcome: a clean
    /// exchange succeeds and leaves the phone equal to the relay; a cut one fails as
    /// "could not reach the relay", claims nothing new as sent, and when the relay never
    /// saw the request, the relay is untouched.
    fn sync(&mut self, phone: usize, fault: Fault) -> Option<SyncReport> {
        let seed = self.seed;
        let sent_before = self.phones[phone].sent();
        let generations_before = self.generations();
        self.relay.proxy.fail_next(fault);
        let result = self.phones[phone].sync();
        assert_eq!(self.relay.proxy.pending(), 0, "seed {seed}: the fault was not used");
        *self.outcomes.entry((fault, result.is_ok())).or_default() += 1;
        match (fault, result) {
            (Fault::Pass, Ok(report)) => {
                self.check_synced(phone);
                Some(report)
            }
            (Fault::Pass, Err(error)) => panic!("seed {seed}: {:?}: a clean sync failed: {error}", self.phones[phone]),
            (_, Ok(report)) => panic!("seed {seed}: {:?}: a sync through {fault:?} succeeded: {report:?}", self.phones[phone]),
            (_, Err(Error::Transport(TransportError::Unreachable(message)))) => {
                assert!(!message.is_empty());
                let sent_after = self.phones[phone].sent();
                assert!(
                    sent_after.is_subset(&sent_before),
                    "seed {seed}: {:?}: a failed sync turned visits to \"sent\": {:?}",
                    self.phones[phone],
                    sent_after.difference(&sent_before).collect::<Vec<_>>()
                );
                if fault == Fault::CutBeforeForwarding {
                    assert_eq!(self.generations(), generations_before, "seed {seed}: the relay changed without a request");
                }
                None
            }
            (_, Err(error)) => panic!("seed {seed}: {:?}: a cut connection gave {error}", self.phones[phone]),
        }
    }

    /// The store generation of every document on the relay.
    fn generations(&self) -> BTreeMap<String, i64> {
        // After the ledger has folded what earlier syncs stored (it runs after their answers).
        self.relay.relay.settle();
        let store = self.relay.relay.store();
        let ids = store.document_ids().unwrap();
        store.document_generations(&ids).unwrap().into_iter().collect()
    }

    /// Right after a clean sync the phone holds exactly what it may read, each document
    /// equal to the relay's (a ledger may be ahead on the relay: the relay writes it
    /// after answering); its outbox is empty; every visit it logged is on the relay as the
    /// phone has it, and shows so.
    fn check_synced(&self, phone: usize) {
        let seed = self.seed;
        let p = &self.phones[phone];
        let everyone: Vec<&MemberRecord> = self.members.iter().collect();
        let readable = self.relay.readable_by(&p.member, &everyone);
        let held = p.held();
        assert_eq!(held.keys().cloned().collect::<BTreeSet<_>>(), readable, "seed {seed}: {p:?} holds the wrong documents");
        for (id, heads) in &held {
            if let DocId::Ledger(_) = id {
                let relay_doc = self.relay.document(id);
                assert!(
                    heads.iter().all(|h| relay_doc.get_change_by_hash(h).is_some()),
                    "seed {seed}: {p:?}: {id} is ahead of the relay's"
                );
            } else {
                assert_eq!(heads, &self.relay.heads(id), "seed {seed}: {p:?}: {id} differs from the relay's");
            }
        }
        assert_eq!(p.engine.status().unwrap().unsynced_changes, 0, "seed {seed}: {p:?}: the outbox is not empty");
        let stored = self.relay.visits(&p.member.id);
        for view in p.engine.visits().unwrap() {
            let shown = if view.visit.is_open() { view.state_label == "checked in" } else { on_relay(&view.state_label) };
            assert!(shown, "seed {seed}: {p:?}: visit {} shows {:?}", view.visit.id, view.state_label);
            assert_eq!(stored.get(&view.visit.id), Some(&view.visit), "seed {seed}: {p:?}: visit {} on the relay", view.visit.id);
        }
    }

    /// After the quiet syncs: every document on every phone equal to the relay's.
    fn check_equal(&self, phone: usize) {
        let p = &self.phones[phone];
        for (id, heads) in p.held() {
            assert_eq!(heads, self.relay.heads(&id), "seed {}: {p:?}: {id} differs from the relay's", self.seed);
        }
    }

    // ----- the end -----

    /// Whether the ledger the coordinator holds approved the visit of `order`.
    fn approved(&self, order: &OrderId) -> bool {
        self.model.visits.iter().any(|(visit, v)| {
            let volunteer = &self.members[*v].id;
            let Some(doc) = self.phones[DESK].engine.document_bytes(&DocId::Ledger(volunteer.clone())) else { return false };
            let doc = automerge::Automerge::load(&doc).unwrap();
            let served = self.relay.visits(volunteer).get(visit).is_some_and(|x| x.order.as_ref() == Some(order));
            served
                && ledger::outcome(&doc, visit.as_str()).is_some_and(|o| o.status == timebank_engine::model::OutcomeStatus::Approved)
        })
    }

    fn check_the_end(&self) {
        let seed = self.seed;
        for phone in 0..self.phones.len() {
            self.check_synced(phone);
            self.check_equal(phone);
        }
        // Every visit logged anywhere: once on the relay, from the phone that logged it,
        // "sent" on that phone; none that was not logged.
        for v in VOLUNTEERS {
            let p = &self.phones[v];
            let logged: BTreeSet<&VisitId> = self.model.visits.iter().filter(|(_, by)| **by == v).map(|(id, _)| id).collect();
            let stored = self.relay.visits(&p.member.id);
            assert_eq!(stored.keys().collect::<BTreeSet<_>>(), logged, "seed {seed}: {p:?}: visits on the relay");
            assert_eq!(self.relay.visit_records(&p.member.id), logged.len(), "seed {seed}: {p:?}: visit records");
            assert!(stored.values().all(|visit| visit.device == p.actor.to_hex_string() && !visit.is_open()), "seed {seed}: {p:?}");
            let states = p.states();
            assert_eq!(states.keys().collect::<BTreeSet<_>>(), logged, "seed {seed}: {p:?}: visits on the phone");
            assert!(states.values().all(|s| on_relay(s)), "seed {seed}: {p:?}: {states:?}");
        }
        // The coordinator sees every order in its final state, dispatched to the right
        // volunteer; the elder's document holds each order once; each volunteer's holds
        // one assignment per dispatch to them.
        let desk_orders: BTreeMap<OrderId, (OrderState, Option<String>)> = self.phones[DESK]
            .engine
            .orders()
            .into_iter()
            .map(|view| (view.order.id, (view.state, view.order.dispatched_to.map(|m| m.to_string()))))
            .collect();
        let expected: BTreeMap<OrderId, (OrderState, Option<String>)> = self
            .model
            .orders
            .iter()
            .map(|(id, o)| (id.clone(), (o.state, o.volunteer.map(|v| self.members[v].id.to_string()))))
            .collect();
        // Once the relay's ledger approved an order's visit, the order is settled.
        let desk_orders: BTreeMap<OrderId, (OrderState, Option<String>)> = desk_orders
            .into_iter()
            .map(|(order, (state, volunteer))| match (state, &self.model.orders[&order].state) {
                (OrderState::Settled, OrderState::Visited | OrderState::Confirmed) if self.approved(&order) => {
                    (order.clone(), (self.model.orders[&order].state, volunteer))
                }
                _ => (order, (state, volunteer)),
            })
            .collect();
        assert_eq!(desk_orders, expected, "seed {seed}: the coordinator's orders");
        let elder_doc = self.relay.document(&DocId::Member(self.members[ELDER].id.clone()));
        let records = fields::map_at(&elder_doc, &ROOT, member::ORDERS).map_or(0, |o| elder_doc.keys(&o).count());
        assert_eq!(records, ORDERS, "seed {seed}: order records in the elder's document");
        assert_eq!(self.phones[ELDER].engine.orders().len(), ORDERS);
        for v in VOLUNTEERS {
            let doc = self.relay.document(&DocId::Member(self.members[v].id.clone()));
            let offered: BTreeSet<OrderId> = member::assignments(&doc).into_iter().map(|a| a.order).collect();
            let dispatched: BTreeSet<OrderId> =
                self.model.orders.iter().filter(|(_, o)| o.dispatched_to.contains(&v)).map(|(id, _)| id.clone()).collect();
            assert_eq!(offered, dispatched, "seed {seed}: assignments of {:?}", self.phones[v]);
        }
        // Honest engines never send what the relay refuses.
        assert_eq!(self.relay.relay.store().security_events().unwrap(), vec![], "seed {seed}");
        // The network was as bad as intended: every kind of cut happened, and failed.
        let applied: BTreeSet<Fault> = self.relay.proxy.applied().into_iter().collect();
        assert_eq!(applied, Fault::ALL.into_iter().collect(), "seed {seed}");
        for fault in &Fault::ALL[1..] {
            assert!(self.outcomes.get(&(*fault, false)).copied().unwrap_or(0) > 0, "seed {seed}: no failed sync through {fault:?}");
        }
        let mut shown: BTreeMap<String, usize> = BTreeMap::new();
        for v in VOLUNTEERS {
            for state in self.phones[v].states().into_values() {
                *shown.entry(state.split(':').next().unwrap_or_default().to_owned()).or_default() += 1;
            }
        }
        eprintln!("seed {seed}: visits {shown:?}, {ORDERS} orders, syncs by (fault, succeeded): {:?}", self.outcomes);
    }
}
