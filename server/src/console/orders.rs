//! The orders page: the board of the station's orders (点单 placed, 派单 dispatched, 接单
//! accepted or declined, served, cancelled), filtered by state, day and name, a page at a
//! time, each with its time slot and the visit that served it; placing an order for an
//! elder in a time slot, dispatching to a volunteer (on the order's own page, with a
//! picker) and cancelling. Each action is the change a coordinator's phone makes
//! ([`crate::desk`]), written by the relay and audited, and its banner names the people.

pub mod board;
pub mod detail;
pub mod picker;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use chrono::{FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};
use maud::{Markup, html};
use timebank_engine::model::text::MAX_NOTE_CHARS;
use timebank_engine::model::{MemberId, OrderId, OrderState, Role, Service, ServiceKind};

use crate::console::audit::{self, AuditAction};
use crate::console::i18n::DISPLAY_OFFSET_SECONDS;
use crate::console::paging::{self, Listed, Paged};
use crate::console::review::{author, district_stations, not_here, station_choice};
use crate::console::visits::log::service_label;
use crate::console::{Flash, Lang, PageError, Signed, SignedForm, blocking, layout, pinyin_order, redirect, words};
use crate::desk::{self, StationDocs};
use crate::relay::Relay;
use crate::store::MemberRecord;
use board::BoardRow;

/// The orders routes (relative to `/console`).
pub fn routes() -> Router<Arc<Relay>> {
    Router::new()
        .route("/orders", get(orders_page).post(place))
        .route("/orders/{order}", get(detail::order_page))
        .route("/orders/{order}/dispatch", post(dispatch))
        .route("/orders/{order}/cancel", post(cancel))
}

/// The station's board with who can be chosen.
struct StationBoard {
    rows: Vec<BoardRow>,
    elders: Vec<MemberRecord>,
    services: Vec<Service>,
}

/// The states the filter offers, in the board's order.
const STATES: [OrderState; 8] = [
    OrderState::Declined,
    OrderState::Requested,
    OrderState::Dispatched,
    OrderState::Accepted,
    OrderState::Visited,
    OrderState::Confirmed,
    OrderState::Settled,
    OrderState::Cancelled,
];

