//! Whether changes from outside can follow a document's history, checked before they are
//! applied (on the relay and on the phone alike): automerge 0.12 panics, instead of
//! refusing, when it applies a change whose author wrote nothing in the document yet but
//! whose sequence number is not 1, or a change that names a device the document never
//! saw. Automerge itself always numbers an author's changes 1, 2, 3… and builds each on
//! the one before, so honest changes pass; hand-made ones are refused here with the reason.

use std::collections::{HashMap, HashSet};

use automerge::{ActorId, Automerge, Change, ChangeHash, ObjId, ROOT, ReadDoc};

use crate::sync::heads::holds;

/// How many of the document's changes [`check`] reads back from the ones pushed before it
/// reads the whole history: an honest push builds on its author's last change, near the
/// document's heads.
const NEARBY: usize = 256;

/// Checks that `changes`, in the order they will be applied to `doc`, each follow their
/// author's last change (in `doc` or earlier among them) with the next sequence number,
/// and name no device that has written nothing in `doc` or earlier among them. Changes
/// `doc` already holds are skipped.
///
/// The document's changes are first read back from those the pushed ones build on, a few
/// at most ([`NEARBY`]): when they show each author's previous change and every device
/// named (a device with a value at the root, such as the genesis actor every visit names,
/// is known without them: ADR 61), the changes pass without reading the whole history (whose cost grows with it:
/// about 1.3 ms for 3,000 changes). Otherwise, and for every refusal, the whole history
/// decides. What the near read lets pass that the whole history would refuse (a second
/// change with a number the document holds already: a device's history forked, or an
/// author's first change numbered 1 again) cannot make automerge panic: it refuses it.
pub fn check<'c>(doc: &Automerge, changes: impl IntoIterator<Item = &'c Change>) -> Result<(), String> {
    let changes: Vec<&Change> = changes.into_iter().collect();
    if follow(&nearby(doc, &changes), doc, &changes).is_ok() {
        return Ok(());
    }
    let mut last: HashMap<ActorId, u64> = HashMap::new();
    for meta in doc.get_changes_meta(&[]) {
        let seq = last.entry(meta.actor.into_owned()).or_default();
        *seq = (*seq).max(meta.seq);
    }
    follow(&last, doc, &changes)
}

/// Each author's last change number among the document's changes that `changes` build on,
/// read back from them until every author's previous change and every device named is
/// found, or [`NEARBY`] changes were read.
fn nearby(doc: &Automerge, changes: &[&Change]) -> HashMap<ActorId, u64> {
    let pushed: HashSet<ChangeHash> = changes.iter().map(|c| c.hash()).collect();
    let authors: HashSet<&ActorId> = changes.iter().map(|c| c.actor_id()).collect();
    let rooted = rooted(doc);
    let mut wanted: HashMap<&ActorId, u64> = HashMap::new();
    for change in changes {
        let before = change.seq().saturating_sub(1);
        let want = wanted.entry(change.actor_id()).or_insert(before);
        *want = (*want).min(before);
        for other in change.other_actor_ids().iter().filter(|other| authors.contains(other) || !rooted.contains(*other)) {
            wanted.entry(other).or_insert(1);
        }
    }
    // A device that only needs to have written something, and has a value at the root, is
    // known without reading back to its change (0: its number is not needed).
    let mut last: HashMap<ActorId, u64> =
        rooted.into_iter().filter(|actor| !authors.contains(actor)).map(|actor| (actor, 0)).collect();
    let mut next: Vec<ChangeHash> = changes.iter().flat_map(|c| c.deps().iter().copied()).filter(|d| !pushed.contains(d)).collect();
    let mut read = HashSet::new();
    while let Some(hash) = next.pop() {
        if read.len() >= NEARBY || wanted.iter().all(|(actor, &want)| want == 0 || last.get(*actor).is_some_and(|&seq| seq >= want)) {
            break;
        }
        if !read.insert(hash) {
            continue;
        }
        let Some(meta) = doc.get_change_meta_by_hash(&hash) else { continue };
        let seq = last.entry(meta.actor.into_owned()).or_default();
        *seq = (*seq).max(meta.seq);
        next.extend(meta.deps);
    }
    last
}

/// The devices with a value at the document's root: each wrote a change in it. The
/// genesis actor, which made every collection, is one; a visit names it (its record goes
/// into a collection), and its only change is the document's first.
fn rooted(doc: &Automerge) -> HashSet<ActorId> {
    doc.map_range(ROOT, ..)
        .filter_map(|item| match item.id() {
            ObjId::Id(_, actor, _) => Some(actor),
            ObjId::Root => None,
        })
        .collect()
}

