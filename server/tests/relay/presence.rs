//! Proof of presence through the relay (ADR 29, 30): visits checked in and out with taps of
//! the elder's tag (a software tag with the station's keys) or co-signed by the elder's own
//! phone are verified by the relay; under the station's rule a verified visit posts without
//! a coordinator, and a replayed tap, another elder's tag, an altered link, a revoked tag
//! and a co-signer outside the household each land in the queue with the reason.

use chrono::Duration;
use timebank_engine::model::{MemberId, VerifiedVisits, VisitId};
use timebank_server::ledger::evidence::EvidenceState;
use timebank_server::ledger::rebuild::{rebuild, rebuild_check};
use timebank_server::presence::keys::station_keys;
use timebank_server::presence::sun::{SoftwareTag, parse_uid};
use timebank_server::registry;
use timebank_server::store::MemberRecord;

use crate::support::{Phone, TestRelay};

struct Scene {
    relay: TestRelay,
    volunteer: Phone,
    elder: MemberRecord,
    tag: SoftwareTag,
}

fn tag_for(relay: &TestRelay, elder: &MemberRecord, uid: &str) -> SoftwareTag {
    registry::register_tag(&relay.relay, &relay.station.id, elder.id.as_str(), uid, "admin", None).unwrap();
    let keys = station_keys(relay.relay.store(), &relay.station.id).unwrap();
    SoftwareTag::new(&keys, parse_uid(uid).unwrap(), 0)
}

/// A station whose rule is `rule` (set on the coordinator's phone), an elder with a tag, a
/// volunteer's phone on the relay's clock.
fn scene(rule: VerifiedVisits) -> Scene {
    let relay = TestRelay::with_phones_on_its_clock();
    let coordinator = relay.member("coordinator", "Zhang Min");
    let mut desk = relay.phone(&coordinator);
    relay.sync_phone(&mut desk);
    desk.engine.set_verified_visits(rule).unwrap();
    relay.sync_phone(&mut desk);
    let elder = relay.member("elder", "Wang Fang");
    let tag = tag_for(&relay, &elder, "04A1B2C3D4E5F6");
    let volunteer = relay.member("volunteer", "Li Wei");
    let mut phone = relay.phone(&volunteer);
    relay.sync_phone(&mut phone);
    Scene { relay, volunteer: phone, elder, tag }
}

/// An hour's visit with the given links read at check-in and check-out, synced.
fn visit(scene: &mut Scene, elder: &MemberId, tap_in: &str, tap_out: &str) -> VisitId {
    let id = scene.volunteer.engine.start_visit_tapped(elder, "meals", None, None, tap_in).unwrap();
    scene.relay.clock.advance(Duration::minutes(60));
    scene.volunteer.engine.end_visit_tapped(&id, None, None, tap_out).unwrap();
    scene.relay.clock.advance(Duration::minutes(30));
    sync(scene);
    id
}

/// Syncs the volunteer's phone twice: the visit up, then the ledger's outcome down.
fn sync(scene: &mut Scene) {
    scene.relay.sync_phone(&mut scene.volunteer);
    scene.relay.sync_phone(&mut scene.volunteer);
}

fn state_of(scene: &Scene, visit: &VisitId) -> String {
    scene.volunteer.engine.visit_view(visit).unwrap().state_label
}

#[test]
fn a_visit_tapped_at_both_ends_posts_without_a_coordinator_under_the_station_rule() {
    let mut scene = scene(VerifiedVisits::Auto);
    let elder = scene.elder.id.clone();
    let (tap_in, tap_out) = (scene.tag.tap(), scene.tag.tap());
    let id = visit(&mut scene, &elder, &tap_in, &tap_out);
    let label = state_of(&scene, &id);
    assert!(label.starts_with("approved"), "{label}");
    assert_eq!(scene.volunteer.engine.balance().confirmed_minutes, 60);
    let postings = scene.relay.store().postings().unwrap();
    assert_eq!((postings[0].kind.as_str(), postings[0].by.as_deref()), ("earn", None), "no coordinator approved it");
    assert_eq!(rebuild(scene.relay.store()).unwrap().evidence(id.as_str()), Some(&EvidenceState::Verified));

    // One end only is told apart, and waits for a coordinator.
    let one_end = scene.volunteer.engine.start_visit_tapped(&elder, "meals", None, None, &scene.tag.tap()).unwrap();
    scene.relay.clock.advance(Duration::minutes(45));
    scene.volunteer.engine.end_visit(&one_end, None, None).unwrap();
    sync(&mut scene);
    assert_eq!(state_of(&scene, &one_end), "sent");
    assert_eq!(rebuild(scene.relay.store()).unwrap().evidence(one_end.as_str()), Some(&EvidenceState::OneEnd));
    assert_eq!(rebuild_check(scene.relay.store()).unwrap(), Vec::<String>::new());
}

