//! Reading and writing typed fields of automerge maps (text, numbers, times). Text is read
//! whether it is stored as a scalar string or as a text object; it is written as a scalar.

use automerge::iter::MapRangeItem;
use automerge::transaction::Transactable;
use automerge::{AutomergeError, ObjId, ObjType, ReadDoc, ScalarValue, ScalarValueRef, Value, ValueRef};
use chrono::{DateTime, Utc};

/// The object under `key` in `obj`, if it is a map.
pub fn map_at(doc: &impl ReadDoc, obj: &ObjId, key: &str) -> Option<ObjId> {
    match doc.get(obj, key) {
        Ok(Some((Value::Object(ObjType::Map), id))) => Some(id),
        _ => None,
    }
}

/// The keys of the map under `key` in `obj` with each entry's map id.
pub fn entries(doc: &impl ReadDoc, obj: &ObjId, key: &str) -> Vec<(String, ObjId)> {
    let Some(collection) = map_at(doc, obj, key) else { return Vec::new() };
    doc.keys(&collection).filter_map(|k| map_at(doc, &collection, &k).map(|id| (k, id))).collect()
}

fn scalar(doc: &impl ReadDoc, obj: &ObjId, key: &str) -> Option<ScalarValue> {
    match doc.get(obj, key) {
        Ok(Some((Value::Scalar(value), _))) => Some(value.into_owned()),
        _ => None,
    }
}

/// A text field, stored as a scalar string (what this engine writes) or as an automerge
/// text object (what other implementations write for a string, e.g. the JavaScript
/// library's default): a record edited elsewhere reads the same. Writers here put scalars.
pub fn str_at(doc: &impl ReadDoc, obj: &ObjId, key: &str) -> Option<String> {
    match doc.get(obj, key) {
        Ok(Some((Value::Scalar(value), _))) => match value.as_ref() {
            ScalarValue::Str(s) => Some(s.to_string()),
            _ => None,
        },
        Ok(Some((Value::Object(ObjType::Text), text))) => doc.text(&text).ok(),
        _ => None,
    }
}

/// An unsigned integer field (stored as uint or a non-negative int).
pub fn u64_at(doc: &impl ReadDoc, obj: &ObjId, key: &str) -> Option<u64> {
    match scalar(doc, obj, key)? {
        ScalarValue::Uint(n) => Some(n),
        ScalarValue::Int(n) => u64::try_from(n).ok(),
        _ => None,
    }
}

/// A signed integer field.
pub fn i64_at(doc: &impl ReadDoc, obj: &ObjId, key: &str) -> Option<i64> {
    match scalar(doc, obj, key)? {
        ScalarValue::Int(n) => Some(n),
        ScalarValue::Uint(n) => i64::try_from(n).ok(),
        _ => None,
    }
}

/// A time field (automerge timestamp, milliseconds since the epoch).
pub fn time_at(doc: &impl ReadDoc, obj: &ObjId, key: &str) -> Option<DateTime<Utc>> {
    match scalar(doc, obj, key)? {
        ScalarValue::Timestamp(ms) | ScalarValue::Int(ms) => DateTime::from_timestamp_millis(ms),
        _ => None,
    }
}

/// The fields of one map, read in one pass over it: a record with many fields costs one
/// walk of the map instead of one lookup per field. Reads as the functions above do.
/// Or the fields a write gave a map it made, as its patches tell them
/// ([`Fields::given`]): nothing of the document is walked.
pub struct Fields<'d, D: ReadDoc> {
    doc: &'d D,
    items: Vec<Item<'d>>,
}

/// One field: as the walk of the map found it, or as given.
enum Item<'d> {
    Walked(MapRangeItem<'d>),
    Given { key: &'d str, value: ValueRef<'static>, id: &'d ObjId },
}

impl<'d> Item<'d> {
    fn key(&self) -> &str {
        match self {
            Item::Walked(item) => item.key.as_ref(),
            Item::Given { key, .. } => key,
        }
    }

    fn value(&self) -> &ValueRef<'_> {
        match self {
            Item::Walked(item) => &item.value,
            Item::Given { value, .. } => value,
        }
    }

    fn id(&self) -> ObjId {
        match self {
            Item::Walked(item) => item.id(),
            Item::Given { id, .. } => (*id).clone(),
        }
    }
}

