//! The monthly reports page: per station, volunteers active, elders served, visits, hours,
//! coins issued, redeemed, donated and outstanding ([`figures`]), each volunteer's month
//! at the station (visits, hours, coins by the month of service and of approval, coins
//! spent; a volunteer who moved has the part before the move where they were), two
//! server-rendered SVG charts ([`chart`]), a print layout, and the figures as CSV.

pub mod chart;
pub mod districts;
pub mod figures;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use chrono::Datelike;
use maud::{Markup, html};
use serde::Deserialize;
use timebank_engine::model::{Role, StationId};

use crate::console::i18n::coins;
use crate::console::names::member_link;
use crate::console::review::{district_stations, placed_logs_of, station_choice};
use crate::console::visits::log::{Arrivals, Month, VisitRecord, local_day};
use crate::console::visits::{csv_response, parse_month};
use crate::console::{PageError, Signed, blocking, layout, pinyin_order};
use crate::relay::Relay;
use crate::store::{MemberRecord, StationRecord};
use chart::{Bar, bar_chart, bar_rows};
use figures::{Figures, Placement, VolunteerMonth, two_decimals};

/// The reports routes (relative to `/console`).
pub fn routes() -> Router<Arc<Relay>> {
    Router::new().route("/reports", get(reports_page)).route("/reports.csv", get(reports_csv))
}

#[derive(Debug, Default, Deserialize)]
struct ReportQuery {
    month: Option<String>,
    station: Option<String>,
}

/// One station's report for the month.
struct StationReport {
    station: StationRecord,
    figures: Figures,
    /// Visits per day of the month.
    per_day: Vec<(u32, usize)>,
    /// Each volunteer's month, by name in pinyin order.
    volunteers: Vec<VolunteerMonth>,
}

/// The month asked for (`?month=`), or the current one.
fn month_of(relay: &Relay, signed: &Signed, raw: Option<&str>) -> Result<Month, PageError> {
    match raw.map(str::trim).filter(|m| !m.is_empty()) {
        Some(raw) => parse_month(signed.lang, raw),
        None => Ok(Month::of(relay.now_ms())),
    }
}

/// The reports of every station `signed` may see (`?station=` for the district).
fn reports(relay: &Relay, signed: &Signed, station: Option<&str>, month: Month) -> Result<Vec<StationReport>, PageError> {
    let store = relay.store();
    let arrivals = Arrivals::read(store)?;
    let placement = Placement::read(store, &arrivals)?;
    let logs = placed_logs_of(relay, signed.lang, signed.visible_stations(relay, station)?, &arrivals, &placement)?;
    let postings = store.postings()?;
    Ok(logs
        .into_iter()
        .map(|(station, docs, log)| {
            // Its volunteers and those who left it: a mover's month before the move is here.
            let mut volunteers: Vec<MemberRecord> =
                docs.members.iter().chain(&docs.leavers).filter(|m| m.role == Role::Volunteer).cloned().collect();
            pinyin_order::sort_by_name(&mut volunteers, |m| &m.display_name);
            StationReport {
                figures: figures::figures(&station.id, &station.name, month, &log, &postings, &placement),
                per_day: per_day(&station.id, month, &log, &placement),
                volunteers: figures::volunteers(&station.id, month, &volunteers, &log, &postings, &placement),
                station,
            }
        })
        .collect())
}

/// Counted visits (finished, not rejected) given at `station` per day of `month`.
fn per_day(station: &StationId, month: Month, log: &[VisitRecord], placement: &Placement) -> Vec<(u32, usize)> {
    let here = |s: &StationId| s == station;
    let counted: Vec<&VisitRecord> = figures::counted_in(&here, month.range(), log, placement).collect();
    month
        .days()
        .into_iter()
        .map(|day| (day.day(), counted.iter().filter(|r| local_day(r.visit.check_in.timestamp_millis()) == day).count()))
        .collect()
}

