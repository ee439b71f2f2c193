//! The records and enums the apps see, converted from the engine's types. Ids cross as
//! text, times as timestamps (`Instant` in Kotlin, `Date` in Swift, `datetime` in Python).

use std::time::SystemTime;

use chrono::{DateTime, Utc};
use timebank_engine::documents::desk;
use timebank_engine::model::{
    self as engine_model, ConfirmedBy as EngineConfirmedBy, OrderState as EngineOrderState, Response as EngineResponse,
    ReviewDecision as EngineReviewDecision, Role as EngineRole, ServiceKind as EngineServiceKind, VisitSource as EngineVisitSource,
};
use timebank_engine::sync::SyncReport as EngineSyncReport;
use timebank_engine::{Topic as EngineTopic, views};

/// A timestamp for the apps.
pub(crate) fn timestamp(at: DateTime<Utc>) -> SystemTime {
    at.into()
}

/// A timestamp from the apps.
pub(crate) fn from_timestamp(at: SystemTime) -> DateTime<Utc> {
    at.into()
}

/// An app-facing enum without data that mirrors an engine enum variant for variant.
macro_rules! mirror_enum {
    ($(#[$doc:meta])* $name:ident <=> $engine:ident { $($(#[$vdoc:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, uniffi::Enum)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl From<$engine> for $name {
            fn from(value: $engine) -> Self {
                match value {
                    $($engine::$variant => $name::$variant),+
                }
            }
        }

        impl From<$name> for $engine {
            fn from(value: $name) -> Self {
                match value {
                    $($name::$variant => $engine::$variant),+
                }
            }
        }
    };
}

mirror_enum!(
    /// A member's role at the station.
    Role <=> EngineRole {
        /// Gives visits and earns coins.
        Volunteer,
        /// Receives visits, places orders, spends coins.
        Elder,
        /// Dispatches orders and reviews visits for a station.
        Coordinator,
        /// Orders for the elders of their household.
        FamilyProxy,
    }
);

mirror_enum!(
    /// How a visit came to be recorded.
    VisitSource <=> EngineVisitSource {
        /// Checked in and out on the phone as it happened.
        Live,
        /// Logged afterwards from a paper record.
        Paper,
    }
);

mirror_enum!(
    /// Who confirmed that a visit happened.
    ConfirmedBy <=> EngineConfirmedBy {
        /// The elder, on the volunteer's phone.
        Elder,
        /// A family member, on the volunteer's phone.
        Family,
    }
);

mirror_enum!(
    /// Where an order stands: 点单 requested → 派单 dispatched → 接单 accepted or declined →
    /// visited → confirmed → settled, or cancelled.
    OrderState <=> EngineOrderState {
        /// Placed, waiting for a coordinator.
        Requested,
        /// Offered to a volunteer, no reply yet.
        Dispatched,
        /// The volunteer will go.
        Accepted,
        /// The volunteer cannot go; the coordinator dispatches again.
        Declined,
        /// A visit was logged for it.
        Visited,
        /// The elder confirmed the visit.
        Confirmed,
        /// The visit was approved and the coins posted.
        Settled,
        /// Cancelled before it was served.
        Cancelled,
    }
);

mirror_enum!(
    /// A volunteer's reply to an assignment.
    AssignmentResponse <=> EngineResponse {
        /// The volunteer will go.
        Accepted,
        /// The volunteer cannot go.
        Declined,
    }
);

mirror_enum!(
    /// What a coordinator decides about a visit.
    ReviewDecision <=> EngineReviewDecision {
        /// The visit happened as logged: it earns coins.
        Approve,
        /// Not accepted; the reason reaches the volunteer.
        Reject,
        /// Keep it in the queue for a closer look.
        Flag,
    }
);

mirror_enum!(
    /// Whether a service earns coins or is what coins buy.
    ServiceKind <=> EngineServiceKind {
        /// Given by volunteers; earns coins.
        Earning,
        /// Received in exchange for coins (兑换).
        Redeemable,
    }
);

mirror_enum!(
    /// What changed, so a screen refreshes only what it shows.
    Topic <=> EngineTopic {
        /// The visit list (check-in, check-out, confirmation, outcome).
        Visits,
        /// Orders placed for an elder.
        Orders,
        /// Assignments offered to a volunteer.
        Assignments,
        /// Redemption and gift requests.
        Requests,
        /// Balance and outcomes from the relay.
        Ledger,
        /// The station's catalogue, rules and notices.
        Station,
    }
);

