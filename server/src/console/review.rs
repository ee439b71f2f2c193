//! The review queue page: visits waiting for a coordinator, anomalies first, each with its
//! evidence; approve, reject with a reason, flag, or approve the clean ones in bulk. A
//! visit with an anomaly (or flagged) is approved only after a confirmation page, with a
//! note. Each decision is the desk-document change a coordinator's phone makes
//! ([`crate::desk`]), written by the relay and audited.

pub mod queue;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use maud::{Markup, html};
use timebank_engine::model::{MemberId, ReviewDecision, StationId, VisitId};

use crate::console::audit::{self, AuditAction};
use crate::console::i18n::coins;
use crate::console::names::Directory;
use crate::console::paging::{self, Listed, Paged};
use crate::console::reports::figures::Placement;
use crate::console::visits::log::{Arrivals, VisitRecord, devices_by_actor, records};
use crate::console::words::{self, LedgerReason};
use crate::console::{Flash, Lang, PageError, Signed, SignedForm, blocking, layout, pinyin_order, presence, redirect};
use crate::desk::{self, StationDocs};
use crate::error::AppError;
use crate::ledger::anomaly::Anomaly;
use crate::ledger::rules::{Cap, Credit};
use crate::relay::Relay;
use crate::store::StationRecord;
use queue::{Evidence, QueueEntry};

/// The review routes (relative to `/console`).
pub fn routes() -> Router<Arc<Relay>> {
    Router::new()
        .route("/review", get(review_page))
        .route("/review/approve-clean", post(approve_clean))
        .route("/review/{visit}/{decision}", get(confirm_page).post(decide))
}

/// The visit log of each station `signed` may see (`?station=` for the district), over
/// the arrival log `arrivals`.
pub(crate) fn station_logs(
    relay: &Relay,
    signed: &Signed,
    station: Option<&str>,
    arrivals: &Arrivals,
) -> Result<Vec<(StationRecord, StationDocs, Vec<VisitRecord>)>, PageError> {
    station_logs_of(relay, signed.lang, signed.visible_stations(relay, station)?, arrivals)
}

/// The visit log of each of `stations` (already checked to be in the reader's reach),
/// over the arrival log `arrivals`.
pub(crate) fn station_logs_of(
    relay: &Relay,
    lang: Lang,
    stations: Vec<StationRecord>,
    arrivals: &Arrivals,
) -> Result<Vec<(StationRecord, StationDocs, Vec<VisitRecord>)>, PageError> {
    logs_of(relay, lang, stations, arrivals, |station| StationDocs::load(relay, station))
}

/// [`station_logs_of`] with, in each station's log, the visits of the members who left it
/// (ADR 42) too: for the figures, which count each visit at the station `placement` puts
/// its volunteer in when it started.
pub(crate) fn placed_logs_of(
    relay: &Relay,
    lang: Lang,
    stations: Vec<StationRecord>,
    arrivals: &Arrivals,
    placement: &Placement,
) -> Result<Vec<(StationRecord, StationDocs, Vec<VisitRecord>)>, PageError> {
    logs_of(relay, lang, stations, arrivals, |station| StationDocs::with_leavers(relay, station, &placement.left(station)))
}

fn logs_of(
    relay: &Relay,
    lang: Lang,
    stations: Vec<StationRecord>,
    arrivals: &Arrivals,
    load: impl Fn(&StationId) -> Result<StationDocs, AppError>,
) -> Result<Vec<(StationRecord, StationDocs, Vec<VisitRecord>)>, PageError> {
    let devices = devices_by_actor(&relay.store().devices()?);
    stations
        .into_iter()
        .map(|record| {
            let docs = load(&record.id).map_err(|e| refused(lang, e))?;
            let log = records(&docs, arrivals, &devices);
            Ok((record, docs, log))
        })
        .collect()
}

