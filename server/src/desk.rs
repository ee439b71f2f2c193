//! A station's documents as the relay holds them ([`StationDocs`]), and the coordinators'
//! decisions the console makes through [`Relay::write_as`]: review a visit or reverse its
//! review, place, dispatch or cancel an order, fulfil or release a redemption. Each is decided by the
//! rules a coordinator's phone applies (`timebank_engine::documents::coordinator`, one
//! copy, ADR 0022) and written with the same engine document helpers; the console's
//! `audit` entry for the decision (`None` for the demo and tests) is written in the same
//! transaction, or not at all when the decision is refused.

use std::collections::{BTreeMap, BTreeSet};

use automerge::Automerge;
use chrono::{DateTime, Utc};
use timebank_engine::DocId;
use timebank_engine::documents::coordinator::{self, Cancellation, Refused};
use timebank_engine::documents::{desk, member, station, view};
use timebank_engine::model::service::find_service;
use timebank_engine::model::{
    Assignment, MemberId, Order, OrderId, OrderState, RedemptionAction, RequestId, RequestKind, ReviewDecision, Role, Service,
    ServiceKind, Slot, SpendRequest, StationId, Visit, VisitId, text,
};

pub use timebank_engine::documents::coordinator::{cancellable, dispatchable};

use crate::error::AppError;
use crate::ledger::EventBody;
use crate::relay::Relay;
use crate::store::{AuditRecord, MemberRecord};

/// Every document of one station, as the relay holds them now: members', ledgers, the
/// station's and the desk. Read-only; pages and decisions read from it.
#[derive(Debug)]
pub struct StationDocs {
    /// The station.
    pub station: StationId,
    /// Its members, by id.
    pub members: Vec<MemberRecord>,
    /// Members of other stations who asked to redeem coins here (通存通兑), with their
    /// documents: only [`StationDocs::with_visitors`] finds them.
    pub visitors: Vec<MemberRecord>,
    /// Members who left the station for another (ADR 42), with their member documents,
    /// whose visits [`StationDocs::visits`] lists beside the members': only
    /// [`StationDocs::with_leavers`] finds them, for the figures, which place each visit.
    pub leavers: Vec<MemberRecord>,
    docs: BTreeMap<DocId, Automerge>,
}

impl StationDocs {
    /// Loads the documents of `station`.
    pub fn load(relay: &Relay, station: &StationId) -> Result<StationDocs, AppError> {
        let members = relay.store().station_members(station)?;
        let mut ids = vec![DocId::Station(station.clone()), DocId::Desk(station.clone())];
        for m in &members {
            ids.push(DocId::Member(m.id.clone()));
            ids.push(DocId::Ledger(m.id.clone()));
        }
        Ok(StationDocs { station: station.clone(), docs: relay.documents(&ids)?, members, visitors: Vec::new(), leavers: Vec::new() })
    }

    /// [`StationDocs::load`] and the members of other stations who asked to redeem here,
    /// found in the ledger's arrival log, with their member and ledger documents.
    pub fn with_visitors(relay: &Relay, station: &StationId) -> Result<StationDocs, AppError> {
        let mut docs = StationDocs::load(relay, station)?;
        let mut ids = BTreeSet::new();
        for record in relay.store().ledger_events(0)? {
            if let Ok(EventBody::Request(request)) = EventBody::decode(&record.body)
                && request.redeemed_at() == station
                && request.station != *station
            {
                ids.insert(request.member);
            }
        }
        let mut wanted = Vec::new();
        for id in ids {
            if let Some(visitor) = relay.store().member(&id)? {
                wanted.push(DocId::Member(id.clone()));
                wanted.push(DocId::Ledger(id));
                docs.visitors.push(visitor);
            }
        }
        docs.docs.extend(relay.documents(&wanted)?);
        Ok(docs)
    }

    /// [`StationDocs::load`] and `leavers`, members who left the station (ADR 42), with
    /// their member documents, where their visits given here are logged.
    pub fn with_leavers(relay: &Relay, station: &StationId, leavers: &[MemberId]) -> Result<StationDocs, AppError> {
        let mut docs = StationDocs::load(relay, station)?;
        let mut wanted = Vec::new();
        for id in leavers {
            if let Some(leaver) = relay.store().member(id)?.filter(|m| &m.station != station) {
                wanted.push(DocId::Member(id.clone()));
                docs.leavers.push(leaver);
            }
        }
        docs.docs.extend(relay.documents(&wanted)?);
        Ok(docs)
    }

    /// A member of another station who asked to redeem here.
    pub fn visitor(&self, id: &MemberId) -> Option<&MemberRecord> {
        self.visitors.iter().find(|m| &m.id == id)
    }

    /// A document of the station.
    pub fn get(&self, id: &DocId) -> Option<&Automerge> {
        self.docs.get(id)
    }

