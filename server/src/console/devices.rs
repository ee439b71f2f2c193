//! The devices page: every enrolled phone of the station with whose it is, when it
//! enrolled and whether it still syncs, searchable and a page at a time; revoking one
//! after a confirmation page (the same `registry::revoke_device` as the admin command),
//! audited. A member's page lists their devices with the same table.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use maud::{Markup, html};
use timebank_engine::model::MemberId;

use crate::console::audit::{self, AuditAction};
use crate::console::names::id_line;
use crate::console::paging::{self, Listed, Paged};
use crate::console::{Flash, Lang, PageError, Signed, SignedForm, blocking, layout, pinyin_order, redirect, words};
use crate::registry;
use crate::relay::Relay;
use crate::store::{DeviceRecord, MemberRecord, Revocation};

/// The device routes (relative to `/console`).
pub fn routes() -> Router<Arc<Relay>> {
    Router::new().route("/devices", get(devices_page)).route("/devices/{device}/revoke", get(confirm_page).post(revoke))
}

/// A device with its member.
#[derive(Clone, Debug)]
pub struct DeviceRow {
    /// The device.
    pub device: DeviceRecord,
    /// Whose it is.
    pub member: MemberRecord,
}

/// Every device of the members `signed` may see, active first, then by name in pinyin order.
fn visible_devices(relay: &Relay, signed: &Signed, station: Option<&str>) -> Result<Vec<DeviceRow>, PageError> {
    let mut members: HashMap<MemberId, MemberRecord> = HashMap::new();
    for station in signed.visible_stations(relay, station)? {
        members.extend(relay.store().station_members(&station.id)?.into_iter().map(|m| (m.id.clone(), m)));
    }
    let mut rows: Vec<DeviceRow> = relay
        .store()
        .devices()?
        .into_iter()
        .filter_map(|device| Some(DeviceRow { member: members.get(&device.member)?.clone(), device }))
        .collect();
    pinyin_order::sort_by_name(&mut rows, |r| &r.member.display_name);
    rows.sort_by_key(|r| r.device.revoked_at.is_some());
    Ok(rows)
}

async fn devices_page(signed: Signed, State(relay): State<Arc<Relay>>, Listed { query, raw }: Listed) -> Result<Markup, PageError> {
    let lang = signed.lang;
    let q = query.words();
    let state = query.state.clone().unwrap_or_default();
    let paged = {
        let (signed, q, state) = (signed.clone(), q.clone(), state.clone());
        blocking(move || {
            let rows = visible_devices(&relay, &signed, query.station.as_deref())?
                .into_iter()
                .filter(|r| match state.as_str() {
                    "active" => r.device.revoked_at.is_none(),
                    "revoked" => r.device.revoked_at.is_some(),
                    _ => true,
                })
                .filter(|r| pinyin_order::name_matches(&r.member.display_name, &q) || r.device.id.contains(q.trim()))
                .collect();
            Ok(Paged::of(rows, query.page.as_deref()))
        })
        .await?
    };
    let filter = html! {
        label { (lang.pick("状态", "State"))
            select name="state" {
                option value="" { (lang.pick("全部", "All")) }
                option value="active" selected[state == "active"] { (lang.pick("使用中", "active")) }
                option value="revoked" selected[state == "revoked"] { (lang.pick("已停用", "revoked")) }
            }
        }
    };
    Ok(layout::page(
        &signed,
        lang.pick("设备", "Devices"),
        html! {
            p.hint { (lang.pick(
                "每部绑定的手机。停用的手机不能再同步（已经送到服务站的记录都保留）；要再用，需要新的绑定码。",
                "Every enrolled phone. A revoked phone can no longer sync (what reached the station stays); to use it again, it needs a new enrollment code.",
            )) }
            (paging::search(lang, "/console/devices", &q, lang.pick("成员姓名、拼音", "member's name"), filter))
            (paging::list(lang, &paged, "/console/devices", raw.as_deref(), lang.pick("没有找到设备。", "No devices found."), table(&signed, &paged.items, true)))
        },
    ))
}