async fn review_page(signed: Signed, State(relay): State<Arc<Relay>>, Listed { query, raw }: Listed) -> Result<Markup, PageError> {
    let selected = query.station.clone();
    let q = query.words();
    let shown = query.state.clone().unwrap_or_default();
    let (queue, directory, stations) = {
        let (signed, q, shown) = (signed.clone(), q.clone(), shown.clone());
        blocking(move || {
            let arrivals = Arrivals::read(relay.store())?;
            let logs = station_logs(&relay, &signed, query.station.as_deref(), &arrivals)?;
            let mut directory = Directory::default();
            let mut entries = Vec::new();
            for (station, docs, log) in logs {
                directory.add_station(&station, &docs, &[]);
                let rules = arrivals.rules(&station.id);
                entries.extend(
                    queue::queue(&log, &arrivals, &rules)
                        .into_iter()
                        .filter(|e| {
                            pinyin_order::name_matches(&e.record.volunteer_name, &q)
                                || pinyin_order::name_matches(&e.record.elder_name, &q)
                        })
                        .filter(|e| presence::wanted(&shown, e.evidence.presence.as_ref())),
                );
            }
            let mut paged = Paged::of(entries, query.page.as_deref());
            paged.items = queue::with_credits(&relay, std::mem::take(&mut paged.items))?;
            Ok((paged, directory, district_stations(&relay, &signed)?))
        })
        .await?
    };
    let lang = signed.lang;
    let can_write = signed.writer().is_ok();
    let body = html! {
        (station_form(lang, &stations, selected.as_deref(), "/console/review"))
        p.hint { (lang.pick(
            "有异常的记录排在前面。批准后志愿者获得时间币；驳回需写明原因，志愿者会看到。手机在下次同步时收到结果。",
            "Visits with anomalies come first. Approval earns the volunteer their coins; a rejection needs a reason, which the volunteer sees. Phones receive the outcome at their next sync.",
        )) }
        (paging::search(lang, "/console/review", &q, lang.pick("志愿者或老人的姓名", "volunteer's or elder's name"), presence::filter(lang, &shown)))
        @if queue.items.is_empty() {
            p.empty data-testid="queue-empty" { (lang.pick("没有等待审核的记录。", "No visits are waiting for review.")) }
        } @else {
            @if can_write && queue.items.iter().any(|e| e.evidence.is_clean()) {
                form #bulk.inline method="post" action="/console/review/approve-clean" {
                    (layout::csrf(&signed))
                    button.primary type="submit" data-testid="approve-clean" { (lang.pick("批准选中的正常记录", "Approve the selected clean visits")) }
                    span.hint { (lang.pick("（正常：无异常，且老人已确认或按本站规则到场已核实）", "(clean: no anomaly, and confirmed by the elder or, by the station's rule, presence verified)")) }
                }
            }
            table.data {
                thead { tr {
                    th { (lang.pick("志愿者 → 老人", "Volunteer → elder")) }
                    th { (lang.pick("时间", "Time")) }
                    th { (lang.pick("证据", "Evidence")) }
                    @if can_write { th { (lang.pick("决定", "Decision")) } }
                } }
                tbody {
                    @for entry in &queue.items { (row(&signed, entry, &directory, can_write)) }
                }
            }
            (paging::nav(lang, &queue, "/console/review", raw.as_deref()))
        }
    };
    Ok(layout::page(&signed, lang.pick("审核", "Review"), body))
}

