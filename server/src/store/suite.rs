//! The test suite every [`RelayStore`] backend must pass. A backend runs it with
//! `crate::relay_store_suite!(|dir: &Path| open_my_store(dir));` inside its test module;
//! each test gets a fresh store (PostgreSQL ignores `dir` and takes a fresh database).

use automerge::ChangeHash;
use timebank_engine::model::{DistrictId, HouseholdId, MemberId, Role, StationId};

use crate::store::{
    AckUpdate, AckedHeads, AuditRecord, ConsoleRole, ConsoleSessionRecord, ConsoleUserRecord, DEFAULT_DISTRICT, DeviceUsage,
    DistrictRecord, EnrollRefusal, EnrollmentCode, LedgerProgress, MemberContact, MemberMove, MemberRecord, NewDevice, NewDocument,
    NewLedgerEvent, PostingRecord, RelayStore, Revocation, SecurityEvent, StationRecord, StoreError, TagRecord, UsageUpdate,
    WriteBatch,
};

/// Runs every test of the suite against the store that `$open` (a closure from the test
/// directory to a store) makes. `optional $open` takes a closure that returns `None` when
/// its backend's server is not there (the tests then pass without running, after the
/// closure's notice), or `Some` of something that derefs to the store (a store with the
/// database it is dropped before).
#[macro_export]
macro_rules! relay_store_suite {
    (optional $open:expr) => {
        mod relay_store_suite {
            use super::*;

            fn with_store(test: fn(&dyn $crate::store::RelayStore)) {
                let dir = tempfile::tempdir().unwrap();
                let open = $open;
                if let Some(store) = open(dir.path()) {
                    test(&*store);
                }
            }

            #[test]
            fn elders_tags_and_devices_signing_keys_are_kept() {
                with_store($crate::store::suite::elders_tags_and_devices_signing_keys_are_kept);
            }
            #[test]
            fn every_relay_actor_is_remembered() {
                with_store($crate::store::suite::every_relay_actor_is_remembered);
            }
            #[test]
            fn a_relay_secret_is_set_once_and_kept() {
                with_store($crate::store::suite::a_relay_secret_is_set_once_and_kept);
            }
            #[test]
            fn a_devices_daily_usage_adds_up_and_its_refusal_is_marked_once() {
                with_store($crate::store::suite::a_devices_daily_usage_adds_up_and_its_refusal_is_marked_once);
            }
            #[test]
            fn a_group_of_syncs_stands_or_fails_item_by_item() {
                with_store($crate::store::suite::a_group_of_syncs_stands_or_fails_item_by_item);
            }
            #[test]
            fn a_group_of_one_that_fails_stores_nothing_and_says_why() {
                with_store($crate::store::suite::a_group_of_one_that_fails_stores_nothing_and_says_why);
            }
            #[test]
            fn the_ledger_cursor_says_how_far_the_ledger_folded() {
                with_store($crate::store::suite::the_ledger_cursor_says_how_far_the_ledger_folded);
            }
            #[test]
            fn a_members_contact_is_erased_with_its_audit_entry() {
                with_store($crate::store::suite::a_members_contact_is_erased_with_its_audit_entry);
            }
            #[test]
            fn stations_and_members_round_trip() {
                with_store($crate::store::suite::stations_and_members_round_trip);
            }
            #[test]
            fn districts_hold_stations_that_move_between_them() {
                with_store($crate::store::suite::districts_hold_stations_that_move_between_them);
            }
            #[test]
            fn a_member_moves_with_its_batch_or_not_at_all() {
                with_store($crate::store::suite::a_member_moves_with_its_batch_or_not_at_all);
            }
            #[test]
            fn documents_keep_snapshot_chunks_and_generation() {
                with_store($crate::store::suite::documents_keep_snapshot_chunks_and_generation);
            }
            #[test]
            fn a_failed_batch_stores_nothing() {
                with_store($crate::store::suite::a_failed_batch_stores_nothing);
            }
            #[test]
            fn compaction_only_replaces_an_unchanged_document() {
                with_store($crate::store::suite::compaction_only_replaces_an_unchanged_document);
            }
            #[test]
            fn enrollment_codes_are_single_use_and_expire() {
                with_store($crate::store::suite::enrollment_codes_are_single_use_and_expire);
            }
            #[test]
            fn devices_are_found_by_token_and_actor_and_revoked() {
                with_store($crate::store::suite::devices_are_found_by_token_and_actor_and_revoked);
            }
            #[test]
            fn acked_heads_keep_current_and_previous() {
                with_store($crate::store::suite::acked_heads_keep_current_and_previous);
            }
            #[test]
            fn the_arrival_log_and_postings_are_append_only_and_idempotent() {
                with_store($crate::store::suite::the_arrival_log_and_postings_are_append_only_and_idempotent);
            }
            #[test]
            fn the_arrival_log_reads_the_same_whole_or_a_part_at_a_time() {
                with_store($crate::store::suite::the_arrival_log_reads_the_same_whole_or_a_part_at_a_time);
            }
            #[test]
            fn a_sync_and_its_arrivals_are_stored_together_or_not_at_all() {
                with_store($crate::store::suite::a_sync_and_its_arrivals_are_stored_together_or_not_at_all);
            }
            #[test]
            fn a_decision_and_its_audit_entry_are_stored_together_or_not_at_all() {
                with_store($crate::store::suite::a_decision_and_its_audit_entry_are_stored_together_or_not_at_all);
            }
            #[test]
            fn console_accounts_sessions_failures_and_audit() {
                with_store($crate::store::suite::console_accounts_sessions_failures_and_audit);
            }
            #[test]
            fn a_sign_in_and_a_sign_out_are_stored_with_their_audit_entry_or_not_at_all() {
                with_store($crate::store::suite::a_sign_in_and_a_sign_out_are_stored_with_their_audit_entry_or_not_at_all);
            }
            #[test]
            fn security_events_are_kept_in_order() {
                with_store($crate::store::suite::security_events_are_kept_in_order);
            }
        }
    };
    ($open:expr) => {
        $crate::relay_store_suite!(optional |dir: &std::path::Path| Some(Box::new(($open)(dir))));
    };
}

fn station_id() -> StationId {
    StationId::parse("s-test").unwrap()
}

