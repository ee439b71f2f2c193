//! The `timebank-relay` binary on a real socket: it prints its address, answers
//! `/healthz`, serves engines over HTTP while admin commands run in other processes on
//! the same data directory, and stops cleanly on SIGTERM.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use automerge::ActorId;
use serde_json::Value;
use timebank_engine::model::{MemberId, Role, StationId};
use timebank_engine::sync::wire::{self, EnrollRequest, EnrollResponse};
use timebank_engine::sync::{Transport, TransportError};
use timebank_engine::{Engine, Enrollment, NewIdentity, PastVisit, SystemClock};

const BIN: &str = env!("CARGO_BIN_EXE_timebank-relay");

fn admin(data: &Path, args: &[&str]) -> Value {
    let output = Command::new(BIN).arg("admin").arg("--data").arg(data).args(args).arg("--json").output().unwrap();
    assert!(output.status.success(), "admin {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("admin {args:?} printed no JSON ({e})"))
}

/// The relay process; killed if a test fails before it is stopped.
struct Served {
    child: Child,
    url: String,
}

impl Served {
    fn start(data: &Path) -> Served {
        let mut child = Command::new(BIN)
            .args(["--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let url = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("first line: {line:?}")).to_owned();
        assert!(url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"), "{url}");
        Served { child, url }
    }

    /// Sends SIGTERM and waits for a clean exit.
    fn stop(mut self) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "the relay exited with {status}");
                return;
            }
            assert!(Instant::now() < deadline, "the relay did not stop within 10 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(30))).build().into()
}

/// The phone's HTTP transport (what the CLI and the apps do).
struct Http {
    agent: ureq::Agent,
    url: String,
    token: String,
}

impl Transport for Http {
    fn exchange(&mut self, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        let mut response = self
            .agent
            .post(&format!("{}/v1/sync", self.url))
            .header("authorization", &format!("Bearer {}", self.token))
            .header("content-type", "application/octet-stream")
            .send(&body[..])
            .map_err(|e| TransportError::Unreachable(e.to_string()))?;
        let status = response.status().as_u16();
        let bytes = response.body_mut().read_to_vec().map_err(|e| TransportError::Unreachable(e.to_string()))?;
        if status == 200 {
            return Ok(bytes);
        }
        let message = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or_default();
        Err(TransportError::Refused { status, message })
    }
}

fn enrolled_phone(url: &str, data: &Path, member: &str, station: &str, role: Role, dir: &Path) -> (Engine, Http, String) {
    let code = admin(data, &["enroll-code", "--member", member])["code"].as_str().unwrap().to_owned();
    let actor = ActorId::random().to_hex_string();
    let mut response = agent()
        .post(&format!("{url}/v1/enroll"))
        .send(&wire::encode(&EnrollRequest { code, actor: actor.clone() })[..])
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let enrolled: EnrollResponse = wire::decode(&response.body_mut().read_to_vec().unwrap()).unwrap();
    let engine = Engine::create_enrolled(
        dir,
        &Enrollment {
            identity: NewIdentity { member: MemberId::parse(member).unwrap(), station: StationId::parse(station).unwrap(), role },
            actor,
            relay: url.to_owned(),
            device: enrolled.device.clone(),
            token: enrolled.token.clone(),
        },
        Arc::new(SystemClock),
    )
    .unwrap();
    (engine, Http { agent: agent(), url: url.to_owned(), token: enrolled.token }, enrolled.device)
}

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

    let served = Served::start(data);
    let mut health = agent().get(&format!("{}/healthz", served.url)).call().unwrap();
    assert_eq!(health.status().as_u16(), 200);
    assert_eq!(health.body_mut().read_to_string().unwrap(), "ok");

    let phone_dir = tempfile::tempdir().unwrap();
    let desk_dir = tempfile::tempdir().unwrap();
    let (mut phone, mut phone_link, phone_device) =
        enrolled_phone(&served.url, data, &volunteer, &station, Role::Volunteer, phone_dir.path());
    let (mut desk, mut desk_link, _) =
        enrolled_phone(&served.url, data, &coordinator, &station, Role::Coordinator, desk_dir.path());
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