fn row(signed: &Signed, entry: &QueueEntry, directory: &Directory, can_write: bool) -> Markup {
    let lang = signed.lang;
    let visit = &entry.record.visit;
    let id = visit.id.as_str();
    let evidence = &entry.evidence;
    html! {
        tr data-visit=(id) class=[evidence.is_anomalous().then_some("anomaly")] {
            td.lead {
                @if can_write && evidence.is_clean() {
                    label.check {
                        input type="checkbox" name="visit" value=(id) form="bulk" checked aria-label=(lang.pick("选择此记录", "Select this visit"));
                        a href=(format!("/console/visits/{id}")) title=(id) { span.name { (entry.record.volunteer_name) } " → " span.name { (entry.record.elder_name) } }
                    }
                } @else {
                    a href=(format!("/console/visits/{id}")) title=(id) { span.name { (entry.record.volunteer_name) } " → " span.name { (entry.record.elder_name) } }
                }
                br; span.hint { (entry.record.service_label(lang)) }
                @if !visit.note.is_empty() { br; span data-testid="note" { (visit.note) } }
            }
            td data-label=(lang.pick("时间", "Time")) {
                (lang.datetime(evidence.check_in)) " – " (lang.time(evidence.check_out))
                br; strong { (lang.duration(evidence.minutes)) }
                @if let Some(credit) = &entry.credit { br; (credit_words(lang, credit)) }
            }
            td data-label=(lang.pick("证据", "Evidence")) { (evidence_list(lang, evidence, directory)) }
            @if can_write { td.actions { (decision_forms(signed, id, evidence.is_anomalous())) } }
        }
    }
}

/// For a time filled in afterwards, its evidence: the time claimed and when it was entered.
fn entered_evidence(lang: Lang, anomaly: &Anomaly, evidence: &Evidence) -> Markup {
    let (what, claimed, entered) = match anomaly {
        Anomaly::CheckInEnteredLate { .. } => {
            (lang.pick("填写的签到时间 ", "check-in given as "), evidence.check_in, evidence.recorded_at)
        }
        Anomaly::CheckOutEnteredLate { .. } => {
            (lang.pick("填写的签退时间 ", "check-out given as "), evidence.check_out, evidence.check_out_entered)
        }
        _ => return html! {},
    };
    html! {
        br; span.hint data-testid="entered-late" {
            (what) (lang.datetime(claimed)) (lang.pick("，手机录入于 ", ", entered on the phone at ")) (lang.datetime(entered))
        }
    }
}

/// What approving a visit credits, in words: the coins, the rounding or the longest visit
/// when they change the logged time, and what a cap sends to the station's pool.
fn credit_words(lang: Lang, credit: &Credit) -> Markup {
    let coin = lang.pick("币", "coins");
    html! {
        span data-testid="credit" {
            (lang.pick("批准后入账 ", "Approval credits ")) strong { (coins(credit.earned)) " " (coin) }
            @if credit.credited != credit.logged {
                br; span.hint data-testid="rounded" { (lang.pick("按本站规则（刻钟取整、单次上限）计为 ", "counted as ")) (lang.duration(credit.credited))
                    (lang.pick("", " by the station's rules (quarter hours, longest visit)")) }
            }
            @if let Some(cap) = credit.cap {
                br; span.hint data-testid="overflow" {
                    (coins(credit.overflow)) " " (coin)
                    @match cap {
                        Cap::Daily => { (lang.pick(" 超出每日上限，转入服务站捐赠池", " over the daily cap go to the station's pool")) }
                        Cap::Lifetime => { (lang.pick(" 超出累计上限，转入服务站捐赠池", " over the lifetime cap go to the station's pool")) }
                    }
                }
            }
        }
    }
}

