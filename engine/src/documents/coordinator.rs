//! The coordinators' rules, one copy for a coordinator's phone (`Engine::dispatch`,
//! `cancel_order`, `review_visit`, `reverse_review`, `decide_redemption`) and the relay's
//! console (`server/src/desk.rs`): whether an order may be dispatched or cancelled, a visit
//! reviewed or its review reversed, a redemption fulfilled or released, and the record each
//! decision writes.
//! Pure: the callers find the records in the documents they hold, derive the order's
//! state with [`crate::documents::view`], and pass what they know of the people (a
//! target's role from the member profiles a phone holds, from the member register in the
//! console). ADR 0022 says why there is one copy and which rule won where they differed.

use chrono::{DateTime, Utc};

use crate::documents::desk::{Decision, Reversal, Review, ReviewRecord};
use crate::error::Error;
use crate::model::{
    Assignment, MemberId, Order, OrderId, OrderState, OutcomeStatus, RedemptionAction, RequestKind, ReviewDecision, Role,
    SpendRequest, Visit, text,
};

/// Why a coordinator's decision is refused; nothing was written. The message says what
/// to do instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Where the record stands forbids it now (an order already served, a redemption
    /// already decided, a visit still open). The console answers 409.
    #[error("{0}")]
    State(String),
    /// The decision itself breaks a rule (a target who is not a volunteer, a rejection
    /// without a reason, a reason too long). The console answers 400.
    #[error("{0}")]
    Input(String),
}

impl From<Refused> for Error {
    fn from(refused: Refused) -> Error {
        Error::Invalid(format!("{refused}; nothing was changed"))
    }
}

/// Whether an order in `state` may be dispatched: not yet dispatched, or dispatched and
/// not accepted (to another volunteer), or declined (again).
pub fn dispatchable(state: OrderState) -> bool {
    matches!(state, OrderState::Requested | OrderState::Dispatched | OrderState::Declined)
}

/// Whether an order in `state` may still be cancelled: not yet served.
pub fn cancellable(state: OrderState) -> bool {
    dispatchable(state) || state == OrderState::Accepted
}

/// The assignment (派单) that dispatches `order`, now in `state`, to `volunteer`, whose
/// role the caller knows (`None`: not a member it knows), by coordinator `by` at `at`,
/// with the elder's display name when the caller knows it (ADR 0021).
pub fn dispatch(
    order: &Order,
    state: OrderState,
    volunteer: &MemberId,
    role: Option<Role>,
    elder_name: Option<&str>,
    by: MemberId,
    at: DateTime<Utc>,
) -> Result<Assignment, Refused> {
    if !dispatchable(state) {
        return Err(Refused::State(format!(
            "order {} is {}; only a requested, dispatched or declined order can be dispatched",
            order.id,
            state.as_str()
        )));
    }
    if *volunteer == order.elder {
        return Err(Refused::Input("an elder cannot be dispatched to serve their own order".into()));
    }
    match role {
        Some(Role::Volunteer) => Ok(Assignment::offer(order, elder_name, by, at)),
        Some(other) => Err(Refused::Input(format!(
            "{volunteer} is registered as {}, not as a volunteer; dispatch to a volunteer",
            other.as_str()
        ))),
        None => Err(Refused::Input(format!(
            "{volunteer} is not a member known here; dispatch to a volunteer of the station (sync first to fetch the station's members)"
        ))),
    }
}

/// What cancelling an order comes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cancellation {
    /// Write the cancellation.
    Cancel,
    /// The order is cancelled already: nothing to write, and the decision stands.
    AlreadyCancelled,
}

/// Cancelling `order`, now in `state`: allowed until it is served.
pub fn cancel(order: &OrderId, state: OrderState) -> Result<Cancellation, Refused> {
    match state {
        OrderState::Cancelled => Ok(Cancellation::AlreadyCancelled),
        state if cancellable(state) => Ok(Cancellation::Cancel),
        _ => Err(Refused::State(format!("order {order} was already served; it cannot be cancelled"))),
    }
}

