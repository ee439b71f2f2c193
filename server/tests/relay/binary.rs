//! The `timebank-relay` binary on a real socket: it prints its address, answers
//! `/healthz`, serves engines over HTTP while admin commands run in other processes on
//! the same data directory, and stops cleanly on SIGTERM.

use serde_json::Value;
use timebank_engine::model::ReviewDecision;

use std::process::Command;

use crate::process::{BIN, RelayProcess, Store, admin, admin_on, agent, enrolled_phone, enrolled_phone_on, transport, visit};

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
    phone.log_visit(&visit(&elder, 2)).unwrap();
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

    let output = Command::new(BIN)
        .args(["admin", "--data"])
        .arg(data.path())
        .args(["station", "create", "--name", "Caoyang"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with("created station s-") && stdout.contains("(Caoyang)"), "{stdout}");
}

#[test]
fn admin_commands_make_a_city_of_districts_and_move_a_station() {
    let data = tempfile::tempdir().unwrap();
    let data = data.path();
    let old = admin(data, &["station", "create", "--name", "Caoyang"]);
    assert_eq!(old["district"], "q-default", "a station without a district joins the default one");
    let putuo = admin(data, &["district", "create", "--name", "普陀区"]);
    let putuo = putuo["id"].as_str().unwrap().to_owned();
    assert!(putuo.starts_with("q-"), "{putuo}");
    let changning = admin(data, &["district", "create", "--name", "长宁区"])["id"].as_str().unwrap().to_owned();
    let ganquan = admin(data, &["station", "create", "--name", "Ganquan", "--district", &putuo]);
    assert_eq!(ganquan["district"], putuo.as_str());
    let old_id = old["id"].as_str().unwrap();
    let moved = admin(data, &["station", "move", "--station", old_id, "--district", &changning]);
    assert_eq!(moved["district"], changning.as_str());

    let listed = admin(data, &["district", "list"]);
    let stations_of = |district: &str| -> Vec<String> {
        let found = listed.as_array().unwrap().iter().find(|d| d["id"] == district).unwrap();
        found["stations"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(stations_of(&putuo), ["Ganquan"]);
    assert_eq!(stations_of(&changning), ["Caoyang"]);
    assert!(stations_of("q-default").is_empty());

    let account = |args: &[&str]| {
        let mut child = Command::new(BIN)
            .arg("admin")
            .arg("--data")
            .arg(data)
            .args(["console-user", "create", "--password-stdin", "--json"])
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"correct horse battery\n").unwrap();
        child.wait_with_output().unwrap()
    };
    let city = account(&["--username", "shi", "--city"]);
    assert!(city.status.success(), "{}", String::from_utf8_lossy(&city.stderr));
    assert!(String::from_utf8_lossy(&city.stdout).contains("\"city\":true"));
    let district = account(&["--username", "qu", "--district", &putuo]);
    assert!(district.status.success(), "{}", String::from_utf8_lossy(&district.stderr));
    let nowhere = account(&["--username", "qx", "--district", "q-none"]);
    assert!(!nowhere.status.success());
    assert!(String::from_utf8_lossy(&nowhere.stderr).contains("no district q-none"));

    let output = Command::new(BIN)
        .args(["admin", "--data"])
        .arg(data)
        .args(["station", "move", "--station", "s-none", "--district", &putuo])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no station s-none"));
}

/// `admin member move` in its own process while the relay serves (ADR 42).
#[test]
fn admin_moves_a_member_to_a_station_of_another_district_while_the_relay_serves() {
    let data = tempfile::tempdir().unwrap();
    member_moves_while_the_relay_serves(Store::Data(data.path()));
}

/// On `store`: the phone learns its new station at its next sync, the new station's
/// coordinator's phone reads the member and decides the visit that waited at the old
/// station, the old one's no longer reads them, the ledger equals its rebuild; a bad move
/// is refused with the reason.
pub fn member_moves_while_the_relay_serves(store: Store<'_>) {
    let caoyang = admin_on(store, &["station", "create", "--name", "Caoyang"])["id"].as_str().unwrap().to_owned();
    let changning = admin_on(store, &["district", "create", "--name", "长宁区"])["id"].as_str().unwrap().to_owned();
    let xinhua =
        admin_on(store, &["station", "create", "--name", "Xinhua", "--district", &changning])["id"].as_str().unwrap().to_owned();
    let create = |station: &str, role: &str, name: &str| {
        let args = ["member", "create", "--station", station, "--role", role, "--name", name, "--birth-year", "1950"];
        admin_on(store, &args)["id"].as_str().unwrap().to_owned()
    };
    let volunteer = create(&caoyang, "volunteer", "Li Wei");
    let elder = create(&caoyang, "elder", "Wang Fang");
    let (old_desk, new_desk) = (create(&caoyang, "coordinator", "Chen Jing"), create(&xinhua, "coordinator", "He Li"));

    let served = RelayProcess::start_on(store, None, &[]);
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut phone = enrolled_phone_on(&served.url, store, &volunteer, dirs[0].path());
    let mut phone_link = transport(&phone, &served.url);
    phone.log_visit(&visit(&elder, 2)).unwrap();
    phone.sync(&mut phone_link).unwrap();

    let refused = |args: &[&str], expected: &str| {
        let output = Command::new(BIN).arg("admin").args(store.args()).args(["member", "move"]).args(args).output().unwrap();
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected) && stderr.contains("nothing was moved"), "{stderr}");
    };
    refused(&["--member", &volunteer, "--to", "s-none"], "no station s-none");
    refused(&["--member", "m-none", "--to", &xinhua], "no member m-none");
    refused(&["--member", &volunteer, "--to", &caoyang], "already");
    let moved = admin_on(store, &["member", "move", "--member", &volunteer, "--to", &xinhua]);
    assert_eq!(
        (moved["from"].as_str(), moved["to"].as_str(), moved["move"].as_u64()),
        (Some(caoyang.as_str()), Some(xinhua.as_str()), Some(1))
    );

    phone.sync(&mut phone_link).unwrap();
    assert_eq!(phone.identity().station.as_str(), xinhua);
    let desk = |coordinator: &str, dir: &std::path::Path| {
        let mut desk = enrolled_phone_on(&served.url, store, coordinator, dir);
        let mut link = transport(&desk, &served.url);
        desk.sync(&mut link).unwrap();
        let holds = desk.document_ids().iter().any(|id| id.to_string() == format!("member/{volunteer}"));
        (desk, link, holds)
    };
    let (mut theirs, mut their_link, holds) = desk(&new_desk, dirs[1].path());
    assert!(holds, "the new station's coordinator reads the member");
    assert!(!desk(&old_desk, dirs[2].path()).2, "the old station's no longer does");
    // The visit that waited at the old station is the new one's to decide, from its phone.
    let visit = phone.visits().unwrap()[0].visit.id.clone();
    assert_eq!(theirs.review_queue().unwrap().len(), 1);
    theirs.review_visit(&visit, ReviewDecision::Approve, "").unwrap();
    theirs.sync(&mut their_link).unwrap();
    phone.sync(&mut phone_link).unwrap();
    assert_eq!(phone.balance().confirmed_minutes, 60);
    let check = admin_on(store, &["rebuild-ledger", "--check"]);
    assert_eq!(check["identical"], true, "{check}");
    served.stop();
}

