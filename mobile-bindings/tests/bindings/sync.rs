//! Sync through the bindings against a real relay on 127.0.0.1: a visit logged offline
//! reaches the coordinator, blocking and async, and a cancelled sync (before it starts,
//! with the relay's answer in flight, or by dropping the future) resumes next time with
//! nothing lost and nothing twice.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use timebank_engine::http::HttpTransport;
use timebank_engine::sync::{Transport, TransportError};
use timebank_mobile::types::{ReviewDecision, Topic, VisitState};
use timebank_mobile::{ChangeListener, SyncCancel, TimebankError, TimebankStore};

use crate::support::{Phone, TestRelay, block_on, enrolled_phone, visit_of_an_hour};

/// A volunteer and a coordinator of the relay's station, both enrolled and synced once,
/// and an elder's member id.
fn station(relay: &TestRelay) -> (Phone, Phone, String) {
    let volunteer = enrolled_phone(relay, &relay.member("volunteer", "Wang Jianguo"));
    let coordinator = enrolled_phone(relay, &relay.member("coordinator", "Li Mei"));
    let elder = relay.member("elder", "Zhang Lan").id.to_string();
    volunteer.store.sync(None).unwrap();
    coordinator.store.sync(None).unwrap();
    (volunteer, coordinator, elder)
}

/// How many times the coordinator's review queue holds `visit` after a sync.
fn on_the_desk(coordinator: &TimebankStore, visit: &str) -> usize {
    coordinator.sync(None).unwrap();
    coordinator.review_queue().unwrap().iter().filter(|item| item.visit.id == visit).count()
}

fn state(store: &TimebankStore, visit: &str) -> VisitState {
    store.visit(visit.into()).unwrap().state
}

#[test]
fn a_visit_logged_offline_reaches_the_coordinator_and_comes_back_approved() {
    let relay = TestRelay::new();
    let (volunteer, coordinator, elder) = station(&relay);
    let visit = visit_of_an_hour(&volunteer.store, &elder);
    assert_eq!(state(&volunteer.store, &visit), VisitState::SavedOnPhone);
    assert!(volunteer.store.status().unwrap().unsynced_changes > 0);

    let report = volunteer.store.sync(None).unwrap();
    assert!(report.changes_sent >= 2, "{report:?}");
    assert_eq!(state(&volunteer.store, &visit), VisitState::Sent);
    assert_eq!(volunteer.store.status().unwrap().unsynced_changes, 0);
    assert_eq!(on_the_desk(&coordinator.store, &visit), 1);

    coordinator.store.review_visit(visit.clone(), ReviewDecision::Approve, String::new()).unwrap();
    coordinator.store.sync(None).unwrap();
    volunteer.store.sync(None).unwrap();
    assert_eq!(state(&volunteer.store, &visit), VisitState::Approved);
    assert!(volunteer.store.balance().unwrap().confirmed_minutes >= 60);
}

#[test]
fn async_sync_runs_off_the_calling_thread_and_tells_the_listeners() {
    #[derive(Default)]
    struct Heard(std::sync::Mutex<Vec<(Topic, String)>>);
    impl ChangeListener for Heard {
        fn on_change(&self, topic: Topic) {
            let thread = std::thread::current().name().unwrap_or_default().to_owned();
            self.0.lock().unwrap().push((topic, thread));
        }
    }
    let relay = TestRelay::new();
    let (volunteer, coordinator, elder) = station(&relay);
    let visit = visit_of_an_hour(&volunteer.store, &elder);
    let heard = Arc::new(Heard::default());
    let _subscription = volunteer.store.subscribe(heard.clone()).unwrap();
    let report = block_on(volunteer.store.clone().sync_async(None)).unwrap();
    assert!(report.changes_sent >= 2);
    assert_eq!(state(&volunteer.store, &visit), VisitState::Sent);
    let heard = heard.0.lock().unwrap().clone();
    assert!(heard.contains(&(Topic::Visits, "timebank-sync".to_owned())), "{heard:?}");
    assert_eq!(on_the_desk(&coordinator.store, &visit), 1);
}

/// The relay's transport, cancelling `cancel` once the relay has answered `after` exchanges:
/// the relay stored what was sent, the phone never learns it.
struct CancelAfter {
    http: HttpTransport,
    cancel: Arc<SyncCancel>,
    after: usize,
}

impl Transport for CancelAfter {
    fn exchange(&mut self, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        let answer = self.http.exchange(body);
        self.after = self.after.saturating_sub(1);
        if self.after == 0 {
            self.cancel.cancel();
        }
        answer
    }
}

fn http(store: &TimebankStore) -> HttpTransport {
    HttpTransport::new(&store.relay_link().unwrap().unwrap())
}

