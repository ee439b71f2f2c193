//! `timebank-relay --demo`: seeds a fresh data directory with a demo city (two districts,
//! three stations, the first one busy) so a newcomer sees a working console at once. Everything goes through the real paths: members
//! registered by `registry::register_member`, phones that are real engines enrolled with
//! one-time codes and synced through the relay's own sync function, reviews, orders and
//! redemptions through the desk, and a console account.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderValue};
use chrono::{Duration, Utc};
use timebank_engine::model::{ConfirmedBy, MemberId, RedemptionAction, ReviewDecision, Role};
use timebank_engine::signing::DeviceKey;
use timebank_engine::sync::wire::{self, EnrollRequest, SyncRequest};
use timebank_engine::sync::{Transport, TransportError};
use timebank_engine::{Engine, Enrollment, NewIdentity, PastVisit};

use crate::console::demo_presence::{self, DemoClock};
use crate::registry::{self, AccountScope, NewMember};
use crate::relay::Relay;
use crate::store::{MemberRecord, StationRecord};
use crate::{auth, desk, enroll, secret, sync};

/// Why the demo could not be seeded.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The data directory holds something already.
    #[error(
        "the data directory {0} is not empty; --demo seeds only a new one, so nothing was changed. Pass another, e.g. `timebank-relay --demo --data demo-data`"
    )]
    NotEmpty(String),
    /// A step failed.
    #[error("could not seed the demo station ({step}): {detail}")]
    Step {
        /// What was being done.
        step: &'static str,
        /// What went wrong.
        detail: String,
    },
}

pub(crate) fn step<E: std::fmt::Display>(step: &'static str) -> impl FnOnce(E) -> DemoError {
    move |e| DemoError::Step { step, detail: e.to_string() }
}

/// How to sign in to the seeded console.
#[derive(Clone, Debug)]
pub struct DemoAccounts {
    /// The busy station's coordinator's username.
    pub coordinator: String,
    /// The other stations' coordinators' usernames, in the order seeded.
    pub other_coordinators: Vec<String>,
    /// The first district's read-only username.
    pub district: String,
    /// The city's read-only username.
    pub city: String,
    /// Their password (all of them).
    pub password: String,
    /// Of the station's visits, how many the relay approved without a person, and how many
    /// there are (proof of presence, ADR 30).
    pub hands_free: (usize, usize),
}

/// Refuses a data directory that exists and is not empty.
pub fn check_empty(data: &Path) -> Result<(), DemoError> {
    let occupied = std::fs::read_dir(data).is_ok_and(|mut entries| entries.next().is_some());
    if occupied { Err(DemoError::NotEmpty(data.display().to_string())) } else { Ok(()) }
}

/// A phone of the demo: a real engine, enrolled with a one-time code, on a clock the
/// seeding may set to the day of a visit.
pub(crate) struct DemoPhone {
    pub(crate) engine: Engine,
    token: String,
    pub(crate) clock: Arc<DemoClock>,
}

/// Hands each sync to the relay's sync function in-process, with the phone's token.
struct Direct<'a> {
    relay: &'a Relay,
    token: &'a str,
}

impl Transport for Direct<'_> {
    fn exchange(&mut self, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        let refused = |e: crate::AppError| TransportError::Refused { status: e.status().as_u16(), message: e.to_string() };
        let mut headers = HeaderMap::new();
        let bearer =
            HeaderValue::from_str(&format!("Bearer {}", self.token)).map_err(|e| TransportError::Unreachable(e.to_string()))?;
        headers.insert(AUTHORIZATION, bearer);
        let device = auth::authenticate(self.relay, &headers).map_err(refused)?;
        let request: SyncRequest = wire::decode(&body).map_err(|e| TransportError::Unreachable(e.to_string()))?;
        let response = sync::sync(self.relay, &device, &request).map_err(refused)?;
        Ok(wire::encode(&response))
    }
}

pub(crate) struct Seeder<'a> {
    pub(crate) relay: &'a Relay,
    phones_dir: PathBuf,
    station: String,
}

