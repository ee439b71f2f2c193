//! Accounts and postings of the double-entry ledger, in integer minutes. Every posting
//! moves a positive amount from one account to another, so the sum over all accounts is
//! always zero; its idempotency key (the visit or request id and the rule version) makes
//! a replay post nothing. Postings are never changed or removed: corrections are reversals.

use std::fmt;

use chrono::{DateTime, Datelike as _, Utc};
use serde::{Deserialize, Serialize};
use smol_str::SmolStr;
use timebank_engine::model::{MemberId, StationId};

/// An account of the ledger.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Account {
    /// The program: coins are issued from it (earn) and return to it (redeem). Its
    /// balance is minus the coins outstanding.
    Program,
    /// A member's spendable coins.
    Member(MemberId),
    /// A member's coins held for accepted redemptions not yet fulfilled or released.
    Held(MemberId),
    /// A station's donation pool (gifts to the pool, coins over the caps).
    Pool(StationId),
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Account::Program => write!(f, "program"),
            Account::Member(m) => write!(f, "member:{m}"),
            Account::Held(m) => write!(f, "held:{m}"),
            Account::Pool(s) => write!(f, "pool:{s}"),
        }
    }
}

impl Account {
    /// Reads [`Account`]'s text form.
    pub fn parse(raw: &str) -> Option<Account> {
        if raw == "program" {
            return Some(Account::Program);
        }
        let (kind, id) = raw.split_once(':')?;
        match kind {
            "member" => MemberId::parse(id).ok().map(Account::Member),
            "held" => MemberId::parse(id).ok().map(Account::Held),
            "pool" => StationId::parse(id).ok().map(Account::Pool),
            _ => None,
        }
    }

    /// The member whose account it is, for member and held accounts.
    pub fn member(&self) -> Option<&MemberId> {
        match self {
            Account::Member(m) | Account::Held(m) => Some(m),
            Account::Program | Account::Pool(_) => None,
        }
    }
}

/// What a posting is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PostingKind {
    /// Program → volunteer, for an approved visit.
    Earn,
    /// Program → station pool: the part of a visit over the daily or lifetime cap.
    Overflow,
    /// Member → held: an accepted redemption.
    Reserve,
    /// Held → program: a redemption fulfilled (the service was given).
    Redeem,
    /// Held → member: a redemption released (not given).
    Release,
    /// Member → member: a gift to a relative.
    Gift,
    /// Member → station pool: a gift to the pool.
    Donation,
    /// Undoes (part of) an earlier posting, with the reason and who decided.
    Reversal,
    /// Program ↔ member: a coordinator's correction of a balance, with the reason.
    Correction,
}

impl PostingKind {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PostingKind::Earn => "earn",
            PostingKind::Overflow => "overflow",
            PostingKind::Reserve => "reserve",
            PostingKind::Redeem => "redeem",
            PostingKind::Release => "release",
            PostingKind::Gift => "gift",
            PostingKind::Donation => "donation",
            PostingKind::Reversal => "reversal",
            PostingKind::Correction => "correction",
        }
    }

    /// Reads the stored spelling.
    pub fn parse(raw: &str) -> Option<PostingKind> {
        [
            PostingKind::Earn,
            PostingKind::Overflow,
            PostingKind::Reserve,
            PostingKind::Redeem,
            PostingKind::Release,
            PostingKind::Gift,
            PostingKind::Donation,
            PostingKind::Reversal,
            PostingKind::Correction,
        ]
        .into_iter()
        .find(|k| k.as_str() == raw)
    }
}

/// A posting's idempotency key as the books keep it. The keys of earnings and requests (a
/// district-year has a million) are kept as their numbers and written out when read
/// ([`Posting::key`]), so the fold formats and allocates no key per posting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PostingKey {
    /// `{kind}:{subject}:r{version}` (the station's rules' version), with `:{round}` after
    /// it from a visit's second approval on.
    Ruled {
        /// The rules' version.
        version: u32,
        /// The approval's round (1 for everything but a visit approved again).
        round: u32,
    },
    /// Written out: `reversal:{key reversed}` or `correction:{id}`. Never of the ruled
    /// form (no ruled kind reverses or corrects), so two keys are equal exactly when
    /// their words are.
    Text(String),
}

impl PostingKey {
    /// The key of a posting by the station's rules `version`, in approval `round`.
    pub fn ruled(version: u32, round: u32) -> PostingKey {
        PostingKey::Ruled { version, round }
    }

    /// The key of the reversal of the posting whose key is `reversed`.
    pub fn reversal_of(reversed: KeyText<'_>) -> PostingKey {
        PostingKey::Text(format!("reversal:{reversed}"))
    }

    /// The key of correction `id`.
    pub fn correction(id: &str) -> PostingKey {
        PostingKey::Text(format!("correction:{id}"))
    }
}

/// A posting's key with what its words need (the posting's kind and subject): written
/// out by `Display`, compared and hashed as those words would be.
#[derive(Clone, Copy, Debug)]
pub struct KeyText<'a> {
    kind: PostingKind,
    subject: &'a str,
    key: &'a PostingKey,
}