fn default_district() -> DistrictId {
    DistrictId::parse(DEFAULT_DISTRICT).unwrap()
}

fn member_id(raw: &str) -> MemberId {
    MemberId::parse(raw).unwrap()
}

/// The test station (with its document) and two members, `m-vol` and `m-coord`.
pub(crate) fn setup(store: &dyn RelayStore) {
    store
        .create_station(
            &StationRecord { id: station_id(), name: "Caoyang".into(), district: default_district(), created_at: 1 },
            &[NewDocument { id: "station/s-test".into(), snapshot: vec![1] }],
        )
        .unwrap();
    for (id, role) in [("m-vol", Role::Volunteer), ("m-coord", Role::Coordinator)] {
        store
            .create_member(
                &MemberRecord {
                    id: member_id(id),
                    station: station_id(),
                    role,
                    display_name: id.to_uppercase(),
                    birth_year: Some(1960),
                    household: None,
                    hardship: false,
                    created_at: 2,
                },
                &MemberContact::default(),
                &[NewDocument { id: format!("member/{id}"), snapshot: vec![10] }],
                None,
            )
            .unwrap();
    }
}

fn enroll(store: &dyn RelayStore, code: u8, device: &str, actor: &str, token: u8) -> Result<MemberRecord, EnrollRefusal> {
    store
        .enroll_device(
            &[code; 32],
            &NewDevice { id: device.into(), actor: actor.into(), token_hash: [token; 32], signing_key: None },
            100,
        )
        .unwrap()
}

fn issue(store: &dyn RelayStore, code: u8, member: &str, expires_at: i64) {
    store
        .add_enrollment_code(&EnrollmentCode { code_hash: [code; 32], member: member_id(member), created_at: 0, expires_at }, None)
        .unwrap();
}

/// Tags are registered once per UID, read by UID and by station, and revoked once with
/// the reason; a device's signing key is kept from its enrollment (ADR 29).
pub fn elders_tags_and_devices_signing_keys_are_kept(store: &dyn RelayStore) {
    setup(store);
    let tag = TagRecord {
        uid: "04a1b2c3d4e5f6".into(),
        station: station_id(),
        elder: member_id("m-vol"),
        registered_at: 5,
        registered_by: "li".into(),
        revoked_at: None,
        revoked_why: None,
    };
    store.register_tag(&tag, Some(&audit("tag.register", &tag.uid))).unwrap();
    assert!(matches!(store.register_tag(&tag, None), Err(StoreError::Duplicate { .. })));
    assert_eq!(store.tag("04a1b2c3d4e5f6").unwrap(), Some(tag.clone()));
    assert_eq!(store.tag("04ffffffffffff").unwrap(), None);
    assert_eq!(store.station_tags(&station_id()).unwrap(), std::slice::from_ref(&tag));
    assert_eq!(store.revoke_tag(&tag.uid, 9, "lost", None).unwrap(), Revocation::Revoked);
    assert_eq!(store.revoke_tag(&tag.uid, 10, "again", None).unwrap(), Revocation::AlreadyRevoked { at: 9 });
    assert_eq!(store.revoke_tag("04ffffffffffff", 10, "", None).unwrap(), Revocation::Unknown);
    let revoked = store.tag(&tag.uid).unwrap().unwrap();
    assert_eq!((revoked.revoked_at, revoked.revoked_why.as_deref()), (Some(9), Some("lost")));
    assert_eq!(store.audit_entries(Some(&station_id()), 10).unwrap().len(), 1, "the registration's entry, in its transaction");

    issue(store, 1, "m-vol", 1_000);
    let device = NewDevice { id: "d-key".into(), actor: "aa11".into(), token_hash: [3; 32], signing_key: Some([9; 32]) };
    store.enroll_device(&[1; 32], &device, 100).unwrap().unwrap();
    assert_eq!(store.device_by_actor("aa11").unwrap().unwrap().signing_key, Some([9; 32]));
}

/// A console audit entry by `li` at the test station.
fn audit(action: &str, target: &str) -> AuditRecord {
    AuditRecord {
        at: 50,
        username: "li".into(),
        station: Some(station_id()),
        action: action.into(),
        target: target.into(),
        detail: String::new(),
    }
}

pub(crate) fn every_relay_actor_is_remembered(store: &dyn RelayStore) {
    store.register_relay_actor("aa01", 1).unwrap();
    store.register_relay_actor("bb02", 2).unwrap();
    store.register_relay_actor("aa01", 3).unwrap();
    assert!(store.is_relay_actor("aa01").unwrap());
    assert!(store.is_relay_actor("bb02").unwrap());
    assert!(!store.is_relay_actor("cc03").unwrap());
}

pub(crate) fn a_relay_secret_is_set_once_and_kept(store: &dyn RelayStore) {
    let first = store.relay_secret("vouchers", &[7; 32]).unwrap();
    assert_eq!(first, [7; 32]);
    assert_eq!(store.relay_secret("vouchers", &[9; 32]).unwrap(), [7; 32], "the first value stays");
    assert_eq!(store.relay_secret("other", &[9; 32]).unwrap(), [9; 32]);
}

pub(crate) fn a_devices_daily_usage_adds_up_and_its_refusal_is_marked_once(store: &dyn RelayStore) {
    setup(store);
    issue(store, 1, "m-vol", 1_000);
    enroll(store, 1, "d-1", "aa", 1).unwrap();
    assert_eq!(store.device_usage("d-1", 20_000).unwrap(), DeviceUsage::default());
    let used = |changes, bytes| WriteBatch {
        usage: Some(UsageUpdate { device: "d-1".into(), day: 20_000, usage: DeviceUsage { changes, bytes } }),
        ..WriteBatch::default()
    };
    store.write_batch(&used(3, 900), 10).unwrap();
    store.write_batch(&used(2, 100), 11).unwrap();
    assert_eq!(store.device_usage("d-1", 20_000).unwrap(), DeviceUsage { changes: 5, bytes: 1_000 });
    assert_eq!(store.device_usage("d-1", 20_001).unwrap(), DeviceUsage::default(), "a new day starts from nothing");
    assert!(store.mark_over_quota("d-1", 20_000).unwrap());
    assert!(!store.mark_over_quota("d-1", 20_000).unwrap(), "once a day");
    assert!(store.mark_over_quota("d-1", 20_001).unwrap());
    assert_eq!(store.device_usage("d-1", 20_000).unwrap(), DeviceUsage { changes: 5, bytes: 1_000 });
}

