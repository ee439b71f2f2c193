//! The merged visit log pages: every visit of the station by volunteer, elder, day or
//! month, with words to search; one visit with its device, arrival time and history
//! (each version that arrived, each review, each posting); and the month's log as CSV.

pub mod log;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::NaiveDate;
use maud::{Markup, html};
use serde::Deserialize;
use timebank_engine::model::{MemberId, OutcomeStatus, ReviewDecision, Role, VisitSource};

use crate::console::i18n::coins;
use crate::console::reports::figures::{csv_field, two_decimals};
use crate::console::review::{district_stations, station_choice, station_logs};
use crate::console::{Lang, PageError, Signed, blocking, layout};
use crate::relay::Relay;
use crate::store::{MemberRecord, PostingRecord};
use log::{Arrivals, Month, ReviewArrival, VisitArrival, VisitFilter, VisitRecord};

/// The visits routes (relative to `/console`).
pub fn routes() -> Router<Arc<Relay>> {
    Router::new()
        .route("/visits", get(visits_page))
        .route("/visits.csv", get(visits_csv))
        .route("/visits/{visit}", get(visit_page))
}

/// The filters of `/console/visits` (every one optional; empty means no filter).
#[derive(Debug, Default, Deserialize)]
struct VisitsQuery {
    volunteer: Option<String>,
    elder: Option<String>,
    day: Option<String>,
    month: Option<String>,
    q: Option<String>,
    station: Option<String>,
}

fn given(raw: Option<&String>) -> Option<&str> {
    raw.map(|s| s.trim()).filter(|s| !s.is_empty())
}

impl VisitsQuery {
    /// The filter, or 400 with what is wrong.
    fn filter(&self, lang: Lang) -> Result<VisitFilter, PageError> {
        let member = |raw: Option<&String>| {
            given(raw)
                .map(|r| MemberId::parse(r).map_err(|_| PageError::bad_request(lang.pick("成员编号无效。", "That member id is not valid."))))
                .transpose()
        };
        let day = given(self.day.as_ref())
            .map(|d| {
                NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
                    PageError::bad_request(lang.pick("日期格式应为 YYYY-MM-DD。", "Give the day as YYYY-MM-DD."))
                })
            })
            .transpose()?;
        let month = given(self.month.as_ref()).map(|m| parse_month(lang, m)).transpose()?;
        Ok(VisitFilter {
            volunteer: member(self.volunteer.as_ref())?,
            elder: member(self.elder.as_ref())?,
            day,
            month,
            q: self.q.clone().unwrap_or_default(),
        })
    }
}

/// `YYYY-MM`, or 400 saying how to write it.
pub(crate) fn parse_month(lang: Lang, raw: &str) -> Result<Month, PageError> {
    Month::parse(raw).ok_or_else(|| PageError::bad_request(lang.pick("月份格式应为 YYYY-MM，例如 2026-11。", "Give the month as YYYY-MM, e.g. 2026-11.")))
}

fn status_label(lang: Lang, record: &VisitRecord) -> String {
    let zh = match (record.visit.is_open(), record.outcome_status()) {
        (true, _) => "进行中",
        (false, None) => "待审核",
        (false, Some(OutcomeStatus::Approved)) => "已批准",
        (false, Some(OutcomeStatus::Rejected)) => "已驳回",
        (false, Some(OutcomeStatus::UnderReview)) => "审核中（有异常）",
        (false, Some(_)) => record.status(),
    };
    lang.pick(zh, record.status()).to_owned()
}

