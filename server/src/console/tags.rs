//! The elders' NFC tags page (ADR 29): the station's tags with whose they are and whether
//! they are in use; registering a tag for an elder, replacing it (the old one revoked) and
//! revoking it, each audited and through the same registry functions as the admin command;
//! the keys for the tag-writing step (secret, shown on its own page, audited); and the
//! station's rule for visits the relay verified at both ends.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use maud::{Markup, html};
use timebank_engine::DocId;
use timebank_engine::documents::station;
use timebank_engine::model::{Role, VerifiedVisits};

use crate::console::audit::{self, AuditAction};
use crate::console::names::id_line;
use crate::console::review::author;
use crate::console::{Flash, Lang, PageError, Signed, SignedForm, blocking, layout, redirect};
use crate::desk::StationDocs;
use crate::registry::{self, TagNeeded};
use crate::relay::Relay;
use crate::store::{MemberRecord, Revocation, TagRecord};

/// The tag routes (relative to `/console`).
pub fn routes() -> Router<Arc<Relay>> {
    Router::new()
        .route("/tags", get(tags_page))
        .route("/tags/register", post(register))
        .route("/tags/rule", post(set_rule))
        .route("/tags/{uid}/replace", post(replace))
        .route("/tags/{uid}/revoke", post(revoke))
        .route("/tags/{uid}/export", get(export_page))
}

/// A tag with its elder.
struct TagRow {
    tag: TagRecord,
    elder: Option<MemberRecord>,
}

/// What the page shows: the station's tags, its elders, those who moved in and need a tag
/// here, and its rule.
struct Station {
    rows: Vec<TagRow>,
    elders: Vec<MemberRecord>,
    needed: Vec<TagNeeded>,
    rule: VerifiedVisits,
}

fn station_tags(relay: &Relay, signed: &Signed) -> Result<Station, PageError> {
    let here = signed.writer()?.clone();
    let members = relay.store().station_members(&here)?;
    let rows = relay
        .store()
        .station_tags(&here)?
        .into_iter()
        .map(|tag| TagRow { elder: members.iter().find(|m| m.id == tag.elder).cloned(), tag })
        .collect();
    let docs = StationDocs::load(relay, &here).map_err(|e| PageError::internal(e.to_string()))?;
    let rule = docs.get(&DocId::Station(here.clone())).map(station::verified_visits).unwrap_or_default();
    let needed = registry::tags_needed(relay, &here)?;
    Ok(Station { rows, elders: members.into_iter().filter(|m| m.role == Role::Elder).collect(), needed, rule })
}

fn rule_words(lang: Lang, rule: VerifiedVisits) -> &'static str {
    match rule {
        VerifiedVisits::Queue => lang.pick("和其他记录一样逐条审核", "reviewed one by one like any visit"),
        VerifiedVisits::Bulk => lang.pick("可以批量批准", "may be approved together"),
        VerifiedVisits::Auto => lang.pick(
            "自动批准（其他规则照常：上限、迟交、重叠）",
            "approved automatically (the other rules still apply: caps, late, overlaps)",
        ),
    }
}

