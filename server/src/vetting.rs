//! Vetting pushed changes before they are applied: every operation may only create and set
//! what the document kind's shape allows ([`timebank_engine::documents::schema`]): the
//! collections genesis made stay as they are, records are maps keyed by ids, fields are the
//! engine's with their types and lengths, and there are no other objects, no lists, no
//! marks, no deeper nesting (so depth is bounded by construction). Text objects used as
//! strings are checked for length on the fork once applied (their deletions may shorten
//! what their insertions lengthened); everything else is refused before (ADR 0024).
//!
//! Who may write a document, and the field rules the shape cannot express, are
//! [`crate::authority`]'s.

use std::collections::HashMap;
use std::rc::Rc;

use automerge::legacy::{Key, ObjectId, Op, OpId, OpType};
use automerge::{Automerge, Change, ObjType, Prop, ReadDoc, ScalarValue};
use timebank_engine::DocId;
use timebank_engine::documents::schema::{self, Field, FieldType, Keys, Records, Shape};

use crate::authority::{self, Refusal};
use crate::footprint::{Footprint, Maker, object_id};

/// Checks `changes` (new to `doc`, in causal order) against the shape of `id`'s kind, before
/// they are applied to `doc`, and the operations of those `restricted` says are by a
/// non-coordinator against the field rules ([`authority::check_field`]). What remains to
/// check once they are applied is returned, with what they write ([`Footprint`]).
pub fn vet<'c>(
    id: &DocId,
    doc: &Automerge,
    changes: impl IntoIterator<Item = &'c Change>,
    restricted: impl Fn(&Change) -> bool,
) -> Result<Applied, Refusal> {
    let mut vetting =
        Vetting { id, doc, shape: schema::shape(id), places: HashMap::new(), texts: Vec::new(), footprint: Footprint::default() };
    for change in changes {
        let restricted = restricted(change);
        let expanded = change.decode();
        for (index, op) in expanded.operations.iter().enumerate() {
            let made = OpId::new(change.start_op().get() + index as u64, change.actor_id());
            vetting.op(made, op, restricted)?;
        }
    }
    Ok(Applied { doc: id.to_string(), texts: vetting.texts, footprint: vetting.footprint })
}

/// The checks left for after the changes are applied: the length of every Text object
/// they touched.
#[derive(Debug)]
pub struct Applied {
    doc: String,
    texts: Vec<TextField>,
    /// What the changes write, record by record.
    pub footprint: Footprint,
}

#[derive(Debug)]
struct TextField {
    obj: String,
    most: usize,
    path: String,
}

impl Applied {
    /// Checks, on the document with the changes applied, that every Text object they
    /// touched holds no more characters than its field allows.
    pub fn check(&self, fork: &Automerge) -> Result<(), Refusal> {
        for text in &self.texts {
            let chars = fork
                .import(&text.obj)
                .and_then(|(obj, _)| fork.text(&obj))
                .map(|t| t.chars().count())
                .map_err(|e| self.refuse(format!("the text at {} cannot be read ({e})", text.path)))?;
            if chars > text.most {
                return Err(self.refuse(too_long(&text.path, chars, text.most)));
            }
        }
        Ok(())
    }

    fn refuse(&self, reason: String) -> Refusal {
        Refusal { doc: self.doc.clone(), reason }
    }
}

/// Where an object sits in the shape.
#[derive(Clone, Copy, Debug)]
enum Place {
    /// The document's root.
    Root,
    /// A collection of records.
    Collection { keys: Keys, fields: &'static [Field] },
    /// A record (or a collection of fields: a profile, the rules); `made`: which of the
    /// records the batch made it is, if it is one.
    Record { fields: &'static [Field], made: Option<Maker> },
    /// A collection nothing writes into yet.
    Unused,
    /// A Text object holding a text field.
    Text { most: usize },
}

struct Vetting<'a> {
    id: &'a DocId,
    doc: &'a Automerge,
    shape: &'static Shape,
    /// Objects seen so far (in the document, or made by an earlier operation of the batch),
    /// with their path for messages.
    places: HashMap<OpId, (Place, Rc<str>)>,
    texts: Vec<TextField>,
    footprint: Footprint,
}

impl Vetting<'_> {
    fn refuse(&self, reason: String) -> Refusal {
        Refusal { doc: self.id.to_string(), reason }
    }