/// Who this phone belongs to.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Identity {
    /// The member's id.
    pub member: String,
    /// Their station's id.
    pub station: String,
    /// Their role.
    pub role: Role,
    /// This device's id (hex).
    pub device: String,
}

impl From<&timebank_engine::Identity> for Identity {
    fn from(who: &timebank_engine::Identity) -> Self {
        Identity {
            member: who.member.to_string(),
            station: who.station.to_string(),
            role: who.role.into(),
            device: who.device.clone(),
        }
    }
}

/// Where a visit stands, as the volunteer sees it.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum VisitState {
    /// Checked in, not yet checked out.
    CheckedIn,
    /// On the phone only; it goes to the station at the next sync.
    SavedOnPhone,
    /// The relay has it; waiting for the station's review.
    Sent,
    /// A coordinator is looking at it.
    UnderReview { reason: String },
    /// Approved; coins posted.
    Approved,
    /// Rejected, with the coordinator's reason.
    Rejected { reason: String },
}

impl From<views::VisitState> for VisitState {
    fn from(state: views::VisitState) -> Self {
        match state {
            views::VisitState::CheckedIn => VisitState::CheckedIn,
            views::VisitState::SavedOnPhone => VisitState::SavedOnPhone,
            views::VisitState::Sent => VisitState::Sent,
            views::VisitState::UnderReview(reason) => VisitState::UnderReview { reason },
            views::VisitState::Approved => VisitState::Approved,
            views::VisitState::Rejected(reason) => VisitState::Rejected { reason },
        }
    }
}

/// The elder's (or family's) confirmation of a visit.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Confirmation {
    /// Who confirmed.
    pub by: ConfirmedBy,
    /// When.
    pub at: SystemTime,
}

/// A visit with its length and state.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Visit {
    /// The visit's id.
    pub id: String,
    /// Who served.
    pub volunteer: String,
    /// Who was served.
    pub elder: String,
    /// The elder's name, when the visit is for an order whose dispatch carried it.
    pub elder_name: Option<String>,
    /// Catalogue id of the service given.
    pub service: String,
    /// The order it fulfils, if any.
    pub order: Option<String>,
    /// Check-in time.
    pub check_in: SystemTime,
    /// Check-out time; none while checked in.
    pub check_out: Option<SystemTime>,
    /// Exact length in minutes, once checked out.
    pub minutes: Option<u32>,
    /// Live on the phone, or from paper.
    pub source: VisitSource,
    /// The volunteer's note.
    pub note: String,
    /// When it was entered on the phone.
    pub recorded_at: SystemTime,
    /// The elder's or family's confirmation.
    pub confirmation: Option<Confirmation>,
    /// Whether the elder's tag was tapped at check-in (the relay verifies it).
    pub tapped_in: bool,
    /// Whether the elder's tag was tapped at check-out.
    pub tapped_out: bool,
    /// Who co-signed it on their own phone (the elder or a household proxy), if anyone.
    pub cosigned_by: Option<String>,
    /// Where it stands.
    pub state: VisitState,
    /// The state in words ("saved on phone", "sent", "approved", "rejected: …").
    pub state_label: String,
}

impl From<views::VisitView> for Visit {
    fn from(view: views::VisitView) -> Self {
        let visit = view.visit;
        Visit {
            id: visit.id.to_string(),
            volunteer: visit.volunteer.to_string(),
            elder: visit.elder.to_string(),
            elder_name: view.elder_name,
            service: visit.service,
            order: visit.order.map(String::from),
            check_in: timestamp(visit.check_in),
            check_out: visit.check_out.map(timestamp),
            minutes: view.minutes,
            source: visit.source.into(),
            note: visit.note,
            recorded_at: timestamp(visit.recorded_at),
            confirmation: visit.confirmation.map(|c| Confirmation { by: c.by.into(), at: timestamp(c.at) }),
            tapped_in: visit.evidence.tap_in.is_some(),
            tapped_out: visit.evidence.tap_out.is_some(),
            cosigned_by: visit.evidence.cosignature.map(|s| s.signer.to_string()),
            state: view.state.into(),
            state_label: view.state_label,
        }
    }
}

/// A visit logged afterwards from a paper record.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct PastVisit {
    /// Who was served.
    pub elder: String,
    /// Catalogue id of the service.
    pub service: String,
    /// The order it fulfilled, if any.
    pub order: Option<String>,
    /// When it started.
    pub start: SystemTime,
    /// When it ended.
    pub end: SystemTime,
    /// Free text.
    pub note: String,
}