async fn visits_page(signed: Signed, State(relay): State<Arc<Relay>>, Query(query): Query<VisitsQuery>) -> Result<Markup, PageError> {
    let lang = signed.lang;
    let filter = query.filter(lang)?;
    let (logs, members, stations) = {
        let signed = signed.clone();
        let station = query.station.clone();
        blocking(move || {
            let arrivals = Arrivals::read(relay.store())?;
            let logs = station_logs(&relay, &signed, station.as_deref(), &arrivals)?;
            let members: Vec<MemberRecord> = logs.iter().flat_map(|(_, docs, _)| docs.members.clone()).collect();
            let logs: Vec<(String, VisitRecord)> =
                logs.into_iter().flat_map(|(station, _, log)| log.into_iter().map(move |r| (station.name.clone(), r))).collect();
            Ok((logs, members, district_stations(&relay, &signed)?))
        })
        .await?
    };
    let shown: Vec<&(String, VisitRecord)> = logs.iter().rev().filter(|(_, r)| filter.matches(r)).collect();
    let by_station = !stations.is_empty();
    let pick = |role: Role| members.iter().filter(move |m| m.role == role);
    let selected = |id: &Option<MemberId>, m: &MemberRecord| id.as_ref() == Some(&m.id);
    let body = html! {
        form.grid method="get" action="/console/visits" {
            (station_choice(lang, &stations, given(query.station.as_ref())))
            label { (lang.pick("志愿者", "Volunteer"))
                select name="volunteer" {
                    option value="" { (lang.pick("全部", "All")) }
                    @for m in pick(Role::Volunteer) { option value=(m.id) selected[selected(&filter.volunteer, m)] { (m.display_name) } }
                }
            }
            label { (lang.pick("老人", "Elder"))
                select name="elder" {
                    option value="" { (lang.pick("全部", "All")) }
                    @for m in pick(Role::Elder) { option value=(m.id) selected[selected(&filter.elder, m)] { (m.display_name) } }
                }
            }
            label { (lang.pick("日期", "Day")) input type="date" name="day" value=[filter.day.map(|d| d.to_string())]; }
            label { (lang.pick("月份", "Month")) input type="month" name="month" value=[filter.month.map(|m| m.to_string())]; }
            label { (lang.pick("搜索", "Search")) input type="search" name="q" value=(filter.q) placeholder=(lang.pick("姓名、编号、备注", "name, id, note")); }
            div { button.primary type="submit" { (lang.pick("筛选", "Filter")) } " " a href="/console/visits" { (lang.pick("清除", "Clear")) } }
        }
        p.hint data-testid="visit-count" { (shown.len()) " " (lang.pick("条记录", "visits")) }
        table.data {
            thead { tr {
                th { (lang.pick("开始", "Start")) } @if by_station { th { (lang.pick("服务站", "Station")) } } th { (lang.pick("志愿者", "Volunteer")) } th { (lang.pick("老人", "Elder")) }
                th { (lang.pick("服务", "Service")) } th.num { (lang.pick("时长", "Length")) } th { (lang.pick("状态", "Status")) }
                th { (lang.pick("设备", "Device")) } th { (lang.pick("到达服务器", "Reached the relay")) } th { (lang.pick("备注", "Note")) }
            } }
            tbody {
                @for (station, r) in &shown {
                    tr data-visit=(r.visit.id) {
                        td { a href=(format!("/console/visits/{}", r.visit.id)) { (lang.datetime(r.visit.check_in.timestamp_millis())) } }
                        @if by_station { td { (station) } }
                        td { (r.volunteer_name) } td { (r.elder_name) } td { (r.service_label(lang)) }
                        td.num { (lang.duration(r.minutes())) }
                        td { span.badge { (status_label(lang, r)) } }
                        td { code { (r.device.as_deref().unwrap_or("?")) } }
                        td { (r.arrived_at.map(|a| lang.datetime(a)).unwrap_or_default()) }
                        td { (r.visit.note) }
                    }
                }
            }
        }
    };
    Ok(layout::page(&signed, lang.pick("服务记录", "Visits"), body))
}

/// One visit with its history.
struct VisitDetail {
    record: VisitRecord,
    versions: Vec<VisitArrival>,
    reviews: Vec<ReviewArrival>,
    postings: Vec<PostingRecord>,
    devices: std::collections::HashMap<String, String>,
}

