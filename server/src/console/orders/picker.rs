//! Who to dispatch an order to: every volunteer of the station with what a coordinator
//! weighs, the volunteers who served this elder before (how often, when last) and the
//! ones with no other order on the order's day; those come first as suggestions.

use std::collections::HashMap;

use chrono::NaiveDate;
use timebank_engine::model::{MemberId, Order, OrderState, Role};

use crate::console::visits::log::local_day;
use crate::desk::StationDocs;
use crate::store::{MemberRecord, Millis};

/// Most volunteers suggested above the whole list.
pub const SUGGESTED: usize = 5;

/// A volunteer the order could go to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The volunteer.
    pub volunteer: MemberRecord,
    /// Visits they logged to this order's elder.
    pub served_before: usize,
    /// When the last of those started (ms).
    pub last_served: Option<Millis>,
    /// Other orders dispatched to them (and not declined, cancelled or served) on the
    /// order's day.
    pub busy: usize,
}

impl Candidate {
    /// Whether to suggest them: they know the elder, or they are free that day.
    pub fn suggested(&self) -> bool {
        self.served_before > 0 || self.busy == 0
    }
}

/// The day an order is for, in the stations' calendar: its slot's, else the day it was
/// placed.
pub fn order_day(order: &Order) -> NaiveDate {
    local_day(order.slot.map_or(order.requested_at, |s| s.start).timestamp_millis())
}

/// Every volunteer of the station as a candidate for `order`, best suggestions first
/// (those who served the elder most, then those free that day), the rest after them in
/// the order given (`volunteers`, by name).
pub fn candidates(docs: &StationDocs, order: &Order, volunteers: &[MemberRecord]) -> Vec<Candidate> {
    let mut served: HashMap<&MemberId, (usize, Millis)> = HashMap::new();
    let visits = docs.visits();
    for visit in visits.iter().filter(|v| v.elder == order.elder && !v.is_open()) {
        let entry = served.entry(&visit.volunteer).or_insert((0, 0));
        entry.0 += 1;
        entry.1 = entry.1.max(visit.check_in.timestamp_millis());
    }
    let day = order_day(order);
    let mut busy: HashMap<MemberId, usize> = HashMap::new();
    for (other, state) in docs.orders() {
        let open = matches!(state, OrderState::Dispatched | OrderState::Accepted);
        if let (true, Some(to)) = (open && other.id != order.id && order_day(&other) == day, other.dispatched_to) {
            *busy.entry(to).or_default() += 1;
        }
    }
    let mut all: Vec<Candidate> = volunteers
        .iter()
        .filter(|v| v.role == Role::Volunteer && v.id != order.elder)
        .map(|v| Candidate {
            served_before: served.get(&v.id).map_or(0, |s| s.0),
            last_served: served.get(&v.id).map(|s| s.1),
            busy: busy.get(&v.id).copied().unwrap_or(0),
            volunteer: v.clone(),
        })
        .collect();
    // Stable: within a rank, the names keep their order.
    all.sort_by_key(|c| (!c.suggested(), std::cmp::Reverse(c.served_before), c.busy));
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(name: &str, served_before: usize, busy: usize) -> Candidate {
        Candidate {
            volunteer: MemberRecord {
                id: MemberId::parse(&format!("m-{}", name.to_lowercase())).unwrap(),
                station: timebank_engine::model::StationId::parse("s-1").unwrap(),
                role: Role::Volunteer,
                display_name: name.into(),
                birth_year: None,
                household: None,
                hardship: false,
                created_at: 0,
            },
            served_before,
            last_served: None,
            busy,
        }
    }

    #[test]
    fn those_who_know_the_elder_or_are_free_are_suggested() {
        assert!(candidate("a", 2, 1).suggested(), "knows the elder, though busy");
        assert!(candidate("b", 0, 0).suggested(), "free that day");
        assert!(!candidate("c", 0, 1).suggested(), "a stranger with another order that day");
    }
}