pub(crate) fn districts_hold_stations_that_move_between_them(store: &dyn RelayStore) {
    setup(store);
    let putuo = DistrictRecord { id: DistrictId::parse("q-putuo").unwrap(), name: "普陀区".into(), created_at: 2 };
    store.create_district(&putuo).unwrap();
    let again = store.create_district(&DistrictRecord { name: "Other".into(), ..putuo.clone() });
    assert!(matches!(again, Err(StoreError::Duplicate { what: "district", .. })), "{again:?}");
    let ids: Vec<String> = store.districts().unwrap().into_iter().map(|d| d.id.to_string()).collect();
    assert_eq!(ids, [DEFAULT_DISTRICT, "q-putuo"]);
    assert!(store.districts().unwrap().contains(&putuo));

    let ganquan = StationRecord {
        id: StationId::parse("s-ganquan").unwrap(),
        name: "Ganquan".into(),
        district: putuo.id.clone(),
        created_at: 4,
    };
    store.create_station(&ganquan, &[]).unwrap();
    assert_eq!(store.station(&ganquan.id).unwrap(), Some(ganquan.clone()));
    let lost =
        StationRecord { id: StationId::parse("s-lost").unwrap(), district: DistrictId::parse("q-none").unwrap(), ..ganquan.clone() };
    assert!(matches!(store.create_station(&lost, &[]), Err(StoreError::Missing { what: "district", .. })));
    assert!(store.station(&lost.id).unwrap().is_none(), "nothing of a refused station stays");

    store.move_station(&station_id(), &putuo.id).unwrap();
    let placed: Vec<(String, String)> =
        store.stations().unwrap().into_iter().map(|s| (s.id.to_string(), s.district.to_string())).collect();
    assert_eq!(placed, [("s-ganquan".to_owned(), "q-putuo".to_owned()), ("s-test".to_owned(), "q-putuo".to_owned())]);
    assert_eq!(store.station_members(&station_id()).unwrap().len(), 2, "its members stay with it");
    let nowhere = store.move_station(&station_id(), &DistrictId::parse("q-none").unwrap());
    assert!(matches!(nowhere, Err(StoreError::Missing { what: "district", .. })), "{nowhere:?}");
    let ghost = store.move_station(&StationId::parse("s-none").unwrap(), &putuo.id);
    assert!(matches!(ghost, Err(StoreError::Missing { what: "station", .. })), "{ghost:?}");
    assert_eq!(store.station(&station_id()).unwrap().unwrap().district, putuo.id, "a refused move changes nothing");
}

/// An elder of the station, in hardship, of a household.
fn elder() -> MemberRecord {
    MemberRecord {
        id: member_id("m-elder"),
        station: station_id(),
        role: Role::Elder,
        display_name: "Wang Fang".into(),
        birth_year: Some(1941),
        household: Some(HouseholdId::parse("h-7").unwrap()),
        hardship: true,
        created_at: 5,
    }
}

pub(crate) fn stations_and_members_round_trip(store: &dyn RelayStore) {
    setup(store);
    assert_eq!(store.station(&station_id()).unwrap().unwrap().name, "Caoyang");
    assert!(store.station(&StationId::parse("s-none").unwrap()).unwrap().is_none());
    let again = store
        .create_station(&StationRecord { id: station_id(), name: "Other".into(), district: default_district(), created_at: 3 }, &[]);
    assert!(matches!(again, Err(StoreError::Duplicate { what: "station", .. })), "{again:?}");
    assert_eq!(store.station(&station_id()).unwrap().unwrap().district, default_district(), "a new store has its default district");

    let elder = elder();
    let contact = MemberContact {
        phone: Some("138 0000 1234".into()),
        id_last4: Some("123X".into()),
        address: Some("曹杨新村 12 号 301 室".into()),
    };
    let created = audit("member.create", "m-elder");
    store.create_member(&elder, &contact, &[], Some(&created)).unwrap();
    assert_eq!(store.member(&elder.id).unwrap().as_ref(), Some(&elder));
    assert_eq!(store.member_contact(&elder.id).unwrap(), contact);
    assert_eq!(store.member_contact(&member_id("m-vol")).unwrap(), MemberContact::default());
    assert_eq!(store.stations().unwrap().len(), 1);
    let listed: Vec<String> = store.station_members(&station_id()).unwrap().into_iter().map(|m| m.id.to_string()).collect();
    assert_eq!(listed, ["m-coord", "m-elder", "m-vol"]);

    let refused = audit("member.create", "refused");
    let duplicate = store.create_member(&elder, &MemberContact::default(), &[], Some(&refused));
    assert!(matches!(duplicate, Err(StoreError::Duplicate { what: "member", .. })), "{duplicate:?}");
    let homeless = MemberRecord { id: member_id("m-x"), station: StationId::parse("s-none").unwrap(), ..elder.clone() };
    let homeless = store.create_member(&homeless, &MemberContact::default(), &[], Some(&refused));
    assert!(matches!(homeless, Err(StoreError::Missing { what: "station", .. })), "{homeless:?}");
    assert!(store.member(&member_id("m-x")).unwrap().is_none());

    // A member whose document exists already is not created at all.
    let clash = MemberRecord { id: member_id("m-clash"), ..elder };
    let documents = [NewDocument { id: "member/m-vol".into(), snapshot: vec![9] }];
    let result = store.create_member(&clash, &MemberContact::default(), &documents, Some(&refused));
    assert!(matches!(result, Err(StoreError::Duplicate { what: "document", .. })), "{result:?}");
    assert!(store.member(&clash.id).unwrap().is_none());
    assert_eq!(store.document("member/m-vol").unwrap().unwrap().bytes, [10]);
    assert_eq!(store.audit_entries(None, 10).unwrap(), [created], "the created member's entry only");
}