/// The review of `visit` with `decision` and `reason` (trimmed) by coordinator `by` at
/// `at`: a finished visit only, and a reason as [`ReviewDecision::check_reason`] wants it.
/// `recorded` is what the desk holds for the visit now: the same decision and reason by
/// the same coordinator over a standing review is that review again (nothing new to
/// write); any other review is dated after the recorded one, even by a clock that reads
/// the same or less, because a review is named by its time (a reversal names the review
/// it reverses so).
pub fn review(
    visit: &Visit,
    recorded: Option<&ReviewRecord>,
    decision: ReviewDecision,
    reason: &str,
    by: MemberId,
    at: DateTime<Utc>,
) -> Result<Review, Refused> {
    decision.check_reason(reason).map_err(|e| Refused::Input(e.to_string()))?;
    if visit.is_open() {
        return Err(Refused::State(format!("visit {} is still open; review it after the volunteer checks out", visit.id)));
    }
    let reason = reason.trim();
    if let Some(standing) = recorded.and_then(ReviewRecord::standing)
        && (standing.decision, standing.reason.as_str(), &standing.by) == (decision, reason, &by)
    {
        return Ok(standing.clone());
    }
    let at = recorded.map_or(at, |r| at.max(r.review.at + chrono::Duration::milliseconds(1)));
    Ok(Review { decision, reason: reason.to_owned(), by, at })
}

/// The reversal of `visit`'s standing review (`standing`, as
/// [`crate::documents::desk::standing_review`] reads it) by coordinator `by` at `at`, with
/// `reason` (trimmed, required: the volunteer sees it): only an approval or a rejection is
/// reversed (a flag is no decision; a reversed review stands no more). The visit goes back
/// to the queue; an approval's coins are taken back by the ledger's reversal postings.
pub fn reverse(visit: &Visit, standing: Option<&Review>, reason: &str, by: MemberId, at: DateTime<Utc>) -> Result<Reversal, Refused> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Refused::Input("say why the decision is reversed (--reason); the volunteer sees it".into()));
    }
    text::check_reason(reason).map_err(|e| Refused::Input(e.to_string()))?;
    match standing {
        Some(review) if matches!(review.decision, ReviewDecision::Approve | ReviewDecision::Reject) => {
            Ok(Reversal { decision: review.decision, review_at: review.at, reason: reason.to_owned(), by, at })
        }
        Some(_) => Err(Refused::State(format!(
            "visit {} is flagged, not decided; a flag is not reversed: approve or reject the visit instead",
            visit.id
        ))),
        None => {
            Err(Refused::State(format!("visit {} has no approval or rejection standing to reverse; it waits in the queue", visit.id)))
        }
    }
}

