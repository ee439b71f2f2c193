//! The ledger at the console: everyone's balance, a member's postings, corrections as
//! adjusting postings with a reason (a desk `corrections` record the ledger posts, so a
//! rebuild finds them too), and redemption requests to fulfil or release.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use maud::{Markup, html};
use timebank_engine::DocId;
use timebank_engine::documents::desk as desk_doc;
use timebank_engine::model::{OutcomeStatus, RedemptionAction, RequestId, RequestKind};

use crate::console::i18n::coins;
use crate::console::members::role_name;
use crate::console::review::{author, not_here};
use crate::console::{Flash, Lang, MAX_REASON_CHARS, PageError, Signed, SignedForm, StationQuery, audit, blocking, layout, redirect};
use crate::desk::{self, StationDocs};
use crate::ledger::PostingKind;
use crate::ledger::statement::{self, Statement};
use crate::relay::Relay;
use crate::secret;
use crate::store::{MemberRecord, StationRecord};

/// Largest correction, in minutes either way (100 hours).
pub const MAX_CORRECTION_MINUTES: i64 = 6000;

/// The ledger routes.
pub fn routes() -> Router<Arc<Relay>> {
    Router::new()
        .route("/ledger", get(balances))
        .route("/ledger/{member}", get(member_ledger))
        .route("/ledger/{member}/correction", post(correct))
        .route("/redemptions", get(redemptions))
        .route("/redemptions/{request}/{action}", post(decide))
}

/// A station's members with their (available, held) minutes.
type StationBalances = (StationRecord, Vec<(MemberRecord, i64, i64)>);

async fn balances(signed: Signed, State(relay): State<Arc<Relay>>, Query(query): Query<StationQuery>) -> Result<Markup, PageError> {
    let rows = {
        let signed = signed.clone();
        blocking(move || {
            let all = statement::balances(relay.store())?;
            let mut out: Vec<StationBalances> = Vec::new();
            for station in signed.visible_stations(&relay, query.station.as_deref())? {
                let members = relay.store().station_members(&station.id)?;
                let rows = members
                    .into_iter()
                    .map(|m| {
                        let (available, reserved) = all.get(&m.id).copied().unwrap_or_default();
                        (m, available, reserved)
                    })
                    .collect();
                out.push((station, rows));
            }
            Ok(out)
        })
        .await?
    };
    let lang = signed.lang;
    Ok(layout::page(&signed, lang.pick("账本", "Ledger"), html! {
        p.hint {
            (lang.pick("余额以时光币计（1 小时 = 1 币）。", "Balances in time coins (1 hour = 1 coin). "))
            a href="/console/redemptions" { (lang.pick("兑换申请 →", "Redemption requests →")) }
        }
        @for (station, rows) in &rows {
            h2 { (station.name) " " span.badge { (station.id) } }
            table.data {
                thead { tr {
                    th { (lang.pick("姓名", "Name")) }
                    th { (lang.pick("角色", "Role")) }
                    th.num { (lang.pick("可用（币）", "Available (coins)")) }
                    th.num { (lang.pick("冻结（币）", "Held (coins)")) }
                } }
                tbody {
                    @for (member, available, reserved) in rows {
                        tr data-member=(member.id) {
                            td { a href={ "/console/ledger/" (member.id) } { (member.display_name) } }
                            td { (role_name(lang, member.role.as_str())) }
                            td.num data-testid="balance" { (coins(*available)) }
                            td.num { (coins(*reserved)) }
                        }
                    }
                }
            }
        }
    }))
}

async fn member_ledger(signed: Signed, State(relay): State<Arc<Relay>>, Path(member): Path<String>) -> Result<Markup, PageError> {
    let (member, statement) = {
        let signed = signed.clone();
        blocking(move || {
            let member = signed.member_here(&relay, &member)?;
            let statement = statement::statement(relay.store(), &member.id)?;
            Ok((member, statement))
        })
        .await?
    };
    Ok(statement_page(&signed, &member, &statement))
}

fn kind_name(lang: Lang, kind: &str) -> &'static str {
    match PostingKind::parse(kind) {
        Some(PostingKind::Earn) => lang.pick("服务所得", "earned"),
        Some(PostingKind::Overflow) => lang.pick("超出上限", "over the cap"),
        Some(PostingKind::Reserve) => lang.pick("兑换冻结", "held for redemption"),
        Some(PostingKind::Redeem) => lang.pick("已兑换", "redeemed"),
        Some(PostingKind::Release) => lang.pick("解冻退回", "released"),
        Some(PostingKind::Gift) => lang.pick("转赠", "gift"),
        Some(PostingKind::Donation) => lang.pick("捐赠", "donation"),
        Some(PostingKind::Reversal) => lang.pick("冲正", "reversal"),
        Some(PostingKind::Correction) => lang.pick("人工更正", "correction"),
        None => "?",
    }
}

