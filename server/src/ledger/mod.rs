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
//! | [`reconcile`] | the pure fold from events to postings and outcomes |
//! | [`collect`] | reads the events out of the documents (touched records, or all) |
//! | [`document`] | writes a member's `ledger/<member>` document from the books |
//! | [`run`] | runs it all on the relay: after each sync, catch-up at start, rebuild check |
//! | [`statement`] | a member's statement and everyone's balances from the stored postings |

pub mod anomaly;
pub mod collect;
pub mod document;
pub mod event;
pub mod posting;
pub mod reconcile;
pub mod rules;
pub mod run;
pub mod statement;

#[cfg(test)]
mod properties;

pub use event::{Event, EventBody};
pub use posting::{Account, Posting, PostingKind};
pub use reconcile::Books;
pub use rules::StationRules;
