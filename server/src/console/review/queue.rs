//! The review queue: finished visits not yet approved or rejected (flagged ones stay),
//! anomalies first, each with its evidence: check-in and check-out, the phone's clock
//! against the relay's receipt time, the overlapping or twice-logged visit, the elder's
//! confirmation, and the ledger's own reason; and what approving it would credit. "Clean"
//! visits may be approved in bulk.

use timebank_engine::model::{Confirmation, OutcomeStatus, ReviewDecision, VerifiedVisits, VisitId};

use crate::console::visits::log::{Arrivals, VisitRecord};
use crate::ledger::anomaly::{self, Anomaly};
use crate::ledger::evidence::EvidenceState;
use crate::ledger::rules::{Credit, StationRules};
use crate::store::Millis;

/// One visit waiting for a coordinator, with its evidence.
#[derive(Clone, Debug)]
pub struct QueueEntry {
    /// The visit.
    pub record: VisitRecord,
    /// What a coordinator checks.
    pub evidence: Evidence,
    /// What approving it would credit now (the ledger's own computation), once asked.
    pub credit: Option<Credit>,
}

/// The evidence shown beside a visit in the queue.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Evidence {
    /// Check-in, check-out (device clock, ms).
    pub check_in: Millis,
    /// Check-out (ms).
    pub check_out: Millis,
    /// Logged minutes.
    pub minutes: i64,
    /// When it was entered on the phone (device clock, ms).
    pub recorded_at: Millis,
    /// When its check-out was entered on the phone (device clock, ms).
    pub check_out_entered: Millis,
    /// When the relay first received it (ms).
    pub arrived_at: Option<Millis>,
    /// How far the phone's clock was ahead of the relay at receipt (minutes; negative:
    /// behind, which is normal for a phone that synced later).
    pub clock_ahead_minutes: Option<i64>,
    /// The anomalies under the station's rules now.
    pub anomalies: Vec<Anomaly>,
    /// The visits it overlaps or duplicates.
    pub related: Vec<VisitId>,
    /// The elder's or family's confirmation.
    pub confirmation: Option<Confirmation>,
    /// Why the ledger holds it for review, in its words (outcome `under-review`).
    pub ledger_reason: Option<String>,
    /// A coordinator flagged it, with this reason.
    pub flagged: Option<String>,
    /// Its evidence of presence as the relay verified it (ADR 30), if any arrived.
    pub presence: Option<EvidenceState>,
    /// Verified at both ends at a station whose rule lets such visits be approved in bulk.
    pub verified_for_bulk: bool,
}

impl Evidence {
    /// Whether anything needs a closer look (an anomaly, the ledger's hold, or a flag).
    pub fn is_anomalous(&self) -> bool {
        !self.anomalies.is_empty() || self.ledger_reason.is_some() || self.flagged.is_some()
    }

    /// Whether it may be approved in bulk: nothing unusual, and confirmed by the elder or
    /// verified at both ends where the station's rule allows it.
    pub fn is_clean(&self) -> bool {
        !self.is_anomalous() && (self.confirmation.is_some() || self.verified_for_bulk)
    }
}

/// `entries` with what approving each would credit now, from the relay's ledger.
pub fn with_credits(relay: &crate::relay::Relay, mut entries: Vec<QueueEntry>) -> crate::store::StoreResult<Vec<QueueEntry>> {
    let ids = entries.iter().map(|e| e.record.visit.id.to_string()).collect();
    let mut credits = relay.credit_previews(ids)?;
    for entry in &mut entries {
        entry.credit = credits.remove(entry.record.visit.id.as_str());
    }
    Ok(entries)
}

/// The queue from the station's visit log, anomalies first, then oldest check-in first.
pub fn queue(records: &[VisitRecord], arrivals: &Arrivals, rules: &StationRules) -> Vec<QueueEntry> {
    let mut entries: Vec<QueueEntry> = records.iter().filter_map(|record| entry(record, records, arrivals, rules)).collect();
    entries.sort_by(|a, b| {
        b.evidence.is_anomalous().cmp(&a.evidence.is_anomalous()).then_with(|| a.record.visit.check_in.cmp(&b.record.visit.check_in))
    });
    entries
}

/// The queue's entry of `record` with its evidence, if it waits for a decision. `records`
/// are the station's visits.
pub fn entry(record: &VisitRecord, records: &[VisitRecord], arrivals: &Arrivals, rules: &StationRules) -> Option<QueueEntry> {
    waiting(record).then(|| QueueEntry { evidence: evidence(record, records, arrivals, rules), record: record.clone(), credit: None })
}

/// Whether the visit waits for a decision: finished, not approved or rejected by the
/// ledger, and not decided at the desk (a flag keeps it waiting).
pub fn waiting(record: &VisitRecord) -> bool {
    !record.visit.is_open()
        && !matches!(record.outcome_status(), Some(OutcomeStatus::Approved | OutcomeStatus::Rejected))
        && record.review.as_ref().is_none_or(|r| r.decision == ReviewDecision::Flag)
}

