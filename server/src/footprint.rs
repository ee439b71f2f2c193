//! What a batch of pushed changes writes, record by record, read from its operations as
//! the shape check walks them ([`crate::vetting`]): the records it touches, for the
//! ledger's arrival events, and those it makes whole with the fields it gives them, read
//! without walking the document again (ADR 0060).

use std::collections::{BTreeSet, HashMap};

use automerge::{ActorId, ObjId, ObjType, ReadDoc, ScalarValue, Value};
use timebank_engine::documents::fields::Fields;

/// The records a batch of changes touches and those it makes whole.
#[derive(Clone, Debug, Default)]
pub struct Footprint {
    /// Every (collection, record id) an operation of the batch writes into.
    pub touched: BTreeSet<(String, String)>,
    /// Every record an operation of the batch made, in the order they were made.
    making: Vec<Making>,
    /// The last record made at each key, by collection and id (an index into `making`).
    keys: HashMap<String, HashMap<String, Maker>>,
    /// The record the last operation touched (a record's operations come one after another).
    last: Option<(String, String)>,
}

/// Which of the records made in a batch an operation made ([`Footprint::make`]).
pub type Maker = usize;

#[derive(Clone, Debug)]
struct Making {
    made: Made,
    /// Whether its fields can be read from the operations (see [`Made`]).
    whole: bool,
}

/// A record a batch made whole: a new map at a key its collection did not hold, made once,
/// whose fields only its maker set, each field set again only by an operation that
/// replaces the earlier one ([`Footprint::set`]). Its fields are those the operations
/// gave; a text field's characters are read out of the document.
#[derive(Clone, Debug)]
pub struct Made {
    /// The record's map.
    pub obj: ObjId,
    /// Each field once: its key, its value and the id of the operation that set it.
    pub fields: Vec<(String, Value<'static>, ObjId)>,
}

impl Footprint {
    /// Touching `records` (collection, id), making none of them whole.
    pub fn touching(records: BTreeSet<(String, String)>) -> Footprint {
        Footprint { touched: records, ..Footprint::default() }
    }

    /// Notes that an operation wrote at `path` (collection, record id, field...): a record
    /// is touched when the path reaches one.
    pub(crate) fn touch(&mut self, path: &[&str]) {
        if let [collection, id, ..] = path
            && self.last.as_ref().is_none_or(|(c, i)| c != collection || i != id)
        {
            let record = ((*collection).to_owned(), (*id).to_owned());
            self.touched.insert(record.clone());
            self.last = Some(record);
        }
    }

    /// Notes that operation `obj` made record `id` of `collection`; `existed`: the
    /// document held a record under that key before the batch (a conflict or a
    /// replacement). Such a record, and one made twice in the batch, is read out of the
    /// document.
    pub(crate) fn make(&mut self, collection: &str, id: &str, obj: ObjId, existed: bool) -> Maker {
        let maker = self.making.len();
        let keys = self.keys.entry(collection.to_owned()).or_default();
        let again = keys.insert(id.to_owned(), maker);
        if let Some(earlier) = again.and_then(|earlier| self.making.get_mut(earlier)) {
            earlier.whole = false;
        }
        self.making.push(Making { made: Made { obj, fields: Vec::new() }, whole: !existed && again.is_none() });
        maker
    }

    /// Notes that operation `op` set field `key` of the record `maker` made to a scalar
    /// `value` or, with `None`, to a new text object; `overwrites` says whether `op`
    /// names a given earlier operation among those it replaces. A field set again by an
    /// operation that does not replace the earlier one holds both (automerge's winner need
    /// not be the later): the record is read out of the document then.
    pub(crate) fn set(
        &mut self,
        maker: Maker,
        key: &str,
        value: Option<&ScalarValue>,
        op: ObjId,
        overwrites: impl Fn(&ObjId) -> bool,
    ) {
        let Some(making) = self.making.get_mut(maker).filter(|m| m.whole) else { return };
        if !same_actor(&making.made.obj, &op) {
            making.whole = false;
            return;
        }
        let value = match value {
            Some(scalar) => Value::Scalar(std::borrow::Cow::Owned(scalar.clone())),
            None => Value::Object(ObjType::Text),
        };
        let fields = &mut making.made.fields;
        match fields.iter_mut().find(|(k, _, _)| k == key) {
            Some((_, _, earlier)) if !overwrites(earlier) => making.whole = false,
            Some(field) => *field = (key.to_owned(), value, op),
            None => fields.push((key.to_owned(), value, op)),
        }
    }

