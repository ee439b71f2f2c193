//! `admin tag …`: registering, replacing, revoking and listing elders' NFC tags, their
//! keys for the writing step, and a software tag's link (for tests and demonstrations).

use serde_json::{Value, json};
use timebank_engine::model::StationId;

use super::command::TagCommand;
use super::report::time_text;
use super::{AdminError, Report};
use crate::presence::keys::station_keys;
use crate::presence::sun::{self, MAX_COUNTER, SoftwareTag};
use crate::registry;
use crate::relay::Relay;
use crate::store::{Revocation, TagRecord};

fn tag_json(tag: &TagRecord) -> Value {
    json!({
        "uid": tag.uid,
        "station": tag.station.as_str(),
        "elder": tag.elder.as_str(),
        "registered_at": time_text(tag.registered_at),
        "registered_by": tag.registered_by,
        "revoked_at": tag.revoked_at.map(time_text),
        "revoked_why": tag.revoked_why,
    })
}

fn tag_line(tag: &TagRecord) -> String {
    let state = match (&tag.revoked_at, &tag.revoked_why) {
        (Some(at), why) => format!("revoked {} ({})", time_text(*at), why.as_deref().unwrap_or("")),
        (None, _) => "in use".to_owned(),
    };
    format!("{}  elder {}  registered {}  {state}", tag.uid, tag.elder, time_text(tag.registered_at))
}

/// Runs one `admin tag` command.
pub fn run(relay: &Relay, command: &TagCommand) -> Result<Report, AdminError> {
    let station_of = |raw: &str| StationId::parse(raw).map_err(AdminError::from);
    match command {
        TagCommand::Register { station, elder, uid } | TagCommand::Replace { station, elder, uid } => {
            let station = station_of(station)?;
            let tag = if matches!(command, TagCommand::Register { .. }) {
                registry::register_tag(relay, &station, elder, uid, "admin", None)?
            } else {
                registry::replace_tag(relay, &station, elder, uid, "admin", None)?
            };
            Ok(Report {
                text: format!("tag {} is elder {}'s; write it with `admin tag export`", tag.uid, tag.elder),
                json: tag_json(&tag),
            })
        }
        TagCommand::Revoke { station, uid, why } => {
            let (done, at) = registry::revoke_tag(relay, &station_of(station)?, uid, why, None)?;
            let text = match done {
                Revocation::AlreadyRevoked { at } => format!("tag {uid} was revoked already, at {}", time_text(at)),
                Revocation::Revoked | Revocation::Unknown => format!("tag {uid} revoked at {}", time_text(at)),
            };
            Ok(Report { json: json!({ "uid": uid, "revoked": true }), text })
        }
        TagCommand::List { station } => {
            let station = station_of(station)?;
            let tags = relay.store().station_tags(&station)?;
            let needed = registry::tags_needed(relay, &station)?;
            let mut lines: Vec<String> = tags.iter().map(tag_line).collect();
            if tags.is_empty() {
                lines.push("the station has no tags".to_owned());
            }
            lines.extend(needed.iter().map(|n| {
                format!(
                    "elder {} ({}) needs a tag here: moved from {} on {}, where tag {} was revoked",
                    n.elder.id,
                    n.elder.display_name,
                    n.left.station,
                    n.left.revoked_at.map(time_text).unwrap_or_default(),
                    n.left.uid
                )
            }));
            let needed: Vec<Value> = needed
                .iter()
                .map(|n| json!({ "elder": n.elder.id.as_str(), "name": n.elder.display_name, "left": tag_json(&n.left) }))
                .collect();
            Ok(Report {
                json: json!({ "tags": tags.iter().map(tag_json).collect::<Vec<_>>(), "needed": needed }),
                text: lines.join("\n"),
            })
        }
        TagCommand::Export { station, uid } => {
            let writing = registry::tag_writing(relay, &station_of(station)?, uid)?;
            Ok(Report {
                json: json!({
                    "tag": tag_json(&writing.tag),
                    "key0_app_master": writing.app_key,
                    "key1_sdm_meta_read": writing.meta_read_key,
                    "key2_sdm_file_read": writing.file_read_key,
                }),
                text: writing.text(),
            })
        }
        TagCommand::Tap { station, uid, counter } => {
            let station = station_of(station)?;
            let uid = sun::parse_uid(uid).ok_or_else(|| AdminError::Refused(format!("{uid:?} is not a tag UID (14 hex digits)")))?;
            if *counter == 0 || *counter > MAX_COUNTER {
                return Err(AdminError::Refused(format!("a tag's read counter is 1 to {MAX_COUNTER}, not {counter}")));
            }
            let mut tag = SoftwareTag::new(&station_keys(relay.store(), &station)?, uid, counter - 1);
            let url = tag.tap();
            Ok(Report { json: json!({ "url": url }), text: url })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use timebank_engine::model::Tap;

    use super::*;
    use crate::admin::{AdminCommand, run as admin};
    use crate::registry::NewMember;
    use crate::store::SqliteStore;

    #[test]
    fn the_command_line_registers_lists_exports_taps_and_revokes_a_tag() {
        let dir = tempfile::tempdir().unwrap();
        let relay = Relay::new(Arc::new(SqliteStore::open(dir.path()).unwrap()), Arc::new(timebank_engine::SystemClock)).unwrap();
        let station = registry::create_station(&relay, "Caoyang").unwrap().id;
        let new =
            NewMember { station: station.as_str(), role: "elder", name: "Wang", birth_year: 1940, household: None, hardship: false };
        let elder = registry::create_member(&relay, &new).unwrap().id;
        let tag = |command: TagCommand| admin(&relay, &AdminCommand::Tag(command));
        let (s, uid) = (station.to_string(), "04A1B2C3D4E5F6".to_owned());
        let registered = tag(TagCommand::Register { station: s.clone(), elder: elder.to_string(), uid: uid.clone() }).unwrap();
        assert!(registered.text.contains("tag 04a1b2c3d4e5f6 is elder"), "{}", registered.text);
        let listed = tag(TagCommand::List { station: s.clone() }).unwrap();
        assert!(listed.text.contains("04a1b2c3d4e5f6") && listed.text.contains("in use"), "{}", listed.text);
        let export = tag(TagCommand::Export { station: s.clone(), uid: uid.clone() }).unwrap();
        assert!(export.text.contains("key1_sdm_meta_read: "), "{}", export.text);
        let url = tag(TagCommand::Tap { station: s.clone(), uid: uid.clone(), counter: 5 }).unwrap().text;
        let reading = station_keys(relay.store(), &station).unwrap().verify(&Tap::parse(&url).unwrap()).unwrap();
        assert_eq!(reading.counter, 5);
        let refused = tag(TagCommand::Tap { station: s.clone(), uid: uid.clone(), counter: 0 }).unwrap_err();
        assert!(refused.to_string().contains("read counter is 1 to"), "{refused}");
        let revoked = tag(TagCommand::Revoke { station: s.clone(), uid: uid.clone(), why: "lost".into() }).unwrap();
        assert!(revoked.text.contains("revoked at"), "{}", revoked.text);
        let listed = tag(TagCommand::List { station: s }).unwrap();
        assert!(listed.text.contains("revoked") && listed.text.contains("lost"), "{}", listed.text);
    }
}