#[test]
fn a_sync_cancelled_with_the_answer_in_flight_resumes_without_loss_or_duplicates() {
    let relay = TestRelay::new();
    let (volunteer, coordinator, elder) = station(&relay);
    let first = visit_of_an_hour(&volunteer.store, &elder);
    let second = volunteer.store.log_visit(timebank_mobile::types::PastVisit {
        elder: elder.clone(),
        service: "meals".into(),
        order: None,
        start: std::time::SystemTime::now() - std::time::Duration::from_secs(3 * 3600),
        end: std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 3600),
        note: "from the paper sheet".into(),
    });
    let second = second.unwrap();

    let cancel = SyncCancel::new();
    let mut transport = CancelAfter { http: http(&volunteer.store), cancel: cancel.clone(), after: 1 };
    let error = volunteer.store.sync_over(&mut transport, &cancel).unwrap_err();
    assert!(matches!(error, TimebankError::Cancelled { .. }), "{error}");
    // The relay has both visits; the phone does not know yet.
    assert_eq!(state(&volunteer.store, &first), VisitState::SavedOnPhone);
    assert_eq!(state(&volunteer.store, &second), VisitState::SavedOnPhone);
    assert_eq!(on_the_desk(&coordinator.store, &first), 1);

    volunteer.store.sync(Some(SyncCancel::new())).unwrap();
    assert_eq!(state(&volunteer.store, &first), VisitState::Sent);
    assert_eq!(state(&volunteer.store, &second), VisitState::Sent);
    assert_eq!(volunteer.store.visits().unwrap().len(), 2);
    assert_eq!(on_the_desk(&coordinator.store, &first), 1, "the first visit twice on the desk");
    assert_eq!(on_the_desk(&coordinator.store, &second), 1, "the second visit twice on the desk");
    assert_eq!(coordinator.store.review_queue().unwrap().len(), 2);
}

#[test]
fn a_sync_cancelled_before_it_starts_sends_nothing() {
    let relay = TestRelay::new();
    let (volunteer, coordinator, elder) = station(&relay);
    let visit = visit_of_an_hour(&volunteer.store, &elder);
    let cancel = SyncCancel::new();
    cancel.cancel();
    assert!(matches!(volunteer.store.sync(Some(cancel.clone())), Err(TimebankError::Cancelled { .. })));
    assert!(matches!(block_on(volunteer.store.clone().sync_async(Some(cancel))), Err(TimebankError::Cancelled { .. })));
    assert_eq!(on_the_desk(&coordinator.store, &visit), 0);
    assert_eq!(state(&volunteer.store, &visit), VisitState::SavedOnPhone);
    volunteer.store.sync(None).unwrap();
    assert_eq!(on_the_desk(&coordinator.store, &visit), 1);
}

#[test]
fn dropping_the_async_sync_cancels_it_and_the_next_sync_finishes_the_job() {
    let relay = TestRelay::new();
    let (volunteer, coordinator, elder) = station(&relay);
    let visit = visit_of_an_hour(&volunteer.store, &elder);
    let cancel = SyncCancel::new();
    {
        let mut future = pin!(volunteer.store.clone().sync_async(Some(cancel.clone())));
        let mut cx = Context::from_waker(Waker::noop());
        // Started on its thread, then abandoned (a coroutine cancelled, a view closed).
        if let Poll::Ready(result) = future.as_mut().poll(&mut cx) {
            panic!("the sync finished before it could be abandoned: {result:?}");
        }
    }
    assert!(cancel.is_cancelled(), "dropping the future did not cancel the sync");
    // Waits for the abandoned sync to stop, then syncs what is left.
    volunteer.store.sync(None).unwrap();
    assert_eq!(state(&volunteer.store, &visit), VisitState::Sent);
    assert_eq!(on_the_desk(&coordinator.store, &visit), 1);
    assert_eq!(coordinator.store.review_queue().unwrap().len(), 1);
}

/// The relay's transport, stopping the first request at the door until the test lets it
/// through.
struct Gate {
    http: HttpTransport,
    arrived: std::sync::mpsc::Sender<()>,
    open: Option<std::sync::mpsc::Receiver<()>>,
}

impl Transport for Gate {
    fn exchange(&mut self, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        if let Some(open) = self.open.take() {
            let _ = self.arrived.send(());
            open.recv().map_err(|_| TransportError::Unreachable("the test closed the gate".into()))?;
        }
        self.http.exchange(body)
    }
}

