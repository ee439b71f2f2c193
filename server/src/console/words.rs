//! The console's message catalogue for stored codes: what a role, a visit's status, a
//! review decision, an order's state, a redemption's status, a posting's kind, a visit's
//! source, a confirmation, an anomaly and the ledger's reasons read as, in Chinese and
//! English. Pages never show a code itself; anything not in the catalogue reads as
//! "other" rather than as the code.

use timebank_engine::model::{BackEntered, ConfirmedBy, OrderState, OutcomeStatus, ReviewDecision, Role, VisitSource};

use crate::console::Lang;
use crate::ledger::anomaly::Anomaly;
use crate::ledger::posting::PostingKind;

/// A member's role.
pub fn role(lang: Lang, role: Role) -> &'static str {
    match role {
        Role::Volunteer => lang.pick("志愿者", "volunteer"),
        Role::Elder => lang.pick("老人", "elder"),
        Role::Coordinator => lang.pick("协调员", "coordinator"),
        Role::FamilyProxy => lang.pick("家属代理", "family proxy"),
    }
}

/// Where a visit stands: still open, waiting for the ledger, or the ledger's status.
pub fn visit_status(lang: Lang, open: bool, status: Option<OutcomeStatus>) -> &'static str {
    match (open, status) {
        (true, _) => lang.pick("进行中", "open"),
        (false, None) => lang.pick("待审核", "waiting for review"),
        (false, Some(OutcomeStatus::Approved)) => lang.pick("已批准", "approved"),
        (false, Some(OutcomeStatus::Rejected)) => lang.pick("已驳回", "rejected"),
        (false, Some(OutcomeStatus::UnderReview)) => lang.pick("审核中（有异常）", "under review"),
        (false, Some(_)) => lang.pick("其他", "other"),
    }
}

/// A coordinator's review decision.
pub fn decision(lang: Lang, decision: ReviewDecision) -> &'static str {
    match decision {
        ReviewDecision::Approve => lang.pick("批准", "approved"),
        ReviewDecision::Reject => lang.pick("驳回", "rejected"),
        ReviewDecision::Flag => lang.pick("标记待查", "flagged"),
    }
}

/// A reversed decision, as the visit's history says it.
pub fn reversed(lang: Lang, decision: ReviewDecision) -> &'static str {
    match decision {
        ReviewDecision::Reject => lang.pick("驳回已撤销", "rejection reversed"),
        _ => lang.pick("批准已撤销", "approval reversed"),
    }
}

/// The action that reverses `decision`, for a button.
pub fn reverse_action(lang: Lang, decision: ReviewDecision) -> &'static str {
    match decision {
        ReviewDecision::Reject => lang.pick("撤销驳回", "Reverse the rejection"),
        _ => lang.pick("撤销批准", "Reverse the approval"),
    }
}

/// An order's state.
pub fn order_state(lang: Lang, state: OrderState) -> &'static str {
    match state {
        OrderState::Requested => lang.pick("点单（待派单）", "requested"),
        OrderState::Dispatched => lang.pick("已派单（待回复）", "dispatched"),
        OrderState::Accepted => lang.pick("已接单", "accepted"),
        OrderState::Declined => lang.pick("已拒单（请重新派单）", "declined"),
        OrderState::Visited => lang.pick("已服务", "visited"),
        OrderState::Confirmed => lang.pick("老人已确认", "confirmed"),
        OrderState::Settled => lang.pick("已结算", "settled"),
        OrderState::Cancelled => lang.pick("已取消", "cancelled"),
    }
}

/// A redemption request's status from the ledger (`None`: not decided yet).
pub fn redemption_status(lang: Lang, status: Option<OutcomeStatus>) -> &'static str {
    match status {
        Some(OutcomeStatus::Accepted) => lang.pick("已受理，待兑现", "accepted, to fulfil"),
        Some(OutcomeStatus::Fulfilled) => lang.pick("已兑现", "fulfilled"),
        Some(OutcomeStatus::Released) => lang.pick("已解冻", "released"),
        Some(OutcomeStatus::Refused) => lang.pick("未受理", "refused"),
        Some(_) => lang.pick("其他", "other"),
        None => lang.pick("等待账本处理", "waiting for the ledger"),
    }
}

/// A posting's kind as stored.
pub fn posting_kind(lang: Lang, kind: &str) -> &'static str {
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
        None => lang.pick("其他", "other"),
    }
}

