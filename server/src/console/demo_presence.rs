//! The demo station's proof of presence (ADR 29, 30): tags for two elders, the station's
//! rule to approve verified visits without a coordinator, visits tapped at both ends on
//! the volunteers' phones (software tags with the station's keys, the phones' clocks set
//! to the days of the visits), one tapped at one end only, one with a copied link, and one
//! co-signed by an elder's own phone. What share of the station's visits the relay approved
//! without a person is [`hands_free_share`].

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};
use timebank_engine::documents::station;
use timebank_engine::model::{MemberId, VerifiedVisits, VisitId};
use timebank_engine::{Clock, DocId, MonotonicReading};

use crate::console::demo::{DemoError, DemoPhone, Seeder, step};
use crate::ledger::reconcile::AUTO_APPROVED;
use crate::presence::keys::station_keys;
use crate::presence::sun::{SoftwareTag, parse_uid};
use crate::registry;
use crate::relay::Relay;
use crate::store::{MemberRecord, StationRecord, StoreResult};

/// A demo phone's clock: the real time, or a time the seeding set (a visit days ago).
#[derive(Debug, Default)]
pub struct DemoClock(Mutex<Option<DateTime<Utc>>>);

impl DemoClock {
    /// Shows `at` from now on (`None`: the real time).
    pub fn set(&self, at: Option<DateTime<Utc>>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = at;
    }
}

impl Clock for DemoClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).unwrap_or_else(Utc::now)
    }

    fn monotonic(&self) -> Option<MonotonicReading> {
        None
    }
}

fn missing(what: &'static str) -> DemoError {
    DemoError::Step { step: what, detail: "a built-in value is wrong".into() }
}

/// `days_ago` days back at `hour` (UTC).
fn day_at(days_ago: i64, hour: i64) -> DateTime<Utc> {
    let day = Utc::now() - Duration::days(days_ago);
    day.date_naive().and_hms_opt(0, 0, 0).map_or(day, |t| t.and_utc()) + Duration::hours(hour)
}

/// A visit of `minutes` at `days_ago` days back, 08:00 UTC (16:00 at the station), checked
/// in and out on the phone with the links `tap_in` and `tap_out` (none: not tapped).
fn visit(
    phone: &mut DemoPhone,
    elder: &MemberId,
    days_ago: i64,
    minutes: i64,
    tap_in: Option<String>,
    tap_out: Option<String>,
) -> Result<VisitId, DemoError> {
    let start = day_at(days_ago, 8);
    phone.clock.set(Some(start));
    let id = match &tap_in {
        Some(url) => phone.engine.start_visit_tapped(elder, "companionship", None, None, url),
        None => phone.engine.start_visit(elder, "companionship", None),
    }
    .map_err(step("check in"))?;
    phone.clock.set(Some(start + Duration::minutes(minutes)));
    match &tap_out {
        Some(url) => phone.engine.end_visit_tapped(&id, None, Some("陪老人聊天"), url),
        None => phone.engine.end_visit(&id, None, Some("陪老人聊天")),
    }
    .map_err(step("check out"))?;
    phone.clock.set(None);
    Ok(id)
}

/// Seeds the station's tags, rule and visits with evidence. `volunteers` are the phones of
/// the station's three volunteers; `elders` its elders (the first two get tags, the third
/// co-signs on her own phone).
pub(crate) fn seed(
    seeder: &Seeder<'_>,
    here: &StationRecord,
    coordinator: &MemberId,
    volunteers: &mut [DemoPhone],
    elders: &[MemberRecord],
) -> Result<(), DemoError> {
    let relay = seeder.relay;
    let keys = station_keys(relay.store(), &here.id).map_err(step("read the station's tag keys"))?;
    let mut tags = Vec::new();
    for (elder, uid) in elders.iter().zip(["04D2A1B3C4E5F6", "04D2A1B3C4E5F7"]) {
        registry::register_tag(relay, &here.id, elder.id.as_str(), uid, "demo", None).map_err(step("register a tag"))?;
        let uid = parse_uid(uid).ok_or_else(|| missing("read a tag's UID"))?;
        tags.push(SoftwareTag::new(&keys, uid, 0));
    }
    relay
        .write_as(
            coordinator,
            &[(DocId::Station(here.id.clone()), &|tx| station::put_verified_visits(tx, VerifiedVisits::Auto))],
            None,
        )
        .map_err(step("set the rule for verified visits"))?;

    // Tapped at both ends, in the order the tags were read.
    let [tag0, tag1] = &mut tags[..] else { return Err(missing("make the tags")) };
    let copied = tag0.clone().tap();
    for (v, e, days, minutes) in [(0, 0, 6, 60), (1, 1, 5, 60), (2, 0, 4, 45), (0, 1, 3, 60), (1, 0, 2, 60)] {
        let tag = if e == 0 { &mut *tag0 } else { &mut *tag1 };
        let (tap_in, tap_out) = (tag.tap(), tag.tap());
        visit(&mut volunteers[v], &elders[e].id, days, minutes, Some(tap_in), Some(tap_out))?;
    }
    // The card at arrival only: the coordinator decides.
    let arrival = tag1.tap();
    visit(&mut volunteers[2], &elders[1].id, 1, 60, Some(arrival), None)?;
    // A link copied from the first visit's arrival: the review queue, with the reason.
    let leaving = tag0.tap();
    visit(&mut volunteers[0], &elders[0].id, 1, 60, Some(copied), Some(leaving))?;

    // Co-signed by the elder's own phone (吴玉珍 has a smartphone), offline.
    let elder_phone = seeder.phone(&elders[2])?;
    let id = visit(&mut volunteers[2], &elders[2].id, 2, 60, None, None)?;
    let summary = volunteers[2].engine.visit_summary(&id).map_err(step("show a visit's summary"))?;
    let signature = elder_phone.engine.cosign_visit(&summary.text()).map_err(step("co-sign a visit"))?;
    volunteers[2].engine.attach_cosignature(&id, &signature.text()).map_err(step("store a co-signature"))?;
    Ok(())
}

/// Of the station's finished visits, how many the relay approved without a person (by the
/// station's rule for verified visits), and how many there are.
pub fn hands_free_share(relay: &Relay, station: &StationRecord) -> StoreResult<(usize, usize)> {
    relay.settle();
    let books = crate::ledger::rebuild::rebuild(relay.store())?;
    let (mut hands_free, mut visits) = (0, 0);
    for member in relay.store().station_members(&station.id)? {
        let Some(stored) = relay.store().document(&DocId::Member(member.id.clone()).to_string())? else { continue };
        let doc = automerge::Automerge::load(&stored.bytes).map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))?;
        let outcomes = books.member_outcomes(&member.id);
        for visit in timebank_engine::documents::member::visits(&doc, &member.id).iter().filter(|v| v.check_out.is_some()) {
            visits += 1;
            hands_free += usize::from(outcomes.get(visit.id.as_str()).is_some_and(|o| o.reason.starts_with(AUTO_APPROVED)));
        }
    }
    Ok((hands_free, visits))
}

/// The demo's clock shared by a phone and the seeding.
pub fn clock() -> Arc<DemoClock> {
    Arc::new(DemoClock::default())
}