#[test]
fn under_the_queue_rule_a_verified_visit_waits_for_a_coordinator() {
    let mut scene = scene(VerifiedVisits::Queue);
    let elder = scene.elder.id.clone();
    let (tap_in, tap_out) = (scene.tag.tap(), scene.tag.tap());
    let id = visit(&mut scene, &elder, &tap_in, &tap_out);
    assert_eq!(state_of(&scene, &id), "sent");
    assert_eq!(rebuild(scene.relay.store()).unwrap().evidence(id.as_str()), Some(&EvidenceState::Verified));
    assert!(scene.relay.store().postings().unwrap().is_empty());
}

#[test]
fn replayed_foreign_altered_and_revoked_taps_land_in_the_queue_with_the_reason() {
    let mut scene = scene(VerifiedVisits::Auto);
    let elder = scene.elder.id.clone();
    let (first_in, first_out) = (scene.tag.tap(), scene.tag.tap());
    visit(&mut scene, &elder, &first_in, &first_out);

    // The same link copied and used again.
    let next = scene.tag.tap();
    let replayed = visit(&mut scene, &elder, &first_out, &next);
    assert!(state_of(&scene, &replayed).contains("repeats an earlier tap"), "{}", state_of(&scene, &replayed));

    // Another elder's tag tapped for this elder's visit.
    let neighbour = scene.relay.member("elder", "Zhao Lan");
    let mut other_tag = tag_for(&scene.relay, &neighbour, "04A1B2C3D4E5F7");
    let (a, b) = (other_tag.tap(), other_tag.tap());
    let foreign = visit(&mut scene, &elder, &a, &b);
    assert!(state_of(&scene, &foreign).contains("another elder's"), "{}", state_of(&scene, &foreign));

    // A link altered by hand (one digit of its code).
    let (good, altered) = (scene.tag.tap(), scene.tag.tap());
    let last = altered.chars().last().unwrap();
    let altered = format!("{}{}", &altered[..altered.len() - 1], if last == '0' { '1' } else { '0' });
    let tampered = visit(&mut scene, &elder, &good, &altered);
    assert!(state_of(&scene, &tampered).contains("link was altered"), "{}", state_of(&scene, &tampered));

    // A revoked tag.
    registry::revoke_tag(&scene.relay.relay, &scene.relay.station.id, "04A1B2C3D4E5F6", "lost", None).unwrap();
    let (a, b) = (scene.tag.tap(), scene.tag.tap());
    let revoked = visit(&mut scene, &elder, &a, &b);
    assert!(state_of(&scene, &revoked).contains("was revoked"), "{}", state_of(&scene, &revoked));

    for id in [&replayed, &foreign, &tampered, &revoked] {
        assert!(state_of(&scene, id).starts_with("under review"), "{}", state_of(&scene, id));
    }
    assert_eq!(scene.relay.store().postings().unwrap().len(), 1, "only the genuine visit earned");
    assert_eq!(rebuild_check(scene.relay.store()).unwrap(), Vec::<String>::new());
}

#[test]
fn a_visit_cosigned_by_the_elders_own_phone_is_verified_and_a_stranger_cannot_cosign() {
    let mut scene = scene(VerifiedVisits::Auto);
    let elder = scene.elder.clone();
    let mut elder_phone = scene.relay.phone(&elder);
    scene.relay.sync_phone(&mut elder_phone);

    let id = scene.volunteer.engine.start_visit(&elder.id, "meals", None).unwrap();
    scene.relay.clock.advance(Duration::minutes(60));
    scene.volunteer.engine.end_visit(&id, None, None).unwrap();
    scene.relay.sync_phone(&mut scene.volunteer);
    assert_eq!(state_of(&scene, &id), "sent", "synced before it was co-signed");
    let summary = scene.volunteer.engine.visit_summary(&id).unwrap().text();
    let signature = elder_phone.engine.cosign_visit(&summary).unwrap().text();
    scene.volunteer.engine.attach_cosignature(&id, &signature).unwrap();
    sync(&mut scene);
    assert!(state_of(&scene, &id).starts_with("approved"), "{}", state_of(&scene, &id));

    // Another elder's phone (not of this household) signs the next visit.
    let stranger = scene.relay.member("elder", "Zhao Lan");
    let stranger_phone = scene.relay.phone(&stranger);
    let next = scene.volunteer.engine.start_visit(&elder.id, "meals", None).unwrap();
    scene.relay.clock.advance(Duration::minutes(60));
    scene.volunteer.engine.end_visit(&next, None, None).unwrap();
    let summary = scene.volunteer.engine.visit_summary(&next).unwrap().text();
    let signature = stranger_phone.engine.cosign_visit(&summary).unwrap().text();
    scene.volunteer.engine.attach_cosignature(&next, &signature).unwrap();
    sync(&mut scene);
    assert!(state_of(&scene, &next).contains("neither the elder nor of the elder's household"), "{}", state_of(&scene, &next));
    assert_eq!(rebuild_check(scene.relay.store()).unwrap(), Vec::<String>::new());
}
