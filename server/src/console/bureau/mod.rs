//! The bureau's reports (ADR 43): monthly and yearly figures of a station, a district or the
//! city for the civil-affairs bureau, each account reading only its reach. One report
//! ([`report::report`]) is shown as a printable page (`/console/bureau`) and downloaded as
//! XLSX (`/console/bureau.xlsx`) and as CSV (`/console/bureau.csv`, the summary;
//! `/console/bureau/services.csv`, by service), all from the same tables.

pub mod report;
pub mod scope;
pub mod table;
pub mod workbook;

use std::collections::HashSet;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{Markup, html};
use serde::Deserialize;
use timebank_engine::model::Service;

use crate::console::i18n::coins;
use crate::console::reports::districts::places;
use crate::console::reports::figures::{Placement, two_decimals};
use crate::console::review::placed_logs_of;
use crate::console::visits::csv_response;
use crate::console::visits::log::{Arrivals, Month};
use crate::console::{Lang, PageError, Signed, blocking, layout};
use crate::relay::Relay;
use crate::store::StationRecord;
use report::{BureauReport, Sources};
use scope::{Period, Scope};
use table::{Cell, Table};

/// The XLSX media type.
pub const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The bureau's routes (relative to `/console`).
pub fn routes() -> Router<Arc<Relay>> {
    Router::new()
        .route("/bureau", get(bureau_page))
        .route("/bureau.csv", get(summary_csv))
        .route("/bureau/services.csv", get(services_csv))
        .route("/bureau.xlsx", get(bureau_xlsx))
}

/// `?period=YYYY-MM|YYYY&scope=s-…|q-…|city`.
#[derive(Clone, Debug, Default, Deserialize)]
struct BureauQuery {
    period: Option<String>,
    scope: Option<String>,
}

impl BureauQuery {
    /// The period asked for, or the current month.
    fn period(&self, relay: &Relay, lang: Lang) -> Result<Period, PageError> {
        match self.period.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
            Some(raw) => Period::parse(lang, raw),
            None => Ok(Period::Month(Month::of(relay.now_ms()))),
        }
    }
}

/// The report `query` asks for, if `signed` may read its scope.
async fn asked(relay: Arc<Relay>, signed: &Signed, query: BureauQuery) -> Result<BureauReport, PageError> {
    let period = query.period(&relay, signed.lang)?;
    let signed = signed.clone();
    blocking(move || {
        let scope = Scope::resolve(&relay, &signed, query.scope.as_deref())?;
        let sources = sources(&relay, signed.lang, scope.stations())?;
        Ok(report::report(&scope, period, &sources, signed.lang))
    })
    .await
}

/// What the report of `stations` is computed from, with the ledger folded first.
fn sources(relay: &Relay, lang: Lang, stations: Vec<StationRecord>) -> Result<Sources, PageError> {
    relay.settle();
    let store = relay.store();
    let arrivals = Arrivals::read(store)?;
    let district_of = store.stations()?.into_iter().map(|s| (s.id, s.district)).collect();
    let placement = Placement::read(store, &arrivals)?;
    let logs = placed_logs_of(relay, lang, stations, &arrivals, &placement)?;
    let mut sources = Sources {
        records: Vec::new(),
        catalogue: Vec::new(),
        members: Vec::new(),
        placement,
        district_of,
        postings: store.postings()?,
        places: places(&store.ledger_events(0)?),
    };
    // A member who moved between two of the stations is in both logs: once each.
    let (mut visits, mut members) = (HashSet::new(), HashSet::new());
    for (_, docs, log) in logs {
        sources.records.extend(log.into_iter().filter(|r| visits.insert(r.visit.id.clone())));
        sources.members.extend(docs.members.iter().chain(&docs.leavers).filter(|m| members.insert(m.id.clone())).cloned());
        for service in docs.catalogue() {
            if !sources.catalogue.iter().any(|s: &Service| s.id == service.id) {
                sources.catalogue.push(service);
            }
        }
    }
    Ok(sources)
}

