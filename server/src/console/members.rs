//! Members at the console: the station's list, registering a person verified in person
//! (the same `registry::register_member` path as `timebank-relay admin member create`), a
//! member's page with their devices, one-time enrollment codes (text and QR), revocation.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, PreEscaped, html};

use crate::registry::{self, NewMember};
use crate::console::{Flash, FormData, Lang, PageError, Signed, SignedForm, StationQuery, audit, blocking, layout, redirect};
use crate::relay::Relay;
use crate::store::{DeviceRecord, MemberContact, MemberRecord, Revocation, StationRecord};

/// The member routes.
pub fn routes() -> Router<Arc<Relay>> {
    Router::new()
        .route("/members", get(list).post(register))
        .route("/members/{member}", get(detail))
        .route("/members/{member}/enroll-code", post(enroll_code))
        .route("/devices/{device}/revoke", post(revoke))
}

/// The roles the form offers: (form value, stored role, Chinese, English).
const ROLES: &[(&str, &str, &str, &str)] = &[
    ("volunteer", "volunteer", "志愿者（时光伙伴）", "volunteer"),
    ("elder", "elder", "老人", "elder"),
    ("family", "family-proxy", "家属代理", "family proxy"),
    ("coordinator", "coordinator", "协调员", "coordinator"),
];

/// A role's name for people.
pub fn role_name(lang: Lang, stored: &str) -> &'static str {
    ROLES.iter().find(|(_, s, _, _)| *s == stored).map_or("?", |(_, _, zh, en)| lang.pick(*zh, *en))
}

struct Row {
    member: MemberRecord,
    contact: MemberContact,
    devices: usize,
}

async fn list(signed: Signed, State(relay): State<Arc<Relay>>, Query(query): Query<StationQuery>) -> Result<Markup, PageError> {
    let rows = load_rows(&relay, &signed, query.station).await?;
    Ok(members_page(&signed, &rows, &FormData::default(), None))
}

async fn load_rows(relay: &Arc<Relay>, signed: &Signed, station: Option<String>) -> Result<Vec<(StationRecord, Vec<Row>)>, PageError> {
    let (relay, signed) = (Arc::clone(relay), signed.clone());
    blocking(move || {
        let devices = relay.store().devices()?;
        let mut out = Vec::new();
        for station in signed.visible_stations(&relay, station.as_deref())? {
            let mut rows = Vec::new();
            for member in relay.store().station_members(&station.id)? {
                // Contact details only for the station's own coordinators.
                let contact = if signed.station() == Some(&member.station) {
                    relay.store().member_contact(&member.id)?
                } else {
                    MemberContact::default()
                };
                let count = devices.iter().filter(|d| d.member == member.id && d.revoked_at.is_none()).count();
                rows.push(Row { member, contact, devices: count });
            }
            // Staff first, then volunteers, elders and families; by name within each.
            let rank = |r: &Row| ROLES.iter().rev().position(|(_, stored, ..)| *stored == r.member.role.as_str());
            rows.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.member.display_name.cmp(&b.member.display_name)));
            out.push((station, rows));
        }
        Ok(out)
    })
    .await
}