    /// Checks one operation; `made` is its id (the id of the object it makes, if any);
    /// `restricted`: the field rules apply to it. Then notes what it writes.
    fn op(&mut self, made: OpId, op: &Op, restricted: bool) -> Result<(), Refusal> {
        let (place, path) = self.place_of(&op.obj)?;
        self.shaped(place, &path, &made, op)?;
        let mut segments = [""; 4];
        let mut depth = 0;
        let key = match &op.key {
            Key::Map(key) => Some(key.as_str()),
            Key::Seq(_) => None,
        };
        for segment in path.split('/').filter(|s| !s.is_empty()).chain(key) {
            // The shape allows no deeper paths than collection/record/field/character.
            if let Some(slot) = segments.get_mut(depth) {
                *slot = segment;
                depth += 1;
            }
        }
        let segments = &segments[..depth];
        if restricted {
            authority::check_field(self.id, segments)?;
        }
        self.footprint.touch(segments);
        let Some(key) = key else { return Ok(()) };
        let id = || object_id(made.counter(), made.actor());
        match (place, &op.action, &op.obj) {
            (Place::Collection { .. }, OpType::Make(ObjType::Map), ObjectId::Id(collection)) => {
                let existed = !matches!(self.doc.get(object_id(collection.counter(), collection.actor()), key), Ok(None));
                let maker = self.footprint.make(&path, key, id(), existed);
                if let Some((Place::Record { made, .. }, _)) = self.places.get_mut(&made) {
                    *made = Some(maker);
                }
            }
            (Place::Record { made: Some(maker), .. }, OpType::Put(value), _) => {
                self.footprint.set(maker, key, Some(value), id(), |earlier| replaces(op, earlier));
            }
            (Place::Record { made: Some(maker), .. }, OpType::Make(ObjType::Text), _) => {
                self.footprint.set(maker, key, None, id(), |earlier| replaces(op, earlier));
            }
            _ => {}
        }
        Ok(())
    }

    /// Checks that operation `op`, on an object at `place` (found at `path`), keeps the
    /// document's shape.
    fn shaped(&mut self, place: Place, path: &str, made: &OpId, op: &Op) -> Result<(), Refusal> {
        if matches!(op.action, OpType::MarkBegin(_) | OpType::MarkEnd(_)) {
            return Err(self.refuse(format!("a mark (rich-text formatting) was set on {path}; no document uses marks")));
        }
        if let Place::Text { .. } = place {
            return match (&op.key, &op.action) {
                (Key::Seq(_), OpType::Put(ScalarValue::Str(_)) | OpType::Delete) => Ok(()),
                _ => Err(self.refuse(format!("{path} is text: it holds characters, and nothing else"))),
            };
        }
        let Key::Map(key) = &op.key else {
            return Err(self.refuse(format!("{} is a map, not a list: no document holds lists", display(path))));
        };
        if op.insert {
            return Err(self.refuse(format!("an insertion into {}, which is a map: no document holds lists", display(path))));
        }
        let here = At { path, key };
        match place {
            Place::Root if schema::FIXED.contains(&key.as_str()) || self.shape.collection(key).is_some() => {
                Err(self.refuse(format!("the top-level field {key:?} is fixed; no device may replace or remove it")))
            }
            Place::Root => match schema::field(self.shape.fields, key) {
                Some(field) => self.field(made, field, &op.action, here),
                None => Err(self.refuse(format!("{key:?} is not a top-level field of a {} document", self.id.kind()))),
            },
            Place::Collection { keys, fields } => match &op.action {
                OpType::Make(ObjType::Map) if keys.allow(key) => {
                    self.places.insert(made.clone(), (Place::Record { fields, made: None }, here.text().into()));
                    Ok(())
                }
                OpType::Make(ObjType::Map) => Err(self
                    .refuse(format!("{key:?} is not a record id in {path} (ids are 1 to 64 lowercase letters, digits, '-' or '_')"))),
                OpType::Delete => Err(self.refuse(format!("a record was removed ({}); records are never removed", here.text()))),
                _ => Err(self.refuse(format!("{} must be a record (a map of fields)", here.text()))),
            },
            Place::Record { fields, .. } => match schema::field(fields, key) {
                Some(field) => self.field(made, field, &op.action, here),
                None => Err(self.refuse(format!("{path} has no field {key:?}"))),
            },
            Place::Unused => Err(self.refuse(format!("{path} is not written by any version of the app; {} was added", here.text()))),
            Place::Text { .. } => Err(self.refuse(format!("{path} is text: it holds characters, and nothing else"))),
        }
    }

