//! Facts read across a set of documents, shared by a coordinator's phone (the engine) and
//! the relay's console: an order's facts from the elder's, volunteer's and ledger
//! documents, and the ledger's outcome status of a visit or request.

use automerge::Automerge;

use crate::documents::{DocId, ledger, member};
use crate::model::{MemberId, Order, OrderFacts, OutcomeStatus};

/// The ledger's status for `subject` (a visit or request) of `member`, if it decided one.
pub fn outcome_status<'a>(
    docs: impl Fn(&DocId) -> Option<&'a Automerge>,
    member: &MemberId,
    subject: &str,
) -> Option<OutcomeStatus> {
    let doc = docs(&DocId::Ledger(member.clone()))?;
    Some(ledger::outcome(doc, subject)?.status)
}

/// The facts of `order` from the documents `docs` finds (what this party can read).
pub fn order_facts<'a>(docs: impl Fn(&DocId) -> Option<&'a Automerge> + Copy, order: &Order) -> OrderFacts {
    let volunteer_doc = order.dispatched_to.as_ref().and_then(|v| docs(&DocId::Member(v.clone())));
    let assignment = volunteer_doc.and_then(|doc| member::assignments(doc).into_iter().find(|a| a.order == order.id));
    let visit = volunteer_doc
        .zip(order.dispatched_to.as_ref())
        .and_then(|(doc, volunteer)| member::visits(doc, volunteer).into_iter().find(|v| v.order.as_ref() == Some(&order.id)));
    OrderFacts {
        dispatched: order.dispatched_to.is_some(),
        response: assignment.and_then(|a| a.response),
        visited: visit.is_some(),
        visit_confirmed: visit.as_ref().is_some_and(|v| v.confirmation.is_some()),
        settled: visit.as_ref().is_some_and(|v| outcome_status(docs, &v.volunteer, v.id.as_str()) == Some(OutcomeStatus::Approved)),
        cancelled: order.cancelled_at.is_some(),
    }
}