impl<'a> KeyText<'a> {
    /// `key` of a posting of `kind` for `subject`.
    pub fn new(kind: PostingKind, subject: &'a str, key: &'a PostingKey) -> KeyText<'a> {
        KeyText { kind, subject, key }
    }
}

impl fmt::Display for KeyText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.key {
            PostingKey::Ruled { version, round: 1 } => write!(f, "{}:{}:r{version}", self.kind.as_str(), self.subject),
            PostingKey::Ruled { version, round } => write!(f, "{}:{}:r{version}:{round}", self.kind.as_str(), self.subject),
            PostingKey::Text(words) => f.write_str(words),
        }
    }
}

/// Equal when the words are: a ruled key's words are its kind, subject (an id, without
/// `:`), version and round, and a written-out key never has the ruled form.
impl PartialEq for KeyText<'_> {
    fn eq(&self, other: &KeyText<'_>) -> bool {
        match (self.key, other.key) {
            (PostingKey::Ruled { .. }, PostingKey::Ruled { .. }) => {
                self.key == other.key && self.kind == other.kind && self.subject == other.subject
            }
            (PostingKey::Text(a), PostingKey::Text(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for KeyText<'_> {}

impl std::hash::Hash for KeyText<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        match self.key {
            PostingKey::Ruled { version, round } => (self.kind, self.subject, version, round).hash(state),
            PostingKey::Text(words) => words.hash(state),
        }
    }
}

/// One posting: `minutes` (always positive) leave `from` and arrive in `to`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Posting {
    /// Idempotency key, unique in the ledger, as its parts: read it with [`Posting::key`]
    /// (`earn:v-…:r1`, `reserve:r-…:r1`, ...).
    pub key: PostingKey,
    /// What it is for.
    pub kind: PostingKind,
    /// The account debited.
    pub from: Account,
    /// The account credited.
    pub to: Account,
    /// Minutes moved, > 0.
    pub minutes: i64,
    /// The visit or request it belongs to (kept inline: ids are short).
    pub subject: SmolStr,
    /// Words for people.
    pub memo: Memo,
    /// Who decided it (the reviewing coordinator), if a person did.
    pub by: Option<MemberId>,
    /// The arrival sequence number of the event that caused it.
    pub event: i64,
    /// When the relay received that event (ms): postings are dated deterministically.
    pub at: i64,
}

impl Posting {
    /// The idempotency key (`earn:v-…:r1`, `reserve:r-…:r1`, `reversal:earn:v-…:r1`, ...).
    pub fn key(&self) -> KeyText<'_> {
        KeyText::new(self.kind, &self.subject, &self.key)
    }

    /// The signed change this posting makes to `account`.
    pub fn effect_on(&self, account: &Account) -> i64 {
        let mut delta = 0;
        if self.from == *account {
            delta -= self.minutes;
        }
        if self.to == *account {
            delta += self.minutes;
        }
        delta
    }
}

/// Words for people on a posting. A visit's earning (a district-year has a million) keeps
/// its numbers and is written out when read, so the fold formats no words; the others are
/// kept as they were written. Compare the words (`to_string()`), not the variants: the same
/// fold always makes the same variant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Memo {
    /// `visit to {elder} on {date}: {logged} min logged, {credited} min credited`.
    Visit {
        /// The elder visited.
        elder: MemberId,
        /// The check-in (ms), written as its UTC date.
        check_in: i64,
        /// Minutes the volunteer logged.
        logged: i64,
        /// Minutes the station's rules credit.
        credited: i64,
    },
    /// Words as they were written.
    Text(String),
}

impl fmt::Display for Memo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Memo::Visit { elder, check_in, logged, credited } => {
                write!(f, "visit to {elder} on {}: {logged} min logged, {credited} min credited", MemoDate(*check_in))
            }
            Memo::Text(words) => f.write_str(words),
        }
    }
}

impl From<String> for Memo {
    fn from(words: String) -> Memo {
        Memo::Text(words)
    }
}

/// The UTC date of a time in ms as a memo writes it (`2026-01-05`; nothing if out of
/// range), written straight into the memo (no string of its own).
struct MemoDate(i64);

impl fmt::Display for MemoDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match DateTime::<Utc>::from_timestamp_millis(self.0) {
            Some(t) if (0..=9999).contains(&t.year()) => write!(f, "{:04}-{:02}-{:02}", t.year(), t.month(), t.day()),
            // chrono's own form for years of more or fewer than four digits.
            Some(t) => write!(f, "{}", t.format("%Y-%m-%d")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_and_kinds_round_trip_through_text() {
        let m = MemberId::parse("m-1").unwrap();
        for account in
            [Account::Program, Account::Member(m.clone()), Account::Held(m), Account::Pool(StationId::parse("s-1").unwrap())]
        {
            assert_eq!(Account::parse(&account.to_string()), Some(account));
        }
        assert_eq!(Account::parse("bank:x"), None);
        assert_eq!(PostingKind::parse("donation"), Some(PostingKind::Donation));
    }
}
