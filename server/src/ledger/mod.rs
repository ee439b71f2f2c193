//! The relay's coin ledger and its reconciliation (DESIGN.md, "Ledger and
//! reconciliation"): an append-only double-entry ledger in integer minutes, fed by an
//! arrival log of what the phones and coordinators sent.
//!
//! | file | job |
//! | --- | --- |
//! | [`rules`] | a station's rules as versioned data, with the defaults |
//! | [`posting`] | accounts and postings (double entry, idempotency keys) |
//! | [`event`] | the events of the arrival log |
//! | [`anomaly`] | what sends a visit to the coordinators' review queue |
//! | [`evidence`] | evidence of presence: the verdicts the relay stored, and the fold of tag counters (ADR 30) |
//! | `positions` | where a posting or visit is, found by its key (no key copied) |
//! | [`reconcile`] | the pure fold from events to postings and outcomes |
//! | [`collect`] | reads the events out of the documents (touched records, or all) |
//! | [`document`] | writes a member's `ledger/<member>` document from the books |
//! | [`bookkeeper`] | the books a relay keeps between writes: catch-up, then each write's events, handed over in memory |
//! | [`rebuild`] | the full rebuild, the catch-up's scan of the documents, `admin rebuild-ledger --check` |
//! | [`statement`] | a member's statement and everyone's balances from the stored postings |
//! | `visits` | the books' visits side by side, found by id |
//! | [`verify`] | verifies a visit's taps and co-signature when it is collected (ADR 30) |

pub mod anomaly;
pub mod bookkeeper;
pub mod collect;
pub mod document;
pub mod event;
pub mod evidence;
mod positions;
pub mod posting;
pub mod rebuild;
pub mod reconcile;
pub mod rules;
pub mod statement;
pub mod verify;
mod visits;

#[cfg(test)]
mod pinned;
#[cfg(test)]
mod properties;

pub use event::{Event, EventBody};
pub use posting::{Account, Posting, PostingKind};
pub use reconcile::Books;
pub use rules::StationRules;