fn evidence_list(lang: Lang, evidence: &Evidence, directory: &Directory) -> Markup {
    let visit = |other: &str| directory.visit(lang, other);
    html! {
        ul.evidence {
            @for anomaly in &evidence.anomalies {
                li { span.badge.warn { (words::anomaly_label(lang, anomaly)) } " " (words::anomaly_text(lang, anomaly, &visit))
                     (entered_evidence(lang, anomaly, evidence)) }
            }
            @if let Some(reason) = &evidence.ledger_reason {
                // The ledger's reasons the anomalies and the flag do not already say.
                @for part in words::ledger_reasons(reason).iter().filter(|part| match part {
                    LedgerReason::Anomaly(a) => !evidence.anomalies.contains(a),
                    LedgerReason::Words(w) => evidence.flagged.as_deref() != Some(w.as_str()),
                    LedgerReason::CloserLook => evidence.flagged.is_none(),
                    _ => true,
                }) {
                    li { span.badge.warn { (lang.pick("账本待审", "held by the ledger")) } " " (words::ledger_reason_text(lang, part, &visit)) }
                }
            }
            @if let Some(reason) = &evidence.flagged {
                li { span.badge.warn { (lang.pick("已标记", "flagged")) } " "
                     @if reason.is_empty() { (lang.pick("协调员正在进一步核查", "a coordinator is taking a closer look")) } @else { (reason) } }
            }
            @for other in &evidence.related {
                li { (lang.pick("相关记录：", "Related visit: ")) a href=(format!("/console/visits/{other}")) title=(other) { (directory.visit(lang, other.as_str())) } }
            }
            li {
                (lang.pick("手机记录于 ", "Entered on the phone at ")) (lang.datetime(evidence.recorded_at))
                @if let Some(at) = evidence.arrived_at { (lang.pick("；到达服务器 ", "; reached the relay at ")) (lang.datetime(at)) }
                @if let Some(ahead) = evidence.clock_ahead_minutes.filter(|m| *m > 0) {
                    (lang.pick("；手机时钟快了 ", "; phone clock ahead by ")) (lang.duration(ahead))
                }
            }
            (presence::evidence_item(lang, evidence.presence.as_ref()))
            li {
                @match &evidence.confirmation {
                    Some(c) => { span.badge { (lang.pick("已确认", "confirmed")) } " " (words::confirmed_by(lang, c.by)) " " (lang.datetime(c.at.timestamp_millis())) },
                    None => { span.badge.off { (lang.pick("老人未确认", "not confirmed by the elder")) } },
                }
            }
        }
    }
}

/// The decisions on one queued visit. An anomalous one's approval is a link to its
/// confirmation page.
fn decision_forms(signed: &Signed, id: &str, anomalous: bool) -> Markup {
    let lang = signed.lang;
    html! {
        @if anomalous {
            a.button.primary href=(format!("/console/review/{id}/approve")) data-testid="approve" { (lang.pick("批准…", "Approve…")) }
        } @else {
            form.inline method="post" action=(format!("/console/review/{id}/approve")) {
                (layout::csrf(signed))
                button.primary type="submit" data-testid="approve" { (lang.pick("批准", "Approve")) }
            }
        }
        form.inline method="post" action=(format!("/console/review/{id}/reject")) {
            (layout::csrf(signed))
            input type="text" name="reason" required maxlength=(crate::console::MAX_REASON_CHARS) placeholder=(lang.pick("驳回原因（必填）", "Reason (required)")) aria-label=(lang.pick("驳回原因", "Reason to reject"));
            button.danger type="submit" data-testid="reject" { (lang.pick("驳回", "Reject")) }
        }
        form.inline method="post" action=(format!("/console/review/{id}/flag")) {
            (layout::csrf(signed))
            input type="text" name="reason" maxlength=(crate::console::MAX_REASON_CHARS) placeholder=(lang.pick("标记说明", "Why flag")) aria-label=(lang.pick("标记说明", "Why flag"));
            button type="submit" data-testid="flag" { (lang.pick("标记", "Flag")) }
        }
    }
}

/// The stations in reach, for a district's or the city's choice of station; none for a coordinator.
pub(crate) fn district_stations(relay: &Relay, signed: &Signed) -> Result<Vec<StationRecord>, PageError> {
    if signed.station().is_none() { signed.visible_stations(relay, None) } else { Ok(Vec::new()) }
}

