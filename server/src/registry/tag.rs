//! Elders' NFC tags (ADR 29): registering a tag for an elder of a station, replacing it
//! (the old one revoked), revoking it, and the keys for the tag-writing step at the
//! station. The keys are never stored: each is diversified from the station's master key.

use timebank_engine::model::{MemberId, Role, StationId, TAG_URL};

use super::RegistryError;
use crate::ledger::collect::member_moves;
use crate::presence::keys::station_keys;
use crate::presence::sun::{self, KeyUse};
use crate::relay::Relay;
use crate::store::{AuditRecord, MemberRecord, Millis, Revocation, TagRecord, moved_to};

/// Registers the tag with the UID `uid` (as printed) for `elder`, a member of `station`
/// with the elder's role, who has no tag in use (replace it instead). `by` is who did it.
pub fn register_tag(
    relay: &Relay,
    station: &StationId,
    elder: &str,
    uid: &str,
    by: &str,
    audit: Option<AuditRecord>,
) -> Result<TagRecord, RegistryError> {
    let elder = station_elder(relay, station, elder)?;
    let uid = parse_uid(uid)?;
    if let Some(active) = relay.store().station_tags(station)?.into_iter().find(|t| t.elder == elder && t.revoked_at.is_none()) {
        return Err(RegistryError::Invalid(format!(
            "elder {elder} already has tag {} in use; replace it (the old one is revoked) instead of adding a second",
            active.uid
        )));
    }
    store_tag(relay, station, &elder, &uid, by, audit)
}

/// Replaces `elder`'s tags in use with the tag `uid`: the new one is registered, then the
/// old ones revoked ("replaced by …"). Returns the new tag.
pub fn replace_tag(
    relay: &Relay,
    station: &StationId,
    elder: &str,
    uid: &str,
    by: &str,
    audit: Option<AuditRecord>,
) -> Result<TagRecord, RegistryError> {
    let elder = station_elder(relay, station, elder)?;
    let uid = parse_uid(uid)?;
    let old: Vec<TagRecord> =
        relay.store().station_tags(station)?.into_iter().filter(|t| t.elder == elder && t.revoked_at.is_none()).collect();
    let tag = store_tag(relay, station, &elder, &uid, by, audit)?;
    for previous in old {
        relay.store().revoke_tag(&previous.uid, relay.now_ms(), &format!("replaced by {uid}"), None)?;
    }
    Ok(tag)
}

/// Revokes the tag `uid` of `station` (lost, broken): its taps fail from now on. Returns
/// what happened and when.
pub fn revoke_tag(
    relay: &Relay,
    station: &StationId,
    uid: &str,
    why: &str,
    audit: Option<AuditRecord>,
) -> Result<(Revocation, Millis), RegistryError> {
    let uid = parse_uid(uid)?;
    station_tag(relay, station, &uid)?;
    let why = why.trim();
    let why = if why.is_empty() { "revoked by the station" } else { why };
    let at = relay.now_ms();
    let done = relay.store().revoke_tag(&uid, at, why, audit.as_ref())?;
    tracing::info!(tag = %uid, station = %station, "tag revoked");
    Ok((done, at))
}

/// An elder who moved to a station with a tag in use at the one they left, which the move
/// revoked (ADR 39), and who has no tag in use at their station now: it registers one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagNeeded {
    /// The elder, a member of the station now.
    pub elder: MemberRecord,
    /// Their tag at the station they left, revoked by the move.
    pub left: TagRecord,
}

/// The elders of `station` who need a tag registered there since they moved in ([`TagNeeded`]),
/// by id: for each elder who moved here, one point read of their moves and of the tags
/// of the station they left.
pub fn tags_needed(relay: &Relay, station: &StationId) -> Result<Vec<TagNeeded>, RegistryError> {
    let store = relay.store();
    let here = store.station_tags(station)?;
    let mut needed = Vec::new();
    for elder in store.station_members(station)?.into_iter().filter(|m| m.role == Role::Elder) {
        if here.iter().any(|t| t.elder == elder.id && t.revoked_at.is_none()) {
            continue;
        }
        let Some(arrival) = member_moves(store, &elder.id)?.pop().filter(|m| m.to == *station) else { continue };
        let why = moved_to(station);
        let left = store
            .station_tags(&arrival.from)?
            .into_iter()
            .rev()
            .find(|t| t.elder == elder.id && t.revoked_why.as_deref() == Some(&why));
        if let Some(left) = left {
            needed.push(TagNeeded { elder, left });
        }
    }
    Ok(needed)
}

