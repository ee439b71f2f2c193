//! One order's page: for whom, what and when, who placed it, where it stands, who it went
//! to and their reply, the visit that served it; and, while it can be dispatched, the
//! volunteer picker (suggestions first: who served this elder before, who is free that
//! day; then every volunteer, searchable by name, pinyin or initials, a page at a time),
//! each with a button that dispatches the order to them.

use std::sync::Arc;

use axum::extract::{Path, State};
use maud::{Markup, html};
use timebank_engine::model::{Assignment, Order, OrderState, Response, VisitId};

use crate::console::names::member_link;
use crate::console::orders::picker::{self, Candidate, SUGGESTED};
use crate::console::orders::{cancel_form, order_id};
use crate::console::paging::{self, Listed, Paged};
use crate::console::review::not_here;
use crate::console::visits::log::service_label;
use crate::console::{Lang, PageError, Signed, blocking, layout, pinyin_order, words};
use crate::desk::{self, StationDocs};
use crate::relay::Relay;
use crate::store::{MemberContact, MemberRecord};

/// What the order page shows.
struct OrderDetail {
    order: Order,
    state: OrderState,
    elder: Option<MemberRecord>,
    placed_by: String,
    volunteer: Option<String>,
    assignment: Option<Assignment>,
    visits: Vec<VisitId>,
    service: String,
    /// The elder's address and phone, for the station's own coordinators only.
    contact: Option<MemberContact>,
    suggested: Vec<Candidate>,
    everyone: Paged<Candidate>,
}

/// `/console/orders/{order}`.
pub async fn order_page(
    signed: Signed,
    State(relay): State<Arc<Relay>>,
    Path(order): Path<String>,
    Listed { query, raw }: Listed,
) -> Result<Markup, PageError> {
    let lang = signed.lang;
    let id = order_id(lang, &order)?;
    let q = query.words();
    let detail = {
        let (signed, q) = (signed.clone(), q.clone());
        blocking(move || {
            for station in signed.visible_stations(&relay, None)? {
                let docs = StationDocs::load(&relay, &station.id).map_err(|e| not_here(lang, e))?;
                if let Some((order, state)) = docs.order(&id) {
                    let contact =
                        (signed.station() == Some(&station.id)).then(|| relay.store().member_contact(&order.elder)).transpose()?;
                    return Ok(OrderDetail { contact, ..detail_of(&docs, order, state, &q, query.page.as_deref(), lang) });
                }
            }
            Err(PageError::not_at_station(lang))
        })
        .await?
    };
    let d = &detail;
    let o = &d.order;
    let oid = o.id.as_str();
    let can_write = signed.writer().is_ok();
    let elder_name = d.elder.as_ref().map_or_else(String::new, |e| e.display_name.clone());
    let body = html! {
        dl.facts data-order=(oid) data-state=(d.state.as_str()) {
            dt { (lang.pick("老人", "Elder")) } dd { @if let Some(e) = &d.elder { (member_link("members", e)) } }
            @if let Some(contact) = &d.contact {
                dt { (lang.pick("住址与电话", "Address and phone")) }
                dd data-testid="contact" {
                    (contact.address.as_deref().unwrap_or("—")) " · " (contact.phone.as_deref().unwrap_or("—"))
                    br; span.hint { (lang.pick(
                        "只发给派单的志愿者，只用于这一单；服务后、拒单或改派后，从其手机上删除。",
                        "Sent to the dispatched volunteer only, for this order only; removed from their phone once served, declined or dispatched to another.",
                    )) }
                }
            }
            dt { (lang.pick("服务", "Service")) } dd { (d.service) }
            dt { (lang.pick("时间", "When")) }
            dd data-testid="slot" { @match o.slot { Some(slot) => { (lang.slot(slot)) }, None => { (lang.pick("时间未指定", "any time")) } } }
            dt { (lang.pick("说明", "Note")) } dd data-testid="note" { (o.note) }
            dt { (lang.pick("下单", "Placed")) } dd { span.name { (d.placed_by) } " · " (lang.datetime(o.requested_at.timestamp_millis())) }
            dt { (lang.pick("状态", "State")) } dd { span.badge data-testid="state" { (words::order_state(lang, d.state)) } }
            dt { (lang.pick("志愿者", "Volunteer")) }
            dd {
                @match (&d.volunteer, &d.assignment) {
                    (Some(name), Some(a)) => {
                        span.name { (name) } " · " (lang.pick("派单于 ", "offered ")) (lang.datetime(a.offered_at.timestamp_millis()))
                        @if let (Some(response), Some(at)) = (a.response, a.responded_at) {
                            br; (reply(lang, response)) " " (lang.datetime(at.timestamp_millis()))
                            @if !a.decline_reason.is_empty() { " · " (a.decline_reason) }
                        }
                    },
                    _ => { (lang.pick("尚未派单", "not dispatched yet")) },
                }
            }
            dt { (lang.pick("服务记录", "Visit")) }
            dd {
                @if d.visits.is_empty() { (lang.pick("尚无", "none yet")) }
                @for visit in &d.visits { a href=(format!("/console/visits/{visit}")) data-testid="visit-link" { (lang.pick("查看服务记录", "the visit")) } " " }
            }
        }
        @if can_write && desk::dispatchable(d.state) {
            section.card data-testid="picker" {
                h2 { (lang.pick("派单给志愿者", "Dispatch to a volunteer")) }
                p.hint { (lang.pick(
                    "推荐：服务过这位老人的，和当天没有其他订单的志愿者。派单后，老人的地址和电话只发给这位志愿者，只用于这一单。",
                    "Suggested: who served this elder before, and who has no other order that day. Once dispatched, the elder's address and phone go to this volunteer only, for this order only.",
                )) }
                @if !d.suggested.is_empty() {
                    h3 { (lang.pick("推荐", "Suggested")) }
                    (candidates(&signed, oid, &d.suggested, &elder_name, "suggested"))
                }
                h3 { (lang.pick("全部志愿者", "Every volunteer")) }
                (paging::search(lang, &format!("/console/orders/{oid}"), &q, lang.pick("姓名、拼音或首字母", "name, pinyin or initials"), html! {}))
                (paging::list(lang, &d.everyone, &format!("/console/orders/{oid}"), raw.as_deref(), lang.pick("没有找到志愿者。", "No volunteer found."),
                    candidates(&signed, oid, &d.everyone.items, &elder_name, "everyone")))
            }
        }
        @if can_write && desk::cancellable(d.state) { p { (cancel_form(&signed, oid)) } }
        p { a href="/console/orders" { (lang.pick("← 返回订单", "← Back to the orders")) } }
    };
    let title = format!("{}{} · {}", lang.pick("订单：", "Order: "), elder_name, d.service);
    Ok(layout::page(&signed, &title, body))
}

