//! The orders page: the board of the station's orders (点单 placed, 派单 dispatched, 接单
//! accepted or declined, served, cancelled), filtered by state and name, a page at a time;
//! placing an order for an elder, dispatching to a volunteer and cancelling. Each action is
//! the change a coordinator's phone makes ([`crate::desk`]), written by the relay and
//! audited, and its banner names the people.

pub mod board;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use maud::{Markup, html};
use timebank_engine::model::text::MAX_NOTE_CHARS;
use timebank_engine::model::{MemberId, OrderId, OrderState, Role, Service, ServiceKind};

use crate::console::audit::{self, AuditAction};
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
        .route("/orders/{order}/dispatch", post(dispatch))
        .route("/orders/{order}/cancel", post(cancel))
}

/// The station's board with who can be chosen.
struct StationBoard {
    rows: Vec<BoardRow>,
    elders: Vec<MemberRecord>,
    volunteers: Vec<MemberRecord>,
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

async fn orders_page(
    signed: Signed,
    State(relay): State<Arc<Relay>>,
    Listed { query, raw }: Listed,
) -> Result<Markup, PageError> {
    let lang = signed.lang;
    let selected = query.station.clone();
    let q = query.words();
    let state = STATES.into_iter().find(|s| Some(s.as_str()) == query.state.as_deref());
    let (board, rows, stations) = {
        let (signed, q) = (signed.clone(), q.clone());
        blocking(move || {
            let mut all = StationBoard { rows: Vec::new(), elders: Vec::new(), volunteers: Vec::new(), services: Vec::new() };
            for station in signed.visible_stations(&relay, query.station.as_deref())? {
                let docs = StationDocs::load(&relay, &station.id).map_err(|e| not_here(lang, e))?;
                let of = |role: Role| docs.members.iter().filter(|m| m.role == role).cloned().collect::<Vec<_>>();
                all.rows.extend(board::board(&docs));
                all.elders.extend(of(Role::Elder));
                all.volunteers.extend(of(Role::Volunteer));
                if all.services.is_empty() {
                    all.services = docs.catalogue().into_iter().filter(|s| s.kind == ServiceKind::Earning).collect();
                }
            }
            pinyin_order::sort_by_name(&mut all.elders, |m| &m.display_name);
            pinyin_order::sort_by_name(&mut all.volunteers, |m| &m.display_name);
            let rows: Vec<BoardRow> = std::mem::take(&mut all.rows)
                .into_iter()
                .filter(|r| state.is_none_or(|s| s == r.state))
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
                    label { (lang.pick("说明（时间、需要什么）", "Note (when, what is needed)")) input type="text" name="note" maxlength=(MAX_NOTE_CHARS); }
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
                    th { (lang.pick("下单时间", "Placed")) } th { (lang.pick("状态", "State")) }
                    th { (lang.pick("志愿者与回复", "Volunteer and reply")) }
                    @if can_write { th { (lang.pick("操作", "Actions")) } }
                } }
                tbody { @for row in &rows.items { (order_row(&signed, row, &board.volunteers, can_write)) } }
            }
        }))
    };
    Ok(layout::page(&signed, lang.pick("订单", "Orders"), body))
}

fn order_row(signed: &Signed, row: &BoardRow, volunteers: &[MemberRecord], can_write: bool) -> Markup {
    let lang = signed.lang;
    let id = row.order.id.as_str();
    html! {
        tr data-order=(id) data-state=(row.state.as_str()) {
            td.lead { span.name title=(id) { (row.elder_name) } }
            td data-label=(lang.pick("服务", "Service")) {
                (service_label(row.service.as_ref(), &row.order.service, lang))
                @if !row.order.note.is_empty() { br; span data-testid="note" { (row.order.note) } }
            }
            td data-label=(lang.pick("下单时间", "Placed")) { (lang.datetime(row.order.requested_at.timestamp_millis())) }
            td data-label=(lang.pick("状态", "State")) { span.badge data-testid="state" { (words::order_state(lang, row.state)) } }
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
                        form.inline method="post" action=(format!("/console/orders/{id}/dispatch")) {
                            (layout::csrf(signed))
                            select name="volunteer" required aria-label=(lang.pick("志愿者", "Volunteer")) {
                                @for v in volunteers { option value=(v.id) selected[row.order.dispatched_to.as_ref() == Some(&v.id)] { (v.display_name) } }
                            }
                            button.primary type="submit" data-testid="dispatch" { (lang.pick("派单", "Dispatch")) }
                        }
                    }
                    @if row.can_cancel() {
                        form.inline method="post" action=(format!("/console/orders/{id}/cancel")) {
                            (layout::csrf(signed))
                            button.danger type="submit" data-testid="cancel" { (lang.pick("取消订单", "Cancel")) }
                        }
                    }
                }
            }
        }
    }
}

fn member_field(signed: &Signed, raw: &str, what_zh: &str, what_en: &str) -> Result<MemberId, PageError> {
    MemberId::parse(raw).map_err(|_| {
        PageError::bad_request(format!("{}{}", signed.lang.pick("请选择", "Choose "), signed.lang.pick(what_zh, what_en)))
    })
}

fn order_id(lang: Lang, raw: &str) -> Result<OrderId, PageError> {
    OrderId::parse(raw).map_err(|_| PageError::not_at_station(lang))
}

async fn place(State(relay): State<Arc<Relay>>, SignedForm { signed, form }: SignedForm) -> Result<Response, PageError> {
    let lang = signed.lang;
    let author = author(&signed)?;
    let elder = member_field(&signed, form.text("elder"), "老人。没有做任何更改。", "an elder. Nothing was changed.")?;
    let service = form.text("service").to_owned();
    let note = form.text("note").to_owned();
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
            let order = desk::place_order(&relay, &author, &elder, &service, &note, Some(audit)).map_err(|e| not_here(lang, e))?;
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