pub(crate) fn a_members_contact_is_erased_with_its_audit_entry(store: &dyn RelayStore) {
    setup(store);
    let vol = member_id("m-vol");
    let contact =
        MemberContact {
            phone: Some("139 1111 2222".into()), id_last4: Some("0427".into()), address: Some("兰溪路 138 弄".into())
        };
    let elder = elder();
    store.create_member(&elder, &contact, &[], None).unwrap();
    let erased = audit("member.erase-contact", "m-elder");
    assert!(store.erase_member_contact(&elder.id, Some(&erased)).unwrap());
    assert_eq!(store.member_contact(&elder.id).unwrap(), MemberContact::default());
    assert_eq!(store.member(&elder.id).unwrap().as_ref(), Some(&elder), "the member stays registered");
    assert_eq!(store.audit_entries(None, 10).unwrap(), std::slice::from_ref(&erased));
    assert!(!store.erase_member_contact(&vol, None).unwrap(), "nothing to erase");
    let ghost = store.erase_member_contact(&member_id("m-ghost"), Some(&erased));
    assert!(matches!(ghost, Err(StoreError::Missing { what: "member", .. })), "{ghost:?}");
    assert_eq!(store.audit_entries(None, 10).unwrap().len(), 1, "no entry for a refused erasure");
}

pub(crate) fn documents_keep_snapshot_chunks_and_generation(store: &dyn RelayStore) {
    setup(store);
    assert_eq!(store.document_ids().unwrap(), ["member/m-coord", "member/m-vol", "station/s-test"]);
    let fresh = store.document("member/m-vol").unwrap().unwrap();
    assert_eq!((fresh.bytes.as_slice(), fresh.generation, fresh.chunk_count), ([10].as_slice(), 1, 0));
    assert!(store.document("member/m-none").unwrap().is_none());

    let batch =
        WriteBatch { chunks: vec![("member/m-vol".into(), vec![11, 12]), ("member/m-vol".into(), vec![13])], ..WriteBatch::default() };
    let generations = store.write_batch(&batch, 50).unwrap();
    assert_eq!(generations.get("member/m-vol"), Some(&3));
    let grown = store.document("member/m-vol").unwrap().unwrap();
    assert_eq!((grown.bytes.as_slice(), grown.generation, grown.chunk_count), ([10, 11, 12, 13].as_slice(), 3, 2));

    let all = store.document_generations(&["member/m-vol".into(), "station/s-test".into(), "member/m-none".into()]).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all.get("member/m-vol"), Some(&3));
    assert_eq!(all.get("station/s-test"), Some(&1));
}

/// A store with a device, and a batch that writes a chunk and an acknowledgement for the
/// device's member, then a chunk for a document the store lacks.
fn batch_naming_a_missing_document(store: &dyn RelayStore) -> WriteBatch {
    setup(store);
    issue(store, 1, "m-vol", 1_000);
    enroll(store, 1, "d-1", "aa", 1).unwrap();
    WriteBatch {
        chunks: vec![("member/m-vol".into(), vec![11]), ("member/m-missing".into(), vec![12])],
        acks: vec![AckUpdate {
            device: "d-1".into(),
            doc: "member/m-vol".into(),
            heads: AckedHeads { cur: vec![ChangeHash([1; 32])], prev: vec![] },
        }],
        ..WriteBatch::default()
    }
}

pub(crate) fn a_failed_batch_stores_nothing(store: &dyn RelayStore) {
    let batch = batch_naming_a_missing_document(store);
    let result = store.write_batch(&batch, 50);
    assert!(matches!(result, Err(StoreError::Missing { what: "document", .. })), "{result:?}");
    let unchanged = store.document("member/m-vol").unwrap().unwrap();
    assert_eq!((unchanged.bytes.as_slice(), unchanged.generation), ([10].as_slice(), 1));
    assert!(store.acked_heads("d-1").unwrap().is_empty());
}

pub(crate) fn a_sync_and_its_arrivals_are_stored_together_or_not_at_all(store: &dyn RelayStore) {
    setup(store);
    let event = |key: &str| NewLedgerEvent { key: key.into(), body: "{}".into() };
    let bad = WriteBatch { chunks: vec![("member/m-missing".into(), vec![12])], ..WriteBatch::default() };
    let result = store.write_sync(&bad, &[event("visit:v-1@a")], 50);
    assert!(matches!(result, Err(StoreError::Missing { what: "document", .. })), "{result:?}");
    assert!(store.ledger_events(0).unwrap().is_empty(), "the events went with the failed batch");
    let good = WriteBatch { chunks: vec![("member/m-vol".into(), vec![11])], ..WriteBatch::default() };
    let (generations, logged) = store.write_sync(&good, &[event("visit:v-1@a"), event("visit:v-1@a")], 60).unwrap();
    assert_eq!(generations.get("member/m-vol"), Some(&2));
    assert_eq!(logged.iter().map(|e| (e.key.as_str(), e.received_at)).collect::<Vec<_>>(), [("visit:v-1@a", 60)]);
    assert_eq!(store.document("member/m-vol").unwrap().unwrap().bytes, [10, 11]);
    assert_eq!(store.ledger_events(0).unwrap(), logged);
    let (generations, logged) = store.write_sync(&WriteBatch::default(), &[], 70).unwrap();
    assert!(generations.is_empty() && logged.is_empty());
}

