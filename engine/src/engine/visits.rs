//! A volunteer's visits: check in and out, a paper visit logged afterwards, the elder's
//! confirmation, and the visits with their states.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use crate::documents::{DocId, ledger, member};
use crate::engine::{Engine, PastVisit};
use crate::error::{Error, Result};
use crate::model::text;
use crate::model::{
    Confirmation, ConfirmedBy, Evidence, MemberId, OrderId, Response, Role, ServiceKind, Tap, Visit, VisitEnd, VisitId, VisitSource,
};
use crate::notify::Topic;
use crate::storage;
use crate::views::{VisitState, VisitView};

impl Engine {
    /// Checks in at an elder's home now. Returns the new visit's id.
    pub fn start_visit(&mut self, elder: &MemberId, service: &str, order: Option<&OrderId>) -> Result<VisitId> {
        self.start_visit_at(elder, service, order, None)
    }

    /// Checks in at `at` (a volunteer who forgot to check in on arrival), or now.
    /// A back-dated check-in has no monotonic reading: its length comes from the wall clock.
    pub fn start_visit_at(
        &mut self,
        elder: &MemberId,
        service: &str,
        order: Option<&OrderId>,
        at: Option<DateTime<Utc>>,
    ) -> Result<VisitId> {
        self.check_in(elder, service, order, at, None)
    }

    /// Checks in (now, or at `at`) with the link the phone read from the elder's tag (ADR 29):
    /// the relay verifies it. A tap carries no time: it proves the phone was at the tag, in
    /// this order with the tag's other taps. Nothing is stored if the link is not a tag's.
    pub fn start_visit_tapped(
        &mut self,
        elder: &MemberId,
        service: &str,
        order: Option<&OrderId>,
        at: Option<DateTime<Utc>>,
        tap_url: &str,
    ) -> Result<VisitId> {
        let tap = Tap::parse(tap_url)?;
        self.check_in(elder, service, order, at, Some(tap))
    }

    fn check_in(
        &mut self,
        elder: &MemberId,
        service: &str,
        order: Option<&OrderId>,
        at: Option<DateTime<Utc>>,
        tap: Option<Tap>,
    ) -> Result<VisitId> {
        self.require(&[Role::Volunteer], "checking in")?;
        self.check_visit_target(elder, service, order)?;
        if let Some(open) = self.own_visits().into_iter().find(Visit::is_open) {
            return Err(Error::invalid(format!(
                "you are still checked in at visit {} (elder {}, since {}); check out of it first",
                open.id,
                open.elder,
                open.check_in.format("%Y-%m-%d %H:%M")
            )));
        }
        let now = self.clock.now();
        let check_in = match at {
            Some(at) => self.rules().check_start(at, now)?,
            None => now,
        };
        let visit = Visit {
            id: VisitId::generate(),
            volunteer: self.identity.member.clone(),
            elder: elder.clone(),
            service: service.to_owned(),
            order: order.cloned(),
            check_in,
            check_out: None,
            monotonic_ms: None,
            source: VisitSource::Live,
            note: String::new(),
            recorded_at: now,
            check_out_recorded_at: None,
            device: self.identity.device.clone(),
            confirmation: None,
            evidence: Evidence { tap_in: tap, ..Evidence::default() },
        };
        let reading = if at.is_none() { self.clock.monotonic() } else { None };
        let own = self.own_doc_id();
        self.write(
            visit.id.as_str(),
            &[Topic::Visits],
            &[(own, &|tx| {
                member::put_visit(tx, &visit)?;
                match &reading {
                    Some(r) => member::put_monotonic_start(tx, &visit.id, r),
                    None => Ok(()),
                }
            })],
        )?;
        Ok(visit.id)
    }

    /// Checks out of an open visit, now or at `at` (when the volunteer forgot to).
    pub fn end_visit(&mut self, id: &VisitId, at: Option<DateTime<Utc>>, note: Option<&str>) -> Result<VisitView> {
        self.check_out(id, at, note, None)
    }

    /// Checks out (now, or at `at`) with the link the phone read from the elder's tag
    /// (ADR 29). Nothing is stored if the link is not a tag's.
    pub fn end_visit_tapped(
        &mut self,
        id: &VisitId,
        at: Option<DateTime<Utc>>,
        note: Option<&str>,
        tap_url: &str,
    ) -> Result<VisitView> {
        let tap = Tap::parse(tap_url)?;
        self.check_out(id, at, note, Some(tap))
    }

