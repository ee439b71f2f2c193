//! The shape of every document kind: its top-level fields, its collections, the records
//! in each (maps keyed by ids) and every record's fields with their type and, for text,
//! the most characters. The engine's writers in this folder write nothing else; the relay
//! checks every pushed change against it before applying it (ADR 0024).
//!
//! Text may be stored as a scalar string (what this engine writes) or as an automerge Text
//! object (what other implementations write); both count characters against the limit.

use crate::documents::{DocId, desk, ledger, member, station};
use crate::model::evidence::{MAX_COSIGNATURE_CHARS, TAP_CHARS};
use crate::model::ids::{MAX_ID_LEN, is_id};
use crate::model::text::{MAX_NAME_CHARS, MAX_NOTE_CHARS, MAX_REASON_CHARS};

/// Most characters in a stored word: a role, a status, a decision.
const WORD: usize = 32;
/// Most characters in what the relay writes for people to read (a posting's memo).
const MEMO: usize = 1000;

/// What a field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// Text of at most this many characters: a string, or an automerge Text object.
    Text(usize),
    /// A whole number (int or uint).
    Integer,
    /// A time: an automerge timestamp, or an int of milliseconds (as [`super::fields::time_at`] reads).
    Timestamp,
}

/// One field of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// Its key, as the engine spells it.
    pub name: &'static str,
    /// What it holds.
    pub kind: FieldType,
}

/// How the records of a collection are keyed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keys {
    /// By an id ([`is_id`]: visits, orders, requests, services, corrections).
    Ids,
    /// By a ledger key: ids joined by `:` (`earn:v-1:r1`).
    LedgerKeys,
}

impl Keys {
    /// Whether `key` names a record of such a collection.
    pub fn allow(self, key: &str) -> bool {
        match self {
            Keys::Ids => is_id(key),
            Keys::LedgerKeys => key.len() <= 4 * MAX_ID_LEN && key.split(':').count() <= 4 && key.split(':').all(is_id),
        }
    }
}

/// What a collection (a map at the top of a document) holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Records {
    /// Records keyed by `keys`, each a map of these fields.
    Keyed {
        /// How records are keyed.
        keys: Keys,
        /// Each record's fields.
        fields: &'static [Field],
    },
    /// These fields, directly (a profile, the rules, the balance).
    Fields(&'static [Field]),
    /// Nothing yet: no version of the app writes into it.
    Unused,
}

/// One collection of a document kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Collection {
    /// Its key at the top of the document.
    pub name: &'static str,
    /// What it holds.
    pub records: Records,
}

/// The shape of one document kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Fields at the top of the document besides `schema`, `kind` and the collections,
    /// which genesis writes and nothing changes.
    pub fields: &'static [Field],
    /// The collections, in genesis order.
    pub collections: &'static [Collection],
}

impl Shape {
    /// The collection named `name`.
    pub fn collection(&self, name: &str) -> Option<&'static Collection> {
        self.collections.iter().find(|c| c.name == name)
    }
}

/// The top-level keys genesis writes besides the collections; fixed for good.
pub const FIXED: [&str; 2] = ["schema", "kind"];

/// The shape of `doc`'s kind.
pub fn shape(doc: &DocId) -> &'static Shape {
    match doc {
        DocId::Member(_) => &MEMBER,
        DocId::Station(_) => &STATION,
        DocId::Desk(_) => &DESK,
        DocId::Ledger(_) => &LEDGER,
    }
}

