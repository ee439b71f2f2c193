//! The orders page: the board of the station's orders (点单 placed, 派单 dispatched, 接单
//! accepted or declined, served, cancelled), placing an order for an elder, dispatching to
//! a volunteer and cancelling. Each action is the change a coordinator's phone makes
//! ([`crate::desk`]), written by the relay and audited.

pub mod board;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use maud::{Markup, html};
use timebank_engine::model::text::MAX_NOTE_CHARS;
use timebank_engine::model::{MemberId, OrderId, OrderState, Role, Service, ServiceKind};

use crate::console::review::{author, district_stations, not_here, station_form};
use crate::console::visits::log::service_label;
use crate::console::{Flash, Lang, PageError, Signed, SignedForm, StationQuery, audit, blocking, layout, redirect};
use crate::desk::{self, StationDocs};
use crate::relay::Relay;
use crate::store::{MemberRecord, StationRecord};
use board::BoardRow;

/// The orders routes (relative to `/console`).
pub fn routes() -> Router<Arc<Relay>> {
    Router::new()
        .route("/orders", get(orders_page).post(place))
        .route("/orders/{order}/dispatch", post(dispatch))
        .route("/orders/{order}/cancel", post(cancel))
}

/// One station's board with who can be chosen.
struct StationBoard {
    station: StationRecord,
    rows: Vec<BoardRow>,
    elders: Vec<MemberRecord>,
    volunteers: Vec<MemberRecord>,
    services: Vec<Service>,
}

fn state_label(lang: Lang, state: OrderState) -> &'static str {
    match state {
        OrderState::Requested => lang.pick("点单（待派单）", "requested"),
        OrderState::Dispatched => lang.pick("已派单（待回复）", "dispatched"),
        OrderState::Accepted => lang.pick("已接单", "accepted"),
        OrderState::Declined => lang.pick("已拒单（请重新派单）", "declined"),
        OrderState::Visited => lang.pick("已服务", "visited"),
        OrderState::Confirmed => lang.pick("老人已确认", "confirmed"),
        OrderState::Settled => lang.pick("已结算", "settled"),
        OrderState::Cancelled => lang.pick("已取消", "cancelled"),
    }
}

async fn orders_page(signed: Signed, State(relay): State<Arc<Relay>>, Query(query): Query<StationQuery>) -> Result<Markup, PageError> {
    let lang = signed.lang;
    let selected = query.station.clone();
    let (boards, stations) = {
        let signed = signed.clone();
        blocking(move || {
            let boards = signed
                .visible_stations(&relay, query.station.as_deref())?
                .into_iter()
                .map(|station| {
                    let docs = StationDocs::load(&relay, &station.id).map_err(|e| not_here(lang, e))?;
                    let of = |role: Role| docs.members.iter().filter(|m| m.role == role).cloned().collect::<Vec<_>>();
                    Ok(StationBoard {
                        rows: board::board(&docs),
                        elders: of(Role::Elder),
                        volunteers: of(Role::Volunteer),
                        services: docs.catalogue().into_iter().filter(|s| s.kind == ServiceKind::Earning).collect(),
                        station,
                    })
                })
                .collect::<Result<Vec<_>, PageError>>()?;
            Ok((boards, district_stations(&relay, &signed)?))
        })
        .await?
    };
    let can_write = signed.writer().is_ok();
    let body = html! {
        (station_form(lang, &stations, selected.as_deref(), "/console/orders"))
        @for b in &boards {
            @if boards.len() > 1 { h2 { (b.station.name) " " small.hint { (b.station.id) } } }
            @if can_write {
                h2 { (lang.pick("新订单（点单）", "New order")) }
                form.grid method="post" action="/console/orders" data-testid="place-order" {
                    (layout::csrf(&signed))
                    label { (lang.pick("老人", "Elder"))
                        select name="elder" required {
                            @for m in &b.elders { option value=(m.id) { (m.display_name) } }
                        }
                    }
                    label { (lang.pick("服务", "Service"))
                        select name="service" required {
                            @for s in &b.services { option value=(s.id) { (lang.pick(&s.name_zh, &s.name_en)) } }
                        }
                    }
                    label { (lang.pick("说明（时间、需要什么）", "Note (when, what is needed)")) input type="text" name="note" maxlength=(MAX_NOTE_CHARS); }
                    div { button.primary type="submit" { (lang.pick("下单", "Place order")) } }
                }
            }
            h2 { (lang.pick("订单", "Orders")) }
            @if b.rows.is_empty() {
                p.empty { (lang.pick("还没有订单。", "No orders yet.")) }
            } @else {
                table.data {
                    thead { tr {
                        th { (lang.pick("老人", "Elder")) } th { (lang.pick("服务 / 说明", "Service / note")) }
                        th { (lang.pick("下单时间", "Placed")) } th { (lang.pick("状态", "State")) }
                        th { (lang.pick("志愿者与回复", "Volunteer and reply")) }
                        @if can_write { th { (lang.pick("操作", "Actions")) } }
                    } }
                    tbody { @for row in &b.rows { (order_row(&signed, row, &b.volunteers, can_write)) } }
                }
            }
        }
    };
    Ok(layout::page(&signed, lang.pick("订单", "Orders"), body))
}