/// The district's choice of station (`station`, all by default), as a field of a GET form;
/// nothing when `stations` is empty (a coordinator sees their own station only).
pub(crate) fn station_choice(lang: Lang, stations: &[StationRecord], selected: Option<&str>) -> Markup {
    html! {
        @if !stations.is_empty() {
            label { (lang.pick("服务站", "Station"))
                select name="station" data-testid="station-choice" {
                    option value="" { (lang.pick("全部服务站", "All stations")) }
                    @for s in stations { option value=(s.id) selected[selected == Some(s.id.as_str())] { (s.name) } }
                }
            }
        }
    }
}

/// [`station_choice`] as a form of its own that reloads `action`.
pub(crate) fn station_form(lang: Lang, stations: &[StationRecord], selected: Option<&str>, action: &str) -> Markup {
    html! {
        @if !stations.is_empty() {
            form.inline method="get" action=(action) {
                (station_choice(lang, stations, selected))
                button type="submit" { (lang.pick("查看", "Show")) }
            }
        }
    }
}

/// The signed-in coordinator's member: the author of their desk changes.
pub(crate) fn author(signed: &Signed) -> Result<MemberId, PageError> {
    signed.writer()?;
    signed.member.clone().ok_or_else(|| {
        PageError::forbidden(signed.lang.pick(
            "此账号未关联协调员成员编号，不能做决定。请管理员用 --member 重新创建账号。",
            "This account is not linked to a coordinator's member id, so it cannot decide. Ask the administrator to create it with --member.",
        ))
    })
}

/// A refusal from [`crate::desk`] as a page error, with its status; nothing was changed.
/// The desk explains itself in English; a Chinese page says what happened by its kind.
pub(crate) fn refused(lang: Lang, error: AppError) -> PageError {
    let status = error.status();
    if status.is_server_error() {
        tracing::error!(%error, "console: a decision failed");
    }
    let message = match lang {
        Lang::En => format!("Not done: {}", error.public_message()),
        Lang::Zh => match status {
            StatusCode::BAD_REQUEST => "操作未执行：填写或选择的内容不符合规则。没有做任何更改，请检查后再试。",
            StatusCode::FORBIDDEN => "操作未执行：这个账号不能做这项操作。没有做任何更改。",
            StatusCode::NOT_FOUND => "在您的服务站找不到。",
            StatusCode::CONFLICT => "操作未执行：情况已经变了（可能刚被别人处理过）。没有做任何更改，请刷新页面看看现在的状态。",
            _ => "操作未执行：服务器出错。没有做任何更改，请稍后再试。",
        }
        .to_owned(),
    };
    PageError::new(status, message)
}

/// The queue entry of `visit` at the writer's station, if it waits there.
fn queued(relay: &Relay, signed: &Signed, visit: &VisitId) -> Result<Option<(QueueEntry, Directory)>, PageError> {
    let station = signed.writer()?.clone();
    let arrivals = Arrivals::read(relay.store())?;
    let mut directory = Directory::default();
    let mut found = None;
    for (record, docs, log) in station_logs(relay, signed, Some(station.as_str()), &arrivals)? {
        directory.add_station(&record, &docs, &[]);
        let rules = arrivals.rules(&record.id);
        found = found.or_else(|| queue::entry(log.iter().find(|r| &r.visit.id == visit)?, &log, &arrivals, &rules));
    }
    Ok(found.map(|entry| (entry, directory)))
}