impl Seeder<'_> {
    fn member(
        &self,
        role: &str,
        name: &str,
        birth_year: u16,
        household: Option<&str>,
        hardship: bool,
    ) -> Result<MemberRecord, DemoError> {
        let new = NewMember { station: &self.station, role, name, birth_year, household, hardship };
        let phone = format!("139 {:04} {:04}", u32::from(birth_year) * 3 % 10_000, u32::from(birth_year) * 7 % 10_000);
        let address = (role == "elder").then(|| format!("曹杨新村 {} 号 {} 室", birth_year % 40 + 1, birth_year % 5 * 100 + 201));
        let contact = registry::NewContact { phone: Some(&phone), id_last4: Some("0423"), address: address.as_deref() };
        registry::register_member(self.relay, &new, &contact, None).map_err(step("register a member"))
    }

    pub(crate) fn phone(&self, member: &MemberRecord) -> Result<DemoPhone, DemoError> {
        let (code, _) = registry::issue_enrollment_code(self.relay, member.id.as_str(), 1).map_err(step("issue a code"))?;
        let actor = automerge::ActorId::random().to_hex_string();
        let key = DeviceKey::generate().map_err(step("make a signing key"))?;
        let request = EnrollRequest { code, actor: actor.clone(), signing_key: Some(key.public()) };
        let enrolled = enroll::enroll(self.relay, &request).map_err(step("enroll a phone"))?;
        let dir = self.phones_dir.join(member.id.as_str());
        let clock = demo_presence::clock();
        let engine = Engine::create_enrolled(
            &dir,
            &Enrollment {
                identity: NewIdentity {
                    member: member.id.clone(),
                    station: member.station.clone(),
                    role: Role::parse(&enrolled.role).map_err(step("read the role"))?,
                },
                actor,
                relay: "http://127.0.0.1".into(),
                device: enrolled.device,
                token: enrolled.token.clone(),
                signing_key: Some(key),
            },
            clock.clone(),
        )
        .map_err(step("create a phone"))?;
        Ok(DemoPhone { engine, token: enrolled.token, clock })
    }

    fn sync(&self, phone: &mut DemoPhone) -> Result<(), DemoError> {
        let mut transport = Direct { relay: self.relay, token: &phone.token };
        phone.engine.sync(&mut transport).map_err(step("sync a phone"))?;
        Ok(())
    }
}

/// A two-hour slot `days` from today, from `hour` o'clock UTC (eight hours later at the
/// station).
fn slot(days: i64, hour: i64) -> (chrono::DateTime<Utc>, chrono::DateTime<Utc>) {
    let day = Utc::now() + Duration::days(days);
    let start = day.date_naive().and_hms_opt(0, 0, 0).map_or(day, |t| t.and_utc()) + Duration::hours(hour);
    (start, start + Duration::hours(2))
}

/// When a visit `days_ago` days before `now` at `hour` (UTC) for `minutes` starts and
/// ends. A visit of today that would end after `now` (the demo seeded in the first hours
/// of the UTC day) is placed a day earlier: a phone refuses a visit that ends in the future.
fn past_slot(now: chrono::DateTime<Utc>, days_ago: i64, hour: i64, minutes: i64) -> (chrono::DateTime<Utc>, chrono::DateTime<Utc>) {
    let day = now - Duration::days(days_ago);
    let mut start = day.date_naive().and_hms_opt(0, 0, 0).map_or(day, |t| t.and_utc()) + Duration::hours(hour);
    if start + Duration::minutes(minutes) > now {
        start -= Duration::days(1);
    }
    (start, start + Duration::minutes(minutes))
}

/// A visit `days_ago` days back at `hour` (UTC) for `minutes`.
fn past(elder: &MemberId, service: &str, days_ago: i64, hour: i64, minutes: i64, note: &str) -> PastVisit {
    let (start, end) = past_slot(Utc::now(), days_ago, hour, minutes);
    PastVisit { elder: elder.clone(), service: service.into(), order: None, start, end, note: note.into() }
}

/// A quieter station of the demo: its coordinator, a volunteer who served an elder twice
/// (approved), and the coordinator's console account `username`. Returns the coordinator.
fn seed_quiet_station(
    relay: &Relay,
    phones_dir: &Path,
    station: &StationRecord,
    names: [&str; 3],
    username: &str,
    password: &str,
) -> Result<MemberRecord, DemoError> {
    let seeder = Seeder { relay, phones_dir: phones_dir.to_path_buf(), station: station.id.to_string() };
    let [coordinator, volunteer, elder] = names;
    let coordinator = seeder.member("coordinator", coordinator, 1972, None, false)?;
    let volunteer = seeder.member("volunteer", volunteer, 1957, None, false)?;
    let elder = seeder.member("elder", elder, 1939, None, false)?;
    let mut phone = seeder.phone(&volunteer)?;
    let mut visits = Vec::new();
    for (days, service, minutes, note) in [(6, "companionship", 120, "陪老人聊天"), (3, "cleaning", 90, "打扫房间")] {
        let id = phone.engine.log_visit(&past(&elder.id, service, days, 2, minutes, note)).map_err(step("log a visit"))?;
        phone.engine.confirm_visit(&id, ConfirmedBy::Elder).map_err(step("confirm a visit"))?;
        visits.push(id);
    }
    seeder.sync(&mut phone)?;
    desk::review_visits(relay, &coordinator.id, &visits, ReviewDecision::Approve, "", None).map_err(step("approve visits"))?;
    seeder.sync(&mut phone)?;
    registry::create_console_user(
        relay,
        username,
        password,
        AccountScope::Station(station.id.as_str()),
        Some(coordinator.id.as_str()),
    )
    .map_err(step("create a coordinator's account"))?;
    Ok(coordinator)
}