/// What the station's tag writer needs to write a tag (NXP's tools or a phone app):
/// the three AES keys and the SDM settings. Secret: shown to the station's coordinators
/// only, and audited.
#[derive(Clone, PartialEq, Eq)]
pub struct TagWriting {
    /// The tag.
    pub tag: TagRecord,
    /// Key 0, the application master key, hex.
    pub app_key: String,
    /// Key 1, SDM meta read (encrypts the UID and counter), hex.
    pub meta_read_key: String,
    /// Key 2, SDM file read (the tap's MAC), hex.
    pub file_read_key: String,
}

impl std::fmt::Debug for TagWriting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TagWriting").field("tag", &self.tag).finish_non_exhaustive()
    }
}

impl TagWriting {
    /// The export as text, one setting a line.
    pub fn text(&self) -> String {
        let template = format!("{TAG_URL}?picc_data={}&cmac={}", "0".repeat(32), "0".repeat(16));
        [
            format!("uid: {}", self.tag.uid),
            format!("elder: {}", self.tag.elder),
            format!("station: {}", self.tag.station),
            format!("key0_app_master: {}", self.app_key),
            format!("key1_sdm_meta_read: {}", self.meta_read_key),
            format!("key2_sdm_file_read: {}", self.file_read_key),
            format!("ndef_url: {template}"),
            "sdm: uid and read counter mirrored encrypted (PICCDataTag C7) at picc_data; SDMMAC at cmac, MAC input empty (SDMMACInputOffset = SDMMACOffset); no encrypted file data".into(),
            "access: SDM meta read key 1, SDM file read key 2, counter retrieval key 1; change key 0 last".into(),
        ]
        .join("\n")
    }
}

/// The keys to write tag `uid` of `station` with.
pub fn tag_writing(relay: &Relay, station: &StationId, uid: &str) -> Result<TagWriting, RegistryError> {
    let uid_bytes = sun::parse_uid(uid).ok_or_else(|| bad_uid(uid))?;
    let tag = station_tag(relay, station, &hex::encode(uid_bytes))?;
    let keys = station_keys(relay.store(), station)?;
    Ok(TagWriting {
        app_key: hex::encode(keys.diversify(&uid_bytes, KeyUse::Application)),
        meta_read_key: hex::encode(keys.meta_read()),
        file_read_key: hex::encode(keys.diversify(&uid_bytes, KeyUse::FileRead)),
        tag,
    })
}

fn bad_uid(raw: &str) -> RegistryError {
    RegistryError::Invalid(format!(
        "{raw:?} is not a tag UID: give the 14 hex digits printed on the tag or read by the writer (04A1B2C3D4E5F6)"
    ))
}

fn parse_uid(raw: &str) -> Result<String, RegistryError> {
    sun::parse_uid(raw).map(hex::encode).ok_or_else(|| bad_uid(raw))
}

fn station_elder(relay: &Relay, station: &StationId, elder: &str) -> Result<MemberId, RegistryError> {
    let id = MemberId::parse(elder)?;
    match relay.store().member(&id)? {
        Some(m) if m.station == *station && m.role == Role::Elder => Ok(id),
        Some(m) if m.station == *station => {
            Err(RegistryError::Invalid(format!("{id} is a {}, not an elder; tags are for elders", m.role.as_str())))
        }
        _ => Err(RegistryError::NotFound(format!("no elder {id} at station {station}"))),
    }
}

fn station_tag(relay: &Relay, station: &StationId, uid: &str) -> Result<TagRecord, RegistryError> {
    relay
        .store()
        .tag(uid)?
        .filter(|t| t.station == *station)
        .ok_or_else(|| RegistryError::NotFound(format!("no tag {uid} at station {station}")))
}

