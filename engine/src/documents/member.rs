//! The `member/<id>` document: profile, visits, orders (点单), assignments (派单/接单) and requests.

use automerge::transaction::Transactable;
use automerge::{AutomergeError, ObjId, ROOT, ReadDoc};
use chrono::{DateTime, Utc};

use crate::documents::fields::{Fields, entries, i64_at, map_at, put_opt_str, put_time, record, str_at, time_at, u64_at};
use crate::model::{
    Assignment, CoSignature, Confirmation, ConfirmedBy, Evidence, HouseholdId, MemberId, Order, OrderId, Profile, RequestId,
    RequestKind, Response, Role, Slot, SpendRequest, StationId, Tap, Verification, Visit, VisitEnd, VisitId, VisitSource,
};

/// Map of profile fields.
pub const PROFILE: &str = "profile";
/// Map of visit id → visit.
pub const VISITS: &str = "visits";
/// Map of order id → order placed for this member (an elder).
pub const ORDERS: &str = "orders";
/// Map of order id → dispatch offered to this member (a volunteer).
pub const ASSIGNMENTS: &str = "assignments";
/// Map of request id → redemption or gift request.
pub const REQUESTS: &str = "requests";

// ----- profile -----

/// Writes the profile fields.
pub fn put_profile(tx: &mut impl Transactable, profile: &Profile) -> Result<(), AutomergeError> {
    let obj = profile_obj(tx)?;
    tx.put(&obj, "id", profile.id.as_str())?;
    tx.put(&obj, "role", profile.role.as_str())?;
    tx.put(&obj, "station", profile.station.as_str())?;
    tx.put(&obj, "display_name", profile.display_name.as_str())?;
    if let Some(year) = profile.birth_year {
        tx.put(&obj, "birth_year", u64::from(year))?;
    }
    put_opt_str(tx, &obj, "household", profile.household.as_ref().map(HouseholdId::as_str))?;
    tx.put(&obj, "verification", profile.verification.as_str())
}

/// Writes the member's station into the profile: the relay, when the member moves to
/// another station (ADR 42); their phone follows it at its next sync.
pub fn put_station(tx: &mut impl Transactable, station: &StationId) -> Result<(), AutomergeError> {
    let obj = profile_obj(tx)?;
    tx.put(&obj, "station", station.as_str())
}

fn profile_obj(tx: &mut impl Transactable) -> Result<ObjId, AutomergeError> {
    match map_at(tx, &ROOT, PROFILE) {
        Some(id) => Ok(id),
        None => tx.put_object(ROOT, PROFILE, automerge::ObjType::Map),
    }
}

/// The member's display name from the profile, if one was written and is not blank.
pub fn display_name(doc: &impl ReadDoc) -> Option<String> {
    profile(doc).map(|p| p.display_name.trim().to_owned()).filter(|n| !n.is_empty())
}

/// Reads the profile, if one was written.
pub fn profile(doc: &impl ReadDoc) -> Option<Profile> {
    let obj = map_at(doc, &ROOT, PROFILE)?;
    Some(Profile {
        id: MemberId::parse(&str_at(doc, &obj, "id")?).ok()?,
        role: Role::parse(&str_at(doc, &obj, "role")?).ok()?,
        station: StationId::parse(&str_at(doc, &obj, "station")?).ok()?,
        display_name: str_at(doc, &obj, "display_name").unwrap_or_default(),
        birth_year: u64_at(doc, &obj, "birth_year").and_then(|y| u16::try_from(y).ok()),
        household: str_at(doc, &obj, "household").and_then(|h| HouseholdId::parse(&h).ok()),
        verification: Verification::parse(&str_at(doc, &obj, "verification").unwrap_or_default()),
    })
}

// ----- visits -----