fn statement_page(signed: &Signed, member: &MemberRecord, statement: &Statement) -> Markup {
    let lang = signed.lang;
    let title = format!("{} · {}", lang.pick("账本", "Ledger"), member.display_name);
    layout::page(signed, &title, html! {
        p {
            (lang.pick("可用 ", "Available ")) strong data-testid="balance" { (coins(statement.available)) }
            (lang.pick(" 币 · 冻结 ", " coins · held ")) (coins(statement.reserved))
            (lang.pick(" 币 · ", " coins · ")) a href={ "/console/members/" (member.id) } { (lang.pick("成员资料", "member details")) }
        }
        @if statement.lines.is_empty() {
            p.empty { (lang.pick("还没有记账。", "No postings yet.")) }
        } @else {
            table.data {
                thead { tr {
                    th { (lang.pick("时间", "When")) }
                    th { (lang.pick("类型", "Kind")) }
                    th.num { (lang.pick("变动（币）", "Change (coins)")) }
                    th.num { (lang.pick("可用余额", "Available after")) }
                    th { (lang.pick("关于", "About")) }
                    th { (lang.pick("说明", "Memo")) }
                } }
                tbody {
                    @for line in &statement.lines {
                        tr data-posting=(line.posting.key) data-kind=(line.posting.kind) {
                            td { (lang.datetime(line.posting.at)) }
                            td { (kind_name(lang, &line.posting.kind)) }
                            td.num { @if line.change > 0 { "+" } (coins(line.change)) }
                            td.num { (coins(line.available_after)) }
                            td { code { (line.posting.subject) } }
                            td { (line.posting.memo) }
                        }
                    }
                }
            }
        }
        @if signed.writer().is_ok() {
            section.card {
                h2 { (lang.pick("更正余额", "Correct the balance")) }
                p.hint { (lang.pick(
                    "以分钟计：正数补发，负数扣回（最多扣到零）。记账只增不改，更正会作为一条新的记账出现。",
                    "In minutes: positive adds, negative takes back (never below zero). Postings are never changed: the correction is a new posting.")) }
                form.grid method="post" action={ "/console/ledger/" (member.id) "/correction" } data-testid="correction" {
                    (layout::csrf(signed))
                    label { (lang.pick("分钟（如 30 或 -60）", "Minutes (e.g. 30 or -60)")) input type="number" name="minutes" required step="1"; }
                    label { (lang.pick("原因（必填）", "Reason (required)")) input type="text" name="reason" required maxlength=(MAX_REASON_CHARS); }
                    button.primary type="submit" { (lang.pick("记一笔更正", "Post the correction")) }
                }
            }
        }
    })
}

async fn correct(
    State(relay): State<Arc<Relay>>,
    Path(member): Path<String>,
    SignedForm { signed, form }: SignedForm,
) -> Result<Response, PageError> {
    let lang = signed.lang;
    let station = signed.writer()?.clone();
    let by = author(&signed)?;
    let minutes = form.text("minutes").parse::<i64>().ok().filter(|m| *m != 0 && m.abs() <= MAX_CORRECTION_MINUTES);
    let Some(minutes) = minutes else {
        return Err(PageError::bad_request(lang.pick(
            format!("分钟数“{}”无效：请填写 -{MAX_CORRECTION_MINUTES} 到 {MAX_CORRECTION_MINUTES} 之间、不为零的整数。没有做任何更改。", form.text("minutes")),
            format!("The minutes {:?} are not usable: give a whole number from -{MAX_CORRECTION_MINUTES} to {MAX_CORRECTION_MINUTES}, not 0. Nothing was changed.", form.text("minutes")),
        )));
    };
    let reason = form.reason(lang)?;
    if reason.is_empty() {
        return Err(PageError::bad_request(lang.pick(
            format!("请写明更正原因（1 到 {MAX_REASON_CHARS} 个字）。没有做任何更改。"),
            format!("Say why (1 to {MAX_REASON_CHARS} characters). Nothing was changed."),
        )));
    }
    let target = {
        let signed = signed.clone();
        blocking(move || {
            let target = signed.member_here(&relay, &member)?;
            let id = secret::new_id("c").map_err(|e| PageError::internal(e.to_string()))?;
            let correction =
                desk_doc::Correction { member: target.id.clone(), minutes, reason: reason.clone(), by: by.clone(), at: relay.clock().now() };
            let audit = audit::entry(&relay, &signed, "ledger.correction", target.id.as_str(), &format!("{minutes:+} min: {reason}"));
            relay
                .write_as(&by, &[(DocId::Desk(station), &|tx| desk_doc::put_correction(tx, &id, &correction))], Some(audit))
                .map_err(|e| not_here(lang, e))?;
            Ok(target)
        })
        .await?
    };
    Ok(redirect(
        &signed,
        &format!("/console/ledger/{}", target.id),
        Flash::ok(format!(
            "{}{}{} {} ({})",
            lang.pick("已记更正：", "Correction posted: "),
            if minutes > 0 { "+" } else { "" },
            coins(minutes),
            lang.pick("币", "coins"),
            target.display_name
        )),
    ))
}

/// A redemption request as the page lists it.
struct Redemption {
    member: MemberRecord,
    id: RequestId,
    service: String,
    minutes: u32,
    created_at: i64,
    status: Option<OutcomeStatus>,
}

