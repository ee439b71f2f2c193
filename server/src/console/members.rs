//! Members at the console: the station's list (searchable by name, pinyin or phone, in
//! pinyin order, a page at a time), registering a person verified in person (the same
//! `registry::register_member` path as `timebank-relay admin member create`), a member's page
//! with their devices, and a one-time enrollment code printed as a slip whose QR code
//! carries the relay's address with the code ([`EnrollLink`]).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, PreEscaped, html};
use timebank_engine::model::{EnrollLink, Role};

use crate::console::audit::{self, AuditAction};
use crate::console::devices::{self, DeviceRow};
use crate::console::names::{id_line, member_link};
use crate::console::paging::{self, ListQuery, Listed, Paged};
use crate::console::{
    Flash, FormData, Lang, PageError, Signed, SignedForm, blocking, layout, personal, pinyin_order, redirect, words,
};
use crate::registry::{self, NewMember, RegistryError};
use crate::relay::Relay;
use crate::store::{MemberContact, MemberRecord, StationRecord};

/// The member routes.
pub fn routes() -> Router<Arc<Relay>> {
    Router::new()
        .route("/members", get(list).post(register))
        .route("/members/{member}", get(detail))
        .route("/members/{member}/enroll-code", post(enroll_code))
}

/// The roles the form offers: (form value, role), staff first in lists.
const ROLES: &[(&str, Role)] =
    &[("volunteer", Role::Volunteer), ("elder", Role::Elder), ("family", Role::FamilyProxy), ("coordinator", Role::Coordinator)];

/// Where a role's members come in the list: staff, volunteers, elders, families.
fn rank(role: Role) -> u8 {
    match role {
        Role::Coordinator => 0,
        Role::Volunteer => 1,
        Role::Elder => 2,
        Role::FamilyProxy => 3,
    }
}

/// A role as the registration form offers it.
fn role_choice(lang: Lang, role: Role) -> &'static str {
    match role {
        Role::Volunteer => lang.pick("志愿者（时光伙伴）", "volunteer"),
        other => words::role(lang, other),
    }
}

struct Row {
    station: String,
    member: MemberRecord,
    contact: MemberContact,
    devices: usize,
}

/// What the list shows: one page of rows, and whether they come from several stations.
struct Listing {
    rows: Paged<Row>,
    stations: usize,
}

async fn list(signed: Signed, State(relay): State<Arc<Relay>>, Listed { query, raw }: Listed) -> Result<Markup, PageError> {
    let listing = load_rows(&relay, &signed, query).await?;
    Ok(members_page(&signed, &listing, raw.as_deref(), &FormData::default(), None))
}

/// Whether `row` is what `q` asks for: the name (or its pinyin or initials), the phone,
/// the household or the id.
fn found(row: &Row, q: &str) -> bool {
    let q = q.trim();
    pinyin_order::name_matches(&row.member.display_name, q)
        || [row.contact.phone.as_deref(), row.member.household.as_ref().map(|h| h.as_str()), Some(row.member.id.as_str())]
            .into_iter()
            .flatten()
            .any(|field| !q.is_empty() && field.replace(' ', "").contains(&q.replace(' ', "")))
}

