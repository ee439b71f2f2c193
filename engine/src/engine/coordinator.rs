//! A coordinator's decisions on their phone: dispatch an order, review visits (and reverse
//! a review), fulfil or release redemptions, and the queues they work from. Each decision is checked by the
//! rules the console applies too ([`crate::documents::coordinator`]).

use crate::documents::{DocId, coordinator, desk, member, station};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::{
    MemberId, OrderId, OrderState, OutcomeStatus, RedemptionAction, RequestId, RequestKind, ReviewDecision, Role, SpendRequest,
    VerifiedVisits, VisitId,
};
use crate::notify::Topic;
use crate::storage;
use crate::views::{ReviewItem, VisitState};

impl Engine {
    /// Dispatches an order (派单) to a volunteer: written into the elder's and the
    /// volunteer's documents in one durable step. Only a requested, dispatched or declined
    /// order, and only to a member this phone holds the profile of as a volunteer. The
    /// assignment carries the elder's display name from the elder's profile on this
    /// coordinator's phone (ADR 0021).
    pub fn dispatch(&mut self, order: &OrderId, volunteer: &MemberId) -> Result<()> {
        self.require(&[Role::Coordinator], "dispatching an order")?;
        let found = self.find_order(order)?;
        let state = OrderState::derive(&self.order_facts(&found));
        let role = self.docs.get(&DocId::Member(volunteer.clone())).and_then(member::profile).map(|p| p.role);
        let now = self.clock.now();
        let elder_name = self.docs.get(&DocId::Member(found.elder.clone())).and_then(member::display_name);
        let assignment =
            coordinator::dispatch(&found, state, volunteer, role, elder_name.as_deref(), self.identity.member.clone(), now)?;
        self.write(
            order.as_str(),
            &[Topic::Orders, Topic::Assignments],
            &[
                (DocId::Member(found.elder.clone()), &|tx| member::put_order_dispatch(tx, order, volunteer, now)),
                (DocId::Member(volunteer.clone()), &|tx| member::put_assignment(tx, &assignment)),
            ],
        )
    }

    /// Sets what the station does with visits whose presence the relay verified at both
    /// ends (ADR 30): queue them, allow bulk approval, or let the relay approve them.
    pub fn set_verified_visits(&mut self, rule: VerifiedVisits) -> Result<()> {
        self.require(&[Role::Coordinator], "setting the station's rule for verified visits")?;
        let doc = DocId::Station(self.identity.station.clone());
        self.write(station::VERIFIED_VISITS, &[Topic::Station], &[(doc, &|tx| station::put_verified_visits(tx, rule))])
    }

    /// The coordinators' review queue: every finished visit of the station's members that
    /// this device holds and that is not yet approved or rejected. Visits the relay flagged
    /// as anomalies come first, then the oldest.
    pub fn review_queue(&self) -> Result<Vec<ReviewItem>> {
        self.require(&[Role::Coordinator], "reviewing visits")?;
        let unsynced = storage::unsynced_subjects(self.storage.conn())?;
        let mut queue: Vec<ReviewItem> = self
            .member_docs()
            .flat_map(|(member, doc)| member::visits(doc, member))
            .filter(|visit| !visit.is_open())
            .map(|visit| {
                let view = self.view_of(visit, &unsynced);
                let anomaly = match &view.state {
                    VisitState::UnderReview(reason) => Some(reason.clone()),
                    _ => None,
                };
                ReviewItem { review: self.standing_review(&view.visit.id), anomaly, visit: view }
            })
            .filter(|item| !matches!(item.visit.state, VisitState::Approved | VisitState::Rejected(_)))
            .filter(|item| item.review.as_ref().is_none_or(|r| r.decision == ReviewDecision::Flag))
            .collect();
        queue.sort_by(|a, b| {
            b.anomaly.is_some().cmp(&a.anomaly.is_some()).then_with(|| a.visit.visit.check_in.cmp(&b.visit.visit.check_in))
        });
        Ok(queue)
    }