/// How a visit was entered: tapped as it happened, filled in afterwards on the phone
/// (`back_entered`: a check-in or check-out entered later than the station allows), or
/// from paper.
pub fn source(lang: Lang, source: VisitSource, back_entered: BackEntered) -> &'static str {
    match (source, back_entered.check_in.is_some(), back_entered.check_out.is_some()) {
        (VisitSource::Paper, _, _) => lang.pick("纸质记录补录", "entered from a paper record"),
        (VisitSource::Live, false, false) => lang.pick("手机签到签退", "checked in and out on the phone"),
        (VisitSource::Live, true, false) => lang.pick("补录：签到时间是事后填写的", "filled in later: the check-in time"),
        (VisitSource::Live, false, true) => lang.pick("补录：签退时间是事后填写的", "filled in later: the check-out time"),
        (VisitSource::Live, true, true) => {
            lang.pick("补录：签到和签退时间都是事后填写的", "filled in later: the check-in and check-out times")
        }
    }
}

/// Who confirmed a visit on the volunteer's phone.
pub fn confirmed_by(lang: Lang, by: ConfirmedBy) -> &'static str {
    match by {
        ConfirmedBy::Elder => lang.pick("老人本人", "the elder"),
        ConfirmedBy::Family => lang.pick("家属", "a family member"),
    }
}

/// Yes or no.
pub fn yes_no(lang: Lang, yes: bool) -> &'static str {
    if yes { lang.pick("是", "yes") } else { lang.pick("否", "no") }
}

/// An anomaly's short name (a badge).
pub fn anomaly_label(lang: Lang, anomaly: &Anomaly) -> &'static str {
    match anomaly {
        Anomaly::EndsBeforeStart => lang.pick("时间颠倒", "ends before start"),
        Anomaly::ZeroLength => lang.pick("时长为零", "no length"),
        Anomaly::TooLong { .. } => lang.pick("时长过长", "too long"),
        Anomaly::ClockAhead { .. } => lang.pick("手机时钟超前", "clock ahead"),
        Anomaly::Late { .. } => lang.pick("补录过晚", "logged late"),
        Anomaly::CheckInEnteredLate { .. } => lang.pick("签到补录", "check-in filled in later"),
        Anomaly::CheckOutEnteredLate { .. } => lang.pick("签退补录", "check-out filled in later"),
        Anomaly::OwnHousehold => lang.pick("服务自家", "own household"),
        Anomaly::Overlaps { .. } => lang.pick("时间重叠", "overlap"),
        Anomaly::LoggedTwice { .. } => lang.pick("重复记录", "logged twice"),
    }
}

/// An anomaly in a sentence; `visit` names another visit in words (its people and time).
pub fn anomaly_text(lang: Lang, anomaly: &Anomaly, visit: &dyn Fn(&str) -> String) -> String {
    match (lang, anomaly) {
        (Lang::Zh, Anomaly::EndsBeforeStart) => "签退时间早于签到时间".into(),
        (Lang::Zh, Anomaly::ZeroLength) => "时长不足一分钟".into(),
        (Lang::Zh, Anomaly::TooLong { minutes, max }) => {
            format!("时长 {}，超过本站上限 {}", lang.duration(*minutes), lang.duration(*max))
        }
        (Lang::Zh, Anomaly::ClockAhead { minutes }) => format!("记录到达时，手机时钟比服务站快 {}", lang.duration(*minutes)),
        (Lang::Zh, Anomaly::Late { days }) => format!("服务结束 {days} 天后才记录"),
        (Lang::Zh, Anomaly::CheckInEnteredLate { minutes }) => {
            format!("签到时间是事后补填的：在手机上录入比填写的时间晚 {}", lang.duration(*minutes))
        }
        (Lang::Zh, Anomaly::CheckOutEnteredLate { minutes }) => {
            format!("签退时间是事后补填的：在手机上录入比填写的时间晚 {}", lang.duration(*minutes))
        }
        (Lang::Zh, Anomaly::OwnHousehold) => "志愿者服务的是自己家庭的成员".into(),
        (Lang::Zh, Anomaly::Overlaps { other }) => format!("与另一条记录（{}）时间重叠", visit(other)),
        (Lang::Zh, Anomaly::LoggedTwice { other }) => format!("同一次服务似乎被另一部手机重复记录（{}）", visit(other)),
        (Lang::En, Anomaly::Overlaps { other }) => format!("overlaps another visit ({})", visit(other)),
        (Lang::En, Anomaly::LoggedTwice { other }) => {
            format!("the same visit seems logged twice, also from another phone ({})", visit(other))
        }
        (Lang::En, other) => other.reason(),
    }
}