fn members_page(signed: &Signed, stations: &[(StationRecord, Vec<Row>)], form: &FormData, error: Option<&str>) -> Markup {
    let lang = signed.lang;
    layout::page(signed, lang.pick("成员", "Members"), html! {
        @if signed.writer().is_ok() {
            section.card {
                h2 { (lang.pick("登记新成员（须当面核实身份后）", "Register a person (after verifying them in person)")) }
                (layout::form_error(error))
                form.grid method="post" action="/console/members" data-testid="register" {
                    (layout::csrf(signed))
                    label { (lang.pick("姓名", "Name")) input type="text" name="name" value=(form.text("name")) required maxlength="100"; }
                    label { (lang.pick("电话", "Phone")) input type="tel" name="phone" value=(form.text("phone")) maxlength="20"; }
                    label { (lang.pick("出生年份", "Birth year")) input type="number" name="birth_year" value=(form.text("birth_year")) min="1900" max="2100" required; }
                    label { (lang.pick("户号（同住家庭）", "Household (living together)")) input type="text" name="household" value=(form.text("household")) placeholder="h-…"; }
                    label { (lang.pick("身份证后四位", "ID number, last four")) input type="text" name="id_last4" value=(form.text("id_last4")) maxlength="4" pattern="[0-9]{3}[0-9Xx]"; }
                    label { (lang.pick("角色", "Role"))
                        select name="role" {
                            @for (value, _, zh, en) in ROLES {
                                option value=(value) selected[form.text("role") == *value] { (lang.pick(*zh, *en)) }
                            }
                        }
                    }
                    label.check { input type="checkbox" name="hardship" checked[form.checked("hardship")]; (lang.pick("特殊困难（60 岁起可兑换）", "Special hardship (may redeem from 60)")) }
                    button.primary type="submit" { (lang.pick("登记", "Register")) }
                }
            }
        }
        @for (station, rows) in stations {
            h2 { (station.name) " " span.badge { (station.id) } }
            @if rows.is_empty() {
                p.empty { (lang.pick("还没有成员。", "No members yet.")) }
            } @else {
                table.data {
                    thead { tr {
                        th { (lang.pick("姓名", "Name")) }
                        th { (lang.pick("角色", "Role")) }
                        th.num { (lang.pick("出生年份", "Born")) }
                        th { (lang.pick("户号", "Household")) }
                        th { (lang.pick("电话", "Phone")) }
                        th.num { (lang.pick("设备", "Devices")) }
                    } }
                    tbody {
                        @for row in rows {
                            tr data-member=(row.member.id) {
                                td { a href={ "/console/members/" (row.member.id) } { (row.member.display_name) } }
                                td { (role_name(lang, row.member.role.as_str()))
                                     @if row.member.hardship { " " span.badge.warn { (lang.pick("困难", "hardship")) } } }
                                td.num { @if let Some(y) = row.member.birth_year { (y) } }
                                td { @if let Some(h) = &row.member.household { (h) } }
                                td { @if let Some(p) = &row.contact.phone { (p) } }
                                td.num { (row.devices) }
                            }
                        }
                    }
                }
            }
        }
    })
}

async fn register(State(relay): State<Arc<Relay>>, SignedForm { signed, form }: SignedForm) -> Result<Response, PageError> {
    let station = signed.writer()?.clone();
    let lang = signed.lang;
    let outcome = {
        let (relay, signed, form) = (Arc::clone(&relay), signed.clone(), form.clone());
        blocking(move || {
            let checked = check_form(lang, &form);
            let (birth_year, role) = match checked {
                Ok(values) => values,
                Err(message) => return Ok(Err(message)),
            };
            let new = NewMember {
                station: station.as_str(),
                role,
                name: form.text("name"),
                birth_year,
                household: Some(form.text("household")).filter(|h| !h.is_empty()),
                hardship: form.checked("hardship"),
            };
            let phone = Some(form.text("phone")).filter(|p| !p.is_empty());
            let id_last4 = Some(form.text("id_last4")).filter(|p| !p.is_empty());
            // The registration names the new member as the entry's target.
            let audit = audit::entry(&relay, &signed, "member.create", "", &format!("{} ({role})", new.name.trim()));
            match registry::register_member(&relay, &new, phone, id_last4, Some(audit)) {
                Ok(member) => Ok(Ok(member)),
                Err(registry::RegistryError::Invalid(message)) => {
                    Ok(Err(format!("{} {message}", lang.pick("输入有误，没有登记：", "Not registered:"))))
                }
                Err(other) => Err(other.into()),
            }
        })
        .await?
    };
    match outcome {
        Ok(member) => Ok(redirect(
            &signed,
            &format!("/console/members/{}", member.id),
            Flash::ok(format!("{} {}", lang.pick("已登记：", "Registered:"), member.display_name)),
        )),
        Err(message) => {
            let rows = load_rows(&relay, &signed, None).await?;
            Ok((StatusCode::BAD_REQUEST, members_page(&signed, &rows, &form, Some(&message))).into_response())
        }
    }
}

