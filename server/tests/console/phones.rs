//! Phones for the console tests: the console's relay also served on a real socket on
//! 127.0.0.1, and engines enrolled and synced over HTTP with the CLI's own client, so
//! what a coordinator decides in the console is seen where volunteers see it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tempfile::TempDir;
use timebank_cli::relay::{HttpTransport, enroll_store};
use timebank_engine::model::{MemberId, VisitId};
use timebank_engine::{Engine, PastVisit, SystemClock};
use timebank_server::registry;
use timebank_server::store::MemberRecord;

use crate::support::Console;

/// The console's relay on a socket: its address, served until the test ends.
pub struct Served {
    pub url: String,
}

impl Served {
    /// Serves `console`'s router (the same relay) on 127.0.0.1 in a background thread.
    pub fn start(console: &Console) -> Served {
        let router = console.router.clone();
        let (tx, rx) = std::sync::mpsc::channel::<SocketAddr>();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                axum::serve(listener, router).await.unwrap();
            });
        });
        let addr = rx.recv().unwrap();
        Served { url: format!("http://{addr}") }
    }

    /// A phone of `member`, enrolled with a fresh code as `timebank enroll` does.
    pub fn phone(&self, console: &Console, member: &MemberRecord) -> Phone {
        let (code, _) = registry::issue_enrollment_code(&console.relay, member.id.as_str(), 7).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let engine = enroll_store(dir.path(), &self.url, &code, Arc::new(SystemClock)).unwrap();
        Phone { engine, dir, member: member.clone() }
    }
}

/// A volunteer (李伟) and an elder (王芳) of the console's station, and the volunteer's
/// phone on the served relay, synced once.
pub struct Pair {
    pub served: Served,
    pub volunteer: MemberRecord,
    pub elder: MemberRecord,
    pub phone: Phone,
}

impl Pair {
    pub fn new(console: &Console) -> Pair {
        let served = Served::start(console);
        let volunteer = console.member("volunteer", "李伟");
        let elder = console.member("elder", "王芳");
        let mut phone = served.phone(console, &volunteer);
        phone.sync();
        Pair { served, volunteer, elder, phone }
    }
}

/// An enrolled phone.
pub struct Phone {
    pub engine: Engine,
    pub dir: TempDir,
    pub member: MemberRecord,
}

impl Phone {
    /// Syncs with the relay it enrolled with.
    pub fn sync(&mut self) {
        let link = self.engine.relay_link().unwrap().unwrap();
        self.engine.sync(&mut HttpTransport::new(&link)).unwrap();
    }

    /// Logs a finished visit to `elder` from `start` (hours ago) for `minutes`.
    pub fn log_visit(&mut self, elder: &MemberId, hours_ago: i64, minutes: i64, note: &str) -> VisitId {
        let start: DateTime<Utc> = Utc::now() - Duration::hours(hours_ago);
        self.engine
            .log_visit(&PastVisit {
                elder: elder.clone(),
                service: "companionship".into(),
                order: None,
                start,
                end: start + Duration::minutes(minutes),
                note: note.into(),
            })
            .unwrap()
    }

    /// The confirmed balance in minutes.
    pub fn confirmed(&self) -> i64 {
        self.engine.balance().confirmed_minutes
    }

    /// The store directory.
    pub fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}
