//! The audit trail: every state-changing console action is recorded with who, when and
//! what ([`entry`], stored in the same transaction as the action, or [`record_as`] for an
//! action that stores nothing else); `/console/audit` lists it, station-scoped.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use maud::{Markup, html};
use timebank_engine::model::{ReviewDecision, StationId};

use crate::console::i18n::coins;
use crate::console::names::Directory;
use crate::console::paging::{self, Listed, Paged};
use crate::console::{Lang, PageError, Reach, Signed, blocking, layout, pinyin_order, words};
use crate::relay::Relay;
use crate::store::{AuditRecord, StoreResult};

/// Entries the audit page reads at most (newest first), a page at a time.
pub const READ_ENTRIES: usize = 5000;

/// What a console user did: stored as its code (`review.approve`), shown in words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditAction {
    /// Signed in.
    SignIn,
    /// A wrong password (or an unknown username).
    SignInFailed,
    /// Signed out.
    SignOut,
    /// Registered a member.
    MemberCreate,
    /// Issued a one-time enrollment code.
    EnrollCode,
    /// Downloaded what the program holds about a member (an access request).
    MemberExport,
    /// Erased a member's contact details (a member who leaves).
    MemberEraseContact,
    /// Moved a member to another station (ADR 42).
    MemberMove,
    /// Revoked a device.
    DeviceRevoke,
    /// Approved a visit.
    ReviewApprove,
    /// Rejected a visit.
    ReviewReject,
    /// Flagged a visit.
    ReviewFlag,
    /// Approved the selected clean visits.
    ReviewApproveClean,
    /// Reversed a visit's approval or rejection.
    ReviewReverse,
    /// Placed an order.
    OrderPlace,
    /// Dispatched an order.
    OrderDispatch,
    /// Cancelled an order.
    OrderCancel,
    /// Corrected a balance.
    LedgerCorrection,
    /// Recorded a redemption as given.
    RedemptionFulfil,
    /// Released a redemption's held coins.
    RedemptionRelease,
    /// Registered an elder's tag.
    TagRegister,
    /// Replaced an elder's tag.
    TagReplace,
    /// Revoked a tag.
    TagRevoke,
    /// Showed a tag's keys for writing it.
    TagExport,
    /// Set what verified visits get.
    RuleVerifiedVisits,
}

impl AuditAction {
    const ALL: [AuditAction; 25] = [
        AuditAction::SignIn,
        AuditAction::SignInFailed,
        AuditAction::SignOut,
        AuditAction::MemberCreate,
        AuditAction::EnrollCode,
        AuditAction::MemberExport,
        AuditAction::MemberEraseContact,
        AuditAction::MemberMove,
        AuditAction::DeviceRevoke,
        AuditAction::ReviewApprove,
        AuditAction::ReviewReject,
        AuditAction::ReviewFlag,
        AuditAction::ReviewApproveClean,
        AuditAction::ReviewReverse,
        AuditAction::OrderPlace,
        AuditAction::OrderDispatch,
        AuditAction::OrderCancel,
        AuditAction::LedgerCorrection,
        AuditAction::RedemptionFulfil,
        AuditAction::RedemptionRelease,
        AuditAction::TagRegister,
        AuditAction::TagReplace,
        AuditAction::TagRevoke,
        AuditAction::TagExport,
        AuditAction::RuleVerifiedVisits,
    ];

