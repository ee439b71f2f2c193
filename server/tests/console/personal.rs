//! A member's personal information at the console: the station's coordinator downloads
//! what the program holds about them (the register, the visits they received, the ledger)
//! and erases their contact details when they leave, both audited; nobody else can.

use axum::http::StatusCode;
use serde_json::Value;
use timebank_server::registry::{self, NewContact, NewMember};
use timebank_server::store::{MemberContact, MemberRecord};

use crate::phones::Pair;
use crate::support::Console;

/// An elder of li's station registered with a phone number and ID digits, served once by
/// a volunteer whose phone synced the visit.
fn elder_with_contact(console: &Console) -> (Pair, MemberRecord) {
    let mut pair = Pair::new(console);
    let new = NewMember {
        station: console.station.id.as_str(),
        role: "elder",
        name: "孙秀英",
        birth_year: 1938,
        household: None,
        hardship: false,
    };
    let contact = NewContact { phone: Some("139 0427 1938"), id_last4: Some("0427"), address: Some("兰溪路 138 弄 7 号") };
    let elder = registry::register_member(&console.relay, &new, &contact, None).unwrap();
    pair.phone.log_visit(&elder.id, 30, 60, "陪孙阿姨读报");
    pair.phone.sync();
    (pair, elder)
}

fn actions(console: &Console) -> Vec<(String, String, String)> {
    let entries = console.store().audit_entries(None, 100).unwrap();
    entries.into_iter().map(|e| (e.username, e.action, e.target)).collect()
}

#[test]
fn a_coordinator_downloads_what_the_program_holds_about_a_member() {
    let console = Console::new();
    let (pair, elder) = elder_with_contact(&console);
    let path = format!("/console/members/{}/export", elder.id);
    let mut li = console.signed_in("li");
    let page = li.get(&format!("/console/members/{}", elder.id));
    assert!(page.testid("export").is_some(), "{}", page.text);

    let download = li.get(&path);
    assert_eq!(download.status, StatusCode::OK, "{}", download.text);
    let export: Value = serde_json::from_str(&download.text).unwrap();
    assert_eq!(export["member"]["name"], "孙秀英");
    assert_eq!(export["contact"]["phone"], "139 0427 1938");
    let visits = export["visits"].as_array().unwrap();
    assert_eq!(visits.len(), 1, "the visit she received, logged in the volunteer's document");
    assert_eq!(
        (visits[0]["volunteer"].as_str(), visits[0]["note"].as_str()),
        (Some(pair.volunteer.id.as_str()), Some("陪孙阿姨读报"))
    );
    assert!(export["ledger"]["postings"].is_array());
    assert!(actions(&console).contains(&("li".to_owned(), "member.export".to_owned(), elder.id.to_string())));

    // The district reads, but downloads nobody's data; another station does not see her.
    let mut qu = console.signed_in("qu");
    assert_eq!(qu.get(&path).status, StatusCode::FORBIDDEN);
    assert!(qu.get(&format!("/console/members/{}", elder.id)).testid("export").is_none());
    let mut zhao = console.signed_in("zhao");
    let guessed = zhao.get(&path);
    assert_eq!(guessed.status, StatusCode::NOT_FOUND);
    assert!(!guessed.text.contains("0427"));
    let exports = actions(&console).into_iter().filter(|(_, action, _)| action == "member.export").count();
    assert_eq!(exports, 1, "refused downloads are not exports");
}

#[test]
fn a_member_who_leaves_has_their_contact_details_erased_and_keeps_their_history() {
    let console = Console::new();
    let (_pair, elder) = elder_with_contact(&console);
    let member_page = format!("/console/members/{}", elder.id);
    let path = format!("{member_page}/erase-contact");

    // Another station and the district cannot erase her details.
    for who in ["zhao", "qu"] {
        let mut browser = console.signed_in(who);
        browser.get("/console/members");
        assert_ne!(browser.post(&path, &[]).status, StatusCode::SEE_OTHER, "{who}");
    }
    assert_eq!(console.store().member_contact(&elder.id).unwrap().phone.as_deref(), Some("139 0427 1938"));

    let mut li = console.signed_in("li");
    let confirm = li.get(&path);
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.testid("confirm-erase").is_some() && confirm.text.contains("孙秀英"), "{}", confirm.text);
    let done = li.post(&path, &[]);
    assert_eq!((done.status, done.location.as_deref()), (StatusCode::SEE_OTHER, Some(member_page.as_str())));
    assert_eq!(console.store().member_contact(&elder.id).unwrap(), MemberContact::default());
    let page = li.get(&member_page);
    assert!(page.text.contains("联系方式已删除") && !page.text.contains("0427") && !page.text.contains("兰溪路"), "{}", page.text);
    assert!(actions(&console).contains(&("li".to_owned(), "member.erase-contact".to_owned(), elder.id.to_string())));

    // She stays a member, and the visit she received stays in the program's history.
    let export: Value = serde_json::from_str(&li.get(&format!("{member_page}/export")).text).unwrap();
    assert_eq!(export["contact"], serde_json::json!({ "phone": null, "id_last4": null, "address": null }));
    assert_eq!(export["visits"].as_array().map(Vec::len), Some(1));
    let audit_page = li.get("/console/audit");
    assert!(audit_page.text.contains("删除联系方式") && audit_page.text.contains("导出个人信息"), "{}", audit_page.text);
}