/// Writes a new visit (check-in, or a whole paper visit). The volunteer (the document's
/// member) and the device (the change's actor) are not stored again: every byte of a
/// visit travels over the mobile network. An empty note is not written, and a live
/// visit's entry time is its check-in.
pub fn put_visit(tx: &mut impl Transactable, visit: &Visit) -> Result<(), AutomergeError> {
    let obj = record(tx, &ROOT, VISITS, visit.id.as_str())?;
    tx.put(&obj, "elder", visit.elder.as_str())?;
    tx.put(&obj, "service", visit.service.as_str())?;
    put_opt_str(tx, &obj, "order", visit.order.as_ref().map(OrderId::as_str))?;
    put_time(tx, &obj, "check_in", visit.check_in)?;
    if let Some(out) = visit.check_out {
        put_time(tx, &obj, "check_out", out)?;
    }
    if let Some(ms) = visit.monotonic_ms {
        tx.put(&obj, "monotonic_ms", ms)?;
    }
    tx.put(&obj, "source", visit.source.as_str())?;
    put_opt_str(tx, &obj, "note", Some(visit.note.as_str()).filter(|n| !n.is_empty()))?;
    if visit.recorded_at != visit.check_in {
        put_time(tx, &obj, "recorded_at", visit.recorded_at)?;
    }
    put_opt_str(tx, &obj, TAP_IN, visit.evidence.tap_in.as_ref().map(Tap::stored).as_deref())?;
    put_opt_str(tx, &obj, TAP_OUT, visit.evidence.tap_out.as_ref().map(Tap::stored).as_deref())?;
    put_opt_str(tx, &obj, COSIGNATURE, visit.evidence.cosignature.as_ref().map(CoSignature::text).as_deref())
}

/// A visit's field holding the tap of the elder's tag at check-in (`picc_data:cmac`, hex).
pub const TAP_IN: &str = "tap_in";
/// A visit's field holding the tap at check-out.
pub const TAP_OUT: &str = "tap_out";
/// A visit's field holding the elder's phone's co-signature (its text form, `TBS1|…`).
pub const COSIGNATURE: &str = "cosignature";

/// Records a tap of the elder's tag at one end of a visit.
pub fn put_tap(tx: &mut impl Transactable, visit: &VisitId, end: VisitEnd, tap: &Tap) -> Result<(), AutomergeError> {
    let obj = record(tx, &ROOT, VISITS, visit.as_str())?;
    let field = match end {
        VisitEnd::CheckIn => TAP_IN,
        VisitEnd::CheckOut => TAP_OUT,
    };
    tx.put(&obj, field, tap.stored())
}

/// Records the elder's phone's co-signature of a visit.
pub fn put_cosignature(tx: &mut impl Transactable, visit: &VisitId, signature: &CoSignature) -> Result<(), AutomergeError> {
    let obj = record(tx, &ROOT, VISITS, visit.as_str())?;
    tx.put(&obj, COSIGNATURE, signature.text())
}

/// Records the check-out of an open visit, at `at`, entered at `entered` (written only when
/// it differs: a check-out back-dated with `--at`).
pub fn put_check_out(
    tx: &mut impl Transactable,
    visit: &VisitId,
    at: DateTime<Utc>,
    entered: DateTime<Utc>,
    monotonic_ms: Option<u64>,
    note: Option<&str>,
) -> Result<(), AutomergeError> {
    let obj = record(tx, &ROOT, VISITS, visit.as_str())?;
    put_time(tx, &obj, "check_out", at)?;
    if entered != at {
        put_time(tx, &obj, "check_out_recorded_at", entered)?;
    }
    if let Some(ms) = monotonic_ms {
        tx.put(&obj, "monotonic_ms", ms)?;
    }
    put_opt_str(tx, &obj, "note", note)
}

/// Records the elder's or family's confirmation.
pub fn put_confirmation(tx: &mut impl Transactable, visit: &VisitId, confirmation: &Confirmation) -> Result<(), AutomergeError> {
    let obj = record(tx, &ROOT, VISITS, visit.as_str())?;
    tx.put(&obj, "confirmed_by", confirmation.by.as_str())?;
    put_time(tx, &obj, "confirmed_at", confirmation.at)
}

/// Reads one visit of `volunteer`'s document; `None` if it is missing or incomplete.
pub fn visit(doc: &impl ReadDoc, volunteer: &MemberId, id: &VisitId) -> Option<Visit> {
    visits_named(doc, volunteer, [id]).pop()
}