async fn redemptions(signed: Signed, State(relay): State<Arc<Relay>>, Query(query): Query<StationQuery>) -> Result<Markup, PageError> {
    let rows = {
        let signed = signed.clone();
        blocking(move || {
            let mut rows = Vec::new();
            for station in signed.visible_stations(&relay, query.station.as_deref())? {
                let docs = StationDocs::load(&relay, &station.id).map_err(|e| not_here(signed.lang, e))?;
                let catalogue = docs.catalogue();
                for (member, request) in docs.requests() {
                    let RequestKind::Redeem { service } = &request.kind else { continue };
                    let Some(record) = docs.member(&member).cloned() else { continue };
                    let status = docs.outcome(&member, request.id.as_str()).map(|o| o.status);
                    rows.push(Redemption {
                        member: record,
                        id: request.id.clone(),
                        service: catalogue
                            .iter()
                            .find(|s| &s.id == service)
                            .map_or_else(|| service.clone(), |s| signed.lang.pick(&s.name_zh, &s.name_en).clone()),
                        minutes: request.minutes,
                        created_at: request.created_at.timestamp_millis(),
                        status,
                    });
                }
            }
            rows.sort_by_key(|r| (r.status != Some(OutcomeStatus::Accepted), std::cmp::Reverse(r.created_at)));
            Ok(rows)
        })
        .await?
    };
    let lang = signed.lang;
    let writer = signed.writer().is_ok();
    Ok(layout::page(&signed, lang.pick("兑换申请", "Redemption requests"), html! {
        p.hint { (lang.pick("已受理的兑换：服务完成后点“已兑现”，不再提供则“解冻退回”。",
                            "Accepted redemptions: fulfil once the service was given, or release the held coins.")) }
        @if rows.is_empty() {
            p.empty { (lang.pick("没有兑换申请。", "No redemption requests.")) }
        } @else {
            table.data {
                thead { tr {
                    th { (lang.pick("申请时间", "Asked")) }
                    th { (lang.pick("成员", "Member")) }
                    th { (lang.pick("服务", "Service")) }
                    th.num { (lang.pick("币", "Coins")) }
                    th { (lang.pick("状态", "State")) }
                    th {}
                } }
                tbody {
                    @for r in &rows {
                        tr data-request=(r.id) {
                            td { (lang.datetime(r.created_at)) }
                            td { a href={ "/console/ledger/" (r.member.id) } { (r.member.display_name) } }
                            td { (r.service) }
                            td.num { (coins(i64::from(r.minutes))) }
                            td { span.badge { (status_name(lang, r.status)) } }
                            td { @if writer && r.status == Some(OutcomeStatus::Accepted) {
                                form.inline method="post" action={ "/console/redemptions/" (r.id) "/fulfil" } {
                                    (layout::csrf(&signed))
                                    button.primary type="submit" { (lang.pick("已兑现", "Fulfil")) }
                                }
                                " "
                                form.inline method="post" action={ "/console/redemptions/" (r.id) "/release" } {
                                    (layout::csrf(&signed))
                                    button type="submit" { (lang.pick("解冻退回", "Release")) }
                                }
                            } }
                        }
                    }
                }
            }
        }
    }))
}

fn status_name(lang: Lang, status: Option<OutcomeStatus>) -> &'static str {
    match status {
        Some(OutcomeStatus::Accepted) => lang.pick("已受理，待兑现", "accepted, to fulfil"),
        Some(OutcomeStatus::Fulfilled) => lang.pick("已兑现", "fulfilled"),
        Some(OutcomeStatus::Released) => lang.pick("已解冻", "released"),
        Some(OutcomeStatus::Refused) => lang.pick("未受理", "refused"),
        Some(_) => lang.pick("其他", "other"),
        None => lang.pick("等待账本处理", "waiting for the ledger"),
    }
}

async fn decide(
    State(relay): State<Arc<Relay>>,
    Path((request, action)): Path<(String, String)>,
    SignedForm { signed, .. }: SignedForm,
) -> Result<Response, PageError> {
    let lang = signed.lang;
    let by = author(&signed)?;
    let Ok(action) = RedemptionAction::parse(&action) else {
        return Err(PageError::not_found(lang.pick("没有这个操作。", "There is no such action.")));
    };
    let request = RequestId::parse(&request).map_err(|_| PageError::not_at_station(lang))?;
    {
        let (signed, request) = (signed.clone(), request.clone());
        blocking(move || {
            let audit = audit::entry(&relay, &signed, &format!("redemption.{action}"), request.as_str(), "");
            desk::decide_redemption(&relay, &by, &request, action, Some(audit)).map_err(|e| not_here(lang, e))
        })
        .await?;
    }
    let message = match action {
        RedemptionAction::Fulfil => lang.pick("已兑现申请 ", "Fulfilled request "),
        RedemptionAction::Release => lang.pick("已解冻申请 ", "Released request "),
    };
    Ok(redirect(&signed, "/console/redemptions", Flash::ok(format!("{message}{request}"))))
}

