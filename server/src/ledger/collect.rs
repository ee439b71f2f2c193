//! Reads the events of the arrival log out of the documents: finished visits (with the
//! order each served, at the station their volunteer belonged to when they started), their evidence of presence (verified here: [`crate::ledger::verify`]), their confirmations and requests from `member/<id>`, reviews (and their reversals) and decisions from `station/<id>/desk`, the visit limits
//! from `station/<id>`. Either the records a change touched (after a sync: the cost grows
//! with the change) or every record (catch-up at start and the rebuild check).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use automerge::{Automerge, ChangeHash, Patch, PatchAction, Prop, ROOT};
use smol_str::SmolStr;
use timebank_engine::DocId;
use timebank_engine::documents::fields::entries;
use timebank_engine::documents::{desk, member, station};
use timebank_engine::model::{MemberId, RequestId, RequestKind, SpendRequest, StationId, VisitId};

use crate::footprint::{Footprint, Made};
use crate::ledger::event::{
    ConfirmationEvent, CorrectionEvent, DecisionEvent, EventBody, RequestEvent, RequestWhat, ReversalEvent, ReviewEvent,
    TransferEvent, VisitEvent, transfer_key,
};
use crate::ledger::reconcile::Books;
use crate::ledger::verify::Verifier;
use crate::store::{MemberRecord, RelayStore, StoreError, StoreResult};

/// The gift receiver that means the station's donation pool (besides the station's own id).
pub const POOL: &str = "pool";

/// How many of a member's moves are looked up in one read of the arrival log.
const MOVES_PER_READ: u32 = 4;

/// `member`'s moves between stations (ADR 42), first first, from the arrival log: each by
/// its key, a few keys a read, until one is not logged (most members: one read, none).
pub fn member_moves(store: &dyn RelayStore, member: &MemberId) -> StoreResult<Vec<TransferEvent>> {
    let mut moves = Vec::new();
    loop {
        let next = u32::try_from(moves.len()).unwrap_or(u32::MAX).saturating_add(1);
        let keys: Vec<String> = (next..next.saturating_add(MOVES_PER_READ)).map(|n| transfer_key(member, n)).collect();
        let found = store.ledger_events_keyed(&keys)?;
        let complete = found.len() == keys.len();
        for record in found {
            match crate::ledger::bookkeeper::event_of(&record)?.body {
                EventBody::Transfer(transfer) => moves.push(transfer),
                _ => return Err(StoreError::Corrupt(format!("ledger event {} is keyed as a move but is not one", record.seq))),
            }
        }
        if !complete {
            return Ok(moves);
        }
    }
}

/// Looks members (and their moves) up in the store, once each, and verifies evidence of
/// presence.
#[derive(Debug)]
pub struct Directory<'a> {
    store: &'a dyn RelayStore,
    known: HashMap<MemberId, Option<MemberRecord>>,
    moves: HashMap<MemberId, Vec<TransferEvent>>,
    verifier: Verifier<'a>,
}

impl<'a> Directory<'a> {
    /// Over `store`.
    pub fn new(store: &'a dyn RelayStore) -> Self {
        Directory { store, known: HashMap::new(), moves: HashMap::new(), verifier: Verifier::new(store) }
    }

    /// The station `member` belonged to at `at` (ms): where a visit that started then was
    /// given, whenever it arrives (ADR 42).
    fn station_at(&mut self, member: &MemberRecord, at: i64) -> StoreResult<StationId> {
        if !self.moves.contains_key(&member.id) {
            let moves = member_moves(self.store, &member.id)?;
            self.moves.insert(member.id.clone(), moves);
        }
        let moves = self.moves.get(&member.id).map_or(&[][..], Vec::as_slice);
        Ok(TransferEvent::station_at(moves, at).unwrap_or(&member.station).clone())
    }

    fn has_station(&mut self, id: &StationId) -> StoreResult<bool> {
        Ok(self.store.station(id)?.is_some())
    }

    fn get(&mut self, id: &MemberId) -> StoreResult<Option<MemberRecord>> {
        if let Some(known) = self.known.get(id) {
            return Ok(known.clone());
        }
        let found = self.store.member(id)?;
        self.known.insert(id.clone(), found.clone());
        Ok(found)
    }
}

