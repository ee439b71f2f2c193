//! Records from PostgreSQL rows: a column that does not hold what the relay wrote (an id
//! that does not parse, an unknown role) is reported as a damaged store, never guessed.

use timebank_engine::model::{DistrictId, HouseholdId, MemberId, Role, StationId};
use tokio_postgres::Row;

use super::Fault;
use crate::store::encoding::console_role;
use crate::store::{
    AuditRecord, ConsoleSessionRecord, ConsoleUserRecord, DeviceRecord, DistrictRecord, LedgerEventRecord, MemberRecord,
    PostingRecord, SecurityEvent, StationRecord, StoreError, TagRecord,
};

pub(super) const MEMBER_COLUMNS: &str = "id, station, role, display_name, birth_year, household, created_at, hardship";
pub(super) const DEVICE_COLUMNS: &str = "id, member, actor, created_at, revoked_at, signing_key";
pub(super) const TAG_COLUMNS: &str = "uid, station, elder, registered_at, registered_by, revoked_at, revoked_why";
pub(super) const POSTING_COLUMNS: &str = "key, kind, debit, credit, minutes, subject, memo, by_member, event_seq, posted_at";

/// `raw`, read by `parse`, or the store reported damaged in `what`.
fn parsed<T, E: std::fmt::Display>(what: &str, raw: &str, parse: impl FnOnce(&str) -> Result<T, E>) -> Result<T, Fault> {
    parse(raw).map_err(|e| Fault::Store(StoreError::Corrupt(format!("{what} {raw:?}: {e}"))))
}

fn station_id(row: &Row, index: usize) -> Result<StationId, Fault> {
    parsed("station id", row.try_get(index)?, StationId::parse)
}

fn optional_station(row: &Row, index: usize) -> Result<Option<StationId>, Fault> {
    row.try_get::<_, Option<&str>>(index)?.map(|raw| parsed("station id", raw, StationId::parse)).transpose()
}

pub(super) fn member_from_row(row: &Row) -> Result<MemberRecord, Fault> {
    Ok(MemberRecord {
        id: parsed("member id", row.try_get(0)?, MemberId::parse)?,
        station: station_id(row, 1)?,
        role: parsed("role", row.try_get(2)?, Role::parse)?,
        display_name: row.try_get(3)?,
        birth_year: row.try_get::<_, Option<i32>>(4)?.and_then(|y| u16::try_from(y).ok()),
        household: row.try_get::<_, Option<&str>>(5)?.map(|h| parsed("household", h, HouseholdId::parse)).transpose()?,
        created_at: row.try_get(6)?,
        hardship: row.try_get(7)?,
    })
}

fn optional_district(row: &Row, index: usize) -> Result<Option<DistrictId>, Fault> {
    row.try_get::<_, Option<&str>>(index)?.map(|raw| parsed("district id", raw, DistrictId::parse)).transpose()
}

/// A station with its district: [`station_from_row`]'s columns.
pub(super) const STATION_SELECT: &str =
    "SELECT s.id, s.name, d.district, s.created_at FROM stations s JOIN station_districts d ON d.station = s.id";

pub(super) fn station_from_row(row: &Row) -> Result<StationRecord, Fault> {
    Ok(StationRecord {
        id: station_id(row, 0)?,
        name: row.try_get(1)?,
        district: parsed("district id", row.try_get(2)?, DistrictId::parse)?,
        created_at: row.try_get(3)?,
    })
}

pub(super) fn district_from_row(row: &Row) -> Result<DistrictRecord, Fault> {
    Ok(DistrictRecord {
        id: parsed("district id", row.try_get(0)?, DistrictId::parse)?,
        name: row.try_get(1)?,
        created_at: row.try_get(2)?,
    })
}

pub(super) fn device_from_row(row: &Row) -> Result<DeviceRecord, Fault> {
    Ok(DeviceRecord {
        id: row.try_get(0)?,
        member: parsed("member id", row.try_get(1)?, MemberId::parse)?,
        actor: row.try_get(2)?,
        created_at: row.try_get(3)?,
        revoked_at: row.try_get(4)?,
        signing_key: row
            .try_get::<_, Option<Vec<u8>>>(5)?
            .map(|key| {
                <[u8; 32]>::try_from(key)
                    .map_err(|k| Fault::Store(StoreError::Corrupt(format!("a device's signing key of {} bytes", k.len()))))
            })
            .transpose()?,
    })
}

pub(super) fn tag_from_row(row: &Row) -> Result<TagRecord, Fault> {
    Ok(TagRecord {
        uid: row.try_get(0)?,
        station: station_id(row, 1)?,
        elder: parsed("member id", row.try_get(2)?, MemberId::parse)?,
        registered_at: row.try_get(3)?,
        registered_by: row.try_get(4)?,
        revoked_at: row.try_get(5)?,
        revoked_why: row.try_get(6)?,
    })
}

pub(super) fn console_user_from_row(row: &Row) -> Result<ConsoleUserRecord, Fault> {
    let role: &str = row.try_get(2)?;
    let role = console_role(role, optional_station(row, 3)?, optional_district(row, 4)?)
        .map_err(|e| Fault::Store(StoreError::Corrupt(format!("console role: {e}"))))?;
    Ok(ConsoleUserRecord {
        username: row.try_get(0)?,
        password_hash: row.try_get(1)?,
        role,
        member: row.try_get::<_, Option<&str>>(5)?.map(|m| parsed("member id", m, MemberId::parse)).transpose()?,
        created_at: row.try_get(6)?,
    })
}

pub(super) fn session_from_row(row: &Row) -> Result<ConsoleSessionRecord, Fault> {
    let hash: &[u8] = row.try_get(0)?;
    Ok(ConsoleSessionRecord {
        token_hash: hash.try_into().map_err(|_| Fault::Store(StoreError::Corrupt("a session hash is not 32 bytes".into())))?,
        username: row.try_get(1)?,
        csrf: row.try_get(2)?,
        created_at: row.try_get(3)?,
        last_seen: row.try_get(4)?,
    })
}

pub(super) fn audit_from_row(row: &Row) -> Result<AuditRecord, Fault> {
    Ok(AuditRecord {
        at: row.try_get(0)?,
        username: row.try_get(1)?,
        station: optional_station(row, 2)?,
        action: row.try_get(3)?,
        target: row.try_get(4)?,
        detail: row.try_get(5)?,
    })
}

pub(super) fn posting_from_row(row: &Row) -> Result<PostingRecord, Fault> {
    Ok(PostingRecord {
        key: row.try_get(0)?,
        kind: row.try_get(1)?,
        debit: row.try_get(2)?,
        credit: row.try_get(3)?,
        minutes: row.try_get(4)?,
        subject: row.try_get(5)?,
        memo: row.try_get(6)?,
        by: row.try_get(7)?,
        event: row.try_get(8)?,
        at: row.try_get(9)?,
    })
}

/// From `seq, key, body, received_at`.
pub(super) fn ledger_event_from_row(row: &Row) -> Result<LedgerEventRecord, Fault> {
    Ok(LedgerEventRecord { seq: row.try_get(0)?, key: row.try_get(1)?, body: row.try_get(2)?, received_at: row.try_get(3)? })
}

/// From `at, device, member, doc_id, reason`.
pub(super) fn security_event_from_row(row: &Row) -> Result<SecurityEvent, Fault> {
    Ok(SecurityEvent {
        at: row.try_get(0)?,
        device: row.try_get(1)?,
        member: row.try_get(2)?,
        doc: row.try_get(3)?,
        reason: row.try_get(4)?,
    })
}
