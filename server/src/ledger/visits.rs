//! The books' visits, kept side by side in one vector in the order they first arrived and
//! found by id through a table of positions: a district-year's million visits cost no heap
//! block each and no copy of their id beside them, and a visit is named elsewhere in the
//! books by its position.

use std::fmt;

use crate::ledger::positions::Positions;

/// What the table keeps: something with an id.
pub(crate) trait Named {
    /// Its id.
    fn id(&self) -> &str;
}

/// Records found by id; each keeps its position once placed (a record with the same id
/// takes the old one's place).
#[derive(Clone)]
pub(crate) struct Visits<T> {
    records: Vec<T>,
    positions: Positions,
}

impl<T> Default for Visits<T> {
    fn default() -> Visits<T> {
        Visits { records: Vec::new(), positions: Positions::default() }
    }
}

impl<T: Named> Visits<T> {
    /// The position of the record with `id`.
    pub(crate) fn position(&self, id: &str) -> Option<usize> {
        let records = &self.records;
        self.positions.find(id, |i| records[i].id())
    }

    /// The record with `id`.
    pub(crate) fn get(&self, id: &str) -> Option<&T> {
        self.position(id).map(|i| &self.records[i])
    }

    /// The record with `id`, to change (not its id).
    pub(crate) fn get_mut(&mut self, id: &str) -> Option<&mut T> {
        self.position(id).map(|i| &mut self.records[i])
    }

    /// Whether a record has `id`.
    pub(crate) fn contains_key(&self, id: &str) -> bool {
        self.position(id).is_some()
    }

    /// The record at `position` (one [`Visits::insert`] returned).
    pub(crate) fn at(&self, position: usize) -> Option<&T> {
        self.records.get(position)
    }

    /// The record at `position`, to change (not its id).
    pub(crate) fn at_mut(&mut self, position: usize) -> Option<&mut T> {
        self.records.get_mut(position)
    }

    /// Keeps `record`, in the place of the one with its id if there is one, and says where.
    pub(crate) fn insert(&mut self, record: T) -> usize {
        let records = &self.records;
        let position = records.len();
        match self.positions.insert_new(record.id(), position, |i| records[i].id()) {
            Ok(()) => {
                self.records.push(record);
                position
            }
            Err(kept) => {
                self.records[kept] = record;
                kept
            }
        }
    }

    /// Makes room for `additional` more records at once.
    pub(crate) fn reserve(&mut self, additional: usize) {
        let records = &self.records;
        self.positions.reserve(additional, |i| records[i].id());
        self.records.reserve(additional);
    }

    /// How many records it keeps.
    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }
}

impl<T> fmt::Debug for Visits<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Visits({} kept)", self.records.len())
    }
}

/// Equal when they keep the same records by id, wherever each is placed.
impl<T: Named + PartialEq> PartialEq for Visits<T> {
    fn eq(&self, other: &Visits<T>) -> bool {
        self.len() == other.len() && self.records.iter().all(|r| other.get(r.id()) == Some(r))
    }
}

impl<T: Named + Eq> Eq for Visits<T> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq)]
    struct Kept(String, u32);

    impl Named for Kept {
        fn id(&self) -> &str {
            &self.0
        }
    }

    #[test]
    fn a_record_is_found_by_id_and_keeps_its_place_when_replaced() {
        let mut visits = Visits::default();
        visits.reserve(4);
        for i in 0..1_000 {
            assert_eq!(visits.insert(Kept(format!("v-{i}"), 0)), i);
        }
        assert_eq!(visits.get("v-7"), Some(&Kept("v-7".into(), 0)));
        assert_eq!(visits.get("v-1000"), None);
        assert_eq!(visits.insert(Kept("v-7".into(), 2)), 7, "the same id takes the old place");
        assert_eq!(visits.at(7), Some(&Kept("v-7".into(), 2)));
        if let Some(kept) = visits.get_mut("v-8") {
            kept.1 = 3;
        }
        assert_eq!(visits.get("v-8").map(|k| k.1), Some(3));
        assert_eq!(visits.len(), 1_000);

        let mut reversed = Visits::default();
        for i in (0..1_000).rev() {
            reversed.insert(visits.at(i).cloned().unwrap());
        }
        assert_eq!(reversed, visits, "the same records by id, placed otherwise");
        reversed.insert(Kept("v-9".into(), 1));
        assert_ne!(reversed, visits);
    }
}