/// Which records of a document to read.
#[derive(Debug)]
pub enum Records<'p> {
    /// Every record.
    All,
    /// Only those a write touched; those it made whole are read out of its operations
    /// ([`Made`]), the others out of the document.
    Touched(&'p Footprint),
}

/// The records a change from `before` to the document's heads touched, to be read out of
/// the document (for a write that was not vetted; the diff is not kept).
fn diffed(doc: &Automerge, before: &[ChangeHash]) -> Footprint {
    Footprint::touching(touched_ids(&doc.diff(before, &doc.get_heads())))
}

impl Records<'_> {
    fn ids(&self, doc: &Automerge, collection: &str) -> Vec<String> {
        match self {
            Records::All => entries(doc, &ROOT, collection).into_iter().map(|(id, _)| id).collect(),
            Records::Touched(footprint) => {
                footprint.touched.iter().filter(|(c, _)| c == collection).map(|(_, id)| id.clone()).collect()
            }
        }
    }

    /// The record `id` of `collection`, if the write made it.
    fn made(&self, collection: &str, id: &str) -> Option<&Made> {
        match self {
            Records::All => None,
            Records::Touched(footprint) => footprint.made(collection, id),
        }
    }
}

/// The (collection, id) of every record `patches` touch.
fn touched_ids(patches: &[Patch]) -> BTreeSet<(String, String)> {
    let mut ids = BTreeSet::new();
    // A record's patches come one after another (one per field): each is kept once.
    let mut last = None;
    for patch in patches {
        let mut path = patch.path.iter().map(|(_, prop)| prop);
        let action_key = match &patch.action {
            PatchAction::PutMap { key, .. } => Some(key.as_str()),
            _ => None,
        };
        let first = path.next().and_then(prop_key).or(action_key);
        let second = path.next().and_then(prop_key).or(if patch.path.len() == 1 { action_key } else { None });
        if let (Some(collection), Some(id)) = (first, second)
            && last != Some((collection, id))
        {
            ids.insert((collection.to_owned(), id.to_owned()));
            last = Some((collection, id));
        }
    }
    ids
}

fn prop_key(prop: &Prop) -> Option<&str> {
    match prop {
        Prop::Map(key) => Some(key.as_str()),
        Prop::Seq(_) => None,
    }
}

/// The station rules the ledger applies now: a station document's visit limits that differ
/// from them arrive as a new rules version.
pub trait CurrentRules {
    /// The rules of `station` (the defaults until it has its own).
    fn rules(&self, station: &StationId) -> crate::ledger::StationRules;
}

impl CurrentRules for Books {
    fn rules(&self, station: &StationId) -> crate::ledger::StationRules {
        Books::rules(self, station)
    }
}

impl CurrentRules for BTreeMap<StationId, crate::ledger::StationRules> {
    fn rules(&self, station: &StationId) -> crate::ledger::StationRules {
        self.get(station).cloned().unwrap_or_default()
    }
}

/// One document a write changed: its heads before, the document after, and what its
/// changes write when the shape check read it already (it is not worked out twice).
#[derive(Debug)]
pub struct Written<'a> {
    /// The document.
    pub id: &'a DocId,
    /// Its heads before the write.
    pub before: &'a [ChangeHash],
    /// The document with the write applied.
    pub after: &'a Automerge,
    /// What the changes from `before` to `after` write, if read.
    pub footprint: Option<&'a Footprint>,
}