async fn visit_page(signed: Signed, State(relay): State<Arc<Relay>>, Path(visit): Path<String>) -> Result<Markup, PageError> {
    let lang = signed.lang;
    let detail = {
        let signed = signed.clone();
        blocking(move || {
            let arrivals = Arrivals::read(relay.store())?;
            let logs = station_logs(&relay, &signed, None, &arrivals)?;
            let record = logs
                .into_iter()
                .flat_map(|(_, _, log)| log)
                .find(|r| r.visit.id.as_str() == visit)
                .ok_or_else(|| PageError::not_at_station(lang))?;
            let postings = relay.store().postings()?.into_iter().filter(|p| p.subject == visit).collect();
            Ok(VisitDetail {
                versions: arrivals.of_visit(&visit).to_vec(),
                reviews: arrivals.reviews_of(&visit).to_vec(),
                devices: log::devices_by_actor(&relay.store().devices()?),
                postings,
                record,
            })
        })
        .await?
    };
    let r = &detail.record;
    let v = &r.visit;
    let device_of = |actor: &str| detail.devices.get(actor).cloned().unwrap_or_else(|| actor.chars().take(12).collect());
    let body = html! {
        dl.facts data-visit=(v.id) {
            dt { (lang.pick("记录编号", "Visit")) } dd { code { (v.id) } }
            dt { (lang.pick("志愿者", "Volunteer")) } dd { (r.volunteer_name) " " code { (v.volunteer) } }
            dt { (lang.pick("老人", "Elder")) } dd { (r.elder_name) " " code { (v.elder) } }
            dt { (lang.pick("服务", "Service")) } dd { (r.service_label(lang)) @if let Some(order) = &v.order { " · " (lang.pick("订单 ", "order ")) code { (order) } } }
            dt { (lang.pick("签到 – 签退", "Check-in – check-out")) }
            dd { (lang.datetime(v.check_in.timestamp_millis())) " – " (v.check_out.map(|t| lang.datetime(t.timestamp_millis())).unwrap_or_else(|| lang.pick("进行中", "open").to_owned())) }
            dt { (lang.pick("时长", "Length")) } dd { (lang.duration(r.minutes())) }
            dt { (lang.pick("来源", "Source")) }
            dd { (match v.source { VisitSource::Live => lang.pick("手机签到签退", "checked in and out on the phone"), VisitSource::Paper => lang.pick("纸质记录补录", "entered from a paper record") }) }
            dt { (lang.pick("设备", "Device")) } dd data-testid="device" { code { (r.device.as_deref().unwrap_or("?")) } }
            dt { (lang.pick("手机录入时间", "Entered on the phone")) } dd { (lang.datetime(v.recorded_at.timestamp_millis())) }
            dt { (lang.pick("到达服务器", "Reached the relay")) } dd data-testid="arrived" { (r.arrived_at.map(|a| lang.datetime(a)).unwrap_or_else(|| "—".into())) }
            dt { (lang.pick("老人确认", "Elder's confirmation")) }
            dd { @match &v.confirmation { Some(c) => { (c.by.as_str()) " " (lang.datetime(c.at.timestamp_millis())) }, None => { "—" } } }
            dt { (lang.pick("状态", "Status")) }
            dd { span.badge { (status_label(lang, r)) } @if let Some(o) = r.outcome.as_ref().filter(|o| !o.reason.is_empty()) { " " (o.reason) } }
            dt { (lang.pick("备注", "Note")) } dd data-testid="note" { (v.note) }
        }
        h2 { (lang.pick("历史", "History")) }
        table.data data-testid="history" {
            thead { tr { th { (lang.pick("时间", "When")) } th { (lang.pick("事件", "What")) } } }
            tbody {
                @for (i, a) in detail.versions.iter().enumerate() {
                    tr {
                        td { (lang.datetime(a.received_at)) }
                        td {
                            @if i == 0 { (lang.pick("记录到达服务器", "The visit reached the relay")) } @else { (lang.pick("记录被修改", "The visit was edited")) }
                            " · " (lang.pick("设备 ", "device ")) code { (device_of(&a.event.device)) }
                            " · " (lang.datetime(a.event.check_in)) " – " (lang.datetime(a.event.check_out))
                        }
                    }
                }
                @for a in &detail.reviews {
                    tr {
                        td { (lang.datetime(a.received_at)) }
                        td { (lang.pick("审核：", "Review: ")) strong { (decision_label(lang, a.event.decision)) } " · " code { (a.event.by) } @if !a.event.reason.is_empty() { " · " (a.event.reason) } }
                    }
                }
                @for p in &detail.postings {
                    tr {
                        td { (lang.datetime(p.at)) }
                        td { (lang.pick("记账：", "Posting: ")) (p.kind) " " (coins(p.minutes)) " " (lang.pick("币", "coins")) " · " (p.debit) " → " (p.credit) @if !p.memo.is_empty() { " · " (p.memo) } }
                    }
                }
            }
        }
        p { a href="/console/visits" { (lang.pick("← 返回记录列表", "← Back to the visits")) } }
    };
    Ok(layout::page(&signed, lang.pick("服务记录详情", "Visit"), body))
}

