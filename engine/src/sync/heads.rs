//! The heads of a document after some changes: what the relay acknowledges for a page, and
//! what the phone expects the relay to hold after a push; and whether a document holds a
//! change.

use std::collections::HashSet;

use automerge::{Automerge, Change, ChangeHash};

/// Whether `doc` holds the change `hash`: a lookup in its change graph. (automerge's
/// `get_change_by_hash` answers the same but first rebuilds the whole change from the
/// document's operations, which every sync would pay for each change it names.)
pub fn holds(doc: &Automerge, hash: &ChangeHash) -> bool {
    doc.get_change_meta_by_hash(hash).is_some()
}

/// The heads of a document holding `base` and then `added` (changes that follow `base`,
/// each after its dependencies): every one of them that none of `added` depends on.
pub fn heads_after<'a>(base: &[ChangeHash], added: impl IntoIterator<Item = &'a Change> + Clone) -> Vec<ChangeHash> {
    let covered: HashSet<ChangeHash> = added.clone().into_iter().flat_map(|c| c.deps().iter().copied()).collect();
    let mut heads: Vec<ChangeHash> =
        base.iter().copied().chain(added.into_iter().map(Change::hash)).filter(|h| !covered.contains(h)).collect();
    heads.sort_unstable();
    heads.dedup();
    heads
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ROOT};

    /// A document holds the changes it was built from and no others.
    #[test]
    fn a_document_holds_its_own_changes_only() {
        let mut doc = AutoCommit::new();
        doc.put(ROOT, "k", 1_i64).unwrap();
        let mut other = AutoCommit::new();
        other.put(ROOT, "k", 2_i64).unwrap();
        let (mine, theirs) = (doc.get_heads()[0], other.get_heads()[0]);
        assert!(holds(doc.document(), &mine));
        assert!(!holds(doc.document(), &theirs));
    }

    /// A page of a document's history has exactly the heads a document holding that page has.
    #[test]
    fn the_heads_after_some_changes_are_the_heads_of_a_document_with_them() {
        let mut doc = AutoCommit::new();
        for i in 0..6_i64 {
            doc.put(ROOT, format!("k{i}"), i).unwrap();
            doc.commit();
        }
        let mut other = doc.fork();
        other.put(ROOT, "side", 1_i64).unwrap();
        other.commit();
        doc.merge(&mut other).unwrap();
        let base = vec![doc.get_changes(&[])[1].hash()];
        let missing: Vec<Change> = doc.get_changes(&base);
        for cut in 0..=missing.len() {
            let prefix = &missing[..cut];
            let mut replica = AutoCommit::new();
            replica.apply_changes(doc.get_changes(&[]).into_iter().take(2)).unwrap();
            replica.apply_changes(prefix.to_vec()).unwrap();
            let mut expected = replica.get_heads();
            expected.sort_unstable();
            assert_eq!(heads_after(&base, prefix), expected, "after {cut} changes");
        }
    }
}