/// One part of a reason the ledger wrote (its reasons are in English, joined by `; `).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LedgerReason {
    /// An anomaly the ledger found.
    Anomaly(Anomaly),
    /// A flag without a reason: a coordinator is looking closer.
    CloserLook,
    /// Minutes over a cap that went to the station's pool (`lifetime` or the daily cap).
    OverCap {
        /// Minutes.
        minutes: i64,
        /// The lifetime cap (else the daily one).
        lifetime: bool,
    },
    /// A visit without length: nothing to credit.
    NothingToCredit,
    /// Minutes that could not be taken back by a reversal or correction (already spent).
    NotTakenBack {
        /// Minutes.
        minutes: i64,
    },
    /// A coordinator reversed the visit's approval (or rejection), with their reason.
    Reversed {
        /// A rejection was reversed (else an approval).
        rejection: bool,
        /// The coordinator's reason.
        reason: String,
    },
    /// Words a person wrote (a coordinator's reason).
    Words(String),
}

/// The parts of a reason the ledger wrote.
pub fn ledger_reasons(raw: &str) -> Vec<LedgerReason> {
    raw.split("; ").map(str::trim).filter(|p| !p.is_empty()).map(ledger_reason).collect()
}

fn between<'a>(text: &'a str, prefix: &str, suffix: &str) -> Option<&'a str> {
    text.strip_prefix(prefix)?.strip_suffix(suffix)
}

fn number(text: &str) -> Option<i64> {
    text.trim().parse().ok()
}

/// One part of a ledger reason, read back from the words `Anomaly::reason` and the
/// ledger's fold write (the unit test below keeps the two in step).
fn ledger_reason(part: &str) -> LedgerReason {
    let anomaly = match part {
        "the visit ends before it starts" => Some(Anomaly::EndsBeforeStart),
        "the visit has no length (shorter than one minute)" => Some(Anomaly::ZeroLength),
        "the volunteer served their own household" => Some(Anomaly::OwnHousehold),
        "a coordinator is taking a closer look" => return LedgerReason::CloserLook,
        "the visit has no length to credit" => return LedgerReason::NothingToCredit,
        _ => None,
    }
    .or_else(|| {
        let (length, max) = between(part, "the visit lasts ", " h")?.split_once(", over the station's maximum of ")?;
        let (h, m) = between(length, "", " min")?.split_once(" h ")?;
        Some(Anomaly::TooLong { minutes: number(h)? * 60 + number(m)?, max: number(max)? * 60 })
    })
    .or_else(|| {
        between(part, "the phone's clock was ", " min ahead of the station's when the visit arrived")
            .and_then(number)
            .map(|minutes| Anomaly::ClockAhead { minutes })
    })
    .or_else(|| between(part, "the visit was logged ", " days after it happened").and_then(number).map(|days| Anomaly::Late { days }))
    .or_else(|| {
        between(part, "the check-in was entered ", " min after the time it claims")
            .and_then(number)
            .map(|minutes| Anomaly::CheckInEnteredLate { minutes })
    })
    .or_else(|| {
        between(part, "the check-out was entered ", " min after the time it claims")
            .and_then(number)
            .map(|minutes| Anomaly::CheckOutEnteredLate { minutes })
    })
    .or_else(|| part.strip_prefix("overlaps visit ").map(|other| Anomaly::Overlaps { other: other.to_owned() }))
    .or_else(|| {
        between(part, "the same visit seems logged twice, also as ", " from another phone")
            .map(|other| Anomaly::LoggedTwice { other: other.to_owned() })
    });
    if let Some(anomaly) = anomaly {
        return LedgerReason::Anomaly(anomaly);
    }
    for (prefix, rejection) in [("the approval was reversed: ", false), ("the rejection was reversed: ", true)] {
        if let Some(reason) = part.strip_prefix(prefix) {
            return LedgerReason::Reversed { rejection, reason: reason.to_owned() };
        }
    }
    if let Some((minutes, cap)) =
        between(part, "", " cap went to the station's donation pool").and_then(|p| p.split_once(" min over the "))
        && let Some(minutes) = number(minutes)
    {
        return LedgerReason::OverCap { minutes, lifetime: cap == "lifetime" };
    }
    let taken = between(part, "", " min already spent could not be taken back")
        .or_else(|| between(part, "", " min could not be taken back (not available)"));
    match taken.and_then(number) {
        Some(minutes) => LedgerReason::NotTakenBack { minutes },
        None => LedgerReason::Words(part.to_owned()),
    }
}