#[test]
fn the_store_stays_usable_while_a_sync_waits_on_the_network() {
    let relay = TestRelay::new();
    let (volunteer, coordinator, elder) = station(&relay);
    let first = visit_of_an_hour(&volunteer.store, &elder);
    let (arrived, at_the_door) = std::sync::mpsc::channel();
    let (let_through, open) = std::sync::mpsc::channel();
    let gate = Gate { http: http(&volunteer.store), arrived, open: Some(open) };
    let store = volunteer.store.clone();
    let syncing = std::thread::spawn(move || {
        let mut gate = gate;
        store.sync_over(&mut gate, &SyncCancel::default())
    });
    at_the_door.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
    // The request is on the network: a screen reads (on its own thread, so a store left
    // locked fails the test instead of hanging it) and the volunteer checks in.
    let (read, done_reading) = std::sync::mpsc::channel();
    let screen = volunteer.store.clone();
    std::thread::spawn(move || read.send(screen.visits().map(|visits| visits.len())));
    let seen = done_reading.recv_timeout(std::time::Duration::from_secs(10));
    assert_eq!(seen.expect("the store stayed locked while the sync waited on the network").unwrap(), 1);
    let second = volunteer.store.check_in(elder.clone(), "companionship".into(), None, None).unwrap();
    let_through.send(()).unwrap();
    syncing.join().unwrap().unwrap();
    assert_eq!(state(&volunteer.store, &first), VisitState::Sent);
    assert_eq!(state(&volunteer.store, &second), VisitState::CheckedIn);
    assert!(volunteer.store.status().unwrap().unsynced_changes > 0, "the check-in made during the sync waits for the next");
    volunteer.store.sync(None).unwrap();
    assert_eq!(volunteer.store.status().unwrap().unsynced_changes, 0);
    assert_eq!(on_the_desk(&coordinator.store, &first), 1);
}

#[test]
fn cancelling_a_sync_stuck_on_a_hung_relay_returns_at_once() {
    let relay = TestRelay::new();
    let (volunteer, coordinator, elder) = station(&relay);
    let visit = visit_of_an_hour(&volunteer.store, &elder);
    // A relay that accepts connections and never answers (a frozen server, a captive portal).
    let hung = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let link = volunteer.store.relay_link().unwrap().unwrap();
    let hung_link = timebank_engine::RelayLink { url: format!("http://{}", hung.local_addr().unwrap()), ..link };
    let cancel = SyncCancel::new();
    let (store, token) = (volunteer.store.clone(), cancel.clone());
    let syncing = std::thread::spawn(move || {
        let mut transport = timebank_mobile::Interruptible::new(HttpTransport::new(&hung_link), &token);
        store.sync_over(&mut transport, &token)
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    let cancelled_at = std::time::Instant::now();
    cancel.cancel();
    let result = syncing.join().unwrap();
    assert!(cancelled_at.elapsed() < std::time::Duration::from_secs(2), "took {:?}", cancelled_at.elapsed());
    assert!(matches!(result, Err(TimebankError::Cancelled { .. })), "{result:?}");
    assert_eq!(state(&volunteer.store, &visit), VisitState::SavedOnPhone);
    volunteer.store.sync(None).unwrap();
    assert_eq!(state(&volunteer.store, &visit), VisitState::Sent);
    assert_eq!(on_the_desk(&coordinator.store, &visit), 1);
    drop(hung);
}

#[test]
fn a_rejection_reaches_the_volunteer_with_its_reason_and_freezes_the_visit() {
    let relay = TestRelay::new();
    let (volunteer, coordinator, elder) = station(&relay);
    let visit = visit_of_an_hour(&volunteer.store, &elder);
    volunteer.store.sync(None).unwrap();
    assert_eq!(on_the_desk(&coordinator.store, &visit), 1);
    let refused = coordinator.store.review_visit(visit.clone(), ReviewDecision::Reject, "  ".into()).unwrap_err();
    assert!(matches!(refused, TimebankError::InvalidInput { .. }), "a rejection without a reason: {refused}");
    let reason = "the elder was in hospital that day";
    coordinator.store.review_visit(visit.clone(), ReviewDecision::Reject, reason.into()).unwrap();
    coordinator.store.sync(None).unwrap();
    volunteer.store.sync(None).unwrap();
    let seen = volunteer.store.visit(visit.clone()).unwrap();
    assert_eq!(seen.state, VisitState::Rejected { reason: reason.into() });
    assert_eq!(seen.state_label, format!("rejected: {reason}"));
    let frozen = volunteer.store.confirm_visit(visit, timebank_mobile::types::ConfirmedBy::Elder).unwrap_err();
    assert!(matches!(frozen, TimebankError::NotAllowed { .. }), "{frozen}");
    assert_eq!(volunteer.store.balance().unwrap().confirmed_minutes, 0);
    assert_eq!(on_the_desk(&coordinator.store, &seen.id), 0);
}