/// The events a write brings (the records its changes touched), in the catch-up's order.
/// `known`: members the caller has just read (the syncing device's), not read again.
pub fn arrivals(
    store: &dyn RelayStore,
    books: &dyn CurrentRules,
    written: &[Written<'_>],
    known: &[MemberRecord],
) -> StoreResult<Vec<EventBody>> {
    let mut directory = Directory::new(store);
    for member in known {
        directory.known.insert(member.id.clone(), Some(member.clone()));
    }
    let mut out = Vec::new();
    for id in reading_order(written.iter().map(|w| w.id.clone())) {
        let Some(w) = written.iter().find(|w| *w.id == id) else { continue };
        let diffed;
        let footprint = match w.footprint {
            Some(footprint) => footprint,
            None => {
                diffed = self::diffed(w.after, w.before);
                &diffed
            }
        };
        let records = Records::Touched(footprint);
        out.extend(events(&id, w.after, &records, &mut directory, books)?);
    }
    Ok(out)
}

/// The events `records` of document `id` hold, in a deterministic order.
pub fn events(
    id: &DocId,
    doc: &Automerge,
    records: &Records<'_>,
    directory: &mut Directory<'_>,
    books: &dyn CurrentRules,
) -> StoreResult<Vec<EventBody>> {
    match id {
        DocId::Member(owner) => member_events(owner, doc, records, directory),
        DocId::Desk(station) => desk_events(station, doc, records, directory),
        DocId::Station(station) => Ok(rules_event(station, doc, books).into_iter().collect()),
        DocId::Ledger(_) => Ok(Vec::new()),
    }
}

fn member_events(
    owner: &MemberId,
    doc: &Automerge,
    records: &Records<'_>,
    directory: &mut Directory<'_>,
) -> StoreResult<Vec<EventBody>> {
    let Some(record) = directory.get(owner)? else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    // The visits the write made are read out of its operations; the others out of the document.
    let mut visits = Vec::new();
    let mut named = Vec::new();
    for raw in records.ids(doc, member::VISITS) {
        match records.made(member::VISITS, &raw) {
            Some(made) => visits.extend(member::visit_from(&made.fields(doc), owner, &raw, &made.obj)),
            None => named.extend(VisitId::parse(&raw).ok()),
        }
    }
    visits.extend(member::visits_named(doc, owner, &named));
    visits.retain(|v| v.check_out.is_some());
    visits.sort_by(|a, b| a.check_in.cmp(&b.check_in).then_with(|| a.id.cmp(&b.id)));
    // An order a visit names counts only when it was dispatched to this volunteer for that
    // elder (the assignment, written by coordinators only, says so).
    let assignments = if visits.iter().any(|v| v.order.is_some()) { member::assignments(doc) } else { Vec::new() };
    for visit in visits {
        let Some(check_out) = visit.check_out else { continue };
        let elder = directory.get(&visit.elder)?;
        let order = visit
            .order
            .as_ref()
            .filter(|o| assignments.iter().any(|a| &a.order == *o && a.elder == visit.elder))
            .map(ToString::to_string);
        let station = directory.station_at(&record, visit.check_in.timestamp_millis())?;
        let evidence = directory.verifier.evidence(&visit, &station, elder.as_ref())?;
        out.push(EventBody::Visit(VisitEvent {
            id: SmolStr::new(visit.id.as_str()),
            volunteer: owner.clone(),
            station,
            elder: visit.elder.clone(),
            check_in: visit.check_in.timestamp_millis(),
            check_out: check_out.timestamp_millis(),
            monotonic_ms: visit.monotonic_ms.and_then(|ms| i64::try_from(ms).ok()),
            recorded_at: visit.recorded_at.timestamp_millis(),
            device: visit.device.clone(),
            volunteer_household: record.household.clone(),
            elder_household: elder.and_then(|e| e.household),
            source: Some(visit.source),
            check_out_recorded_at: visit.check_out_recorded_at.map(|t| t.timestamp_millis()),
            order: order.clone(),
        }));
        out.extend(evidence.map(EventBody::Evidence));
        // After the visit it confirms; only a visit that served an order, whose elder's
        // ledger follows the order to confirmed (nothing else in the ledger reads it).
        if let Some(confirmation) = visit.confirmation.as_ref().filter(|_| order.is_some()) {
            out.push(EventBody::Confirmation(ConfirmationEvent {
                visit: visit.id.to_string(),
                volunteer: owner.clone(),
                by: confirmation.by,
                at: confirmation.at.timestamp_millis(),
            }));
        }
    }
    let wanted: BTreeSet<String> = records.ids(doc, member::REQUESTS).into_iter().collect();
    // Most writes touch no request: the document's requests are not read then.
    let requests: Vec<SpendRequest> = if wanted.is_empty() {
        Vec::new()
    } else {
        member::requests(doc).into_iter().filter(|r| wanted.contains(r.id.as_str())).collect()
    };
    for request in requests {
        let what = match &request.kind {
            RequestKind::Redeem { service, at } => {
                let at = at.clone().filter(|at| *at != record.station);
                let at_unknown = match &at {
                    Some(station) => !directory.has_station(station)?,
                    None => false,
                };
                RequestWhat::Redeem { service: service.clone(), at, at_unknown }
            }
            RequestKind::Gift { to } if to.as_str() == POOL || to.as_str() == record.station.as_str() => RequestWhat::Donate,
            RequestKind::Gift { to } => {
                let receiver = directory.get(to)?.filter(|r| r.station == record.station);
                RequestWhat::Gift { to: to.clone(), to_known: receiver.is_some(), to_household: receiver.and_then(|r| r.household) }
            }
        };
        out.push(EventBody::Request(RequestEvent {
            id: request.id.to_string(),
            member: owner.clone(),
            station: record.station.clone(),
            what,
            minutes: i64::from(request.minutes),
            created_at: request.created_at.timestamp_millis(),
            birth_year: record.birth_year,
            household: record.household.clone(),
            hardship: record.hardship,
        }));
    }
    Ok(out)
}

fn desk_events(
    station: &StationId,
    doc: &Automerge,
    records: &Records<'_>,
    directory: &mut Directory<'_>,
) -> StoreResult<Vec<EventBody>> {
    let mut out = Vec::new();
    let mut reviews = records.ids(doc, desk::REVIEWS);
    reviews.sort();
    for raw in reviews {
        let Ok(visit) = VisitId::parse(&raw) else { continue };
        if let Some(review) = desk::review(doc, &visit) {
            out.push(EventBody::Review(ReviewEvent {
                visit: SmolStr::new(&raw),
                station: station.clone(),
                decision: review.decision,
                reason: review.reason,
                by: review.by,
                at: review.at.timestamp_millis(),
            }));
        }
        // After the review it names, so a catch-up folds the two in order.
        if let Some(reversal) = desk::reversal(doc, &visit) {
            out.push(EventBody::Reversal(ReversalEvent {
                visit: raw,
                station: station.clone(),
                decision: reversal.decision,
                review_at: reversal.review_at.timestamp_millis(),
                reason: reversal.reason,
                by: reversal.by,
                at: reversal.at.timestamp_millis(),
            }));
        }
    }
    let mut decisions = records.ids(doc, desk::DECISIONS);
    decisions.sort();
    for raw in decisions {
        let Ok(request) = RequestId::parse(&raw) else { continue };
        if let Some(decision) = desk::decision(doc, &request) {
            out.push(EventBody::Decision(DecisionEvent {
                request: raw,
                station: station.clone(),
                action: decision.action,
                by: decision.by,
                at: decision.at.timestamp_millis(),
            }));
        }
    }
    let mut corrections = records.ids(doc, desk::CORRECTIONS);
    corrections.sort();
    for raw in corrections {
        let Some(correction) = desk::correction(doc, &raw) else { continue };
        // Only a member of the desk's own station.
        let here = directory.get(&correction.member)?.is_some_and(|m| m.station == *station);
        if !here || !raw.starts_with("c-") {
            continue;
        }
        out.push(EventBody::Correction(CorrectionEvent {
            id: raw,
            station: station.clone(),
            member: correction.member,
            minutes: correction.minutes,
            reason: correction.reason,
            by: correction.by,
            at: correction.at.timestamp_millis(),
        }));
    }
    Ok(out)
}

/// A new rules version when the coordinators changed the station's visit limits.
fn rules_event(station: &StationId, doc: &Automerge, books: &dyn CurrentRules) -> Option<EventBody> {
    let current = books.rules(station);
    let wanted = current.clone().with_visit_rules(&station::visit_rules(doc)).with_verified_visits(station::verified_visits(doc));
    if wanted.same_terms(&current) {
        return None;
    }
    Some(EventBody::Rules { station: station.clone(), rules: crate::ledger::StationRules { version: current.version + 1, ..wanted } })
}

/// Every document id the ledger reads, in the order catch-up visits them: stations
/// first (their rules), then members, then desks (reviews after the visits they name).
pub fn reading_order(ids: impl IntoIterator<Item = DocId>) -> Vec<DocId> {
    let mut by_rank: BTreeMap<(u8, String), DocId> = BTreeMap::new();
    for id in ids {
        let rank = match id {
            DocId::Station(_) => 0,
            DocId::Member(_) => 1,
            DocId::Desk(_) => 2,
            DocId::Ledger(_) => continue,
        };
        by_rank.insert((rank, id.to_string()), id);
    }
    by_rank.into_values().collect()
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable as _;
    use automerge::{ActorId, AutoCommit, ObjType, ReadDoc};
    use chrono::{DateTime, TimeZone as _, Utc};
    use timebank_engine::model::{Confirmation, ConfirmedBy, Evidence, Visit, VisitSource};

    use super::*;

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 9, minute, 0).unwrap()
    }

    fn visit(id: &str, check_out: Option<DateTime<Utc>>) -> Visit {
        Visit {
            id: VisitId::parse(id).unwrap(),
            volunteer: MemberId::parse("v-1").unwrap(),
            elder: MemberId::parse("e-1").unwrap(),
            service: "meals".into(),
            order: None,
            check_in: at(0),
            check_out,
            monotonic_ms: Some(1_800_000),
            source: VisitSource::Live,
            note: "tea".into(),
            recorded_at: at(1),
            check_out_recorded_at: None,
            device: String::new(),
            confirmation: None,
            evidence: Evidence::default(),
        }
    }

    /// The visits a push made are read out of its operations (as the shape check found
    /// them), and read the same as out of the document: a visit made whole, one made and then checked out and confirmed in later
    /// changes of the same push, one whose note is a text object (as other implementations
    /// write strings). A visit made before the push and checked out in it is read out of
    /// the document.
    #[test]
    fn visits_a_push_made_read_the_same_out_of_its_operations() {
        let volunteer = MemberId::parse("v-1").unwrap();
        let mut relay = AutoCommit::new();
        member::put_visit(&mut relay, &visit("v-old", None)).unwrap();
        relay.commit();
        let mut phone = relay.fork().with_actor(ActorId::random());
        let base = phone.get_heads();
        member::put_visit(&mut phone, &visit("v-whole", Some(at(45)))).unwrap();
        phone.commit();
        member::put_visit(&mut phone, &visit("v-later", None)).unwrap();
        phone.commit();
        member::put_check_out(&mut phone, &VisitId::parse("v-later").unwrap(), at(50), at(52), Some(3_000_000), Some("a walk"))
            .unwrap();
        member::put_confirmation(
            &mut phone,
            &VisitId::parse("v-later").unwrap(),
            &Confirmation { by: ConfirmedBy::Family, at: at(53) },
        )
        .unwrap();
        phone.commit();
        member::put_visit(&mut phone, &visit("v-text", Some(at(40)))).unwrap();
        let texted = phone.get(automerge::ROOT, member::VISITS).unwrap().unwrap().1;
        let texted = phone.get(&texted, "v-text").unwrap().unwrap().1;
        let note = phone.put_object(&texted, "note", ObjType::Text).unwrap();
        phone.splice_text(&note, 0, 0, "soup").unwrap();
        phone.commit();
        member::put_check_out(&mut phone, &VisitId::parse("v-old").unwrap(), at(30), at(30), None, None).unwrap();
        phone.commit();

        let id: DocId = "member/v-1".parse().unwrap();
        let pushed = phone.get_changes(&base);
        let footprint = crate::vetting::vet(&id, relay.document(), &pushed, |_| true).unwrap().footprint;
        let mut doc = relay.document().clone();
        doc.apply_changes(pushed).unwrap();
        let records = Records::Touched(&footprint);

        let mut from_operations = BTreeSet::new();
        for id in records.ids(&doc, member::VISITS) {
            let from_doc = member::visit(&doc, &volunteer, &VisitId::parse(&id).unwrap()).unwrap();
            if let Some(made) = records.made(member::VISITS, &id) {
                let read = member::visit_from(&made.fields(&doc), &volunteer, &id, &made.obj);
                assert_eq!(read.as_ref(), Some(&from_doc), "{id}");
                from_operations.insert(id);
            }
        }
        let expected: BTreeSet<String> = ["v-later", "v-text", "v-whole"].map(String::from).into();
        assert_eq!(from_operations, expected, "v-old was made before the push: read out of the document");
        assert_eq!(member::visit(&doc, &volunteer, &VisitId::parse("v-text").unwrap()).unwrap().note, "soup");
    }
}
