//! Change listeners: told what changed after each write, free to read the store from the
//! callback, silent once their subscription is dropped or stopped.

use std::sync::{Arc, Mutex};

use timebank_mobile::types::Topic;
use timebank_mobile::{ChangeListener, TimebankStore};

use crate::support::{offline_volunteer, visit_of_an_hour};

#[derive(Default)]
struct Recorder {
    topics: Mutex<Vec<Topic>>,
    /// Set to read the store from inside the callback, as a screen refresh does.
    store: Mutex<Option<Arc<TimebankStore>>>,
    visits_seen: Mutex<Vec<usize>>,
}

impl Recorder {
    fn topics(&self) -> Vec<Topic> {
        std::mem::take(&mut *self.topics.lock().unwrap())
    }
}

impl ChangeListener for Recorder {
    fn on_change(&self, topic: Topic) {
        self.topics.lock().unwrap().push(topic);
        if let Some(store) = self.store.lock().unwrap().as_ref() {
            self.visits_seen.lock().unwrap().push(store.visits().unwrap().len());
        }
    }
}

struct Throws;

impl ChangeListener for Throws {
    fn on_change(&self, _topic: Topic) {
        panic!("a listener that fails, as a Kotlin one may throw");
    }
}

#[test]
fn a_listener_hears_each_write_once_and_nothing_after_its_handle_drops() {
    let phone = offline_volunteer();
    let recorder = Arc::new(Recorder::default());
    let subscription = phone.store.subscribe(recorder.clone()).unwrap();
    let visit = phone.store.check_in("e-2001".into(), "companionship".into(), None, None).unwrap();
    assert_eq!(recorder.topics(), vec![Topic::Visits]);
    phone.store.gift("e-2001".into(), 30).unwrap();
    assert_eq!(recorder.topics(), vec![Topic::Requests]);
    // A refused call tells nobody anything.
    assert!(phone.store.check_out(visit.clone(), None, None).is_err());
    assert_eq!(recorder.topics(), vec![]);
    drop(subscription);
    phone.store.gift("e-2001".into(), 30).unwrap();
    assert_eq!(recorder.topics(), vec![], "notified after the subscription was dropped");
}

#[test]
fn stop_ends_notifications_before_the_handle_is_collected() {
    let phone = offline_volunteer();
    let recorder = Arc::new(Recorder::default());
    let subscription = phone.store.subscribe(recorder.clone()).unwrap();
    visit_of_an_hour(&phone.store, "e-2001");
    assert_eq!(recorder.topics(), vec![Topic::Visits, Topic::Visits], "check-in and check-out, one topic each call");
    subscription.stop();
    visit_of_an_hour(&phone.store, "e-2002");
    assert_eq!(recorder.topics(), vec![]);
}

#[test]
fn a_listener_may_read_the_store_from_its_callback() {
    let phone = offline_volunteer();
    let recorder = Arc::new(Recorder::default());
    *recorder.store.lock().unwrap() = Some(phone.store.clone());
    let _subscription = phone.store.subscribe(recorder.clone()).unwrap();
    visit_of_an_hour(&phone.store, "e-2001");
    assert_eq!(*recorder.visits_seen.lock().unwrap(), vec![1, 1], "the callback saw the new visit");
    *recorder.store.lock().unwrap() = None;
}

#[test]
fn a_failing_listener_does_not_undo_or_fail_the_write() {
    let phone = offline_volunteer();
    let _throws = phone.store.subscribe(Arc::new(Throws)).unwrap();
    let recorder = Arc::new(Recorder::default());
    let _recorder = phone.store.subscribe(recorder.clone()).unwrap();
    let visit = visit_of_an_hour(&phone.store, "e-2001");
    assert_eq!(phone.store.visit(visit).unwrap().state_label, "saved on phone");
    assert_eq!(recorder.topics(), vec![Topic::Visits, Topic::Visits], "the other listener still heard");
}
