//! The ledger at the console: everyone's balance (searchable, in pinyin order, a page at a
//! time), a member's postings as sentences (newest first), corrections as adjusting
//! postings with a reason (a desk `corrections` record the ledger posts, so a rebuild finds
//! them too), and redemption requests to fulfil or release.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use maud::{Markup, html};
use timebank_engine::DocId;
use timebank_engine::documents::desk as desk_doc;
use timebank_engine::model::{OutcomeStatus, RedemptionAction, RequestId, RequestKind};

use crate::console::audit::{self, AuditAction};
use crate::console::i18n::coins;
use crate::console::names::{Directory, id_line, member_link, person};
use crate::console::paging::{self, Listed, Paged};
use crate::console::review::{author, not_here};
use crate::console::{Flash, MAX_REASON_CHARS, PageError, Signed, SignedForm, blocking, layout, pinyin_order, redirect, words};
use crate::desk::{self, StationDocs};
use crate::ledger::statement::{self, StatementLine};
use crate::relay::Relay;
use crate::secret;
use crate::store::MemberRecord;

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

/// A member with their available and held minutes, and their station's name.
struct BalanceRow {
    member: MemberRecord,
    station: String,
    available: i64,
    held: i64,
}

async fn balances(signed: Signed, State(relay): State<Arc<Relay>>, Listed { query, raw }: Listed) -> Result<Markup, PageError> {
    let q = query.words();
    let (rows, stations) = {
        let (signed, q) = (signed.clone(), q.clone());
        blocking(move || {
            let all = statement::balances(relay.store())?;
            let stations = signed.visible_stations(&relay, query.station.as_deref())?;
            let mut rows = Vec::new();
            for station in &stations {
                for member in relay.store().station_members(&station.id)? {
                    if !pinyin_order::name_matches(&member.display_name, &q) {
                        continue;
                    }
                    let (available, held) = all.get(&member.id).copied().unwrap_or_default();
                    rows.push(BalanceRow { member, station: station.name.clone(), available, held });
                }
            }
            pinyin_order::sort_by_name(&mut rows, |r| &r.member.display_name);
            Ok((Paged::of(rows, query.page.as_deref()), stations.len()))
        })
        .await?
    };
    let lang = signed.lang;
    Ok(layout::page(
        &signed,
        lang.pick("账本", "Ledger"),
        html! {
            p.hint {
                (lang.pick("余额以时光币计（1 小时 = 1 币）。", "Balances in time coins (1 hour = 1 coin). "))
                a href="/console/redemptions" { (lang.pick("兑换申请 →", "Redemption requests →")) }
            }
            (paging::search(lang, "/console/ledger", &q, lang.pick("姓名、拼音", "name"), html! {}))
            (paging::list(lang, &rows, "/console/ledger", raw.as_deref(), lang.pick("没有找到成员。", "No members found."), html! {
                table.data {
                    thead { tr {
                        th { (lang.pick("姓名", "Name")) }
                        @if stations > 1 { th { (lang.pick("服务站", "Station")) } }
                        th { (lang.pick("角色", "Role")) }
                        th.num { (lang.pick("可用（币）", "Available (coins)")) }
                        th.num { (lang.pick("冻结（币）", "Held (coins)")) }
                    } }
                    tbody {
                        @for row in &rows.items {
                            tr data-member=(row.member.id) {
                                td.lead { (member_link("ledger", &row.member)) }
                                @if stations > 1 { td data-label=(lang.pick("服务站", "Station")) { (row.station) } }
                                td data-label=(lang.pick("角色", "Role")) { (words::role(lang, row.member.role)) }
                                td.num data-label=(lang.pick("可用（币）", "Available")) data-testid="balance" { (coins(row.available)) }
                                td.num data-label=(lang.pick("冻结（币）", "Held")) { (coins(row.held)) }
                            }
                        }
                    }
                }
            }))
        },
    ))
}

/// A member's statement as the page shows it: their lines newest first, each with its
/// sentence, a page at a time.
struct StatementView {
    member: MemberRecord,
    available: i64,
    reserved: i64,
    lines: Paged<(StatementLine, String)>,
}

