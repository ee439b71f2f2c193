//! The elder's address and phone reach the volunteer an open order is dispatched to, and no
//! one else (ADR 31): not another volunteer, not the elder's or the volunteer's documents;
//! they leave the volunteer's phone when the order is declined, given to someone else or
//! served.

use chrono::{Duration, Utc};
use timebank_engine::model::Role;
use timebank_engine::sync::wire::{self, ContactsRequest, DispatchContacts};
use timebank_server::desk;
use timebank_server::registry::{self, NewContact, NewMember};
use timebank_server::store::MemberRecord;

use crate::support::{Phone, TestRelay};

const ADDRESS: &str = "曹杨新村 8 号 302 室";
const PHONE: &str = "139 1234 5678";

fn elder_with_contact(relay: &TestRelay) -> MemberRecord {
    let new = NewMember {
        station: relay.station.id.as_str(),
        role: "elder",
        name: "Wang Fang",
        birth_year: 1938,
        household: None,
        hardship: false,
    };
    let contact = NewContact { phone: Some(PHONE), id_last4: None, address: Some(ADDRESS) };
    registry::register_member(&relay.relay, &new, &contact, None).unwrap()
}

/// What the phone shows for its one assignment: (address, phone).
fn shown(phone: &Phone) -> Vec<(Option<String>, Option<String>)> {
    phone.engine.assignments().into_iter().map(|a| (a.elder_address, a.elder_phone)).collect()
}

/// Whether the phone's store files (the store and its write-ahead log) or any of its
/// documents hold the address.
fn holds_the_address(phone: &Phone) -> (bool, bool) {
    let in_file = ["timebank.sqlite3", "timebank.sqlite3-wal"].iter().any(|file| {
        let bytes = std::fs::read(phone.dir.path().join(file)).unwrap_or_default();
        String::from_utf8_lossy(&bytes).contains(ADDRESS)
    });
    let in_documents = phone
        .engine
        .document_ids()
        .iter()
        .any(|id| String::from_utf8_lossy(&phone.engine.document_bytes(id).unwrap()).contains(ADDRESS));
    (in_file, in_documents)
}

#[test]
fn only_the_dispatched_volunteer_gets_the_elders_address_and_phone_for_that_order_only() {
    let relay = TestRelay::new();
    let elder = elder_with_contact(&relay);
    let (li, zhao) = (relay.member("volunteer", "Li Wei"), relay.member("volunteer", "Zhao Lei"));
    let coordinator = relay.member("coordinator", "Chen Jing");
    let (mut li_phone, mut zhao_phone, mut elder_phone) = (relay.phone(&li), relay.phone(&zhao), relay.phone(&elder));
    let start = Utc::now() + Duration::hours(30);
    let new = desk::NewOrder { elder: &elder.id, service: "meals", note: "lunch", slot: Some((start, start + Duration::hours(2))) };
    let order = desk::place_order_for(&relay.relay, &coordinator.id, &new, None).unwrap();
    desk::dispatch(&relay.relay, &coordinator.id, &order, &li.id, None).unwrap();

    relay.sync_phone(&mut li_phone);
    relay.sync_phone(&mut zhao_phone);
    relay.sync_phone(&mut elder_phone);
    assert_eq!(shown(&li_phone), [(Some(ADDRESS.to_owned()), Some(PHONE.to_owned()))]);
    assert!(zhao_phone.engine.assignments().is_empty());
    assert_eq!(holds_the_address(&li_phone), (true, false), "kept beside the documents, never in one");
    assert_eq!(holds_the_address(&zhao_phone), (false, false), "another volunteer holds nothing of it");
    assert_eq!(holds_the_address(&elder_phone), (false, false), "nor is it in the elder's documents");
    for id in relay.store().document_ids().unwrap() {
        let bytes = relay.store().document(&id).unwrap().unwrap().bytes;
        assert!(!String::from_utf8_lossy(&bytes).contains(ADDRESS), "{id} holds the address");
    }
    // Asked directly, the relay tells another volunteer nothing, and a coordinator or the
    // elder nothing either.
    let ask = |token: &str| {
        let answer = relay.post("/v1/contacts", Some(token), wire::encode(&ContactsRequest {}));
        assert!(answer.status.is_success(), "{:?}", answer.status);
        wire::decode::<DispatchContacts>(&answer.body).unwrap().contacts
    };
    assert!(ask(&zhao_phone.token).is_empty());
    assert!(ask(&elder_phone.token).is_empty());
    assert_eq!(ask(&li_phone.token).len(), 1);
    assert_eq!(relay.post("/v1/contacts", None, wire::encode(&ContactsRequest {})).status.as_u16(), 401);

    // Given to someone else: it leaves Li's phone at the next sync and reaches Zhao's.
    desk::dispatch(&relay.relay, &coordinator.id, &order, &zhao.id, None).unwrap();
    relay.sync_phone(&mut li_phone);
    relay.sync_phone(&mut zhao_phone);
    assert_eq!(shown(&li_phone), [(None, None)]);
    assert_eq!(holds_the_address(&li_phone), (false, false), "gone from the phone's store, overwritten");
    assert_eq!(shown(&zhao_phone), [(Some(ADDRESS.to_owned()), Some(PHONE.to_owned()))]);

    // Served: once the visit is logged the phone drops it, even before it can sync.
    zhao_phone.engine.accept(&order).unwrap();
    zhao_phone.log_order_visit(&elder.id, Some(&order), "meals", 2, "");
    assert_eq!(shown(&zhao_phone), [(None, None)], "not shown once served");
    relay.sync_phone(&mut zhao_phone);
    assert_eq!(holds_the_address(&zhao_phone), (false, false));
    assert!(ask(&zhao_phone.token).is_empty(), "the relay sends it no more");
    assert_eq!(Role::Volunteer, zhao.role);
}

#[test]
fn a_declined_order_takes_its_contact_off_the_phone() {
    let relay = TestRelay::new();
    let elder = elder_with_contact(&relay);
    let li = relay.member("volunteer", "Li Wei");
    let coordinator = relay.member("coordinator", "Chen Jing");
    let mut phone = relay.phone(&li);
    let order = desk::place_order(&relay.relay, &coordinator.id, &elder.id, "meals", "", None).unwrap();
    desk::dispatch(&relay.relay, &coordinator.id, &order, &li.id, None).unwrap();
    relay.sync_phone(&mut phone);
    assert_eq!(shown(&phone), [(Some(ADDRESS.to_owned()), Some(PHONE.to_owned()))]);
    phone.engine.decline(&order, "away that week").unwrap();
    assert_eq!(shown(&phone), [(None, None)]);
    relay.sync_phone(&mut phone);
    assert_eq!(holds_the_address(&phone), (false, false));
}
