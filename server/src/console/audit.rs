//! The audit trail: every state-changing console action is recorded with who, when and
//! what ([`entry`], stored in the same transaction as the action, or [`record_as`] for an
//! action that stores nothing else); `/console/audit` lists it, station-scoped.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use maud::{Markup, html};
use timebank_engine::model::StationId;

use crate::console::{PageError, Signed, StationQuery, blocking, layout};
use crate::relay::Relay;
use crate::store::{AuditRecord, StoreResult};

/// Entries shown on the audit page.
pub const PAGE_ENTRIES: usize = 500;

/// The audit routes.
pub fn routes() -> Router<Arc<Relay>> {
    Router::new().route("/audit", get(audit_page))
}

/// The entry saying that `signed` did `action` on `target` (at their station), with
/// `detail`. An action that stores something hands it to the call that stores it (a desk
/// decision, [`Relay::write_as`], an admin call, a sign-out), which stores both in one
/// transaction.
pub fn entry(relay: &Relay, signed: &Signed, action: &str, target: &str, detail: &str) -> AuditRecord {
    entry_as(relay, &signed.username, signed.station(), action, target, detail)
}

/// Records an action by `username` concerning `station` that stores nothing else (a failed
/// sign-in, before a [`Signed`] exists).
pub fn record_as(
    relay: &Relay,
    username: &str,
    station: Option<&StationId>,
    action: &str,
    target: &str,
    detail: &str,
) -> StoreResult<()> {
    relay.store().record_audit(&entry_as(relay, username, station, action, target, detail))
}

/// The entry saying that `username` did `action` concerning `station` (a sign-in, before a
/// [`Signed`] exists), handed to the call that stores the action.
pub fn entry_as(
    relay: &Relay,
    username: &str,
    station: Option<&StationId>,
    action: &str,
    target: &str,
    detail: &str,
) -> AuditRecord {
    AuditRecord {
        at: relay.now_ms(),
        username: username.to_owned(),
        station: station.cloned(),
        action: action.to_owned(),
        target: target.to_owned(),
        detail: detail.to_owned(),
    }
}

async fn audit_page(signed: Signed, State(relay): State<Arc<Relay>>, Query(query): Query<StationQuery>) -> Result<Markup, PageError> {
    let entries = {
        let signed = signed.clone();
        blocking(move || {
            let store = relay.store();
            match (signed.station(), query.station.as_deref().filter(|s| !s.is_empty())) {
                (Some(own), _) => Ok(store.audit_entries(Some(own), PAGE_ENTRIES)?),
                (None, Some(_)) => {
                    let stations = signed.visible_stations(&relay, query.station.as_deref())?;
                    let mut entries = Vec::new();
                    for station in stations {
                        entries.extend(store.audit_entries(Some(&station.id), PAGE_ENTRIES)?);
                    }
                    Ok(entries)
                }
                (None, None) => Ok(store.audit_entries(None, PAGE_ENTRIES)?),
            }
        })
        .await?
    };
    let lang = signed.lang;
    Ok(layout::page(&signed, lang.pick("审计记录", "Audit trail"), html! {
        p.hint { (lang.pick("控制台上的每一次操作：谁、何时、做了什么（最新在前）。", "Every console action: who, when, what (newest first).")) }
        @if entries.is_empty() {
            p.empty { (lang.pick("还没有记录。", "Nothing recorded yet.")) }
        } @else {
            table.data {
                thead { tr {
                    th { (lang.pick("时间", "When")) }
                    th { (lang.pick("用户", "Who")) }
                    th { (lang.pick("操作", "Action")) }
                    th { (lang.pick("对象", "On")) }
                    th { (lang.pick("详情", "Details")) }
                } }
                tbody {
                    @for entry in &entries {
                        tr data-action=(entry.action) {
                            td { (lang.datetime(entry.at)) }
                            td { (entry.username) }
                            td { code { (entry.action) } }
                            td { (entry.target) }
                            td { (entry.detail) }
                        }
                    }
                }
            }
        }
    }))
}
