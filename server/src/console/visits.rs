//! The merged visit log pages: every visit of the station by volunteer, elder, day or
//! month, with words to search, a page at a time; one visit with its device, arrival time
//! and history (each version that arrived, each review and reversal, each posting, in the
//! order they happened), all in words with names, where an approval or a rejection is
//! reversed with a reason; and the month's log as CSV (headers and values in the reader's language, times
//! in the stations' zone).

pub mod log;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::NaiveDate;
use maud::{Markup, html};
use serde::Deserialize;
use timebank_engine::model::{MemberId, ReviewDecision, Role, VisitId};

use crate::console::audit::{self, AuditAction};
use crate::console::i18n::coins;
use crate::console::names::{Directory, id_line};
use crate::console::paging::{self, Paged};
use crate::console::reports::figures::{csv_field, two_decimals};
use crate::console::review::{author, district_stations, not_here, station_choice, station_logs};
use crate::console::{Flash, Lang, PageError, Signed, SignedForm, blocking, layout, pinyin_order, redirect, words};
use crate::desk;
use crate::relay::Relay;
use crate::store::{MemberRecord, PostingRecord};
use log::{Arrivals, Month, ReversalArrival, ReviewArrival, VisitArrival, VisitFilter, VisitRecord};

/// The visits routes (relative to `/console`).
pub fn routes() -> Router<Arc<Relay>> {
    Router::new()
        .route("/visits", get(visits_page))
        .route("/visits.csv", get(visits_csv))
        .route("/visits/{visit}", get(visit_page))
        .route("/visits/{visit}/reverse", post(reverse))
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
    page: Option<String>,
}

fn given(raw: Option<&String>) -> Option<&str> {
    raw.map(|s| s.trim()).filter(|s| !s.is_empty())
}