/// Finds `name` among `fields`.
pub fn field(fields: &'static [Field], name: &str) -> Option<&'static Field> {
    fields.iter().find(|f| f.name == name)
}

const fn text(name: &'static str, most: usize) -> Field {
    Field { name, kind: FieldType::Text(most) }
}

const fn id(name: &'static str) -> Field {
    text(name, MAX_ID_LEN)
}

const fn word(name: &'static str) -> Field {
    text(name, WORD)
}

const fn integer(name: &'static str) -> Field {
    Field { name, kind: FieldType::Integer }
}

const fn time(name: &'static str) -> Field {
    Field { name, kind: FieldType::Timestamp }
}

const fn keyed(name: &'static str, fields: &'static [Field]) -> Collection {
    Collection { name, records: Records::Keyed { keys: Keys::Ids, fields } }
}

/// `member/<id>` ([`member`]).
const MEMBER: Shape = Shape {
    fields: &[],
    collections: &[
        Collection {
            name: member::PROFILE,
            records: Records::Fields(&[
                id("id"),
                word("role"),
                id("station"),
                text("display_name", MAX_NAME_CHARS),
                integer("birth_year"),
                id("household"),
                word("verification"),
            ]),
        },
        keyed(
            member::VISITS,
            &[
                id("elder"),
                id("service"),
                id("order"),
                time("check_in"),
                time("check_out"),
                integer("monotonic_ms"),
                word("source"),
                text("note", MAX_NOTE_CHARS),
                time("recorded_at"),
                word("confirmed_by"),
                time("confirmed_at"),
                text("mono_boot", MAX_ID_LEN),
                integer("mono_start_ms"),
                time("check_out_recorded_at"),
                text(member::TAP_IN, TAP_CHARS),
                text(member::TAP_OUT, TAP_CHARS),
                text(member::COSIGNATURE, MAX_COSIGNATURE_CHARS),
            ],
        ),
        keyed(
            member::ORDERS,
            &[
                id("elder"),
                id("service"),
                text("note", MAX_NOTE_CHARS),
                id("requested_by"),
                time("requested_at"),
                id("dispatched_to"),
                time("dispatched_at"),
                time("cancelled_at"),
                time("slot_start"),
                time("slot_end"),
            ],
        ),
        keyed(
            member::ASSIGNMENTS,
            &[
                id("elder"),
                text("elder_name", MAX_NAME_CHARS),
                id("service"),
                text("note", MAX_NOTE_CHARS),
                id("offered_by"),
                time("offered_at"),
                word("response"),
                time("responded_at"),
                text("decline_reason", MAX_REASON_CHARS),
                time("slot_start"),
                time("slot_end"),
            ],
        ),
        keyed(member::REQUESTS, &[word("kind"), id("service"), id("to"), id("at"), integer("minutes"), time("created_at")]),
    ],
};

/// `station/<id>` ([`station`]).
const STATION: Shape = Shape {
    fields: &[text("name", MAX_NAME_CHARS)],
    collections: &[
        keyed(station::CATALOGUE, &[text("name_zh", MAX_NAME_CHARS), text("name_en", MAX_NAME_CHARS), word("kind")]),
        Collection {
            name: station::RULES,
            records: Records::Fields(&[
                integer("max_visit_minutes"),
                integer("clock_skew_minutes"),
                integer("late_submission_days"),
                integer("backdate_tolerance_minutes"),
                word(station::VERIFIED_VISITS),
            ]),
        },
        Collection { name: station::NOTICES, records: Records::Unused },
    ],
};

/// `station/<id>/desk` ([`desk`]).
const DESK: Shape = Shape {
    fields: &[],
    collections: &[
        Collection { name: desk::DIRECTORY, records: Records::Unused },
        keyed(
            desk::REVIEWS,
            &[
                word("decision"),
                text("reason", MAX_REASON_CHARS),
                id("by"),
                time("at"),
                time("reversal_of"),
                text("reversal_reason", MAX_REASON_CHARS),
                id("reversal_by"),
                time("reversal_at"),
            ],
        ),
        keyed(desk::DECISIONS, &[word("action"), id("by"), time("at")]),
        keyed(desk::CORRECTIONS, &[id("member"), integer("minutes"), text("reason", MAX_REASON_CHARS), id("by"), time("at")]),
    ],
};

/// `ledger/<member>` ([`ledger`]), written by the relay only.
const LEDGER: Shape = Shape {
    fields: &[],
    collections: &[
        Collection {
            name: ledger::POSTINGS,
            records: Records::Keyed {
                keys: Keys::LedgerKeys,
                fields: &[word("kind"), integer("minutes"), integer("balance_after"), id("subject"), text("memo", MEMO), time("at")],
            },
        },
        keyed(ledger::OUTCOMES, &[word("status"), text("reason", MEMO), integer("minutes")]),
        Collection { name: ledger::BALANCE, records: Records::Fields(&[integer("confirmed_minutes"), integer("reserved_minutes")]) },
    ],
};

#[cfg(test)]
mod tests {
    use automerge::{ActorId, ROOT, ReadDoc};

    use super::*;
    use crate::documents::genesis;

    #[test]
    fn genesis_writes_the_collections_of_the_shape() {
        for raw in ["member/m-1", "station/s-1", "station/s-1/desk", "ledger/m-1"] {
            let id: DocId = raw.parse().unwrap();
            let doc = genesis(&id, ActorId::random()).unwrap();
            let names: Vec<&str> = shape(&id).collections.iter().map(|c| c.name).collect();
            let mut keys: Vec<String> = doc.keys(ROOT).filter(|k| !FIXED.contains(&k.as_str())).collect();
            keys.sort();
            let mut sorted = names.clone();
            sorted.sort_unstable();
            assert_eq!(keys, sorted, "{raw}");
        }
    }

    #[test]
    fn record_keys_are_ids_or_ledger_keys() {
        assert!(Keys::Ids.allow("v-3f2a"));
        assert!(!Keys::Ids.allow("V 1"));
        assert!(!Keys::Ids.allow(&"a".repeat(65)));
        assert!(Keys::LedgerKeys.allow("earn:v-1:r1"));
        assert!(Keys::LedgerKeys.allow("gift-out:r-9:r2"));
        assert!(!Keys::LedgerKeys.allow("earn::r1"));
        assert!(!Keys::LedgerKeys.allow("a:b:c:d:e"));
    }
}