/// The decision `action` on `request` by coordinator `by` at `at`: a redemption only,
/// decided once (`decided` is the desk's decision so far), and only once the ledger
/// accepted it (`status`, the ledger's outcome) and holds its coins.
pub fn decide_redemption(
    request: &SpendRequest,
    decided: Option<&Decision>,
    status: Option<OutcomeStatus>,
    action: RedemptionAction,
    by: MemberId,
    at: DateTime<Utc>,
) -> Result<Decision, Refused> {
    let id = &request.id;
    if !matches!(request.kind, RequestKind::Redeem { .. }) {
        return Err(Refused::Input(format!("request {id} is a gift; only redemptions are fulfilled or released")));
    }
    if let Some(done) = decided {
        return Err(Refused::State(format!("request {id} was already decided ({}, by {})", done.action, done.by)));
    }
    match status {
        Some(OutcomeStatus::Accepted) => Ok(Decision { action, by, at }),
        None => Err(Refused::State(format!("the relay has not accepted request {id} yet; sync, then decide"))),
        Some(other) => Err(Refused::State(format!("request {id} is {other}; only an accepted redemption is fulfilled or released"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{RequestId, VisitId, VisitSource};

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_772_442_000_000).unwrap()
    }

    fn m(raw: &str) -> MemberId {
        MemberId::parse(raw).unwrap()
    }

    #[test]
    fn an_order_is_dispatched_until_accepted_and_cancelled_until_served() {
        let order = Order::place(m("e-1"), "meals", "lunch", m("c-1"), at());
        for state in OrderState::ALL {
            let dispatched = dispatch(&order, state, &m("v-1"), Some(Role::Volunteer), Some("王芳"), m("c-1"), at());
            let open = matches!(state, OrderState::Requested | OrderState::Dispatched | OrderState::Declined);
            assert_eq!(dispatched.is_ok(), open, "{state:?}");
            if let Err(refused) = dispatched {
                assert!(matches!(refused, Refused::State(_)), "{state:?}: {refused:?}");
                assert!(refused.to_string().contains(&format!("is {}", state.as_str())), "{refused}");
            }
            let cancelled = cancel(&order.id, state);
            let expected = match state {
                OrderState::Cancelled => Ok(Cancellation::AlreadyCancelled),
                OrderState::Visited | OrderState::Confirmed | OrderState::Settled => {
                    Err(Refused::State(format!("order {} was already served; it cannot be cancelled", order.id)))
                }
                _ => Ok(Cancellation::Cancel),
            };
            assert_eq!(cancelled, expected, "{state:?}");
        }
        let offer = dispatch(&order, OrderState::Requested, &m("v-1"), Some(Role::Volunteer), Some(" 王芳 "), m("c-1"), at()).unwrap();
        assert_eq!((offer.elder_name.as_deref(), &offer.offered_by), (Some("王芳"), &m("c-1")));
    }

    #[test]
    fn only_a_volunteer_known_here_who_is_not_the_elder_is_dispatched_to() {
        let order = Order::place(m("e-1"), "meals", "", m("c-1"), at());
        let to = |who: &str, role: Option<Role>| dispatch(&order, OrderState::Requested, &m(who), role, None, m("c-1"), at());
        let elder = to("e-2", Some(Role::Elder)).unwrap_err();
        assert_eq!(elder, Refused::Input("e-2 is registered as elder, not as a volunteer; dispatch to a volunteer".into()));
        assert!(matches!(to("c-2", Some(Role::Coordinator)), Err(Refused::Input(_))));
        assert!(to("v-9", None).unwrap_err().to_string().contains("not a member known here"));
        assert!(to("e-1", Some(Role::Volunteer)).unwrap_err().to_string().contains("their own order"));
    }

    /// A visit of v-1 to e-1 checked in at `at()` on the phone, not checked out.
    fn open_visit() -> Visit {
        Visit {
            id: VisitId::generate(),
            volunteer: m("v-1"),
            elder: m("e-1"),
            service: "meals".into(),
            order: None,
            check_in: at(),
            check_out: None,
            monotonic_ms: None,
            source: VisitSource::Live,
            note: String::new(),
            recorded_at: at(),
            check_out_recorded_at: None,
            device: "aa".into(),
            confirmation: None,
            evidence: Default::default(),
        }
    }

    #[test]
    fn a_review_needs_a_finished_visit_and_a_fitting_reason() {
        let mut visit = open_visit();
        assert!(matches!(review(&visit, None, ReviewDecision::Approve, "", m("c-1"), at()), Err(Refused::State(_))));
        visit.check_out = Some(at() + chrono::Duration::hours(1));
        assert!(matches!(review(&visit, None, ReviewDecision::Reject, " ", m("c-1"), at()), Err(Refused::Input(_))));
        assert!(matches!(review(&visit, None, ReviewDecision::Flag, &"x".repeat(201), m("c-1"), at()), Err(Refused::Input(_))));
        let written = review(&visit, None, ReviewDecision::Reject, " away ", m("c-1"), at()).unwrap();
        assert_eq!((written.decision, written.reason.as_str()), (ReviewDecision::Reject, "away"));
    }

    #[test]
    fn only_a_standing_approval_or_rejection_is_reversed_and_with_a_reason() {
        let visit = Visit { check_out: Some(at() + chrono::Duration::hours(1)), ..open_visit() };
        let approved = review(&visit, None, ReviewDecision::Approve, "", m("c-1"), at()).unwrap();
        let later = at() + chrono::Duration::minutes(5);
        let reversal = reverse(&visit, Some(&approved), " 老人说没来过 ", m("c-2"), later).unwrap();
        assert_eq!(
            reversal,
            Reversal {
                decision: ReviewDecision::Approve, review_at: at(), reason: "老人说没来过".into(), by: m("c-2"), at: later
            }
        );
        let rejected = review(&visit, None, ReviewDecision::Reject, "away", m("c-1"), at()).unwrap();
        assert_eq!(reverse(&visit, Some(&rejected), "wrong visit", m("c-1"), later).unwrap().decision, ReviewDecision::Reject);
        let no_reason = reverse(&visit, Some(&approved), "  ", m("c-1"), later).unwrap_err();
        assert!(matches!(no_reason, Refused::Input(ref why) if why.contains("say why")), "{no_reason:?}");
        assert!(matches!(reverse(&visit, Some(&approved), &"x".repeat(201), m("c-1"), later), Err(Refused::Input(_))));
        let flagged = review(&visit, None, ReviewDecision::Flag, "", m("c-1"), at()).unwrap();
        assert!(matches!(reverse(&visit, Some(&flagged), "why", m("c-1"), later), Err(Refused::State(_))));
        // The same review again is that review; after a reversal, a new review is dated
        // after the reversed one, whatever the clock says, so that reversal never names it.
        let standing = ReviewRecord { review: approved.clone(), reversal: None };
        assert_eq!(review(&visit, Some(&standing), ReviewDecision::Approve, "", m("c-1"), later).unwrap(), approved);
        let undone = ReviewRecord { review: approved.clone(), reversal: Some(reversal.clone()) };
        let again = review(&visit, Some(&undone), ReviewDecision::Approve, "", m("c-1"), at()).unwrap();
        assert_eq!(again.at, at() + chrono::Duration::milliseconds(1));
        let other = review(&visit, Some(&standing), ReviewDecision::Reject, "away", m("c-1"), later).unwrap();
        assert_eq!((other.decision, other.at), (ReviewDecision::Reject, later));
        let nothing = reverse(&visit, None, "why", m("c-1"), later).unwrap_err();
        assert!(nothing.to_string().contains("no approval or rejection standing"), "{nothing}");
    }

    #[test]
    fn a_redemption_is_decided_once_after_the_ledger_accepted_it() {
        let redeem = SpendRequest {
            id: RequestId::generate(),
            kind: RequestKind::Redeem { service: "housekeeping".into(), at: None },
            minutes: 60,
            created_at: at(),
        };
        let decide =
            |decided: Option<&Decision>, status| decide_redemption(&redeem, decided, status, RedemptionAction::Fulfil, m("c-1"), at());
        let decision = decide(None, Some(OutcomeStatus::Accepted)).unwrap();
        assert_eq!(decision.action, RedemptionAction::Fulfil);
        let again = decide(Some(&decision), Some(OutcomeStatus::Accepted)).unwrap_err();
        assert!(again.to_string().contains("already decided (fulfil, by c-1)"), "{again}");
        assert!(decide(None, None).unwrap_err().to_string().contains("has not accepted"));
        assert!(decide(None, Some(OutcomeStatus::Refused)).unwrap_err().to_string().contains("is refused"));
        let gift = SpendRequest { kind: RequestKind::Gift { to: m("v-2") }, ..redeem.clone() };
        let refused = decide_redemption(&gift, None, Some(OutcomeStatus::Accepted), RedemptionAction::Release, m("c-1"), at());
        assert!(matches!(refused, Err(Refused::Input(_))));
    }
}