    /// The stored code.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::SignIn => "sign-in",
            AuditAction::SignInFailed => "sign-in.failed",
            AuditAction::SignOut => "sign-out",
            AuditAction::MemberCreate => "member.create",
            AuditAction::EnrollCode => "member.enroll-code",
            AuditAction::MemberExport => "member.export",
            AuditAction::MemberEraseContact => "member.erase-contact",
            AuditAction::MemberMove => "member.move",
            AuditAction::DeviceRevoke => "device.revoke",
            AuditAction::ReviewApprove => "review.approve",
            AuditAction::ReviewReject => "review.reject",
            AuditAction::ReviewFlag => "review.flag",
            AuditAction::ReviewApproveClean => "review.approve-clean",
            AuditAction::ReviewReverse => "review.reverse",
            AuditAction::OrderPlace => "order.place",
            AuditAction::OrderDispatch => "order.dispatch",
            AuditAction::OrderCancel => "order.cancel",
            AuditAction::LedgerCorrection => "ledger.correction",
            AuditAction::RedemptionFulfil => "redemption.fulfil",
            AuditAction::RedemptionRelease => "redemption.release",
            AuditAction::TagRegister => "tag.register",
            AuditAction::TagReplace => "tag.replace",
            AuditAction::TagRevoke => "tag.revoke",
            AuditAction::TagExport => "tag.export",
            AuditAction::RuleVerifiedVisits => "rule.verified-visits",
        }
    }

    /// Reads a stored code.
    pub fn parse(raw: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|a| a.as_str() == raw)
    }

    /// The review of a visit with `decision`.
    pub fn review(decision: ReviewDecision) -> AuditAction {
        match decision {
            ReviewDecision::Approve => AuditAction::ReviewApprove,
            ReviewDecision::Reject => AuditAction::ReviewReject,
            ReviewDecision::Flag => AuditAction::ReviewFlag,
        }
    }

    /// In words.
    pub fn words(self, lang: Lang) -> &'static str {
        match self {
            AuditAction::SignIn => lang.pick("登录", "signed in"),
            AuditAction::SignInFailed => lang.pick("登录失败", "failed sign-in"),
            AuditAction::SignOut => lang.pick("退出", "signed out"),
            AuditAction::MemberCreate => lang.pick("登记成员", "registered a member"),
            AuditAction::EnrollCode => lang.pick("生成绑定码", "issued an enrollment code"),
            AuditAction::MemberExport => lang.pick("导出个人信息", "exported a member's data"),
            AuditAction::MemberEraseContact => lang.pick("删除联系方式", "erased contact details"),
            AuditAction::MemberMove => lang.pick("调动服务站", "moved a member to another station"),
            AuditAction::DeviceRevoke => lang.pick("停用设备", "revoked a device"),
            AuditAction::ReviewApprove => lang.pick("批准记录", "approved a visit"),
            AuditAction::ReviewReject => lang.pick("驳回记录", "rejected a visit"),
            AuditAction::ReviewFlag => lang.pick("标记记录", "flagged a visit"),
            AuditAction::ReviewApproveClean => lang.pick("批量批准正常记录", "approved clean visits"),
            AuditAction::ReviewReverse => lang.pick("撤销审核决定", "reversed a review"),
            AuditAction::OrderPlace => lang.pick("下单", "placed an order"),
            AuditAction::OrderDispatch => lang.pick("派单", "dispatched an order"),
            AuditAction::OrderCancel => lang.pick("取消订单", "cancelled an order"),
            AuditAction::LedgerCorrection => lang.pick("更正余额", "corrected a balance"),
            AuditAction::RedemptionFulfil => lang.pick("兑现兑换", "fulfilled a redemption"),
            AuditAction::RedemptionRelease => lang.pick("解冻退回", "released a redemption"),
            AuditAction::TagRegister => lang.pick("登记卡片", "registered a tag"),
            AuditAction::TagReplace => lang.pick("换卡", "replaced a tag"),
            AuditAction::TagRevoke => lang.pick("停用卡片", "revoked a tag"),
            AuditAction::TagExport => lang.pick("查看写卡数据", "showed a tag's keys"),
            AuditAction::RuleVerifiedVisits => lang.pick("设置核实记录规则", "set the rule for verified visits"),
        }
    }
}

/// The details a sign-in failure stores.
pub const WRONG_PASSWORD: &str = "wrong password";
/// ... and when that failure locked the username.
pub const WRONG_PASSWORD_LOCKED: &str = "wrong password; locked";

/// The audit routes.
pub fn routes() -> Router<Arc<Relay>> {
    Router::new().route("/audit", get(audit_page))
}

/// The entry saying that `signed` did `action` on `target` (at their station), with
/// `detail`. An action that stores something hands it to the call that stores it (a desk
/// decision, [`Relay::write_as`], an admin call, a sign-out), which stores both in one
/// transaction.
pub fn entry(relay: &Relay, signed: &Signed, action: AuditAction, target: &str, detail: &str) -> AuditRecord {
    entry_as(relay, &signed.username, signed.station(), action, target, detail)
}

/// Records an action by `username` concerning `station` that stores nothing else (a failed
/// sign-in, before a [`Signed`] exists).
pub fn record_as(
    relay: &Relay,
    username: &str,
    station: Option<&StationId>,
    action: AuditAction,
    target: &str,
    detail: &str,
) -> StoreResult<()> {
    relay.store().record_audit(&entry_as(relay, username, station, action, target, detail))
}