/// The confirmation page before approving a visit with an anomaly (or a flag): its evidence,
/// and a note the coordinator must write, kept with the approval.
async fn confirm_page(
    signed: Signed,
    State(relay): State<Arc<Relay>>,
    Path((visit, decision)): Path<(String, String)>,
) -> Result<Markup, PageError> {
    let lang = signed.lang;
    if decision != ReviewDecision::Approve.as_str() {
        return Err(PageError::not_found(lang.pick("没有这个页面。", "There is no such page.")));
    }
    author(&signed)?;
    let visit = VisitId::parse(&visit).map_err(|_| PageError::not_at_station(lang))?;
    let found = {
        let (signed, visit) = (signed.clone(), visit.clone());
        blocking(move || {
            let Some((entry, directory)) = queued(&relay, &signed, &visit)? else { return Ok(None) };
            let entry = queue::with_credits(&relay, vec![entry])?.into_iter().next();
            Ok(entry.map(|entry| (entry, directory)))
        })
        .await?
    };
    let Some((entry, directory)) = found else {
        return Err(PageError::conflict(lang.pick(
            "这条记录已不在审核队列中（可能刚被处理过）。没有做任何更改。",
            "This visit no longer waits for review (it may just have been decided). Nothing was changed.",
        )));
    };
    let id = visit.as_str();
    let evidence = &entry.evidence;
    let body = html! {
        p.hint { (lang.pick(
            "这条记录有异常或被标记。请核实下面的证据，写明为什么仍然批准；说明会和批准一起保存，在记录的历史中可见。",
            "This visit has an anomaly or a flag. Check the evidence below and say why you approve it all the same; the note is kept with the approval, in the visit's history.",
        )) }
        dl.facts data-visit=(id) {
            dt { (lang.pick("志愿者 → 老人", "Volunteer → elder")) }
            dd { span.name { (entry.record.volunteer_name) } " → " span.name { (entry.record.elder_name) } " · " (entry.record.service_label(lang)) }
            dt { (lang.pick("时间", "Time")) }
            dd { (lang.datetime(evidence.check_in)) " – " (lang.time(evidence.check_out)) " · " (lang.duration(evidence.minutes))
                 @if let Some(credit) = &entry.credit { br; (credit_words(lang, credit)) } }
            dt { (lang.pick("证据", "Evidence")) } dd { (evidence_list(lang, evidence, &directory)) }
        }
        form.grid method="post" action=(format!("/console/review/{id}/approve")) data-testid="confirm-form" {
            (layout::csrf(&signed))
            input type="hidden" name="confirmed" value="yes";
            label.wide { (lang.pick("批准说明（必填）", "Why approve it (required)"))
                input type="text" name="reason" required maxlength=(crate::console::MAX_REASON_CHARS)
                    placeholder=(lang.pick("例如：已电话联系老人，确认服务属实", "e.g. called the elder, who confirmed the visit"));
            }
            div.actions {
                button.primary type="submit" data-testid="confirm" { (lang.pick("确认批准", "Approve")) }
                a href="/console/review" { (lang.pick("返回审核", "Back to the queue")) }
            }
        }
    };
    let title = format!("{}{} → {}", lang.pick("确认批准：", "Approve: "), entry.record.volunteer_name, entry.record.elder_name);
    Ok(layout::page(&signed, &title, body))
}