/// The report's title: `长宁区 2026年11月 服务报表`.
fn title(report: &BureauReport, lang: Lang) -> String {
    format!("{} {} {}", report.name, report.period.label(lang), lang.pick("服务报表", "report"))
}

/// The file name of a download: `bureau-q-…-2026-11.xlsx`.
fn file_name(report: &BureauReport, suffix: &str) -> String {
    format!("bureau-{}-{}{suffix}", report.scope, report.period)
}

async fn summary_csv(
    signed: Signed,
    State(relay): State<Arc<Relay>>,
    Query(query): Query<BureauQuery>,
) -> Result<Response, PageError> {
    let report = asked(relay, &signed, query).await?;
    Ok(csv_response(&file_name(&report, ".csv"), report.summary(signed.lang).csv(signed.lang)))
}

async fn services_csv(
    signed: Signed,
    State(relay): State<Arc<Relay>>,
    Query(query): Query<BureauQuery>,
) -> Result<Response, PageError> {
    let report = asked(relay, &signed, query).await?;
    Ok(csv_response(&file_name(&report, "-services.csv"), report.by_service(signed.lang).csv(signed.lang)))
}

async fn bureau_xlsx(
    signed: Signed,
    State(relay): State<Arc<Relay>>,
    Query(query): Query<BureauQuery>,
) -> Result<Response, PageError> {
    let lang = signed.lang;
    let report = asked(relay, &signed, query).await?;
    let tables = [report.summary(lang), report.by_service(lang)];
    let bytes = workbook::workbook(&title(&report, lang), &tables, lang)
        .map_err(|e| PageError::internal(format!("the bureau's workbook could not be written: {e}")))?;
    let disposition = format!("attachment; filename=\"{}\"", file_name(&report, ".xlsx"));
    Ok(([(CONTENT_TYPE, XLSX_TYPE.to_owned()), (CONTENT_DISPOSITION, disposition)], bytes).into_response())
}

