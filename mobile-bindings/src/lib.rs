//! timebank-mobile: the engine for the volunteers' Android and iOS apps, through uniffi.
//!
//! Mainly small wrappers: [`TimebankStore`] holds one phone's engine; its records and enums
//! are in [`types`]; every failure is one [`TimebankError`]; [`ChangeListener`] and
//! [`ChangeSubscription`] carry change notifications; [`SyncCancel`] stops a sync;
//! [`PlatformClock`] lends the engine the phone's monotonic clock; [`LiveWatch`] holds the
//! relay's live channel and syncs on each hint.
//! `scripts/build-bindings.sh` generates the Kotlin, Swift and Python bindings.

uniffi::setup_scaffolding!();

pub mod clock;
pub mod error;
pub mod listener;
pub mod store;
pub mod sync;
pub mod types;
pub mod watch;

pub use clock::PlatformClock;
pub use error::TimebankError;
pub use listener::{ChangeListener, ChangeSubscription};
pub use store::TimebankStore;
pub use sync::{Interruptible, SyncCancel};
pub use watch::{LiveWatch, WatchEvent};
