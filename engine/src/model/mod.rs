//! The domain model: pure types and rules, no I/O.

pub mod enroll_link;
pub mod evidence;
pub mod ids;
pub mod member;
pub mod order;
pub mod outcome;
pub mod request;
pub mod review;
pub mod service;
pub mod text;
pub mod visit;

pub use enroll_link::EnrollLink;
pub use evidence::{CoSignature, Evidence, TAG_URL, Tap, VerifiedVisits, VisitEnd, VisitSummary};
pub use ids::{DistrictId, HouseholdId, MemberId, OrderId, RequestId, StationId, VisitId};
pub use member::{Profile, Role, Verification};
pub use order::{Assignment, Order, OrderFacts, OrderState, Response, Slot};
pub use outcome::OutcomeStatus;
pub use request::{RedemptionAction, RequestKind, SpendRequest};
pub use review::ReviewDecision;
pub use service::{Service, ServiceKind, default_catalogue};
pub use visit::{BackEntered, Confirmation, ConfirmedBy, Visit, VisitRules, VisitSource, entered_late};