async fn member_ledger(
    signed: Signed,
    State(relay): State<Arc<Relay>>,
    Path(member): Path<String>,
    Listed { query, raw }: Listed,
) -> Result<Markup, PageError> {
    let view = {
        let signed = signed.clone();
        blocking(move || {
            let member = signed.member_here(&relay, &member)?;
            let statement = statement::statement(relay.store(), &member.id)?;
            let directory = Directory::load(&relay, &signed, Some(member.station.as_str()))?;
            let lines: Vec<(StatementLine, String)> = statement
                .lines
                .into_iter()
                .rev()
                .map(|line| {
                    let words = directory.posting(signed.lang, &line.posting);
                    (line, words)
                })
                .collect();
            Ok(StatementView {
                member,
                available: statement.available,
                reserved: statement.reserved,
                lines: Paged::of(lines, query.page.as_deref()),
            })
        })
        .await?
    };
    Ok(statement_page(&signed, &view, raw.as_deref()))
}

fn statement_page(signed: &Signed, view: &StatementView, raw: Option<&str>) -> Markup {
    let lang = signed.lang;
    let member = &view.member;
    let title = format!("{} · {}", lang.pick("账本", "Ledger"), member.display_name);
    let path = format!("/console/ledger/{}", member.id);
    layout::page(
        signed,
        &title,
        html! {
            p {
                (lang.pick("可用 ", "Available ")) strong data-testid="balance" { (coins(view.available)) }
                (lang.pick(" 币 · 冻结 ", " coins · held ")) (coins(view.reserved))
                (lang.pick(" 币 · ", " coins · ")) a href={ "/console/members/" (member.id) } { (lang.pick("成员资料", "member details")) }
            }
            (paging::list(lang, &view.lines, &path, raw, lang.pick("还没有记账。", "No postings yet."), html! {
                table.data {
                    thead { tr {
                        th { (lang.pick("时间", "When")) }
                        th { (lang.pick("类型", "Kind")) }
                        th.num { (lang.pick("变动（币）", "Change (coins)")) }
                        th.num { (lang.pick("可用余额", "Available after")) }
                        th { (lang.pick("说明", "What for")) }
                    } }
                    tbody {
                        @for (line, sentence) in &view.lines.items {
                            tr data-posting=(line.posting.key) data-kind=(line.posting.kind) {
                                td.lead { (lang.datetime(line.posting.at)) }
                                td data-label=(lang.pick("类型", "Kind")) { (words::posting_kind(lang, &line.posting.kind)) }
                                td.num data-label=(lang.pick("变动（币）", "Change")) { @if line.change > 0 { "+" } (coins(line.change)) }
                                td.num data-label=(lang.pick("可用余额", "Available after")) { (coins(line.available_after)) }
                                td data-label=(lang.pick("说明", "What for")) {
                                    @if line.posting.subject.starts_with("v-") {
                                        a href={ "/console/visits/" (line.posting.subject) } { (sentence) }
                                    } @else { (sentence) }
                                }
                            }
                        }
                    }
                }
            }))
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
        },
    )
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
            let correction = desk_doc::Correction {
                member: target.id.clone(),
                minutes,
                reason: reason.clone(),
                by: by.clone(),
                at: relay.clock().now(),
            };
            let detail = audit::correction_detail(minutes, &reason);
            let audit = audit::entry(&relay, &signed, AuditAction::LedgerCorrection, target.id.as_str(), &detail);
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
    /// The member's station's name, when they are of another station (通存通兑).
    from: Option<String>,
    id: RequestId,
    service: String,
    minutes: u32,
    created_at: i64,
    status: Option<OutcomeStatus>,
}