/// A member's move (ADR 42) is stored with its chunk and its transfer event; a move from a
/// station the member is not at (moved meanwhile) fails the whole batch.
pub(crate) fn a_member_moves_with_its_batch_or_not_at_all(store: &dyn RelayStore) {
    setup(store);
    let xinhua = StationRecord {
        id: StationId::parse("s-xinhua").unwrap(),
        name: "Xinhua".into(),
        district: default_district(),
        created_at: 3,
    };
    store.create_station(&xinhua, &[]).unwrap();
    // The member's tags at the station they leave: one in use, one revoked before.
    let tag = |uid: &str, elder: &str| TagRecord {
        uid: uid.into(),
        station: station_id(),
        elder: member_id(elder),
        registered_at: 5,
        registered_by: "li".into(),
        revoked_at: None,
        revoked_why: None,
    };
    for uid in ["04a1b2c3d4e5f6", "04a1b2c3d4e5f7"] {
        store.register_tag(&tag(uid, "m-vol"), None).unwrap();
    }
    store.register_tag(&tag("04a1b2c3d4e5f8", "m-coord"), None).unwrap();
    store.revoke_tag("04a1b2c3d4e5f6", 7, "lost", None).unwrap();
    let moved = MemberMove { member: member_id("m-vol"), from: station_id(), to: xinhua.id.clone(), at: 60 };
    let batch = WriteBatch { chunks: vec![("member/m-vol".into(), vec![11])], moves: vec![moved.clone()], ..WriteBatch::default() };
    let transfer = [NewLedgerEvent { key: "transfer:t-1".into(), body: "{}".into() }];
    store.write_sync(&batch, &transfer, 60).unwrap();
    assert_eq!(store.member(&member_id("m-vol")).unwrap().unwrap().station, xinhua.id);
    let left: Vec<String> = store.station_members(&station_id()).unwrap().into_iter().map(|m| m.id.to_string()).collect();
    assert_eq!(left, ["m-coord"]);
    assert_eq!(store.station_members(&xinhua.id).unwrap().len(), 1);
    // Its tag in use revoked with the move, the lost one left as it was, another's untouched.
    let revoked = |uid: &str| store.tag(uid).unwrap().map(|t| (t.revoked_at, t.revoked_why));
    assert_eq!(revoked("04a1b2c3d4e5f7"), Some((Some(60), Some("moved to s-xinhua".into()))));
    assert_eq!(revoked("04a1b2c3d4e5f6"), Some((Some(7), Some("lost".into()))));
    assert_eq!(revoked("04a1b2c3d4e5f8"), Some((None, None)));

    let stale = WriteBatch { chunks: vec![("member/m-vol".into(), vec![12])], moves: vec![moved], ..WriteBatch::default() };
    let again = [NewLedgerEvent { key: "transfer:t-2".into(), body: "{}".into() }];
    let result = store.write_sync(&stale, &again, 70);
    assert!(matches!(result, Err(StoreError::Missing { what: "member of the station it leaves", .. })), "{result:?}");
    assert_eq!(store.document("member/m-vol").unwrap().unwrap().bytes, [10, 11], "its chunk went with it");
    let keys: Vec<String> = store.ledger_events(0).unwrap().into_iter().map(|e| e.key).collect();
    assert_eq!(keys, ["transfer:t-1"]);
    assert_eq!(store.member(&member_id("m-vol")).unwrap().unwrap().station, xinhua.id);
    let keyed = store.ledger_events_keyed(&["transfer:t-2".into(), "transfer:t-1".into()]).unwrap();
    assert_eq!(keyed, store.ledger_events(0).unwrap(), "found by key, those logged only");
    assert!(store.ledger_events_keyed(&[]).unwrap().is_empty());
}

pub(crate) fn a_group_of_syncs_stands_or_fails_item_by_item(store: &dyn RelayStore) {
    setup(store);
    let event = |key: &str| NewLedgerEvent { key: key.into(), body: "{}".into() };
    let first = WriteBatch { chunks: vec![("member/m-vol".into(), vec![11])], ..WriteBatch::default() };
    let failing = WriteBatch { chunks: vec![("member/m-missing".into(), vec![12])], ..WriteBatch::default() };
    let third = WriteBatch { chunks: vec![("member/m-coord".into(), vec![13])], ..WriteBatch::default() };
    let (one, two, three) = ([event("visit:v-1@a")], [event("visit:v-2@a")], [event("visit:v-3@a")]);
    let results = store.write_syncs(&[(&first, &one), (&failing, &two), (&third, &three)], 80);
    assert_eq!(results.len(), 3);
    assert_eq!(results[0].as_ref().unwrap().0.get("member/m-vol"), Some(&2));
    assert!(matches!(results[1], Err(StoreError::Missing { what: "document", .. })), "{:?}", results[1]);
    assert_eq!(results[2].as_ref().unwrap().0.get("member/m-coord"), Some(&2));
    let keys: Vec<String> = store.ledger_events(0).unwrap().into_iter().map(|e| e.key).collect();
    assert_eq!(keys, ["visit:v-1@a", "visit:v-3@a"], "the failed item's events went with it, the others' in order");
    assert_eq!(store.document("member/m-vol").unwrap().unwrap().bytes, [10, 11]);
}

pub(crate) fn the_ledger_cursor_says_how_far_the_ledger_folded(store: &dyn RelayStore) {
    setup(store);
    assert_eq!(store.ledger_progress().unwrap(), LedgerProgress { logged: 0, folded: 0 });
    let event = |key: &str| NewLedgerEvent { key: key.into(), body: "{}".into() };
    store.append_ledger_events(&[event("a"), event("b")], 10).unwrap();
    assert_eq!(store.ledger_progress().unwrap(), LedgerProgress { logged: 2, folded: 0 });
    let folded = WriteBatch { ledger_folded: Some(2), ..WriteBatch::default() };
    store.append_postings(&[], &folded, 20).unwrap();
    assert_eq!(store.ledger_progress().unwrap(), LedgerProgress { logged: 2, folded: 2 });
    let older = WriteBatch { ledger_folded: Some(1), ..WriteBatch::default() };
    store.append_postings(&[], &older, 30).unwrap();
    assert_eq!(store.ledger_progress().unwrap().folded, 2, "never moves back");
}

pub(crate) fn a_decision_and_its_audit_entry_are_stored_together_or_not_at_all(store: &dyn RelayStore) {
    setup(store);
    let approve = |target: &str| audit("review.approve", target);
    let refused = WriteBatch {
        chunks: vec![("member/m-vol".into(), vec![11]), ("member/m-missing".into(), vec![12])],
        audits: vec![approve("v-refused")],
        ..WriteBatch::default()
    };
    let result = store.write_sync(&refused, &[], 50);
    assert!(matches!(result, Err(StoreError::Missing { what: "document", .. })), "{result:?}");
    assert!(store.audit_entries(None, 10).unwrap().is_empty(), "a refused write leaves no audit entry");
    assert_eq!(store.document("member/m-vol").unwrap().unwrap().bytes, [10]);

    let written =
        WriteBatch { chunks: vec![("member/m-vol".into(), vec![11])], audits: vec![approve("v-1")], ..WriteBatch::default() };
    store.write_sync(&written, &[], 60).unwrap();
    assert_eq!(store.audit_entries(None, 10).unwrap(), [approve("v-1")], "exactly one entry, as given");
    assert_eq!(store.document("member/m-vol").unwrap().unwrap().bytes, [10, 11]);

    // A decision that changed no document is still a batch: its entry alone is written.
    let unchanged = WriteBatch { audits: vec![approve("v-1")], ..WriteBatch::default() };
    assert!(!unchanged.is_empty());
    assert!(store.write_batch(&unchanged, 70).unwrap().is_empty(), "no document written");
    assert_eq!(store.audit_entries(None, 10).unwrap().len(), 2);
    assert_eq!(store.document("member/m-vol").unwrap().unwrap().generation, 2);
}

