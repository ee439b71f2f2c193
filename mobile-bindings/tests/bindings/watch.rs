//! Watching through the bindings against a real relay on 127.0.0.1: a coordinator's
//! dispatch reaches the watching volunteer's store without a sync being asked for (the
//! app's listener hears of the assignment), `cancel` from another thread ends a waiting
//! `next_event` at once, and a revoked device's watch throws `RelayRefused`.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use timebank_mobile::types::Topic;
use timebank_mobile::{ChangeListener, LiveWatch, TimebankError, WatchEvent};
use timebank_server::registry;

use crate::support::{TestRelay, enrolled_phone};

struct Heard(mpsc::Sender<Topic>);

impl ChangeListener for Heard {
    fn on_change(&self, topic: Topic) {
        let _ = self.0.send(topic);
    }
}

/// The events of `watch` on a thread, as the wrappers read them.
fn events(watch: &Arc<LiveWatch>) -> mpsc::Receiver<Result<WatchEvent, TimebankError>> {
    let (sender, events) = mpsc::channel();
    let watch = Arc::clone(watch);
    std::thread::spawn(move || {
        loop {
            let next = watch.next_event().transpose();
            let Some(event) = next else { return };
            let ended = event.is_err();
            if sender.send(event).is_err() || ended {
                return;
            }
        }
    });
    events
}

#[test]
fn a_dispatch_reaches_the_watching_volunteer_and_its_listener_without_a_sync_asked_for() {
    let relay = TestRelay::new();
    let (volunteer, elder) = (relay.member("volunteer", "Wang Jianguo"), relay.member("elder", "Zhang Lan"));
    let coordinator = enrolled_phone(&relay, &relay.member("coordinator", "Li Mei"));
    let phone = enrolled_phone(&relay, &volunteer);
    coordinator.store.sync(None).unwrap();
    let (topics, heard) = mpsc::channel();
    let _subscription = phone.store.subscribe(Arc::new(Heard(topics))).unwrap();

    let watch = Arc::clone(&phone.store).watch().unwrap();
    let events = events(&watch);
    assert_eq!(events.recv_timeout(Duration::from_secs(10)).unwrap().unwrap(), WatchEvent::Connected);
    assert!(matches!(events.recv_timeout(Duration::from_secs(10)).unwrap().unwrap(), WatchEvent::Synced { .. }));
    while heard.try_recv().is_ok() {}

    let order = coordinator.store.place_order(Some(elder.id.to_string()), "meals".into(), "lunch".into()).unwrap();
    coordinator.store.dispatch(order.clone(), volunteer.id.to_string()).unwrap();
    let dispatched = Instant::now();
    coordinator.store.sync(None).unwrap();
    let deadline = Duration::from_secs(5);
    loop {
        if heard.recv_timeout(deadline).unwrap() == Topic::Assignments {
            break;
        }
    }
    assert!(dispatched.elapsed() < Duration::from_secs(2), "heard after {:?}", dispatched.elapsed());
    assert_eq!(phone.store.assignments().unwrap()[0].order, order);
    let synced = events.recv_timeout(deadline).unwrap().unwrap();
    let WatchEvent::Synced { hinted, report } = synced else { panic!("{synced:?}") };
    assert_eq!((hinted, report.docs_changed), (vec![format!("member/{}", volunteer.id)], 1));

    // Cancelled from another thread while next_event waits: it returns None at once.
    let cancelled = Instant::now();
    watch.cancel();
    loop {
        match events.recv_timeout(Duration::from_secs(2)) {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => panic!("{error}"),
            Err(_) => break,
        }
    }
    assert!(watch.is_cancelled() && cancelled.elapsed() < Duration::from_secs(3));
    assert_eq!(watch.next_event().unwrap(), None);
}

#[test]
fn a_revoked_devices_watch_throws_relay_refused() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Wang Jianguo");
    let phone = enrolled_phone(&relay, &volunteer);
    let watch = Arc::clone(&phone.store).watch().unwrap();
    let events = events(&watch);
    assert!(matches!(events.recv_timeout(Duration::from_secs(10)).unwrap(), Ok(WatchEvent::Connected)));
    let device = relay.relay.store().devices().unwrap().into_iter().find(|d| d.member == volunteer.id).unwrap();
    registry::revoke_device(&relay.relay, &device.id, None).unwrap();
    let ended = loop {
        match events.recv_timeout(Duration::from_secs(5)).unwrap() {
            Ok(_) => {}
            Err(error) => break error,
        }
    };
    assert!(matches!(&ended, TimebankError::RelayRefused { reason } if reason.contains("revoked")), "{ended:?}");
    assert_eq!(watch.next_event().unwrap(), None);

    let offline = crate::support::offline_volunteer();
    assert!(matches!(offline.store.watch(), Err(TimebankError::NotAllowed { .. })));
}
