//! A member's move to another station (ADR 42): their record's station, their profile's
//! (the phone follows it at its next sync) and the transfer event in the ledger's arrival
//! log, stored together through the relay's one write path, with its audit entries. The
//! member's coins and history stay theirs: the ledger has one account per member.

use std::collections::BTreeMap;

use automerge::transaction::CommitOptions;
use timebank_engine::DocId;
use timebank_engine::documents::member;
use timebank_engine::model::{MemberId, Role, StationId};

use super::RegistryError;
use crate::ledger::EventBody;
use crate::ledger::collect;
use crate::ledger::event::TransferEvent;
use crate::relay::{Relay, Writes};
use crate::store::{AuditRecord, MemberMove, MemberRecord, WriteBatch};

/// Moves `member` to station `to`; `audit` makes the entry recorded at each of the two
/// stations from the member's record before the move (its `station` and `detail` are
/// filled in here). Refused, with nothing changed, for a member or station the relay does
/// not know, the member's own station, or a coordinator (whose console account is tied to
/// their station: a new coordinator is registered at the other station instead).
pub fn move_member(
    relay: &Relay,
    member: &str,
    to: &str,
    audit: impl FnOnce(&MemberRecord) -> Option<AuditRecord>,
) -> Result<TransferEvent, RegistryError> {
    let member = MemberId::parse(member)?;
    let to = StationId::parse(to)?;
    let store = relay.store();
    let Some(record) = store.member(&member)? else {
        return Err(RegistryError::NotFound(format!("no member {member} is registered on this relay; nothing was moved")));
    };
    if store.station(&to)?.is_none() {
        return Err(RegistryError::NotFound(format!(
            "no station {to} (`timebank-relay admin station list` shows the stations); nothing was moved"
        )));
    }
    if record.station == to {
        return Err(RegistryError::Invalid(format!("{member} is a member of station {to} already; nothing was moved")));
    }
    if record.role == Role::Coordinator {
        return Err(RegistryError::Invalid(format!(
            "{member} is a coordinator, whose console account belongs to station {}: register them at {to} instead; nothing was moved",
            record.station
        )));
    }
    let now = relay.now_ms();
    let doc = DocId::Member(member.clone());
    let mut work = relay.work();
    work.hold(std::slice::from_ref(&doc));
    work.load(std::slice::from_ref(&doc))?;
    let Some(current) = work.doc(&doc) else {
        return Err(RegistryError::NotFound(format!("the relay holds no {doc}; nothing was moved")));
    };
    let mut fork = current.clone();
    fork.transact_with(|_| CommitOptions::default().with_time(now), |tx| member::put_station(tx, &to))
        .map_err(|failure| RegistryError::Document { doc: doc.to_string(), detail: failure.error.to_string() })?;
    let ordinal = u32::try_from(collect::member_moves(store, &member)?.len()).unwrap_or(u32::MAX).saturating_add(1);
    let transfer = TransferEvent { member: member.clone(), ordinal, from: record.station.clone(), to: to.clone(), at: now };
    let detail = format!("{} → {to}", record.station);
    let audits = audit(&record)
        .map(|entry| {
            [record.station.clone(), to.clone()].map(|station| AuditRecord {
                station: Some(station),
                target: member.to_string(),
                detail: detail.clone(),
                ..entry.clone()
            })
        })
        .into_iter()
        .flatten()
        .collect();
    let batch = WriteBatch {
        moves: vec![MemberMove { member: member.clone(), from: record.station.clone(), to: to.clone(), at: now }],
        audits,
        ..WriteBatch::default()
    };
    work.commit(Writes {
        forks: BTreeMap::from([(doc, fork)]),
        batch,
        events: vec![EventBody::Transfer(transfer.clone())],
        ..Writes::default()
    })?;
    drop(work);
    // What was open at the old station is settled before the caller reads the ledger.
    relay.settle();
    tracing::info!(member = %member, from = %transfer.from, to = %transfer.to, ordinal, "member moved");
    Ok(transfer)
}