pub(crate) fn compaction_only_replaces_an_unchanged_document(store: &dyn RelayStore) {
    setup(store);
    let batch = WriteBatch { chunks: vec![("member/m-vol".into(), vec![11])], ..WriteBatch::default() };
    store.write_batch(&batch, 50).unwrap();
    // Another process appended meanwhile: a compaction from generation 1 would lose it.
    assert!(!store.compact_document("member/m-vol", &[99], 1).unwrap());
    assert_eq!(store.document("member/m-vol").unwrap().unwrap().bytes, [10, 11]);
    assert!(store.compact_document("member/m-vol", &[10, 11], 2).unwrap());
    let compacted = store.document("member/m-vol").unwrap().unwrap();
    assert_eq!((compacted.bytes.as_slice(), compacted.chunk_count), ([10, 11].as_slice(), 0));
}

pub(crate) fn enrollment_codes_are_single_use_and_expire(store: &dyn RelayStore) {
    setup(store);
    let code = |member: &str| EnrollmentCode { code_hash: [9; 32], member: member_id(member), created_at: 0, expires_at: 1 };
    let unknown_member = store.add_enrollment_code(&code("m-none"), Some(&audit("member.enroll-code", "m-none")));
    assert!(matches!(unknown_member, Err(StoreError::Missing { what: "member", .. })), "{unknown_member:?}");
    store.add_enrollment_code(&code("m-vol"), Some(&audit("member.enroll-code", "m-vol"))).unwrap();
    assert_eq!(store.audit_entries(None, 10).unwrap(), [audit("member.enroll-code", "m-vol")], "the issued code's entry only");

    issue(store, 1, "m-vol", 1_000);
    issue(store, 2, "m-vol", 1_000);
    issue(store, 3, "m-coord", 100);
    assert_eq!(enroll(store, 7, "d-0", "a0", 7), Err(EnrollRefusal::UnknownCode));
    let member = enroll(store, 1, "d-1", "aa", 1).unwrap();
    assert_eq!((member.id.as_str(), member.role), ("m-vol", Role::Volunteer));
    // Used codes stay used; an actor enrolls once; the expiry instant is already too late.
    assert_eq!(enroll(store, 1, "d-2", "bb", 2), Err(EnrollRefusal::AlreadyUsed { at: 100 }));
    assert_eq!(enroll(store, 2, "d-2", "aa", 2), Err(EnrollRefusal::ActorTaken));
    assert_eq!(enroll(store, 3, "d-3", "cc", 3), Err(EnrollRefusal::Expired { at: 100 }));
    // A refused enrollment left the code usable and created no device.
    assert!(enroll(store, 2, "d-2", "bb", 2).is_ok());
    let devices: Vec<String> = store.devices().unwrap().into_iter().map(|d| d.id).collect();
    assert_eq!(devices, ["d-1", "d-2"]);
}

pub(crate) fn devices_are_found_by_token_and_actor_and_revoked(store: &dyn RelayStore) {
    setup(store);
    issue(store, 1, "m-vol", 1_000);
    enroll(store, 1, "d-1", "aa", 5).unwrap();
    let device = store.device_by_token(&[5; 32]).unwrap().unwrap();
    assert_eq!((device.id.as_str(), device.member.as_str(), device.actor.as_str()), ("d-1", "m-vol", "aa"));
    assert_eq!((device.created_at, device.revoked_at), (100, None));
    assert!(store.device_by_token(&[6; 32]).unwrap().is_none());
    let (held, member) = store.device_and_member_by_token(&[5; 32]).unwrap().unwrap();
    assert_eq!(held, device);
    assert_eq!(member, store.member(&device.member).unwrap(), "the token's holder comes with its member");
    assert_eq!(member.map(|m| m.id.to_string()), Some("m-vol".into()));
    assert!(store.device_and_member_by_token(&[6; 32]).unwrap().is_none());
    assert_eq!(store.device_by_actor("aa").unwrap().map(|d| d.id), Some("d-1".into()));
    assert!(store.device_by_actor("ab").unwrap().is_none());

    let revoked = |device: &str| audit("device.revoke", device);
    assert_eq!(store.revoke_device("d-1", 200, Some(&revoked("d-1"))).unwrap(), Revocation::Revoked);
    assert_eq!(store.revoke_device("d-1", 300, Some(&revoked("d-1"))).unwrap(), Revocation::AlreadyRevoked { at: 200 });
    assert_eq!(store.revoke_device("d-9", 300, Some(&revoked("d-9"))).unwrap(), Revocation::Unknown);
    assert_eq!(store.device_by_token(&[5; 32]).unwrap().unwrap().revoked_at, Some(200));
    let revoked_device = store.device_and_member_by_token(&[5; 32]).unwrap().map(|(d, _)| d.revoked_at);
    assert_eq!(revoked_device, Some(Some(200)), "a revoked device is found, for the refusal to name it");
    assert_eq!(store.audit_entries(None, 10).unwrap(), [revoked("d-1")], "audited when it revoked, only then");
}

pub(crate) fn acked_heads_keep_current_and_previous(store: &dyn RelayStore) {
    setup(store);
    issue(store, 1, "m-vol", 1_000);
    enroll(store, 1, "d-1", "aa", 1).unwrap();
    let first = AckedHeads { cur: vec![ChangeHash([1; 32]), ChangeHash([2; 32])], prev: vec![] };
    let ack = |heads: &AckedHeads| WriteBatch {
        chunks: vec![],
        acks: vec![AckUpdate { device: "d-1".into(), doc: "member/m-vol".into(), heads: heads.clone() }],
        ..WriteBatch::default()
    };
    store.write_batch(&ack(&first), 10).unwrap();
    assert_eq!(store.acked_heads("d-1").unwrap().get("member/m-vol"), Some(&first));
    let second = AckedHeads { cur: vec![ChangeHash([3; 32])], prev: first.cur.clone() };
    store.write_batch(&ack(&second), 11).unwrap();
    let all = store.acked_heads("d-1").unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all.get("member/m-vol"), Some(&second));
    assert!(store.acked_heads("d-2").unwrap().is_empty());
}

