//! What the ids a coordinator meets stand for, in people's words: members by name, a visit
//! as "volunteer → elder, time", an order as "elder · service", a request, a device as
//! whose phone it is, an account of the ledger, a posting as a sentence (never the stored
//! English memo). Built from the documents of the stations a reader may see
//! ([`Directory::add_station`]); an id it does not know is shown as "unknown" with the id
//! in its title, never bare.

use std::collections::HashMap;

use maud::{Markup, html};
use timebank_engine::DocId;
use timebank_engine::documents::desk::{self as desk_doc, Correction};
use timebank_engine::model::{MemberId, Order, RequestKind, Service, SpendRequest, StationId, Visit};

use crate::console::i18n::coins;
use crate::console::review::not_here;
use crate::console::{Lang, PageError, Signed, words};
use crate::desk::StationDocs;
use crate::ledger::Account;
use crate::ledger::posting::PostingKind;
use crate::relay::Relay;
use crate::store::{DeviceRecord, MemberRecord, PostingRecord, StationRecord};

/// The ids of some stations and what they stand for.
#[derive(Debug, Default)]
pub struct Directory {
    stations: HashMap<StationId, String>,
    members: HashMap<MemberId, MemberRecord>,
    visits: HashMap<String, Visit>,
    orders: HashMap<String, Order>,
    requests: HashMap<String, (MemberId, SpendRequest)>,
    corrections: HashMap<String, Correction>,
    devices: HashMap<String, DeviceRecord>,
    services: HashMap<String, Service>,
}

impl Directory {
    /// The directory of the stations `signed` may see (`requested`: the district's
    /// `?station=`), with the devices and the corrections the ledger names.
    pub fn load(relay: &Relay, signed: &Signed, requested: Option<&str>) -> Result<Directory, PageError> {
        let postings = relay.store().postings()?;
        let mut directory = Directory::default();
        for station in signed.visible_stations(relay, requested)? {
            let docs = StationDocs::load(relay, &station.id).map_err(|e| not_here(signed.lang, e))?;
            directory.add_station(&station, &docs, &postings);
        }
        directory.add_devices(relay.store().devices()?);
        Ok(directory)
    }

    /// Adds a station: its members, visits, orders, requests, catalogue, and the
    /// corrections that `postings` name.
    pub fn add_station(&mut self, station: &StationRecord, docs: &StationDocs, postings: &[PostingRecord]) {
        self.stations.insert(station.id.clone(), station.name.clone());
        self.members.extend(docs.members.iter().map(|m| (m.id.clone(), m.clone())));
        self.visits.extend(docs.visits().into_iter().map(|v| (v.id.to_string(), v)));
        self.orders.extend(docs.orders().into_iter().map(|(o, _)| (o.id.to_string(), o)));
        self.requests.extend(docs.requests().into_iter().map(|(m, r)| (r.id.to_string(), (m, r))));
        for service in docs.catalogue() {
            self.services.entry(service.id.clone()).or_insert(service);
        }
        if let Some(desk) = docs.get(&DocId::Desk(station.id.clone())) {
            for p in postings.iter().filter(|p| p.kind == PostingKind::Correction.as_str()) {
                if let Some(c) = desk_doc::correction(desk, &p.subject) {
                    self.corrections.insert(p.subject.clone(), c);
                }
            }
        }
    }

    /// Adds the enrolled devices (whose phone each is).
    pub fn add_devices(&mut self, devices: impl IntoIterator<Item = DeviceRecord>) {
        self.devices.extend(devices.into_iter().map(|d| (d.id.clone(), d)));
    }

    /// The member `id`, if known.
    pub fn member(&self, id: &str) -> Option<&MemberRecord> {
        MemberId::parse(id).ok().and_then(|id| self.members.get(&id))
    }

    /// The name of member `id`, or "unknown member".
    pub fn name(&self, lang: Lang, id: &str) -> String {
        self.member(id).map_or_else(|| lang.pick("（未知成员）", "(unknown member)").to_owned(), |m| m.display_name.clone())
    }