fn order_row(signed: &Signed, row: &BoardRow, volunteers: &[MemberRecord], can_write: bool) -> Markup {
    let lang = signed.lang;
    let id = row.order.id.as_str();
    html! {
        tr data-order=(id) data-state=(row.state.as_str()) {
            td { (row.elder_name) }
            td { (service_label(row.service.as_ref(), &row.order.service, lang)) @if !row.order.note.is_empty() { br; span data-testid="note" { (row.order.note) } } br; code.hint { (id) } }
            td { (lang.datetime(row.order.requested_at.timestamp_millis())) }
            td { span.badge data-testid="state" { (state_label(lang, row.state)) } }
            td {
                @if let Some(name) = &row.volunteer_name { (name) }
                @if let Some(a) = &row.assignment {
                    br; span.hint { (lang.pick("派单于 ", "offered ")) (lang.datetime(a.offered_at.timestamp_millis())) }
                    @if let Some(at) = a.responded_at {
                        br; span.hint { (lang.pick("回复于 ", "replied ")) (lang.datetime(at.timestamp_millis())) }
                    }
                    @if !a.decline_reason.is_empty() { br; span data-testid="decline-reason" { (lang.pick("拒单原因：", "Declined: ")) (a.decline_reason) } }
                }
            }
            @if can_write {
                td {
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
            let audit = audit::entry(&relay, &signed, "order.place", "", &format!("{elder} {service}"));
            desk::place_order(&relay, &author, &elder, &service, &note, Some(audit)).map_err(|e| not_here(lang, e))
        })
        .await?
    };
    Ok(redirect(&signed, "/console/orders", Flash::ok(format!("{}{order}", lang.pick("已下单 ", "Order placed: ")))))
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
    {
        let signed = signed.clone();
        let order = order.clone();
        blocking(move || {
            let audit = audit::entry(&relay, &signed, "order.dispatch", order.as_str(), volunteer.as_str());
            desk::dispatch(&relay, &author, &order, &volunteer, Some(audit)).map_err(|e| not_here(lang, e))
        })
        .await?;
    }
    Ok(redirect(&signed, "/console/orders", Flash::ok(format!("{}{order}", lang.pick("已派单 ", "Dispatched order ")))))
}

async fn cancel(
    State(relay): State<Arc<Relay>>,
    Path(order): Path<String>,
    SignedForm { signed, form: _ }: SignedForm,
) -> Result<Response, PageError> {
    let lang = signed.lang;
    let author = author(&signed)?;
    let order = order_id(lang, &order)?;
    {
        let signed = signed.clone();
        let order = order.clone();
        blocking(move || {
            let audit = audit::entry(&relay, &signed, "order.cancel", order.as_str(), "");
            desk::cancel_order(&relay, &author, &order, Some(audit)).map_err(|e| not_here(lang, e))
        })
        .await?;
    }
    Ok(redirect(&signed, "/console/orders", Flash::ok(format!("{}{order}", lang.pick("已取消订单 ", "Cancelled order ")))))
}