pub(crate) fn security_events_are_kept_in_order(store: &dyn RelayStore) {
    let first = SecurityEvent { at: 5, device: None, member: None, doc: None, reason: "unknown token".into() };
    let second = SecurityEvent {
        at: 6,
        device: Some("d-1".into()),
        member: Some("m-vol".into()),
        doc: Some("ledger/m-vol".into()),
        reason: "forged ledger change".into(),
    };
    assert_eq!(store.security_event_count().unwrap(), 0);
    let empty = store.size_bytes().unwrap();
    store.record_security_event(&first).unwrap();
    store.record_security_event(&second).unwrap();
    assert_eq!(store.security_events().unwrap(), [first, second]);
    assert_eq!(store.security_event_count().unwrap(), 2);
    assert!(empty > 0 && store.size_bytes().unwrap() >= empty, "the size counts what is stored");
}

/// The arrival log numbers each new key once, in order; postings are posted once per key,
/// together with the ledger documents' chunks, all or nothing.
pub fn the_arrival_log_and_postings_are_append_only_and_idempotent(store: &dyn RelayStore) {
    setup(store);
    let event = |key: &str| NewLedgerEvent { key: key.into(), body: format!("{{\"k\":\"{key}\"}}") };
    let first = store.append_ledger_events(&[event("visit:v-1@a"), event("request:r-1")], 10).unwrap();
    assert_eq!(first.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(), ["visit:v-1@a", "request:r-1"]);
    assert!(first[0].seq < first[1].seq);
    let again = store.append_ledger_events(&[event("request:r-1"), event("review:v-1@b")], 20).unwrap();
    assert_eq!(again.len(), 1, "a logged key is not logged again");
    assert!(again[0].seq > first[1].seq);
    assert_eq!(again[0].received_at, 20);
    let all = store.ledger_events(0).unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(store.ledger_events(first[1].seq).unwrap(), again);

    let posting = |key: &str| PostingRecord {
        key: key.into(),
        kind: "earn".into(),
        debit: "program".into(),
        credit: "member:m-1".into(),
        minutes: 60,
        subject: "v-1".into(),
        memo: "visit".into(),
        by: Some("m-c".into()),
        event: first[0].seq,
        at: 10,
    };
    store.append_postings(&[posting("earn:v-1:r1")], &WriteBatch::default(), 10).unwrap();
    store.append_postings(&[posting("earn:v-1:r1"), posting("earn:v-2:r1")], &WriteBatch::default(), 11).unwrap();
    let posted = store.postings().unwrap();
    assert_eq!(posted.iter().map(|p| p.key.as_str()).collect::<Vec<_>>(), ["earn:v-1:r1", "earn:v-2:r1"]);
    assert_eq!(posted[0], posting("earn:v-1:r1"));

    // A ledger document that does not exist fails the whole write: no posting stays.
    let missing = WriteBatch { chunks: vec![("ledger/m-ghost".into(), vec![1])], ..WriteBatch::default() };
    assert!(store.append_postings(&[posting("earn:v-3:r1")], &missing, 12).is_err());
    assert_eq!(store.postings().unwrap().len(), 2);
}

/// What the full rebuild reads ([`RelayStore::read_ledger_log`]) is the log as
/// [`RelayStore::ledger_events`] gives it, in order, past any part the store reads at once
/// (25,000 events: SQLite reads 10,000 at a time), from any point; and the first error of
/// the reader stops the reading and is returned.
pub fn the_arrival_log_reads_the_same_whole_or_a_part_at_a_time(store: &dyn RelayStore) {
    setup(store);
    let events: Vec<NewLedgerEvent> =
        (0..25_000).map(|i| NewLedgerEvent { key: format!("request:r-{i}"), body: format!("{{\"n\":{i}}}") }).collect();
    store.append_ledger_events(&events[..12_000], 10).unwrap();
    store.append_ledger_events(&events[12_000..], 20).unwrap();
    let whole = store.ledger_events(0).unwrap();
    for after in [0, whole[9_999].seq, whole[17].seq] {
        let mut read = Vec::new();
        store
            .read_ledger_log(after, &mut |logged| {
                read.push((logged.seq, logged.body.to_owned(), logged.received_at));
                Ok(())
            })
            .unwrap();
        let expected: Vec<_> = whole.iter().filter(|e| e.seq > after).map(|e| (e.seq, e.body.clone(), e.received_at)).collect();
        assert_eq!(read.len(), expected.len(), "read after {after}");
        assert!(read == expected, "read after {after}: the same events in the same order");
    }
    let mut read = 0;
    let stopped = store.read_ledger_log(0, &mut |_| {
        read += 1;
        if read == 3 { Err(StoreError::Corrupt("the third event cannot be read".into())) } else { Ok(()) }
    });
    assert!(matches!(stopped, Err(StoreError::Corrupt(reason)) if reason.contains("third")));
    assert_eq!(read, 3, "nothing is read past the first error");
}

/// The console account `li`, coordinator of the test station.
fn coordinator_li() -> ConsoleUserRecord {
    ConsoleUserRecord {
        username: "li".into(),
        password_hash: "$argon2id$x".into(),
        role: ConsoleRole::Coordinator { station: station_id() },
        member: Some(member_id("m-coord")),
        created_at: 3,
    }
}

