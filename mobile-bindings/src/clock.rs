//! The phone's own monotonic clock, passed in by the app where the engine cannot read one
//! itself (iOS has no `/proc/uptime`; Android's matches the engine's own reading). A
//! visit's length then comes from it, whatever happens to the wall clock mid-visit.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use timebank_engine::{Clock, MonotonicReading, SystemClock};

/// Implemented by the app: the time since the phone booted, counting sleep (Android
/// `SystemClock.elapsedRealtime()`, iOS `clock_gettime_nsec_np(CLOCK_MONOTONIC_RAW)` / 1e6
/// with sleep, or `ProcessInfo.systemUptime`), and an id of this boot.
#[uniffi::export(with_foreign)]
pub trait PlatformClock: Send + Sync {
    /// Milliseconds since boot, or none if the platform cannot say.
    fn since_boot_ms(&self) -> Option<u64>;
    /// Changes at every boot (Android `Settings.Global.BOOT_COUNT`, iOS `kern.boottime`),
    /// so readings of different boots are never compared.
    fn boot_id(&self) -> String;
}

/// The engine's clock: the system's wall clock, the app's monotonic clock.
pub(crate) struct AppClock(pub(crate) Arc<dyn PlatformClock>);

impl std::fmt::Debug for AppClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppClock").finish_non_exhaustive()
    }
}

impl Clock for AppClock {
    fn now(&self) -> DateTime<Utc> {
        SystemClock.now()
    }

    fn monotonic(&self) -> Option<MonotonicReading> {
        let millis = self.0.since_boot_ms()?;
        Some(MonotonicReading { boot: self.0.boot_id(), millis })
    }
}

/// The app's clock if it passed one, else the system's.
pub(crate) fn engine_clock(clock: Option<Arc<dyn PlatformClock>>) -> Arc<dyn Clock> {
    match clock {
        Some(clock) => Arc::new(AppClock(clock)),
        None => Arc::new(SystemClock),
    }
}