    /// The member `id` of this station.
    pub fn member(&self, id: &MemberId) -> Option<&MemberRecord> {
        self.members.iter().find(|m| &m.id == id)
    }

    /// A member's display name, or the id when the member is not of this station (nor left it).
    pub fn name(&self, id: &MemberId) -> String {
        self.member(id)
            .or_else(|| self.leavers.iter().find(|m| &m.id == id))
            .map_or_else(|| id.to_string(), |m| m.display_name.clone())
    }

    /// Every visit logged by the station's members (and the leavers loaded), oldest check-in first.
    pub fn visits(&self) -> Vec<Visit> {
        let mut all: Vec<Visit> = self
            .members
            .iter()
            .chain(&self.leavers)
            .filter_map(|m| Some(member::visits(self.get(&DocId::Member(m.id.clone()))?, &m.id)))
            .flatten()
            .collect();
        all.sort_by(|a, b| a.check_in.cmp(&b.check_in).then_with(|| a.id.cmp(&b.id)));
        all
    }

    /// The visit `id`, if a member of this station logged it.
    pub fn visit(&self, id: &VisitId) -> Option<Visit> {
        self.members.iter().find_map(|m| member::visit(self.get(&DocId::Member(m.id.clone()))?, &m.id, id))
    }

    /// The coordinators' review of a visit that stands, if there is one (a reversed review
    /// stands no more: the visit waits again).
    pub fn review(&self, visit: &VisitId) -> Option<desk::Review> {
        desk::standing_review(self.get(&DocId::Desk(self.station.clone()))?, visit)
    }

    /// The reversal of a visit's review, while it holds.
    pub fn reversal(&self, visit: &VisitId) -> Option<desk::Reversal> {
        desk::reversal(self.get(&DocId::Desk(self.station.clone()))?, visit)
    }

    /// The ledger's outcome of `subject` (a visit or request) of `member`: status, reason.
    pub fn outcome(&self, member: &MemberId, subject: &str) -> Option<timebank_engine::documents::ledger::Outcome> {
        timebank_engine::documents::ledger::outcome(self.get(&DocId::Ledger(member.clone()))?, subject)
    }

    /// Every order of the station's elders with its state, oldest first.
    pub fn orders(&self) -> Vec<(Order, OrderState)> {
        let mut all: Vec<(Order, OrderState)> = self
            .members
            .iter()
            .filter_map(|m| self.get(&DocId::Member(m.id.clone())))
            .flat_map(member::orders)
            .map(|order| {
                let state = OrderState::derive(&view::order_facts(|id| self.get(id), &order));
                (order, state)
            })
            .collect();
        all.sort_by(|a, b| a.0.requested_at.cmp(&b.0.requested_at).then_with(|| a.0.id.cmp(&b.0.id)));
        all
    }

    /// The order `id` with its state, if it is one of this station's.
    pub fn order(&self, id: &OrderId) -> Option<(Order, OrderState)> {
        self.orders().into_iter().find(|(o, _)| &o.id == id)
    }

    /// The assignment (offer and reply) of `order` in the volunteer's document.
    pub fn assignment(&self, order: &Order) -> Option<Assignment> {
        let volunteer = order.dispatched_to.as_ref()?;
        member::assignments(self.get(&DocId::Member(volunteer.clone()))?).into_iter().find(|a| a.order == order.id)
    }

    /// The station's service catalogue.
    pub fn catalogue(&self) -> Vec<Service> {
        self.get(&DocId::Station(self.station.clone())).map_or_else(timebank_engine::model::default_catalogue, station::catalogue)
    }

    /// Every spend request this station decides: its members' (but their redemptions
    /// asked at another station), and the visitors' redemptions asked here: (member, request).
    pub fn requests(&self) -> Vec<(MemberId, SpendRequest)> {
        // A redemption asked at a station is that station's; anything else, the member's own.
        let decides = |member: &MemberId, r: &SpendRequest| match &r.kind {
            RequestKind::Redeem { at: Some(at), .. } => *at == self.station,
            _ => self.member(member).is_some(),
        };
        self.members
            .iter()
            .chain(&self.visitors)
            .filter_map(|m| Some((m, self.get(&DocId::Member(m.id.clone()))?)))
            .flat_map(|(m, doc)| member::requests(doc).into_iter().map(|r| (m.id.clone(), r)))
            .filter(|(member, r)| decides(member, r))
            .collect()
    }
}

/// The station coordinator `author` writes at, or 403 when they are not a coordinator.
fn station_of(relay: &Relay, author: &MemberId) -> Result<StationId, AppError> {
    match relay.store().member(author)? {
        Some(m) if m.role == Role::Coordinator => Ok(m.station),
        _ => Err(AppError::Forbidden(format!("{author} is not a coordinator; nothing was changed"))),
    }
}