async fn load_rows(relay: &Arc<Relay>, signed: &Signed, query: ListQuery) -> Result<Listing, PageError> {
    let (relay, signed) = (Arc::clone(relay), signed.clone());
    blocking(move || {
        let devices = relay.store().devices()?;
        let role = ROLES.iter().find(|(value, _)| Some(*value) == query.role.as_deref()).map(|(_, role)| *role);
        let stations = signed.visible_stations(&relay, query.station.as_deref())?;
        let mut rows = Vec::new();
        for station in &stations {
            for member in relay.store().station_members(&station.id)? {
                if role.is_some_and(|r| r != member.role) {
                    continue;
                }
                // Contact details only for the station's own coordinators.
                let contact = if signed.station() == Some(&member.station) {
                    relay.store().member_contact(&member.id)?
                } else {
                    MemberContact::default()
                };
                let count = devices.iter().filter(|d| d.member == member.id && d.revoked_at.is_none()).count();
                rows.push(Row { station: station.name.clone(), member, contact, devices: count });
            }
        }
        let q = query.words();
        rows.retain(|row| found(row, &q));
        // Staff first, then volunteers, elders and families; by name in pinyin order within each.
        pinyin_order::sort_by_name(&mut rows, |r| &r.member.display_name);
        rows.sort_by_key(|r| rank(r.member.role));
        Ok(Listing { rows: Paged::of(rows, query.page.as_deref()), stations: stations.len() })
    })
    .await
}

fn members_page(signed: &Signed, listing: &Listing, raw: Option<&str>, form: &FormData, error: Option<&str>) -> Markup {
    let lang = signed.lang;
    let query: Vec<(String, String)> = form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).into_owned().collect();
    let asked = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    let role_filter = html! {
        label { (lang.pick("角色", "Role"))
            select name="role" {
                option value="" { (lang.pick("全部", "All")) }
                @for (value, role) in ROLES {
                    option value=(value) selected[asked("role") == *value] { (words::role(lang, *role)) }
                }
            }
        }
    };
    let rows = &listing.rows;
    layout::page(
        signed,
        lang.pick("成员", "Members"),
        html! {
            @if signed.writer().is_ok() {
                p { a.button href="#register" { (lang.pick("登记新成员 ↓", "Register a person ↓")) } }
            }
            (paging::search(lang, "/console/members", &asked("q"), lang.pick("姓名、拼音、电话", "name, pinyin, phone"), role_filter))
            (paging::list(lang, rows, "/console/members", raw, lang.pick("没有找到成员。", "No members found."), html! {
                table.data {
                    thead { tr {
                        th { (lang.pick("姓名", "Name")) }
                        @if listing.stations > 1 { th { (lang.pick("服务站", "Station")) } }
                        th { (lang.pick("角色", "Role")) }
                        th.num { (lang.pick("出生年份", "Born")) }
                        th { (lang.pick("户号", "Household")) }
                        th { (lang.pick("电话", "Phone")) }
                        th.num { (lang.pick("设备", "Devices")) }
                    } }
                    tbody {
                        @for row in &rows.items {
                            tr data-member=(row.member.id) {
                                td.lead { (member_link("members", &row.member)) }
                                @if listing.stations > 1 { td data-label=(lang.pick("服务站", "Station")) { (row.station) } }
                                td data-label=(lang.pick("角色", "Role")) { (words::role(lang, row.member.role))
                                     @if row.member.hardship { " " span.badge.warn { (lang.pick("困难", "hardship")) } } }
                                td.num data-label=(lang.pick("出生年份", "Born")) { @if let Some(y) = row.member.birth_year { (y) } }
                                td data-label=(lang.pick("户号", "Household")) translate="no" { @if let Some(h) = &row.member.household { (h) } }
                                td data-label=(lang.pick("电话", "Phone")) { @if let Some(p) = &row.contact.phone { a href={ "tel:" (p.replace(' ', "")) } { (p) } } }
                                td.num data-label=(lang.pick("设备", "Devices")) { (row.devices) }
                            }
                        }
                    }
                }
            }))
            @if signed.writer().is_ok() {
                section.card #register {
                    h2 { (lang.pick("登记新成员（须当面核实身份后）", "Register a person (after verifying them in person)")) }
                    (layout::form_error(error))
                    form.grid method="post" action="/console/members" data-testid="register" {
                        (layout::csrf(signed))
                        label { (lang.pick("姓名", "Name")) input type="text" name="name" value=(form.text("name")) required maxlength="100"; }
                        label { (lang.pick("电话", "Phone")) input type="tel" name="phone" value=(form.text("phone")) maxlength="20"; }
                        label { (lang.pick("出生年份", "Birth year")) input type="number" name="birth_year" value=(form.text("birth_year")) min="1900" max="2100" required; }
                        label { (lang.pick("户号（同住家庭）", "Household (living together)")) input type="text" name="household" value=(form.text("household")) placeholder=(lang.pick("例如 h-12", "e.g. h-12")); }
                        label { (lang.pick("身份证后四位", "ID number, last four")) input type="text" name="id_last4" value=(form.text("id_last4")) maxlength="4" pattern="[0-9]{3}[0-9Xx]"; }
                        label.wide { (lang.pick("住址（老人：只发给接单的志愿者）", "Address (an elder's: sent only to the volunteer of an order)"))
                            input type="text" name="address" value=(form.text("address")) maxlength=(registry::MAX_ADDRESS_CHARS); }
                        label { (lang.pick("角色", "Role"))
                            select name="role" {
                                @for (value, role) in ROLES {
                                    option value=(value) selected[form.text("role") == *value] { (role_choice(lang, *role)) }
                                }
                            }
                        }
                        label.check { input type="checkbox" name="hardship" checked[form.checked("hardship")]; (lang.pick("特殊困难（60 岁起可兑换）", "Special hardship (may redeem from 60)")) }
                        button.primary type="submit" { (lang.pick("登记", "Register")) }
                    }
                }
            }
        },
    )
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
                role: role.as_str(),
                name: form.text("name"),
                birth_year,
                household: Some(form.text("household")).filter(|h| !h.is_empty()),
                hardship: form.checked("hardship"),
            };
            let given = |field: &str| Some(form.text(field)).filter(|v| !v.is_empty());
            let contact = registry::NewContact { phone: given("phone"), id_last4: given("id_last4"), address: given("address") };
            // The registration names the new member as the entry's target.
            let detail = format!("{} ({})", new.name.trim(), role.as_str());
            let audit = audit::entry(&relay, &signed, AuditAction::MemberCreate, "", &detail);
            match registry::register_member(&relay, &new, &contact, Some(audit)) {
                Ok(member) => Ok(Ok(member)),
                Err(RegistryError::Invalid(message)) => Ok(Err(format!(
                    "{}{}",
                    lang.pick("输入有误，没有登记：", "Not registered: "),
                    registration_problem(lang, &message, &form)
                ))),
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
            let listing = load_rows(&relay, &signed, ListQuery::default()).await?;
            Ok((StatusCode::BAD_REQUEST, members_page(&signed, &listing, None, &form, Some(&message))).into_response())
        }
    }
}