/// Reads the visits `ids` of `volunteer`'s document, in the order given, leaving out the
/// missing and incomplete ones; the visits' map is looked up once for all of them.
pub fn visits_named<'i>(doc: &impl ReadDoc, volunteer: &MemberId, ids: impl IntoIterator<Item = &'i VisitId>) -> Vec<Visit> {
    let mut ids = ids.into_iter().peekable();
    // Finding the collection is a seek through the document: not done for no visit.
    if ids.peek().is_none() {
        return Vec::new();
    }
    let Some(visits) = map_at(doc, &ROOT, VISITS) else { return Vec::new() };
    ids.filter_map(|id| read_visit(doc, volunteer, id.as_str(), &map_at(doc, &visits, id.as_str())?)).collect()
}

/// Reads every visit of `volunteer`'s document, oldest check-in first.
pub fn visits(doc: &impl ReadDoc, volunteer: &MemberId) -> Vec<Visit> {
    let mut all: Vec<Visit> = entries(doc, &ROOT, VISITS).iter().filter_map(|(id, obj)| read_visit(doc, volunteer, id, obj)).collect();
    all.sort_by(|a, b| a.check_in.cmp(&b.check_in).then_with(|| a.id.cmp(&b.id)));
    all
}

fn read_visit(doc: &impl ReadDoc, volunteer: &MemberId, id: &str, obj: &ObjId) -> Option<Visit> {
    visit_from(&Fields::of(doc, obj), volunteer, id, obj)
}

/// The visit `id` of `volunteer` whose map `obj` holds `fields` (however they were read:
/// [`Fields::given`] when a write made the visit); `None` if it is incomplete.
pub fn visit_from<D: ReadDoc>(fields: &Fields<'_, D>, volunteer: &MemberId, id: &str, obj: &ObjId) -> Option<Visit> {
    let confirmation = match (fields.str("confirmed_by"), fields.time("confirmed_at")) {
        (Some(by), Some(at)) => ConfirmedBy::parse(&by).ok().map(|by| Confirmation { by, at }),
        _ => None,
    };
    let check_in = fields.time("check_in")?;
    Some(Visit {
        id: VisitId::parse(id).ok()?,
        volunteer: volunteer.clone(),
        elder: MemberId::parse(&fields.str("elder")?).ok()?,
        service: fields.str("service")?,
        order: fields.str("order").and_then(|o| OrderId::parse(&o).ok()),
        check_in,
        check_out: fields.time("check_out"),
        monotonic_ms: fields.u64("monotonic_ms"),
        source: VisitSource::parse(&fields.str("source")?)?,
        note: fields.str("note").unwrap_or_default(),
        recorded_at: fields.time("recorded_at").unwrap_or(check_in),
        check_out_recorded_at: fields.time("check_out_recorded_at"),
        device: creator(obj),
        confirmation,
        evidence: Evidence {
            tap_in: fields.str(TAP_IN).and_then(|t| Tap::from_stored(&t)),
            tap_out: fields.str(TAP_OUT).and_then(|t| Tap::from_stored(&t)),
            cosignature: fields.str(COSIGNATURE).and_then(|t| CoSignature::parse(&t).ok()),
        },
    })
}

/// The device (actor, hex) that created a record: the actor of the object's creating op.
fn creator(obj: &ObjId) -> String {
    match obj {
        ObjId::Id(_, actor, _) => actor.to_hex_string(),
        ObjId::Root => String::new(),
    }
}

// ----- orders (in an elder's document) -----

/// Writes a new order.
pub fn put_order(tx: &mut impl Transactable, order: &Order) -> Result<(), AutomergeError> {
    let obj = record(tx, &ROOT, ORDERS, order.id.as_str())?;
    tx.put(&obj, "elder", order.elder.as_str())?;
    tx.put(&obj, "service", order.service.as_str())?;
    tx.put(&obj, "note", order.note.as_str())?;
    tx.put(&obj, "requested_by", order.requested_by.as_str())?;
    put_time(tx, &obj, "requested_at", order.requested_at)?;
    put_slot(tx, &obj, order.slot)
}

/// Writes a time slot's start and end (nothing when there is none).
fn put_slot(tx: &mut impl Transactable, obj: &ObjId, slot: Option<Slot>) -> Result<(), AutomergeError> {
    match slot {
        Some(slot) => {
            put_time(tx, obj, "slot_start", slot.start)?;
            put_time(tx, obj, "slot_end", slot.end)
        }
        None => Ok(()),
    }
}