    /// Checks what an operation does to `field`, found at `at`.
    fn field(&mut self, made: &OpId, field: &Field, action: &OpType, at: At<'_>) -> Result<(), Refusal> {
        match (action, field.kind) {
            (OpType::Put(value), kind) => fits(kind, value, at).map_err(|reason| self.refuse(reason)),
            (OpType::Make(ObjType::Text), FieldType::Text(most)) => {
                let path = at.text();
                self.texts.push(TextField { obj: object_text(made), most, path: path.clone() });
                self.places.insert(made.clone(), (Place::Text { most }, path.into()));
                Ok(())
            }
            (OpType::Delete, _) => Err(self.refuse(format!("{} was removed; fields are never removed", at.text()))),
            (OpType::Increment(_), _) => Err(self.refuse(format!("{} was incremented; no field is a counter", at.text()))),
            (_, kind) => Err(self.refuse(format!("{} must hold {}, not an object", at.text(), describe(kind)))),
        }
    }

    /// Where object `obj` sits: the root, an object made earlier in the batch, or one of
    /// the document's, found through its path from the root.
    fn place_of(&mut self, obj: &ObjectId) -> Result<(Place, Rc<str>), Refusal> {
        let ObjectId::Id(opid) = obj else { return Ok((Place::Root, Rc::from(""))) };
        if let Some(known) = self.places.get(opid) {
            return Ok(known.clone());
        }
        let (place, path) = self.locate(opid)?;
        if let Place::Text { most } = place {
            self.texts.push(TextField { obj: object_text(opid), most, path: path.clone() });
        }
        let found = (place, Rc::from(path));
        self.places.insert(opid.clone(), found.clone());
        Ok(found)
    }

    fn locate(&self, opid: &OpId) -> Result<(Place, String), Refusal> {
        let unknown = || self.refuse(format!("an operation names object {}, which this document does not hold", object_text(opid)));
        let (exid, kind) = self.doc.import(&object_text(opid)).map_err(|_| unknown())?;
        let steps = self.doc.parents(&exid).map_err(|_| unknown())?.path();
        let mut place = Place::Root;
        let mut path = String::new();
        for (index, (_, prop)) in steps.iter().enumerate() {
            let Prop::Map(key) = prop else {
                return Err(self.refuse(format!("an operation names an object inside {}, which holds no objects", display(&path))));
            };
            let kind = if index + 1 == steps.len() { kind } else { ObjType::Map };
            path = join(&path, key);
            place = self.child(place, key, kind).ok_or_else(|| {
                self.refuse(format!("an operation names {path}, which is outside the shape of a {} document", self.id.kind()))
            })?;
        }
        Ok((place, path))
    }

    /// The place of an object of type `kind` under `key` of an object at `parent`.
    fn child(&self, parent: Place, key: &str, kind: ObjType) -> Option<Place> {
        match (parent, kind) {
            (Place::Root, ObjType::Map) => self.shape.collection(key).map(|c| match c.records {
                Records::Keyed { keys, fields } => Place::Collection { keys, fields },
                Records::Fields(fields) => Place::Record { fields, made: None },
                Records::Unused => Place::Unused,
            }),
            (Place::Root, ObjType::Text) => text_place(schema::field(self.shape.fields, key)?),
            (Place::Collection { keys, fields }, ObjType::Map) => keys.allow(key).then_some(Place::Record { fields, made: None }),
            (Place::Record { fields, .. }, ObjType::Text) => text_place(schema::field(fields, key)?),
            _ => None,
        }
    }
}

/// Whether `op` names `earlier` among the operations it replaces.
fn replaces(op: &Op, earlier: &automerge::ObjId) -> bool {
    op.pred.iter().any(|pred| *earlier == object_id(pred.counter(), pred.actor()))
}

