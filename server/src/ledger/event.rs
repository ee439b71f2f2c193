//! What reconciliation reads: the events of the arrival log (a visit, a visit's evidence of
//! presence, a coordinator's review or its reversal, a redemption or gift request, a
//! coordinator's decision on a redemption, a station's rules, a member's move to another station), each as the relay first received it, with its arrival sequence
//! number. The content is kept with the sequence number, so a rebuild folds exactly
//! what the incremental run folded, whatever the documents hold now.

use std::borrow::Cow;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use smol_str::SmolStr;
use timebank_engine::model::{ConfirmedBy, HouseholdId, MemberId, RedemptionAction, ReviewDecision, StationId, VisitSource};

pub use crate::ledger::evidence::EvidenceEvent;
use crate::ledger::rules::StationRules;

/// One event of the arrival log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Arrival sequence number: strictly increasing in the order the relay stored them.
    pub seq: i64,
    /// When the relay received it (ms).
    pub received_at: i64,
    /// What arrived.
    pub body: EventBody,
}

/// What arrived.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum EventBody {
    /// A finished visit (or a later edit of one).
    Visit(VisitEvent),
    /// The elder's (or family's) confirmation of a visit, on the volunteer's phone.
    Confirmation(ConfirmationEvent),
    /// A finished visit's evidence of presence, verified by the relay (ADR 30).
    Evidence(EvidenceEvent),
    /// A coordinator's review of a visit (or a change of it).
    Review(ReviewEvent),
    /// A coordinator's reversal of a visit's review (approval or rejection).
    Reversal(ReversalEvent),
    /// A redemption or gift request.
    Request(RequestEvent),
    /// A coordinator's decision on an accepted redemption.
    Decision(DecisionEvent),
    /// A coordinator's correction of a member's balance.
    Correction(CorrectionEvent),
    /// A member's move to another station (ADR 42): logged by the move itself.
    Transfer(TransferEvent),
    /// A station's rules (a new version).
    Rules {
        /// The station.
        station: StationId,
        /// Its rules.
        rules: StationRules,
    },
}

/// No visit is longer than this (two days); a longer logged length is clamped to it.
pub const MAX_PLAUSIBLE_MS: i64 = 2 * 24 * 3_600_000;

/// A finished visit as logged, with what the relay knew of the people at arrival.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitEvent {
    /// `v-…` (kept inline, as the books keep it: a district-year holds a million).
    pub id: SmolStr,
    /// Who served.
    pub volunteer: MemberId,
    /// The volunteer's station (its rules apply).
    pub station: StationId,
    /// Who was served.
    pub elder: MemberId,
    /// Check-in, device wall clock (ms).
    pub check_in: i64,
    /// Check-out, device wall clock (ms).
    pub check_out: i64,
    /// Length by the device's monotonic clock, when measured.
    pub monotonic_ms: Option<i64>,
    /// When it was entered on the phone (ms).
    pub recorded_at: i64,
    /// The device (actor hex) that created it.
    pub device: String,
    /// The volunteer's household.
    pub volunteer_household: Option<HouseholdId>,
    /// The elder's household.
    pub elder_household: Option<HouseholdId>,
    /// Live on the phone or from paper; `None` in events logged before it was kept (they
    /// are never held as filled in afterwards). Not part of the event's identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<VisitSource>,
    /// When the check-out was entered on the phone, when it differs from the check-out (a
    /// back-dated check-out). Written with the check-out, so not part of the identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_out_recorded_at: Option<i64>,
    /// The order (`o-…`) it served, when the volunteer's document holds that order's
    /// dispatch for the same elder. Set when the visit is made, so not part of the identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
}

/// The elder's or family's confirmation of a visit, as the volunteer's phone recorded it
/// (once: a visit is confirmed at most once).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmationEvent {
    /// The visit.
    pub visit: String,
    /// Its volunteer (the document's member).
    pub volunteer: MemberId,
    /// The elder or family.
    pub by: ConfirmedBy,
    /// When, by the volunteer's phone (ms).
    pub at: i64,
}