async fn decide(
    State(relay): State<Arc<Relay>>,
    Path((visit, decision)): Path<(String, String)>,
    SignedForm { signed, form }: SignedForm,
) -> Result<Response, PageError> {
    let lang = signed.lang;
    let author = author(&signed)?;
    let Ok(decision) = ReviewDecision::parse(&decision) else {
        return Err(PageError::not_found(lang.pick("没有这个操作。", "There is no such action.")));
    };
    let visit = VisitId::parse(&visit).map_err(|_| PageError::not_at_station(lang))?;
    let reason = form.reason(lang)?;
    if decision == ReviewDecision::Reject && reason.is_empty() {
        return Err(PageError::bad_request(lang.pick(
            "驳回必须写明原因（志愿者会看到）。没有做任何更改。",
            "Say why the visit is rejected (the volunteer sees it). Nothing was changed.",
        )));
    }
    let confirmed = form.text("confirmed") == "yes";
    let done = {
        let signed = signed.clone();
        let visit = visit.clone();
        blocking(move || {
            if decision == ReviewDecision::Approve
                && queued(&relay, &signed, &visit)?.is_some_and(|(entry, _)| entry.evidence.is_anomalous())
            {
                if !confirmed {
                    return Ok(None);
                }
                if reason.is_empty() {
                    return Err(PageError::bad_request(lang.pick(
                        "批准有异常的记录须写明说明。没有做任何更改。",
                        "Say why you approve a visit with an anomaly. Nothing was changed.",
                    )));
                }
            }
            let audit = audit::entry(&relay, &signed, AuditAction::review(decision), visit.as_str(), &reason);
            let station = signed.writer()?.clone();
            let directory = Directory::load(&relay, &signed, Some(station.as_str()))?;
            desk::review_visit(&relay, &author, &visit, decision, &reason, Some(audit)).map_err(|e| not_here(lang, e))?;
            Ok(Some(directory.visit(lang, visit.as_str())))
        })
    };
    let Some(words) = done.await? else {
        // An anomaly is approved only after its confirmation page: nothing was changed.
        return Ok(crate::console::see_other(&format!("/console/review/{visit}/approve")));
    };
    let message = match decision {
        ReviewDecision::Approve => lang.pick("已批准记录：", "Approved the visit "),
        ReviewDecision::Reject => lang.pick("已驳回记录：", "Rejected the visit "),
        ReviewDecision::Flag => lang.pick("已标记记录：", "Flagged the visit "),
    };
    Ok(redirect(&signed, "/console/review", Flash::ok(format!("{message}{words}"))))
}

/// A 404 from the desk in the console's words for another station's ids.
pub(crate) fn not_here(lang: Lang, error: AppError) -> PageError {
    match error {
        AppError::NotFound(_) => PageError::not_at_station(lang),
        other => refused(lang, other),
    }
}

async fn approve_clean(State(relay): State<Arc<Relay>>, SignedForm { signed, form }: SignedForm) -> Result<Response, PageError> {
    let lang = signed.lang;
    let author = author(&signed)?;
    let wanted: Vec<String> = form.all("visit").into_iter().map(str::to_owned).collect();
    if wanted.is_empty() {
        return Err(PageError::bad_request(
            lang.pick("没有选择任何记录。没有做任何更改。", "No visit was selected. Nothing was changed."),
        ));
    }
    let count = {
        let signed = signed.clone();
        blocking(move || {
            let arrivals = Arrivals::read(relay.store())?;
            // The queue once (its evidence compares every visit with every other), then
            // each visit asked for, once however often the form names it.
            let queued: Vec<QueueEntry> = station_logs(&relay, &signed, None, &arrivals)?
                .into_iter()
                .flat_map(|(station, _, log)| queue::queue(&log, &arrivals, &arrivals.rules(&station.id)))
                .collect();
            let mut visits: Vec<VisitId> = Vec::new();
            for raw in &wanted {
                if visits.iter().any(|v| v.as_str() == raw) {
                    continue;
                }
                match queued.iter().find(|e| e.record.visit.id.as_str() == raw) {
                    Some(e) if e.evidence.is_clean() => visits.push(e.record.visit.id.clone()),
                    Some(_) => {
                        return Err(PageError::conflict(format!(
                            "{}{raw}",
                            lang.pick(
                                "这条记录不是正常记录，请单独审核；没有做任何更改：",
                                "This visit is not clean: review it on its own. Nothing was changed: "
                            )
                        )));
                    }
                    None => return Err(PageError::not_at_station(lang)),
                }
            }
            let ids: Vec<&str> = visits.iter().map(VisitId::as_str).collect();
            let audit = audit::entry(&relay, &signed, AuditAction::ReviewApproveClean, &ids.join(" "), "");
            desk::review_visits(&relay, &author, &visits, ReviewDecision::Approve, "", Some(audit)).map_err(|e| not_here(lang, e))?;
            Ok(visits.len())
        })
    };
    let count = count.await?;
    Ok(redirect(&signed, "/console/review", Flash::ok(format!("{} {count}", lang.pick("已批准正常记录：", "Clean visits approved:")))))
}
