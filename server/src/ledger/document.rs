//! Writes a member's `ledger/<member>` document from the books: new posting lines, changed
//! outcomes, how far an elder's orders were served, and the balance, as one change by the relay's actor, and only what differs
//! (so writing it again changes nothing). Posting lines are never rewritten. After a fold,
//! only the entries the books say changed ([`Touched`]) are compared with the document, so
//! writing one visit's outcome costs the same whatever the member's history.

use std::collections::HashSet;

use automerge::transaction::CommitOptions;
use automerge::{Automerge, AutomergeError};
use timebank_engine::documents::ledger;
use timebank_engine::documents::ledger::{Outcome, PostingLine};
use timebank_engine::model::{MemberId, OrderState};

use crate::ledger::reconcile::{Books, Touched};

/// What the document lacks of what the books say of `member`, as a chunk to append (the
/// change's bytes), and the document with it applied; `None` when it says it all already.
/// With `touched`, only what it names (and the balance) is compared; without, everything.
pub fn update(
    doc: &Automerge,
    books: &Books,
    member: &MemberId,
    touched: Option<&Touched>,
    now_ms: i64,
) -> Result<Option<(Vec<u8>, Automerge)>, AutomergeError> {
    let (lines, outcomes, progress) = match touched {
        Some(touched) => lacking_of(doc, books, member, touched),
        None => lacking(doc, books, member),
    };
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

/// Posting lines, outcomes and order progress the document lacks or says otherwise.
type Lacking = (Vec<(String, PostingLine)>, Vec<(String, Outcome)>, Vec<(String, OrderState)>);

/// What the document lacks of everything the books say of `member`.
fn lacking(doc: &Automerge, books: &Books, member: &MemberId) -> Lacking {
    let written: HashSet<String> = ledger::posting_keys(doc).into_iter().collect();
    let lines = books.member_lines(member).into_iter().filter(|(key, _)| !written.contains(key)).collect();
    let outcomes = books
        .member_outcomes(member)
        .into_iter()
        .filter(|(subject, outcome)| ledger::outcome(doc, subject).as_ref() != Some(outcome))
        .collect();
    let progress = books
        .member_order_progress(member)
        .into_iter()
        .filter(|(order, state)| ledger::order_progress(doc, order) != Some(*state))
        .collect();
    (lines, outcomes, progress)
}

/// What the document lacks of the entries `touched` names.
fn lacking_of(doc: &Automerge, books: &Books, member: &MemberId, touched: &Touched) -> Lacking {
    let lines = match touched.lines_from {
        Some(from) => books.member_lines_from(member, from).into_iter().filter(|(key, _)| !ledger::has_posting(doc, key)).collect(),
        None => Vec::new(),
    };
    let outcomes = touched
        .outcomes
        .iter()
        .filter_map(|subject| Some((subject.clone(), books.member_outcome(member, subject)?.clone())))
        .filter(|(subject, outcome)| ledger::outcome(doc, subject).as_ref() != Some(outcome))
        .collect();
    let progress = touched
        .orders
        .iter()
        .filter_map(|order| Some((order.clone(), books.member_order_state(member, order)?)))
        .filter(|(order, state)| ledger::order_progress(doc, order) != Some(*state))
        .collect();
    (lines, outcomes, progress)
}