async fn orders_page(signed: Signed, State(relay): State<Arc<Relay>>, Listed { query, raw }: Listed) -> Result<Markup, PageError> {
    let lang = signed.lang;
    let selected = query.station.clone();
    let q = query.words();
    let state = STATES.into_iter().find(|s| Some(s.as_str()) == query.state.as_deref());
    let day = query.day.as_deref().map(str::trim).filter(|d| !d.is_empty()).map(|d| parse_day(lang, d)).transpose()?;
    let (board, rows, stations) = {
        let (signed, q) = (signed.clone(), q.clone());
        blocking(move || {
            let mut all = StationBoard { rows: Vec::new(), elders: Vec::new(), services: Vec::new() };
            for station in signed.visible_stations(&relay, query.station.as_deref())? {
                let docs = StationDocs::load(&relay, &station.id).map_err(|e| not_here(lang, e))?;
                all.rows.extend(board::board(&docs));
                all.elders.extend(docs.members.iter().filter(|m| m.role == Role::Elder).cloned());
                if all.services.is_empty() {
                    all.services = docs.catalogue().into_iter().filter(|s| s.kind == ServiceKind::Earning).collect();
                }
            }
            pinyin_order::sort_by_name(&mut all.elders, |m| &m.display_name);
            let rows: Vec<BoardRow> = std::mem::take(&mut all.rows)
                .into_iter()
                .filter(|r| state.is_none_or(|s| s == r.state))
                .filter(|r| day.is_none_or(|d| picker::order_day(&r.order) == d))
                .filter(|r| {
                    pinyin_order::name_matches(&r.elder_name, &q)
                        || r.volunteer_name.as_deref().is_some_and(|v| !q.trim().is_empty() && pinyin_order::name_matches(v, &q))
                })
                .collect();
            Ok((all, Paged::of(rows, query.page.as_deref()), district_stations(&relay, &signed)?))
        })
        .await?
    };
    let can_write = signed.writer().is_ok();
    let filter = html! {
        label { (lang.pick("状态", "State"))
            select name="state" {
                option value="" { (lang.pick("全部", "All")) }
                @for s in STATES { option value=(s.as_str()) selected[state == Some(s)] { (words::order_state(lang, s)) } }
            }
        }
        label { (lang.pick("日期", "Day")) input type="date" name="day" value=[day.map(|d| d.to_string())]; }
        (station_choice(lang, &stations, selected.as_deref()))
    };
    let body = html! {
        @if can_write {
            section.card {
                h2 { (lang.pick("新订单（点单）", "New order")) }
                form.grid method="post" action="/console/orders" data-testid="place-order" {
                    (layout::csrf(&signed))
                    label { (lang.pick("老人", "Elder"))
                        select name="elder" required {
                            @for m in &board.elders { option value=(m.id) { (m.display_name) } }
                        }
                    }
                    label { (lang.pick("服务", "Service"))
                        select name="service" required {
                            @for s in &board.services { option value=(s.id) { (lang.pick(&s.name_zh, &s.name_en)) } }
                        }
                    }
                    label { (lang.pick("日期", "Day")) input type="date" name="day"; }
                    label { (lang.pick("开始时间", "From")) input type="time" name="from"; }
                    label { (lang.pick("结束时间", "To")) input type="time" name="to"; }
                    label.wide { (lang.pick("说明（需要什么）", "Note (what is needed)")) input type="text" name="note" maxlength=(MAX_NOTE_CHARS); }
                    p.hint.wide { (lang.pick(
                        "日期和时间段可不填；填了日期就要填开始和结束时间。老人的地址和电话只发给接这一单的志愿者。",
                        "Day and time are optional; a day needs a start and an end. The elder's address and phone go to the volunteer of this order only.",
                    )) }
                    div { button.primary type="submit" { (lang.pick("下单", "Place order")) } }
                }
            }
        }
        h2 { (lang.pick("订单", "Orders")) }
        (paging::search(lang, "/console/orders", &q, lang.pick("老人或志愿者的姓名", "elder's or volunteer's name"), filter))
        (paging::list(lang, &rows, "/console/orders", raw.as_deref(), lang.pick("没有找到订单。", "No orders found."), html! {
            table.data {
                thead { tr {
                    th { (lang.pick("老人", "Elder")) } th { (lang.pick("服务 / 说明", "Service / note")) }
                    th { (lang.pick("时间", "When")) } th { (lang.pick("状态", "State")) }
                    th { (lang.pick("志愿者与回复", "Volunteer and reply")) }
                    @if can_write { th { (lang.pick("操作", "Actions")) } }
                } }
                tbody { @for row in &rows.items { (order_row(&signed, row, can_write)) } }
            }
        }))
    };
    Ok(layout::page(&signed, lang.pick("订单", "Orders"), body))
}