impl<D: ReadDoc> std::fmt::Debug for Fields<'_, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.items.iter().map(Item::key)).finish()
    }
}

impl<'d, D: ReadDoc> Fields<'d, D> {
    /// The fields of the map `obj` (none if it is not a map).
    pub fn of(doc: &'d D, obj: &ObjId) -> Self {
        Fields { doc, items: doc.map_range(obj, ..).map(Item::Walked).collect() }
    }

    /// The fields a write gave a map it made, each key once with its winning value and the
    /// id of the op that set it (a patch's `PutMap`, with no conflict), read in `doc` (the
    /// document with the write) where a field is a text object.
    pub fn given(doc: &'d D, fields: impl IntoIterator<Item = (&'d str, &'d Value<'static>, &'d ObjId)>) -> Self {
        let mut items: Vec<Item<'d>> = fields
            .into_iter()
            .map(|(key, value, id)| {
                let value = match value {
                    Value::Object(kind) => ValueRef::Object(*kind),
                    Value::Scalar(scalar) => ValueRef::Scalar(ScalarValueRef::from(scalar.as_ref().clone())),
                };
                Item::Given { key, value, id }
            })
            .collect();
        items.sort_by(|a, b| a.key().cmp(b.key()));
        Fields { doc, items }
    }

    fn item(&self, key: &str) -> Option<&Item<'d>> {
        // The walk yields the keys in order; given ones are sorted.
        self.items.binary_search_by(|item| item.key().cmp(key)).ok().map(|i| &self.items[i])
    }

    fn scalar(&self, key: &str) -> Option<&ScalarValueRef<'_>> {
        match self.item(key)?.value() {
            ValueRef::Scalar(value) => Some(value),
            ValueRef::Object(_) => None,
        }
    }

    /// A text field (see [`str_at`]).
    pub fn str(&self, key: &str) -> Option<String> {
        let item = self.item(key)?;
        match item.value() {
            ValueRef::Scalar(ScalarValueRef::Str(s)) => Some(s.to_string()),
            ValueRef::Object(ObjType::Text) => self.doc.text(item.id()).ok(),
            _ => None,
        }
    }

    /// An unsigned integer field (see [`u64_at`]).
    pub fn u64(&self, key: &str) -> Option<u64> {
        match self.scalar(key)? {
            ScalarValueRef::Uint(n) => Some(*n),
            ScalarValueRef::Int(n) => u64::try_from(*n).ok(),
            _ => None,
        }
    }

    /// A signed integer field (see [`i64_at`]).
    pub fn i64(&self, key: &str) -> Option<i64> {
        match self.scalar(key)? {
            ScalarValueRef::Int(n) => Some(*n),
            ScalarValueRef::Uint(n) => i64::try_from(*n).ok(),
            _ => None,
        }
    }

    /// A time field (see [`time_at`]).
    pub fn time(&self, key: &str) -> Option<DateTime<Utc>> {
        match self.scalar(key)? {
            ScalarValueRef::Timestamp(ms) | ScalarValueRef::Int(ms) => DateTime::from_timestamp_millis(*ms),
            _ => None,
        }
    }
}

/// Writes a time field.
pub fn put_time(tx: &mut impl Transactable, obj: &ObjId, key: &str, at: DateTime<Utc>) -> Result<(), AutomergeError> {
    tx.put(obj, key, ScalarValue::Timestamp(at.timestamp_millis()))
}

/// Writes an optional text field (nothing when `None`).
pub fn put_opt_str(tx: &mut impl Transactable, obj: &ObjId, key: &str, value: Option<&str>) -> Result<(), AutomergeError> {
    match value {
        Some(v) => tx.put(obj, key, v),
        None => Ok(()),
    }
}

/// Creates (or returns the existing) map `key` inside the collection `collection` of `root`.
pub fn record(tx: &mut impl Transactable, root: &ObjId, collection: &str, key: &str) -> Result<ObjId, AutomergeError> {
    let parent = match map_at(tx, root, collection) {
        Some(id) => id,
        None => tx.put_object(root, collection, ObjType::Map)?,
    };
    match map_at(tx, &parent, key) {
        Some(id) => Ok(id),
        None => tx.put_object(&parent, key, ObjType::Map),
    }
}