fn decision_label(lang: Lang, decision: ReviewDecision) -> &'static str {
    match decision {
        ReviewDecision::Approve => lang.pick("批准", "approve"),
        ReviewDecision::Reject => lang.pick("驳回", "reject"),
        ReviewDecision::Flag => lang.pick("标记", "flag"),
    }
}

/// The header of `/console/visits.csv`.
pub const VISITS_CSV_HEADER: &str = "visit,station,volunteer,volunteer_name,elder,elder_name,service,check_in,check_out,minutes,hours,status,device,arrived_at,note";

#[derive(Debug, Deserialize)]
struct MonthQuery {
    month: Option<String>,
    station: Option<String>,
}

async fn visits_csv(signed: Signed, State(relay): State<Arc<Relay>>, Query(query): Query<MonthQuery>) -> Result<Response, PageError> {
    let lang = signed.lang;
    let month = match given(query.month.as_ref()) {
        Some(raw) => parse_month(lang, raw)?,
        None => Month::of(relay.now_ms()),
    };
    let csv = blocking(move || {
        let arrivals = Arrivals::read(relay.store())?;
        let logs = station_logs(&relay, &signed, query.station.as_deref(), &arrivals)?;
        let mut out = format!("{VISITS_CSV_HEADER}\n");
        for (station, _, log) in &logs {
            for r in log.iter().filter(|r| month.contains(r.visit.check_in.timestamp_millis())) {
                out.push_str(&visit_row(station.id.as_str(), r));
                out.push('\n');
            }
        }
        Ok(out)
    })
    .await?;
    Ok(csv_response(&format!("visits-{month}.csv"), csv, true))
}

fn visit_row(station: &str, r: &VisitRecord) -> String {
    let v = &r.visit;
    let time = |ms: i64| lang_free_time(ms);
    [
        v.id.to_string(),
        station.to_owned(),
        v.volunteer.to_string(),
        r.volunteer_name.clone(),
        v.elder.to_string(),
        r.elder_name.clone(),
        v.service.clone(),
        time(v.check_in.timestamp_millis()),
        v.check_out.map(|t| time(t.timestamp_millis())).unwrap_or_default(),
        r.minutes().to_string(),
        two_decimals(r.minutes()),
        r.status().to_owned(),
        r.device.clone().unwrap_or_default(),
        r.arrived_at.map(time).unwrap_or_default(),
        v.note.clone(),
    ]
    .iter()
    .map(|f| csv_field(f))
    .collect::<Vec<_>>()
    .join(",")
}

/// A time in a CSV: ISO 8601 in the stations' offset, `2026-11-03T10:00:00+08:00`.
fn lang_free_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .and_then(|t| chrono::FixedOffset::east_opt(crate::console::i18n::DISPLAY_OFFSET_SECONDS).map(|o| t.with_timezone(&o)))
        .map_or_else(|| ms.to_string(), |t| t.format("%Y-%m-%dT%H:%M:%S%:z").to_string())
}

/// A CSV download. `bom`: start with a UTF-8 byte-order mark, so spreadsheets read
/// Chinese names (the visit log); the figures, ids and numbers only, go without.
pub(crate) fn csv_response(filename: &str, csv: String, bom: bool) -> Response {
    (
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")),
        ],
        if bom { format!("\u{feff}{csv}") } else { csv },
    )
        .into_response()
}
