//! Facts read across a set of documents, shared by a coordinator's phone (the engine) and
//! the relay's console: an order's facts from the elder's, volunteer's and ledger
//! documents (an elder's or family's phone, which cannot read the volunteer's, from the
//! elder's ledger), and the ledger's outcome status of a visit or request.

use automerge::Automerge;

use crate::documents::{DocId, ledger, member};
use crate::model::{MemberId, Order, OrderFacts, OrderState, OutcomeStatus};

/// The ledger's status for `subject` (a visit or request) of `member`, if it decided one.
pub fn outcome_status<'a>(docs: impl Fn(&DocId) -> Option<&'a Automerge>, member: &MemberId, subject: &str) -> Option<OutcomeStatus> {
    let doc = docs(&DocId::Ledger(member.clone()))?;
    Some(ledger::outcome(doc, subject)?.status)
}

/// The facts of `order` from the documents `docs` finds (what this party can read): the
/// volunteer's document where it is readable (a coordinator), and the elder's ledger,
/// where the relay writes how far the order was served (for the elder and family).
pub fn order_facts<'a>(docs: impl Fn(&DocId) -> Option<&'a Automerge> + Copy, order: &Order) -> OrderFacts {
    let progress = docs(&DocId::Ledger(order.elder.clone())).and_then(|doc| ledger::order_progress(doc, order.id.as_str()));
    let reached = |state: OrderState| progress.is_some_and(|p| served_rank(p) >= served_rank(state));
    let volunteer_doc = order.dispatched_to.as_ref().and_then(|v| docs(&DocId::Member(v.clone())));
    let assignment = volunteer_doc.and_then(|doc| member::assignments(doc).into_iter().find(|a| a.order == order.id));
    let visit = volunteer_doc
        .zip(order.dispatched_to.as_ref())
        .and_then(|(doc, volunteer)| member::visits(doc, volunteer).into_iter().find(|v| v.order.as_ref() == Some(&order.id)));
    match visit {
        Some(v) => OrderFacts {
            dispatched: order.dispatched_to.is_some(),
            response: assignment.and_then(|a| a.response),
            visited: true,
            visit_confirmed: v.confirmation.is_some(),
            settled: outcome_status(docs, &v.volunteer, v.id.as_str()) == Some(OutcomeStatus::Approved),
            cancelled: order.cancelled_at.is_some(),
        },
        None => OrderFacts {
            dispatched: order.dispatched_to.is_some(),
            response: assignment.and_then(|a| a.response),
            visited: reached(OrderState::Visited),
            visit_confirmed: reached(OrderState::Confirmed),
            settled: reached(OrderState::Settled),
            cancelled: order.cancelled_at.is_some(),
        },
    }
}

/// How far along being served `state` is (visited, then confirmed, then settled).
fn served_rank(state: OrderState) -> u8 {
    match state {
        OrderState::Settled => 3,
        OrderState::Confirmed => 2,
        OrderState::Visited => 1,
        _ => 0,
    }
}
