//! `POST /v1/contacts`: the elder's address and phone for each order dispatched to the
//! asking volunteer and still open for them (ADR 31). They live only in the relay's
//! register (never in a document, so never in a document's history on any phone); this
//! answer is the one way they reach a phone, and only the dispatched volunteer's, only
//! while the order is dispatched or accepted ([`OrderState::shares_contact`], the rule the
//! phone keeps them by too).

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use timebank_engine::DocId;
use timebank_engine::documents::{member, view};
use timebank_engine::model::{OrderState, Role};
use timebank_engine::sync::wire::{self, ContactsRequest, DispatchContact, DispatchContacts};

use crate::error::AppError;
use crate::http::{self, binary, blocking};
use crate::limits::Gate;
use crate::relay::Relay;
use crate::store::MemberRecord;

/// The endpoint: bearer token, wire-encoded [`ContactsRequest`] in, [`DispatchContacts`]
/// out. The token is checked before the body is read, as for a sync.
pub async fn endpoint(State(relay): State<Arc<Relay>>, gate: Gate, headers: HeaderMap, body: Body) -> Result<Response, AppError> {
    let (device, body) = http::device_request(&relay, &gate, &headers, body).await?;
    blocking(move || {
        let _: ContactsRequest = wire::decode(&body)?;
        let answer = open_dispatches(&relay, &device.member)?;
        // Whose contacts went where is worth knowing; the contacts themselves are not logged.
        tracing::info!(device = %device.device.id, member = %device.member.id, orders = answer.contacts.len(), "dispatch contacts");
        Ok(binary(wire::encode(&answer)))
    })
    .await
}

/// The contacts `volunteer` may hold now: for every assignment in their document whose
/// order (in the elder's document, at the same station) is dispatched to them and in a
/// state that shares the contact, the elder's address and phone, when the register has
/// either. Nothing for anyone else.
pub fn open_dispatches(relay: &Relay, volunteer: &MemberRecord) -> Result<DispatchContacts, AppError> {
    if volunteer.role != Role::Volunteer {
        return Ok(DispatchContacts::default());
    }
    let own = DocId::Member(volunteer.id.clone());
    let assignments = relay.documents(std::slice::from_ref(&own))?.get(&own).map(member::assignments).unwrap_or_default();
    let elders: BTreeSet<_> = assignments.iter().map(|a| a.elder.clone()).collect();
    let mut ids = vec![own];
    for elder in &elders {
        ids.push(DocId::Member(elder.clone()));
        ids.push(DocId::Ledger(elder.clone()));
    }
    let docs = relay.documents(&ids)?;
    let store = relay.store();
    let mut contacts = Vec::new();
    for assignment in &assignments {
        let Some(order) = docs
            .get(&DocId::Member(assignment.elder.clone()))
            .and_then(|doc| member::orders(doc).into_iter().find(|o| o.id == assignment.order))
        else {
            continue;
        };
        let here = store.member(&order.elder)?.is_some_and(|e| e.station == volunteer.station);
        let state = OrderState::derive(&view::order_facts(|id| docs.get(id), &order));
        if !here || order.dispatched_to.as_ref() != Some(&volunteer.id) || !state.shares_contact() {
            continue;
        }
        let contact = store.member_contact(&order.elder)?;
        if contact.address.is_none() && contact.phone.is_none() {
            continue;
        }
        contacts.push(DispatchContact {
            order: order.id.to_string(),
            address: contact.address.unwrap_or_default(),
            phone: contact.phone.unwrap_or_default(),
        });
    }
    Ok(DispatchContacts { contacts })
}