/// The evidence of one visit. `records` are the station's visits (for the volunteer's
/// other visits, rejected ones left out, as the ledger does).
pub fn evidence(record: &VisitRecord, records: &[VisitRecord], arrivals: &Arrivals, rules: &StationRules) -> Evidence {
    let visit = &record.visit;
    let versions = arrivals.of_visit(visit.id.as_str());
    let first = versions.first();
    let latest = versions.last();
    let standing: Vec<&str> = records
        .iter()
        .filter(|r| r.visit.volunteer == visit.volunteer && r.outcome_status() != Some(OutcomeStatus::Rejected))
        .map(|r| r.visit.id.as_str())
        .collect();
    let others: Vec<_> = arrivals.latest_of(&visit.volunteer).into_iter().filter(|e| standing.contains(&e.id.as_str())).collect();
    let anomalies = match (first, latest) {
        (Some(first), Some(latest)) => anomaly::detect(&latest.event, first.received_at, rules, others),
        _ => Vec::new(),
    };
    let related = anomalies
        .iter()
        .filter_map(|a| match a {
            Anomaly::Overlaps { other } | Anomaly::LoggedTwice { other } => VisitId::parse(other).ok(),
            _ => None,
        })
        .collect();
    let check_in = visit.check_in.timestamp_millis();
    let check_out = visit.check_out.map_or(check_in, |t| t.timestamp_millis());
    let latest_device_time = check_out.max(visit.recorded_at.timestamp_millis()).max(check_in);
    let presence = arrivals.evidence(visit.id.as_str()).cloned();
    let verified_for_bulk = rules.verified_visits != VerifiedVisits::Queue && presence == Some(EvidenceState::Verified);
    Evidence {
        check_in,
        check_out,
        minutes: record.minutes(),
        recorded_at: visit.recorded_at.timestamp_millis(),
        check_out_entered: visit.check_out_recorded_at.map_or(check_out, |t| t.timestamp_millis()),
        arrived_at: record.arrived_at,
        clock_ahead_minutes: first.map(|f| (latest_device_time - f.received_at) / 60_000),
        anomalies,
        related,
        confirmation: visit.confirmation.clone(),
        ledger_reason: record.outcome.as_ref().filter(|o| o.status == OutcomeStatus::UnderReview).map(|o| o.reason.clone()),
        flagged: record.review.as_ref().filter(|r| r.decision == ReviewDecision::Flag).map(|r| r.reason.clone()),
        presence,
        verified_for_bulk,
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use timebank_engine::documents::desk::Review;
    use timebank_engine::documents::ledger::Outcome;
    use timebank_engine::model::{ConfirmedBy, MemberId};

    use super::*;
    use crate::console::visits::log::fixture;

    fn record(id: &str, start: &str, minutes: i64) -> VisitRecord {
        let mut record = fixture::record(id, "m-vol", "m-eld", start, minutes);
        record.visit.confirmation = Some(Confirmation { by: ConfirmedBy::Elder, at: record.visit.check_in });
        record
    }

    #[test]
    fn anomalies_come_first_and_decided_visits_leave_the_queue() {
        let clean = record("v-clean", "2026-11-02T01:00:00Z", 60);
        let mut held = record("v-held", "2026-11-03T01:00:00Z", 60);
        held.outcome = Some(Outcome { status: OutcomeStatus::UnderReview, reason: "the visit lasts 9 h".into(), minutes: 0 });
        let mut flagged = record("v-flag", "2026-11-04T01:00:00Z", 60);
        flagged.review = Some(Review {
            decision: ReviewDecision::Flag,
            reason: "call the elder".into(),
            by: MemberId::parse("m-c").unwrap(),
            at: Utc::now(),
        });
        let mut approved = record("v-done", "2026-11-01T01:00:00Z", 60);
        approved.outcome = Some(Outcome { status: OutcomeStatus::Approved, reason: String::new(), minutes: 60 });
        let mut rejected_here = record("v-rej", "2026-11-01T05:00:00Z", 60);
        rejected_here.review = Some(Review {
            decision: ReviewDecision::Reject,
            reason: "no".into(),
            by: MemberId::parse("m-c").unwrap(),
            at: Utc::now(),
        });
        let mut open = record("v-open", "2026-11-05T01:00:00Z", 60);
        open.visit.check_out = None;

        let records = vec![clean, held, flagged, approved, rejected_here, open];
        let queue = queue(&records, &Arrivals::default(), &StationRules::default());
        let ids: Vec<&str> = queue.iter().map(|e| e.record.visit.id.as_str()).collect();
        assert_eq!(ids, ["v-held", "v-flag", "v-clean"]);
        assert_eq!(queue[0].evidence.ledger_reason.as_deref(), Some("the visit lasts 9 h"));
        assert_eq!(queue[1].evidence.flagged.as_deref(), Some("call the elder"));
        assert!(queue[2].evidence.is_clean());
        assert!(!queue[0].evidence.is_clean() && !queue[1].evidence.is_clean());
    }

    #[test]
    fn an_unconfirmed_visit_is_not_clean() {
        let mut unconfirmed = record("v-1", "2026-11-02T01:00:00Z", 60);
        unconfirmed.visit.confirmation = None;
        let queue = queue(&[unconfirmed], &Arrivals::default(), &StationRules::default());
        assert!(!queue[0].evidence.is_anomalous());
        assert!(!queue[0].evidence.is_clean(), "bulk approval needs the elder's confirmation");
    }
}
