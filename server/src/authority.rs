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

use automerge::{Change, Patch, PatchAction, Prop};
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

    /// Checks that every change's author may write `doc`. Returns whether any author is
    /// not a coordinator (then the field rules apply).
    pub fn check_writers(&mut self, doc: &DocId, changes: &[Change]) -> StoreResult<Result<bool, Refusal>> {
        let refuse = |reason: String| Ok(Err(Refusal { doc: doc.to_string(), reason }));
        let mut any_non_coordinator = false;
        for change in changes {
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

/// Field rules that the writer table cannot express, checked on the patches from the
/// relay's document to the fork with the device's changes. `non_coordinator` says whether
/// any author is not a coordinator (a coordinator's changes break none of these rules).
/// The shape of the document, its fixed top-level fields among it, is checked before
/// ([`crate::vetting`]).
///
/// Only rules an honest engine can never break belong here: a refusal refuses the
/// device's whole batch at every retry. ("No edits to a visit after review" is not one:
/// an offline phone cannot know of the review; the ledger deals with such edits.)
pub fn check_fields(doc: &DocId, patches: &[Patch], non_coordinator: bool) -> Result<(), Refusal> {
    let refuse = |reason: String| Err(Refusal { doc: doc.to_string(), reason });
    if !non_coordinator {
        return Ok(());
    }
    for patch in patches {
        let path = full_path(patch);
        let Some(first) = path.first().map(String::as_str) else { continue };
        if let DocId::Member(_) = doc {
            let key = path.get(1).map(String::as_str);
            let field = path.get(2).map(String::as_str);
            match first {
                member::PROFILE => {
                    return refuse(format!("the profile ({}) is changed only by the station's coordinators", path.join("/")));
                }
                member::ORDERS if matches!(field, Some("dispatched_to" | "dispatched_at")) => {
                    return refuse(format!("only coordinators dispatch orders (order {})", key.unwrap_or_default()));
                }
                member::ASSIGNMENTS => match field {
                    None => {
                        return refuse(format!(
                            "only coordinators create or remove assignments (assignment {})",
                            key.unwrap_or_default()
                        ));
                    }
                    Some("response" | "responded_at" | "decline_reason") => {}
                    Some(other) => {
                        return refuse(format!(
                            "only coordinators change an assignment's {other} (assignment {})",
                            key.unwrap_or_default()
                        ));
                    }
                },
                _ => {}
            }
        }
    }
    Ok(())
}

/// The path from the document root to what the patch touched: the first element is the
/// collection, the second the record key, the third the field.
fn full_path(patch: &Patch) -> Vec<String> {
    let prop_text = |prop: &Prop| match prop {
        Prop::Map(key) => key.clone(),
        Prop::Seq(index) => index.to_string(),
    };
    let mut path: Vec<String> = patch.path.iter().map(|(_, prop)| prop_text(prop)).collect();
    match &patch.action {
        PatchAction::PutMap { key, .. } | PatchAction::DeleteMap { key } => path.push(key.clone()),
        PatchAction::Increment { prop, .. } | PatchAction::Conflict { prop } => path.push(prop_text(prop)),
        PatchAction::PutSeq { index, .. }
        | PatchAction::Insert { index, .. }
        | PatchAction::SpliceText { index, .. }
        | PatchAction::DeleteSeq { index, .. } => path.push(index.to_string()),
        PatchAction::Mark { .. } => {}
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::{ActorId, Automerge, ObjType, ROOT, ReadDoc};
    use timebank_engine::documents::{self, fields};

    fn member_doc() -> (DocId, Automerge) {
        let id: DocId = "member/m-vol".parse().unwrap();
        let mut doc = documents::genesis(&id, ActorId::random()).unwrap();
        doc.transact::<_, _, automerge::AutomergeError>(|tx| {
            let assignments = fields::map_at(tx, &ROOT, member::ASSIGNMENTS).unwrap();
            let a = tx.put_object(&assignments, "o-1", ObjType::Map)?;
            tx.put(&a, "elder", "m-elder")?;
            let visits = fields::map_at(tx, &ROOT, member::VISITS).unwrap();
            let v = tx.put_object(&visits, "v-1", ObjType::Map)?;
            tx.put(&v, "note", "")?;
            Ok(())
        })
        .unwrap();
        (id, doc)
    }

    /// The patches an edit makes, as the relay sees them on its fork.
    fn patches_of(edit: impl FnOnce(&mut automerge::transaction::Transaction<'_>)) -> (DocId, Vec<Patch>) {
        let (id, mut doc) = member_doc();
        let before = doc.get_heads();
        let mut tx = doc.transaction();
        edit(&mut tx);
        tx.commit();
        let after = doc.get_heads();
        (id, doc.diff(&before, &after))
    }

    fn check(edit: impl FnOnce(&mut automerge::transaction::Transaction<'_>), non_coordinator: bool) -> Result<(), Refusal> {
        let (id, patches) = patches_of(edit);
        check_fields(&id, &patches, non_coordinator)
    }

    fn map(tx: &automerge::transaction::Transaction<'_>, path: &[&str]) -> automerge::ObjId {
        path.iter().fold(ROOT, |obj, key| fields::map_at(tx, &obj, key).unwrap())
    }

    #[test]
    fn a_volunteer_may_answer_an_assignment_but_not_create_one() {
        let answer = check(|tx| tx.put(map(tx, &["assignments", "o-1"]), "response", "accepted").unwrap(), true);
        assert_eq!(answer, Ok(()));
        let created = check(
            |tx| {
                let assignments = map(tx, &["assignments"]);
                tx.put_object(&assignments, "o-2", ObjType::Map).unwrap();
            },
            true,
        )
        .unwrap_err();
        assert!(created.reason.contains("only coordinators create or remove assignments (assignment o-2)"), "{created}");
        let changed = check(|tx| tx.put(map(tx, &["assignments", "o-1"]), "elder", "m-other").unwrap(), true).unwrap_err();
        assert!(changed.reason.contains("assignment's elder"), "{changed}");
        // The elder's name a dispatch carries (ADR 0021) is the coordinators' too.
        let renamed = check(|tx| tx.put(map(tx, &["assignments", "o-1"]), "elder_name", "someone else").unwrap(), true).unwrap_err();
        assert!(renamed.reason.contains("assignment's elder_name"), "{renamed}");
        // A coordinator's device may.
        assert_eq!(
            check(
                |tx| {
                    let assignments = map(tx, &["assignments"]);
                    tx.put_object(&assignments, "o-2", ObjType::Map).unwrap();
                },
                false
            ),
            Ok(())
        );
    }

    #[test]
    fn profile_and_dispatch_are_for_coordinators() {
        let profile = check(|tx| tx.put(map(tx, &["profile"]), "verification", "verified").unwrap(), true).unwrap_err();
        assert!(profile.reason.contains("profile/verification"), "{profile}");
        let dispatch = check(
            |tx| {
                let orders = map(tx, &["orders"]);
                let o = tx.put_object(&orders, "o-9", ObjType::Map).unwrap();
                tx.put(&o, "dispatched_to", "m-vol").unwrap();
            },
            true,
        )
        .unwrap_err();
        assert!(dispatch.reason.contains("only coordinators dispatch orders (order o-9)"), "{dispatch}");
        assert_eq!(check(|tx| tx.put(map(tx, &["profile"]), "display_name", "Li").unwrap(), false), Ok(()));
    }

    #[test]
    fn a_volunteer_may_edit_its_own_visits() {
        assert_eq!(check(|tx| tx.put(map(tx, &["visits", "v-1"]), "note", "tea").unwrap(), true), Ok(()));
    }

    /// Puts `value` under `key` as an automerge text object (the JavaScript library's
    /// default for a string).
    fn put_text(tx: &mut automerge::transaction::Transaction<'_>, obj: &automerge::ObjId, key: &str, value: &str) {
        let text = tx.put_object(obj, key, ObjType::Text).unwrap();
        tx.splice_text(&text, 0, 0, value).unwrap();
    }

    #[test]
    fn fields_written_as_text_objects_are_checked_like_strings() {
        // What a volunteer may write passes whether a string is a scalar or a text object.
        let visit = check(|tx| put_text(tx, &map(tx, &["visits", "v-1"]), "note", "read the newspaper"), true);
        assert_eq!(visit, Ok(()));
        let new_visit = check(
            |tx| {
                let visits = map(tx, &["visits"]);
                let v = tx.put_object(&visits, "v-2", ObjType::Map).unwrap();
                put_text(tx, &v, "elder", "m-elder");
                put_text(tx, &v, "service", "meals");
            },
            true,
        );
        assert_eq!(new_visit, Ok(()));
        let answer = check(
            |tx| {
                let a = map(tx, &["assignments", "o-1"]);
                put_text(tx, &a, "response", "declined");
                put_text(tx, &a, "decline_reason", "away this week");
            },
            true,
        );
        assert_eq!(answer, Ok(()));
        // What only coordinators write is refused as text too.
        let dispatch = check(
            |tx| {
                let orders = map(tx, &["orders"]);
                let o = tx.put_object(&orders, "o-9", ObjType::Map).unwrap();
                put_text(tx, &o, "dispatched_to", "m-vol");
            },
            true,
        )
        .unwrap_err();
        assert!(dispatch.reason.contains("only coordinators dispatch orders (order o-9)"), "{dispatch}");
        let renamed = check(|tx| put_text(tx, &map(tx, &["assignments", "o-1"]), "elder_name", "someone else"), true).unwrap_err();
        assert!(renamed.reason.contains("assignment's elder_name"), "{renamed}");
    }

    #[test]
    fn paths_name_collection_record_and_field() {
        let (_, patches) = patches_of(|tx| tx.put(map(tx, &["assignments", "o-1"]), "response", "declined").unwrap());
        let paths: Vec<Vec<String>> = patches.iter().map(full_path).collect();
        assert_eq!(paths, [vec!["assignments".to_owned(), "o-1".into(), "response".into()]]);
        let doc = member_doc().1;
        assert!(doc.get(ROOT, "kind").unwrap().is_some());
    }
}