impl VisitEvent {
    /// Logged length in ms: the monotonic length when measured, else the wall clocks.
    /// Bounded to two days either way: every field comes from a phone, and anything longer
    /// is an anomaly already (over the maximum length), never a reason to overflow.
    pub fn length_ms(&self) -> i64 {
        self.monotonic_ms.unwrap_or_else(|| self.check_out.saturating_sub(self.check_in)).clamp(-MAX_PLAUSIBLE_MS, MAX_PLAUSIBLE_MS)
    }

    /// The interval it covers, `[start, end)`, for overlap checks.
    pub fn interval(&self) -> (i64, i64) {
        (self.check_in, self.check_in.saturating_add(self.length_ms().max(0)))
    }
}

/// A coordinator's review, as written in `station/<id>/desk`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewEvent {
    /// The visit.
    pub visit: SmolStr,
    /// The desk's station.
    pub station: StationId,
    /// Approve, reject or flag (stored as `approve`, `reject`, `flag`).
    pub decision: ReviewDecision,
    /// The reason given.
    pub reason: String,
    /// The coordinator.
    pub by: MemberId,
    /// When, by the coordinator's clock (ms).
    pub at: i64,
}

/// A coordinator's reversal of the review of a visit, as written beside it in
/// `station/<id>/desk`: it names the review it reverses by its decision and time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReversalEvent {
    /// The visit.
    pub visit: String,
    /// The desk's station.
    pub station: StationId,
    /// The decision reversed (`approve` or `reject`).
    pub decision: ReviewDecision,
    /// When the review reversed was made, by its coordinator's clock (ms).
    pub review_at: i64,
    /// Why.
    pub reason: String,
    /// The coordinator who reversed it.
    pub by: MemberId,
    /// When, by the coordinator's clock (ms).
    pub at: i64,
}

/// What a request asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum RequestWhat {
    /// Redeem coins for a service.
    Redeem {
        /// The service.
        service: String,
        /// The station of the city that redeems it, when not the member's own (通存通兑).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<StationId>,
        /// Whether `at` named no station the relay knows (the request is then refused).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        at_unknown: bool,
    },
    /// Give coins to a member.
    Gift {
        /// The receiver.
        to: MemberId,
        /// The receiver's household, if the relay knows the receiver.
        to_household: Option<HouseholdId>,
        /// Whether the relay knows the receiver as a member of the same station.
        to_known: bool,
    },
    /// Give coins to the station's donation pool.
    Donate,
}

/// A redemption or gift request, with what the relay knew of the member at arrival.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestEvent {
    /// `r-…`.
    pub id: String,
    /// Who asks.
    pub member: MemberId,
    /// Their station.
    pub station: StationId,
    /// What for.
    pub what: RequestWhat,
    /// Amount, minutes.
    pub minutes: i64,
    /// When made, device clock (ms).
    pub created_at: i64,
    /// Their birth year (age gate).
    pub birth_year: Option<u16>,
    /// Their household (gifts).
    pub household: Option<HouseholdId>,
    /// Whether they are recognised in special hardship (the lower age gate).
    pub hardship: bool,
}

impl RequestEvent {
    /// The station whose coordinators fulfil or release it: where a redemption is given
    /// (通存通兑), else the member's own.
    pub fn redeemed_at(&self) -> &StationId {
        match &self.what {
            RequestWhat::Redeem { at: Some(at), .. } => at,
            _ => &self.station,
        }
    }
}

/// A coordinator's decision on a redemption, as written in `station/<id>/desk`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionEvent {
    /// The request.
    pub request: String,
    /// The desk's station.
    pub station: StationId,
    /// Fulfil or release (stored as `fulfil`, `release`).
    pub action: RedemptionAction,
    /// The coordinator.
    pub by: MemberId,
    /// When, by the coordinator's clock (ms).
    pub at: i64,
}