/// With only two work threads, phones that sync all at once wait their turn and are all
/// served (none refused, none stuck); fewer than two is refused before the relay starts,
/// with the flag's name and its bounds.
#[test]
fn few_work_threads_serve_phones_in_turn_and_one_is_refused() {
    let data = tempfile::tempdir().unwrap();
    let data = data.path();
    let station = admin(data, &["station", "create", "--name", "Caoyang"])["id"].as_str().unwrap().to_owned();
    let create = |role: &str, name: &str| {
        admin(data, &["member", "create", "--station", &station, "--role", role, "--name", name, "--birth-year", "1950"])["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let elder = create("elder", "Wang Fang");
    let volunteers: Vec<String> = (0..8).map(|n| create("volunteer", &format!("Volunteer {n}"))).collect();

    let refused =
        Command::new(BIN).args(["--data"]).arg(data).args(["--listen", "127.0.0.1:0", "--work-threads", "1"]).output().unwrap();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("--work-threads") && said.contains("2..=1000"), "{said}");

    let served = RelayProcess::start_with(data, None, &["--work-threads", "2"]);
    let dirs: Vec<tempfile::TempDir> = volunteers.iter().map(|_| tempfile::tempdir().unwrap()).collect();
    std::thread::scope(|scope| {
        let syncs: Vec<_> = volunteers
            .iter()
            .zip(&dirs)
            .map(|(volunteer, dir)| {
                let (url, elder) = (served.url.clone(), elder.clone());
                scope.spawn(move || {
                    let mut phone = enrolled_phone(&url, data, volunteer, dir.path());
                    let mut link = transport(&phone, &url);
                    for hours_ago in [2, 4, 6] {
                        phone.log_visit(&visit(&elder, hours_ago)).unwrap();
                        phone.sync(&mut link).unwrap();
                    }
                    phone.visits().unwrap().iter().filter(|v| v.state_label == "sent").count()
                })
            })
            .collect();
        for sync in syncs {
            assert_eq!(sync.join().unwrap(), 3, "every visit reached the relay");
        }
    });
    served.stop();
}
