//! Reads the events of the arrival log out of the documents: finished visits (with the
//! order each served, at the station their volunteer belonged to when they started), their evidence of presence (verified here: [`crate::ledger::verify`]), their confirmations and requests from `member/<id>`, reviews (and their reversals) and decisions from `station/<id>/desk`, the visit limits
//! from `station/<id>`. Either the records a change touched (after a sync: the cost grows
//! with the change) or every record (catch-up at start and the rebuild check).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use automerge::{Automerge, ChangeHash, Prop, ROOT};
use smol_str::SmolStr;
use timebank_engine::DocId;
use timebank_engine::documents::fields::entries;
use timebank_engine::documents::{desk, member, station};
use timebank_engine::model::{MemberId, RequestId, RequestKind, SpendRequest, StationId, VisitId};

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
pub enum Records {
    /// Every record.
    All,
    /// Only these (collection, id) pairs.
    Touched(BTreeSet<(String, String)>),
}

impl Records {
    /// The records a change from `before` to the document's heads touched.
    pub fn touched(doc: &Automerge, before: &[ChangeHash]) -> Records {
        Records::from_patches(&doc.diff(before, &doc.get_heads()))
    }

    /// The records `patches` (a diff of a document) touch.
    pub fn from_patches(patches: &[automerge::Patch]) -> Records {
        let mut touched = BTreeSet::new();
        // A record's patches come one after another (one per field): each is kept once.
        let mut last = None;
        for patch in patches {
            let mut path = patch.path.iter().map(|(_, prop)| prop);
            let action_key = match &patch.action {
                automerge::PatchAction::PutMap { key, .. } => Some(key.as_str()),
                _ => None,
            };
            let first = path.next().and_then(prop_key).or(action_key);
            let second = path.next().and_then(prop_key).or(if patch.path.len() == 1 { action_key } else { None });
            if let (Some(collection), Some(id)) = (first, second)
                && last != Some((collection, id))
            {
                touched.insert((collection.to_owned(), id.to_owned()));
                last = Some((collection, id));
            }
        }
        Records::Touched(touched)
    }

    fn ids(&self, doc: &Automerge, collection: &str) -> Vec<String> {
        match self {
            Records::All => entries(doc, &ROOT, collection).into_iter().map(|(id, _)| id).collect(),
            Records::Touched(set) => set.iter().filter(|(c, _)| c == collection).map(|(_, id)| id.clone()).collect(),
        }
    }
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

/// One document a write changed: its heads before, the document after, and the patches
/// between them when the authority check made them already (they are not made twice).
#[derive(Debug)]
pub struct Written<'a> {
    /// The document.
    pub id: &'a DocId,
    /// Its heads before the write.
    pub before: &'a [ChangeHash],
    /// The document with the write applied.
    pub after: &'a Automerge,
    /// The patches from `before` to `after`, if made.
    pub patches: Option<&'a [automerge::Patch]>,
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
        let records = match w.patches {
            Some(patches) => Records::from_patches(patches),
            None => Records::touched(w.after, w.before),
        };
        out.extend(events(&id, w.after, &records, &mut directory, books)?);
    }
    Ok(out)
}

/// The events `records` of document `id` hold, in a deterministic order.
pub fn events(
    id: &DocId,
    doc: &Automerge,
    records: &Records,
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

fn member_events(owner: &MemberId, doc: &Automerge, records: &Records, directory: &mut Directory<'_>) -> StoreResult<Vec<EventBody>> {
    let Some(record) = directory.get(owner)? else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    let ids: Vec<VisitId> = records.ids(doc, member::VISITS).iter().filter_map(|raw| VisitId::parse(raw).ok()).collect();
    let mut visits = member::visits_named(doc, owner, &ids);
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
    let requests: Vec<SpendRequest> = member::requests(doc).into_iter().filter(|r| wanted.contains(r.id.as_str())).collect();
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

fn desk_events(station: &StationId, doc: &Automerge, records: &Records, directory: &mut Directory<'_>) -> StoreResult<Vec<EventBody>> {
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