/// The entry saying that `username` did `action` concerning `station` (a sign-in, before a
/// [`Signed`] exists), handed to the call that stores the action.
pub fn entry_as(
    relay: &Relay,
    username: &str,
    station: Option<&StationId>,
    action: AuditAction,
    target: &str,
    detail: &str,
) -> AuditRecord {
    AuditRecord {
        at: relay.now_ms(),
        username: username.to_owned(),
        station: station.cloned(),
        action: action.as_str().to_owned(),
        target: target.to_owned(),
        detail: detail.to_owned(),
    }
}

/// One entry as the page shows it: who, when, what, on what, details, all in words.
struct Shown {
    entry: AuditRecord,
    what: String,
    on: String,
    details: String,
}

async fn audit_page(signed: Signed, State(relay): State<Arc<Relay>>, Listed { query, raw }: Listed) -> Result<Markup, PageError> {
    let lang = signed.lang;
    let q = query.words();
    let paged = {
        let signed = signed.clone();
        blocking(move || {
            let store = relay.store();
            let requested = query.station.as_deref().filter(|s| !s.is_empty());
            let entries = match (&signed.reach, requested) {
                (Reach::Station(own), _) => store.audit_entries(Some(own), READ_ENTRIES)?,
                (Reach::All, None) => store.audit_entries(None, READ_ENTRIES)?,
                (Reach::Stations(_) | Reach::All, _) => {
                    let mut entries = Vec::new();
                    for station in signed.visible_stations(&relay, requested)? {
                        entries.extend(store.audit_entries(Some(&station.id), READ_ENTRIES)?);
                    }
                    if requested.is_none() {
                        // A district's own sign-ins and sign-outs, which belong to no station.
                        let own = store.audit_entries(None, READ_ENTRIES)?;
                        entries.extend(own.into_iter().filter(|e| e.station.is_none() && e.username == signed.username));
                    }
                    entries.sort_by_key(|e| std::cmp::Reverse(e.at));
                    entries.truncate(READ_ENTRIES);
                    entries
                }
            };
            let directory = Directory::load(&relay, &signed, requested)?;
            let shown: Vec<Shown> = entries
                .into_iter()
                .map(|entry| describe(lang, entry, &directory))
                .filter(|s| {
                    let q = q.trim();
                    q.is_empty()
                        || [&s.entry.username, &s.what, &s.on, &s.details].iter().any(|f| f.to_lowercase().contains(&q.to_lowercase()))
                        || pinyin_order::name_matches(&s.on, q)
                })
                .collect();
            Ok(Paged::of(shown, query.page.as_deref()))
        })
        .await?
    };
    let q = signed_query(&raw);
    Ok(layout::page(
        &signed,
        lang.pick("审计记录", "Audit trail"),
        html! {
            p.hint { (lang.pick("控制台上的每一次操作：谁、何时、做了什么（最新在前）。", "Every console action: who, when, what (newest first).")) }
            (paging::search(lang, "/console/audit", &q, lang.pick("用户、操作、姓名", "user, action, name"), html! {}))
            (paging::list(lang, &paged, "/console/audit", raw.as_deref(), lang.pick("没有找到记录。", "Nothing recorded."), html! {
                table.data {
                    thead { tr {
                        th { (lang.pick("时间", "When")) }
                        th { (lang.pick("用户", "Who")) }
                        th { (lang.pick("操作", "Action")) }
                        th { (lang.pick("对象", "On")) }
                        th { (lang.pick("详情", "Details")) }
                    } }
                    tbody {
                        @for s in &paged.items {
                            tr data-action=(s.entry.action) {
                                td.lead { (lang.datetime(s.entry.at)) }
                                td data-label=(lang.pick("用户", "Who")) translate="no" { (s.entry.username) }
                                td data-label=(lang.pick("操作", "Action")) { (s.what) }
                                td data-label=(lang.pick("对象", "On")) title=(s.entry.target) { (s.on) }
                                td data-label=(lang.pick("详情", "Details")) { (s.details) }
                            }
                        }
                    }
                }
            }))
        },
    ))
}

