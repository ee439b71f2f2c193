//! Verifies a finished visit's evidence of presence when the relay collects it (ADR 30):
//! each tap against the station's tag keys and its tag registry (the elder's tag, not
//! revoked), the co-signature against the key the signing phone registered at enrollment
//! and the household rules. The verdicts go into the arrival log with the evidence; the
//! order-dependent checks (counters) are the fold's ([`crate::ledger::evidence`]).

use std::collections::HashMap;

use timebank_engine::model::{CoSignature, MemberId, StationId, Tap, Visit, VisitSummary};

use crate::ledger::collect::member_moves;
use crate::ledger::evidence::{EvidenceEvent, Failure, SignatureEvidence, TapEvidence, TapVerdict};
use crate::presence::keys::station_keys;
use crate::presence::sun::{StationKeys, SunError};
use crate::store::{MOVED_TO, MemberRecord, RelayStore, StoreResult};

/// Verifies evidence, keeping each station's keys once read.
#[derive(Debug)]
pub struct Verifier<'a> {
    store: &'a dyn RelayStore,
    keys: HashMap<StationId, StationKeys>,
}

impl<'a> Verifier<'a> {
    /// Over `store`.
    pub fn new(store: &'a dyn RelayStore) -> Self {
        Verifier { store, keys: HashMap::new() }
    }

    /// The evidence event of a finished `visit` of a volunteer of `station`, its elder
    /// being `elder` (`None` if the relay does not know them); `None` when the visit
    /// carries no evidence or is still open.
    pub fn evidence(
        &mut self,
        visit: &Visit,
        station: &StationId,
        elder: Option<&MemberRecord>,
    ) -> StoreResult<Option<EvidenceEvent>> {
        let Some(check_out) = visit.check_out else { return Ok(None) };
        if visit.evidence.is_empty() {
            return Ok(None);
        }
        let mut tap = |tap: &Option<Tap>| -> StoreResult<Option<TapEvidence>> {
            tap.as_ref().map(|t| Ok(TapEvidence { raw: t.stored(), verdict: self.tap(t, station, &visit.elder)? })).transpose()
        };
        let tap_in = tap(&visit.evidence.tap_in)?;
        let tap_out = tap(&visit.evidence.tap_out)?;
        let summary = VisitSummary {
            visit: visit.id.clone(),
            volunteer: visit.volunteer.clone(),
            elder: visit.elder.clone(),
            check_in: visit.check_in.timestamp_millis(),
            check_out: check_out.timestamp_millis(),
        };
        let cosignature = match &visit.evidence.cosignature {
            Some(s) => {
                Some(SignatureEvidence { raw: s.text(), signer: s.signer.clone(), failure: self.cosignature(s, &summary, elder)? })
            }
            None => None,
        };
        Ok(Some(EvidenceEvent {
            visit: visit.id.to_string(),
            volunteer: visit.volunteer.clone(),
            station: station.clone(),
            check_in: summary.check_in,
            check_out: summary.check_out,
            tap_in,
            tap_out,
            cosignature,
        }))
    }

    fn keys(&mut self, station: &StationId) -> StoreResult<&StationKeys> {
        if !self.keys.contains_key(station) {
            let keys = station_keys(self.store, station)?;
            self.keys.insert(station.clone(), keys);
        }
        Ok(&self.keys[station])
    }

    fn tap(&mut self, tap: &Tap, station: &StationId, elder: &MemberId) -> StoreResult<TapVerdict> {
        let failed = |failure| Ok(TapVerdict::Failed { failure });
        let reading = match self.keys(station)?.verify(tap) {
            Ok(reading) => reading,
            Err(SunError::UnknownKey) if self.left_behind(tap, station, elder)? => return failed(Failure::MovedTag),
            Err(SunError::UnknownKey) => return failed(Failure::UnknownKey),
            Err(SunError::BadMac) => return failed(Failure::BadCmac),
        };
        let uid = hex::encode(reading.uid);
        match self.store.tag(&uid)? {
            None => failed(Failure::UnknownKey),
            Some(tag) if tag.station != *station => failed(Failure::UnknownKey),
            Some(tag) if tag.elder != *elder => failed(Failure::OtherElder),
            Some(tag) if tag.revoked_why.as_deref().is_some_and(|why| why.starts_with(MOVED_TO)) => failed(Failure::MovedTag),
            Some(tag) if tag.revoked_at.is_some() => failed(Failure::RevokedTag),
            Some(_) => Ok(TapVerdict::Genuine { tag: uid, counter: reading.counter }),
        }
    }

    /// Whether `tap`, which `station`'s keys do not read, is of a tag `elder` had at a
    /// station they moved away from (a point read of their moves; only for a failed tap).
    fn left_behind(&mut self, tap: &Tap, station: &StationId, elder: &MemberId) -> StoreResult<bool> {
        for moved in member_moves(self.store, elder)? {
            if moved.from == *station {
                continue;
            }
            let Ok(reading) = self.keys(&moved.from)?.verify(tap) else { continue };
            let tag = self.store.tag(&hex::encode(reading.uid))?;
            if tag.is_some_and(|t| t.elder == *elder && t.station == moved.from) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn cosignature(
        &mut self,
        signature: &CoSignature,
        summary: &VisitSummary,
        elder: Option<&MemberRecord>,
    ) -> StoreResult<Option<Failure>> {
        let Some(device) = self.store.device_by_actor(&signature.device)?.filter(|d| d.revoked_at.is_none()) else {
            return Ok(Some(Failure::UnknownSigner));
        };
        let Some(registered) = device.signing_key else { return Ok(Some(Failure::UnknownSigner)) };
        if registered != signature.public_key || device.member != signature.signer || !signature.signs(summary) {
            return Ok(Some(Failure::BadSignature));
        }
        if signature.signer == summary.elder {
            return Ok(None);
        }
        let signer = self.store.member(&signature.signer)?;
        let household = |m: Option<&MemberRecord>| m.and_then(|m| m.household.clone());
        let same_household = household(signer.as_ref()).is_some() && household(signer.as_ref()) == household(elder);
        let not_the_volunteer = signature.signer != summary.volunteer;
        Ok(if same_household && not_the_volunteer { None } else { Some(Failure::NotHousehold) })
    }
}