/// Checks `changes` in order against `last`, each author's last change number known
/// before them.
fn follow(last: &HashMap<ActorId, u64>, doc: &Automerge, changes: &[&Change]) -> Result<(), String> {
    let mut last = last.clone();
    let mut seen = HashSet::new();
    for change in changes {
        if holds(doc, &change.hash()) || !seen.insert(change.hash()) {
            continue;
        }
        let author = change.actor_id();
        let before = last.get(author).copied().unwrap_or(0);
        if change.seq() != before + 1 {
            return Err(format!(
                "a change by device {} is its change number {}, but the document holds {before} of its changes before it",
                short(author),
                change.seq()
            ));
        }
        if let Some(stranger) = change.other_actor_ids().iter().find(|other| !last.contains_key(*other)) {
            return Err(format!("a change names device {}, which wrote nothing in the document", short(stranger)));
        }
        last.insert(author.clone(), change.seq());
    }
    Ok(())
}

/// The first characters of an actor id, enough to tell devices apart in a message.
fn short(actor: &ActorId) -> String {
    let hex = actor.to_hex_string();
    format!("{}…", &hex[..hex.len().min(12)])
}

#[cfg(test)]
mod tests {
    use automerge::ROOT;
    use automerge::transaction::Transactable as _;

    use super::*;
    use crate::sync::bounds::handmade::Handmade;
    use crate::sync::bounds::{Budget, PUSH};

    fn read(handmade: &Handmade) -> Change {
        Budget::new(PUSH).read_change(&handmade.chunk()).unwrap()
    }

    /// A document with one change by a device, and that device's actor.
    fn doc_with_one_change() -> (Automerge, ActorId) {
        let actor = ActorId::random();
        let mut doc = Automerge::new().with_actor(actor.clone());
        doc.transact(|tx| tx.put(ROOT, "a", 1)).unwrap();
        (doc, actor)
    }

    #[test]
    fn honest_changes_follow_and_are_applied() {
        let (doc, _) = doc_with_one_change();
        let mut other = doc.fork().with_actor(ActorId::random());
        let heads = doc.get_heads();
        for i in 0..3 {
            other.transact(|tx| tx.put(ROOT, "b", i)).unwrap();
        }
        let changes = other.get_changes(&heads);
        check(&doc, &changes).unwrap();
        // What the document already holds is skipped.
        check(&doc, &other.get_changes(&[])).unwrap();
        let mut applied = doc.clone();
        applied.apply_changes(changes).unwrap();
        assert_eq!(applied.get_heads(), other.get_heads());
    }

    #[test]
    fn a_change_that_skips_numbers_or_names_a_stranger_is_refused_before_automerge_panics() {
        let (doc, known) = doc_with_one_change();
        let heads: Vec<[u8; 32]> = doc.get_heads().iter().map(|h| h.0).collect();
        // A new device's first change numbered 2: automerge 0.12 panics applying it.
        let mut skipped = Handmade::puts(1, "x");
        skipped.seq = 2;
        skipped.deps = heads.clone();
        let skipped = read(&skipped);
        let refused = check(&doc, [&skipped]).unwrap_err();
        assert!(refused.contains("change number 2, but the document holds 0"), "{refused}");
        assert!(std::panic::catch_unwind(|| doc.clone().apply_changes([skipped])).is_err(), "automerge panics");
        // A known device jumping ahead.
        let mut ahead = Handmade::puts(1, "x");
        ahead.actor = known.to_bytes().to_vec();
        ahead.seq = 5;
        ahead.deps = heads.clone();
        assert!(check(&doc, [&read(&ahead)]).unwrap_err().contains("number 5, but the document holds 1"));
        // A device named by a change that has written nothing here.
        let mut stranger = Handmade::puts(1, "x");
        stranger.others = vec![vec![0xcd; 16]];
        stranger.deps = heads;
        let stranger = read(&stranger);
        assert!(check(&doc, [&stranger]).unwrap_err().contains("names device cdcdcdcdcdcd…"));
        assert!(std::panic::catch_unwind(|| doc.clone().apply_changes([stranger])).is_err(), "automerge panics");
        // Its first change numbered 1 is fine, and then its second.
        let mut first = Handmade::puts(1, "x");
        first.deps = doc.get_heads().iter().map(|h| h.0).collect();
        let first = read(&first);
        let mut second = Handmade::puts(1, "y");
        second.seq = 2;
        second.start_op = 3;
        second.deps = vec![first.hash().0];
        check(&doc, [&first, &read(&second)]).unwrap();
    }

    /// `writes` changes by `actor` into `doc`, one key each.
    fn write(doc: &mut Automerge, writes: usize, key: &str) {
        for i in 0..writes {
            doc.transact(|tx| tx.put(ROOT, key, i64::try_from(i).unwrap())).unwrap();
        }
    }

