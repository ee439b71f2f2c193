//! `admin backup` and `admin restore`: they work on the store's file, not through a relay
//! (a restore has no store to open yet; a backup must not write to the one it copies).

use std::path::Path;

use serde_json::json;

use super::AdminError;
use super::report::{Report, time_text};
use crate::store::backup::{self, BackupSummary};

/// `admin backup --to FILE`: a consistent copy of the store in `data`, while the relay serves.
pub(super) fn backup(data: &Path, to: &Path) -> Result<Report, AdminError> {
    let summary = backup::backup(data, to).map_err(|e| AdminError::Refused(e.to_string()))?;
    let text = format!(
        "backed up the relay's store to {}\n{}\nrestore it with: timebank-relay admin restore --from {} --data NEW_DIR",
        summary.file.display(),
        holds(&summary),
        summary.file.display()
    );
    Ok(Report { json: summary_json(&summary), text })
}

/// `admin restore --from FILE --data NEW_DIR`: the backup checked, then copied into an
/// empty data directory.
pub(super) fn restore(from: &Path, data: &Path) -> Result<Report, AdminError> {
    let summary = backup::restore(from, data).map_err(|e| AdminError::Refused(e.to_string()))?;
    let text = format!(
        "restored {} into {}\n{}\nstart the relay on it (timebank-relay --data {}): the phones send back what it lacks at their next sync; \
         a phone enrolled after the backup must enroll again",
        from.display(),
        data.display(),
        holds(&summary),
        data.display()
    );
    Ok(Report { json: summary_json(&summary), text })
}

fn holds(summary: &BackupSummary) -> String {
    let newest =
        summary.newest_arrival.map_or_else(|| "nothing arrived yet".to_owned(), |at| format!("the newest arrived {}", time_text(at)));
    format!(
        "{} bytes, store version {}: {} documents, {} members, {} devices, {} arrival events ({newest})",
        summary.bytes, summary.version, summary.documents, summary.members, summary.devices, summary.events
    )
}

fn summary_json(summary: &BackupSummary) -> serde_json::Value {
    json!({
        "file": summary.file.display().to_string(),
        "bytes": summary.bytes,
        "version": summary.version,
        "documents": summary.documents,
        "members": summary.members,
        "devices": summary.devices,
        "events": summary.events,
        "newest_arrival": summary.newest_arrival.map(time_text),
    })
}
