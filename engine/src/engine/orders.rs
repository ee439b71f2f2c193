//! Orders (点单) and assignments (派单/接单): placing and cancelling an order, the orders
//! and assignments a device sees (with the elder's contact while an assignment is open),
//! and a volunteer's answer.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::documents::coordinator::{self, Cancellation};
use crate::documents::{DocId, member};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::text;
use crate::model::{
    Assignment, MemberId, Order, OrderFacts, OrderId, OrderState, OutcomeStatus, Response, Role, ServiceKind, Slot, Visit,
};
use crate::notify::Topic;
use crate::storage;
use crate::views::{AssignmentView, OrderView};

impl Engine {
    /// Places an order (点单) for `elder`, for any time; an elder's own device may leave
    /// `elder` out.
    pub fn place_order(&mut self, elder: Option<&MemberId>, service: &str, note: &str) -> Result<OrderId> {
        self.place_order_for(elder, service, note, None)
    }

    /// Places an order (点单) for `elder` asking for the time slot `slot` (start, end), if
    /// given ([`Slot::new`] checks it: still to come, at most 12 hours).
    pub fn place_order_for(
        &mut self,
        elder: Option<&MemberId>,
        service: &str,
        note: &str,
        slot: Option<(DateTime<Utc>, DateTime<Utc>)>,
    ) -> Result<OrderId> {
        self.require(&[Role::Elder, Role::FamilyProxy, Role::Coordinator], "placing an order")?;
        let elder = match (self.identity.role, elder) {
            (Role::Elder, None) => self.identity.member.clone(),
            (Role::Elder, Some(e)) if *e != self.identity.member => {
                return Err(Error::NotAllowed("an elder's device places orders for that elder only".into()));
            }
            (Role::FamilyProxy, Some(e)) if !self.docs.contains_key(&DocId::Member(e.clone())) => {
                return Err(Error::NotAllowed(format!(
                    "this device does not act for elder {e}: a family proxy orders for the elders of its own household; ask the station to register you in the elder's household, then sync"
                )));
            }
            (_, Some(e)) => e.clone(),
            (_, None) => return Err(Error::invalid("say which elder the order is for (--elder)")),
        };
        self.service(service, ServiceKind::Earning)?;
        text::check_note(note)?;
        let now = self.clock.now();
        let slot = slot.map(|(start, end)| Slot::new(start, end, now)).transpose()?;
        let order = Order::place(elder.clone(), service, note, self.identity.member.clone(), now).for_slot(slot);
        self.write(order.id.as_str(), &[Topic::Orders], &[(DocId::Member(elder), &|tx| member::put_order(tx, &order))])?;
        Ok(order.id)
    }

    /// Cancels an order that has not been served; cancelling a cancelled order changes
    /// nothing. The rule is the console's ([`crate::documents::coordinator::cancel`]).
    pub fn cancel_order(&mut self, order: &OrderId) -> Result<()> {
        self.require(&[Role::Elder, Role::FamilyProxy, Role::Coordinator], "cancelling an order")?;
        let found = self.find_order(order)?;
        if self.identity.role == Role::Elder && found.elder != self.identity.member {
            return Err(Error::NotAllowed("an elder's device cancels that elder's orders only".into()));
        }
        let state = OrderState::derive(&self.order_facts(&found));
        if coordinator::cancel(order, state)? == Cancellation::AlreadyCancelled {
            return Ok(());
        }
        let now = self.clock.now();
        self.write(order.as_str(), &[Topic::Orders], &[(DocId::Member(found.elder), &|tx| member::put_order_cancel(tx, order, now))])
    }

    /// Orders this device can see (an elder's own; every order held, for coordinators).
    pub fn orders(&self) -> Vec<OrderView> {
        self.member_docs()
            .flat_map(|(_, doc)| member::orders(doc))
            .map(|order| OrderView { state: OrderState::derive(&self.order_facts(&order)), order })
            .collect()
    }

    /// Assignments offered to this volunteer (派单), with each order's state and, while it
    /// is open, the elder's address and phone as the relay last sent them.
    pub fn assignments(&self) -> Vec<AssignmentView> {
        let contacts = storage::dispatch_contacts(self.storage.conn()).unwrap_or_default();
        self.own_assignments()
            .into_iter()
            .map(|(assignment, state)| {
                let contact = contacts.iter().find(|c| c.order == assignment.order.as_str()).filter(|_| state.shares_contact());
                let given = |value: &str| Some(value.to_owned()).filter(|v| !v.is_empty());
                AssignmentView {
                    elder_address: contact.and_then(|c| given(&c.address)),
                    elder_phone: contact.and_then(|c| given(&c.phone)),
                    assignment,
                    state,
                }
            })
            .collect()
    }

    /// This volunteer's assignments with each order's state as this phone knows it. Every
    /// sync asks it (are contacts needed?), so the visits are read only when there are
    /// assignments, and once: one lookup per assignment, not a walk of the history.
    pub(crate) fn own_assignments(&self) -> Vec<(Assignment, OrderState)> {
        let assignments = member::assignments(self.own_doc());
        if assignments.is_empty() {
            return Vec::new();
        }
        // The earliest visit that served each order, as before.
        let mut served: HashMap<OrderId, Visit> = HashMap::new();
        for visit in self.own_visits() {
            if let Some(order) = visit.order.clone() {
                served.entry(order).or_insert(visit);
            }
        }
        assignments
            .into_iter()
            .map(|assignment| {
                let visit = served.get(&assignment.order);
                let facts = OrderFacts {
                    dispatched: true,
                    response: assignment.response,
                    visited: visit.is_some(),
                    visit_confirmed: visit.is_some_and(|v| v.confirmation.is_some()),
                    settled: visit.is_some_and(|v| self.outcome_status(&v.volunteer, v.id.as_str()) == Some(OutcomeStatus::Approved)),
                    cancelled: false,
                };
                (assignment, OrderState::derive(&facts))
            })
            .collect()
    }

    /// Accepts an assignment (接单).
    pub fn accept(&mut self, order: &OrderId) -> Result<()> {
        self.respond(order, Response::Accepted, "")
    }

    /// Declines an assignment, with an optional reason for the coordinator.
    pub fn decline(&mut self, order: &OrderId, reason: &str) -> Result<()> {
        self.respond(order, Response::Declined, reason)
    }

    fn respond(&mut self, order: &OrderId, response: Response, reason: &str) -> Result<()> {
        self.require(&[Role::Volunteer], "answering an assignment")?;
        text::check_reason(reason)?;
        let assignment = self
            .own_assignments()
            .into_iter()
            .find(|(a, _)| &a.order == order)
            .ok_or_else(|| Error::NotFound { what: "assignment", id: order.to_string() })?;
        if matches!(assignment.1, OrderState::Visited | OrderState::Confirmed | OrderState::Settled) {
            return Err(Error::invalid(format!("order {order} was already served; the answer cannot change")));
        }
        if assignment.0.response == Some(response) {
            return Ok(());
        }
        let now = self.clock.now();
        let own = self.own_doc_id();
        self.write(order.as_str(), &[Topic::Assignments], &[(own, &|tx| member::put_response(tx, order, response, now, reason))])
    }
}