/// Seeds the demo city into `relay` (whose data directory is `data`, checked empty before
/// the relay opened it): 普陀区 with two stations, 长宁区 with one. Returns the console accounts.
pub fn seed(relay: &Relay, data: &Path) -> Result<DemoAccounts, DemoError> {
    let putuo = registry::create_district(relay, "普陀区").map_err(step("create a district"))?;
    let changning = registry::create_district(relay, "长宁区").map_err(step("create a district"))?;
    let station =
        registry::create_station_in(relay, "曹杨新村街道为老服务站", putuo.id.as_str()).map_err(step("create the station"))?;
    let phones_dir = data.join("demo-phones");
    let seeder = Seeder { relay, phones_dir: phones_dir.clone(), station: station.id.to_string() };
    let coordinator = seeder.member("coordinator", "李红梅", 1975, None, false)?;
    let volunteers = [
        seeder.member("volunteer", "张建国", 1958, Some("h-zhang"), false)?,
        seeder.member("volunteer", "王秀英", 1962, None, false)?,
        seeder.member("volunteer", "陈志强", 1955, None, false)?,
    ];
    let elders = [
        seeder.member("elder", "孙桂兰", 1938, Some("h-sun"), false)?,
        seeder.member("elder", "周福生", 1941, None, false)?,
        seeder.member("elder", "吴玉珍", 1936, None, true)?,
        seeder.member("elder", "张老太", 1933, Some("h-zhang"), false)?,
    ];
    seeder.member("family-proxy", "孙丽", 1968, Some("h-sun"), false)?;

    let mut phones = Vec::new();
    for volunteer in &volunteers {
        phones.push(seeder.phone(volunteer)?);
    }
    // Ordinary visits over the last days, one per (volunteer, elder, day).
    let plan: &[(usize, usize, &str, i64, i64, i64, &str)] = &[
        (0, 0, "companionship", 6, 1, 90, "陪老人聊天、读报"),
        (0, 1, "meals", 5, 3, 60, "送午饭"),
        (1, 2, "cleaning", 5, 2, 120, "打扫厨房和卫生间"),
        (1, 0, "smartphone-help", 4, 6, 45, "教用微信视频"),
        (2, 1, "escort", 4, 1, 150, "陪同去社区医院配药"),
        (2, 2, "companionship", 3, 2, 60, "陪散步"),
        (0, 2, "meals", 2, 3, 60, "送晚饭"),
        (1, 1, "companionship", 2, 1, 90, "聊天，量血压"),
    ];
    let mut approve = Vec::new();
    for (v, e, service, days, hour, minutes, note) in plan {
        let past = past(&elders[*e].id, service, *days, *hour, *minutes, note);
        let id = phones[*v].engine.log_visit(&past).map_err(step("log a visit"))?;
        // The elder confirmed it on the volunteer's phone, as at the door.
        phones[*v].engine.confirm_visit(&id, ConfirmedBy::Elder).map_err(step("confirm a visit"))?;
        approve.push(id);
    }
    // Anomalies for the review queue: two overlapping visits, and one to the volunteer's own household.
    phones[2].engine.log_visit(&past(&elders[0].id, "companionship", 1, 1, 120, "上午陪护")).map_err(step("log a visit"))?;
    phones[2].engine.log_visit(&past(&elders[2].id, "cleaning", 1, 2, 60, "打扫")).map_err(step("log a visit"))?;
    phones[0].engine.log_visit(&past(&elders[3].id, "companionship", 1, 3, 60, "陪自家老人")).map_err(step("log a visit"))?;
    // One waiting for review without anomaly.
    phones[1].engine.log_visit(&past(&elders[1].id, "meals", 0, 1, 30, "送早饭")).map_err(step("log a visit"))?;
    // Elders' tags, the rule to approve verified visits, and visits with proof of presence.
    demo_presence::seed(&seeder, &station, &coordinator.id, &mut phones, &elders)?;
    for phone in &mut phones {
        seeder.sync(phone)?;
    }
    let approved = approve.len() - 2;
    desk::review_visits(relay, &coordinator.id, &approve[..approved], ReviewDecision::Approve, "", None)
        .map_err(step("approve visits"))?;
    desk::review_visit(relay, &coordinator.id, &approve[approved], ReviewDecision::Reject, "老人当天住院，未上门", None)
        .map_err(step("reject a visit"))?;

    // Orders for the coming days, each in a time slot: requested, dispatched and accepted.
    let order = |elder: &MemberRecord, service: &str, note: &str, days: i64, hour: i64| {
        let new = desk::NewOrder { elder: &elder.id, service, note, slot: Some(slot(days, hour)) };
        desk::place_order_for(relay, &coordinator.id, &new, None).map_err(step("place an order"))
    };
    order(&elders[2], "cleaning", "每周一次大扫除", 2, 1)?;
    order(&elders[1], "escort", "去医院复查", 3, 0)?;
    let order = order(&elders[0], "meals", "午饭少盐", 1, 3)?;
    desk::dispatch(relay, &coordinator.id, &order, &volunteers[1].id, None).map_err(step("dispatch an order"))?;
    for phone in &mut phones {
        seeder.sync(phone)?;
    }
    phones[1].engine.accept(&order).map_err(step("accept an order"))?;
    // A redemption by the volunteer old enough to redeem (71), accepted by the ledger.
    phones[2].engine.request_redemption("tcm-physiotherapy", 60).map_err(step("request a redemption"))?;
    for phone in &mut phones {
        seeder.sync(phone)?;
    }

    let password = secret::enrollment_code().map_err(step("make a password"))?.to_lowercase();
    let quiet = [
        (&putuo, "甘泉路街道为老服务站", ["赵丽华", "钱国平", "冯阿婆"], "ganquan"),
        (&changning, "新华路街道为老服务站", ["何静", "郑德明", "林老伯"], "xinhua"),
    ];
    let mut other_coordinators = Vec::new();
    let mut across = None;
    for (district, name, names, username) in quiet {
        let station = registry::create_station_in(relay, name, district.id.as_str()).map_err(step("create a station"))?;
        let coordinator = seed_quiet_station(relay, &phones_dir, &station, names, username, &password)?;
        other_coordinators.push(username.to_owned());
        across = Some((station, coordinator));
    }
    // 通存通兑: 张建国 of 普陀区 redeems an hour at 新华路 (长宁区), whose coordinator fulfils it.
    if let Some((station, coordinator)) = across {
        let phone = &mut phones[0];
        let request = phone
            .engine
            .request_redemption_at("tcm-physiotherapy", 60, &station.id)
            .map_err(step("request a redemption at another station"))?;
        seeder.sync(phone)?;
        desk::decide_redemption(relay, &coordinator.id, &request, RedemptionAction::Fulfil, None)
            .map_err(step("fulfil a redemption at another station"))?;
        seeder.sync(phone)?;
    }
    drop(phones);
    std::fs::remove_dir_all(&phones_dir).map_err(step("remove the demo phones"))?;

    registry::create_console_user(relay, "demo", &password, AccountScope::Station(station.id.as_str()), Some(coordinator.id.as_str()))
        .map_err(step("create the console account"))?;
    registry::create_console_user(relay, "district", &password, AccountScope::District(putuo.id.as_str()), None)
        .map_err(step("create the district account"))?;
    registry::create_console_user(relay, "city", &password, AccountScope::City, None).map_err(step("create the city account"))?;
    let hands_free =
        demo_presence::hands_free_share(relay, &station).map_err(step("count the visits approved without a coordinator"))?;
    Ok(DemoAccounts {
        coordinator: "demo".into(),
        other_coordinators,
        district: "district".into(),
        city: "city".into(),
        password,
        hands_free,
    })
}