impl VisitsQuery {
    /// The filter, or 400 with what is wrong.
    fn filter(&self, lang: Lang) -> Result<VisitFilter, PageError> {
        let member = |raw: Option<&String>| {
            given(raw)
                .map(|r| {
                    MemberId::parse(r).map_err(|_| PageError::bad_request(lang.pick("成员编号无效。", "That member id is not valid.")))
                })
                .transpose()
        };
        let day = given(self.day.as_ref())
            .map(|d| {
                NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .map_err(|_| PageError::bad_request(lang.pick("日期格式应为 YYYY-MM-DD。", "Give the day as YYYY-MM-DD.")))
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
    Month::parse(raw).ok_or_else(|| {
        PageError::bad_request(lang.pick("月份格式应为 YYYY-MM，例如 2026-11。", "Give the month as YYYY-MM, e.g. 2026-11."))
    })
}

async fn visits_page(
    signed: Signed,
    State(relay): State<Arc<Relay>>,
    Query(query): Query<VisitsQuery>,
    RawQuery(raw): RawQuery,
) -> Result<Markup, PageError> {
    let lang = signed.lang;
    let filter = query.filter(lang)?;
    let (shown, members, directory, stations) = {
        let (signed, filter) = (signed.clone(), filter.clone());
        let (station, page) = (query.station.clone(), query.page.clone());
        blocking(move || {
            let arrivals = Arrivals::read(relay.store())?;
            let logs = station_logs(&relay, &signed, station.as_deref(), &arrivals)?;
            let mut directory = Directory::default();
            let mut members: Vec<MemberRecord> = Vec::new();
            let mut shown: Vec<(String, VisitRecord)> = Vec::new();
            for (station, docs, log) in logs {
                directory.add_station(&station, &docs, &[]);
                members.extend(docs.members.iter().cloned());
                shown.extend(log.into_iter().filter(|r| filter.matches(r)).map(|r| (station.name.clone(), r)));
            }
            directory.add_devices(relay.store().devices()?);
            shown.reverse();
            pinyin_order::sort_by_name(&mut members, |m| &m.display_name);
            Ok((Paged::of(shown, page.as_deref()), members, directory, district_stations(&relay, &signed)?))
        })
        .await?
    };
    let by_station = !stations.is_empty();
    let pick = |role: Role| members.iter().filter(move |m| m.role == role);
    let selected = |id: &Option<MemberId>, m: &MemberRecord| id.as_ref() == Some(&m.id);
    let body = html! {
        form.grid.filters method="get" action="/console/visits" {
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
            label.wide { (lang.pick("搜索", "Search")) input type="search" name="q" value=(filter.q) placeholder=(lang.pick("姓名、拼音、备注", "name, note")); }
            div.actions { button.primary type="submit" { (lang.pick("筛选", "Filter")) } a href="/console/visits" { (lang.pick("清除", "Clear")) } }
        }
        p.hint data-testid="visit-count" { (shown.total) " " (lang.pick("条记录", "visits")) }
        table.data {
            thead { tr {
                th { (lang.pick("志愿者 → 老人", "Volunteer → elder")) } th { (lang.pick("开始", "Start")) } @if by_station { th { (lang.pick("服务站", "Station")) } }
                th { (lang.pick("服务", "Service")) } th.num { (lang.pick("时长", "Length")) } th { (lang.pick("状态", "Status")) }
                th { (lang.pick("设备", "Device")) } th { (lang.pick("到达服务器", "Reached the relay")) } th { (lang.pick("备注", "Note")) }
            } }
            tbody {
                @for (station, r) in &shown.items {
                    tr data-visit=(r.visit.id) {
                        td.lead { a href=(format!("/console/visits/{}", r.visit.id)) title=(r.visit.id) { span.name { (r.volunteer_name) } " → " span.name { (r.elder_name) } } }
                        td data-label=(lang.pick("开始", "Start")) { (lang.datetime(r.visit.check_in.timestamp_millis())) }
                        @if by_station { td data-label=(lang.pick("服务站", "Station")) { (station) } }
                        td data-label=(lang.pick("服务", "Service")) { (r.service_label(lang)) }
                        td.num data-label=(lang.pick("时长", "Length")) { (lang.duration(r.minutes())) }
                        td data-label=(lang.pick("状态", "Status")) { span.badge { (words::visit_status(lang, r.visit.is_open(), r.outcome_status())) } }
                        td data-label=(lang.pick("设备", "Device")) { @if let Some(d) = &r.device { span title=(d) { (directory.device(lang, d)) } } }
                        td data-label=(lang.pick("到达服务器", "Reached the relay")) { (r.arrived_at.map(|a| lang.datetime(a)).unwrap_or_default()) }
                        td data-label=(lang.pick("备注", "Note")) { (r.visit.note) }
                    }
                }
            }
        }
        (paging::nav(lang, &shown, "/console/visits", raw.as_deref()))
    };
    Ok(layout::page(&signed, lang.pick("服务记录", "Visits"), body))
}

/// One visit with its history.
struct VisitDetail {
    record: VisitRecord,
    versions: Vec<VisitArrival>,
    reviews: Vec<ReviewArrival>,
    reversals: Vec<ReversalArrival>,
    postings: Vec<PostingRecord>,
    devices: std::collections::HashMap<String, String>,
    directory: Directory,
    presence: Option<crate::ledger::evidence::EvidenceState>,
}

async fn visit_page(signed: Signed, State(relay): State<Arc<Relay>>, Path(visit): Path<String>) -> Result<Markup, PageError> {
    let lang = signed.lang;
    let detail = {
        let signed = signed.clone();
        blocking(move || {
            let arrivals = Arrivals::read(relay.store())?;
            let postings = relay.store().postings()?;
            let mut directory = Directory::default();
            let mut found = None;
            for (station, docs, log) in station_logs(&relay, &signed, None, &arrivals)? {
                if let Some(record) = log.into_iter().find(|r| r.visit.id.as_str() == visit) {
                    directory.add_station(&station, &docs, &postings);
                    found = Some(record);
                }
            }
            let record = found.ok_or_else(|| PageError::not_at_station(lang))?;
            let devices = relay.store().devices()?;
            directory.add_devices(devices.clone());
            Ok(VisitDetail {
                presence: arrivals.evidence(&visit).cloned(),
                versions: arrivals.of_visit(&visit).to_vec(),
                reviews: arrivals.reviews_of(&visit).to_vec(),
                reversals: arrivals.reversals_of(&visit).to_vec(),
                devices: log::devices_by_actor(&devices),
                postings: postings.into_iter().filter(|p| p.subject == visit).collect(),
                directory,
                record,
            })
        })
        .await?
    };
    let r = &detail.record;
    let v = &r.visit;
    let dir = &detail.directory;
    let named_visit = |id: &str| dir.visit(lang, id);
    let device_of = |actor: &str| {
        detail
            .devices
            .get(actor)
            .map_or_else(|| lang.pick("未绑定的设备", "a device not enrolled").to_owned(), |d| dir.device(lang, d))
    };
    let body = html! {
        dl.facts data-visit=(v.id) {
            dt { (lang.pick("志愿者", "Volunteer")) } dd { a href={ "/console/members/" (v.volunteer) } title=(v.volunteer) { (r.volunteer_name) } }
            dt { (lang.pick("老人", "Elder")) } dd { a href={ "/console/members/" (v.elder) } title=(v.elder) { (r.elder_name) } }
            dt { (lang.pick("服务", "Service")) } dd { (r.service_label(lang)) @if let Some(order) = &v.order { " · " (lang.pick("来自订单：", "from the order ")) a href=(format!("/console/orders/{order}")) data-testid="order-link" { (dir.order(lang, order.as_str())) } } }
            dt { (lang.pick("签到 – 签退", "Check-in – check-out")) }
            dd { (lang.datetime(v.check_in.timestamp_millis())) " – " (v.check_out.map(|t| {
                let (start, end) = (v.check_in.timestamp_millis(), t.timestamp_millis());
                if lang.date(start) == lang.date(end) { lang.time(end) } else { lang.datetime(end) }
            }).unwrap_or_else(|| lang.pick("进行中", "open").to_owned())) }
            dt { (lang.pick("时长", "Length")) } dd { (lang.duration(r.minutes())) }
            dt { (lang.pick("来源", "Source")) } dd data-testid="source" { (words::source(lang, v.source, r.back_entered)) }
            dt { (lang.pick("设备", "Device")) } dd data-testid="device" { @match &r.device { Some(d) => { (dir.device(lang, d)) (id_line(d)) }, None => { "—" } } }
            dt { (lang.pick("手机录入时间", "Entered on the phone")) }
            dd data-testid="entered" {
                (lang.datetime(v.recorded_at.timestamp_millis()))
                @if let Some(out) = v.check_out_recorded_at { br; (lang.pick("签退录入于 ", "check-out entered at ")) (lang.datetime(out.timestamp_millis())) }
            }
            dt { (lang.pick("到达服务器", "Reached the relay")) } dd data-testid="arrived" { (r.arrived_at.map(|a| lang.datetime(a)).unwrap_or_else(|| "—".into())) }
            dt { (lang.pick("老人确认", "Elder's confirmation")) }
            dd { @match &v.confirmation { Some(c) => { (words::confirmed_by(lang, c.by)) " " (lang.datetime(c.at.timestamp_millis())) }, None => { (lang.pick("未确认", "not confirmed")) } } }
            dt { (lang.pick("到场证明", "Proof of presence")) }
            dd { ul.evidence { (crate::console::presence::evidence_item(lang, detail.presence.as_ref())) } }
            dt { (lang.pick("状态", "Status")) }
            dd { span.badge { (words::visit_status(lang, r.visit.is_open(), r.outcome_status())) }
                 @if let Some(o) = r.outcome.as_ref().filter(|o| !o.reason.is_empty()) { " " (words::ledger_reason_words(lang, &o.reason, &named_visit)) } }
            dt { (lang.pick("备注", "Note")) } dd data-testid="note" { (v.note) }
            dt { (lang.pick("记录编号", "Visit id")) } dd { (id_line(v.id.as_str())) }
        }
        @if signed.writer().is_ok() { @if let Some(review) = r.review.as_ref().filter(|r| r.decision != ReviewDecision::Flag) {
            (reversal_form(&signed, v.id.as_str(), review.decision))
        } }
        h2 { (lang.pick("历史", "History")) }
        table.data data-testid="history" {
            thead { tr { th { (lang.pick("时间", "When")) } th { (lang.pick("事件", "What")) } } }
            tbody {
                @for (at, what) in history(lang, &detail, &device_of) {
                    tr {
                        td.lead { (lang.datetime(at)) }
                        td data-label=(lang.pick("事件", "What")) { (what) }
                    }
                }
            }
        }
        p { a href="/console/visits" { (lang.pick("← 返回记录列表", "← Back to the visits")) } }
    };
    let title = format!("{}{} → {}", lang.pick("服务记录：", "Visit: "), r.volunteer_name, r.elder_name);
    Ok(layout::page(&signed, &title, body))
}

/// The history of a visit, oldest first: each version that arrived, each review and
/// reversal, each posting, with when it happened (ms).
fn history(lang: Lang, detail: &VisitDetail, device_of: &dyn Fn(&str) -> String) -> Vec<(i64, Markup)> {
    let dir = &detail.directory;
    let mut rows: Vec<(i64, Markup)> = Vec::new();
    for (i, a) in detail.versions.iter().enumerate() {
        rows.push((a.received_at, html! {
            @if i == 0 { (lang.pick("记录到达服务器", "The visit reached the relay")) } @else { (lang.pick("记录被修改", "The visit was edited")) }
            " · " (device_of(&a.event.device))
            " · " (lang.datetime(a.event.check_in)) " – " (lang.datetime(a.event.check_out))
        }));
    }
    for a in &detail.reviews {
        rows.push((
            a.received_at,
            html! {
                (lang.pick("审核：", "Review: ")) strong { (words::decision(lang, a.event.decision)) }
                " · " span.name title=(a.event.by) { (dir.name(lang, a.event.by.as_str())) }
                @if !a.event.reason.is_empty() { " · " (a.event.reason) }
            },
        ));
    }
    for a in &detail.reversals {
        rows.push((
            a.received_at,
            html! {
                strong data-testid="reversed" { (words::reversed(lang, a.event.decision)) }
                " · " span.name title=(a.event.by) { (dir.name(lang, a.event.by.as_str())) }
                " · " (lang.pick("原因：", "reason: ")) (a.event.reason)
            },
        ));
    }
    for p in &detail.postings {
        rows.push((p.at, html! {
            (lang.pick("记账：", "Posting: ")) (words::posting_kind(lang, &p.kind)) " " (coins(p.minutes)) " " (lang.pick("币", "coins"))
            " · " (dir.account(lang, &p.debit)) " → " (dir.account(lang, &p.credit))
            @if let Some(by) = &p.by { " · " (lang.pick("经办：", "by ")) span.name title=(by) { (dir.name(lang, by)) } }
            br; span.hint { (dir.posting(lang, p)) }
        }));
    }
    // Stable: what happened at the same moment keeps the order above (a review before the
    // posting it caused).
    rows.sort_by_key(|(at, _)| *at);
    rows
}

/// The form that reverses the standing `decision` (approve or reject) of visit `id`.
fn reversal_form(signed: &Signed, id: &str, decision: ReviewDecision) -> Markup {
    let lang = signed.lang;
    let approval = decision == ReviewDecision::Approve;
    html! {
        section.card data-testid="reverse-form" {
            h2 { (words::reverse_action(lang, decision)) }
            p.hint { @if approval {
                (lang.pick(
                    "撤销后这条记录回到审核队列；已发放的时间币以冲正记账收回（记账只增不改），报表按冲正后的数字统计。志愿者下次同步时看到原因和新余额。",
                    "The visit goes back to the review queue; the coins it earned are taken back by a reversal posting (postings are never changed), and the reports count the reversal. The volunteer sees the reason and the new balance at the next sync.",
                ))
            } @else {
                (lang.pick(
                    "撤销后这条记录回到审核队列，可以重新审核。志愿者下次同步时看到原因。",
                    "The visit goes back to the review queue to be decided again. The volunteer sees the reason at the next sync.",
                ))
            } }
            form.grid method="post" action=(format!("/console/visits/{id}/reverse")) {
                (layout::csrf(signed))
                label.wide { (lang.pick("原因（必填，志愿者会看到）", "Reason (required; the volunteer sees it)"))
                    input type="text" name="reason" required maxlength=(crate::console::MAX_REASON_CHARS);
                }
                div.actions { button.danger type="submit" data-testid="reverse" { (words::reverse_action(lang, decision)) } }
            }
        }
    }
}

async fn reverse(
    State(relay): State<Arc<Relay>>,
    Path(visit): Path<String>,
    SignedForm { signed, form }: SignedForm,
) -> Result<Response, PageError> {
    let lang = signed.lang;
    let author = author(&signed)?;
    let visit = VisitId::parse(&visit).map_err(|_| PageError::not_at_station(lang))?;
    let reason = form.reason(lang)?;
    if reason.is_empty() {
        return Err(PageError::bad_request(lang.pick(
            "撤销必须写明原因（志愿者会看到）。没有做任何更改。",
            "Say why the decision is reversed (the volunteer sees it). Nothing was changed.",
        )));
    }
    let (words, decision) = {
        let (signed, visit) = (signed.clone(), visit.clone());
        blocking(move || {
            let station = signed.writer()?.clone();
            let directory = Directory::load(&relay, &signed, Some(station.as_str()))?;
            let docs = desk::StationDocs::load(&relay, &station).map_err(|e| not_here(lang, e))?;
            let decision = docs.review(&visit).map(|r| r.decision);
            let audit = audit::entry(&relay, &signed, AuditAction::ReviewReverse, visit.as_str(), &reason);
            desk::reverse_review(&relay, &author, &visit, &reason, Some(audit)).map_err(|e| not_here(lang, e))?;
            Ok((directory.visit(lang, visit.as_str()), decision))
        })
        .await?
    };
    let done = match decision {
        Some(ReviewDecision::Reject) => lang.pick("已撤销驳回：", "Rejection reversed: "),
        _ => lang.pick("已撤销批准：", "Approval reversed: "),
    };
    Ok(redirect(&signed, &format!("/console/visits/{visit}"), Flash::ok(format!("{done}{words}"))))
}

/// The header of `/console/visits.csv` in English.
pub const VISITS_CSV_HEADER: &str =
    "visit,station,volunteer,volunteer_name,elder,elder_name,service,check_in,check_out,minutes,hours,status,device,arrived_at,note";

/// The header of `/console/visits.csv` in Chinese.
pub const VISITS_CSV_HEADER_ZH: &str =
    "记录编号,服务站,志愿者编号,志愿者,老人编号,老人,服务,签到,签退,分钟,小时,状态,设备,到达服务器,备注";

/// The header of `/console/visits.csv` in `lang`.
pub fn visits_csv_header(lang: Lang) -> &'static str {
    lang.pick(VISITS_CSV_HEADER_ZH, VISITS_CSV_HEADER)
}

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
        let mut directory = Directory::default();
        directory.add_devices(relay.store().devices()?);
        let mut out = format!("{}\n", visits_csv_header(lang));
        for (station, docs, log) in &logs {
            directory.add_station(station, docs, &[]);
            for r in log.iter().filter(|r| month.contains(r.visit.check_in.timestamp_millis())) {
                out.push_str(&visit_row(lang, &station.name, r, &directory));
                out.push('\n');
            }
        }
        Ok(out)
    })
    .await?;
    Ok(csv_response(&format!("visits-{month}.csv"), csv))
}

