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
    /// `value` or, with `None`, to a new text object.
    pub(crate) fn set(&mut self, maker: Maker, key: &str, value: Option<&ScalarValue>, op: ObjId) {
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
