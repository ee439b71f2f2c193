//! Writes a member's `ledger/<member>` document from the books: new posting lines, changed
//! outcomes, how far an elder's orders were served, and the balance, as one change by the relay's actor, and only what differs
//! (so writing it again changes nothing). Posting lines are never rewritten.

use std::collections::HashSet;

use automerge::transaction::CommitOptions;
use automerge::{Automerge, AutomergeError};
use timebank_engine::documents::ledger;
use timebank_engine::model::MemberId;

use crate::ledger::reconcile::Books;

/// What the document lacks of what the books say of `member`, as a chunk to append (the
/// change's bytes), and the document with it applied; `None` when it says it all already.
pub fn update(doc: &Automerge, books: &Books, member: &MemberId, now_ms: i64) -> Result<Option<(Vec<u8>, Automerge)>, AutomergeError> {
    let written: HashSet<String> = ledger::postings(doc).into_iter().map(|(key, _)| key).collect();
    let lines: Vec<_> = books.member_lines(member).into_iter().filter(|(key, _)| !written.contains(key)).collect();
    let outcomes: Vec<_> = books
        .member_outcomes(member)
        .into_iter()
        .filter(|(subject, outcome)| ledger::outcome(doc, subject).as_ref() != Some(outcome))
        .collect();
    let progress: Vec<_> = books
        .member_order_progress(member)
        .into_iter()
        .filter(|(order, state)| ledger::order_progress(doc, order) != Some(*state))
        .collect();
    let balance = books.member_balance(member);
    let balance_differs = ledger::balance(doc) != balance;
    if lines.is_empty() && outcomes.is_empty() && progress.is_empty() && !balance_differs {
        return Ok(None);
    }
    let mut fork = doc.clone();
    let before = fork.get_heads();
    fork.transact_with(
        |_| CommitOptions::default().with_message("ledger").with_time(now_ms),
        |tx| {
            for (key, line) in &lines {
                ledger::put_posting(tx, key, line)?;
            }
            for (subject, outcome) in &outcomes {
                ledger::put_outcome(tx, subject, outcome)?;
            }
            for (order, state) in &progress {
                ledger::put_order_progress(tx, order, *state)?;
            }
            if balance_differs {
                ledger::put_balance(tx, &balance)?;
            }
            Ok::<(), AutomergeError>(())
        },
    )
    .map_err(|failure| failure.error)?;
    Ok(Some((fork.save_after(&before), fork)))
}