async fn bureau_page(signed: Signed, State(relay): State<Arc<Relay>>, Query(query): Query<BureauQuery>) -> Result<Markup, PageError> {
    let lang = signed.lang;
    let report = asked(relay.clone(), &signed, query).await?;
    let choices = {
        let signed = signed.clone();
        blocking(move || scope::choices(&relay, &signed)).await?
    };
    let (period, scope) = (report.period, report.scope.clone());
    let link = |path: &str, period: Period| format!("{path}?period={period}&scope={scope}");
    let other_kind = match period {
        Period::Month(m) => (Period::Year(m.year), lang.pick("看全年", "The whole year")),
        Period::Year(y) => (Period::Month(Month { year: y, month: 1 }), lang.pick("按月看", "By month")),
    };
    let body = html! {
        form.inline method="get" action="/console/bureau" {
            @if choices.len() > 1 {
                label { (lang.pick("范围", "Scope"))
                    select name="scope" data-testid="scope-choice" {
                        @for (id, name) in &choices { option value=(id) selected[*id == scope] { (name) } }
                    }
                }
            }
            label { (lang.pick("期间（YYYY-MM 或 YYYY）", "Period (YYYY-MM or YYYY)"))
                input type="text" name="period" value=(period.to_string()) inputmode="numeric" pattern="[0-9]{4}(-[0-9]{2})?" required;
            }
            button.primary type="submit" { (lang.pick("查看", "Show")) }
        }
        p.actions.no-print {
            a.button href=(link("/console/bureau", period.previous())) { (lang.pick("← 上一期", "← Previous")) }
            a.button href=(link("/console/bureau", period.next())) { (lang.pick("下一期 →", "Next →")) }
            a.button href=(link("/console/bureau", other_kind.0)) data-testid="other-period" { (other_kind.1) }
        }
        p.actions.no-print {
            a href=(link("/console/bureau.xlsx", period)) data-testid="bureau-xlsx" { (lang.pick("下载 Excel（XLSX）", "Download Excel (XLSX)")) }
            a href=(link("/console/bureau.csv", period)) data-testid="bureau-csv" { (lang.pick("下载 CSV（汇总）", "Download CSV (summary)")) }
            a href=(link("/console/bureau/services.csv", period)) data-testid="bureau-services-csv" { (lang.pick("下载 CSV（按服务类型）", "Download CSV (by service)")) }
        }
        p.hint.no-print { (lang.pick("用浏览器的“打印”即得纸质报表（横向 A4）。", "Print this page from the browser for a paper report (A4 landscape).")) }
        (table_markup(&report.summary(lang), lang))
        (table_markup(&report.by_service(lang), lang))
        section.definitions data-testid="definitions" {
            h2 { (lang.pick("口径", "What the figures mean")) }
            ul {
                li { (lang.pick(
                    "服务次数、服务小时、活跃志愿者、服务老人：本期开始、已结束且未被驳回的服务记录（按服务日期，北京时间）；小时为记录的时长。活跃志愿者、服务老人各按人计一次。",
                    "Visits, hours, volunteers active, elders served: visits that started in the period (UTC+8), finished and not rejected; hours as logged. Each person counts once.",
                )) }
                li { (lang.pick(
                    "新增志愿者：本期登记的志愿者（按现在所属服务站）。",
                    "New volunteers: volunteers registered in the period (at their station now).",
                )) }
                li { (lang.pick(
                    "时间币来自账本，按记账日期：发放（扣除冲正）、兑换（本范围会员兑现的，含在外区兑换的）、捐赠（进入服务站捐赠池的）、期末流通（期末本范围会员及捐赠池持有的）。协调员更正只计入期末流通。1 小时 = 1 币。",
                    "Coins come from the ledger by the date posted: issued (less reversals), redeemed (by the scope's members, wherever), donated (into the stations' pools), outstanding (held by the scope's members and pools at the period's end). A coordinator's correction counts in outstanding only. 1 hour = 1 coin.",
                )) }
                li { (lang.pick(
                    "跨区兑入：外区会员在本范围服务站兑现的时间币；跨区兑出：本范围会员在外区服务站兑现的时间币（通存通兑）。",
                    "Redeemed in: coins of other districts' members redeemed at the scope's stations; redeemed out: the scope's members' coins redeemed at other districts' stations.",
                )) }
            }
        }
    };
    Ok(layout::page_with_class(&signed, &title(&report, lang), Some("bureau"), body))
}

/// Columns the page leaves to the downloads: ids and the period (in the title).
const DOWNLOAD_ONLY: &[&str] = &["id", "service", "period"];

/// A table as the page shows it: a `data-row` per row, a `data-testid` per cell.
fn table_markup(table: &Table, lang: Lang) -> Markup {
    let shown: Vec<usize> = (0..table.columns.len()).filter(|i| !DOWNLOAD_ONLY.contains(&table.columns[*i].key)).collect();
    html! {
        h2 { (table.name(lang)) }
        table.data data-testid=(table.key) {
            thead { tr {
                @for i in &shown {
                    @let column = &table.columns[*i];
                    @if *i == shown[0] { th { (column.label(lang)) } } @else { th.num { (column.label(lang)) } }
                }
            } }
            tbody {
                @for row in &table.rows {
                    tr data-row=(row.key) {
                        @for i in &shown {
                            @let (column, cell) = (&table.columns[*i], &row.cells[*i]);
                            @match cell {
                                Cell::Text(text) => td.lead data-testid=(column.key) { (text) },
                                _ => td.num data-label=(column.label(lang)) data-testid=(column.key) { (shown_number(cell)) },
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A number as the page writes it: hours with two decimals, coins as the console does.
fn shown_number(cell: &Cell) -> String {
    match cell {
        Cell::Text(text) => text.clone(),
        Cell::Count(n) => n.to_string(),
        Cell::Hours(minutes) => two_decimals(*minutes),
        Cell::Coins(minutes) => coins(*minutes),
    }
}
