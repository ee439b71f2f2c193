//! Typed views over the automerge documents of DESIGN.md, and their deterministic genesis.
//!
//! | document | written by |
//! | --- | --- |
//! | `member/<id>` | the member's devices, their station's coordinators, a family proxy |
//! | `station/<id>` | the station's coordinators |
//! | `station/<id>/desk` | the station's coordinators |
//! | `ledger/<member>` | the relay only |

pub mod coordinator;
pub mod desk;
pub mod fields;
pub mod ledger;
pub mod member;
pub mod schema;
pub mod station;
pub mod view;

use std::fmt;
use std::str::FromStr;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, Automerge, AutomergeError, LoadOptions, ObjType, OnPartialLoad, ROOT};

use crate::error::Error;
use crate::model::{MemberId, StationId};

/// The schema version this build writes into every new document and can read.
pub const SCHEMA_VERSION: u64 = 1;

/// Which document: the id that the store, the relay and the sync protocol use.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DocId {
    /// `member/<id>`: a member's profile, visits, orders, assignments and requests.
    Member(MemberId),
    /// `station/<id>`: the catalogue, rules and notices of a station.
    Station(StationId),
    /// `station/<id>/desk`: the coordinators' directory and reviews.
    Desk(StationId),
    /// `ledger/<member>`: postings and outcomes, written by the relay.
    Ledger(MemberId),
}

impl DocId {
    /// The kind of document, also stored inside it under `kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            DocId::Member(_) => "member",
            DocId::Station(_) => "station",
            DocId::Desk(_) => "desk",
            DocId::Ledger(_) => "ledger",
        }
    }

    /// The maps every document of this kind holds from its genesis on ([`schema::shape`]).
    pub fn collections(&self) -> impl Iterator<Item = &'static str> {
        schema::shape(self).collections.iter().map(|c| c.name)
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DocId::Member(id) => write!(f, "member/{id}"),
            DocId::Station(id) => write!(f, "station/{id}"),
            DocId::Desk(id) => write!(f, "station/{id}/desk"),
            DocId::Ledger(id) => write!(f, "ledger/{id}"),
        }
    }
}

impl FromStr for DocId {
    type Err = Error;

    fn from_str(raw: &str) -> Result<Self, Error> {
        let parts: Vec<&str> = raw.split('/').collect();
        match parts.as_slice() {
            ["member", id] => Ok(DocId::Member(MemberId::parse(id)?)),
            ["station", id] => Ok(DocId::Station(StationId::parse(id)?)),
            ["station", id, "desk"] => Ok(DocId::Desk(StationId::parse(id)?)),
            ["ledger", id] => Ok(DocId::Ledger(MemberId::parse(id)?)),
            _ => Err(Error::invalid(format!(
                "{raw:?} is not a document id; expected member/<id>, station/<id>, station/<id>/desk or ledger/<id>"
            ))),
        }
    }
}

/// The actor that writes every document's first change. Fixed, so that two devices
/// that create the same document offline produce the same genesis change (same hash)
/// and their later edits land in the same maps instead of conflicting copies.
pub fn genesis_actor() -> ActorId {
    ActorId::from(b"timebank-genesis".as_slice())
}

/// Creates document `id` in its initial state: schema version, kind and empty
/// collections, byte-for-byte identical on every device. `actor` writes what follows.
pub fn genesis(id: &DocId, actor: ActorId) -> Result<Automerge, Error> {
    let mut doc = Automerge::new().with_actor(genesis_actor());
    doc.transact_with(
        |_| CommitOptions::default().with_time(0).with_message(format!("genesis {id}")),
        |tx| {
            tx.put(ROOT, "schema", SCHEMA_VERSION)?;
            tx.put(ROOT, "kind", id.kind())?;
            for collection in id.collections() {
                tx.put_object(ROOT, collection, ObjType::Map)?;
            }
            Ok::<_, automerge::AutomergeError>(())
        },
    )
    .map_err(|failure| Error::Document(failure.error))?;
    doc.set_actor(actor);
    Ok(doc)
}

/// Checks that `bytes` (a saved document or incremental chunks) can be read to the end.
/// `Automerge::load_incremental` keeps whatever leading chunks of damaged bytes it can
/// read and reports no error, so bytes from a peer are checked whole before they are
/// merged. Changes whose dependencies are not in `bytes` pass: the receiver may hold them.
pub fn check_whole(bytes: &[u8]) -> Result<(), AutomergeError> {
    match Automerge::load_with_options(bytes, LoadOptions::new().on_partial_load(OnPartialLoad::Error)) {
        Ok(_) | Err(AutomergeError::MissingDeps) => Ok(()),
        Err(error) => Err(error),
    }
}

/// Refuses a document written by a newer schema than this build understands.
pub fn check_schema(id: &DocId, doc: &Automerge) -> Result<(), Error> {
    let found = fields::u64_at(doc, &ROOT, "schema").unwrap_or(0);
    if found > SCHEMA_VERSION {
        return Err(Error::DocumentTooNew { doc: id.to_string(), found, supported: SCHEMA_VERSION });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_ids_round_trip_through_text() {
        for raw in ["member/v-1", "station/s-1", "station/s-1/desk", "ledger/v-1"] {
            let id: DocId = raw.parse().unwrap();
            assert_eq!(id.to_string(), raw);
        }
        assert!("member/V 1".parse::<DocId>().is_err());
        assert!("visits/v-1".parse::<DocId>().is_err());
    }

    #[test]
    fn genesis_is_identical_on_every_device() {
        let id = DocId::Member(MemberId::parse("v-1").unwrap());
        let a = genesis(&id, ActorId::random()).unwrap();
        let b = genesis(&id, ActorId::random()).unwrap();
        assert_eq!(a.get_heads(), b.get_heads());
        assert_ne!(a.get_actor(), b.get_actor());
    }

    #[test]
    fn damaged_bytes_are_not_whole_but_changes_without_their_deps_are() {
        let id = DocId::Member(MemberId::parse("v-1").unwrap());
        let mut doc = genesis(&id, ActorId::random()).unwrap();
        let genesis_heads = doc.get_heads();
        doc.transact(|tx| tx.put(ROOT, "note", "first")).unwrap();
        let saved = doc.save();
        assert!(check_whole(&saved).is_ok());
        // Only the change after genesis: its dependency is not in the bytes.
        assert!(check_whole(&doc.save_after(&genesis_heads)).is_ok());

        let mut flipped = saved.clone();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 0xff;
        assert!(check_whole(&flipped).is_err());
        let mut appended = saved.clone();
        appended.extend_from_slice(b"garbage");
        assert!(check_whole(&appended).is_err());
        assert!(check_whole(&saved[..saved.len() - 3]).is_err());
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let id = DocId::Station(StationId::parse("s-1").unwrap());
        let mut doc = genesis(&id, ActorId::random()).unwrap();
        doc.transact(|tx| tx.put(ROOT, "schema", SCHEMA_VERSION + 1)).unwrap();
        let err = check_schema(&id, &doc).unwrap_err();
        assert!(err.to_string().contains("update the app"), "{err}");
    }
}
