//! Whether changes from outside can follow a document's history, checked before they are
//! applied (on the relay and on the phone alike): automerge 0.12 panics, instead of
//! refusing, when it applies a change whose author wrote nothing in the document yet but
//! whose sequence number is not 1, or a change that names a device the document never
//! saw. Automerge itself always numbers an author's changes 1, 2, 3… and builds each on
//! the one before, so honest changes pass; hand-made ones are refused here with the reason.

use std::collections::{HashMap, HashSet};

use automerge::{ActorId, Automerge, Change};

use crate::sync::heads::holds;

/// Checks that `changes`, in the order they will be applied to `doc`, each follow their
/// author's last change (in `doc` or earlier among them) with the next sequence number,
/// and name no device that has written nothing in `doc` or earlier among them. Changes
/// `doc` already holds are skipped.
pub fn check<'c>(doc: &Automerge, changes: impl IntoIterator<Item = &'c Change>) -> Result<(), String> {
    let mut last: HashMap<ActorId, u64> = HashMap::new();
    for meta in doc.get_changes_meta(&[]) {
        let seq = last.entry(meta.actor.into_owned()).or_default();
        *seq = (*seq).max(meta.seq);
    }
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
}
