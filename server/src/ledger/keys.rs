//! The idempotency keys of the postings the books hold, indexed by each posting's
//! position: a district-year's million keys are kept once, in their postings, not copied
//! into a map beside them.

use std::fmt;
use std::hash::BuildHasher as _;

use foldhash::fast::RandomState;
use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

use crate::ledger::posting::{KeyText, Posting};

/// Which keys are posted: positions in the books' postings, found by their key's hash.
/// Every method takes those postings; the set holds no key of its own.
#[derive(Clone, Default)]
pub(crate) struct PostingKeys {
    positions: HashTable<usize>,
    // Seeded per process, like the books' maps: keys hold ids that phones chose.
    hasher: RandomState,
}

impl PostingKeys {
    /// Notes `key` for the posting about to be placed at `position` (the end of `postings`),
    /// unless a posting in `postings` has it already: says whether it was noted.
    pub(crate) fn insert_new(&mut self, key: KeyText<'_>, position: usize, postings: &[Posting]) -> bool {
        let hasher = &self.hasher;
        let entry = self.positions.entry(hasher.hash_one(key), |&i| postings[i].key() == key, |&i| hasher.hash_one(postings[i].key()));
        match entry {
            Entry::Occupied(_) => false,
            Entry::Vacant(slot) => {
                slot.insert(position);
                true
            }
        }
    }

    /// Makes room for `additional` more keys at once.
    pub(crate) fn reserve(&mut self, additional: usize, postings: &[Posting]) {
        let hasher = &self.hasher;
        self.positions.reserve(additional, |&i| hasher.hash_one(postings[i].key()));
    }

    fn len(&self) -> usize {
        self.positions.len()
    }
}

impl fmt::Debug for PostingKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostingKeys({} keys)", self.len())
    }
}

/// Equal when they index as many postings: each set indexes its own books' postings, which
/// the books compare themselves, and every posting's key is noted as it is posted.
impl PartialEq for PostingKeys {
    fn eq(&self, other: &PostingKeys) -> bool {
        self.len() == other.len()
    }
}

impl Eq for PostingKeys {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::posting::{Account, PostingKey, PostingKind};

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

    #[test]
    fn a_key_is_noted_once_and_found_after() {
        let mut postings: Vec<Posting> = Vec::new();
        let mut keys = PostingKeys::default();
        keys.reserve(10, &postings);
        let mut place = |p: Posting, postings: &mut Vec<Posting>| {
            let noted = keys.insert_new(p.key(), postings.len(), postings);
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
    }
}
