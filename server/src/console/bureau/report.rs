//! A bureau report's figures (ADR 43) for a scope and a period: per part (a city's
//! districts, a district's stations) and in total, the volunteers active, new volunteers,
//! elders served, visits, hours, coins issued, redeemed, donated and outstanding (ADR 18's
//! meanings, over a set of stations and a month or a year) and the coins redeemed across
//! districts (ADR 41's, over the period); and by service, the visits, hours and coins
//! redeemed. Written as the two [`Table`]s the page, the CSV and the XLSX share.

use std::collections::{BTreeMap, HashMap};

use timebank_engine::model::{DistrictId, Role, Service, StationId};

use crate::console::Lang;
use crate::console::bureau::scope::{Period, Scope};
use crate::console::bureau::table::{Cell, Column, Row, Table};
use crate::console::reports::districts::Place;
use crate::console::reports::figures::{Figures, Placement, counted_in, covered_account, figures_of};
use crate::console::visits::log::VisitRecord;
use crate::ledger::posting::PostingKind;
use crate::store::{MemberRecord, Millis, PostingRecord, StationRecord};

/// What every report is computed from, read once per request.
#[derive(Debug)]
pub struct Sources {
    /// The visit logs of the scope's stations.
    pub records: Vec<VisitRecord>,
    /// The services the scope's stations name, first named first.
    pub catalogue: Vec<Service>,
    /// Every member of the scope's stations, and those who left them.
    pub members: Vec<MemberRecord>,
    /// Where each member belonged when (ADR 42).
    pub placement: Placement,
    /// Every station's district.
    pub district_of: HashMap<StationId, DistrictId>,
    /// The whole ledger.
    pub postings: Vec<PostingRecord>,
    /// Where each visit and request happened (the arrival log).
    pub places: HashMap<String, Place>,
}

/// The figures of one part, or of the whole scope.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// ADR 18's figures over the part's stations and the period.
    pub figures: Figures,
    /// Volunteers of its stations registered in the period.
    pub new_volunteers: usize,
    /// Coins redeemed at its stations by members of another district.
    pub redeemed_in: i64,
    /// Coins its members redeemed at stations of another district.
    pub redeemed_out: i64,
}

/// One service's figures over the whole scope.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceTotals {
    /// Counted visits of the service.
    pub visits: usize,
    /// Their logged minutes.
    pub minutes: i64,
    /// Coins (minutes) of the scope's members redeemed for it.
    pub redeemed: i64,
}

/// A report: its scope, period, parts and totals, and the figures by service.
#[derive(Clone, Debug)]
pub struct BureauReport {
    /// The scope's id (`s-…`, `q-…`, `city`).
    pub scope: String,
    /// The scope's name.
    pub name: String,
    /// The period.
    pub period: Period,
    /// Each part: its id, name and figures (none for a station).
    pub parts: Vec<(String, String, Totals)>,
    /// The whole scope's figures.
    pub total: Totals,
    /// By service id, in the catalogue's order (services no station names last).
    pub services: Vec<(String, ServiceTotals)>,
    /// The services' names.
    catalogue: Vec<Service>,
}

/// The report of `scope` for `period`, named in `lang`.
pub fn report(scope: &Scope, period: Period, sources: &Sources, lang: Lang) -> BureauReport {
    let range = period.range();
    let stations: Vec<StationId> = scope.stations().into_iter().map(|s: StationRecord| s.id).collect();
    let parts = scope
        .parts()
        .into_iter()
        .map(|(id, name, covered)| {
            let totals = totals(&|s| covered.contains(s), range, sources);
            (id, name, totals)
        })
        .collect();
    let covers = |s: &StationId| stations.contains(s);
    BureauReport {
        scope: scope.id(),
        name: scope.name(lang),
        period,
        parts,
        total: totals(&covers, range, sources),
        services: by_service(&covers, range, sources),
        catalogue: sources.catalogue.clone(),
    }
}

/// The figures of the stations `covers` holds over `range`.
fn totals(covers: &dyn Fn(&StationId) -> bool, range: (Millis, Millis), sources: &Sources) -> Totals {
    let (start, end) = range;
    let new_volunteers = sources
        .members
        .iter()
        .filter(|m| m.role == Role::Volunteer && (start..end).contains(&m.created_at))
        .filter(|m| sources.placement.station_at(&m.id, m.created_at).is_some_and(covers))
        .count();
    let (mut redeemed_in, mut redeemed_out) = (0, 0);
    for p in redemptions(range, &sources.postings) {
        let Some(Place::Request { from, at, .. }) = sources.places.get(&p.subject) else { continue };
        if sources.district_of.get(from) != sources.district_of.get(at) {
            if covers(at) {
                redeemed_in += p.minutes;
            }
            if covers(from) {
                redeemed_out += p.minutes;
            }
        }
    }
    Totals {
        figures: figures_of(covers, range, &sources.records, &sources.postings, &sources.placement),
        new_volunteers,
        redeemed_in,
        redeemed_out,
    }
}

/// The redemptions fulfilled (redeem postings) in `range`.
fn redemptions(range: (Millis, Millis), postings: &[PostingRecord]) -> impl Iterator<Item = &PostingRecord> {
    postings.iter().filter(move |p| (range.0..range.1).contains(&p.at) && PostingKind::parse(&p.kind) == Some(PostingKind::Redeem))
}

