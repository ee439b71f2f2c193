//! The real `timebank-relay` binary as a child process, its admin commands, and phones
//! enrolled with it over HTTP through the CLI's client (`timebank_cli::relay`), on a
//! SQLite data directory or a PostgreSQL database.

use std::ffi::OsString;
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use timebank_cli::relay::{HttpTransport, enroll_store};
use timebank_engine::model::MemberId;
use timebank_engine::{Engine, PastVisit, RelayLink, SystemClock};

/// The relay binary cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_timebank-relay");

/// Where a test's relay processes and admin commands keep the store.
#[derive(Clone, Copy, Debug)]
pub enum Store<'a> {
    /// The SQLite file in this data directory (`--data`).
    Data(&'a Path),
    /// This PostgreSQL database (`--database`).
    Database(&'a str),
}

impl Store<'_> {
    /// The command-line flag and value that name it.
    pub fn args(self) -> [OsString; 2] {
        match self {
            Store::Data(dir) => ["--data".into(), dir.into()],
            Store::Database(url) => ["--database".into(), url.into()],
        }
    }
}

/// Runs `timebank-relay admin --data DATA ARGS --json` and returns what it printed.
pub fn admin(data: &Path, args: &[&str]) -> Value {
    admin_on(Store::Data(data), args)
}

/// Runs `timebank-relay admin STORE ARGS --json` and returns what it printed.
pub fn admin_on(store: Store<'_>, args: &[&str]) -> Value {
    let output = Command::new(BIN).arg("admin").args(store.args()).args(args).arg("--json").output().unwrap();
    assert!(output.status.success(), "admin {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("admin {args:?} printed no JSON ({e})"))
}

/// The relay process; SIGKILLed when dropped, if still running.
pub struct RelayProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`, as the relay printed it.
    pub url: String,
}

impl RelayProcess {
    /// Starts the relay on `port` (to keep the phones' address across restarts), or on
    /// any free port; retries while the port is not free yet.
    pub fn start(data: &Path, port: Option<u16>) -> RelayProcess {
        RelayProcess::start_with(data, port, &[])
    }

    /// [`RelayProcess::start`] with more serve flags.
    pub fn start_with(data: &Path, port: Option<u16>, flags: &[&str]) -> RelayProcess {
        RelayProcess::start_on(Store::Data(data), port, flags)
    }

    /// [`RelayProcess::start_with`] on `store`.
    pub fn start_on(store: Store<'_>, port: Option<u16>, flags: &[&str]) -> RelayProcess {
        for attempt in 0..40 {
            let listen = match port {
                Some(port) if attempt < 39 => format!("127.0.0.1:{port}"),
                _ => "127.0.0.1:0".to_owned(),
            };
            let mut child = Command::new(BIN)
                .args(["--listen", &listen])
                .args(store.args())
                .args(flags)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut line = String::new();
            BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
            if let Some(url) = line.trim().strip_prefix("listening on ") {
                assert!(url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"), "{url}");
                return RelayProcess { url: url.to_owned(), child };
            }
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the relay did not start");
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.url.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap()
    }

    /// SIGKILL: no clean shutdown, nothing flushed that was not already.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        let status = self.child.wait().unwrap();
        assert!(!status.success(), "the relay was not killed: {status}");
    }

    /// SIGTERM, and a clean exit within 10 s.
    pub fn stop(mut self) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "the relay exited with {status}");
                return;
            }
            assert!(Instant::now() < deadline, "the relay did not stop within 10 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A plain HTTP client for what phones do not do (health checks, unknown paths).
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(30))).build().into()
}

/// A phone of `member`: a code from the admin command, enrolled over HTTP at `url` into a
/// new store in `dir`, as `timebank enroll` does.
pub fn enrolled_phone(url: &str, data: &Path, member: &str, dir: &Path) -> Engine {
    enrolled_phone_on(url, Store::Data(data), member, dir)
}

/// [`enrolled_phone`] with the code from the admin command on `store`.
pub fn enrolled_phone_on(url: &str, store: Store<'_>, member: &str, dir: &Path) -> Engine {
    let code = admin_on(store, &["enroll-code", "--member", member])["code"].as_str().unwrap().to_owned();
    enroll_store(dir, url, &code, Arc::new(SystemClock)).unwrap()
}

/// The phone's HTTP transport to the relay at `url` (which may differ from the one it
/// enrolled with after a restart on another port).
pub fn transport(engine: &Engine, url: &str) -> HttpTransport {
    let link = engine.relay_link().unwrap().unwrap();
    HttpTransport::new(&RelayLink { url: url.to_owned(), ..link })
}

/// An hour of companionship with `elder` (a member id) that ended `hours_ago - 1` hours ago.
pub fn visit(elder: &str, hours_ago: i64) -> PastVisit {
    let now = chrono::Utc::now();
    PastVisit {
        elder: MemberId::parse(elder).unwrap(),
        service: "companionship".into(),
        order: None,
        start: now - chrono::Duration::hours(hours_ago),
        end: now - chrono::Duration::hours(hours_ago - 1),
        note: String::new(),
    }
}