    /// The name of station `id`, or "unknown station".
    pub fn station_name(&self, lang: Lang, id: &StationId) -> String {
        self.stations.get(id).cloned().unwrap_or_else(|| lang.pick("（未知服务站）", "(unknown station)").to_owned())
    }

    /// A service's name in `lang` (as the catalogue names it), or "other service".
    pub fn service(&self, lang: Lang, id: &str) -> String {
        self.services
            .get(id)
            .map_or_else(|| lang.pick("其他服务", "another service").to_owned(), |s| lang.pick(&s.name_zh, &s.name_en).clone())
    }

    /// The visit `id` in words: "李伟 → 王芳 · 2026-11-28 14:00".
    pub fn visit(&self, lang: Lang, id: &str) -> String {
        match self.visits.get(id) {
            Some(v) => format!(
                "{} → {} · {}",
                self.name(lang, v.volunteer.as_str()),
                self.name(lang, v.elder.as_str()),
                lang.datetime(v.check_in.timestamp_millis())
            ),
            None => lang.pick("（未知记录）", "(unknown visit)").to_owned(),
        }
    }

    /// The order `id` in words: "王芳 · 陪伴聊天".
    pub fn order(&self, lang: Lang, id: &str) -> String {
        match self.orders.get(id) {
            Some(o) => format!("{} · {}", self.name(lang, o.elder.as_str()), self.service(lang, &o.service)),
            None => lang.pick("（未知订单）", "(unknown order)").to_owned(),
        }
    }

    /// The request `id` in words: "李伟 · 兑换 中医理疗 · 1 币".
    pub fn request(&self, lang: Lang, id: &str) -> String {
        match self.requests.get(id) {
            Some((member, r)) => format!(
                "{} · {} · {} {}",
                self.name(lang, member.as_str()),
                self.request_what(lang, r),
                coins(i64::from(r.minutes)),
                lang.pick("币", "coins")
            ),
            None => lang.pick("（未知申请）", "(unknown request)").to_owned(),
        }
    }

    fn request_what(&self, lang: Lang, r: &SpendRequest) -> String {
        match &r.kind {
            RequestKind::Redeem { service, .. } => format!("{}{}", lang.pick("兑换 ", "redeem "), self.service(lang, service)),
            RequestKind::Gift { to } => format!("{}{}", lang.pick("转赠给 ", "gift to "), self.name(lang, to.as_str())),
        }
    }

    /// The device `id` in words: "张建国的手机".
    pub fn device(&self, lang: Lang, id: &str) -> String {
        match self.devices.get(id) {
            Some(d) => match lang {
                Lang::Zh => format!("{}的手机", self.name(lang, d.member.as_str())),
                Lang::En => format!("{}'s phone", self.name(lang, d.member.as_str())),
            },
            None => lang.pick("（未知设备）", "(unknown device)").to_owned(),
        }
    }

    /// An account of the ledger in words: a member's coins, their held coins, the
    /// station's pool, the program.
    pub fn account(&self, lang: Lang, raw: &str) -> String {
        match Account::parse(raw) {
            Some(Account::Program) => lang.pick("时间银行", "the time bank").to_owned(),
            Some(Account::Member(m)) => self.name(lang, m.as_str()),
            Some(Account::Held(m)) => format!("{}{}", self.name(lang, m.as_str()), lang.pick("（冻结）", " (held)")),
            Some(Account::Pool(s)) => format!("{}{}", self.station_name(lang, &s), lang.pick("捐赠池", " donation pool")),
            None => lang.pick("（未知账户）", "(unknown account)").to_owned(),
        }
    }