/// The birth year and role of the registration form, or what is wrong, in words.
fn check_form(lang: Lang, form: &FormData) -> Result<(u16, Role), String> {
    if form.text("name").is_empty() {
        return Err(lang.pick("请填写姓名。", "Give the person's name.").to_owned());
    }
    let birth_year = form.text("birth_year").parse::<u16>().map_err(|_| {
        lang.pick(
            format!("出生年份“{}”不是年份，请填写四位数字，例如 1948。", form.text("birth_year")),
            format!("The birth year {:?} is not a year: give four digits, e.g. 1948.", form.text("birth_year")),
        )
    })?;
    let role = ROLES.iter().find(|(value, _)| *value == form.text("role")).map(|(_, role)| *role).ok_or_else(|| {
        lang.pick("请选择角色：志愿者、老人、家属代理或协调员。", "Choose a role: volunteer, elder, family or coordinator.").to_owned()
    })?;
    Ok((birth_year, role))
}

/// A refusal of the register (`registry::register_member`, whose messages are English, one
/// per field) in the reader's words, naming the field and what to type.
fn registration_problem(lang: Lang, message: &str, form: &FormData) -> String {
    if lang == Lang::En {
        return message.to_owned();
    }
    if message.starts_with("birth year") {
        format!("出生年份 {} 不合理：请填写 1900 年到今年之间的年份。", form.text("birth_year"))
    } else if message.starts_with("the phone number") {
        format!("电话号码“{}”无法使用：请填写 5 到 15 位数字，可以有空格、短横线和开头的 +。", form.text("phone"))
    } else if message.starts_with("the last four") {
        format!("身份证后四位“{}”无法使用：请填写四位，前三位是数字，最后一位是数字或 X。", form.text("id_last4"))
    } else if message.starts_with("the address") {
        format!("住址无法使用：请写在一行内，1 到 {} 个字。", registry::MAX_ADDRESS_CHARS)
    } else if message.contains("household") {
        format!("户号“{}”无法使用：请用小写字母、数字和短横线，例如 h-12，不要有空格。", form.text("household"))
    } else if message.starts_with("the name") {
        format!("姓名无法使用：请填写 1 到 {} 个字，不含控制字符。", registry::MAX_NAME_CHARS)
    } else {
        "请检查填写的内容后再提交。".to_owned()
    }
}

