//! Spending coins: redemption and gift requests, their states, and the balance as far as
//! this device knows.

use crate::documents::{DocId, ledger, member};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::{MemberId, OutcomeStatus, RequestId, RequestKind, Role, ServiceKind, SpendRequest, StationId, Visit, request};
use crate::notify::Topic;
use crate::storage;
use crate::views::{Balance, RequestView};

impl Engine {
    /// Asks to redeem `minutes` of coins for a redeemable service (兑换). The relay's
    /// ledger decides; the outcome arrives with a later sync.
    pub fn request_redemption(&mut self, service: &str, minutes: i64) -> Result<RequestId> {
        let minutes = request::check_minutes(minutes)?;
        self.service(service, ServiceKind::Redeemable)?;
        self.spend(RequestKind::Redeem { service: service.to_owned(), at: None }, minutes)
    }

    /// Asks to redeem `minutes` of coins for `service` at `station`, any station of the
    /// city (通存通兑): that station's coordinators fulfil it. The member's own station is
    /// an ordinary redemption. The ledger decides by the same rules as at home.
    pub fn request_redemption_at(&mut self, service: &str, minutes: i64, station: &StationId) -> Result<RequestId> {
        let minutes = request::check_minutes(minutes)?;
        self.service(service, ServiceKind::Redeemable)?;
        let at = (*station != self.identity.station).then(|| station.clone());
        self.spend(RequestKind::Redeem { service: service.to_owned(), at }, minutes)
    }

    /// Asks to give `minutes` of coins to another member.
    pub fn request_gift(&mut self, to: &MemberId, minutes: i64) -> Result<RequestId> {
        let minutes = request::check_minutes(minutes)?;
        if *to == self.identity.member {
            return Err(Error::invalid("you cannot give coins to yourself; name another member"));
        }
        self.spend(RequestKind::Gift { to: to.clone() }, minutes)
    }

    fn spend(&mut self, kind: RequestKind, minutes: u32) -> Result<RequestId> {
        self.require(&[Role::Volunteer, Role::Elder], "spending coins")?;
        let request = SpendRequest { id: RequestId::generate(), kind, minutes, created_at: self.clock.now() };
        let own = self.own_doc_id();
        self.write(request.id.as_str(), &[Topic::Requests], &[(own, &|tx| member::put_request(tx, &request))])?;
        Ok(request.id)
    }

    /// This member's requests with the relay's decisions, oldest first.
    pub fn requests(&self) -> Result<Vec<RequestView>> {
        let unsynced = storage::unsynced_subjects(self.storage.conn())?;
        let ledger = self.docs.get(&DocId::Ledger(self.identity.member.clone()));
        Ok(member::requests(self.own_doc())
            .into_iter()
            .map(|request| {
                let outcome = ledger.and_then(|doc| ledger::outcome(doc, request.id.as_str()));
                let state_label = match outcome {
                    Some(o) if o.reason.is_empty() => o.status.as_str().to_owned(),
                    Some(o) => format!("{}: {}", o.status, o.reason),
                    None if unsynced.contains(request.id.as_str()) => "saved on phone".into(),
                    None => "sent".into(),
                };
                RequestView { request, state_label }
            })
            .collect())
    }

    /// The balance as far as this device knows: the relay's ledger plus what is logged or
    /// requested here and not yet decided.
    pub fn balance(&self) -> Balance {
        let me = &self.identity.member;
        let ledger = self.docs.get(&DocId::Ledger(me.clone()));
        let posted = ledger.map(ledger::balance).unwrap_or_default();
        let decided = |subject: &str| self.outcome_status(me, subject).is_some_and(OutcomeStatus::is_decided);
        let pending_minutes =
            self.own_visits().iter().filter(|v| !decided(v.id.as_str())).filter_map(Visit::minutes).map(i64::from).sum();
        let undecided_spends: i64 =
            member::requests(self.own_doc()).iter().filter(|r| !decided(r.id.as_str())).map(|r| i64::from(r.minutes)).sum();
        let reserved_minutes = posted.reserved_minutes + undecided_spends;
        Balance {
            confirmed_minutes: posted.confirmed_minutes,
            pending_minutes,
            reserved_minutes,
            available_minutes: posted.confirmed_minutes - reserved_minutes,
        }
    }
}
