//! Who may read and write which document (DESIGN.md, "Documents and authority"), and the
//! field rules checked on a fork of a document before a device's changes are merged.
//!
//! | document | read by | written by |
//! | --- | --- | --- |
//! | `member/X` | X's devices; coordinators of X's station | the same |
//! | `station/S` | members of S | coordinators of S |
//! | `station/S/desk` | coordinators of S | coordinators of S |
//! | `ledger/X` | X's devices; coordinators of X's station | the relay only |

use std::collections::{BTreeSet, HashMap};

use automerge::{ActorId, Change};
use timebank_engine::DocId;
use timebank_engine::documents::member;
use timebank_engine::model::{MemberId, Role};

use crate::store::{DeviceRecord, MemberRecord, RelayStore, StoreResult};

/// What one device may read: computed from its member's role and station.
#[derive(Clone, Debug)]
pub struct Access {
    readable: BTreeSet<DocId>,
    coordinator: bool,
}

impl Access {
    /// The documents `member`'s devices may read: their own member document and ledger,
    /// their station's document; for a coordinator also the desk and every member
    /// document and ledger of the station; for a family proxy also the member documents
    /// and ledgers of the elders of its household.
    pub fn of(store: &dyn RelayStore, member: &MemberRecord) -> StoreResult<Access> {
        let mut readable = BTreeSet::from([
            DocId::Member(member.id.clone()),
            DocId::Ledger(member.id.clone()),
            DocId::Station(member.station.clone()),
        ]);
        if member.role == Role::Coordinator {
            readable.insert(DocId::Desk(member.station.clone()));
            for other in store.station_members(&member.station)? {
                readable.insert(DocId::Member(other.id.clone()));
                readable.insert(DocId::Ledger(other.id));
            }
        }
        if member.role == Role::FamilyProxy {
            for elder in store.station_members(&member.station)? {
                if proxies_for(member, &elder) {
                    readable.insert(DocId::Member(elder.id.clone()));
                    readable.insert(DocId::Ledger(elder.id));
                }
            }
        }
        Ok(Access { readable, coordinator: member.role == Role::Coordinator })
    }

    /// Every document the device may read.
    pub fn readable(&self) -> &BTreeSet<DocId> {
        &self.readable
    }

    /// Whether the device may read `doc`.
    pub fn can_read(&self, doc: &DocId) -> bool {
        self.readable.contains(doc)
    }

    /// Whether the device may write `doc`: every member document it reads (its own; a
    /// coordinator's station's), the station documents if it is a coordinator, never a
    /// ledger.
    pub fn can_write(&self, doc: &DocId) -> bool {
        self.can_read(doc)
            && match doc {
                DocId::Member(_) => true,
                DocId::Station(_) | DocId::Desk(_) => self.coordinator,
                DocId::Ledger(_) => false,
            }
    }
}

/// Whether `proxy` acts for `elder`: a family proxy acts for the elders of its own
/// household at its station (the coordinator records the household when registering both).
fn proxies_for(proxy: &MemberRecord, elder: &MemberRecord) -> bool {
    proxy.role == Role::FamilyProxy
        && elder.role == Role::Elder
        && proxy.station == elder.station
        && proxy.household.is_some()
        && proxy.household == elder.household
}

/// Why a batch was refused: said to the device and recorded as a security event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The document.
    pub doc: String,
    /// The rule broken, in words.
    pub reason: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the changes to {} were refused: {}. Nothing from this sync was stored", self.doc, self.reason)
    }
}

/// Resolves the authors of changes (actor → device → member), remembering what it looked
/// up for the length of one request.
#[derive(Debug)]
pub struct Authors<'a> {
    store: &'a dyn RelayStore,
    by_actor: HashMap<String, Result<MemberRecord, String>>,
    members: HashMap<MemberId, Option<MemberRecord>>,
}

impl<'a> Authors<'a> {
    /// A resolver over `store`. The relay's own actors (every process that wrote as the
    /// relay) are no device's: a change claiming one is refused.
    pub fn new(store: &'a dyn RelayStore) -> Self {
        Authors { store, by_actor: HashMap::new(), members: HashMap::new() }
    }

    /// The member whose enrolled, unrevoked device registered `actor`, or why there is none.
    fn author(&mut self, actor: &str) -> StoreResult<Result<MemberRecord, String>> {
        if let Some(known) = self.by_actor.get(actor) {
            return Ok(known.clone());
        }
        let short = &actor[..actor.len().min(12)];
        let found = if self.store.is_relay_actor(actor)? {
            Err("a change claims to be written by the relay itself".to_owned())
        } else {
            match self.store.device_by_actor(actor)? {
                None => Err(format!("a change was made by actor {short}…, which no enrolled device registered")),
                Some(device) if device.revoked_at.is_some() => {
                    Err(format!("a change was made by device {}, which was revoked", device.id))
                }
                Some(device) => match self.member(&device.member)? {
                    Some(member) => Ok(member),
                    None => Err(format!("a change was made by device {} of unknown member {}", device.id, device.member)),
                },
            }
        };
        self.by_actor.insert(actor.to_owned(), found.clone());
        Ok(found)
    }