/// Reads a time slot: both ends, or none.
fn slot_at(doc: &impl ReadDoc, obj: &ObjId) -> Option<Slot> {
    Some(Slot { start: time_at(doc, obj, "slot_start")?, end: time_at(doc, obj, "slot_end")? })
}

/// Records in the elder's document that the order went to `volunteer`.
pub fn put_order_dispatch(
    tx: &mut impl Transactable,
    order: &OrderId,
    volunteer: &MemberId,
    at: DateTime<Utc>,
) -> Result<(), AutomergeError> {
    let obj = record(tx, &ROOT, ORDERS, order.as_str())?;
    tx.put(&obj, "dispatched_to", volunteer.as_str())?;
    put_time(tx, &obj, "dispatched_at", at)
}

/// Records that the order was cancelled.
pub fn put_order_cancel(tx: &mut impl Transactable, order: &OrderId, at: DateTime<Utc>) -> Result<(), AutomergeError> {
    let obj = record(tx, &ROOT, ORDERS, order.as_str())?;
    put_time(tx, &obj, "cancelled_at", at)
}

/// Reads every order, oldest first.
pub fn orders(doc: &impl ReadDoc) -> Vec<Order> {
    let mut all: Vec<Order> = entries(doc, &ROOT, ORDERS)
        .iter()
        .filter_map(|(id, obj)| {
            Some(Order {
                id: OrderId::parse(id).ok()?,
                elder: MemberId::parse(&str_at(doc, obj, "elder")?).ok()?,
                service: str_at(doc, obj, "service")?,
                note: str_at(doc, obj, "note").unwrap_or_default(),
                requested_by: MemberId::parse(&str_at(doc, obj, "requested_by")?).ok()?,
                requested_at: time_at(doc, obj, "requested_at")?,
                dispatched_to: str_at(doc, obj, "dispatched_to").and_then(|v| MemberId::parse(&v).ok()),
                dispatched_at: time_at(doc, obj, "dispatched_at"),
                cancelled_at: time_at(doc, obj, "cancelled_at"),
                slot: slot_at(doc, obj),
            })
        })
        .collect();
    all.sort_by(|a, b| a.requested_at.cmp(&b.requested_at).then_with(|| a.id.cmp(&b.id)));
    all
}

// ----- assignments (in a volunteer's document) -----

/// Writes a dispatch offered to the volunteer (by a coordinator's device), with the
/// elder's display name when the coordinator knows it (ADR 0021).
pub fn put_assignment(tx: &mut impl Transactable, assignment: &Assignment) -> Result<(), AutomergeError> {
    let obj = record(tx, &ROOT, ASSIGNMENTS, assignment.order.as_str())?;
    tx.put(&obj, "elder", assignment.elder.as_str())?;
    put_opt_str(tx, &obj, "elder_name", assignment.elder_name.as_deref())?;
    tx.put(&obj, "service", assignment.service.as_str())?;
    tx.put(&obj, "note", assignment.note.as_str())?;
    tx.put(&obj, "offered_by", assignment.offered_by.as_str())?;
    put_time(tx, &obj, "offered_at", assignment.offered_at)?;
    put_slot(tx, &obj, assignment.slot)
}

/// Writes the volunteer's reply (接单 or decline).
pub fn put_response(
    tx: &mut impl Transactable,
    order: &OrderId,
    response: Response,
    at: DateTime<Utc>,
    reason: &str,
) -> Result<(), AutomergeError> {
    let obj = record(tx, &ROOT, ASSIGNMENTS, order.as_str())?;
    tx.put(&obj, "response", response.as_str())?;
    put_time(tx, &obj, "responded_at", at)?;
    tx.put(&obj, "decline_reason", reason)
}

