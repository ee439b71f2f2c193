//! A member's statement from the stored postings: each posting that touches their
//! accounts with its effect and the running balances, and the balances now. Shared by
//! `admin ledger` and the console's ledger pages.

use std::collections::HashMap;

use chrono::DateTime;
use serde_json::{Value, json};
use timebank_engine::documents::ledger::Outcome;
use timebank_engine::model::MemberId;

use crate::ledger::Account;
use crate::store::{PostingRecord, RelayStore, StoreResult};

/// One line of a statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementLine {
    /// The posting.
    pub posting: PostingRecord,
    /// Its effect on the member's spendable and held coins together (minutes).
    pub change: i64,
    /// Spendable minutes after it.
    pub available_after: i64,
    /// Held minutes after it.
    pub reserved_after: i64,
}

/// A member's balances and the postings behind them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Statement {
    /// Spendable minutes.
    pub available: i64,
    /// Minutes held for accepted redemptions.
    pub reserved: i64,
    /// Oldest first.
    pub lines: Vec<StatementLine>,
}

impl Statement {
    /// Confirmed minutes: available and reserved.
    pub fn confirmed(&self) -> i64 {
        self.available + self.reserved
    }
}

fn effect(account: &str, posting: &PostingRecord) -> i64 {
    i64::from(posting.credit == account) * posting.minutes - i64::from(posting.debit == account) * posting.minutes
}

/// The statement of `member` from `postings` (in the order posted).
pub fn statement_of(member: &MemberId, postings: &[PostingRecord]) -> Statement {
    let own = Account::Member(member.clone()).to_string();
    let held = Account::Held(member.clone()).to_string();
    let mut statement = Statement::default();
    for p in postings {
        if p.debit != own && p.credit != own && p.debit != held && p.credit != held {
            continue;
        }
        let (a, h) = (effect(&own, p), effect(&held, p));
        statement.available += a;
        statement.reserved += h;
        statement.lines.push(StatementLine {
            posting: p.clone(),
            change: a + h,
            available_after: statement.available,
            reserved_after: statement.reserved,
        });
    }
    statement
}

/// The statement of `member` with the outcomes of their visits and requests, as JSON: what
/// `admin ledger --json` prints and a member's data export holds.
pub fn to_json(member: &MemberId, statement: &Statement, outcomes: &[(String, Outcome)]) -> Value {
    let at = |ms: i64| DateTime::from_timestamp_millis(ms).map_or_else(|| ms.to_string(), |t| t.to_rfc3339());
    let postings: Vec<Value> = statement
        .lines
        .iter()
        .map(|line| {
            let p = &line.posting;
            json!({
                "key": p.key, "kind": p.kind, "from": p.debit, "to": p.credit, "minutes": p.minutes,
                "subject": p.subject, "memo": p.memo, "by": p.by, "at": at(p.at),
                "available_after": line.available_after, "reserved_after": line.reserved_after,
            })
        })
        .collect();
    json!({
        "member": member.as_str(),
        "balance": {
            "confirmed_minutes": statement.confirmed(),
            "reserved_minutes": statement.reserved,
            "available_minutes": statement.available,
        },
        "postings": postings,
        "outcomes": outcomes.iter().map(|(subject, o)| (subject.clone(), json!({
            "status": o.status, "reason": o.reason, "minutes": o.minutes,
        }))).collect::<serde_json::Map<String, Value>>(),
    })
}

/// The statement of `member` from the store.
pub fn statement(store: &dyn RelayStore, member: &MemberId) -> StoreResult<Statement> {
    Ok(statement_of(member, &store.postings()?))
}

/// (available, reserved) minutes of every member with a posting, in one pass.
pub fn balances(store: &dyn RelayStore) -> StoreResult<HashMap<MemberId, (i64, i64)>> {
    let mut out: HashMap<MemberId, (i64, i64)> = HashMap::new();
    for p in store.postings()? {
        for (account, sign) in [(&p.debit, -1), (&p.credit, 1)] {
            match Account::parse(account) {
                Some(Account::Member(m)) => out.entry(m).or_default().0 += sign * p.minutes,
                Some(Account::Held(m)) => out.entry(m).or_default().1 += sign * p.minutes,
                _ => {}
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn posting(kind: &str, debit: &str, credit: &str, minutes: i64) -> PostingRecord {
        PostingRecord {
            key: format!("{kind}:{debit}:{credit}"),
            kind: kind.into(),
            debit: debit.into(),
            credit: credit.into(),
            minutes,
            subject: "v-1".into(),
            memo: String::new(),
            by: None,
            event: 1,
            at: 0,
        }
    }

    #[test]
    fn a_statement_follows_spendable_and_held_coins() {
        let m = MemberId::parse("m-1").unwrap();
        let postings = [
            posting("earn", "program", "member:m-1", 90),
            posting("earn", "program", "member:m-2", 60),
            posting("reserve", "member:m-1", "held:m-1", 60),
            posting("correction", "member:m-1", "program", 15),
        ];
        let s = statement_of(&m, &postings);
        assert_eq!((s.available, s.reserved, s.confirmed()), (15, 60, 75));
        assert_eq!(s.lines.iter().map(|l| l.change).collect::<Vec<_>>(), [90, 0, -15]);
        let all = balances_of(&postings);
        assert_eq!(all[&m], (15, 60));
        assert_eq!(all[&MemberId::parse("m-2").unwrap()], (60, 0));
    }

    fn balances_of(postings: &[PostingRecord]) -> HashMap<MemberId, (i64, i64)> {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::SqliteStore::open(dir.path()).unwrap();
        let events = store.append_ledger_events(&[crate::store::NewLedgerEvent { key: "k".into(), body: "{}".into() }], 0).unwrap();
        let postings: Vec<PostingRecord> = postings.iter().map(|p| PostingRecord { event: events[0].seq, ..p.clone() }).collect();
        store.append_postings(&postings, &crate::store::WriteBatch::default(), 0).unwrap();
        balances(&store).unwrap()
    }
}