pub(crate) fn a_sign_in_and_a_sign_out_are_stored_with_their_audit_entry_or_not_at_all(store: &dyn RelayStore) {
    setup(store);
    store.create_console_user(&coordinator_li()).unwrap();
    let session = ConsoleSessionRecord { token_hash: [7; 32], username: "li".into(), csrf: "c".into(), created_at: 10, last_seen: 10 };
    store.create_console_session(&session, Some(&audit("sign-in", "li"))).unwrap();
    assert!(store.console_session(&[7; 32]).unwrap().is_some());
    assert_eq!(store.audit_entries(None, 10).unwrap(), [audit("sign-in", "li")]);

    // A session that cannot be stored (its token is taken; its user unknown) is not audited.
    let taken = store.create_console_session(&session, Some(&audit("sign-in", "taken")));
    assert!(taken.is_err(), "{taken:?}");
    let ghost = ConsoleSessionRecord { token_hash: [8; 32], username: "ghost".into(), ..session.clone() };
    let ghost = store.create_console_session(&ghost, Some(&audit("sign-in", "ghost")));
    assert!(ghost.is_err(), "{ghost:?}");
    assert!(store.console_session(&[8; 32]).unwrap().is_none());
    assert_eq!(store.audit_entries(None, 10).unwrap(), [audit("sign-in", "li")], "the stored session's entry only");

    store.end_console_session(&[7; 32], Some(&audit("sign-out", "li"))).unwrap();
    assert!(store.console_session(&[7; 32]).unwrap().is_none());
    assert_eq!(store.audit_entries(None, 10).unwrap(), [audit("sign-out", "li"), audit("sign-in", "li")], "newest first");
}

pub(crate) fn console_accounts_sessions_failures_and_audit(store: &dyn RelayStore) {
    setup(store);
    let coordinator = coordinator_li();
    store.create_console_user(&coordinator).unwrap();
    assert_eq!(store.console_user("li").unwrap().as_ref(), Some(&coordinator));
    assert!(store.console_user("nobody").unwrap().is_none());
    let again = store.create_console_user(&coordinator);
    assert!(matches!(again, Err(StoreError::Duplicate { what: "console user", .. })), "{again:?}");
    let lost = ConsoleUserRecord {
        username: "x".into(),
        role: ConsoleRole::Coordinator { station: StationId::parse("s-none").unwrap() },
        ..coordinator.clone()
    };
    assert!(matches!(store.create_console_user(&lost), Err(StoreError::Missing { what: "station", .. })));
    let district = ConsoleUserRecord {
        username: "qu".into(),
        role: ConsoleRole::District { district: default_district() },
        member: None,
        ..coordinator.clone()
    };
    store.create_console_user(&district).unwrap();
    assert_eq!(store.console_user("qu").unwrap().unwrap().role, ConsoleRole::District { district: default_district() });
    let city = ConsoleUserRecord { username: "shi".into(), role: ConsoleRole::City, member: None, ..coordinator.clone() };
    store.create_console_user(&city).unwrap();
    assert_eq!(store.console_user("shi").unwrap().unwrap().role, ConsoleRole::City);
    let nowhere = ConsoleUserRecord {
        username: "y".into(),
        role: ConsoleRole::District { district: DistrictId::parse("q-none").unwrap() },
        member: None,
        ..coordinator
    };
    assert!(matches!(store.create_console_user(&nowhere), Err(StoreError::Missing { what: "district", .. })));

    let session = ConsoleSessionRecord { token_hash: [7; 32], username: "li".into(), csrf: "c".into(), created_at: 10, last_seen: 10 };
    store.create_console_session(&session, None).unwrap();
    store.touch_console_session(&[7; 32], 20).unwrap();
    store.touch_console_session(&[7; 32], 15).unwrap();
    assert_eq!(store.console_session(&[7; 32]).unwrap().unwrap().last_seen, 20, "last use never moves back");
    store.end_console_session(&[7; 32], None).unwrap();
    assert!(store.console_session(&[7; 32]).unwrap().is_none());
    for (hash, created_at, last_seen) in [(1_u8, 100, 100), (2, 100, 900), (3, 800, 900)] {
        let session = ConsoleSessionRecord { token_hash: [hash; 32], created_at, last_seen, ..session.clone() };
        store.create_console_session(&session, None).unwrap();
    }
    store.record_login_failure("old", 100).unwrap();
    assert_eq!(store.purge_console_state(500, 500, 500).unwrap(), 2, "idle and too old end");
    assert!(store.console_session(&[3; 32]).unwrap().is_some());
    assert!(store.login_failures_since("old", 0).unwrap().is_empty());

    for at in [1, 5, 9] {
        store.record_login_failure("li", at).unwrap();
    }
    store.record_login_failure("ghost", 5).unwrap();
    assert_eq!(store.login_failures_since("li", 5).unwrap(), [5, 9]);
    store.clear_login_failures("li").unwrap();
    assert!(store.login_failures_since("li", 0).unwrap().is_empty());
    assert_eq!(store.login_failures_since("ghost", 0).unwrap(), [5]);

    let entry = |at: i64, station: Option<StationId>| AuditRecord {
        at,
        username: "li".into(),
        station,
        action: "member.create".into(),
        target: "m-1".into(),
        detail: "Wang".into(),
    };
    store.record_audit(&entry(1, Some(station_id()))).unwrap();
    store.record_audit(&entry(2, None)).unwrap();
    store.record_audit(&entry(3, Some(station_id()))).unwrap();
    let own: Vec<i64> = store.audit_entries(Some(&station_id()), 10).unwrap().iter().map(|e| e.at).collect();
    assert_eq!(own, [3, 1], "a station's entries, newest first");
    assert_eq!(store.audit_entries(None, 2).unwrap().iter().map(|e| e.at).collect::<Vec<_>>(), [3, 2]);
}

/// A group of one sync is stored without a savepoint: when it fails, its transaction is
/// rolled back whole (the chunk and acknowledgement written before the failing statement
/// too), and the refusal is its own, not the group's.
pub(crate) fn a_group_of_one_that_fails_stores_nothing_and_says_why(store: &dyn RelayStore) {
    let failing = batch_naming_a_missing_document(store);
    let events = [NewLedgerEvent { key: "visit:v-1@a".into(), body: "{}".into() }];
    let results = store.write_syncs(&[(&failing, &events)], 80);
    assert_eq!(results.len(), 1);
    assert!(matches!(results[0], Err(StoreError::Missing { what: "document", .. })), "{:?}", results[0]);
    let unchanged = store.document("member/m-vol").unwrap().unwrap();
    assert_eq!((unchanged.bytes.as_slice(), unchanged.generation), ([10].as_slice(), 1));
    assert!(store.acked_heads("d-1").unwrap().is_empty());
    assert!(store.ledger_events(0).unwrap().is_empty());
}