    /// A phone's next change on a long history is checked from the changes near it (its
    /// own last change a few below); one that names a device which wrote far below (much
    /// was written since) from the whole history; both pass and apply.
    #[test]
    fn a_long_history_is_read_near_the_push_and_whole_only_when_needed() {
        let (mut doc, phone) = doc_with_one_change();
        let shared = doc.transact(|tx| tx.put_object(ROOT, "m", automerge::ObjType::Map)).unwrap().result;
        let mut other = doc.fork().with_actor(ActorId::random());
        other.transact(|tx| tx.put(&shared, "x", "set by another device")).unwrap();
        doc.merge(&mut other).unwrap();
        write(&mut doc, NEARBY + 10, "a");
        let mut relay = doc.fork().with_actor(ActorId::random());
        write(&mut relay, 3, "b");

        let mut on_phone = relay.fork().with_actor(phone.clone());
        on_phone.transact(|tx| tx.put(ROOT, "note", "tea")).unwrap();
        let next = on_phone.get_changes(&relay.get_heads());
        let pushed: Vec<&Change> = next.iter().collect();
        assert_eq!(nearby(&relay, &pushed).get(&phone), Some(&(NEARBY as u64 + 12)), "its last change is near");
        assert!(follow(&nearby(&relay, &pushed), &relay, &pushed).is_ok());
        check(&relay, &next).unwrap();

        // Overwriting what the other device wrote (not at the root) names it; it wrote far
        // below the push.
        let mut on_phone = relay.fork().with_actor(phone);
        on_phone.transact(|tx| tx.put(&shared, "x", "set by the phone")).unwrap();
        let naming = on_phone.get_changes(&relay.get_heads());
        let pushed: Vec<&Change> = naming.iter().collect();
        assert!(!naming[0].other_actor_ids().is_empty());
        assert!(follow(&nearby(&relay, &pushed), &relay, &pushed).is_err(), "the near read does not reach it");
        check(&relay, &naming).unwrap();
        let mut applied = relay.clone();
        applied.apply_changes(naming).unwrap();
        assert_eq!(applied.get_heads(), on_phone.get_heads());
    }

    /// A visit names the genesis actor (its record goes into a collection genesis made),
    /// whose only change is the document's first: on a member document longer than the
    /// near read, the phone's next visit still passes without the whole history, since the
    /// genesis actor has values at the root.
    #[test]
    fn a_visit_on_a_long_member_document_passes_the_near_read() {
        use crate::documents::{self, member};
        let id: crate::DocId = "member/m-vol".parse().unwrap();
        let phone = ActorId::random();
        let mut doc = documents::genesis(&id, ActorId::random()).unwrap().with_actor(phone.clone());
        for i in 0..NEARBY + 10 {
            doc.transact(|tx| {
                let visits = documents::fields::map_at(tx, &ROOT, member::VISITS).unwrap();
                let visit = tx.put_object(&visits, format!("v-{i}"), automerge::ObjType::Map)?;
                tx.put(&visit, "note", "tea")
            })
            .unwrap();
        }
        let mut on_phone = doc.fork().with_actor(phone);
        on_phone
            .transact(|tx| {
                let visits = documents::fields::map_at(tx, &ROOT, member::VISITS).unwrap();
                tx.put_object(&visits, "v-next", automerge::ObjType::Map)
            })
            .unwrap();
        let next = on_phone.get_changes(&doc.get_heads());
        let pushed: Vec<&Change> = next.iter().collect();
        assert!(next[0].other_actor_ids().contains(&documents::genesis_actor()), "the visit names the genesis actor");
        assert!(follow(&nearby(&doc, &pushed), &doc, &pushed).is_ok(), "passes the near read");
        check(&doc, &next).unwrap();
    }

    /// A device whose history forked (a second change with a number the document holds)
    /// passes the near read, and automerge refuses it without panicking.
    #[test]
    fn a_forked_history_is_refused_by_automerge_without_a_panic() {
        let (doc, phone) = doc_with_one_change();
        let mut kept = doc.clone();
        kept.transact(|tx| tx.put(ROOT, "b", 1)).unwrap();
        let mut forked = doc.fork().with_actor(phone);
        forked.transact(|tx| tx.put(ROOT, "b", 2)).unwrap();
        let second = forked.get_changes(&doc.get_heads());
        check(&kept, &second).unwrap();
        let outcome = std::panic::catch_unwind(|| kept.clone().apply_changes(second.clone()));
        assert!(matches!(outcome, Ok(Err(_))), "refused, not applied and no panic");
    }
}
