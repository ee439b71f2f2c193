//! Evidence of presence in the arrival log and the fold (ADR 30). An [`EvidenceEvent`]
//! carries a finished visit's taps and co-signature as the phone stored them, each with
//! the verdict the relay reached when it collected them (it alone holds the tag keys, so
//! the verdict is stored, and a rebuild folds it as it was). What needs the arrival order
//! is folded here, purely: a tag's read counter is used once, and moves forward in the
//! order the visits claim (check-in before check-out, an earlier visit before a later one).
//! The first to arrive wins; a later tap that breaks either rule fails.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use timebank_engine::model::{MemberId, StationId};

/// Why a piece of evidence does not count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Failure {
    /// The tap's MAC does not match: the link was altered, or made without the tag.
    BadCmac,
    /// The tap is not from a tag of this station (it does not decrypt under its key, or its
    /// UID was never registered).
    UnknownKey,
    /// The tag belongs to another elder.
    OtherElder,
    /// The tag was revoked (lost, replaced) before the tap arrived.
    RevokedTag,
    /// The tag is the elder's from a station they moved away from: revoked by the move
    /// (ADR 39), or tapped for a visit of their station now, whose keys it was not written with.
    MovedTag,
    /// The tag's counter was used by an earlier tap: a copied link.
    ReplayedCounter,
    /// The tag's counter is behind a tap the visits' times put before it.
    BackwardCounter,
    /// The co-signature does not verify under the registered key of the phone it names.
    BadSignature,
    /// The co-signing phone is not enrolled, revoked, or registered no key.
    UnknownSigner,
    /// The co-signer is neither the elder nor of the elder's household.
    NotHousehold,
}

impl Failure {
    /// In words, for the coordinator and the volunteer.
    pub fn reason(self) -> &'static str {
        match self {
            Failure::BadCmac => "the tag's link was altered (its code does not match)",
            Failure::UnknownKey => "the tap is not from a tag this station issued",
            Failure::OtherElder => "the tag tapped is another elder's",
            Failure::RevokedTag => "the tag tapped was revoked",
            Failure::MovedTag => "the tag tapped is from the station the elder moved away from; their station now registers a new tag",
            Failure::ReplayedCounter => "the tap repeats an earlier tap of the same tag (a copied link)",
            Failure::BackwardCounter => "the tag's counter goes backward against the visits' times",
            Failure::BadSignature => "the co-signature does not verify",
            Failure::UnknownSigner => "the co-signing phone is not an enrolled phone with a key",
            Failure::NotHousehold => "the co-signer is neither the elder nor of the elder's household",
        }
    }

    /// Its stored spelling (the console's filter uses it).
    pub fn as_str(self) -> &'static str {
        match self {
            Failure::BadCmac => "bad-cmac",
            Failure::UnknownKey => "unknown-key",
            Failure::OtherElder => "other-elder",
            Failure::RevokedTag => "revoked-tag",
            Failure::MovedTag => "moved-tag",
            Failure::ReplayedCounter => "replayed-counter",
            Failure::BackwardCounter => "backward-counter",
            Failure::BadSignature => "bad-signature",
            Failure::UnknownSigner => "unknown-signer",
            Failure::NotHousehold => "not-household",
        }
    }
}

/// What the relay found when it verified a tap.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum TapVerdict {
    /// A genuine tap of the visit's elder's tag (UID in hex) at this read counter.
    Genuine {
        /// The tag's UID, lowercase hex.
        tag: String,
        /// Its read counter.
        counter: u32,
    },
    /// It does not count.
    Failed {
        /// Why.
        failure: Failure,
    },
}

/// A tap as the phone stored it, and the relay's verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TapEvidence {
    /// The stored form (`picc_data:cmac`).
    pub raw: String,
    /// The verdict.
    pub verdict: TapVerdict,
}

/// A co-signature as the phone stored it, and the relay's verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureEvidence {
    /// Its text (`TBS1|…`).
    pub raw: String,
    /// Who signed, as the signature says.
    pub signer: MemberId,
    /// `None` when it verified.
    pub failure: Option<Failure>,
}

/// A finished visit's evidence as it arrived (a new event whenever the phone adds some).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceEvent {
    /// The visit.
    pub visit: String,
    /// Who served.
    pub volunteer: MemberId,
    /// The volunteer's station.
    pub station: StationId,
    /// Check-in (device clock, ms): when the check-in tap claims to be.
    pub check_in: i64,
    /// Check-out (ms).
    pub check_out: i64,
    /// The tap at check-in.
    pub tap_in: Option<TapEvidence>,
    /// The tap at check-out.
    pub tap_out: Option<TapEvidence>,
    /// The elder's phone's co-signature.
    pub cosignature: Option<SignatureEvidence>,
}