fn text_place(field: &Field) -> Option<Place> {
    match field.kind {
        FieldType::Text(most) => Some(Place::Text { most }),
        _ => None,
    }
}

/// Where an operation writes: the path of its object and its key, written out only for
/// a message or a place remembered (most operations are fine and need neither).
#[derive(Clone, Copy)]
struct At<'a> {
    path: &'a str,
    key: &'a str,
}

impl At<'_> {
    fn text(self) -> String {
        join(self.path, self.key)
    }
}

/// Whether `value` is what a field of `kind` holds.
fn fits(kind: FieldType, value: &ScalarValue, at: At<'_>) -> Result<(), String> {
    match (kind, value) {
        (FieldType::Text(most), ScalarValue::Str(text)) => {
            let chars = text.chars().count();
            if chars > most { Err(too_long(&at.text(), chars, most)) } else { Ok(()) }
        }
        (FieldType::Integer, ScalarValue::Int(_) | ScalarValue::Uint(_))
        | (FieldType::Timestamp, ScalarValue::Timestamp(_) | ScalarValue::Int(_)) => Ok(()),
        (kind, value) => Err(format!("{} must hold {}, not {}", at.text(), describe(kind), held(value))),
    }
}

fn too_long(path: &str, chars: usize, most: usize) -> String {
    format!("{path} holds {chars} characters; at most {most} are allowed")
}

fn describe(kind: FieldType) -> &'static str {
    match kind {
        FieldType::Text(_) => "text",
        FieldType::Integer => "a whole number",
        FieldType::Timestamp => "a time",
    }
}

fn held(value: &ScalarValue) -> &'static str {
    match value {
        ScalarValue::Str(_) => "text",
        ScalarValue::Int(_) | ScalarValue::Uint(_) => "a whole number",
        ScalarValue::F64(_) => "a fraction",
        ScalarValue::Timestamp(_) => "a time",
        ScalarValue::Boolean(_) => "yes or no",
        ScalarValue::Counter(_) => "a counter",
        ScalarValue::Bytes(_) | ScalarValue::Unknown { .. } => "bytes",
        ScalarValue::Null => "nothing (null)",
    }
}

/// An object id as automerge writes it (`counter@actor`), to find it in a document.
fn object_text(opid: &OpId) -> String {
    format!("{}@{}", opid.counter(), opid.actor().to_hex_string())
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}/{key}") }
}

fn display(path: &str) -> &str {
    if path.is_empty() { "the document's root" } else { path }
}

#[cfg(test)]
mod field_rules;

#[cfg(test)]
mod tests {
    use automerge::transaction::{Transactable, Transaction};
    use automerge::{ActorId, AutomergeError, ROOT, ReadDoc};
    use chrono::{DateTime, Utc};
    use timebank_engine::MonotonicReading;
    use timebank_engine::documents::{self, desk, fields, ledger, member, station};
    use timebank_engine::model::text::{MAX_NAME_CHARS, MAX_NOTE_CHARS};
    use timebank_engine::model::*;

    use super::*;