async fn tags_page(signed: Signed, State(relay): State<Arc<Relay>>) -> Result<Markup, PageError> {
    let lang = signed.lang;
    let station = {
        let signed = signed.clone();
        blocking(move || station_tags(&relay, &signed)).await?
    };
    Ok(layout::page(
        &signed,
        lang.pick("老人的卡片", "Elders' tags"),
        html! {
            p.hint { (lang.pick(
                "每位没有智能手机的老人在家里放一张卡片（NFC）。志愿者到达和离开时用手机碰一下卡片，服务器核对卡片，证明志愿者确实在老人家里。",
                "Each elder without a smartphone keeps a tag (NFC) at home. The volunteer's phone touches it on arrival and on leaving; the relay checks the tag, proving the volunteer was at the elder's home.",
            )) }
            section.card data-testid="rule" {
                h2 { (lang.pick("核实过的记录", "Verified visits")) }
                p { (lang.pick("到达和离开都核实过的记录：", "Visits verified at arrival and at leaving are ")) strong data-testid="rule-now" { (rule_words(lang, station.rule)) } }
                form.inline method="post" action="/console/tags/rule" {
                    (layout::csrf(&signed))
                    select name="rule" aria-label=(lang.pick("规则", "Rule")) {
                        @for rule in [VerifiedVisits::Queue, VerifiedVisits::Bulk, VerifiedVisits::Auto] {
                            option value=(rule.as_str()) selected[rule == station.rule] { (rule_words(lang, rule)) }
                        }
                    }
                    button type="submit" data-testid="set-rule" { (lang.pick("保存", "Save")) }
                }
            }
            @if !station.needed.is_empty() {
                section.card data-testid="tags-needed" {
                    h2 { (lang.pick("迁入的老人需要登记新卡片", "Elders who moved here need a tag")) }
                    p.hint { (lang.pick(
                        "原站点的卡片随迁出停用：用它碰卡的记录要等协调员审核。请为老人登记一张本站点的卡片。",
                        "Their tag at the station they left was revoked with the move: visits tapped with it wait for a coordinator. Register a tag of this station for them.",
                    )) }
                    ul { @for needed in &station.needed {
                        li data-elder=(needed.elder.id) {
                            a href={ "/console/members/" (needed.elder.id) } { (needed.elder.display_name) }
                            " · " (lang.pick("原站点卡片 ", "tag ")) (id_line(&needed.left.uid))
                            (lang.pick("已停用 ", "revoked ")) (needed.left.revoked_at.map(|at| lang.datetime(at)).unwrap_or_default())
                        }
                    } }
                }
            }
            section.card {
                h2 { (lang.pick("登记新卡片", "Register a tag")) }
                form.inline method="post" action="/console/tags/register" {
                    (layout::csrf(&signed))
                    select name="elder" aria-label=(lang.pick("老人", "Elder")) {
                        @for elder in &station.elders { option value=(elder.id) { (elder.display_name) } }
                    }
                    input type="text" name="uid" required maxlength="32" placeholder=(lang.pick("卡片编号（14位）", "Tag UID (14 hex digits)")) aria-label=(lang.pick("卡片编号", "Tag UID"));
                    button.primary type="submit" data-testid="register-tag" { (lang.pick("登记", "Register")) }
                }
            }
            @if station.rows.is_empty() {
                p.empty data-testid="no-tags" { (lang.pick("还没有登记卡片。", "No tags are registered yet.")) }
            } @else {
                table.data {
                    thead { tr {
                        th { (lang.pick("老人", "Elder")) }
                        th { (lang.pick("卡片", "Tag")) }
                        th { (lang.pick("状态", "State")) }
                        th { (lang.pick("操作", "Action")) }
                    } }
                    tbody { @for row in &station.rows { (tag_row(&signed, row)) } }
                }
            }
        },
    ))
}

fn tag_row(signed: &Signed, row: &TagRow) -> Markup {
    let lang = signed.lang;
    let tag = &row.tag;
    html! {
        tr data-tag=(tag.uid) {
            td.lead { @match &row.elder {
                Some(elder) => a href={ "/console/members/" (elder.id) } { (elder.display_name) },
                None => (tag.elder),
            } }
            td data-label=(lang.pick("卡片", "Tag")) { (id_line(&tag.uid)) (lang.pick("登记于 ", "registered ")) (lang.datetime(tag.registered_at)) }
            td data-label=(lang.pick("状态", "State")) { @match tag.revoked_at {
                Some(at) => span.badge.off { (lang.pick("已停用 ", "revoked ")) (lang.datetime(at)) " " (tag.revoked_why.clone().unwrap_or_default()) },
                None => span.badge { (lang.pick("使用中", "in use")) },
            } }
            td.actions { @if tag.revoked_at.is_none() {
                a.button href={ "/console/tags/" (tag.uid) "/export" } data-testid="export" { (lang.pick("写卡数据", "Keys to write it")) }
                form.inline method="post" action={ "/console/tags/" (tag.uid) "/replace" } {
                    (layout::csrf(signed))
                    input type="text" name="uid" required maxlength="32" placeholder=(lang.pick("新卡片编号", "New tag UID")) aria-label=(lang.pick("新卡片编号", "New tag UID"));
                    button type="submit" data-testid="replace" { (lang.pick("换卡", "Replace")) }
                }
                form.inline method="post" action={ "/console/tags/" (tag.uid) "/revoke" } {
                    (layout::csrf(signed))
                    input type="text" name="reason" maxlength=(crate::console::MAX_REASON_CHARS) placeholder=(lang.pick("原因（如：丢失）", "Why (lost, …)")) aria-label=(lang.pick("原因", "Why"));
                    button.danger type="submit" data-testid="revoke" { (lang.pick("停用", "Revoke")) }
                }
            } }
        }
    }
}

/// The tag `uid` of the signed-in coordinator's station, or 404.
fn tag_here(relay: &Relay, signed: &Signed, uid: &str) -> Result<TagRecord, PageError> {
    let here = signed.writer()?;
    relay.store().tag(&uid.to_ascii_lowercase())?.filter(|t| t.station == *here).ok_or_else(|| PageError::not_at_station(signed.lang))
}