fn store_tag(
    relay: &Relay,
    station: &StationId,
    elder: &MemberId,
    uid: &str,
    by: &str,
    audit: Option<AuditRecord>,
) -> Result<TagRecord, RegistryError> {
    if let Some(existing) = relay.store().tag(uid)? {
        return Err(RegistryError::Invalid(format!(
            "tag {uid} was registered already (for {}, {}); a tag is registered once: use a new tag",
            existing.elder,
            if existing.revoked_at.is_some() { "revoked since" } else { "in use" }
        )));
    }
    let tag = TagRecord {
        uid: uid.to_owned(),
        station: station.clone(),
        elder: elder.clone(),
        registered_at: relay.now_ms(),
        registered_by: by.to_owned(),
        revoked_at: None,
        revoked_why: None,
    };
    relay.store().register_tag(&tag, audit.as_ref())?;
    tracing::info!(tag = %uid, elder = %elder, "tag registered");
    Ok(tag)
}

#[cfg(test)]
mod tests {
    use timebank_engine::model::Tap;

    use super::*;
    use crate::presence::sun::SoftwareTag;
    use crate::registry::{NewMember, create_member, create_station, test_relay};

    #[test]
    fn a_tag_is_registered_replaced_and_revoked_and_its_export_writes_a_tag_that_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let relay = test_relay(dir.path());
        let station = create_station(&relay, "Caoyang").unwrap().id;
        let member = |role: &str| {
            let new = NewMember { station: station.as_str(), role, name: "Wang", birth_year: 1940, household: None, hardship: false };
            create_member(&relay, &new).unwrap().id
        };
        let (elder, volunteer) = (member("elder"), member("volunteer"));
        let refused = register_tag(&relay, &station, volunteer.as_str(), "04A1B2C3D4E5F6", "admin", None).unwrap_err();
        assert!(refused.to_string().contains("not an elder"), "{refused}");
        let refused = register_tag(&relay, &station, elder.as_str(), "04A1B2", "admin", None).unwrap_err();
        assert!(refused.to_string().contains("not a tag UID"), "{refused}");

        let tag = register_tag(&relay, &station, elder.as_str(), "04:A1:B2:C3:D4:E5:F6", "admin", None).unwrap();
        assert_eq!(tag.uid, "04a1b2c3d4e5f6");
        let twice = register_tag(&relay, &station, elder.as_str(), "04A1B2C3D4E5F7", "admin", None).unwrap_err();
        assert!(twice.to_string().contains("replace it"), "{twice}");

        // The exported keys are the ones the relay verifies with.
        let writing = tag_writing(&relay, &station, "04a1b2c3d4e5f6").unwrap();
        assert!(writing.text().contains("key2_sdm_file_read: "), "{}", writing.text());
        let keys = station_keys(relay.store(), &station).unwrap();
        let uid = sun::parse_uid(&tag.uid).unwrap();
        assert_eq!(writing.file_read_key, hex::encode(keys.diversify(&uid, KeyUse::FileRead)));
        let url = SoftwareTag::new(&keys, uid, 0).tap();
        assert_eq!(keys.verify(&Tap::parse(&url).unwrap()).unwrap().counter, 1);

        let new = replace_tag(&relay, &station, elder.as_str(), "04A1B2C3D4E5F7", "admin", None).unwrap();
        let old = relay.store().tag(&tag.uid).unwrap().unwrap();
        assert_eq!(old.revoked_why.as_deref(), Some("replaced by 04a1b2c3d4e5f7"));
        assert_eq!(revoke_tag(&relay, &station, &new.uid, "lost", None).unwrap().0, Revocation::Revoked);
        let reused = register_tag(&relay, &station, elder.as_str(), &tag.uid, "admin", None).unwrap_err();
        assert!(reused.to_string().contains("registered already"), "{reused}");
        assert!(matches!(revoke_tag(&relay, &station, &new.uid, "lost", None).unwrap().0, Revocation::AlreadyRevoked { .. }));
        let other = create_station(&relay, "Other").unwrap().id;
        assert!(matches!(revoke_tag(&relay, &other, &new.uid, "", None), Err(RegistryError::NotFound(_))));
    }
}