fn order_row(signed: &Signed, row: &BoardRow, can_write: bool) -> Markup {
    let lang = signed.lang;
    let id = row.order.id.as_str();
    html! {
        tr data-order=(id) data-state=(row.state.as_str()) {
            td.lead { a.name href=(format!("/console/orders/{id}")) title=(id) { (row.elder_name) } }
            td data-label=(lang.pick("服务", "Service")) {
                (service_label(row.service.as_ref(), &row.order.service, lang))
                @if !row.order.note.is_empty() { br; span data-testid="note" { (row.order.note) } }
            }
            td data-label=(lang.pick("时间", "When")) {
                @match row.order.slot { Some(slot) => { span data-testid="slot" { (lang.slot(slot)) } }, None => { (lang.pick("时间未指定", "any time")) } }
                br; span.hint { (lang.pick("下单于 ", "placed ")) (lang.datetime(row.order.requested_at.timestamp_millis())) }
            }
            td data-label=(lang.pick("状态", "State")) {
                span.badge data-testid="state" { (words::order_state(lang, row.state)) }
                @if let Some(visit) = &row.visit { br; a href=(format!("/console/visits/{visit}")) data-testid="visit-link" { (lang.pick("服务记录", "the visit")) } }
            }
            td data-label=(lang.pick("志愿者", "Volunteer")) {
                @if let Some(name) = &row.volunteer_name { span.name { (name) } }
                @if let Some(a) = &row.assignment {
                    br; span.hint { (lang.pick("派单于 ", "offered ")) (lang.datetime(a.offered_at.timestamp_millis())) }
                    @if let Some(at) = a.responded_at {
                        br; span.hint { (lang.pick("回复于 ", "replied ")) (lang.datetime(at.timestamp_millis())) }
                    }
                    @if !a.decline_reason.is_empty() { br; span data-testid="decline-reason" { (lang.pick("拒单原因：", "Declined: ")) (a.decline_reason) } }
                }
            }
            @if can_write {
                td.actions {
                    @if row.can_dispatch() {
                        a.button.primary href=(format!("/console/orders/{id}")) data-testid="dispatch-link" {
                            @if row.order.dispatched_to.is_some() { (lang.pick("改派…", "Dispatch again…")) } @else { (lang.pick("派单…", "Dispatch…")) }
                        }
                    }
                    @if row.can_cancel() { (cancel_form(signed, id)) }
                }
            }
        }
    }
}

/// The form that cancels order `id`.
pub(crate) fn cancel_form(signed: &Signed, id: &str) -> Markup {
    html! {
        form.inline method="post" action=(format!("/console/orders/{id}/cancel")) {
            (layout::csrf(signed))
            button.danger type="submit" data-testid="cancel" { (signed.lang.pick("取消订单", "Cancel")) }
        }
    }
}

/// `YYYY-MM-DD`, or 400 saying how to write it.
fn parse_day(lang: Lang, raw: &str) -> Result<NaiveDate, PageError> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").map_err(|_| {
        PageError::bad_request(
            lang.pick("日期格式应为 YYYY-MM-DD。没有做任何更改。", "Give the day as YYYY-MM-DD. Nothing was changed."),
        )
    })
}

/// The time slot of the place form (`day`, `from`, `to` in the stations' zone), if a day
/// was given; 400 when a part is missing or unreadable.
fn slot_field(lang: Lang, form: &crate::console::FormData) -> Result<Option<desk::SlotTimes>, PageError> {
    let (day, from, to) = (form.text("day"), form.text("from"), form.text("to"));
    if day.is_empty() && from.is_empty() && to.is_empty() {
        return Ok(None);
    }
    let incomplete = || {
        PageError::bad_request(lang.pick(
            "时间段要填日期、开始时间和结束时间（如 09:00 和 11:00）。没有做任何更改。",
            "A time slot needs a day, a start and an end (like 09:00 and 11:00). Nothing was changed.",
        ))
    };
    let day = parse_day(lang, day)?;
    let at = |raw: &str| {
        let time = NaiveTime::parse_from_str(raw, "%H:%M").map_err(|_| incomplete())?;
        let zone = FixedOffset::east_opt(DISPLAY_OFFSET_SECONDS).ok_or_else(incomplete)?;
        zone.from_local_datetime(&day.and_time(time)).single().map(|t| t.with_timezone(&Utc)).ok_or_else(incomplete)
    };
    Ok(Some((at(from)?, at(to)?)))
}

fn member_field(signed: &Signed, raw: &str, what_zh: &str, what_en: &str) -> Result<MemberId, PageError> {
    MemberId::parse(raw).map_err(|_| {
        PageError::bad_request(format!("{}{}", signed.lang.pick("请选择", "Choose "), signed.lang.pick(what_zh, what_en)))
    })
}

pub(crate) fn order_id(lang: Lang, raw: &str) -> Result<OrderId, PageError> {
    OrderId::parse(raw).map_err(|_| PageError::not_at_station(lang))
}

