//! One page of changes, for the phone's uploads and the relay's answers alike: at most a
//! number of change bytes, and never more than the receiver reads in one request or answer
//! ([`Bounds`]: bytes once inflated, operations, changes). The first change always goes,
//! alone if it is over, so a sync always moves; honest changes are far under every bound
//! (ADR 0024), so a page the sender cut is never one the receiver refuses.

use automerge::Change;

use crate::sync::bounds::{Bounds, Budget};

/// What one request or answer may still carry.
#[derive(Debug)]
pub struct Page {
    left: usize,
    budget: Budget,
    empty: bool,
}

impl Page {
    /// A page of at most `bytes` of changes within what a receiver with `bounds` reads.
    pub fn new(bytes: usize, bounds: Bounds) -> Page {
        Page { left: bytes, budget: Budget::new(bounds), empty: true }
    }

    /// Whether `change` goes in this page (then it is taken); one always does when it is
    /// the first, and one over the page or the bounds fills it.
    pub fn take(&mut self, change: &Change) -> bool {
        let bytes = change.raw_bytes().len();
        let fits = bytes <= self.left && self.budget.admit(change).is_ok();
        if !fits && !self.empty {
            return false;
        }
        self.left = if fits { self.left - bytes } else { 0 };
        self.empty = false;
        true
    }
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable as _;
    use automerge::{ActorId, AutoCommit, ROOT};

    use super::*;
    use crate::sync::bounds::PUSH;

    /// `count` changes, each one put of a string of `bytes` bytes.
    fn changes(count: usize, bytes: usize) -> Vec<Change> {
        let mut doc = AutoCommit::new().with_actor(ActorId::random());
        for i in 0..count {
            doc.put(ROOT, format!("k{i}"), "x".repeat(bytes)).unwrap();
            doc.commit();
        }
        doc.get_changes(&[])
    }

    #[test]
    fn a_page_takes_changes_until_full_but_always_the_first() {
        let four = changes(4, 100);
        let size = |change: &Change| change.raw_bytes().len();
        let mut page = Page::new(size(&four[0]) - 1, PUSH);
        assert!(page.take(&four[0]), "a change over the page goes alone");
        assert!(!page.take(&four[1]));
        let mut page = Page::new(size(&four[0]) + size(&four[1]) + 1, PUSH);
        assert!(page.take(&four[0]));
        assert!(page.take(&four[1]));
        assert!(!page.take(&four[2]), "the next change (or document) waits for the next page");
    }

    #[test]
    fn a_page_stops_where_the_receiver_would_refuse_the_batch() {
        // Tiny changes: far under the bytes of a page, over the changes one request may hold.
        let many = changes(PUSH.batch_changes as usize + 1, 1);
        let mut page = Page::new(crate::sync::wire::PAGE_BYTES, PUSH);
        let taken = many.iter().take_while(|change| page.take(change)).count();
        assert_eq!(taken as u64, PUSH.batch_changes);
        // What it took, a receiver reads within the same bounds.
        let mut budget = Budget::new(PUSH);
        for change in &many[..taken] {
            budget.read_change(change.raw_bytes()).unwrap();
        }
        // A change over the receiver's bound for one change goes only alone.
        let big = changes(1, PUSH.change_bytes as usize + 1);
        let mut page = Page::new(usize::MAX, PUSH);
        assert!(page.take(&many[0]));
        assert!(!page.take(&big[0]));
        let mut page = Page::new(usize::MAX, PUSH);
        assert!(page.take(&big[0]));
        assert!(!page.take(&many[0]));
    }
}