/// A coordinator's correction of a member's balance, as written in `station/<id>/desk`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrectionEvent {
    /// `c-…`.
    pub id: String,
    /// The desk's station.
    pub station: StationId,
    /// Whose balance (a member of that station).
    pub member: MemberId,
    /// Minutes added (> 0) or taken back (< 0).
    pub minutes: i64,
    /// Why.
    pub reason: String,
    /// The coordinator.
    pub by: MemberId,
    /// When, by the coordinator's clock (ms).
    pub at: i64,
}

/// A member's move from one station to another, as the administrator made it: the member's
/// coins and history stay theirs (one account, wherever they are); what was still open at
/// the old station's desk is settled by the fold ([`crate::ledger::Books`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferEvent {
    /// Who moved.
    pub member: MemberId,
    /// Which of their moves, from 1: the key of the `n`th is found without a scan of the log
    /// ([`transfer_key`]), and two moves made at once cannot both be the `n`th.
    pub ordinal: u32,
    /// The station they left.
    pub from: StationId,
    /// The station they joined.
    pub to: StationId,
    /// When the relay made the move (ms).
    pub at: i64,
}

/// The arrival log's key of `member`'s `ordinal`th move.
pub fn transfer_key(member: &MemberId, ordinal: u32) -> String {
    format!("transfer:{member}#{ordinal}")
}

impl TransferEvent {
    /// The station `member` belonged to at `at` (ms), by their `moves` in order (the
    /// station they left by the first move made after `at`, else the one they joined
    /// last); `None` when they never moved.
    pub fn station_at(moves: &[TransferEvent], at: i64) -> Option<&StationId> {
        moves.iter().find(|m| m.at > at).map(|m| &m.from).or_else(|| moves.last().map(|m| &m.to))
    }
}

/// The newest format of the arrival log's stored events, written into each (`"format"`).
/// Events logged before the field existed read as format 1. A relay meets a higher format
/// only in a log a newer relay wrote, and refuses to fold it rather than misread it.
/// Format 2 added the evidence event; every other event is still written as format 1, so
/// a relay of format 1 reads every log that has no evidence in it.
pub const FORMAT: u32 = 2;

/// An event as stored: its format beside its fields.
#[derive(Serialize)]
struct Stored<'a> {
    format: u32,
    #[serde(flatten)]
    body: &'a EventBody,
}

/// What is read of a stored event first: its format and type, its other fields skipped.
/// The fields are then read straight into the type's own struct: reading the whole event
/// as a flattened, tagged enum buffered every field and value first, which cost a full
/// rebuild more than the fold of the events itself.
#[derive(Deserialize)]
struct Header<'a> {
    #[serde(default = "first_format")]
    format: u32,
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
}

/// The fields of [`EventBody::Rules`], as stored.
#[derive(Deserialize)]
struct RulesFields {
    station: StationId,
    rules: StationRules,
}

/// Reads the fields of one type of event out of the stored JSON (the format and the type
/// are among them, and ignored like any field a later format adds).
fn fields<T: DeserializeOwned>(json: &str) -> Result<T, String> {
    serde_json::from_str(json).map_err(|e| e.to_string())
}

fn first_format() -> u32 {
    1
}

impl EventBody {
    /// The stored form: JSON with the format first.
    pub fn encode(&self) -> String {
        // Every field is a string, a number, a bool or null: serialising cannot fail.
        let format = if matches!(self, EventBody::Evidence(_)) { FORMAT } else { 1 };
        serde_json::to_string(&Stored { format, body: self }).unwrap_or_default()
    }