/// The devices table: whose phone (when `with_member`), enrolled, state, and the way to
/// revoke it (for a coordinator).
pub fn table(signed: &Signed, rows: &[DeviceRow], with_member: bool) -> Markup {
    let lang = signed.lang;
    let writer = signed.writer().is_ok();
    html! {
        table.data {
            thead { tr {
                th { (lang.pick("设备", "Device")) }
                @if with_member { th { (lang.pick("成员", "Member")) } }
                th { (lang.pick("绑定时间", "Enrolled")) }
                th { (lang.pick("状态", "State")) }
                @if writer { th { (lang.pick("操作", "Action")) } }
            } }
            tbody {
                @for row in rows {
                    @let device = &row.device;
                    tr data-device=(device.id) {
                        td.lead { (phone_of(lang, &row.member)) (id_line(&device.id)) }
                        @if with_member {
                            td data-label=(lang.pick("成员", "Member")) {
                                a href={ "/console/members/" (row.member.id) } { (row.member.display_name) }
                                " · " (words::role(lang, row.member.role))
                            }
                        }
                        td data-label=(lang.pick("绑定时间", "Enrolled")) { (lang.datetime(device.created_at)) }
                        td data-label=(lang.pick("状态", "State")) { @match device.revoked_at {
                            Some(at) => span.badge.off { (lang.pick("已停用 ", "revoked ")) (lang.datetime(at)) },
                            None => span.badge { (lang.pick("使用中", "active")) },
                        } }
                        @if writer {
                            td.actions { @if device.revoked_at.is_none() {
                                a.button.danger href={ "/console/devices/" (device.id) "/revoke" } data-testid="revoke" {
                                    (lang.pick("停用…", "Revoke…"))
                                }
                            } }
                        }
                    }
                }
            }
        }
    }
}

/// "张建国的手机".
fn phone_of(lang: Lang, member: &MemberRecord) -> String {
    match lang {
        Lang::Zh => format!("{}的手机", member.display_name),
        Lang::En => format!("{}'s phone", member.display_name),
    }
}

/// The device `raw` if `signed` may see its member; otherwise 404.
fn device_here(relay: &Relay, signed: &Signed, raw: &str) -> Result<DeviceRow, PageError> {
    let device = relay.store().devices()?.into_iter().find(|d| d.id == raw).ok_or_else(|| PageError::not_at_station(signed.lang))?;
    let member = signed.member_here(relay, device.member.as_str())?;
    Ok(DeviceRow { device, member })
}

async fn confirm_page(signed: Signed, State(relay): State<Arc<Relay>>, Path(device): Path<String>) -> Result<Markup, PageError> {
    signed.writer()?;
    let lang = signed.lang;
    let row = {
        let signed = signed.clone();
        blocking(move || device_here(&relay, &signed, &device)).await?
    };
    let name = phone_of(lang, &row.member);
    Ok(layout::page(
        &signed,
        lang.pick("停用设备", "Revoke a device"),
        html! {
            section.card data-testid="confirm-revoke" {
                h2 { (lang.pick("确定停用“", "Revoke “")) (name) (lang.pick("”吗？", "”?")) }
                (id_line(&row.device.id))
                p { (lang.pick(
                    "停用后这部手机不能再同步。已经送到服务站的记录都会保留；这部手机上还没同步的记录不会再送来。要再用这部手机，需要用新的绑定码重新绑定。",
                    "After this the phone can no longer sync. What reached the station stays; what the phone has not yet synced will not arrive. To use the phone again, enroll it with a new code.",
                )) }
                @if row.device.revoked_at.is_some() {
                    p.flash.error role="alert" { (lang.pick("这部手机已经停用了。", "This phone is already revoked.")) }
                } @else {
                    form.inline method="post" action={ "/console/devices/" (row.device.id) "/revoke" } {
                        (layout::csrf(&signed))
                        button.danger.solid type="submit" data-testid="confirm" { (lang.pick("确认停用", "Revoke it")) }
                        a.button href={ "/console/members/" (row.member.id) } { (lang.pick("不停用，返回", "Keep it, go back")) }
                    }
                }
            }
        },
    ))
}

async fn revoke(
    State(relay): State<Arc<Relay>>,
    Path(device): Path<String>,
    SignedForm { signed, .. }: SignedForm,
) -> Result<Response, PageError> {
    signed.writer()?;
    let lang = signed.lang;
    let (row, revocation) = {
        let (relay, signed) = (Arc::clone(&relay), signed.clone());
        blocking(move || {
            let row = device_here(&relay, &signed, &device)?;
            let detail = format!("device of {}", row.member.display_name);
            let audit = audit::entry(&relay, &signed, AuditAction::DeviceRevoke, &row.device.id, &detail);
            let (revocation, _) = registry::revoke_device(&relay, &row.device.id, Some(audit))?;
            Ok((row, revocation))
        })
        .await?
    };
    let name = phone_of(lang, &row.member);
    let message = match revocation {
        Revocation::AlreadyRevoked { .. } => Flash::error(format!("{name}{}", lang.pick("之前已停用。", " was revoked before."))),
        _ => Flash::ok(format!(
            "{}{name}{}",
            lang.pick("设备已停用：", "Device revoked: "),
            lang.pick("。它不能再同步（数据保留）。", ". It can no longer sync (its data stays).")
        )),
    };
    Ok(redirect(&signed, &format!("/console/members/{}", row.member.id), message))
}
