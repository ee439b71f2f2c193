//! A member's personal information on their page (ADR 0034), for a coordinator of their
//! station: download everything the program holds about them (an access request) and
//! erase their contact details when they leave, after a confirmation page. Both go through
//! the registry the admin commands use, and both are audited.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{Markup, html};

use crate::console::audit::{self, AuditAction};
use crate::console::names::id_line;
use crate::console::{Flash, PageError, Signed, SignedForm, blocking, layout, redirect};
use crate::registry;
use crate::relay::Relay;
use crate::store::MemberRecord;

/// The routes (relative to `/console`).
pub fn routes() -> Router<Arc<Relay>> {
    Router::new()
        .route("/members/{member}/export", get(export))
        .route("/members/{member}/erase-contact", get(confirm_page).post(erase))
}

/// The card on a member's page, for a coordinator of their station.
pub fn card(signed: &Signed, member: &MemberRecord) -> Markup {
    let lang = signed.lang;
    html! {
        section.card data-testid="personal" {
            h2 { (lang.pick("个人信息", "Personal information")) }
            p.hint { (lang.pick(
                "成员要求查看本人信息时，下载系统保存的全部内容。成员退出时，可以删除其电话、身份证后四位和住址；时间币和服务记录保留。",
                "When a member asks what is held about them, download all of it. When a member leaves, their phone number, ID digits and address can be erased; their coins and visits stay.",
            )) }
            p.actions {
                a.button href={ "/console/members/" (member.id) "/export" } data-testid="export" { (lang.pick("下载个人信息", "Download their data")) }
                a.button.danger href={ "/console/members/" (member.id) "/erase-contact" } data-testid="erase-contact" {
                    (lang.pick("删除联系方式…", "Erase contact details…"))
                }
            }
        }
    }
}

/// The member `raw` if `signed` coordinates their station; otherwise 403 or 404.
fn member_of_station(relay: &Relay, signed: &Signed, raw: &str) -> Result<MemberRecord, PageError> {
    let station = signed.writer()?.clone();
    let member = signed.member_here(relay, raw)?;
    if member.station != station {
        return Err(PageError::not_at_station(signed.lang));
    }
    Ok(member)
}

async fn export(signed: Signed, State(relay): State<Arc<Relay>>, Path(raw): Path<String>) -> Result<Response, PageError> {
    let (member, export) = {
        let signed = signed.clone();
        blocking(move || {
            let member = member_of_station(&relay, &signed, &raw)?;
            let export = registry::export_member(&relay, member.id.as_str())?;
            // A read of personal data: its entry is the only thing it stores.
            let entry = audit::entry(&relay, &signed, AuditAction::MemberExport, member.id.as_str(), "");
            relay.store().record_audit(&entry)?;
            Ok((member, export))
        })
        .await?
    };
    let body = serde_json::to_string_pretty(&export).map_err(|e| PageError::internal(e.to_string()))?;
    let file = format!("attachment; filename=\"timebank-{}.json\"", member.id);
    Ok((
        [
            (CONTENT_TYPE, "application/json; charset=utf-8".to_owned()),
            (CONTENT_DISPOSITION, file),
            (CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response())
}

async fn confirm_page(signed: Signed, State(relay): State<Arc<Relay>>, Path(raw): Path<String>) -> Result<Markup, PageError> {
    let lang = signed.lang;
    let member = {
        let signed = signed.clone();
        blocking(move || member_of_station(&relay, &signed, &raw)).await?
    };
    Ok(layout::page(
        &signed,
        lang.pick("删除联系方式", "Erase contact details"),
        html! {
            section.card data-testid="confirm-erase" {
                h2 { (lang.pick("确定删除“", "Erase the contact details of “")) (member.display_name) (lang.pick("”的联系方式吗？", "”?")) }
                (id_line(member.id.as_str()))
                p { (lang.pick(
                    "将删除登记的电话、身份证后四位和住址，无法恢复。成员的时间币、服务记录和订单都保留；以前派单和服务记录上的姓名也保留。",
                    "Their phone number, ID digits and address are deleted for good. Their coins, visits and orders stay, and so does their name on past dispatches and visits.",
                )) }
                form.inline method="post" action={ "/console/members/" (member.id) "/erase-contact" } {
                    (layout::csrf(&signed))
                    button.danger.solid type="submit" data-testid="confirm" { (lang.pick("确认删除", "Erase them")) }
                    a.button href={ "/console/members/" (member.id) } { (lang.pick("不删除，返回", "Keep them, go back")) }
                }
            }
        },
    ))
}

async fn erase(
    State(relay): State<Arc<Relay>>,
    Path(raw): Path<String>,
    SignedForm { signed, .. }: SignedForm,
) -> Result<Response, PageError> {
    let lang = signed.lang;
    let (member, erased) = {
        let signed = signed.clone();
        blocking(move || {
            let member = member_of_station(&relay, &signed, &raw)?;
            let erased = registry::erase_contact(&relay, member.id.as_str(), |record| {
                Some(audit::entry(&relay, &signed, AuditAction::MemberEraseContact, record.id.as_str(), ""))
            })?;
            Ok(erased)
        })
        .await?
    };
    let message = if erased {
        Flash::ok(format!("{}{}", member.display_name, lang.pick("的联系方式已删除。", ": contact details erased.")))
    } else {
        Flash::ok(format!("{}{}", member.display_name, lang.pick("没有登记联系方式。", " had no contact details recorded.")))
    };
    Ok(redirect(&signed, &format!("/console/members/{}", member.id), message))
}