async fn redemptions(signed: Signed, State(relay): State<Arc<Relay>>, Listed { query, raw }: Listed) -> Result<Markup, PageError> {
    let q = query.words();
    let rows = {
        let (signed, q) = (signed.clone(), q.clone());
        blocking(move || {
            let mut rows = Vec::new();
            for station in signed.visible_stations(&relay, query.station.as_deref())? {
                let docs = StationDocs::with_visitors(&relay, &station.id).map_err(|e| not_here(signed.lang, e))?;
                let catalogue = docs.catalogue();
                for (member, request) in docs.requests() {
                    let RequestKind::Redeem { service, .. } = &request.kind else { continue };
                    let (record, from) = match (docs.member(&member), docs.visitor(&member)) {
                        (Some(own), _) => (own.clone(), None),
                        (None, Some(visitor)) => {
                            let home =
                                relay.store().station(&visitor.station)?.map_or_else(|| visitor.station.to_string(), |s| s.name);
                            (visitor.clone(), Some(home))
                        }
                        (None, None) => continue,
                    };
                    if !pinyin_order::name_matches(&record.display_name, &q) {
                        continue;
                    }
                    let status = docs.outcome(&member, request.id.as_str()).map(|o| o.status);
                    rows.push(Redemption {
                        member: record,
                        from,
                        id: request.id.clone(),
                        service: catalogue.iter().find(|s| &s.id == service).map_or_else(
                            || signed.lang.pick("其他服务", "another service").to_owned(),
                            |s| signed.lang.pick(&s.name_zh, &s.name_en).clone(),
                        ),
                        minutes: request.minutes,
                        created_at: request.created_at.timestamp_millis(),
                        status,
                    });
                }
            }
            rows.sort_by_key(|r| (r.status != Some(OutcomeStatus::Accepted), std::cmp::Reverse(r.created_at)));
            Ok(Paged::of(rows, query.page.as_deref()))
        })
        .await?
    };
    let lang = signed.lang;
    let writer = signed.writer().is_ok();
    Ok(layout::page(
        &signed,
        lang.pick("兑换申请", "Redemption requests"),
        html! {
            p.hint { (lang.pick("已受理的兑换：服务完成后点“已兑现”，不再提供则“解冻退回”。",
                                "Accepted redemptions: fulfil once the service was given, or release the held coins.")) }
            (paging::search(lang, "/console/redemptions", &q, lang.pick("成员姓名、拼音", "member's name"), html! {}))
            (paging::list(lang, &rows, "/console/redemptions", raw.as_deref(), lang.pick("没有兑换申请。", "No redemption requests."), html! {
                table.data {
                    thead { tr {
                        th { (lang.pick("成员", "Member")) }
                        th { (lang.pick("申请时间", "Asked")) }
                        th { (lang.pick("服务", "Service")) }
                        th.num { (lang.pick("币", "Coins")) }
                        th { (lang.pick("状态", "State")) }
                        @if writer { th { (lang.pick("操作", "Action")) } }
                    } }
                    tbody {
                        @for r in &rows.items {
                            tr data-request=(r.id) {
                                td.lead {
                                    @if let Some(home) = &r.from {
                                        (person(&r.member.display_name, r.member.id.as_str()))
                                        small.hint data-testid="from" { (lang.pick("来自", "from ")) (home) }
                                    } @else {
                                        (member_link("ledger", &r.member))
                                    }
                                    (id_line(r.id.as_str()))
                                }
                                td data-label=(lang.pick("申请时间", "Asked")) { (lang.datetime(r.created_at)) }
                                td data-label=(lang.pick("服务", "Service")) { (r.service) }
                                td.num data-label=(lang.pick("币", "Coins")) { (coins(i64::from(r.minutes))) }
                                td data-label=(lang.pick("状态", "State")) { span.badge { (words::redemption_status(lang, r.status)) } }
                                @if writer {
                                    td.actions { @if r.status == Some(OutcomeStatus::Accepted) {
                                        form.inline method="post" action={ "/console/redemptions/" (r.id) "/fulfil" } {
                                            (layout::csrf(&signed))
                                            button.primary type="submit" { (lang.pick("已兑现", "Fulfil")) }
                                        }
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
        },
    ))
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
    let words = {
        let (signed, request) = (signed.clone(), request.clone());
        blocking(move || {
            let audited = match action {
                RedemptionAction::Fulfil => AuditAction::RedemptionFulfil,
                RedemptionAction::Release => AuditAction::RedemptionRelease,
            };
            let audit = audit::entry(&relay, &signed, audited, request.as_str(), "");
            let station = signed.writer()?.clone();
            let directory = Directory::load(&relay, &signed, Some(station.as_str()))?;
            desk::decide_redemption(&relay, &by, &request, action, Some(audit)).map_err(|e| not_here(lang, e))?;
            Ok(directory.request(lang, request.as_str()))
        })
        .await?
    };
    let message = match action {
        RedemptionAction::Fulfil => lang.pick("已兑现：", "Fulfilled: "),
        RedemptionAction::Release => lang.pick("已解冻退回：", "Released: "),
    };
    Ok(redirect(&signed, "/console/redemptions", Flash::ok(format!("{message}{words}"))))
}
