//! What the screens show: visits, orders, assignments and requests with their state, the
//! balance as far as this device knows, and the store's status.

use serde::{Deserialize, Serialize};

use crate::documents::ledger::Outcome;
use crate::model::{Assignment, Order, OrderState, OutcomeStatus, SpendRequest, Visit};

/// Where a visit stands, in the words the volunteer sees.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", content = "reason", rename_all = "kebab-case")]
pub enum VisitState {
    /// Checked in, not yet checked out.
    CheckedIn,
    /// On the phone only; it goes to the station at the next sync.
    SavedOnPhone,
    /// The relay has it; waiting for the station's review.
    Sent,
    /// A coordinator is looking at it (the reason says why).
    UnderReview(String),
    /// Approved; coins posted.
    Approved,
    /// Rejected, with the coordinator's reason.
    Rejected(String),
}

impl VisitState {
    /// Derives the state from the visit, the relay's outcome and whether this device
    /// still has changes to it that the relay has not acknowledged.
    pub fn derive(visit: &Visit, outcome: Option<&Outcome>, unsynced: bool) -> VisitState {
        if visit.is_open() {
            return VisitState::CheckedIn;
        }
        match outcome.map(|o| (o.status, o)) {
            Some((OutcomeStatus::Approved, _)) => VisitState::Approved,
            Some((OutcomeStatus::Rejected, o)) => VisitState::Rejected(o.reason.clone()),
            Some((OutcomeStatus::UnderReview, o)) => VisitState::UnderReview(o.reason.clone()),
            _ if unsynced => VisitState::SavedOnPhone,
            _ => VisitState::Sent,
        }
    }

    /// The label shown on screen and in `timebank visits`.
    pub fn label(&self) -> String {
        match self {
            VisitState::CheckedIn => "checked in".into(),
            VisitState::SavedOnPhone => "saved on phone".into(),
            VisitState::Sent => "sent".into(),
            VisitState::UnderReview(reason) => format!("under review: {reason}"),
            VisitState::Approved => OutcomeStatus::Approved.as_str().into(),
            VisitState::Rejected(reason) => format!("rejected: {reason}"),
        }
    }
}

/// A visit with its length and state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VisitView {
    /// The visit as recorded.
    #[serde(flatten)]
    pub visit: Visit,
    /// The elder's display name, when the visit is for an order whose dispatch carried it
    /// (ADR 0021); `None` otherwise.
    pub elder_name: Option<String>,
    /// Exact logged length in minutes, once checked out.
    pub minutes: Option<u32>,
    /// Where it stands.
    pub state: VisitState,
    /// `state` in words.
    pub state_label: String,
}

/// An order with its derived state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrderView {
    /// The order as placed.
    #[serde(flatten)]
    pub order: Order,
    /// Where it stands.
    pub state: OrderState,
}

/// An assignment offered to this volunteer, with the order's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AssignmentView {
    /// The assignment as offered.
    #[serde(flatten)]
    pub assignment: Assignment,
    /// Where the order stands as far as this phone knows.
    pub state: OrderState,
    /// The elder's home address, while the order is open for this volunteer and the relay
    /// sent it (ADR 31); kept outside the documents.
    pub elder_address: Option<String>,
    /// The elder's phone number, likewise.
    pub elder_phone: Option<String>,
}

/// A redemption or gift request with the relay's decision, once known.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RequestView {
    /// The request as made.
    #[serde(flatten)]
    pub request: SpendRequest,
    /// `saved on phone`, `sent`, or the relay's outcome (`accepted`, `refused: …`).
    pub state_label: String,
}

/// The balance as far as this device knows, in minutes (60 = one coin).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Balance {
    /// Posted by the relay's ledger.
    pub confirmed_minutes: i64,
    /// Logged visits the ledger has not yet decided on (what may still be earned).
    pub pending_minutes: i64,
    /// Held for redemptions and gifts not yet settled.
    pub reserved_minutes: i64,
    /// What can be spent now: confirmed less reserved.
    pub available_minutes: i64,
}

/// A visit in a coordinator's review queue, with what the desk and the ledger say of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReviewItem {
    /// The visit and its state as its volunteer's phone would show it.
    #[serde(flatten)]
    pub visit: VisitView,
    /// The anomaly the relay found, if any (the ledger's `under-review` reason).
    pub anomaly: Option<String>,
    /// The coordinators' review so far, if any.
    pub review: Option<crate::documents::desk::Review>,
}

/// The store at a glance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Status {
    /// The member this device belongs to.
    pub member: String,
    /// Their station.
    pub station: String,
    /// Their role.
    pub role: String,
    /// This device's actor id (hex).
    pub device: String,
    /// Visits on this device.
    pub visits: usize,
    /// Visits checked in and not yet out.
    pub open_visits: usize,
    /// Local changes the relay has not acknowledged.
    pub unsynced_changes: u64,
    /// Documents held.
    pub documents: usize,
    /// Bytes on disk.
    pub store_bytes: u64,
}
