//! Elders' tags and evidence of presence at the console (ADR 29, 30): a coordinator
//! registers, replaces and revokes a tag and reads its keys (each audited); another
//! station's coordinator and the district cannot touch it; the rule for verified visits is
//! written into the station's document and applied by the ledger; the review queue shows
//! each visit's evidence and filters by it; under the bulk rule a verified visit is among
//! the clean ones approved together.

use axum::http::StatusCode;
use chrono::Duration;
use timebank_engine::model::{MemberId, VerifiedVisits, VisitId};
use timebank_server::presence::keys::station_keys;
use timebank_server::presence::sun::{SoftwareTag, parse_uid};

use crate::phones::{Pair, Phone};
use crate::support::Console;

const UID: &str = "04A1B2C3D4E5F6";

/// A visit of ten minutes that began `minutes_ago` minutes ago, tapped at both ends with
/// `tag`: a live visit entered as it happens (within the hour a back-dated time is allowed).
pub(crate) fn tapped_visit(phone: &mut Phone, elder: &MemberId, tag: &mut SoftwareTag, minutes_ago: i64) -> VisitId {
    let start = phone.clock.now() - Duration::minutes(minutes_ago);
    let id = phone.engine.start_visit_tapped(elder, "meals", None, Some(start), &tag.tap()).unwrap();
    phone.engine.end_visit_tapped(&id, Some(start + Duration::minutes(10)), None, &tag.tap()).unwrap();
    id
}

#[test]
fn a_coordinator_registers_replaces_revokes_and_exports_a_tag_and_nobody_else_can() {
    let console = Console::new();
    let elder = console.member("elder", "王芳");
    let mut li = console.signed_in("li");
    let page = li.get("/console/tags");
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.testid("no-tags").is_some());

    let done = li.post("/console/tags/register", &[("elder", elder.id.as_str()), ("uid", "04:a1:b2:c3:d4:e5:f6")]);
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    let page = li.get("/console/tags");
    assert!(page.text.contains("data-tag=\"04a1b2c3d4e5f6\"") && page.text.contains("王芳"), "{}", page.text);
    let bad = li.post("/console/tags/register", &[("elder", elder.id.as_str()), ("uid", "04a1")]);
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);

    // The keys, on their own page, are the ones the relay verifies with.
    let export = li.get("/console/tags/04a1b2c3d4e5f6/export");
    let keys = export.testid("tag-keys").unwrap();
    let station = station_keys(console.relay.store(), &console.station.id).unwrap();
    let meta = hex::encode(station.meta_read());
    assert!(keys.contains(&format!("key1_sdm_meta_read: {meta}")), "{keys}");

    // Another station's coordinator and the district see and change nothing.
    let mut zhao = console.signed_in("zhao");
    assert_eq!(zhao.get("/console/tags/04a1b2c3d4e5f6/export").status, StatusCode::NOT_FOUND);
    assert!(!zhao.get("/console/tags").text.contains("04a1b2c3d4e5f6"));
    assert_eq!(zhao.post("/console/tags/04a1b2c3d4e5f6/revoke", &[("reason", "x")]).status, StatusCode::NOT_FOUND);
    let mut qu = console.signed_in("qu");
    qu.get("/console/review");
    assert_eq!(qu.post("/console/tags/04a1b2c3d4e5f6/revoke", &[("reason", "x")]).status, StatusCode::FORBIDDEN);
    assert!(console.store().tag("04a1b2c3d4e5f6").unwrap().unwrap().revoked_at.is_none());

    let replaced = li.post("/console/tags/04a1b2c3d4e5f6/replace", &[("uid", "04A1B2C3D4E5F7")]);
    assert_eq!(replaced.status, StatusCode::SEE_OTHER, "{}", replaced.text);
    let old = console.store().tag("04a1b2c3d4e5f6").unwrap().unwrap();
    assert_eq!(old.revoked_why.as_deref(), Some("replaced by 04a1b2c3d4e5f7"));
    let revoked = li.post("/console/tags/04a1b2c3d4e5f7/revoke", &[("reason", "丢失")]);
    assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{}", revoked.text);
    assert_eq!(console.store().tag("04a1b2c3d4e5f7").unwrap().unwrap().revoked_why.as_deref(), Some("丢失"));

    let audit: Vec<String> =
        console.store().audit_entries(Some(&console.station.id), 20).unwrap().into_iter().map(|e| e.action).collect();
    for action in ["tag.register", "tag.export", "tag.replace", "tag.revoke"] {
        assert!(audit.iter().any(|a| a == action), "{action} is audited: {audit:?}");
    }
}