/// An order (点单) with its state.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Order {
    /// The order's id.
    pub id: String,
    /// Who is to be served.
    pub elder: String,
    /// Catalogue id of the service wanted.
    pub service: String,
    /// When, what is needed.
    pub note: String,
    /// Who placed it.
    pub requested_by: String,
    /// When it was placed.
    pub requested_at: SystemTime,
    /// The volunteer it was dispatched to.
    pub dispatched_to: Option<String>,
    /// When it was dispatched.
    pub dispatched_at: Option<SystemTime>,
    /// When it was cancelled.
    pub cancelled_at: Option<SystemTime>,
    /// The start of the time slot asked for, if one was.
    pub slot_start: Option<SystemTime>,
    /// The end of that slot.
    pub slot_end: Option<SystemTime>,
    /// Where it stands (for an elder's or family's phone, visited, confirmed and settled
    /// come from the elder's ledger).
    pub state: OrderState,
}

impl From<views::OrderView> for Order {
    fn from(view: views::OrderView) -> Self {
        let order = view.order;
        Order {
            id: order.id.to_string(),
            elder: order.elder.to_string(),
            service: order.service,
            note: order.note,
            requested_by: order.requested_by.to_string(),
            requested_at: timestamp(order.requested_at),
            dispatched_to: order.dispatched_to.map(String::from),
            dispatched_at: order.dispatched_at.map(timestamp),
            cancelled_at: order.cancelled_at.map(timestamp),
            slot_start: order.slot.map(|s| timestamp(s.start)),
            slot_end: order.slot.map(|s| timestamp(s.end)),
            state: view.state.into(),
        }
    }
}

/// An order offered to this volunteer (派单), with its state.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Assignment {
    /// The order offered.
    pub order: String,
    /// Who is to be served.
    pub elder: String,
    /// The elder's name as the dispatching coordinator knew it; none for dispatches
    /// made before names were copied (show the service then).
    pub elder_name: Option<String>,
    /// Catalogue id of the service.
    pub service: String,
    /// The order's note.
    pub note: String,
    /// The coordinator who dispatched it.
    pub offered_by: String,
    /// When.
    pub offered_at: SystemTime,
    /// The volunteer's reply, once given.
    pub response: Option<AssignmentResponse>,
    /// When the volunteer replied.
    pub responded_at: Option<SystemTime>,
    /// Why the volunteer declined.
    pub decline_reason: String,
    /// The start of the time slot the order asks for, if it asks for one.
    pub slot_start: Option<SystemTime>,
    /// The end of that slot.
    pub slot_end: Option<SystemTime>,
    /// The elder's home address, while the order is open for this volunteer (it leaves the
    /// phone with the order).
    pub elder_address: Option<String>,
    /// The elder's phone number, likewise.
    pub elder_phone: Option<String>,
    /// Where the order stands.
    pub state: OrderState,
}

impl From<views::AssignmentView> for Assignment {
    fn from(view: views::AssignmentView) -> Self {
        let a = view.assignment;
        Assignment {
            order: a.order.to_string(),
            elder: a.elder.to_string(),
            elder_name: a.elder_name,
            service: a.service,
            note: a.note,
            offered_by: a.offered_by.to_string(),
            offered_at: timestamp(a.offered_at),
            response: a.response.map(Into::into),
            responded_at: a.responded_at.map(timestamp),
            decline_reason: a.decline_reason,
            slot_start: a.slot.map(|s| timestamp(s.start)),
            slot_end: a.slot.map(|s| timestamp(s.end)),
            elder_address: view.elder_address,
            elder_phone: view.elder_phone,
            state: view.state.into(),
        }
    }
}

/// What coins are spent on.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum RequestKind {
    /// A redeemable service (兑换).
    Redeem { service: String },
    /// A gift to another member.
    Gift { to: String },
}

impl From<engine_model::RequestKind> for RequestKind {
    fn from(kind: engine_model::RequestKind) -> Self {
        match kind {
            engine_model::RequestKind::Redeem { service, .. } => RequestKind::Redeem { service },
            engine_model::RequestKind::Gift { to } => RequestKind::Gift { to: to.to_string() },
        }
    }
}

/// A redemption or gift request with where it stands.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SpendRequest {
    /// The request's id.
    pub id: String,
    /// Redemption or gift.
    pub kind: RequestKind,
    /// Amount in minutes (60 = one coin).
    pub minutes: u32,
    /// When it was made.
    pub created_at: SystemTime,
    /// "saved on phone", "sent", or the relay's decision ("accepted", "refused: …").
    pub state_label: String,
}

