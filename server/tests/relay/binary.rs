//! The `timebank-relay` binary on a real socket: it prints its address, answers
//! `/healthz`, serves engines over HTTP while admin commands run in other processes on
//! the same data directory, and stops cleanly on SIGTERM.

use serde_json::Value;
use timebank_engine::PastVisit;
use timebank_engine::model::MemberId;

use std::process::Command;

use crate::process::{BIN, RelayProcess, admin, agent, enrolled_phone, transport};

#[test]
fn the_relay_binary_serves_phones_while_admin_commands_run_beside_it() {
    let data = tempfile::tempdir().unwrap();
    let data = data.path();
    let station = admin(data, &["station", "create", "--name", "Caoyang"])["id"].as_str().unwrap().to_owned();
    let member_args = |role: &'static str, name: &'static str| {
        vec!["member", "create", "--station", &station, "--role", role, "--name", name, "--birth-year", "1950"]
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<String>>()
    };
    let create = |role: &'static str, name: &'static str| {
        let args = member_args(role, name);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        admin(data, &refs)["id"].as_str().unwrap().to_owned()
    };
    let volunteer = create("volunteer", "Li Wei");
    let elder = create("elder", "Wang Fang");
    let coordinator = create("coordinator", "Chen Jing");

    let served = RelayProcess::start(data, None);
    let mut health = agent().get(&format!("{}/healthz", served.url)).call().unwrap();
    assert_eq!(health.status().as_u16(), 200);
    assert_eq!(health.body_mut().read_to_string().unwrap(), "ok");

    let phone_dir = tempfile::tempdir().unwrap();
    let desk_dir = tempfile::tempdir().unwrap();
    let mut phone = enrolled_phone(&served.url, data, &volunteer, phone_dir.path());
    let mut phone_link = transport(&phone, &served.url);
    let phone_device = phone.relay_link().unwrap().unwrap().device;
    let mut desk = enrolled_phone(&served.url, data, &coordinator, desk_dir.path());
    let mut desk_link = transport(&desk, &served.url);
    let now = chrono::Utc::now();
    phone
        .log_visit(&PastVisit {
            elder: MemberId::parse(&elder).unwrap(),
            service: "companionship".into(),
            order: None,
            start: now - chrono::Duration::hours(2),
            end: now - chrono::Duration::hours(1),
            note: String::new(),
        })
        .unwrap();
    phone.sync(&mut phone_link).unwrap();
    assert_eq!(phone.visits().unwrap()[0].state_label, "sent");
    desk.sync(&mut desk_link).unwrap();
    let devices = admin(data, &["device", "list"]);
    assert_eq!(devices.as_array().map(Vec::len), Some(2));

    // A member registered by another process while the relay runs reaches the coordinator.
    let newcomer = create("volunteer", "Zhao Min");
    desk.sync(&mut desk_link).unwrap();
    let held: Vec<String> = desk.document_ids().iter().map(ToString::to_string).collect();
    assert!(held.contains(&format!("member/{newcomer}")), "{held:?}");

    // A revoked phone is refused at once, with the relay's words.
    let revoked = admin(data, &["device", "revoke", &phone_device]);
    assert_eq!(revoked["id"], phone_device.as_str());
    let err = phone.sync(&mut phone_link).unwrap_err().to_string();
    assert!(err.contains("401") && err.contains("revoked"), "{err}");
    let events = admin(data, &["security-events"]);
    assert_eq!(events[0]["device"], phone_device.as_str());

    // Errors are JSON with a clear message.
    let mut missing = agent().get(&format!("{}/nowhere", served.url)).call().unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    let body: Value = serde_json::from_str(&missing.body_mut().read_to_string().unwrap()).unwrap();
    assert!(body["error"].as_str().unwrap().contains("no such endpoint"));

    served.stop();
}

#[test]
fn admin_commands_explain_bad_input_and_print_text_without_json() {
    let data = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .args(["admin", "--data"])
        .arg(data.path())
        .args(["member", "create", "--station", "s-none", "--role", "volunteer", "--name", "A", "--birth-year", "1980"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no station s-none"), "{stderr}");

    let output = Command::new(BIN).args(["admin", "--data"]).arg(data.path()).args(["station", "create", "--name", "Caoyang"]).output().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with("created station s-") && stdout.contains("(Caoyang)"), "{stdout}");
}