/// The birth year and stored role of the registration form, or what is wrong, in words.
fn check_form(lang: Lang, form: &FormData) -> Result<(u16, &'static str), String> {
    if form.text("name").is_empty() {
        return Err(lang.pick("请填写姓名。", "Give the person's name.").to_owned());
    }
    let birth_year = form.text("birth_year").parse::<u16>().map_err(|_| {
        lang.pick(
            format!("出生年份“{}”不是年份，请填写四位数字，例如 1948。", form.text("birth_year")),
            format!("The birth year {:?} is not a year: give four digits, e.g. 1948.", form.text("birth_year")),
        )
    })?;
    let role = ROLES.iter().find(|(value, ..)| *value == form.text("role")).map(|(_, stored, ..)| *stored).ok_or_else(|| {
        lang.pick("请选择角色：志愿者、老人、家属代理或协调员。", "Choose a role: volunteer, elder, family or coordinator.")
            .to_owned()
    })?;
    Ok((birth_year, role))
}

struct Detail {
    member: MemberRecord,
    contact: MemberContact,
    devices: Vec<DeviceRecord>,
}

async fn load_detail(relay: &Arc<Relay>, signed: &Signed, raw: String) -> Result<Detail, PageError> {
    let (relay, signed) = (Arc::clone(relay), signed.clone());
    blocking(move || {
        let member = signed.member_here(&relay, &raw)?;
        let contact = if signed.station() == Some(&member.station) {
            relay.store().member_contact(&member.id)?
        } else {
            MemberContact::default()
        };
        let devices = relay.store().devices()?.into_iter().filter(|d| d.member == member.id).collect();
        Ok(Detail { member, contact, devices })
    })
    .await
}

async fn detail(signed: Signed, State(relay): State<Arc<Relay>>, Path(member): Path<String>) -> Result<Markup, PageError> {
    let detail = load_detail(&relay, &signed, member).await?;
    Ok(detail_page(&signed, &detail, None))
}

fn detail_page(signed: &Signed, detail: &Detail, code: Option<(&str, i64)>) -> Markup {
    let lang = signed.lang;
    let member = &detail.member;
    let writer = signed.writer().is_ok();
    layout::page(signed, &member.display_name, html! {
        div.columns {
            section.card {
                h2 { (lang.pick("资料", "Details")) }
                dl.facts {
                    dt { (lang.pick("编号", "Id")) } dd { code { (member.id) } }
                    dt { (lang.pick("角色", "Role")) } dd { (role_name(lang, member.role.as_str())) }
                    dt { (lang.pick("出生年份", "Birth year")) } dd { @if let Some(y) = member.birth_year { (y) } }
                    dt { (lang.pick("户号", "Household")) } dd { @if let Some(h) = &member.household { (h) } }
                    dt { (lang.pick("特殊困难", "Special hardship")) } dd { (if member.hardship { lang.pick("是", "yes") } else { lang.pick("否", "no") }) }
                    @if signed.station() == Some(&member.station) {
                        dt { (lang.pick("电话", "Phone")) } dd { @if let Some(p) = &detail.contact.phone { (p) } }
                        dt { (lang.pick("身份证后四位", "ID last four")) } dd { @if let Some(l) = &detail.contact.id_last4 { (l) } }
                    }
                    dt { (lang.pick("登记时间", "Registered")) } dd { (lang.datetime(member.created_at)) }
                }
                p { a href={ "/console/ledger/" (member.id) } { (lang.pick("查看账本 →", "Ledger →")) } }
            }
            section.card {
                h2 { (lang.pick("绑定手机", "Enroll a phone")) }
                @if let Some((code, expires)) = code {
                    p { (lang.pick("一次性绑定码（只显示这一次）：", "One-time enrollment code (shown only now):")) }
                    p { code.enroll data-testid="enroll-code" { (code) } }
                    div.qr data-testid="enroll-qr" { (qr_svg(code)) }
                    p.hint { (lang.pick("有效期至 ", "Valid until ")) (lang.datetime(expires))
                             (lang.pick("，只能绑定一台设备。", "; it enrolls one device.")) }
                } @else if writer {
                    p.hint { (lang.pick("生成一次性绑定码，在成员的手机上输入或扫码。", "Issue a one-time code to type or scan on the member's phone.")) }
                }
                @if writer {
                    form method="post" action={ "/console/members/" (member.id) "/enroll-code" } {
                        (layout::csrf(signed))
                        button.primary type="submit" { (lang.pick("生成绑定码", "Issue an enrollment code")) }
                    }
                }
            }
        }
        h2 { (lang.pick("设备", "Devices")) }
        @if detail.devices.is_empty() {
            p.empty { (lang.pick("还没有绑定设备。", "No device enrolled yet.")) }
        } @else {
            table.data {
                thead { tr {
                    th { (lang.pick("设备", "Device")) }
                    th { (lang.pick("绑定时间", "Enrolled")) }
                    th { (lang.pick("状态", "State")) }
                    th {}
                } }
                tbody {
                    @for device in &detail.devices {
                        tr data-device=(device.id) {
                            td { code { (device.id) } }
                            td { (lang.datetime(device.created_at)) }
                            td { @match device.revoked_at {
                                Some(at) => span.badge.off { (lang.pick("已停用 ", "revoked ")) (lang.datetime(at)) },
                                None => span.badge { (lang.pick("使用中", "active")) },
                            } }
                            td { @if writer && device.revoked_at.is_none() {
                                form.inline method="post" action={ "/console/devices/" (device.id) "/revoke" } {
                                    (layout::csrf(signed))
                                    button.danger type="submit" { (lang.pick("停用此设备", "Revoke")) }
                                }
                            } }
                        }
                    }
                }
            }
        }
    })
}