impl SpendRequest {
    pub(crate) fn new(request: engine_model::SpendRequest, state_label: String) -> Self {
        SpendRequest {
            id: request.id.to_string(),
            kind: request.kind.into(),
            minutes: request.minutes,
            created_at: timestamp(request.created_at),
            state_label,
        }
    }
}

impl From<views::RequestView> for SpendRequest {
    fn from(view: views::RequestView) -> Self {
        SpendRequest::new(view.request, view.state_label)
    }
}

/// An accepted redemption waiting for a coordinator to fulfil or release it.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct RedemptionToDecide {
    /// The member who asked.
    pub member: String,
    /// The request.
    pub request: SpendRequest,
}

/// The balance as far as this phone knows, in minutes (60 = one coin).
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Balance {
    /// Posted by the relay's ledger.
    pub confirmed_minutes: i64,
    /// Logged visits not yet decided.
    pub pending_minutes: i64,
    /// Held for redemptions and gifts not yet settled.
    pub reserved_minutes: i64,
    /// What can be spent now.
    pub available_minutes: i64,
}

impl From<views::Balance> for Balance {
    fn from(b: views::Balance) -> Self {
        Balance {
            confirmed_minutes: b.confirmed_minutes,
            pending_minutes: b.pending_minutes,
            reserved_minutes: b.reserved_minutes,
            available_minutes: b.available_minutes,
        }
    }
}

/// The store at a glance.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Status {
    /// Who this phone belongs to.
    pub identity: Identity,
    /// Visits on this phone.
    pub visits: u64,
    /// Visits checked in and not yet out.
    pub open_visits: u64,
    /// Local changes the relay has not acknowledged yet.
    pub unsynced_changes: u64,
    /// Documents held.
    pub documents: u64,
    /// Bytes on disk.
    pub store_bytes: u64,
    /// The relay this phone enrolled with, if it did.
    pub relay: Option<String>,
}

/// A coordinator's review of a visit.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Review {
    /// Approve, reject or flag.
    pub decision: ReviewDecision,
    /// The reason given.
    pub reason: String,
    /// The coordinator.
    pub by: String,
    /// When.
    pub at: SystemTime,
}

impl From<desk::Review> for Review {
    /// The review as the desk holds it (a decision this app does not know is not read).
    fn from(review: desk::Review) -> Self {
        Review { decision: review.decision.into(), reason: review.reason, by: review.by.to_string(), at: timestamp(review.at) }
    }
}

/// A visit in the coordinator's review queue.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ReviewItem {
    /// The visit.
    pub visit: Visit,
    /// The anomaly the relay found, if any.
    pub anomaly: Option<String>,
    /// The coordinators' review so far (a flag), if any.
    pub review: Option<Review>,
}

impl From<views::ReviewItem> for ReviewItem {
    fn from(item: views::ReviewItem) -> Self {
        ReviewItem { visit: item.visit.into(), anomaly: item.anomaly, review: item.review.map(Review::from) }
    }
}

/// One entry of the station's service catalogue.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Service {
    /// Stable id (`companionship`, ...).
    pub id: String,
    /// Name in Chinese.
    pub name_zh: String,
    /// Name in English.
    pub name_en: String,
    /// Earning or redeemable.
    pub kind: ServiceKind,
}

impl From<engine_model::Service> for Service {
    fn from(s: engine_model::Service) -> Self {
        Service { id: s.id, name_zh: s.name_zh, name_en: s.name_en, kind: s.kind.into() }
    }
}

/// What one sync did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, uniffi::Record)]
pub struct SyncReport {
    /// Request/response exchanges made.
    pub round_trips: u32,
    /// Bytes sent.
    pub bytes_up: u64,
    /// Bytes received.
    pub bytes_down: u64,
    /// Documents that received changes from the relay.
    pub docs_changed: u32,
    /// Local changes the relay acknowledged.
    pub changes_sent: u32,
    /// Changes received from the relay.
    pub changes_received: u32,
}

impl From<EngineSyncReport> for SyncReport {
    fn from(r: EngineSyncReport) -> Self {
        let small = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        SyncReport {
            round_trips: small(r.round_trips),
            bytes_up: r.bytes_up as u64,
            bytes_down: r.bytes_down as u64,
            docs_changed: small(r.docs_changed),
            changes_sent: small(r.changes_sent),
            changes_received: small(r.changes_received),
        }
    }
}