    /// A posting as a sentence, from its kind, subject, minutes and people (the memo the
    /// ledger stored is English and names ids; only a coordinator's reason is kept).
    pub fn posting(&self, lang: Lang, p: &PostingRecord) -> String {
        let visit = |id: &str| self.visit(lang, id);
        let reason = || words::ledger_reason_words(lang, &p.memo, &visit);
        match PostingKind::parse(&p.kind) {
            Some(PostingKind::Earn) => match self.visits.get(&p.subject) {
                Some(v) => match lang {
                    Lang::Zh => format!(
                        "为 {} 服务（{}）：记录 {}，入账 {} 币",
                        self.name(lang, v.elder.as_str()),
                        lang.date(v.check_in.timestamp_millis()),
                        lang.duration(v.minutes().map_or(0, i64::from)),
                        coins(p.minutes)
                    ),
                    Lang::En => format!(
                        "visit to {} on {}: {} logged, {} coins credited",
                        self.name(lang, v.elder.as_str()),
                        lang.date(v.check_in.timestamp_millis()),
                        lang.duration(v.minutes().map_or(0, i64::from)),
                        coins(p.minutes)
                    ),
                },
                None => lang.pick("服务所得", "earned for a visit").to_owned(),
            },
            Some(PostingKind::Overflow) => {
                let over = words::LedgerReason::OverCap { minutes: p.minutes, lifetime: p.memo.contains("lifetime") };
                format!("{}（{}）", words::ledger_reason_text(lang, &over, &visit), self.visit(lang, &p.subject))
            }
            Some(PostingKind::Reversal) => {
                // A coordinator's reversal says its reason once, after the visit.
                let why: Vec<String> = words::ledger_reasons(&p.memo)
                    .iter()
                    .map(|part| match part {
                        words::LedgerReason::Reversed { reason, .. } => format!("{}{reason}", lang.pick("原因：", "reason: ")),
                        other => words::ledger_reason_text(lang, other, &visit),
                    })
                    .collect();
                format!(
                    "{}{} · {}",
                    lang.pick("撤销批准：", "approval reversed: "),
                    self.visit(lang, &p.subject),
                    why.join(lang.pick("；", "; "))
                )
            }
            Some(PostingKind::Correction) => match self.corrections.get(&p.subject) {
                Some(c) => {
                    let short = c.minutes.abs() - p.minutes;
                    let mut text = format!("{}{}", lang.pick("更正原因：", "reason: "), c.reason);
                    if c.minutes < 0 && short > 0 {
                        let missing = words::LedgerReason::NotTakenBack { minutes: short };
                        text.push_str(lang.pick("；", "; "));
                        text.push_str(&words::ledger_reason_text(lang, &missing, &visit));
                    }
                    text
                }
                None => reason(),
            },
            Some(PostingKind::Reserve) => format!("{}{}", lang.pick("为兑换冻结：", "held for "), self.request(lang, &p.subject)),
            Some(PostingKind::Redeem) => {
                format!("{}{}", lang.pick("服务已提供，兑换完成：", "service given: "), self.request(lang, &p.subject))
            }
            Some(PostingKind::Release) => {
                format!("{}{}", lang.pick("未提供服务，冻结的币已退回：", "not given, coins back: "), self.request(lang, &p.subject))
            }
            Some(PostingKind::Gift) => format!("{} → {}", self.account(lang, &p.debit), self.account(lang, &p.credit)),
            Some(PostingKind::Donation) => {
                format!("{}{}", self.account(lang, &p.debit), lang.pick(" 捐给服务站捐赠池", " gave to the station's donation pool"))
            }
            None => lang.pick("其他记账", "another posting").to_owned(),
        }
    }
}

/// A member's name linked to their page `page` (`members` or `ledger`), their id in its
/// title (a tooltip) for the few who need it.
pub fn member_link(page: &str, member: &MemberRecord) -> Markup {
    html! { a.name href={ "/console/" (page) "/" (member.id) } title=(member.id) { (member.display_name) } }
}

/// A person's name with their id in its title (a tooltip) for the few who need it.
pub fn person(name: &str, id: &str) -> Markup {
    html! { span.person title=(id) { (name) } }
}

/// An id on a small detail line of its own (class `id`, not to be translated), for the
/// rare reader who needs it.
pub fn id_line(id: &str) -> Markup {
    html! { small.id translate="no" { (id) } }
}