/// The code as an SVG QR code (the code alone: what a phone types).
fn qr_svg(code: &str) -> Markup {
    match qrcode::QrCode::new(code.as_bytes()) {
        // The SVG is generated from the code's own alphabet (A–Z, 2–9): nothing to escape.
        Ok(qr) => PreEscaped(qr.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).build()),
        Err(error) => html! { p.flash.error { "QR: " (error.to_string()) } },
    }
}

async fn enroll_code(
    State(relay): State<Arc<Relay>>,
    Path(member): Path<String>,
    SignedForm { signed, .. }: SignedForm,
) -> Result<Markup, PageError> {
    signed.writer()?;
    let detail = load_detail(&relay, &signed, member).await?;
    let (code, expires) = {
        let (relay, signed, id) = (Arc::clone(&relay), signed.clone(), detail.member.id.clone());
        blocking(move || {
            let audit = audit::entry(&relay, &signed, "member.enroll-code", id.as_str(), "one-time code issued");
            Ok(registry::issue_audited_enrollment_code(&relay, id.as_str(), registry::DEFAULT_CODE_DAYS, Some(audit))?)
        })
        .await?
    };
    Ok(detail_page(&signed, &detail, Some((&code, expires))))
}

async fn revoke(
    State(relay): State<Arc<Relay>>,
    Path(device): Path<String>,
    SignedForm { signed, .. }: SignedForm,
) -> Result<Response, PageError> {
    signed.writer()?;
    let lang = signed.lang;
    let (member, revocation) = {
        let (relay, signed) = (Arc::clone(&relay), signed.clone());
        blocking(move || {
            let found = relay.store().devices()?.into_iter().find(|d| d.id == device);
            let Some(found) = found else { return Err(PageError::not_at_station(lang)) };
            let member = signed.member_here(&relay, found.member.as_str())?;
            let audit = audit::entry(&relay, &signed, "device.revoke", &found.id, &format!("device of {}", member.display_name));
            let (revocation, _) = registry::revoke_device(&relay, &found.id, Some(audit))?;
            Ok((member, revocation))
        })
        .await?
    };
    let message = match revocation {
        Revocation::AlreadyRevoked { .. } => Flash::error(lang.pick("该设备之前已停用。", "That device was revoked before.")),
        _ => Flash::ok(lang.pick("设备已停用，它不能再同步（数据保留）。", "Device revoked: it can no longer sync (its data stays).")),
    };
    Ok(redirect(&signed, &format!("/console/members/{}", member.id), message))
}