async fn place(State(relay): State<Arc<Relay>>, SignedForm { signed, form }: SignedForm) -> Result<Response, PageError> {
    let lang = signed.lang;
    let author = author(&signed)?;
    let elder = member_field(&signed, form.text("elder"), "老人。没有做任何更改。", "an elder. Nothing was changed.")?;
    let service = form.text("service").to_owned();
    let note = form.text("note").to_owned();
    let slot = slot_field(lang, &form)?;
    if note.chars().count() > MAX_NOTE_CHARS || note.chars().any(char::is_control) {
        return Err(PageError::bad_request(lang.pick(
            format!("说明最多 {MAX_NOTE_CHARS} 字，不能含控制字符。没有做任何更改。"),
            format!("The note is at most {MAX_NOTE_CHARS} characters, without control characters. Nothing was changed."),
        )));
    }
    let order = {
        let signed = signed.clone();
        blocking(move || {
            // The desk names the new order as the entry's target.
            let audit = audit::entry(&relay, &signed, AuditAction::OrderPlace, "", &format!("{elder} {service}"));
            let new = desk::NewOrder { elder: &elder, service: &service, note: &note, slot };
            let order = desk::place_order_for(&relay, &author, &new, Some(audit)).map_err(|e| not_here(lang, e))?;
            order_words(&relay, &signed, &order)
        })
        .await?
    };
    Ok(redirect(&signed, "/console/orders", Flash::ok(format!("{}{order}", lang.pick("已下单：", "Order placed: ")))))
}

async fn dispatch(
    State(relay): State<Arc<Relay>>,
    Path(order): Path<String>,
    SignedForm { signed, form }: SignedForm,
) -> Result<Response, PageError> {
    let lang = signed.lang;
    let author = author(&signed)?;
    let order = order_id(lang, &order)?;
    let volunteer = member_field(&signed, form.text("volunteer"), "志愿者。没有做任何更改。", "a volunteer. Nothing was changed.")?;
    let (words, to) = {
        let signed = signed.clone();
        blocking(move || {
            let audit = audit::entry(&relay, &signed, AuditAction::OrderDispatch, order.as_str(), volunteer.as_str());
            desk::dispatch(&relay, &author, &order, &volunteer, Some(audit)).map_err(|e| not_here(lang, e))?;
            let to = relay.store().member(&volunteer)?.map(|m| m.display_name).unwrap_or_default();
            Ok((order_words(&relay, &signed, &order)?, to))
        })
        .await?
    };
    Ok(redirect(&signed, "/console/orders", Flash::ok(format!("{}{words} → {to}", lang.pick("已派单：", "Dispatched: ")))))
}

async fn cancel(
    State(relay): State<Arc<Relay>>,
    Path(order): Path<String>,
    SignedForm { signed, form: _ }: SignedForm,
) -> Result<Response, PageError> {
    let lang = signed.lang;
    let author = author(&signed)?;
    let order = order_id(lang, &order)?;
    let words = {
        let signed = signed.clone();
        blocking(move || {
            let audit = audit::entry(&relay, &signed, AuditAction::OrderCancel, order.as_str(), "");
            desk::cancel_order(&relay, &author, &order, Some(audit)).map_err(|e| not_here(lang, e))?;
            order_words(&relay, &signed, &order)
        })
        .await?
    };
    Ok(redirect(&signed, "/console/orders", Flash::ok(format!("{}{words}", lang.pick("已取消订单：", "Cancelled: ")))))
}

/// The order `id` of the coordinator's station in words ("王芳 · 陪伴聊天"), for a banner.
fn order_words(relay: &Relay, signed: &Signed, order: &OrderId) -> Result<String, PageError> {
    let station = signed.writer()?;
    let docs = StationDocs::load(relay, station).map_err(|e| not_here(signed.lang, e))?;
    let Some((found, _)) = docs.order(order) else { return Err(PageError::not_at_station(signed.lang)) };
    let service = docs.catalogue().into_iter().find(|s| s.id == found.service);
    Ok(format!("{} · {}", docs.name(&found.elder), service_label(service.as_ref(), &found.service, signed.lang)))
}
