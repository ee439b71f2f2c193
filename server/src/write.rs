//! Writing a document change as a coordinator from the relay itself (ADR 17): the console's
//! decisions become the same changes a coordinator's phone would make, written with this
//! relay process's actor (ADR 10), the coordinator's member id in the author field, and
//! stored through the sync path: the arrival log, ledger reconciliation and the phones'
//! next sync all see them.

use std::collections::{BTreeMap, HashMap};

use automerge::transaction::{CommitOptions, Transaction};
use automerge::{Automerge, AutomergeError};
use timebank_engine::DocId;
use timebank_engine::model::{MemberId, Role};

use crate::authority::Access;
use crate::error::AppError;
use crate::relay::{Relay, Writes};
use crate::store::{AuditRecord, MemberRecord, WriteBatch};
use crate::vetting;

/// One document edit: the document and what to write into it (an engine document helper,
/// such as `desk::put_review`, inside a closure).
pub type Edit<'a> = (DocId, &'a dyn Fn(&mut Transaction<'_>) -> Result<(), AutomergeError>);

impl Relay {
    /// Writes `edits` as one change per document, on behalf of coordinator `author`, and
    /// stores them in one transaction with the arrival-log events they bring and the
    /// console's `audit` entry for the decision; then the ledger reconciles. Refused whole,
    /// with nothing changed or audited, when `author` is not a coordinator who may write
    /// every document named (403), a document does not exist (404) or an edit fails (400).
    /// Edits that change nothing write no document, but the entry is still written: the
    /// coordinator did ask (a second approval, a cancelled order cancelled again).
    pub fn write_as(&self, author: &MemberId, edits: &[Edit<'_>], audit: Option<AuditRecord>) -> Result<(), AppError> {
        let store = self.store();
        let coordinator = writer(self, author)?;
        let access = Access::of(store, &coordinator)?;
        for (id, _) in edits {
            if !access.can_write(id) {
                return Err(AppError::NotFound(format!(
                    "{id} is not a document of station {}; nothing was changed",
                    coordinator.station
                )));
            }
        }
        let now = self.now_ms();
        let mut work = self.work();
        let ids: Vec<DocId> = edits.iter().map(|(id, _)| id.clone()).collect();
        work.hold(&ids);
        work.load(&ids)?;

        let mut forks: BTreeMap<DocId, Automerge> = BTreeMap::new();
        for (id, edit) in edits {
            let Some(cached) = work.doc(id) else {
                return Err(AppError::NotFound(format!("document {id} does not exist on this relay; nothing was changed")));
            };
            let mut fork = forks.remove(id).unwrap_or_else(|| cached.clone());
            fork.transact_with(|_| CommitOptions::default().with_time(now), |tx| edit(tx))
                .map_err(|failure| AppError::BadRequest(format!("could not write {id}: {}; nothing was changed", failure.error)))?;
            forks.insert(id.clone(), fork);
        }
        let mut footprints = HashMap::new();
        for (id, fork) in &forks {
            let Some(cached) = work.doc(id) else { continue };
            let before = cached.get_heads();
            // The relay's writes keep the document's shape too.
            let vetted = vetting::vet(id, cached, &fork.get_changes(&before), |_| false)
                .and_then(|vetted| vetted.check(fork).map(|()| vetted))
                .map_err(|refusal| AppError::BadRequest(refusal.reason))?;
            footprints.insert(id.clone(), vetted.footprint);
        }
        let batch = WriteBatch { audits: audit.into_iter().collect(), ..WriteBatch::default() };
        let generations = work.commit(Writes { forks, footprints, batch, ..Writes::default() })?;
        drop(work);
        // The coordinator's next page shows the decision with its ledger effects.
        self.settle();
        if !generations.is_empty() {
            tracing::info!(author = %author, docs = generations.len(), "written for a coordinator");
        }
        Ok(())
    }
}

/// The coordinator `author`, or why they may not write (403).
fn writer(relay: &Relay, author: &MemberId) -> Result<MemberRecord, AppError> {
    match relay.store().member(author)? {
        Some(member) if member.role == Role::Coordinator => Ok(member),
        Some(member) => Err(AppError::Forbidden(format!(
            "{author} is a {}, not a coordinator; only coordinators decide at the desk. Nothing was changed",
            member.role.as_str()
        ))),
        None => Err(AppError::Forbidden(format!(
            "no member {author} is registered on this relay; link the console account to a coordinator's member id. Nothing was changed"
        ))),
    }
}