struct Detail {
    member: MemberRecord,
    station: Option<StationRecord>,
    contact: MemberContact,
    devices: Vec<DeviceRow>,
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
        let devices = relay
            .store()
            .devices()?
            .into_iter()
            .filter(|d| d.member == member.id)
            .map(|device| DeviceRow { device, member: member.clone() })
            .collect();
        let station = relay.store().station(&member.station)?;
        Ok(Detail { member, station, contact, devices })
    })
    .await
}

async fn detail(signed: Signed, State(relay): State<Arc<Relay>>, Path(member): Path<String>) -> Result<Markup, PageError> {
    let detail = load_detail(&relay, &signed, member).await?;
    Ok(detail_page(&signed, &detail, None))
}

/// A one-time code just issued: the code, when it expires, and the link its QR code holds.
struct Issued {
    link: EnrollLink,
    expires: i64,
}

fn detail_page(signed: &Signed, detail: &Detail, issued: Option<&Issued>) -> Markup {
    let lang = signed.lang;
    let member = &detail.member;
    let writer = signed.writer().is_ok();
    let class = issued.map(|_| "slip");
    layout::page_with_class(
        signed,
        &member.display_name,
        class,
        html! {
            @if let Some(issued) = issued { (slip(lang, detail, issued)) }
            div.columns {
                section.card {
                    h2 { (lang.pick("资料", "Details")) }
                    dl.facts {
                        dt { (lang.pick("角色", "Role")) } dd { (words::role(lang, member.role)) }
                        @if let Some(station) = &detail.station { dt { (lang.pick("服务站", "Station")) } dd { (station.name) } }
                        dt { (lang.pick("出生年份", "Birth year")) } dd { @if let Some(y) = member.birth_year { (y) } @else { "—" } }
                        dt { (lang.pick("户号", "Household")) } dd translate="no" { (member.household.as_ref().map_or("—", |h| h.as_str())) }
                        dt { (lang.pick("特殊困难", "Special hardship")) } dd { (words::yes_no(lang, member.hardship)) }
                        @if signed.station() == Some(&member.station) {
                            dt { (lang.pick("电话", "Phone")) } dd { @if let Some(p) = &detail.contact.phone { a href={ "tel:" (p.replace(' ', "")) } { (p) } } @else { "—" } }
                            dt { (lang.pick("身份证后四位", "ID last four")) } dd translate="no" { (detail.contact.id_last4.as_deref().unwrap_or("—")) }
                            dt { (lang.pick("住址", "Address")) } dd data-testid="address" { (detail.contact.address.as_deref().unwrap_or("—")) }
                        }
                        dt { (lang.pick("登记时间", "Registered")) } dd { (lang.datetime(member.created_at)) }
                        dt { (lang.pick("成员编号", "Member id")) } dd { (id_line(member.id.as_str())) }
                    }
                    p.actions {
                        a.button href={ "/console/ledger/" (member.id) } { (lang.pick("查看账本", "Ledger")) }
                        a.button href={ "/console/visits?" (if member.role == Role::Elder { "elder" } else { "volunteer" }) "=" (member.id) } { (lang.pick("服务记录", "Visits")) }
                    }
                }
                @if writer && issued.is_none() {
                    section.card {
                        h2 { (lang.pick("绑定手机", "Enroll a phone")) }
                        p.hint { (lang.pick(
                            "生成一次性绑定码，打印或在屏幕上给成员扫码。绑定码只显示一次，7 天内有效，只能绑定一部手机。",
                            "Issue a one-time code to print or show for scanning. It is shown only once, is valid for 7 days and enrolls one phone.",
                        )) }
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
                (devices::table(signed, &detail.devices, false))
            }
            @if writer && signed.station() == Some(&member.station) { (personal::card(signed, member)) }
        },
    )
}

/// The enrollment slip: who it is for, the QR code (the relay's address with the code),
/// the code and address to type when scanning fails, until when it works, the steps;
/// printing the page prints the slip alone.
fn slip(lang: Lang, detail: &Detail, issued: &Issued) -> Markup {
    let member = &detail.member;
    html! {
        section.card.slip data-testid="slip" {
            h2 { (lang.pick("手机绑定单", "Phone enrollment slip")) }
            p {
                strong { (member.display_name) } " · " (words::role(lang, member.role))
                @if let Some(station) = &detail.station { " · " (station.name) }
            }
            div.columns {
                div.qr data-testid="enroll-qr" data-link=(issued.link.to_uri()) { (qr_svg(&issued.link.to_uri())) }
                div {
                    p { (lang.pick("绑定码", "Code")) br; code.enroll data-testid="enroll-code" translate="no" { (issued.link.code) } }
                    p { (lang.pick("服务器地址", "Relay address")) br; code data-testid="relay-url" translate="no" { (issued.link.relay) } }
                    p { (lang.pick("有效期至 ", "Valid until ")) strong { (lang.datetime(issued.expires)) }
                        (lang.pick("，只能绑定一部手机。", "; it enrolls one phone.")) }
                }
            }
            ol.steps {
                li { (lang.pick("在手机上打开“时间银行”，选择“扫码绑定”，扫描二维码。", "On the phone, open the time bank app, choose “Scan to enroll” and scan the QR code.")) }
                li { (lang.pick("不能扫码时，选择“输入绑定码”，填写服务器地址和绑定码。", "If scanning fails, choose “Type a code” and type the relay address and the code.")) }
                li { (lang.pick("绑定后，手机上会显示成员的姓名。", "Once enrolled, the phone shows the member's name.")) }
            }
            p.hint.no-print { (lang.pick(
                "绑定码只显示这一次。用浏览器菜单里的“打印”打印这张绑定单，页面上别的内容不会印出来。",
                "The code is shown only now. Print this slip with the browser's Print (in its menu); nothing else on the page is printed.",
            )) }
        }
    }
}

/// `text` as an SVG QR code.
fn qr_svg(text: &str) -> Markup {
    match qrcode::QrCode::new(text.as_bytes()) {
        // The SVG is drawn from the code's modules: the text is not in it, nothing to escape.
        Ok(qr) => PreEscaped(qr.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).quiet_zone(true).build()),
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
            let audit = audit::entry(&relay, &signed, AuditAction::EnrollCode, id.as_str(), "one-time code issued");
            Ok(registry::issue_audited_enrollment_code(&relay, id.as_str(), registry::DEFAULT_CODE_DAYS, Some(audit))?)
        })
        .await?
    };
    let issued = Issued { link: EnrollLink { relay: signed.relay_url.clone(), code }, expires };
    Ok(detail_page(&signed, &detail, Some(&issued)))
}