#[cfg(test)]
mod tests {
    use timebank_engine::model::OutcomeStatus;

    use super::*;
    use crate::console::account;
    use crate::store::SqliteStore;

    #[test]
    fn a_visit_of_today_seeded_before_it_ends_is_placed_a_day_earlier() {
        let at = |text: &str| chrono::DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc);
        // Seeded at 00:05 UTC, "today at 01:00 for 30 minutes" has not happened yet.
        let (start, end) = past_slot(at("2026-12-05T00:05:00Z"), 0, 1, 30);
        assert_eq!((start, end), (at("2026-12-04T01:00:00Z"), at("2026-12-04T01:30:00Z")));
        // Later in the day it stays today; earlier days never move.
        assert_eq!(past_slot(at("2026-12-05T09:00:00Z"), 0, 1, 30).0, at("2026-12-05T01:00:00Z"));
        assert_eq!(past_slot(at("2026-12-05T00:05:00Z"), 3, 2, 90).0, at("2026-12-02T02:00:00Z"));
    }

    #[test]
    fn a_fresh_directory_gets_a_working_demo_station_and_a_used_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        check_empty(&data).unwrap();
        let relay = Relay::new(Arc::new(SqliteStore::open(&data).unwrap()), Arc::new(timebank_engine::SystemClock)).unwrap();
        let accounts = seed(&relay, &data).unwrap();
        let err = check_empty(&data).unwrap_err().to_string();
        assert!(err.contains("is not empty") && err.contains("nothing was changed"), "{err}");
        assert!(!data.join("demo-phones").exists(), "the demo phones are cleaned up");

        let store = relay.store();
        let stations = store.stations().unwrap();
        assert_eq!(stations.len(), 3, "a city of three stations");
        let districts = store.districts().unwrap();
        let named = |id: &timebank_engine::model::DistrictId| districts.iter().find(|d| &d.id == id).unwrap().name.clone();
        let mut placed: Vec<(String, String)> = stations.iter().map(|s| (named(&s.district), s.name.clone())).collect();
        placed.sort();
        assert_eq!(
            placed,
            [
                ("普陀区".to_owned(), "曹杨新村街道为老服务站".to_owned()),
                ("普陀区".to_owned(), "甘泉路街道为老服务站".to_owned()),
                ("长宁区".to_owned(), "新华路街道为老服务站".to_owned()),
            ]
        );
        let station = stations.into_iter().find(|s| s.name == "曹杨新村街道为老服务站").unwrap();
        let members = store.station_members(&station.id).unwrap();
        assert_eq!(members.len(), 9);
        assert!(members.iter().any(|m| m.display_name == "孙桂兰"));
        assert!(store.postings().unwrap().iter().any(|p| p.kind == "earn"));
        assert!(store.postings().unwrap().iter().any(|p| p.kind == "reserve"), "the redemption is accepted");
        let xinhua = store.stations().unwrap().into_iter().find(|s| s.name == "新华路街道为老服务站").unwrap();
        assert!(
            store.postings().unwrap().iter().any(|p| p.kind == "redeem" && p.memo.contains(&format!("at station {}", xinhua.id))),
            "a coin earned in 普陀区 is redeemed in 长宁区"
        );
        let docs = desk::StationDocs::load(&relay, &station.id).unwrap();
        let waiting = docs.visits().iter().filter(|v| docs.review(&v.id).is_none()).count();
        assert!(waiting >= 4, "visits wait for review: {waiting}");
        let anomalous = docs
            .visits()
            .iter()
            .filter(|v| docs.outcome(&v.volunteer, v.id.as_str()).is_some_and(|o| o.status == OutcomeStatus::UnderReview))
            .count();
        assert!(anomalous >= 2, "anomalies wait for review: {anomalous}");
        assert_eq!(docs.orders().len(), 3);
        assert!(crate::ledger::rebuild::rebuild_check(store).unwrap().is_empty());
        // Elders with tags, and visits the relay approved without a coordinator.
        assert_eq!(store.station_tags(&station.id).unwrap().len(), 2);
        let (hands_free, visits) = accounts.hands_free;
        assert_eq!(hands_free, 6, "five tapped at both ends and one co-signed: {hands_free} of {visits}");
        assert_eq!(visits, 20);
        let held: Vec<String> = docs
            .visits()
            .iter()
            .filter_map(|v| docs.outcome(&v.volunteer, v.id.as_str()))
            .map(|o| o.reason)
            .filter(|r| r.contains("evidence of presence failed"))
            .collect();
        assert_eq!(held.len(), 1, "the copied link waits for review: {held:?}");
        for username in [&accounts.coordinator, &accounts.district, &accounts.city].into_iter().chain(&accounts.other_coordinators) {
            let user = account::sign_in(store, username, &accounts.password, relay.now_ms()).unwrap();
            assert!(matches!(user, account::SignIn::Welcome(_)), "{username}");
        }
        assert_eq!(store.console_user(&accounts.city).unwrap().unwrap().role, crate::store::ConsoleRole::City);
    }
}