    /// Reads a stored event, of any format up to [`FORMAT`].
    pub fn decode(json: &str) -> Result<EventBody, String> {
        let header: Header<'_> = serde_json::from_str(json).map_err(|e| e.to_string())?;
        if header.format > FORMAT {
            return Err(format!("it has format {}, newer than this relay's {FORMAT}; update the relay", header.format));
        }
        Ok(match header.kind.as_ref() {
            "visit" => EventBody::Visit(fields(json)?),
            "confirmation" => EventBody::Confirmation(fields(json)?),
            "evidence" => EventBody::Evidence(fields(json)?),
            "review" => EventBody::Review(fields(json)?),
            "reversal" => EventBody::Reversal(fields(json)?),
            "request" => EventBody::Request(fields(json)?),
            "decision" => EventBody::Decision(fields(json)?),
            "correction" => EventBody::Correction(fields(json)?),
            "transfer" => EventBody::Transfer(fields(json)?),
            "rules" => {
                let RulesFields { station, rules } = fields(json)?;
                EventBody::Rules { station, rules }
            }
            other => return Err(format!("unknown event type `{other}`")),
        })
    }

    /// The key under which the arrival log keeps it: an event with a key logged already is
    /// not logged again. A request or correction is keyed by its id, a transfer by its member
    /// and ordinal, a confirmation by its
    /// visit (they are never edited); a visit, review or decision by its id and a digest of the fields that
    /// identify one version of it ([`identity`]), so an edited visit or a changed review
    /// arrives as a new event, the same content arriving again is logged once, and a field
    /// added to an event later never changes the key of what was logged before.
    pub fn key(&self) -> String {
        match self {
            EventBody::Visit(v) => format!("visit:{}@{}", v.id, identity::digest(&identity::Visit::of(v))),
            EventBody::Evidence(e) => format!("evidence:{}@{}", e.visit, identity::digest(&identity::Evidence::of(e))),
            EventBody::Request(r) => format!("request:{}", r.id),
            EventBody::Confirmation(c) => format!("confirmation:{}", c.visit),
            EventBody::Correction(c) => format!("correction:{}", c.id),
            EventBody::Transfer(t) => transfer_key(&t.member, t.ordinal),
            EventBody::Review(r) => format!("review:{}@{}", r.visit, identity::digest(&identity::Review::of(r))),
            EventBody::Reversal(r) => format!("reversal:{}@{}", r.visit, identity::digest(&identity::Reversal::of(r))),
            EventBody::Decision(d) => format!("decision:{}@{}", d.request, identity::digest(&identity::Decision::of(d))),
            EventBody::Rules { station, rules } => format!("rules:{station}:{}", rules.version),
        }
    }
}

/// The fields that identify one version of an event, frozen as the first format encoded
/// them (the same names, order and spelling), so every key logged since the first relay
/// stays the key of the same event. A field added to an event does not join these; one
/// that must (a new fact that makes an edit) joins at the end, skipped when unset, so
/// events without it keep their keys.
mod identity {
    use serde::Serialize;
    use sha2::{Digest, Sha256};
    use timebank_engine::model::{HouseholdId, MemberId, StationId};

    use super::{DecisionEvent, EvidenceEvent, ReversalEvent, ReviewEvent, VisitEvent};

    /// The first 8 bytes of the SHA-256 of the JSON, in hex.
    pub(super) fn digest(identity: &impl Serialize) -> String {
        let json = serde_json::to_vec(identity).unwrap_or_default();
        hex::encode(&Sha256::digest(&json)[..8])
    }

