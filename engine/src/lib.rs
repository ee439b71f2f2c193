//! timebank-engine: the offline-first core that runs on volunteers' phones and in the CLI.
//!
//! Layers, each in its own module: [`model`] (pure domain types and rules) →
//! [`documents`] (typed views over automerge documents, and the coordinators' rules) →
//! [`storage`] (the only module that touches SQLite) → the engine ([`Engine`], the API the
//! apps call) with [`sync`] (the device's side of sync and the wire format) and, with the
//! feature `http`, the relay client ([`http`]) and the live channel's [`watch`]. Public are
//! what the CLI, the relay, the bindings and the tests use: the model, the documents, the
//! wire, the store's file name, schema and acknowledged heads; the rest through [`Engine`]
//! and the types re-exported here.
//!
//! ```no_run
//! use timebank_engine::{Engine, NewIdentity, model::{MemberId, Role, StationId}};
//! # fn main() -> timebank_engine::Result<()> {
//! let dir = std::path::Path::new("/tmp/phone");
//! let mut engine = Engine::create(dir, NewIdentity {
//!     member: MemberId::parse("v-1001")?,
//!     station: StationId::parse("s-caoyang")?,
//!     role: Role::Volunteer,
//! })?;
//! let visit = engine.start_visit(&MemberId::parse("e-2001")?, "companionship", None)?;
//! // ... an hour later, even after the app was killed:
//! let mut engine = Engine::open(dir)?;
//! let done = engine.end_visit(&visit, None, Some("read the newspaper together"))?;
//! assert_eq!(done.state_label, "saved on phone");
//! # Ok(()) }
//! ```

mod clock;
pub mod documents;
mod engine;
mod error;
#[cfg(feature = "http")]
pub mod http;
pub mod model;
mod notify;
pub mod signing;
pub mod storage;
pub mod sync;
pub mod views;
#[cfg(feature = "http")]
pub mod watch;

pub use clock::{Clock, MonotonicReading, SystemClock};
pub use documents::DocId;
pub use engine::{COMPACT_AFTER_CHUNKS, Engine, Enrollment, Identity, NewIdentity, PastVisit, RelayLink};
pub use error::{Error, Result};
pub use notify::{Listener, Subscription, Topic};
pub use views::{AssignmentView, Balance, OrderView, RequestView, ReviewItem, Status, VisitState, VisitView};

/// A fresh automerge actor id (hex) for a device about to enroll.
pub fn new_device_actor() -> String {
    automerge::ActorId::random().to_hex_string()
}
