//! The phone's monotonic clock, lent by the app, measures a live visit: the length comes
//! from it, not from the wall clock, and a reboot mid-visit is noticed. A clock that throws
//! shows that a panic inside a call reaches the app as `Internal`, never as a crash.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use timebank_mobile::types::Role;
use timebank_mobile::{PlatformClock, TimebankError, TimebankStore};

use crate::support::path;

struct FakeUptime {
    millis: AtomicU64,
    boot: Mutex<String>,
}

impl PlatformClock for FakeUptime {
    fn since_boot_ms(&self) -> Option<u64> {
        Some(self.millis.load(Ordering::SeqCst))
    }

    fn boot_id(&self) -> String {
        self.boot.lock().unwrap().clone()
    }
}

fn volunteer_with(clock: &Arc<FakeUptime>) -> (tempfile::TempDir, Arc<TimebankStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store =
        TimebankStore::create_with_clock(path(&dir), "v-1001".into(), "s-caoyang".into(), Role::Volunteer, Some(clock.clone()))
            .unwrap();
    (dir, store)
}

#[test]
fn a_live_visit_lasts_what_the_phones_monotonic_clock_measured() {
    let uptime = Arc::new(FakeUptime { millis: AtomicU64::new(5_000_000), boot: Mutex::new("boot-a-1234567".into()) });
    let (dir, store) = volunteer_with(&uptime);
    let visit = store.check_in("e-2001".into(), "companionship".into(), None, None).unwrap();
    // 45 minutes on the phone's clock, though the wall clock barely moved (or was reset).
    uptime.millis.fetch_add(45 * 60_000, Ordering::SeqCst);
    drop(store);
    let reopened = TimebankStore::open_with_clock(path(&dir), Some(uptime.clone())).unwrap();
    assert_eq!(reopened.check_out(visit, None, None).unwrap().minutes, Some(45));
}

#[test]
fn a_reboot_mid_visit_falls_back_to_the_wall_clock() {
    let uptime = Arc::new(FakeUptime { millis: AtomicU64::new(5_000_000), boot: Mutex::new("boot-a-1234567".into()) });
    let (_dir, store) = volunteer_with(&uptime);
    let visit = store.check_in("e-2001".into(), "companionship".into(), None, None).unwrap();
    *uptime.boot.lock().unwrap() = "boot-b-7654321".into();
    uptime.millis.store(60_000 * 45, Ordering::SeqCst);
    // By the wall clock the visit lasted seconds: refused, and the volunteer is told why.
    let refused = store.check_out(visit, None, None).unwrap_err();
    assert!(matches!(refused, TimebankError::InvalidInput { .. }), "{refused}");
    assert!(refused.to_string().contains("shorter than one minute"), "{refused}");
}

/// An app clock that throws (a Kotlin exception in the callback) when armed.
struct ThrowingClock(std::sync::atomic::AtomicBool);

impl PlatformClock for ThrowingClock {
    fn since_boot_ms(&self) -> Option<u64> {
        if self.0.load(Ordering::SeqCst) {
            panic!("the app's clock threw");
        }
        Some(1_000)
    }

    fn boot_id(&self) -> String {
        "boot-c".into()
    }
}

#[derive(Default)]
struct Heard(Mutex<Vec<timebank_mobile::types::Topic>>);

impl timebank_mobile::ChangeListener for Heard {
    fn on_change(&self, topic: timebank_mobile::types::Topic) {
        self.0.lock().unwrap().push(topic);
    }
}

#[test]
fn a_panic_inside_a_call_reaches_the_app_as_internal_and_the_store_carries_on() {
    let clock = Arc::new(ThrowingClock(std::sync::atomic::AtomicBool::new(false)));
    let dir = tempfile::tempdir().unwrap();
    let store =
        TimebankStore::create_with_clock(path(&dir), "v-1001".into(), "s-caoyang".into(), Role::Volunteer, Some(clock.clone()))
            .unwrap();
    let heard = Arc::new(Heard::default());
    let _subscription = store.subscribe(heard.clone()).unwrap();
    clock.0.store(true, Ordering::SeqCst);
    let failed = store.check_in("e-2001".into(), "companionship".into(), None, None).unwrap_err();
    assert!(matches!(failed, TimebankError::Internal { .. }), "{failed}");
    assert!(failed.to_string().contains("nothing was changed"), "{failed}");
    assert_eq!(store.status().unwrap().visits, 0);
    clock.0.store(false, Ordering::SeqCst);
    store.check_in("e-2001".into(), "companionship".into(), None, None).unwrap();
    assert_eq!(store.status().unwrap().open_visits, 1);
    assert_eq!(*heard.0.lock().unwrap(), vec![timebank_mobile::types::Topic::Visits], "the listener survived the reload");
}