fn invalid(error: timebank_engine::Error) -> AppError {
    AppError::BadRequest(format!("{error}; nothing was changed"))
}

/// A refusal by the coordinators' rules: 409 when the record's state forbids it, 400 when
/// the decision itself breaks a rule.
fn refused(refusal: Refused) -> AppError {
    match refusal {
        Refused::State(why) => AppError::Conflict(format!("{why}; nothing was changed")),
        Refused::Input(why) => AppError::BadRequest(format!("{why}; nothing was changed")),
    }
}

fn not_found(what: &str, id: &str) -> AppError {
    AppError::NotFound(format!("{what} {id} was not found at your station; nothing was changed"))
}

/// Checks that `id` is a member of the station in `role`: 404 when not at the station,
/// 400 (saying `rule`) when they have another role.
fn member_as(docs: &StationDocs, id: &MemberId, role: Role, rule: &str) -> Result<(), AppError> {
    match docs.member(id) {
        Some(m) if m.role == role => Ok(()),
        Some(m) => Err(AppError::BadRequest(format!(
            "{} is a {}, not a{} {}; {rule}. Nothing was changed",
            m.display_name,
            m.role.as_str(),
            if role.as_str().starts_with(['a', 'e', 'i', 'o', 'u']) { "n" } else { "" },
            role.as_str()
        ))),
        None => Err(not_found(role.as_str(), id.as_str())),
    }
}

fn now_utc(relay: &Relay) -> DateTime<Utc> {
    relay.clock().now()
}

/// Records coordinator `author`'s review of `visit` in the station desk; the ledger acts on
/// it at once (approval earns the coins), and phones see it at their next sync.
pub fn review_visit(
    relay: &Relay,
    author: &MemberId,
    visit: &VisitId,
    decision: ReviewDecision,
    reason: &str,
    audit: Option<AuditRecord>,
) -> Result<(), AppError> {
    review_visits(relay, author, std::slice::from_ref(visit), decision, reason, audit)
}

/// Records the same review of every visit in `visits` in one change: all of them or,
/// when one is unknown or still open, none.
pub fn review_visits(
    relay: &Relay,
    author: &MemberId,
    visits: &[VisitId],
    decision: ReviewDecision,
    reason: &str,
    audit: Option<AuditRecord>,
) -> Result<(), AppError> {
    let station = station_of(relay, author)?;
    decision.check_reason(reason).map_err(invalid)?;
    let docs = StationDocs::load(relay, &station)?;
    let now = now_utc(relay);
    let mut reviews = Vec::with_capacity(visits.len());
    let desk_doc = docs.get(&DocId::Desk(station.clone()));
    for visit in visits {
        let found = docs.visit(visit).ok_or_else(|| not_found("visit", visit.as_str()))?;
        let recorded = desk_doc.and_then(|d| desk::review_record(d, visit));
        reviews.push((visit, coordinator::review(&found, recorded.as_ref(), decision, reason, author.clone(), now).map_err(refused)?));
    }
    relay.write_as(
        author,
        &[(DocId::Desk(station), &|tx| reviews.iter().try_for_each(|(visit, review)| desk::put_review(tx, visit, review)))],
        audit,
    )
}

/// Reverses the standing approval or rejection of `visit` with `reason`: the visit goes
/// back to the queue, and the ledger takes back what an approval earned (reversal
/// postings) at once; the volunteer's phone sees both at its next sync.
pub fn reverse_review(
    relay: &Relay,
    author: &MemberId,
    visit: &VisitId,
    reason: &str,
    audit: Option<AuditRecord>,
) -> Result<(), AppError> {
    let station = station_of(relay, author)?;
    let docs = StationDocs::load(relay, &station)?;
    let found = docs.visit(visit).ok_or_else(|| not_found("visit", visit.as_str()))?;
    let reversal =
        coordinator::reverse(&found, docs.review(visit).as_ref(), reason, author.clone(), now_utc(relay)).map_err(refused)?;
    relay.write_as(author, &[(DocId::Desk(station), &|tx| desk::put_reversal(tx, visit, &reversal))], audit)
}

/// A time slot as asked for: its start and end, not yet checked.
pub type SlotTimes = (DateTime<Utc>, DateTime<Utc>);

/// An order as a coordinator asks for it: for whom, what, and when.
#[derive(Clone, Debug)]
pub struct NewOrder<'a> {
    /// The elder.
    pub elder: &'a MemberId,
    /// The service (a catalogue id).
    pub service: &'a str,
    /// What is needed.
    pub note: &'a str,
    /// The time slot asked for, if any.
    pub slot: Option<SlotTimes>,
}