    fn check_out(&mut self, id: &VisitId, at: Option<DateTime<Utc>>, note: Option<&str>, tap: Option<Tap>) -> Result<VisitView> {
        self.require(&[Role::Volunteer], "checking out")?;
        note.map(text::check_note).transpose()?;
        let visit = self.own_visit(id)?;
        self.refuse_if_decided(&visit)?;
        if let Some(out) = visit.check_out {
            return Err(Error::invalid(format!(
                "visit {id} is not open: it was checked out at {}; nothing was changed",
                out.format("%Y-%m-%d %H:%M")
            )));
        }
        let now = self.clock.now();
        let end = at.unwrap_or(now);
        let monotonic_ms = match at {
            Some(_) => None,
            None => {
                let start = member::monotonic_start(self.own_doc(), id);
                start.zip(self.clock.monotonic()).and_then(|(s, e)| s.elapsed_until(&e))
            }
        };
        self.rules().check_times(visit.check_in, end, monotonic_ms, now)?;
        let own = self.own_doc_id();
        self.write(
            id.as_str(),
            &[Topic::Visits],
            &[(own, &|tx| {
                member::put_check_out(tx, id, end, now, monotonic_ms, note)?;
                match &tap {
                    Some(tap) => member::put_tap(tx, id, VisitEnd::CheckOut, tap),
                    None => Ok(()),
                }
            })],
        )?;
        self.visit_view(id)
    }

    /// Logs a whole visit afterwards, from a paper record. Returns its id.
    pub fn log_visit(&mut self, past: &PastVisit) -> Result<VisitId> {
        self.require(&[Role::Volunteer], "logging a visit")?;
        text::check_note(&past.note)?;
        self.check_visit_target(&past.elder, &past.service, past.order.as_ref())?;
        let now = self.clock.now();
        self.rules().check_times(past.start, past.end, None, now)?;
        let visit = past.to_visit(&self.identity.member, &self.identity.device, now);
        let own = self.own_doc_id();
        self.write(visit.id.as_str(), &[Topic::Visits], &[(own, &|tx| member::put_visit(tx, &visit))])?;
        Ok(visit.id)
    }

    /// Records that the elder (or family) confirmed the visit on this phone.
    pub fn confirm_visit(&mut self, id: &VisitId, by: ConfirmedBy) -> Result<VisitView> {
        self.require(&[Role::Volunteer], "confirming a visit")?;
        let visit = self.own_visit(id)?;
        self.refuse_if_decided(&visit)?;
        if visit.is_open() {
            return Err(Error::invalid(format!("visit {id} is still open; check out before the elder confirms")));
        }
        if visit.confirmation.is_none() {
            let confirmation = Confirmation { by, at: self.clock.now() };
            let own = self.own_doc_id();
            self.write(id.as_str(), &[Topic::Visits], &[(own, &|tx| member::put_confirmation(tx, id, &confirmation))])?;
        }
        self.visit_view(id)
    }

    /// This member's visits with their states, oldest first.
    pub fn visits(&self) -> Result<Vec<VisitView>> {
        let unsynced = storage::unsynced_subjects(self.storage.conn())?;
        Ok(self.own_visits().into_iter().map(|v| self.view_of(v, &unsynced)).collect())
    }

    /// One visit with its state.
    pub fn visit_view(&self, id: &VisitId) -> Result<VisitView> {
        let unsynced = storage::unsynced_subjects(self.storage.conn())?;
        Ok(self.view_of(self.own_visit(id)?, &unsynced))
    }

    fn check_visit_target(&self, elder: &MemberId, service: &str, order: Option<&OrderId>) -> Result<()> {
        if *elder == self.identity.member {
            return Err(Error::invalid("you cannot log a visit to yourself; give the elder's id"));
        }
        self.service(service, ServiceKind::Earning)?;
        if let Some(order) = order {
            let assignment = member::assignments(self.own_doc()).into_iter().find(|a| &a.order == order).ok_or_else(|| {
                Error::invalid(format!("order {order} is not among your assignments; check the id, or leave --order out"))
            })?;
            if assignment.response == Some(Response::Declined) {
                return Err(Error::invalid(format!("you declined order {order}; accept it before logging a visit for it")));
            }
            if assignment.elder != *elder {
                return Err(Error::invalid(format!("order {order} is for elder {}, not {elder}", assignment.elder)));
            }
        }
        Ok(())
    }

    pub(super) fn refuse_if_decided(&self, visit: &Visit) -> Result<()> {
        match self.outcome_status(&visit.volunteer, visit.id.as_str()) {
            Some(status) if status.closes_visit() => Err(Error::NotAllowed(format!(
                "visit {} is {status} by the station; it can no longer be changed. Ask your coordinator if it is wrong",
                visit.id
            ))),
            _ => Ok(()),
        }
    }

    pub(super) fn view_of(&self, visit: Visit, unsynced: &HashSet<String>) -> VisitView {
        let outcome = self.docs.get(&DocId::Ledger(visit.volunteer.clone())).and_then(|doc| ledger::outcome(doc, visit.id.as_str()));
        let state = VisitState::derive(&visit, outcome.as_ref(), unsynced.contains(visit.id.as_str()));
        let elder_name = visit
            .order
            .as_ref()
            .zip(self.docs.get(&DocId::Member(visit.volunteer.clone())))
            .and_then(|(order, doc)| member::assignment_elder_name(doc, order));
        VisitView { minutes: visit.minutes(), elder_name, state_label: state.label(), state, visit }
    }
}