/// Where a visit's evidence stands after the fold.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum EvidenceState {
    /// Proven at both ends: the elder's tag at check-in and check-out, or the elder's
    /// phone's co-signature of the whole visit.
    Verified,
    /// The elder's tag at one end only.
    OneEnd,
    /// Nothing that proves presence.
    None,
    /// Some evidence failed; the reasons.
    Failed(Vec<Failure>),
}

impl EvidenceState {
    /// The filter's and the stored spelling: `verified`, `one-end`, `none`, `failed`.
    pub fn as_str(&self) -> &'static str {
        match self {
            EvidenceState::Verified => "verified",
            EvidenceState::OneEnd => "one-end",
            EvidenceState::None => "none",
            EvidenceState::Failed(_) => "failed",
        }
    }

    /// Reads the filter's spelling.
    pub fn parse_kind(raw: &str) -> Option<&'static str> {
        ["verified", "one-end", "none", "failed"].into_iter().find(|k| *k == raw)
    }

    /// The failures in words, joined.
    pub fn reasons(&self) -> String {
        match self {
            EvidenceState::Failed(failures) => failures.iter().map(|f| f.reason()).collect::<Vec<_>>().join("; "),
            _ => String::new(),
        }
    }
}

/// One accepted tap: where the visits' times put it (claimed time, visit, end).
type Slot = (i64, String, u8);

/// One tag's accepted taps, kept in increasing counter order along the visits' times (the
/// fold's invariant: every tap is checked against its neighbours when accepted), so each
/// check costs a lookup whatever the tag's history.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct TagTaps {
    by_slot: BTreeMap<Slot, u32>,
    by_counter: BTreeMap<u32, Slot>,
}

/// The fold of evidence: every tag's accepted taps, the taps each visit holds, and each
/// visit's state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EvidenceBook {
    taps: BTreeMap<String, TagTaps>,
    held: BTreeMap<String, Vec<(String, Slot)>>,
    states: BTreeMap<String, EvidenceState>,
}

impl EvidenceBook {
    /// Folds one evidence event; returns the visit's state.
    pub fn apply(&mut self, event: &EvidenceEvent) -> EvidenceState {
        // The visit's evidence arriving again (a co-signature added) replaces its own taps.
        for (tag, slot) in self.held.remove(&event.visit).unwrap_or_default() {
            if let Some(taps) = self.taps.get_mut(&tag)
                && let Some(counter) = taps.by_slot.remove(&slot)
            {
                taps.by_counter.remove(&counter);
            }
        }
        let mut failures = BTreeSet::new();
        let mut ends = [false, false];
        for (end, tap, at) in [(0_u8, &event.tap_in, event.check_in), (1, &event.tap_out, event.check_out)] {
            let Some(tap) = tap else { continue };
            match &tap.verdict {
                TapVerdict::Failed { failure } => {
                    failures.insert(*failure);
                }
                TapVerdict::Genuine { tag, counter } => {
                    let slot = (at, event.visit.clone(), end);
                    match self.place(tag, slot.clone(), *counter) {
                        Ok(()) => {
                            ends[usize::from(end)] = true;
                            self.held.entry(event.visit.clone()).or_default().push((tag.clone(), slot));
                        }
                        Err(failure) => {
                            failures.insert(failure);
                        }
                    }
                }
            }
        }
        let signed = match &event.cosignature {
            Some(SignatureEvidence { failure: Some(failure), .. }) => {
                failures.insert(*failure);
                false
            }
            Some(_) => true,
            None => false,
        };
        let state = if !failures.is_empty() {
            EvidenceState::Failed(failures.into_iter().collect())
        } else if signed || ends == [true, true] {
            EvidenceState::Verified
        } else if ends.contains(&true) {
            EvidenceState::OneEnd
        } else {
            EvidenceState::None
        };
        self.states.insert(event.visit.clone(), state.clone());
        state
    }

    /// Accepts a genuine tap of `tag` at `slot` unless its counter was used, or is not
    /// between the counters of the tag's accepted taps just before and just after it.
    fn place(&mut self, tag: &str, slot: Slot, counter: u32) -> Result<(), Failure> {
        let taps = self.taps.entry(tag.to_owned()).or_default();
        if taps.by_counter.contains_key(&counter) {
            return Err(Failure::ReplayedCounter);
        }
        let before = taps.by_slot.range(..slot.clone()).next_back().map(|(_, c)| *c);
        let after = taps.by_slot.range(slot.clone()..).next().map(|(_, c)| *c);
        if before.is_some_and(|c| c >= counter) || after.is_some_and(|c| c <= counter) {
            return Err(Failure::BackwardCounter);
        }
        taps.by_slot.insert(slot.clone(), counter);
        taps.by_counter.insert(counter, slot);
        Ok(())
    }

