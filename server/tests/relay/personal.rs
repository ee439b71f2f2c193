//! A member's personal information from the command line: `admin member export` prints
//! what the program holds about them as JSON, `admin member erase-contact` erases their
//! contact details (audited) and leaves the member and their history. The PostgreSQL suite
//! runs the same on a database.

use crate::process::{Store, admin_on};

#[test]
fn an_administrator_exports_a_members_data_and_erases_their_contact_details() {
    let dir = tempfile::tempdir().unwrap();
    export_and_erase(Store::Data(dir.path()));
}

/// On `store`: an elder's export holds their record, contact, profile and NFC tag; after
/// `erase-contact` the contact is gone, the member stays, the erasure is audited.
pub fn export_and_erase(store: Store<'_>) {
    let admin = |args: &[&str]| admin_on(store, args);
    let station = admin(&["station", "create", "--name", "Caoyang"])["id"].as_str().unwrap().to_owned();
    let elder = admin(&[
        "member",
        "create",
        "--station",
        &station,
        "--role",
        "elder",
        "--name",
        "Sun Xiuying",
        "--birth-year",
        "1938",
        "--phone",
        "139 0427 1938",
        "--id-last4",
        "0427",
        "--address",
        "Lanxi Road 138",
    ])["id"]
        .as_str()
        .unwrap()
        .to_owned();

    admin(&["tag", "register", "--station", &station, "--elder", &elder, "--uid", "04A1B2C3D4E5F6"]);

    let export = admin(&["member", "export", "--member", &elder]);
    assert_eq!(export["format"], 1);
    assert_eq!((export["member"]["id"].as_str(), export["member"]["name"].as_str()), (Some(elder.as_str()), Some("Sun Xiuying")));
    assert_eq!(export["contact"]["phone"], "139 0427 1938");
    assert_eq!(export["contact"]["address"], "Lanxi Road 138");
    assert_eq!(export["profile"]["display_name"], "Sun Xiuying");
    assert_eq!(export["tags"][0]["uid"], "04a1b2c3d4e5f6", "the elder's card: {export}");
    for section in ["devices", "tags", "visits", "orders", "assignments", "requests", "audit", "security_events"] {
        assert!(export[section].is_array(), "{section}: {export}");
    }

    let erased = admin(&["member", "erase-contact", "--member", &elder]);
    assert_eq!(erased["erased"], true);
    let after = admin(&["member", "export", "--member", &elder]);
    assert_eq!(after["contact"], serde_json::json!({ "phone": null, "id_last4": null, "address": null }));
    assert_eq!(after["member"], export["member"], "the member stays");
    let audit = after["audit"].as_array().unwrap();
    assert!(audit.iter().any(|e| e["action"] == "member.erase-contact" && e["by"] == "admin (command line)"), "{after}");
    assert_eq!(admin(&["member", "erase-contact", "--member", &elder])["erased"], false, "nothing left to erase");
}