/// Reads every assignment, oldest offer first.
pub fn assignments(doc: &impl ReadDoc) -> Vec<Assignment> {
    let mut all: Vec<Assignment> = entries(doc, &ROOT, ASSIGNMENTS)
        .iter()
        .filter_map(|(id, obj)| {
            Some(Assignment {
                order: OrderId::parse(id).ok()?,
                elder: MemberId::parse(&str_at(doc, obj, "elder")?).ok()?,
                elder_name: str_at(doc, obj, "elder_name").filter(|n| !n.trim().is_empty()),
                service: str_at(doc, obj, "service")?,
                note: str_at(doc, obj, "note").unwrap_or_default(),
                offered_by: MemberId::parse(&str_at(doc, obj, "offered_by")?).ok()?,
                offered_at: time_at(doc, obj, "offered_at")?,
                response: str_at(doc, obj, "response").and_then(|r| Response::parse(&r)),
                responded_at: time_at(doc, obj, "responded_at"),
                decline_reason: str_at(doc, obj, "decline_reason").unwrap_or_default(),
                slot: slot_at(doc, obj),
            })
        })
        .collect();
    all.sort_by(|a, b| a.offered_at.cmp(&b.offered_at).then_with(|| a.order.cmp(&b.order)));
    all
}

/// The elder's display name the dispatch of `order` carried, if it carried one: what a
/// visit made for that order shows instead of the elder's id.
pub fn assignment_elder_name(doc: &impl ReadDoc, order: &OrderId) -> Option<String> {
    let assignments = map_at(doc, &ROOT, ASSIGNMENTS)?;
    let obj = map_at(doc, &assignments, order.as_str())?;
    str_at(doc, &obj, "elder_name").filter(|n| !n.trim().is_empty())
}

// ----- requests -----

/// Writes a redemption or gift request.
pub fn put_request(tx: &mut impl Transactable, request: &SpendRequest) -> Result<(), AutomergeError> {
    let obj = record(tx, &ROOT, REQUESTS, request.id.as_str())?;
    match &request.kind {
        RequestKind::Redeem { service, at } => {
            tx.put(&obj, "kind", "redeem")?;
            tx.put(&obj, "service", service.as_str())?;
            if let Some(at) = at {
                tx.put(&obj, "at", at.as_str())?;
            }
        }
        RequestKind::Gift { to } => {
            tx.put(&obj, "kind", "gift")?;
            tx.put(&obj, "to", to.as_str())?;
        }
    }
    tx.put(&obj, "minutes", i64::from(request.minutes))?;
    put_time(tx, &obj, "created_at", request.created_at)
}

/// Reads every request, oldest first.
pub fn requests(doc: &impl ReadDoc) -> Vec<SpendRequest> {
    let mut all: Vec<SpendRequest> = entries(doc, &ROOT, REQUESTS)
        .iter()
        .filter_map(|(id, obj)| {
            let kind = match str_at(doc, obj, "kind")?.as_str() {
                "redeem" => RequestKind::Redeem {
                    service: str_at(doc, obj, "service")?,
                    at: str_at(doc, obj, "at").and_then(|raw| StationId::parse(&raw).ok()),
                },
                "gift" => RequestKind::Gift { to: MemberId::parse(&str_at(doc, obj, "to")?).ok()? },
                _ => return None,
            };
            Some(SpendRequest {
                id: RequestId::parse(id).ok()?,
                kind,
                minutes: u32::try_from(i64_at(doc, obj, "minutes")?).ok()?,
                created_at: time_at(doc, obj, "created_at")?,
            })
        })
        .collect();
    all.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
    all
}

/// Records the monotonic clock at check-in, so check-out can measure the true length.
pub fn put_monotonic_start(
    tx: &mut impl Transactable,
    visit: &VisitId,
    reading: &crate::clock::MonotonicReading,
) -> Result<(), AutomergeError> {
    let obj = record(tx, &ROOT, VISITS, visit.as_str())?;
    tx.put(&obj, "mono_boot", reading.boot_tag())?;
    tx.put(&obj, "mono_start_ms", reading.millis)
}

/// The monotonic clock reading taken at check-in, if there was one.
pub fn monotonic_start(doc: &impl ReadDoc, visit: &VisitId) -> Option<crate::clock::MonotonicReading> {
    let visits = map_at(doc, &ROOT, VISITS)?;
    let obj = map_at(doc, &visits, visit.as_str())?;
    Some(crate::clock::MonotonicReading {
        boot: str_at(doc, &obj, "mono_boot")?, // a boot tag, compared with boot_tag()
        millis: u64_at(doc, &obj, "mono_start_ms")?,
    })
}