    /// The state of `visit`'s evidence (`None` when none arrived).
    pub fn state(&self, visit: &str) -> Option<&EvidenceState> {
        self.states.get(visit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    fn tap(tag: &str, counter: u32) -> Option<TapEvidence> {
        Some(TapEvidence { raw: format!("{tag}:{counter}"), verdict: TapVerdict::Genuine { tag: tag.into(), counter } })
    }

    fn visit(id: &str, start_h: i64, tap_in: Option<TapEvidence>, tap_out: Option<TapEvidence>) -> EvidenceEvent {
        EvidenceEvent {
            visit: id.into(),
            volunteer: MemberId::parse("m-v").unwrap(),
            station: StationId::parse("s-1").unwrap(),
            check_in: start_h * H,
            check_out: start_h * H + H,
            tap_in,
            tap_out,
            cosignature: None,
        }
    }

    #[test]
    fn taps_at_both_ends_verify_and_one_end_is_told_apart() {
        let mut book = EvidenceBook::default();
        assert_eq!(book.apply(&visit("v-1", 0, tap("t", 1), tap("t", 2))), EvidenceState::Verified);
        assert_eq!(book.apply(&visit("v-2", 2, tap("t", 3), None)), EvidenceState::OneEnd);
        assert_eq!(book.apply(&visit("v-3", 4, None, None)), EvidenceState::None);
        let failed = TapEvidence { raw: "x".into(), verdict: TapVerdict::Failed { failure: Failure::OtherElder } };
        let state = book.apply(&visit("v-4", 6, Some(failed), tap("t", 9)));
        assert_eq!(state, EvidenceState::Failed(vec![Failure::OtherElder]));
        assert_eq!(state.reasons(), "the tag tapped is another elder's");
    }

    #[test]
    fn a_counter_is_used_once_and_moves_forward_with_the_visits_times() {
        let mut book = EvidenceBook::default();
        book.apply(&visit("v-1", 10, tap("t", 20), tap("t", 21)));
        // The same link again (a copied tap) on another visit.
        assert_eq!(book.apply(&visit("v-2", 12, tap("t", 21), None)), EvidenceState::Failed(vec![Failure::ReplayedCounter]));
        // A later visit with an older counter, and an earlier visit with a newer one.
        assert_eq!(book.apply(&visit("v-3", 14, tap("t", 5), None)), EvidenceState::Failed(vec![Failure::BackwardCounter]));
        assert_eq!(book.apply(&visit("v-4", 2, tap("t", 30), None)), EvidenceState::Failed(vec![Failure::BackwardCounter]));
        // Check-out before check-in on the counter.
        assert_eq!(book.apply(&visit("v-5", 20, tap("t", 41), tap("t", 40))), EvidenceState::Failed(vec![Failure::BackwardCounter]));
        // An earlier visit that fits between arrives late and counts; other tags are apart.
        assert_eq!(book.apply(&visit("v-6", 5, tap("t", 10), tap("t", 11))), EvidenceState::Verified);
        assert_eq!(book.apply(&visit("v-7", 5, tap("u", 21), tap("u", 22))), EvidenceState::Verified);
        // The same visit's evidence arriving again (a co-signature added) is no replay.
        let mut again = visit("v-1", 10, tap("t", 20), tap("t", 21));
        again.cosignature = Some(SignatureEvidence { raw: "s".into(), signer: MemberId::parse("m-e").unwrap(), failure: None });
        assert_eq!(book.apply(&again), EvidenceState::Verified);
        assert_eq!(book.state("v-2"), Some(&EvidenceState::Failed(vec![Failure::ReplayedCounter])));
    }

    #[test]
    fn a_cosignature_alone_verifies_and_a_bad_one_fails() {
        let mut book = EvidenceBook::default();
        let mut signed = visit("v-1", 0, None, None);
        signed.cosignature = Some(SignatureEvidence { raw: "s".into(), signer: MemberId::parse("m-e").unwrap(), failure: None });
        assert_eq!(book.apply(&signed), EvidenceState::Verified);
        let mut forged = visit("v-2", 2, tap("t", 1), tap("t", 2));
        forged.cosignature =
            Some(SignatureEvidence { raw: "s".into(), signer: MemberId::parse("m-x").unwrap(), failure: Some(Failure::NotHousehold) });
        assert_eq!(book.apply(&forged), EvidenceState::Failed(vec![Failure::NotHousehold]));
    }
}