/// The `q` of a raw query string (for the search box).
fn signed_query(raw: &Option<String>) -> String {
    form_urlencoded::parse(raw.as_deref().unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "q")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// An entry in words: its action, what it was done to, and its details, with names for ids.
fn describe(lang: Lang, entry: AuditRecord, directory: &Directory) -> Shown {
    let action = AuditAction::parse(&entry.action);
    let target = entry.target.as_str();
    let detail = entry.detail.as_str();
    let (on, details) = match action {
        Some(AuditAction::SignIn | AuditAction::SignOut) => (String::new(), String::new()),
        Some(AuditAction::SignInFailed) => {
            let words = match detail {
                WRONG_PASSWORD => lang.pick("用户名或密码不正确", "wrong username or password"),
                WRONG_PASSWORD_LOCKED => lang
                    .pick("用户名或密码不正确；此用户名已暂时锁定", "wrong username or password; the username is locked for a while"),
                _ => lang.pick("登录未成功", "not signed in"),
            };
            (String::new(), words.to_owned())
        }
        Some(AuditAction::MemberCreate) => {
            let role = directory.member(target).map(|m| words::role(lang, m.role));
            (directory.name(lang, target), role.unwrap_or_default().to_owned())
        }
        Some(AuditAction::EnrollCode) => {
            (directory.name(lang, target), lang.pick("一次性，只能绑定一台设备", "one use, one device").to_owned())
        }
        Some(AuditAction::MemberExport | AuditAction::MemberEraseContact) => (directory.name(lang, target), String::new()),
        Some(AuditAction::MemberMove) => (directory.name(lang, target), detail.to_owned()),
        Some(AuditAction::DeviceRevoke) => (directory.device(lang, target), String::new()),
        Some(AuditAction::ReviewApprove | AuditAction::ReviewReject | AuditAction::ReviewFlag | AuditAction::ReviewReverse) => {
            (directory.visit(lang, target), detail.to_owned())
        }
        Some(AuditAction::ReviewApproveClean) => {
            let visits: Vec<String> = target.split_whitespace().map(|v| directory.visit(lang, v)).collect();
            let count = match lang {
                Lang::Zh => format!("{} 条记录", visits.len()),
                Lang::En => format!("{} visits", visits.len()),
            };
            (count, visits.join(lang.pick("；", "; ")))
        }
        Some(AuditAction::OrderPlace | AuditAction::OrderCancel) => (directory.order(lang, target), String::new()),
        Some(AuditAction::OrderDispatch) => {
            (directory.order(lang, target), format!("{}{}", lang.pick("派给 ", "to "), directory.name(lang, detail)))
        }
        Some(AuditAction::LedgerCorrection) => (directory.name(lang, target), correction_words(lang, detail)),
        Some(AuditAction::RedemptionFulfil | AuditAction::RedemptionRelease) => (directory.request(lang, target), String::new()),
        Some(AuditAction::TagRegister) => (target.to_owned(), directory.name(lang, detail)),
        Some(AuditAction::TagReplace | AuditAction::TagRevoke | AuditAction::TagExport | AuditAction::RuleVerifiedVisits) => {
            (target.to_owned(), detail.to_owned())
        }
        None => (String::new(), String::new()),
    };
    let what = action.map_or_else(|| lang.pick("其他操作", "another action").to_owned(), |a| a.words(lang).to_owned());
    Shown { entry, what, on, details }
}

/// A correction's stored detail (`+90 min: reason`) in words: `+1.5 币：reason`.
fn correction_words(lang: Lang, detail: &str) -> String {
    let Some((amount, reason)) = detail.split_once(" min: ") else { return detail.to_owned() };
    match amount.parse::<i64>() {
        Ok(minutes) => format!(
            "{}{} {}{}{reason}",
            if minutes > 0 { "+" } else { "" },
            coins(minutes),
            lang.pick("币", "coins"),
            lang.pick("：", ": ")
        ),
        Err(_) => detail.to_owned(),
    }
}

/// The stored detail of a correction of `minutes` for `reason`.
pub fn correction_detail(minutes: i64, reason: &str) -> String {
    format!("{minutes:+} min: {reason}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_is_read_back_from_its_code() {
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::parse(action.as_str()), Some(action));
            assert!(!action.words(Lang::Zh).is_ascii(), "{action:?} reads in Chinese");
        }
        assert_eq!(AuditAction::parse("review.maybe"), None);
    }

    #[test]
    fn a_correction_reads_in_coins() {
        assert_eq!(correction_words(Lang::Zh, &correction_detail(90, "纸质记录补登")), "+1.5 币：纸质记录补登");
        assert_eq!(correction_words(Lang::En, &correction_detail(-30, "typo")), "-0.5 coins: typo");
    }
}
