//! What a batch of pushed changes writes, record by record, read from its operations as
//! the shape check walks them ([`crate::vetting`]): the records it touches, for the
//! ledger's arrival events, and those it makes whole with the fields it gives them, read
//! without walking the document again (ADR 0060).

use std::collections::{BTreeSet, HashMap, HashSet};

use automerge::{ActorId, ObjId, ObjType, ReadDoc, ScalarValue, Value};
use timebank_engine::documents::fields::Fields;

/// The records a batch of changes touches and those it makes whole.
#[derive(Clone, Debug, Default)]
pub struct Footprint {
    /// Every (collection, record id) an operation of the batch writes into.
    pub touched: BTreeSet<(String, String)>,
    /// The records the batch makes whole, by collection and id.
    made: HashMap<String, HashMap<String, Made>>,
    /// Where each record made in the batch sits, by its object.
    making: HashMap<ObjId, (String, String)>,
    /// Records made in the batch that are read out of the document after all.
    spoiled: HashSet<(String, String)>,
    /// The record the last operation touched (a record's operations come one after another).
    last: Option<(String, String)>,
}

/// A record a batch made whole: a new map at a key its collection did not hold, made once,
/// whose fields only its maker set (in causal order, so the last set wins). Its fields are
/// those the operations gave; a text field's characters are read out of the document.
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
    /// replacement, read out of the document).
    pub(crate) fn make(&mut self, collection: &str, id: &str, obj: ObjId, existed: bool) {
        let key = (collection.to_owned(), id.to_owned());
        let made = self.made.entry(key.0.clone()).or_default();
        if existed || made.contains_key(id) || self.spoiled.contains(&key) {
            made.remove(id);
            self.spoiled.insert(key.clone());
        } else {
            made.insert(key.1.clone(), Made { obj: obj.clone(), fields: Vec::new() });
        }
        self.making.insert(obj, key);
    }

    /// Notes that operation `op` set field `key` of the map `obj` to a scalar `value` or,
    /// with `None`, to a new text object.
    pub(crate) fn set(&mut self, obj: &ObjId, key: &str, value: Option<&ScalarValue>, op: ObjId) {
        let Some(made) = self.made_mut(obj) else { return };
        if !same_actor(&made.obj, &op) {
            self.spoil(obj);
            return;
        }
        let value = match value {
            Some(scalar) => Value::Scalar(std::borrow::Cow::Owned(scalar.clone())),
            None => Value::Object(ObjType::Text),
        };
        match made.fields.iter_mut().find(|(k, _, _)| k == key) {
            Some(field) => *field = (key.to_owned(), value, op),
            None => made.fields.push((key.to_owned(), value, op)),
        }
    }

    /// Notes that the map `obj` was written in a way its fields cannot be read from the
    /// operations: the record is read out of the document.
    pub(crate) fn spoil(&mut self, obj: &ObjId) {
        if let Some(key) = self.making.get(obj).cloned() {
            if let Some(made) = self.made.get_mut(&key.0) {
                made.remove(&key.1);
            }
            self.spoiled.insert(key);
        }
    }

    /// The record `id` of `collection`, if the batch made it whole.
    pub fn made(&self, collection: &str, id: &str) -> Option<&Made> {
        self.made.get(collection)?.get(id)
    }

    fn made_mut(&mut self, obj: &ObjId) -> Option<&mut Made> {
        let (collection, id) = self.making.get(obj)?;
        self.made.get_mut(collection)?.get_mut(id)
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