    /// Records a coordinator's review of a visit in the station desk; the relay's ledger
    /// acts on it after the next sync (approval earns the coins; a rejection's reason
    /// reaches the volunteer).
    pub fn review_visit(&mut self, visit: &VisitId, decision: ReviewDecision, reason: &str) -> Result<()> {
        self.require(&[Role::Coordinator], "reviewing visits")?;
        decision.check_reason(reason)?;
        let found = self
            .member_docs()
            .flat_map(|(member, doc)| member::visit(doc, member, visit))
            .next()
            .ok_or_else(|| Error::NotFound { what: "visit", id: visit.to_string() })?;
        let recorded = self.docs.get(&DocId::Desk(self.identity.station.clone())).and_then(|d| desk::review_record(d, visit));
        let review = coordinator::review(&found, recorded.as_ref(), decision, reason, self.identity.member.clone(), self.clock.now())?;
        let desk_id = DocId::Desk(self.identity.station.clone());
        self.write(visit.as_str(), &[Topic::Visits], &[(desk_id, &|tx| desk::put_review(tx, visit, &review))])
    }

    /// Reverses the standing approval or rejection of a visit, with the reason (the
    /// volunteer sees it): the visit goes back to the queue, and after the next sync the
    /// relay's ledger takes back what an approval earned (reversal postings). The rule is
    /// the console's ([`coordinator::reverse`]).
    pub fn reverse_review(&mut self, visit: &VisitId, reason: &str) -> Result<()> {
        self.require(&[Role::Coordinator], "reversing a review")?;
        let found = self
            .member_docs()
            .flat_map(|(member, doc)| member::visit(doc, member, visit))
            .next()
            .ok_or_else(|| Error::NotFound { what: "visit", id: visit.to_string() })?;
        let standing = self.standing_review(visit);
        let reversal = coordinator::reverse(&found, standing.as_ref(), reason, self.identity.member.clone(), self.clock.now())?;
        let desk_id = DocId::Desk(self.identity.station.clone());
        self.write(visit.as_str(), &[Topic::Visits], &[(desk_id, &|tx| desk::put_reversal(tx, visit, &reversal))])
    }

    /// Accepted redemptions of the station's members that wait for a coordinator to
    /// fulfil or release them, oldest first: (member, request).
    pub fn redemption_queue(&self) -> Result<Vec<(MemberId, SpendRequest)>> {
        self.require(&[Role::Coordinator], "deciding redemptions")?;
        let desk_doc = self.docs.get(&DocId::Desk(self.identity.station.clone()));
        let mut queue: Vec<(MemberId, SpendRequest)> = self
            .member_docs()
            .flat_map(|(member, doc)| member::requests(doc).into_iter().map(move |r| (member.clone(), r)))
            // A redemption asked at another station is that station's to decide.
            .filter(|(_, r)| matches!(r.kind, RequestKind::Redeem { at: None, .. }))
            .filter(|(member, r)| self.outcome_status(member, r.id.as_str()) == Some(OutcomeStatus::Accepted))
            .filter(|(_, r)| desk_doc.and_then(|d| desk::decision(d, &r.id)).is_none())
            .collect();
        queue.sort_by_key(|(_, r)| r.created_at);
        Ok(queue)
    }

    /// Records that an accepted redemption was given (fulfil: the held coins are spent) or
    /// will not be (release: the coins go back to the member). The relay's ledger acts on
    /// it after the next sync.
    pub fn decide_redemption(&mut self, request: &RequestId, action: RedemptionAction) -> Result<()> {
        self.require(&[Role::Coordinator], "deciding redemptions")?;
        let (member, found) = self
            .member_docs()
            .flat_map(|(member, doc)| member::requests(doc).into_iter().map(move |r| (member.clone(), r)))
            .find(|(_, r)| &r.id == request)
            .ok_or_else(|| Error::NotFound { what: "request", id: request.to_string() })?;
        let desk_id = DocId::Desk(self.identity.station.clone());
        let decided = self.docs.get(&desk_id).and_then(|d| desk::decision(d, request));
        let status = self.outcome_status(&member, request.as_str());
        let decision =
            coordinator::decide_redemption(&found, decided.as_ref(), status, action, self.identity.member.clone(), self.clock.now())?;
        self.write(request.as_str(), &[Topic::Requests], &[(desk_id, &|tx| desk::put_decision(tx, request, &decision))])
    }

    /// The review a coordinator wrote for a visit, if this device holds the station desk.
    pub fn review(&self, visit: &VisitId) -> Option<desk::Review> {
        let doc = self.docs.get(&DocId::Desk(self.identity.station.clone()))?;
        desk::review(doc, visit)
    }

    /// The review of a visit that stands (none when it was reversed), if this device holds
    /// the station desk.
    pub fn standing_review(&self, visit: &VisitId) -> Option<desk::Review> {
        let doc = self.docs.get(&DocId::Desk(self.identity.station.clone()))?;
        desk::standing_review(doc, visit)
    }
}
