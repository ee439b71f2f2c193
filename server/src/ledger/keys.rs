//! The idempotency keys of the postings the books hold, indexed by each posting's
//! position: a district-year's million keys are kept once, in their postings, not copied
//! into a map beside them.

use std::fmt;
use std::hash::BuildHasher as _;

use foldhash::fast::RandomState;
use hashbrown::HashTable;

use crate::ledger::posting::Posting;

/// Which keys are posted: positions in the books' postings, found by their key's hash.
/// Every method takes those postings; the set holds no key of its own.
#[derive(Clone, Default)]
pub(crate) struct PostingKeys {
    positions: HashTable<usize>,
    // Seeded per process, like the books' maps: keys hold ids that phones chose.
    hasher: RandomState,
}

impl PostingKeys {
    /// Whether a posting in `postings` has `key`.
    pub(crate) fn contains(&self, key: &str, postings: &[Posting]) -> bool {
        self.positions.find(self.hasher.hash_one(key), |&i| postings[i].key == key).is_some()
    }

    /// Notes the posting at `position` of `postings`, whose key is not noted yet.
    pub(crate) fn insert(&mut self, position: usize, postings: &[Posting]) {
        let hasher = &self.hasher;
        let hash = hasher.hash_one(postings[position].key.as_str());
        self.positions.insert_unique(hash, position, |&i| hasher.hash_one(postings[i].key.as_str()));
    }

    /// Makes room for `additional` more keys at once.
    pub(crate) fn reserve(&mut self, additional: usize, postings: &[Posting]) {
        let hasher = &self.hasher;
        self.positions.reserve(additional, |&i| hasher.hash_one(postings[i].key.as_str()));
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
    use crate::ledger::posting::{Account, PostingKind};

    fn posting(key: &str) -> Posting {
        Posting {
            key: key.to_owned(),
            kind: PostingKind::Earn,
            from: Account::Program,
            to: Account::Program,
            minutes: 1,
            subject: Default::default(),
            memo: String::new().into(),
            by: None,
            event: 1,
            at: 0,
        }
    }

    #[test]
    fn a_key_is_found_once_noted_and_only_then() {
        let postings: Vec<Posting> = (0..1_000).map(|i| posting(&format!("earn:v-{i}:r1"))).collect();
        let mut keys = PostingKeys::default();
        keys.reserve(10, &postings);
        for i in 0..500 {
            keys.insert(i, &postings);
        }
        assert!(keys.contains("earn:v-0:r1", &postings));
        assert!(keys.contains("earn:v-499:r1", &postings));
        assert!(!keys.contains("earn:v-500:r1", &postings), "not noted yet");
        assert!(!keys.contains("earn:v-0:r2", &postings), "another rule version is another key");
        assert_eq!(keys.len(), 500);
    }
}