    /// The same resolver, told that `device` (the one the request's token names: enrolled,
    /// not revoked, and its actor no relay's, as enrollment checked) writes for `member`,
    /// so its own changes cost no lookups.
    pub fn knowing(mut self, device: &DeviceRecord, member: &MemberRecord) -> Self {
        if device.revoked_at.is_none() && device.member == member.id {
            self.by_actor.insert(device.actor.clone(), Ok(member.clone()));
            self.members.insert(member.id.clone(), Some(member.clone()));
        }
        self
    }

    fn member(&mut self, id: &MemberId) -> StoreResult<Option<MemberRecord>> {
        if let Some(known) = self.members.get(id) {
            return Ok(known.clone());
        }
        let found = self.store.member(id)?;
        self.members.insert(id.clone(), found.clone());
        Ok(found)
    }

    /// Checks that every change's author may write `doc` (each author once). Returns whether
    /// any author is not a coordinator (then the field rules apply).
    pub fn check_writers<'c>(
        &mut self,
        doc: &DocId,
        changes: impl IntoIterator<Item = &'c Change>,
    ) -> StoreResult<Result<bool, Refusal>> {
        let refuse = |reason: String| Ok(Err(Refusal { doc: doc.to_string(), reason }));
        let mut any_non_coordinator = false;
        let mut checked: Vec<&ActorId> = Vec::new();
        for change in changes {
            if checked.contains(&change.actor_id()) {
                continue;
            }
            checked.push(change.actor_id());
            let author = match self.author(&change.actor_id().to_hex_string())? {
                Ok(author) => author,
                Err(reason) => return refuse(reason),
            };
            any_non_coordinator |= author.role != Role::Coordinator;
            let allowed = match doc {
                DocId::Member(owner) => {
                    *owner == author.id
                        || (author.role == Role::Coordinator && self.member(owner)?.is_some_and(|m| m.station == author.station))
                        || (author.role == Role::FamilyProxy && self.member(owner)?.is_some_and(|elder| proxies_for(&author, &elder)))
                }
                DocId::Station(s) | DocId::Desk(s) => author.role == Role::Coordinator && author.station == *s,
                DocId::Ledger(_) => false,
            };
            if !allowed {
                let rule = match doc {
                    DocId::Member(_) => {
                        "a member's document is written only by that member's devices, the coordinators of their station and, for an elder, a family proxy of their household"
                    }
                    DocId::Station(_) => "a station's document is written only by its coordinators",
                    DocId::Desk(_) => "the station desk is written only by the station's coordinators",
                    DocId::Ledger(_) => "a ledger is written only by the relay",
                };
                return refuse(format!("{} ({}) may not write it: {rule}", author.id, author.role.as_str()));
            }
        }
        Ok(Ok(any_non_coordinator))
    }
}

/// Field rules that the writer table cannot express, checked on each operation of a
/// non-coordinator's change as the shape check walks them ([`crate::vetting`]): `path` is
/// where the operation writes, from the document's root (collection, record id, field). A
/// coordinator's changes break none of these rules. Checking operations rather than their
/// effect refuses also a write a concurrent one hides (ADR 0060). The shape of the
/// document, its fixed top-level fields among it, is checked first.
///
/// Only rules an honest engine can never break belong here: a refusal refuses the
/// device's whole batch at every retry. ("No edits to a visit after review" is not one:
/// an offline phone cannot know of the review; the ledger deals with such edits.)
pub fn check_field(doc: &DocId, path: &[&str]) -> Result<(), Refusal> {
    let refuse = |reason: String| Err(Refusal { doc: doc.to_string(), reason });
    let DocId::Member(_) = doc else { return Ok(()) };
    let (Some(&first), key, field) = (path.first(), path.get(1).copied(), path.get(2).copied()) else { return Ok(()) };
    match first {
        member::PROFILE => refuse(format!("the profile ({}) is changed only by the station's coordinators", path.join("/"))),
        member::ORDERS if matches!(field, Some("dispatched_to" | "dispatched_at")) => {
            refuse(format!("only coordinators dispatch orders (order {})", key.unwrap_or_default()))
        }
        member::ASSIGNMENTS => match field {
            None => refuse(format!("only coordinators create or remove assignments (assignment {})", key.unwrap_or_default())),
            Some("response" | "responded_at" | "decline_reason") => Ok(()),
            Some(other) => {
                refuse(format!("only coordinators change an assignment's {other} (assignment {})", key.unwrap_or_default()))
            }
        },
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_read_collection_record_and_field() {
        let id: DocId = "member/m-vol".parse().unwrap();
        assert_eq!(check_field(&id, &["assignments", "o-1", "response"]), Ok(()));
        let refused = check_field(&id, &["assignments", "o-1", "elder"]).unwrap_err();
        assert!(refused.reason.contains("assignment's elder (assignment o-1)"), "{refused}");
        // Other documents have no field rules.
        assert_eq!(check_field(&"station/s-1".parse().unwrap(), &["profile", "name"]), Ok(()));
    }
}
