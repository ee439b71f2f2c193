//! The idempotency keys of the postings the books hold, indexed by each posting's
//! position: a district-year's million keys are kept once, in their postings, not copied
//! into a map beside them.

use std::fmt;
use std::hash::BuildHasher as _;

use foldhash::fast::RandomState;
use hashbrown::HashTable;

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
    /// Whether a posting in `postings` has `key`.
    pub(crate) fn contains(&self, key: KeyText<'_>, postings: &[Posting]) -> bool {
        self.positions.find(self.hasher.hash_one(key), |&i| postings[i].key() == key).is_some()
    }

    /// Notes the posting at `position` of `postings`, whose key is not noted yet.
    pub(crate) fn insert(&mut self, position: usize, postings: &[Posting]) {
        let hasher = &self.hasher;
        let hash = hasher.hash_one(postings[position].key());
        self.positions.insert_unique(hash, position, |&i| hasher.hash_one(postings[i].key()));
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
    fn a_key_is_found_once_noted_and_only_then() {
        let mut postings: Vec<Posting> = (0..1_000).map(|i| earn(i, 1)).collect();
        postings.push(posting(PostingKind::Reversal, "v-0", PostingKey::reversal_of(postings[0].key())));
        let mut keys = PostingKeys::default();
        keys.reserve(10, &postings);
        for i in (0..500).chain([1_000]) {
            keys.insert(i, &postings);
        }
        let find = |p: &Posting| keys.contains(p.key(), &postings);
        assert!(find(&earn(0, 1)));
        assert!(find(&earn(499, 1)));
        assert!(!find(&earn(500, 1)), "not noted yet");
        assert!(!find(&earn(0, 2)), "another rule version is another key");
        let again = posting(PostingKind::Earn, "v-0", PostingKey::ruled(1, 2));
        assert!(!find(&again), "a second approval is another key");
        assert_eq!(again.key().to_string(), "earn:v-0:r1:2");
        let overflow = posting(PostingKind::Overflow, "v-0", PostingKey::ruled(1, 1));
        assert!(!find(&overflow), "another kind is another key");
        let reversal = posting(PostingKind::Reversal, "v-0", PostingKey::Text("reversal:earn:v-0:r1".into()));
        assert!(find(&reversal), "a key written out is found by its words");
        assert_eq!(keys.len(), 501);
    }
}
