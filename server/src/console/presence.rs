//! Evidence of presence on the console's pages (ADR 30): a visit's state in words (verified
//! at both ends, one end, none, failed with the reasons) and the review queue's filter by it.

use maud::{Markup, html};

use crate::console::Lang;
use crate::ledger::evidence::{EvidenceState, Failure};

/// The filter's choices: (value, Chinese, English).
const CHOICES: [(&str, &str, &str); 4] = [
    ("verified", "两端都核实", "verified at both ends"),
    ("one-end", "只核实一端", "verified at one end"),
    ("none", "没有核实", "no evidence"),
    ("failed", "核实失败", "evidence failed"),
];

/// Whether a visit whose evidence is `presence` is among those the filter `wanted` asks for
/// (every visit when it asks for none, or for a kind this build does not know).
pub fn wanted(wanted: &str, presence: Option<&EvidenceState>) -> bool {
    match EvidenceState::parse_kind(wanted) {
        None => true,
        Some(kind) => presence.map_or("none", EvidenceState::as_str) == kind,
    }
}

/// The filter, a `state` field of the list's search form.
pub fn filter(lang: Lang, state: &str) -> Markup {
    html! {
        label { (lang.pick("到场证明", "Presence"))
            select name="state" data-testid="evidence-filter" {
                option value="" { (lang.pick("全部", "All")) }
                @for (value, zh, en) in CHOICES { option value=(value) selected[state == value] { (lang.pick(zh, en)) } }
            }
        }
    }
}

fn failure_words(lang: Lang, failure: Failure) -> &'static str {
    match failure {
        Failure::BadCmac => lang.pick("卡片链接被改动过", "the tag's link was altered"),
        Failure::UnknownKey => lang.pick("不是本站发的卡片", "not a tag this station issued"),
        Failure::OtherElder => lang.pick("碰的是另一位老人的卡片", "another elder's tag was tapped"),
        Failure::RevokedTag => lang.pick("卡片已停用", "the tag was revoked"),
        Failure::MovedTag => lang.pick(
            "老人已迁往其他站点，这是原站点的卡片（已停用）；请在现站点为老人登记新卡片",
            "the elder moved: the tag is from their old station (revoked); register a new tag at their station now",
        ),
        Failure::ReplayedCounter => {
            lang.pick("重复使用了以前的卡片链接（复制的链接）", "an earlier tap was used again (a copied link)")
        }
        Failure::BackwardCounter => {
            lang.pick("卡片计数与记录时间的先后不符", "the tag's counter goes backward against the visits' times")
        }
        Failure::BadSignature => lang.pick("老人手机的签名不对", "the elder's phone's signature does not verify"),
        Failure::UnknownSigner => lang.pick("签名的手机不是已绑定的手机", "the signing phone is not an enrolled phone"),
        Failure::NotHousehold => lang.pick("签名人不是老人本人或家人", "the signer is neither the elder nor of the household"),
    }
}

/// The visit's evidence of presence, as an item of the evidence list.
pub fn evidence_item(lang: Lang, presence: Option<&EvidenceState>) -> Markup {
    html! {
        li data-testid="presence" data-presence=(presence.map_or("none", EvidenceState::as_str)) {
            @match presence {
                Some(EvidenceState::Verified) => span.badge { (lang.pick("到场已核实", "presence verified")) },
                Some(EvidenceState::OneEnd) => span.badge.off { (lang.pick("只核实了一端", "verified at one end")) },
                Some(EvidenceState::Failed(failures)) => {
                    span.badge.warn { (lang.pick("到场核实失败", "presence check failed")) } " "
                    (failures.iter().map(|f| failure_words(lang, *f)).collect::<Vec<_>>().join(lang.pick("；", "; ")))
                },
                Some(EvidenceState::None) | None => span.badge.off { (lang.pick("没有到场证明", "no proof of presence")) },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_keeps_the_kind_asked_for_and_everything_without_one() {
        let failed = EvidenceState::Failed(vec![Failure::RevokedTag]);
        assert!(wanted("failed", Some(&failed)));
        assert!(!wanted("verified", Some(&failed)));
        assert!(wanted("none", None), "a visit with no evidence event has none");
        assert!(wanted("", Some(&EvidenceState::OneEnd)));
        assert!(wanted("whatever", None));
        let shown = evidence_item(Lang::En, Some(&failed)).into_string();
        assert!(shown.contains("the tag was revoked") && shown.contains("data-presence=\"failed\""), "{shown}");
    }
}