/// Visits, hours and coins redeemed per service, over the stations `covers` holds.
fn by_service(covers: &dyn Fn(&StationId) -> bool, range: (Millis, Millis), sources: &Sources) -> Vec<(String, ServiceTotals)> {
    let mut services: BTreeMap<String, ServiceTotals> = BTreeMap::new();
    for record in counted_in(covers, range, &sources.records, &sources.placement) {
        let service = services.entry(record.visit.service.clone()).or_default();
        service.visits += 1;
        service.minutes += record.minutes();
    }
    for p in redemptions(range, &sources.postings).filter(|p| covered_account(covers, &p.debit, p.at, &sources.placement)) {
        let service = match sources.places.get(&p.subject) {
            Some(Place::Request { service: Some(service), .. }) => service.clone(),
            _ => String::new(),
        };
        services.entry(service).or_default().redeemed += p.minutes;
    }
    let position = |id: &str| sources.catalogue.iter().position(|s| s.id == id).unwrap_or(usize::MAX);
    let mut services: Vec<(String, ServiceTotals)> = services.into_iter().collect();
    services.sort_by_key(|(id, _)| position(id));
    services
}

/// The summary table's columns.
pub const SUMMARY: &[Column] = &[
    Column { key: "id", zh: "编号", en: "Id" },
    Column { key: "name", zh: "名称", en: "Name" },
    Column { key: "period", zh: "期间", en: "Period" },
    Column { key: "volunteers_active", zh: "活跃志愿者", en: "Volunteers active" },
    Column { key: "new_volunteers", zh: "新增志愿者", en: "New volunteers" },
    Column { key: "elders_served", zh: "服务老人", en: "Elders served" },
    Column { key: "visits", zh: "服务次数", en: "Visits" },
    Column { key: "hours", zh: "服务小时", en: "Hours" },
    Column { key: "coins_issued", zh: "发放时间币", en: "Coins issued" },
    Column { key: "coins_redeemed", zh: "兑换时间币", en: "Coins redeemed" },
    Column { key: "coins_donated", zh: "捐赠时间币", en: "Coins donated" },
    Column { key: "coins_outstanding", zh: "期末流通", en: "Outstanding at the end" },
    Column { key: "redeemed_in", zh: "跨区兑入", en: "Redeemed in from other districts" },
    Column { key: "redeemed_out", zh: "跨区兑出", en: "Redeemed out in other districts" },
];

/// The by-service table's columns.
pub const SERVICES: &[Column] = &[
    Column { key: "service", zh: "服务编号", en: "Service id" },
    Column { key: "service_name", zh: "服务类型", en: "Service" },
    Column { key: "period", zh: "期间", en: "Period" },
    Column { key: "visits", zh: "服务次数", en: "Visits" },
    Column { key: "hours", zh: "服务小时", en: "Hours" },
    Column { key: "coins_redeemed", zh: "兑换时间币", en: "Coins redeemed" },
];

impl BureauReport {
    /// The summary: a row per part, then the whole scope's (`合计` when it has parts).
    pub fn summary(&self, lang: Lang) -> Table {
        let period = self.period.to_string();
        let row = |id: &str, name: String, t: &Totals| {
            let f = &t.figures;
            Row {
                key: id.to_owned(),
                cells: vec![
                    Cell::Text(id.to_owned()),
                    Cell::Text(name),
                    Cell::Text(period.clone()),
                    Cell::Count(f.volunteers_active),
                    Cell::Count(t.new_volunteers),
                    Cell::Count(f.elders_served),
                    Cell::Count(f.visits),
                    Cell::Hours(f.minutes),
                    Cell::Coins(f.issued),
                    Cell::Coins(f.redeemed),
                    Cell::Coins(f.donated),
                    Cell::Coins(f.outstanding),
                    Cell::Coins(t.redeemed_in),
                    Cell::Coins(t.redeemed_out),
                ],
            }
        };
        let mut rows: Vec<Row> = self.parts.iter().map(|(id, name, t)| row(id, name.clone(), t)).collect();
        let total_name =
            if self.parts.is_empty() { self.name.clone() } else { format!("{} {}", self.name, lang.pick("合计", "total")) };
        rows.push(row(&self.scope, total_name, &self.total));
        Table { key: "summary", zh: "汇总", en: "Summary", columns: SUMMARY, rows }
    }

    /// By service: a row per service with visits or redemptions, then the total.
    pub fn by_service(&self, lang: Lang) -> Table {
        let period = self.period.to_string();
        let row = |key: &str, id: &str, name: String, s: &ServiceTotals| Row {
            key: key.to_owned(),
            cells: vec![
                Cell::Text(id.to_owned()),
                Cell::Text(name),
                Cell::Text(period.clone()),
                Cell::Count(s.visits),
                Cell::Hours(s.minutes),
                Cell::Coins(s.redeemed),
            ],
        };
        let mut rows: Vec<Row> = self.services.iter().map(|(id, s)| row(id, id, self.service_name(id, lang), s)).collect();
        let total = self.services.iter().fold(ServiceTotals::default(), |sum, (_, s)| ServiceTotals {
            visits: sum.visits + s.visits,
            minutes: sum.minutes + s.minutes,
            redeemed: sum.redeemed + s.redeemed,
        });
        rows.push(row("total", "", lang.pick("合计", "Total").to_owned(), &total));
        Table { key: "services", zh: "按服务类型", en: "By service", columns: SERVICES, rows }
    }

    /// A service's name in `lang`: the catalogue's, its id when no station names it.
    fn service_name(&self, id: &str, lang: Lang) -> String {
        match self.catalogue.iter().find(|s| s.id == id) {
            Some(service) => lang.pick(&service.name_zh, &service.name_en).clone(),
            None if id.is_empty() => lang.pick("其他", "Other").to_owned(),
            None => id.to_owned(),
        }
    }
}