/// Places an order (点单) for `elder` of the coordinator's station, for any time; the
/// `audit` entry's target becomes the new order's id.
pub fn place_order(
    relay: &Relay,
    author: &MemberId,
    elder: &MemberId,
    service: &str,
    note: &str,
    audit: Option<AuditRecord>,
) -> Result<OrderId, AppError> {
    place_order_for(relay, author, &NewOrder { elder, service, note, slot: None }, audit)
}

/// Places an order (点单) for an elder of the coordinator's station in a time slot if
/// given ([`Slot::new`]: still to come, at most 12 hours); the `audit` entry's target
/// becomes the new order's id.
pub fn place_order_for(relay: &Relay, author: &MemberId, new: &NewOrder<'_>, audit: Option<AuditRecord>) -> Result<OrderId, AppError> {
    let NewOrder { elder, service, note, slot } = new.clone();
    let station = station_of(relay, author)?;
    let docs = StationDocs::load(relay, &station)?;
    member_as(&docs, elder, Role::Elder, "orders are placed for elders")?;
    find_service(&docs.catalogue(), service, ServiceKind::Earning).map_err(invalid)?;
    text::check_note(note.trim()).map_err(invalid)?;
    let now = now_utc(relay);
    let slot = slot.map(|(start, end)| Slot::new(start, end, now)).transpose().map_err(invalid)?;
    let order = Order::place(elder.clone(), service, note.trim(), author.clone(), now).for_slot(slot);
    let audit = audit.map(|entry| AuditRecord { target: order.id.to_string(), ..entry });
    relay.write_as(author, &[(DocId::Member(elder.clone()), &|tx| member::put_order(tx, &order))], audit)?;
    Ok(order.id)
}

/// Dispatches an order (派单) to `volunteer`: the elder's order and the volunteer's
/// assignment, in one write. The assignment carries the elder's display name as the
/// relay's member register knows it, for that volunteer only (ADR 0021).
pub fn dispatch(
    relay: &Relay,
    author: &MemberId,
    order: &OrderId,
    volunteer: &MemberId,
    audit: Option<AuditRecord>,
) -> Result<(), AppError> {
    let station = station_of(relay, author)?;
    let docs = StationDocs::load(relay, &station)?;
    let (found, state) = docs.order(order).ok_or_else(|| not_found("order", order.as_str()))?;
    let role = docs.member(volunteer).ok_or_else(|| not_found(Role::Volunteer.as_str(), volunteer.as_str()))?.role;
    let now = now_utc(relay);
    let elder_name = docs.member(&found.elder).map(|m| m.display_name.as_str());
    let assignment = coordinator::dispatch(&found, state, volunteer, Some(role), elder_name, author.clone(), now).map_err(refused)?;
    relay.write_as(
        author,
        &[
            (DocId::Member(found.elder.clone()), &|tx| member::put_order_dispatch(tx, order, volunteer, now)),
            (DocId::Member(volunteer.clone()), &|tx| member::put_assignment(tx, &assignment)),
        ],
        audit,
    )
}

/// Cancels an order that has not been served. Cancelling a cancelled order changes nothing
/// (its `audit` entry is still written, as for any decision that changes nothing).
pub fn cancel_order(relay: &Relay, author: &MemberId, order: &OrderId, audit: Option<AuditRecord>) -> Result<(), AppError> {
    let station = station_of(relay, author)?;
    let docs = StationDocs::load(relay, &station)?;
    let (found, state) = docs.order(order).ok_or_else(|| not_found("order", order.as_str()))?;
    if coordinator::cancel(order, state).map_err(refused)? == Cancellation::AlreadyCancelled {
        return relay.write_as(author, &[], audit);
    }
    let now = now_utc(relay);
    relay.write_as(author, &[(DocId::Member(found.elder), &|tx| member::put_order_cancel(tx, order, now))], audit)
}

/// Records that an accepted redemption was given (fulfil) or will not be (release).
pub fn decide_redemption(
    relay: &Relay,
    author: &MemberId,
    request: &RequestId,
    action: RedemptionAction,
    audit: Option<AuditRecord>,
) -> Result<(), AppError> {
    let station = station_of(relay, author)?;
    let docs = StationDocs::with_visitors(relay, &station)?;
    let (member, found) =
        docs.requests().into_iter().find(|(_, r)| &r.id == request).ok_or_else(|| not_found("request", request.as_str()))?;
    let desk_id = DocId::Desk(station);
    let decided = docs.get(&desk_id).and_then(|d| desk::decision(d, request));
    let status = view::outcome_status(|id| docs.get(id), &member, request.as_str());
    let decision =
        coordinator::decide_redemption(&found, decided.as_ref(), status, action, author.clone(), now_utc(relay)).map_err(refused)?;
    relay.write_as(author, &[(desk_id, &|tx| desk::put_decision(tx, request, &decision))], audit)
}