async fn register(State(relay): State<Arc<Relay>>, SignedForm { signed, form }: SignedForm) -> Result<Response, PageError> {
    let (elder, uid) = (form.text("elder").trim().to_owned(), form.text("uid").trim().to_owned());
    let tag = {
        let signed = signed.clone();
        blocking(move || {
            let here = signed.writer()?.clone();
            signed.member_here(&relay, &elder)?;
            let audit = audit::entry(&relay, &signed, AuditAction::TagRegister, &uid, &elder);
            Ok(registry::register_tag(&relay, &here, &elder, &uid, &signed.username, Some(audit))?)
        })
        .await?
    };
    Ok(redirect(&signed, "/console/tags", Flash::ok(format!("{}{}", signed.lang.pick("已登记卡片：", "Tag registered: "), tag.uid))))
}

async fn replace(
    State(relay): State<Arc<Relay>>,
    Path(old): Path<String>,
    SignedForm { signed, form }: SignedForm,
) -> Result<Response, PageError> {
    let uid = form.text("uid").trim().to_owned();
    let tag = {
        let signed = signed.clone();
        blocking(move || {
            let old = tag_here(&relay, &signed, &old)?;
            let audit = audit::entry(&relay, &signed, AuditAction::TagReplace, &uid, &format!("replaces {}", old.uid));
            Ok(registry::replace_tag(&relay, &old.station, old.elder.as_str(), &uid, &signed.username, Some(audit))?)
        })
        .await?
    };
    Ok(redirect(
        &signed,
        "/console/tags",
        Flash::ok(format!("{}{}", signed.lang.pick("已换卡，新卡片：", "Tag replaced; the new one: "), tag.uid)),
    ))
}

async fn revoke(
    State(relay): State<Arc<Relay>>,
    Path(uid): Path<String>,
    SignedForm { signed, form }: SignedForm,
) -> Result<Response, PageError> {
    let lang = signed.lang;
    let reason = form.reason(lang)?;
    let done = {
        let signed = signed.clone();
        blocking(move || {
            let tag = tag_here(&relay, &signed, &uid)?;
            let audit = audit::entry(&relay, &signed, AuditAction::TagRevoke, &tag.uid, &reason);
            Ok(registry::revoke_tag(&relay, &tag.station, &tag.uid, &reason, Some(audit))?.0)
        })
        .await?
    };
    let message =
        match done {
            Revocation::AlreadyRevoked { .. } => Flash::error(lang.pick("这张卡片之前已停用。", "This tag was revoked before.")),
            _ => Flash::ok(lang.pick(
                "卡片已停用：以后碰这张卡片的记录都会进入审核。",
                "Tag revoked: visits tapped with it from now on go to review.",
            )),
        };
    Ok(redirect(&signed, "/console/tags", message))
}

async fn export_page(signed: Signed, State(relay): State<Arc<Relay>>, Path(uid): Path<String>) -> Result<Markup, PageError> {
    let lang = signed.lang;
    let writing = {
        let signed = signed.clone();
        blocking(move || {
            let tag = tag_here(&relay, &signed, &uid)?;
            let writing = registry::tag_writing(&relay, &tag.station, &tag.uid)?;
            let audit = audit::entry(&relay, &signed, AuditAction::TagExport, &tag.uid, "");
            relay.store().record_audit(&audit)?;
            Ok(writing)
        })
        .await?
    };
    Ok(layout::page(
        &signed,
        lang.pick("写卡数据", "Keys to write a tag"),
        html! {
            p.flash.error role="alert" { (lang.pick(
                "这些是卡片的密钥：只在服务站的写卡电脑上使用，不要拍照、打印或发送。",
                "These are the tag's keys: use them only on the station's tag-writing computer; do not photograph, print or send them.",
            )) }
            pre data-testid="tag-keys" { (writing.text()) }
            a.button href="/console/tags" { (lang.pick("返回", "Back")) }
        },
    ))
}

async fn set_rule(State(relay): State<Arc<Relay>>, SignedForm { signed, form }: SignedForm) -> Result<Response, PageError> {
    let lang = signed.lang;
    let by = author(&signed)?;
    let rule = VerifiedVisits::parse(form.text("rule")).ok_or_else(|| {
        PageError::bad_request(lang.pick("没有这个规则。没有做任何更改。", "There is no such rule. Nothing was changed."))
    })?;
    {
        let signed = signed.clone();
        blocking(move || {
            let here = signed.writer()?.clone();
            let audit = audit::entry(&relay, &signed, AuditAction::RuleVerifiedVisits, here.as_str(), rule.as_str());
            relay
                .write_as(&by, &[(DocId::Station(here), &|tx| station::put_verified_visits(tx, rule))], Some(audit))
                .map_err(|e| crate::console::review::refused(lang, e))
        })
        .await?;
    }
    Ok(redirect(
        &signed,
        "/console/tags",
        Flash::ok(format!("{}{}", lang.pick("已保存：核实过的记录", "Saved: verified visits are "), rule_words(lang, rule))),
    ))
}