#[test]
fn the_queue_shows_and_filters_evidence_and_bulk_approves_verified_visits_under_the_rule() {
    let console = Console::new();
    let Pair { elder, mut phone, .. } = Pair::new(&console);
    let mut li = console.signed_in("li");
    li.get("/console/tags");
    li.post("/console/tags/register", &[("elder", elder.id.as_str()), ("uid", UID)]);
    let set = li.post("/console/tags/rule", &[("rule", "bulk")]);
    assert_eq!(set.status, StatusCode::SEE_OTHER, "{}", set.text);
    assert_eq!(li.get("/console/tags").testid("rule-now").as_deref(), Some("可以批量批准"));
    let bad = li.post("/console/tags/rule", &[("rule", "sometimes")]);
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let keys = station_keys(console.relay.store(), &console.station.id).unwrap();
    let mut tag = SoftwareTag::new(&keys, parse_uid(UID).unwrap(), 0);
    let verified = tapped_visit(&mut phone, &elder.id, &mut tag, 50);
    let plain = phone.log_visit(&elder.id, 5, 60, "no tag");
    let mut copy = tag.clone();
    copy.set_counter(0);
    let replayed = tapped_visit(&mut phone, &elder.id, &mut copy, 30);
    phone.sync();
    assert_eq!(console.relay.store().ledger_events(0).unwrap().iter().filter(|e| e.key.starts_with("rules:")).count(), 1);

    let queue = li.get("/console/review");
    for (visit, kind) in [(&verified, "verified"), (&plain, "none"), (&replayed, "failed")] {
        let row = &queue.text[queue.text.find(&format!("data-visit=\"{visit}\"")).unwrap()..];
        let row = &row[..row.find("</tr>").unwrap()];
        assert!(row.contains(&format!("data-presence=\"{kind}\"")), "{visit} shows {kind}: {row}");
    }
    assert!(queue.text.contains("重复使用了以前的卡片链接"), "the reason is in Chinese");
    let failed = li.get("/console/review?state=failed");
    assert!(failed.text.contains(replayed.as_str()) && !failed.text.contains(verified.as_str()));
    let shown = li.get("/console/review?state=verified");
    assert!(shown.text.contains(verified.as_str()) && !shown.text.contains(plain.as_str()));

    // Under the bulk rule the verified visit is clean without the elder's confirmation.
    let approved = li.post("/console/review/approve-clean", &[("visit", verified.as_str())]);
    assert_eq!(approved.status, StatusCode::SEE_OTHER, "{}", approved.text);
    let refused = li.post("/console/review/approve-clean", &[("visit", plain.as_str())]);
    assert_eq!(refused.status, StatusCode::CONFLICT, "an unconfirmed visit without evidence is not clean");
    phone.sync();
    phone.sync();
    assert_eq!(phone.engine.visit_view(&verified).unwrap().state_label, "approved");

    // The rule in the station's document, as a coordinator's phone reads it.
    let station = console.relay.store().document(&format!("station/{}", console.station.id)).unwrap().unwrap();
    let doc = automerge::Automerge::load(&station.bytes).unwrap();
    assert_eq!(timebank_engine::documents::station::verified_visits(&doc), VerifiedVisits::Bulk);
}