    /// The record `id` of `collection`, if the batch made it whole.
    pub fn made(&self, collection: &str, id: &str) -> Option<&Made> {
        let maker = *self.keys.get(collection)?.get(id)?;
        self.making.get(maker).filter(|m| m.whole).map(|m| &m.made)
    }
}

impl Made {
    /// Its fields, read in `doc` (the document with the write) where a field is a text.
    pub fn fields<'d, D: ReadDoc>(&'d self, doc: &'d D) -> Fields<'d, D> {
        Fields::given(doc, self.fields.iter().map(|(key, value, id)| (key.as_str(), value, id)))
    }
}

fn same_actor(a: &ObjId, b: &ObjId) -> bool {
    actor(a) == actor(b)
}

fn actor(id: &ObjId) -> Option<&ActorId> {
    match id {
        ObjId::Id(_, actor, _) => Some(actor),
        ObjId::Root => None,
    }
}

/// The document's id of the object (or operation) `counter@actor`, for reading and
/// comparing. Its actor's index in the document is not known here; automerge looks the
/// actor up where the index does not match.
pub fn object_id(counter: u64, actor: &ActorId) -> ObjId {
    ObjId::Id(counter, actor.clone(), usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(counter: u64, actor: u8) -> ObjId {
        object_id(counter, &ActorId::from([actor; 16]))
    }

    fn text(value: &str) -> ScalarValue {
        ScalarValue::Str(value.into())
    }

    fn note(footprint: &Footprint) -> Option<String> {
        let made = footprint.made("visits", "v-1")?;
        made.fields.iter().find(|(key, _, _)| key == "note").map(|(_, value, _)| value.to_string())
    }

    #[test]
    fn a_record_made_once_by_its_maker_is_read_from_the_operations() {
        let mut footprint = Footprint::default();
        let visit = footprint.make("visits", "v-1", op(1, 1), false);
        footprint.set(visit, "note", Some(&text("tea")), op(2, 1), |_| false);
        // Set again, replacing the first value: the later one is the record's.
        footprint.set(visit, "note", Some(&text("tea and a walk")), op(3, 1), |earlier| *earlier == op(2, 1));
        assert_eq!(note(&footprint).as_deref(), Some("\"tea and a walk\""));
    }

    #[test]
    fn a_record_whose_fields_the_operations_cannot_tell_is_read_out_of_the_document() {
        // Set again without replacing the first value: both are held, and automerge's
        // winner need not be the later one (a hand-made change can number it lower).
        let mut footprint = Footprint::default();
        let visit = footprint.make("visits", "v-1", op(1, 1), false);
        footprint.set(visit, "note", Some(&text("one hour")), op(5, 1), |_| false);
        footprint.set(visit, "note", Some(&text("five hours")), op(3, 1), |_| false);
        assert!(footprint.made("visits", "v-1").is_none());

        // Set by a device other than the one that made it.
        let mut footprint = Footprint::default();
        let visit = footprint.make("visits", "v-1", op(1, 1), false);
        footprint.set(visit, "note", Some(&text("tea")), op(2, 2), |_| false);
        assert!(footprint.made("visits", "v-1").is_none());

        // Made at a key the document held already, or made twice in the batch.
        let mut footprint = Footprint::default();
        footprint.make("visits", "v-1", op(1, 1), true);
        assert!(footprint.made("visits", "v-1").is_none());
        let mut footprint = Footprint::default();
        let first = footprint.make("visits", "v-1", op(1, 1), false);
        let second = footprint.make("visits", "v-1", op(4, 1), false);
        footprint.set(first, "note", Some(&text("tea")), op(2, 1), |_| false);
        footprint.set(second, "note", Some(&text("walk")), op(5, 1), |_| false);
        assert!(footprint.made("visits", "v-1").is_none());
    }

    #[test]
    fn touched_records_are_noted_once_each() {
        let mut footprint = Footprint::default();
        for path in
            [&["visits", "v-1"][..], &["visits", "v-1", "note"], &["visits", "v-2", "note"], &["kind"], &["visits", "v-1", "elder"]]
        {
            footprint.touch(path);
        }
        let touched: Vec<(&str, &str)> = footprint.touched.iter().map(|(c, i)| (c.as_str(), i.as_str())).collect();
        assert_eq!(touched, [("visits", "v-1"), ("visits", "v-2")]);
    }
}
