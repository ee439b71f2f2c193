//! Figures per district for 通存通兑 (ADR 41): coins issued for visits given at the
//! district's stations, and coins redeemed across districts: redeemed in (a member of
//! another district served at one of its stations) and redeemed out (one of its members
//! served at another district's station). Read from the arrival log (where each visit
//! was given, where each request was made and where it is redeemed) and the postings.

use std::collections::HashMap;

use timebank_engine::model::{DistrictId, StationId};

use crate::ledger::EventBody;
use crate::ledger::event::RequestWhat;
use crate::ledger::posting::PostingKind;
use crate::store::{LedgerEventRecord, PostingRecord, StationRecord};

/// One district's figures, in minutes (60 = one coin).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DistrictFigures {
    /// The district.
    pub district: DistrictId,
    /// Coins issued for visits given at its stations (less reversals).
    pub issued: i64,
    /// Coins redeemed at its stations, all members.
    pub redeemed: i64,
    /// Of those, by members of other districts.
    pub redeemed_in: i64,
    /// Coins its members redeemed at other districts' stations.
    pub redeemed_out: i64,
}

/// Where a posting's subject happened: a visit's station, or a request's member's station,
/// the station that redeems it and, for a redemption, the service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// A visit given by a volunteer of this station.
    Visit(StationId),
    /// A spend request.
    Request {
        /// The member's station when they asked.
        from: StationId,
        /// The station that gives it (the member's own but for 通存通兑).
        at: StationId,
        /// The service redeemed; `None` for a gift or a donation.
        service: Option<String>,
    },
}

/// Where each visit and request of the arrival log `events` happened, by its id.
pub fn places(events: &[LedgerEventRecord]) -> HashMap<String, Place> {
    let mut places: HashMap<String, Place> = HashMap::new();
    for record in events {
        match EventBody::decode(&record.body) {
            Ok(EventBody::Visit(visit)) => {
                places.entry(visit.id.to_string()).or_insert(Place::Visit(visit.station));
            }
            Ok(EventBody::Request(request)) => {
                let (at, service) = match &request.what {
                    RequestWhat::Redeem { at, service, .. } => {
                        (at.clone().unwrap_or_else(|| request.station.clone()), Some(service.clone()))
                    }
                    _ => (request.station.clone(), None),
                };
                places.entry(request.id.clone()).or_insert(Place::Request { from: request.station, at, service });
            }
            _ => {}
        }
    }
    places
}

/// The figures of every district in `districts` (in that order), from `stations` (each
/// with its district), the arrival log `events` and the `postings`.
pub fn district_figures(
    districts: &[DistrictId],
    stations: &[StationRecord],
    events: &[LedgerEventRecord],
    postings: &[PostingRecord],
) -> Vec<DistrictFigures> {
    let district_of: HashMap<&StationId, &DistrictId> = stations.iter().map(|s| (&s.id, &s.district)).collect();
    let places = places(events);
    let mut figures: Vec<DistrictFigures> = districts
        .iter()
        .map(|d| DistrictFigures { district: d.clone(), issued: 0, redeemed: 0, redeemed_in: 0, redeemed_out: 0 })
        .collect();
    let mut add = |district: Option<&&DistrictId>, change: &dyn Fn(&mut DistrictFigures)| {
        if let Some(f) = district.and_then(|d| figures.iter_mut().find(|f| &f.district == *d)) {
            change(f);
        }
    };
    for p in postings {
        let (Some(kind), Some(place)) = (PostingKind::parse(&p.kind), places.get(&p.subject)) else { continue };
        let minutes = p.minutes;
        match (kind, place) {
            (PostingKind::Earn | PostingKind::Overflow, Place::Visit(station)) if p.debit == "program" => {
                add(district_of.get(station), &|f| f.issued += minutes);
            }
            (PostingKind::Reversal, Place::Visit(station)) if p.credit == "program" => {
                add(district_of.get(station), &|f| f.issued -= minutes);
            }
            (PostingKind::Redeem, Place::Request { from, at, .. }) => {
                let (home, there) = (district_of.get(from), district_of.get(at));
                add(there, &|f| f.redeemed += minutes);
                if home != there {
                    add(there, &|f| f.redeemed_in += minutes);
                    add(home, &|f| f.redeemed_out += minutes);
                }
            }
            _ => {}
        }
    }
    figures
}