fn detail_of(docs: &StationDocs, order: Order, state: OrderState, q: &str, page: Option<&str>, lang: Lang) -> OrderDetail {
    let service = docs.catalogue().into_iter().find(|s| s.id == order.service);
    let mut volunteers: Vec<MemberRecord> = docs.members.clone();
    pinyin_order::sort_by_name(&mut volunteers, |m| &m.display_name);
    let all = picker::candidates(docs, &order, &volunteers);
    let suggested: Vec<Candidate> = all.iter().filter(|c| c.suggested()).take(SUGGESTED).cloned().collect();
    let mut everyone: Vec<Candidate> = all.into_iter().filter(|c| pinyin_order::name_matches(&c.volunteer.display_name, q)).collect();
    pinyin_order::sort_by_name(&mut everyone, |c| &c.volunteer.display_name);
    OrderDetail {
        elder: docs.member(&order.elder).cloned(),
        placed_by: docs.name(&order.requested_by),
        volunteer: order.dispatched_to.as_ref().map(|v| docs.name(v)),
        assignment: docs.assignment(&order),
        visits: docs.visits().into_iter().filter(|v| v.order.as_ref() == Some(&order.id)).map(|v| v.id).collect(),
        service: service_label(service.as_ref(), &order.service, lang),
        contact: None,
        suggested,
        everyone: Paged::of(everyone, page),
        order,
        state,
    }
}

fn reply(lang: Lang, response: Response) -> &'static str {
    match response {
        Response::Accepted => lang.pick("已接单", "accepted"),
        Response::Declined => lang.pick("已拒单", "declined"),
    }
}

/// Volunteers to choose from, each with what speaks for them and a button that dispatches
/// order `order` to them.
fn candidates(signed: &Signed, order: &str, list: &[Candidate], elder: &str, list_id: &str) -> Markup {
    let lang = signed.lang;
    html! {
        table.data data-testid=(list_id) {
            thead { tr { th { (lang.pick("志愿者", "Volunteer")) } th { (lang.pick("情况", "Notes")) } th { (lang.pick("派单", "Dispatch")) } } }
            tbody {
                @for c in list {
                    tr data-volunteer=(c.volunteer.id) {
                        td.lead { span.name title=(c.volunteer.id) { (c.volunteer.display_name) } }
                        td data-label=(lang.pick("情况", "Notes")) {
                            @if c.served_before > 0 {
                                span.badge data-testid="served-before" {
                                    (lang.pick("服务过", "served ")) (elder) " " (c.served_before) (lang.pick(" 次", " times"))
                                }
                                @if let Some(at) = c.last_served { " " span.hint { (lang.pick("最近 ", "last ")) (lang.date(at)) } }
                                " "
                            }
                            @if c.busy == 0 {
                                span.badge data-testid="free" { (lang.pick("当天有空", "free that day")) }
                            } @else {
                                span.badge.off { (lang.pick("当天另有 ", "")) (c.busy) (lang.pick(" 个订单", " other orders that day")) }
                            }
                        }
                        td.actions {
                            form.inline method="post" action=(format!("/console/orders/{order}/dispatch")) {
                                (layout::csrf(signed))
                                input type="hidden" name="volunteer" value=(c.volunteer.id);
                                button.primary type="submit" data-testid="dispatch" { (lang.pick("派给此人", "Dispatch")) }
                            }
                        }
                    }
                }
            }
        }
    }
}