fn visit_row(lang: Lang, station: &str, r: &VisitRecord, directory: &Directory) -> String {
    let v = &r.visit;
    let time = |ms: i64| csv_time(lang, ms);
    [
        v.id.to_string(),
        station.to_owned(),
        v.volunteer.to_string(),
        r.volunteer_name.clone(),
        v.elder.to_string(),
        r.elder_name.clone(),
        r.service_label(lang),
        time(v.check_in.timestamp_millis()),
        v.check_out.map(|t| time(t.timestamp_millis())).unwrap_or_default(),
        r.minutes().to_string(),
        two_decimals(r.minutes()),
        words::visit_status(lang, r.visit.is_open(), r.outcome_status()).to_owned(),
        r.device.as_deref().map(|d| directory.device(lang, d)).unwrap_or_default(),
        r.arrived_at.map(time).unwrap_or_default(),
        v.note.clone(),
    ]
    .iter()
    .map(|f| csv_field(f))
    .collect::<Vec<_>>()
    .join(",")
}

/// A time in a CSV, in the stations' zone (UTC+8): `2026-11-03 10:00` for a Chinese
/// spreadsheet, ISO 8601 with the offset (`2026-11-03T10:00:00+08:00`) in English.
pub(crate) fn csv_time(lang: Lang, ms: i64) -> String {
    match lang {
        Lang::Zh => lang.datetime(ms),
        Lang::En => chrono::DateTime::from_timestamp_millis(ms)
            .and_then(|t| chrono::FixedOffset::east_opt(crate::console::i18n::DISPLAY_OFFSET_SECONDS).map(|o| t.with_timezone(&o)))
            .map_or_else(String::new, |t| t.format("%Y-%m-%dT%H:%M:%S%:z").to_string()),
    }
}

/// A CSV download, starting with a UTF-8 byte-order mark so that spreadsheets read its
/// Chinese headers and names.
pub(crate) fn csv_response(filename: &str, csv: String) -> Response {
    (
        [(CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\""))],
        format!("\u{feff}{csv}"),
    )
        .into_response()
}