/// A part of a ledger reason in words; `visit` names another visit.
pub fn ledger_reason_text(lang: Lang, reason: &LedgerReason, visit: &dyn Fn(&str) -> String) -> String {
    match reason {
        LedgerReason::Anomaly(anomaly) => anomaly_text(lang, anomaly, visit),
        LedgerReason::CloserLook => lang.pick("协调员正在进一步核查", "a coordinator is taking a closer look").into(),
        LedgerReason::OverCap { minutes, lifetime } => match lang {
            Lang::Zh => format!(
                "超出{}的 {} 币转入服务站捐赠池",
                if *lifetime { "累计上限" } else { "每日上限" },
                crate::console::i18n::coins(*minutes)
            ),
            Lang::En => format!(
                "{} coins over the {} cap went to the station's donation pool",
                crate::console::i18n::coins(*minutes),
                if *lifetime { "lifetime" } else { "daily" }
            ),
        },
        LedgerReason::NothingToCredit => lang.pick("这次服务没有可计入的时长", "the visit has no length to credit").into(),
        LedgerReason::NotTakenBack { minutes } => match lang {
            Lang::Zh => format!("其中 {} 币已被花掉或不在余额中，未能收回", crate::console::i18n::coins(*minutes)),
            Lang::En => format!("{} coins already spent could not be taken back", crate::console::i18n::coins(*minutes)),
        },
        LedgerReason::Reversed { rejection, reason } => match (lang, rejection) {
            (Lang::Zh, false) => format!("批准已撤销：{reason}"),
            (Lang::Zh, true) => format!("驳回已撤销：{reason}"),
            (Lang::En, false) => format!("the approval was reversed: {reason}"),
            (Lang::En, true) => format!("the rejection was reversed: {reason}"),
        },
        LedgerReason::Words(words) => words.clone(),
    }
}

/// A whole ledger reason in words, its parts joined.
pub fn ledger_reason_words(lang: Lang, raw: &str, visit: &dyn Fn(&str) -> String) -> String {
    let parts: Vec<String> = ledger_reasons(raw).iter().map(|r| ledger_reason_text(lang, r, visit)).collect();
    parts.join(lang.pick("；", "; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_anomaly_the_ledger_writes_is_read_back() {
        let all = [
            Anomaly::EndsBeforeStart,
            Anomaly::ZeroLength,
            Anomaly::TooLong { minutes: 9 * 60 + 5, max: 8 * 60 },
            Anomaly::ClockAhead { minutes: 95 },
            Anomaly::Late { days: 12 },
            Anomaly::CheckInEnteredLate { minutes: 95 },
            Anomaly::CheckOutEnteredLate { minutes: 40 },
            Anomaly::OwnHousehold,
            Anomaly::Overlaps { other: "v-0a1b2c".into() },
            Anomaly::LoggedTwice { other: "v-3d4e5f".into() },
        ];
        let joined: Vec<String> = all.iter().map(Anomaly::reason).collect();
        let read = ledger_reasons(&joined.join("; "));
        assert_eq!(read, all.iter().cloned().map(LedgerReason::Anomaly).collect::<Vec<_>>());
    }

    #[test]
    fn the_ledgers_own_phrases_are_read_and_a_persons_words_kept() {
        assert_eq!(
            ledger_reasons("30 min over the daily cap went to the station's donation pool"),
            [LedgerReason::OverCap { minutes: 30, lifetime: false }]
        );
        assert_eq!(
            ledger_reasons("老人说没来过; 45 min already spent could not be taken back"),
            [LedgerReason::Words("老人说没来过".into()), LedgerReason::NotTakenBack { minutes: 45 }]
        );
        assert_eq!(ledger_reasons("a coordinator is taking a closer look"), [LedgerReason::CloserLook]);
        let reversed = crate::ledger::reconcile::reversal_reason(ReviewDecision::Approve, "记错了老人");
        assert_eq!(ledger_reasons(&reversed), [LedgerReason::Reversed { rejection: false, reason: "记错了老人".into() }]);
        let unrejected = crate::ledger::reconcile::reversal_reason(ReviewDecision::Reject, "老人确认来过");
        assert_eq!(ledger_reason_words(Lang::Zh, &unrejected, &|id: &str| id.to_owned()), "驳回已撤销：老人确认来过");
        let named = |id: &str| format!("李伟 → 王芳 ({id})");
        let zh = ledger_reason_words(Lang::Zh, "overlaps visit v-1; 15 min could not be taken back (not available)", &named);
        assert_eq!(zh, "与另一条记录（李伟 → 王芳 (v-1)）时间重叠；其中 0.25 币已被花掉或不在余额中，未能收回");
    }

    #[test]
    fn codes_outside_the_catalogue_read_as_other_never_as_the_code() {
        assert_eq!(visit_status(Lang::Zh, false, Some(OutcomeStatus::UnderReview)), "审核中（有异常）");
        assert_eq!(visit_status(Lang::Zh, false, Some(OutcomeStatus::Fulfilled)), "其他", "not a visit's status");
        assert_eq!(visit_status(Lang::Zh, true, None), "进行中");
        assert_eq!(posting_kind(Lang::Zh, "earn"), "服务所得");
        assert_eq!(posting_kind(Lang::En, "mystery"), "other");
        assert_eq!(decision(Lang::Zh, ReviewDecision::Flag), "标记待查");
        assert_eq!(redemption_status(Lang::Zh, Some(OutcomeStatus::Accepted)), "已受理，待兑现");
    }
}