async fn reports_page(signed: Signed, State(relay): State<Arc<Relay>>, Query(query): Query<ReportQuery>) -> Result<Markup, PageError> {
    let lang = signed.lang;
    let month = month_of(&relay, &signed, query.month.as_deref())?;
    let station = query.station.clone();
    let (list, stations) = {
        let signed = signed.clone();
        blocking(move || Ok((reports(&relay, &signed, station.as_deref(), month)?, district_stations(&relay, &signed)?))).await?
    };
    let station_param =
        query.station.as_deref().map(|s| format!("&station={}", crate::console::session::percent(s))).unwrap_or_default();
    let body = html! {
        form.inline method="get" action="/console/reports" {
            (station_choice(lang, &stations, query.station.as_deref()))
            label { (lang.pick("月份", "Month")) input type="month" name="month" value=(month.to_string()); }
            button.primary type="submit" { (lang.pick("查看", "Show")) }
        }
        p.actions.no-print {
            a.button href=(format!("/console/reports?month={}{station_param}", month.previous())) { (lang.pick("← 上月", "← Previous")) }
            a.button href=(format!("/console/reports?month={}{station_param}", month.next())) { (lang.pick("下月 →", "Next →")) }
            a href=(format!("/console/reports.csv?month={month}{station_param}")) data-testid="reports-csv" { (lang.pick("导出 CSV", "Export CSV")) }
            a href=(format!("/console/visits.csv?month={month}{station_param}")) data-testid="visits-csv" { (lang.pick("导出服务记录 CSV", "Export the visit log (CSV)")) }
            a href=(format!("/console/bureau?period={month}")) data-testid="bureau-link" { (lang.pick("民政报表（月报、年报）", "Reports for the bureau (month, year)")) }
        }
        p.print-only { strong { (month.to_string()) } }
        p.hint data-testid="months-explained" { (lang.pick(
            "服务次数和小时按服务日期计入当月；时间币按批准记账的日期计入当月，所以月底的服务可能下个月才发币。下表两种都列出。",
            "Visits and hours count in the month the visit happened; coins count in the month the approval was posted, so a visit at the month's end may earn its coins next month. The table below shows both.",
        )) }
        table.data data-testid="figures" {
            thead { tr {
                th { (lang.pick("服务站", "Station")) }
                th.num { (lang.pick("活跃志愿者", "Volunteers active")) } th.num { (lang.pick("服务老人", "Elders served")) }
                th.num { (lang.pick("服务次数", "Visits")) } th.num { (lang.pick("服务小时", "Hours")) }
                th.num { (lang.pick("发放时间币", "Coins issued")) } th.num { (lang.pick("兑换", "Redeemed")) }
                th.num { (lang.pick("捐赠", "Donated")) } th.num { (lang.pick("月末流通", "Outstanding")) }
            } }
            tbody {
                @for r in &list {
                    @let f = &r.figures;
                    tr data-station=(r.station.id) {
                        td.lead { (r.station.name) }
                        td.num data-label=(lang.pick("活跃志愿者", "Volunteers active")) data-testid="volunteers_active" { (f.volunteers_active) }
                        td.num data-label=(lang.pick("服务老人", "Elders served")) data-testid="elders_served" { (f.elders_served) }
                        td.num data-label=(lang.pick("服务次数", "Visits")) data-testid="visits" { (f.visits) }
                        td.num data-label=(lang.pick("服务小时", "Hours")) data-testid="hours" { (two_decimals(f.minutes)) }
                        td.num data-label=(lang.pick("发放时间币", "Coins issued")) data-testid="coins_issued" { (coins(f.issued)) }
                        td.num data-label=(lang.pick("兑换", "Redeemed")) data-testid="coins_redeemed" { (coins(f.redeemed)) }
                        td.num data-label=(lang.pick("捐赠", "Donated")) data-testid="coins_donated" { (coins(f.donated)) }
                        td.num data-label=(lang.pick("月末流通", "Outstanding")) data-testid="coins_outstanding" { (coins(f.outstanding)) }
                    }
                }
            }
        }
        @for r in &list {
            @if list.len() > 1 { h2 { (r.station.name) } }
            div.charts {
                @let days: Vec<Bar> = r.per_day.iter().map(|(day, n)| Bar { label: day.to_string(), value: *n as f64, text: n.to_string() }).collect();
                @let coin_bars: Vec<Bar> = [
                    (lang.pick("发放", "issued"), r.figures.issued),
                    (lang.pick("兑换", "redeemed"), r.figures.redeemed),
                    (lang.pick("捐赠", "donated"), r.figures.donated),
                    (lang.pick("流通", "outstanding"), r.figures.outstanding),
                ]
                .iter()
                .map(|(label, minutes)| Bar { label: (*label).to_owned(), value: *minutes as f64, text: coins(*minutes) })
                .collect();
                @let visits_title = format!("{} {month}", lang.pick("每日服务次数", "Visits per day,"));
                @let coins_title = format!("{} {month}", lang.pick("时间币（币）", "Coins,"));
                div { (bar_chart(&visits_title, &days)) (bar_rows(&visits_title, &days)) }
                div { (bar_chart(&coins_title, &coin_bars)) (bar_rows(&coins_title, &coin_bars)) }
            }
            h2 { (lang.pick("志愿者当月情况", "Each volunteer this month")) }
            @if r.volunteers.is_empty() {
                p.empty { (lang.pick("这个月没有志愿者的服务或时间币变动。", "No volunteer served, earned or spent this month.")) }
            } @else {
                table.data data-testid="volunteers" {
                    thead { tr {
                        th { (lang.pick("志愿者", "Volunteer")) }
                        th.num { (lang.pick("服务次数", "Visits")) }
                        th.num { (lang.pick("服务小时", "Hours")) }
                        th.num { (lang.pick("本月服务所得（币）", "Earned for this month's visits")) }
                        th.num { (lang.pick("本月批准入账（币）", "Credited this month")) }
                        th.num { (lang.pick("本月花费（币）", "Spent this month")) }
                    } }
                    tbody {
                        @for v in &r.volunteers {
                            tr data-member=(v.volunteer.id) {
                                td.lead {
                                    @if v.volunteer.station == r.station.id { (member_link("ledger", &v.volunteer)) } @else {
                                        (v.volunteer.display_name) " " small data-testid="v-moved" { (lang.pick("已迁往 ", "moved to ")) (v.volunteer.station) }
                                    }
                                }
                                td.num data-label=(lang.pick("服务次数", "Visits")) data-testid="v-visits" { (v.visits) }
                                td.num data-label=(lang.pick("服务小时", "Hours")) data-testid="v-hours" { (two_decimals(v.minutes)) }
                                td.num data-label=(lang.pick("按服务月", "By visit month")) data-testid="v-earned-for-month" { (coins(v.earned_for_month)) }
                                td.num data-label=(lang.pick("按批准月", "By approval month")) data-testid="v-earned-in-month" { (coins(v.earned_in_month)) }
                                td.num data-label=(lang.pick("花费", "Spent")) data-testid="v-spent" { (coins(v.spent)) }
                            }
                        }
                    }
                }
            }
        }
        p.hint { (lang.pick(
            "服务次数与小时：本月开始、已结束且未被驳回的记录。时间币来自账本：本月的发放（扣除冲正）、兑换、捐赠，以及月末成员与捐赠池持有的时间币。花费：兑换、转赠和捐赠。1 小时 = 1 币。打印本页即得纸质月报。",
            "Visits and hours: visits that started this month, finished and not rejected. Coins come from the ledger: issued (less reversals), redeemed and donated this month, and those held by members and the pool at the month's end. Spent: redeemed, given and donated. 1 hour = 1 coin. Print this page for a paper report.",
        )) }
    };
    Ok(layout::page(&signed, lang.pick("月度报表", "Monthly report"), body))
}

async fn reports_csv(
    signed: Signed,
    State(relay): State<Arc<Relay>>,
    Query(query): Query<ReportQuery>,
) -> Result<Response, PageError> {
    let month = month_of(&relay, &signed, query.month.as_deref())?;
    let lang = signed.lang;
    let csv = blocking(move || {
        let list = reports(&relay, &signed, query.station.as_deref(), month)?;
        let mut out = format!("{}\n", figures::csv_header(lang));
        for r in &list {
            out.push_str(&r.figures.csv_row());
            out.push('\n');
        }
        Ok(out)
    })
    .await?;
    Ok(csv_response(&format!("report-{month}.csv"), csv))
}