    #[derive(Serialize)]
    pub(super) struct Visit<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        id: &'a str,
        volunteer: &'a MemberId,
        station: &'a StationId,
        elder: &'a MemberId,
        check_in: i64,
        check_out: i64,
        monotonic_ms: Option<i64>,
        recorded_at: i64,
        device: &'a str,
        volunteer_household: &'a Option<HouseholdId>,
        elder_household: &'a Option<HouseholdId>,
    }

    impl<'a> Visit<'a> {
        pub(super) fn of(v: &'a VisitEvent) -> Self {
            Visit {
                kind: "visit",
                id: &v.id,
                volunteer: &v.volunteer,
                station: &v.station,
                elder: &v.elder,
                check_in: v.check_in,
                check_out: v.check_out,
                monotonic_ms: v.monotonic_ms,
                recorded_at: v.recorded_at,
                device: &v.device,
                volunteer_household: &v.volunteer_household,
                elder_household: &v.elder_household,
            }
        }
    }

    /// What the phone stored, never the relay's verdicts: a verdict reached again (a
    /// tag revoked since, at a catch-up) does not make the same evidence a new event.
    #[derive(Serialize)]
    pub(super) struct Evidence<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        visit: &'a str,
        check_in: i64,
        check_out: i64,
        tap_in: Option<&'a str>,
        tap_out: Option<&'a str>,
        cosignature: Option<&'a str>,
    }

    impl<'a> Evidence<'a> {
        pub(super) fn of(e: &'a EvidenceEvent) -> Self {
            Evidence {
                kind: "evidence",
                visit: &e.visit,
                check_in: e.check_in,
                check_out: e.check_out,
                tap_in: e.tap_in.as_ref().map(|t| t.raw.as_str()),
                tap_out: e.tap_out.as_ref().map(|t| t.raw.as_str()),
                cosignature: e.cosignature.as_ref().map(|s| s.raw.as_str()),
            }
        }
    }

    #[derive(Serialize)]
    pub(super) struct Review<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        visit: &'a str,
        station: &'a StationId,
        decision: &'a str,
        reason: &'a str,
        by: &'a MemberId,
        at: i64,
    }

    impl<'a> Review<'a> {
        pub(super) fn of(r: &'a ReviewEvent) -> Self {
            Review {
                kind: "review",
                visit: &r.visit,
                station: &r.station,
                decision: r.decision.as_str(),
                reason: &r.reason,
                by: &r.by,
                at: r.at,
            }
        }
    }

    #[derive(Serialize)]
    pub(super) struct Reversal<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        visit: &'a str,
        station: &'a StationId,
        decision: &'a str,
        review_at: i64,
        reason: &'a str,
        by: &'a MemberId,
        at: i64,
    }

    impl<'a> Reversal<'a> {
        pub(super) fn of(r: &'a ReversalEvent) -> Self {
            Reversal {
                kind: "reversal",
                visit: &r.visit,
                station: &r.station,
                decision: r.decision.as_str(),
                review_at: r.review_at,
                reason: &r.reason,
                by: &r.by,
                at: r.at,
            }
        }
    }

    #[derive(Serialize)]
    pub(super) struct Decision<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        request: &'a str,
        station: &'a StationId,
        action: &'a str,
        by: &'a MemberId,
        at: i64,
    }

    impl<'a> Decision<'a> {
        pub(super) fn of(d: &'a DecisionEvent) -> Self {
            Decision { kind: "decision", request: &d.request, station: &d.station, action: d.action.as_str(), by: &d.by, at: d.at }
        }
    }
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;

    fn visit(check_in: i64, check_out: i64, monotonic_ms: Option<i64>) -> VisitEvent {
        VisitEvent {
            id: "v-1".into(),
            volunteer: MemberId::parse("m-1").unwrap(),
            station: StationId::parse("s-1").unwrap(),
            elder: MemberId::parse("m-2").unwrap(),
            check_in,
            check_out,
            monotonic_ms,
            recorded_at: check_in,
            device: "aa".into(),
            volunteer_household: None,
            elder_household: None,
            source: None,
            check_out_recorded_at: None,
            order: None,
        }
    }

    /// The JSON the arrival log stored when decisions and actions were strings (before the
    /// format field): the enums read it back, write the same fields after the format, and
    /// keep the keys (for a review or decision, the digest of that first JSON); a spelling
    /// no build wrote is refused, not misread.
    #[test]
    fn typed_decisions_and_actions_keep_the_stored_json_and_keys() {
        let (station, by) = (StationId::parse("s-1").unwrap(), MemberId::parse("m-c").unwrap());
        let cases = [
            (
                EventBody::Review(ReviewEvent {
                    visit: "v-1".into(),
                    station: station.clone(),
                    decision: ReviewDecision::Reject,
                    reason: "away".into(),
                    by: by.clone(),
                    at: 5,
                }),
                r#"{"type":"review","visit":"v-1","station":"s-1","decision":"reject","reason":"away","by":"m-c","at":5}"#,
            ),
            (
                EventBody::Review(ReviewEvent {
                    visit: "v-2".into(),
                    station: station.clone(),
                    decision: ReviewDecision::Flag,
                    reason: String::new(),
                    by: by.clone(),
                    at: 6,
                }),
                r#"{"type":"review","visit":"v-2","station":"s-1","decision":"flag","reason":"","by":"m-c","at":6}"#,
            ),
            (
                EventBody::Decision(DecisionEvent {
                    request: "r-1".into(),
                    station: station.clone(),
                    action: RedemptionAction::Fulfil,
                    by: by.clone(),
                    at: 7,
                }),
                r#"{"type":"decision","request":"r-1","station":"s-1","action":"fulfil","by":"m-c","at":7}"#,
            ),
            (
                EventBody::Decision(DecisionEvent { request: "r-2".into(), station, action: RedemptionAction::Release, by, at: 8 }),
                r#"{"type":"decision","request":"r-2","station":"s-1","action":"release","by":"m-c","at":8}"#,
            ),
        ];
        for (event, stored) in cases {
            assert_eq!(event.encode(), stored.replacen('{', r#"{"format":1,"#, 1));
            assert_eq!(EventBody::decode(stored), Ok(event.clone()));
            let digest = hex::encode(&Sha256::digest(stored.as_bytes())[..8]);
            assert!(event.key().ends_with(&format!("@{digest}")), "{} has the key of its first JSON", event.key());
        }
        let unknown = r#"{"type":"review","visit":"v-1","station":"s-1","decision":"escalate","reason":"","by":"m-c","at":5}"#;
        let error = EventBody::decode(unknown).unwrap_err();
        assert!(error.contains("unknown variant `escalate`"), "{error}");
    }

    #[test]
    fn lengths_a_phone_made_up_are_bounded_and_never_overflow() {
        let forged = visit(i64::MAX - 10, i64::MAX, Some(i64::MAX));
        assert_eq!(forged.length_ms(), MAX_PLAUSIBLE_MS);
        assert_eq!(forged.interval().1, i64::MAX);
        let backwards = visit(i64::MAX, i64::MIN, None);
        assert_eq!(backwards.length_ms(), -MAX_PLAUSIBLE_MS);
        assert_eq!(visit(0, 3_600_000, None).interval(), (0, 3_600_000));
    }

    /// One event of each kind, with every field set, as the snapshot tests encode them.
    pub(crate) fn samples() -> Vec<EventBody> {
        let m = |raw: &str| MemberId::parse(raw).unwrap();
        let s = StationId::parse("s-caoyang").unwrap();
        let h = |raw: &str| Some(HouseholdId::parse(raw).unwrap());
        vec![
            EventBody::Visit(VisitEvent {
                id: "v-0001".into(),
                volunteer: m("m-vol"),
                station: s.clone(),
                elder: m("m-eld"),
                check_in: 1_764_300_000_000,
                check_out: 1_764_305_400_000,
                monotonic_ms: Some(5_400_000),
                recorded_at: 1_764_305_460_000,
                device: "a1b2c3".into(),
                volunteer_household: h("h-1"),
                elder_household: None,
                source: None,
                check_out_recorded_at: None,
                order: None,
            }),
            EventBody::Review(ReviewEvent {
                visit: "v-0001".into(),
                station: s.clone(),
                decision: ReviewDecision::Approve,
                reason: "ok".into(),
                by: m("m-coo"),
                at: 1_764_310_000_000,
            }),
            EventBody::Request(RequestEvent {
                id: "r-0001".into(),
                member: m("m-eld"),
                station: s.clone(),
                what: RequestWhat::Gift { to: m("m-vol"), to_household: h("h-1"), to_known: true },
                minutes: 30,
                created_at: 1_764_320_000_000,
                birth_year: Some(1940),
                household: None,
                hardship: false,
            }),
            EventBody::Decision(DecisionEvent {
                request: "r-0002".into(),
                station: s.clone(),
                action: RedemptionAction::Fulfil,
                by: m("m-coo"),
                at: 1_764_330_000_000,
            }),
            EventBody::Correction(CorrectionEvent {
                id: "c-0001".into(),
                station: s.clone(),
                member: m("m-vol"),
                minutes: -15,
                reason: "typo".into(),
                by: m("m-coo"),
                at: 1_764_340_000_000,
            }),
            EventBody::Rules { station: s.clone(), rules: StationRules::default() },
            EventBody::Confirmation(ConfirmationEvent {
                visit: "v-0001".into(),
                volunteer: m("m-vol"),
                by: ConfirmedBy::Family,
                at: 1_764_305_500_000,
            }),
            EventBody::Reversal(ReversalEvent {
                visit: "v-0001".into(),
                station: s,
                decision: ReviewDecision::Approve,
                review_at: 1_764_310_000_000,
                reason: "wrong elder".into(),
                by: m("m-coo"),
                at: 1_764_350_000_000,
            }),
            EventBody::Transfer(TransferEvent {
                member: m("m-vol"),
                ordinal: 1,
                from: StationId::parse("s-caoyang").unwrap(),
                to: StationId::parse("s-xinhua").unwrap(),
                at: 1_764_360_000_000,
            }),
        ]
    }

    /// The keys and the JSON the first relays logged for these events, pinned: a change
    /// of either would log every stored event again at the next start.
    #[test]
    fn keys_and_encoding_are_pinned() {
        let keys: Vec<String> = samples().iter().map(EventBody::key).collect();
        assert_eq!(
            keys,
            [
                "visit:v-0001@9a792a24639d43bf",
                "review:v-0001@c85c31862a563067",
                "request:r-0001",
                "decision:r-0002@0a5b230fe9c7c240",
                "correction:c-0001",
                "rules:s-caoyang:1",
                "confirmation:v-0001",
                "reversal:v-0001@a7c4fe48bebfccb0",
                "transfer:m-vol#1",
            ]
        );
        let stored: Vec<String> = samples().iter().map(EventBody::encode).collect();
        assert_eq!(
            stored,
            [
                r#"{"format":1,"type":"visit","id":"v-0001","volunteer":"m-vol","station":"s-caoyang","elder":"m-eld","check_in":1764300000000,"check_out":1764305400000,"monotonic_ms":5400000,"recorded_at":1764305460000,"device":"a1b2c3","volunteer_household":"h-1","elder_household":null}"#,
                r#"{"format":1,"type":"review","visit":"v-0001","station":"s-caoyang","decision":"approve","reason":"ok","by":"m-coo","at":1764310000000}"#,
                r#"{"format":1,"type":"request","id":"r-0001","member":"m-eld","station":"s-caoyang","what":{"kind":"gift","to":"m-vol","to_household":"h-1","to_known":true},"minutes":30,"created_at":1764320000000,"birth_year":1940,"household":null,"hardship":false}"#,
                r#"{"format":1,"type":"decision","request":"r-0002","station":"s-caoyang","action":"fulfil","by":"m-coo","at":1764330000000}"#,
                r#"{"format":1,"type":"correction","id":"c-0001","station":"s-caoyang","member":"m-vol","minutes":-15,"reason":"typo","by":"m-coo","at":1764340000000}"#,
                r#"{"format":1,"type":"rules","station":"s-caoyang","rules":{"version":1,"minutes_per_hour":60,"round_to_minutes":15,"max_visit_minutes":480,"daily_cap_minutes":120,"lifetime_cap_minutes":36000,"late_submission_days":30,"clock_skew_minutes":10,"utc_offset_minutes":480,"redeem_age":65,"redeem_age_hardship":60,"gifts_to_household":true}}"#,
                r#"{"format":1,"type":"confirmation","visit":"v-0001","volunteer":"m-vol","by":"family","at":1764305500000}"#,
                r#"{"format":1,"type":"reversal","visit":"v-0001","station":"s-caoyang","decision":"approve","review_at":1764310000000,"reason":"wrong elder","by":"m-coo","at":1764350000000}"#,
                r#"{"format":1,"type":"transfer","member":"m-vol","ordinal":1,"from":"s-caoyang","to":"s-xinhua","at":1764360000000}"#,
            ]
        );
        for (json, sample) in stored.iter().zip(samples()) {
            assert_eq!(EventBody::decode(json), Ok(sample));
        }
    }

    /// Events logged before the format field existed read as they were written, and a
    /// field a later format adds neither breaks reading nor moves the key.
    #[test]
    fn events_without_a_format_and_with_unknown_fields_read_the_same() {
        for sample in samples() {
            let first = serde_json::to_string(&sample).unwrap();
            assert!(!first.contains("format"));
            assert_eq!(EventBody::decode(&first).as_ref(), Ok(&sample));
            let with_more = first.replacen('{', r#"{"evidence":{"taps":2},"#, 1);
            let read = EventBody::decode(&with_more).unwrap();
            assert_eq!(read.key(), sample.key());
        }
    }

    /// What a visit event carries beyond its identity (how it was entered, when its
    /// check-out was entered) is written when known and leaves the key as it was.
    #[test]
    fn a_visits_source_and_check_out_entry_are_kept_beside_its_identity() {
        let EventBody::Visit(plain) = samples().remove(0) else { unreachable!() };
        let with = VisitEvent {
            source: Some(VisitSource::Live),
            check_out_recorded_at: Some(1_764_311_000_000),
            order: Some("o-0001".into()),
            ..plain.clone()
        };
        let (plain, with) = (EventBody::Visit(plain), EventBody::Visit(with));
        assert_eq!(with.key(), plain.key());
        let stored = with.encode();
        assert!(
            stored.ends_with(r#","elder_household":null,"source":"live","check_out_recorded_at":1764311000000,"order":"o-0001"}"#),
            "{stored}"
        );
        assert_eq!(EventBody::decode(&stored), Ok(with));
    }

    /// What is not an event of a type this relay knows is refused with the reason.
    #[test]
    fn an_unknown_or_missing_type_is_refused_not_misread() {
        let unknown = EventBody::decode(r#"{"format":1,"type":"payment","id":"p-1"}"#).unwrap_err();
        assert!(unknown.contains("unknown event type `payment`"), "{unknown}");
        let missing = EventBody::decode(r#"{"format":1,"id":"v-1"}"#).unwrap_err();
        assert!(missing.contains("missing field `type`"), "{missing}");
        let wrong = samples()[0].encode().replacen(r#""check_in":1764300000000"#, r#""check_in":"noon""#, 1);
        assert!(EventBody::decode(&wrong).unwrap_err().contains("invalid type"));
    }

    #[test]
    fn a_newer_format_is_refused_not_misread() {
        let newer = samples()[0].encode().replacen(r#""format":1"#, r#""format":9"#, 1);
        let refused = EventBody::decode(&newer).unwrap_err();
        assert!(refused.contains(&format!("format 9, newer than this relay's {FORMAT}")), "{refused}");
    }
}
