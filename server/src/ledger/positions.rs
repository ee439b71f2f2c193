//! Positions in a sequence the books keep (their postings, their visits), found by a key
//! each element yields: an index over a million elements that keeps no copy of their keys.

use std::fmt;
use std::hash::{BuildHasher as _, Hash};

use foldhash::fast::RandomState;
use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

/// Which positions are noted, found by their element's key. Every method takes `key_at`,
/// the key of the element at a position: the table holds no key of its own.
#[derive(Clone, Default)]
pub(crate) struct Positions {
    table: HashTable<usize>,
    // Seeded per process, like the books' maps: keys hold ids that phones chose.
    hasher: RandomState,
}

impl Positions {
    /// The position noted whose element has `key`.
    pub(crate) fn find<K: Hash + Eq>(&self, key: K, key_at: impl Fn(usize) -> K) -> Option<usize> {
        self.table.find(self.hasher.hash_one(&key), |&i| key_at(i) == key).copied()
    }

    /// Notes `position` for an element with `key`, in one probe of the table, unless a
    /// position whose element has that key is noted already: then says which (`Err`).
    pub(crate) fn insert_new<K: Hash + Eq>(&mut self, key: K, position: usize, key_at: impl Fn(usize) -> K) -> Result<(), usize> {
        let hasher = &self.hasher;
        match self.table.entry(hasher.hash_one(&key), |&i| key_at(i) == key, |&i| hasher.hash_one(key_at(i))) {
            Entry::Occupied(noted) => Err(*noted.get()),
            Entry::Vacant(slot) => {
                slot.insert(position);
                Ok(())
            }
        }
    }

    /// Makes room for `additional` more positions at once.
    pub(crate) fn reserve<K: Hash>(&mut self, additional: usize, key_at: impl Fn(usize) -> K) {
        let hasher = &self.hasher;
        self.table.reserve(additional, |&i| hasher.hash_one(key_at(i)));
    }

    /// How many positions are noted.
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }
}

impl fmt::Debug for Positions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Positions({} noted)", self.len())
    }
}

/// Equal when they note as many positions: each indexes its own books' elements, which the
/// books compare themselves, and every element is noted as it is placed.
impl PartialEq for Positions {
    fn eq(&self, other: &Positions) -> bool {
        self.len() == other.len()
    }
}

impl Eq for Positions {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::posting::{Account, Posting, PostingKey, PostingKind};

    fn posting(kind: PostingKind, subject: &str, key: PostingKey) -> Posting {
        Posting {
            key,
            kind,
            from: Account::Program,
            to: Account::Program,
            minutes: 1,
            subject: subject.into(),
            memo: String::new().into(),
            by: None,
            event: 1,
            at: 0,
        }
    }

    fn earn(visit: usize, version: u32) -> Posting {
        posting(PostingKind::Earn, &format!("v-{visit}"), PostingKey::ruled(version, 1))
    }

    /// The books' postings: each key noted once, found by its words.
    #[test]
    fn a_posting_key_is_noted_once_and_found_after() {
        let mut postings: Vec<Posting> = Vec::new();
        let mut keys = Positions::default();
        keys.reserve(10, |i| postings[i].key());
        let mut place = |p: Posting, postings: &mut Vec<Posting>| {
            let noted = keys.insert_new(p.key(), postings.len(), |i| postings[i].key()).is_ok();
            if noted {
                postings.push(p);
            }
            noted
        };
        for i in 0..1_000 {
            assert!(place(earn(i, 1), &mut postings));
        }
        let reversal = posting(PostingKind::Reversal, "v-0", PostingKey::reversal_of(postings[0].key()));
        assert!(place(reversal, &mut postings));
        assert!(!place(earn(0, 1), &mut postings), "noted already");
        assert!(!place(earn(999, 1), &mut postings), "noted already");
        assert!(place(earn(0, 2), &mut postings), "another rule version is another key");
        let again = posting(PostingKind::Earn, "v-0", PostingKey::ruled(1, 2));
        assert_eq!(again.key().to_string(), "earn:v-0:r1:2");
        assert!(place(again, &mut postings), "a second approval is another key");
        assert!(place(posting(PostingKind::Overflow, "v-0", PostingKey::ruled(1, 1)), &mut postings), "another kind is another key");
        let written_out = posting(PostingKind::Reversal, "v-0", PostingKey::Text("reversal:earn:v-0:r1".into()));
        assert!(!place(written_out, &mut postings), "a key written out is found by its words");
        assert_eq!(keys.len(), 1_004);
        assert_eq!(postings.len(), 1_004);
        assert_eq!(keys.find(earn(7, 1).key(), |i| postings[i].key()), Some(7));
    }
}