    /// One of the engine's writers, with its arguments.
    type Write<'a> = Box<dyn Fn(&mut Transaction<'_>) -> Result<(), AutomergeError> + 'a>;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_764_000_000_000 + minutes * 60_000).unwrap()
    }

    fn new_doc(raw: &str) -> (DocId, Automerge) {
        let id: DocId = raw.parse().unwrap();
        let doc = documents::genesis(&id, ActorId::random()).unwrap();
        (id, doc)
    }

    /// Makes `edit` on `doc` as one change, vets it before applying and checks it after;
    /// the document keeps the change either way (as a device would).
    fn vet_edit(
        id: &DocId,
        doc: &mut Automerge,
        edit: impl FnOnce(&mut Transaction<'_>) -> Result<(), AutomergeError>,
    ) -> Result<(), Refusal> {
        let before = doc.clone();
        let heads = doc.get_heads();
        let mut tx = doc.transaction();
        edit(&mut tx).unwrap();
        tx.commit();
        let changes = doc.get_changes(&heads);
        let applied = vet(id, &before, &changes, |_| false)?;
        applied.check(doc)
    }

    fn refused(result: Result<(), Refusal>) -> String {
        result.expect_err("the change should be refused").reason
    }

    fn a_visit(id: &str) -> Visit {
        Visit {
            id: VisitId::parse(id).unwrap(),
            volunteer: MemberId::parse("m-vol").unwrap(),
            elder: MemberId::parse("m-elder").unwrap(),
            service: "companionship".into(),
            order: Some(OrderId::parse("o-1").unwrap()),
            check_in: at(0),
            check_out: Some(at(60)),
            check_out_recorded_at: None,
            monotonic_ms: Some(3_600_000),
            source: VisitSource::Paper,
            note: "读报纸".into(),
            recorded_at: at(120),
            device: String::new(),
            confirmation: None,
            evidence: Evidence { tap_in: Some(a_tap(1)), tap_out: None, cosignature: None },
        }
    }

    /// A tap as the engine stores it (the longest a tap is).
    fn a_tap(seed: u8) -> Tap {
        Tap { picc_data: [seed; 16], cmac: [seed; 8] }
    }

    /// The longest co-signature a phone stores: ids and a device id at their most.
    fn a_cosignature(visit: &VisitId) -> CoSignature {
        CoSignature {
            visit: visit.clone(),
            signer: MemberId::parse(&format!("m-{}", "e".repeat(timebank_engine::model::ids::MAX_ID_LEN - 2))).unwrap(),
            device: "ab".repeat(32),
            public_key: [7; 32],
            signature: [9; 64],
        }
    }

    fn visit_map(tx: &Transaction<'_>, id: &str) -> automerge::ObjId {
        let visits = fields::map_at(tx, &ROOT, member::VISITS).unwrap();
        fields::map_at(tx, &visits, id).unwrap()
    }

    #[test]
    fn every_write_of_the_engine_keeps_the_shape() {
        let (id, mut doc) = new_doc("member/m-vol");
        let elder = MemberId::parse("m-elder").unwrap();
        let coordinator = MemberId::parse("m-coo").unwrap();
        let order = OrderId::parse("o-1").unwrap();
        let visit = a_visit("v-1");
        let writes: Vec<Write> = vec![
            Box::new(|tx| {
                member::put_profile(
                    tx,
                    &Profile {
                        id: MemberId::parse("m-vol").unwrap(),
                        role: Role::Volunteer,
                        station: StationId::parse("s-1").unwrap(),
                        display_name: "李伟".into(),
                        birth_year: Some(1958),
                        household: Some(HouseholdId::parse("h-1").unwrap()),
                        verification: Verification::Verified,
                    },
                )
            }),
            Box::new(|tx| member::put_visit(tx, &visit)),
            Box::new(|tx| member::put_monotonic_start(tx, &visit.id, &MonotonicReading { boot: "3f2a9c1d-boot".into(), millis: 12 })),
            Box::new(|tx| member::put_check_out(tx, &visit.id, at(70), at(75), Some(4_200_000), Some("wrote it down"))),
            Box::new(|tx| member::put_confirmation(tx, &visit.id, &Confirmation { by: ConfirmedBy::Family, at: at(80) })),
            Box::new(|tx| member::put_tap(tx, &visit.id, VisitEnd::CheckOut, &a_tap(2))),
            Box::new(|tx| member::put_cosignature(tx, &visit.id, &a_cosignature(&visit.id))),
            Box::new(|tx| {
                member::put_order(
                    tx,
                    &Order {
                        id: order.clone(),
                        elder: elder.clone(),
                        service: "meals".into(),
                        note: "no salt".into(),
                        requested_by: elder.clone(),
                        requested_at: at(1),
                        dispatched_to: None,
                        dispatched_at: None,
                        cancelled_at: None,
                        slot: Some(Slot { start: at(60), end: at(180) }),
                    },
                )
            }),
            Box::new(|tx| member::put_order_dispatch(tx, &order, &MemberId::parse("m-vol").unwrap(), at(2))),
            Box::new(|tx| member::put_order_cancel(tx, &order, at(3))),
            Box::new(|tx| {
                member::put_assignment(
                    tx,
                    &Assignment {
                        order: order.clone(),
                        elder: elder.clone(),
                        elder_name: Some("王芳".into()),
                        service: "meals".into(),
                        note: "no salt".into(),
                        offered_by: coordinator.clone(),
                        offered_at: at(2),
                        response: None,
                        responded_at: None,
                        decline_reason: String::new(),
                        slot: Some(Slot { start: at(60), end: at(180) }),
                    },
                )
            }),
            Box::new(|tx| member::put_response(tx, &order, Response::Declined, at(4), "away that day")),
            Box::new(|tx| {
                member::put_request(
                    tx,
                    &SpendRequest {
                        id: RequestId::parse("r-1").unwrap(),
                        kind: RequestKind::Redeem { service: "housekeeping".into(), at: None },
                        minutes: 60,
                        created_at: at(5),
                    },
                )
            }),
            Box::new(|tx| {
                member::put_request(
                    tx,
                    &SpendRequest {
                        id: RequestId::parse("r-2").unwrap(),
                        kind: RequestKind::Gift { to: elder.clone() },
                        minutes: 30,
                        created_at: at(6),
                    },
                )
            }),
        ];
        for write in &writes {
            vet_edit(&id, &mut doc, write).unwrap();
        }

        let (station_id, mut station_doc) = new_doc("station/s-1");
        vet_edit(&station_id, &mut station_doc, |tx| station::put_station(tx, "曹杨", &default_catalogue(), &VisitRules::default()))
            .unwrap();
        vet_edit(&station_id, &mut station_doc, |tx| station::put_verified_visits(tx, VerifiedVisits::Auto)).unwrap();

        let (desk_id, mut desk_doc) = new_doc("station/s-1/desk");
        let by = coordinator.clone();
        vet_edit(&desk_id, &mut desk_doc, |tx| {
            desk::put_review(
                tx,
                &visit.id,
                &desk::Review { decision: ReviewDecision::Reject, reason: "overlaps v-2".into(), by: by.clone(), at: at(9) },
            )?;
            let reversal = desk::Reversal {
                decision: ReviewDecision::Reject,
                review_at: at(9),
                reason: "老人确认来过".into(),
                by: by.clone(),
                at: at(10),
            };
            desk::put_reversal(tx, &visit.id, &reversal)?;
            desk::put_decision(
                tx,
                &RequestId::parse("r-1").unwrap(),
                &desk::Decision { action: RedemptionAction::Fulfil, by: by.clone(), at: at(9) },
            )?;
            desk::put_correction(
                tx,
                "c-1a2b",
                &desk::Correction { member: elder.clone(), minutes: -15, reason: "typo".into(), by: by.clone(), at: at(9) },
            )
        })
        .unwrap();

        let (ledger_id, mut ledger_doc) = new_doc("ledger/m-vol");
        vet_edit(&ledger_id, &mut ledger_doc, |tx| {
            ledger::put_outcome(tx, "v-1", &ledger::Outcome { status: OutcomeStatus::Approved, reason: String::new(), minutes: 60 })?;
            ledger::put_order_progress(tx, "o-1", OrderState::Settled)?;
            ledger::put_balance(tx, &ledger::LedgerBalance { confirmed_minutes: 60, reserved_minutes: 0 })?;
            ledger::put_posting(
                tx,
                "earn:v-1:r1",
                &ledger::PostingLine {
                    kind: "earn".into(),
                    minutes: 60,
                    balance_after: 60,
                    subject: "v-1".into(),
                    memo: "companionship".into(),
                    at: at(10),
                },
            )
        })
        .unwrap();
    }

    #[test]
    fn objects_fields_and_types_outside_the_shape_are_refused() {
        let (id, mut doc) = new_doc("member/m-vol");
        vet_edit(&id, &mut doc, |tx| member::put_visit(tx, &a_visit("v-1"))).unwrap();
        let outside = refused(vet_edit(&id, &mut doc.clone(), |tx| tx.put_object(ROOT, "extra", ObjType::Map).map(drop)));
        assert!(outside.contains("\"extra\" is not a top-level field of a member document"), "{outside}");
        let unknown = refused(vet_edit(&id, &mut doc.clone(), |tx| tx.put(visit_map(tx, "v-1"), "colour", "red")));
        assert_eq!(unknown, "visits/v-1 has no field \"colour\"");
        let wrong = refused(vet_edit(&id, &mut doc.clone(), |tx| tx.put(visit_map(tx, "v-1"), "check_in", "yesterday")));
        assert_eq!(wrong, "visits/v-1/check_in must hold a time, not text");
        let flag = refused(vet_edit(&id, &mut doc.clone(), |tx| tx.put(visit_map(tx, "v-1"), "monotonic_ms", true)));
        assert_eq!(flag, "visits/v-1/monotonic_ms must hold a whole number, not yes or no");
        let long =
            refused(vet_edit(&id, &mut doc.clone(), |tx| tx.put(visit_map(tx, "v-1"), "note", "字".repeat(MAX_NOTE_CHARS + 1))));
        assert_eq!(long, format!("visits/v-1/note holds {} characters; at most {MAX_NOTE_CHARS} are allowed", MAX_NOTE_CHARS + 1));
        // Exactly the limit, in characters (not bytes), is fine.
        vet_edit(&id, &mut doc.clone(), |tx| tx.put(visit_map(tx, "v-1"), "note", "字".repeat(MAX_NOTE_CHARS))).unwrap();
        let record = refused(vet_edit(&id, &mut doc.clone(), |tx| {
            let visits = fields::map_at(tx, &ROOT, member::VISITS).unwrap();
            tx.put(&visits, "v-2", "not a record")
        }));
        assert_eq!(record, "visits/v-2 must be a record (a map of fields)");
        let key = refused(vet_edit(&id, &mut doc.clone(), |tx| {
            let visits = fields::map_at(tx, &ROOT, member::VISITS).unwrap();
            tx.put_object(&visits, "V 2", ObjType::Map).map(drop)
        }));
        assert!(key.starts_with("\"V 2\" is not a record id in visits"), "{key}");
        let removed = refused(vet_edit(&id, &mut doc.clone(), |tx| tx.delete(visit_map(tx, "v-1"), "note")));
        assert_eq!(removed, "visits/v-1/note was removed; fields are never removed");
        let erased = refused(vet_edit(&id, &mut doc.clone(), |tx| {
            let visits = fields::map_at(tx, &ROOT, member::VISITS).unwrap();
            tx.delete(&visits, "v-1")
        }));
        assert_eq!(erased, "a record was removed (visits/v-1); records are never removed");
        let list = refused(vet_edit(&id, &mut doc.clone(), |tx| tx.put_object(visit_map(tx, "v-1"), "note", ObjType::List).map(drop)));
        assert_eq!(list, "visits/v-1/note must hold text, not an object");
        let counter = refused(vet_edit(&id, &mut doc, |tx| {
            let v = visit_map(tx, "v-1");
            tx.put(&v, "monotonic_ms", ScalarValue::counter(1))?;
            tx.increment(&v, "monotonic_ms", 5)
        }));
        assert!(counter.contains("not a counter"), "{counter}");
    }

    #[test]
    fn the_document_structure_is_fixed_for_everyone() {
        let (id, mut doc) = new_doc("member/m-vol");
        let schema = refused(vet_edit(&id, &mut doc.clone(), |tx| tx.put(ROOT, "schema", 99_u64)));
        assert!(schema.contains("\"schema\" is fixed"), "{schema}");
        let wiped = refused(vet_edit(&id, &mut doc.clone(), |tx| tx.delete(ROOT, "visits")));
        assert!(wiped.contains("\"visits\" is fixed"), "{wiped}");
        let replaced = refused(vet_edit(&id, &mut doc, |tx| tx.put_object(ROOT, "profile", ObjType::Map).map(drop)));
        assert!(replaced.contains("\"profile\" is fixed"), "{replaced}");
        let (station_id, mut station_doc) = new_doc("station/s-1");
        let notice = refused(vet_edit(&station_id, &mut station_doc, |tx| {
            let notices = fields::map_at(tx, &ROOT, station::NOTICES).unwrap();
            tx.put_object(&notices, "n-1", ObjType::Map).map(drop)
        }));
        assert_eq!(notice, "notices is not written by any version of the app; notices/n-1 was added");
    }

    #[test]
    fn nesting_stops_at_the_first_level_the_shape_lacks() {
        let (id, mut doc) = new_doc("member/m-vol");
        vet_edit(&id, &mut doc, |tx| member::put_visit(tx, &a_visit("v-1"))).unwrap();
        let deep = refused(vet_edit(&id, &mut doc, |tx| {
            let mut obj = tx.put_object(visit_map(tx, "v-1"), "evidence", ObjType::Map)?;
            for _ in 0..1000 {
                obj = tx.put_object(&obj, "inner", ObjType::Map)?;
            }
            Ok(())
        }));
        assert_eq!(deep, "visits/v-1 has no field \"evidence\"");
    }

    #[test]
    fn text_objects_are_strings_and_their_length_is_checked_once_applied() {
        let (id, mut doc) = new_doc("member/m-vol");
        vet_edit(&id, &mut doc, |tx| member::put_visit(tx, &a_visit("v-1"))).unwrap();
        vet_edit(&id, &mut doc, |tx| {
            let note = tx.put_object(visit_map(tx, "v-1"), "note", ObjType::Text)?;
            tx.splice_text(&note, 0, 0, "read the newspaper")
        })
        .unwrap();
        // A later edit of that Text object, found in the document.
        vet_edit(&id, &mut doc, |tx| {
            let visit = visit_map(tx, "v-1");
            let (_, note) = tx.get(&visit, "note")?.unwrap();
            tx.splice_text(&note, 0, 4, "wrote")
        })
        .unwrap();
        let note =
            doc.get(doc.get(doc.get(ROOT, "visits").unwrap().unwrap().1, "v-1").unwrap().unwrap().1, "note").unwrap().unwrap().1;
        assert_eq!(doc.text(&note).unwrap(), "wrote the newspaper");
        let long = refused(vet_edit(&id, &mut doc.clone(), |tx| {
            let visit = visit_map(tx, "v-1");
            let (_, note) = tx.get(&visit, "note")?.unwrap();
            tx.splice_text(&note, 0, 0, &"x".repeat(MAX_NOTE_CHARS))
        }));
        assert_eq!(long, format!("visits/v-1/note holds {} characters; at most {MAX_NOTE_CHARS} are allowed", MAX_NOTE_CHARS + 19));
        let marked = refused(vet_edit(&id, &mut doc.clone(), |tx| {
            let visit = visit_map(tx, "v-1");
            let (_, note) = tx.get(&visit, "note")?.unwrap();
            tx.mark(&note, automerge::marks::Mark::new("bold".into(), true, 0, 3), automerge::marks::ExpandMark::None)
        }));
        assert!(marked.starts_with("a mark (rich-text formatting) was set on visits/v-1/note"), "{marked}");
        let inside = refused(vet_edit(&id, &mut doc, |tx| {
            let visit = visit_map(tx, "v-1");
            let (_, note) = tx.get(&visit, "note")?.unwrap();
            tx.insert_object(&note, 0, ObjType::Map).map(drop)
        }));
        assert_eq!(inside, "visits/v-1/note is text: it holds characters, and nothing else");
        // A station's name, a top-level text field, may be a Text object too.
        let (station_id, mut station_doc) = new_doc("station/s-1");
        vet_edit(&station_id, &mut station_doc, |tx| {
            let name = tx.put_object(ROOT, "name", ObjType::Text)?;
            tx.splice_text(&name, 0, 0, &"曹".repeat(MAX_NAME_CHARS))
        })
        .unwrap();
    }

    #[test]
    fn objects_made_earlier_in_the_batch_are_followed_and_unknown_ones_refused() {
        let (id, genesis) = new_doc("member/m-vol");
        let mut doc = genesis.clone();
        let heads = doc.get_heads();
        doc.transact(|tx| member::put_visit(tx, &a_visit("v-1"))).unwrap();
        doc.transact(|tx| tx.put(visit_map(tx, "v-1"), "note", "later")).unwrap();
        let both = doc.get_changes(&heads);
        assert_eq!(both.len(), 2);
        vet(&id, &genesis, &both, |_| false).unwrap();
        let unknown = vet(&id, &genesis, &both[1..], |_| false).unwrap_err();
        assert!(unknown.reason.starts_with("an operation names object "), "{unknown}");
        assert!(unknown.reason.ends_with("which this document does not hold"), "{unknown}");
    }
}
