//! Phones for the console tests: the console's relay also served on 127.0.0.1, and the
//! shared test phones enrolled and synced over HTTP, so what a coordinator decides in the
//! console is seen where volunteers see it.

use std::ops::{Deref, DerefMut};
use std::path::PathBuf;

use timebank_engine::model::{MemberId, VisitId};
use timebank_server::store::MemberRecord;

use crate::support::Console;

/// The console's relay on a socket: its address, served until the test ends.
pub struct Served {
    pub url: String,
}

impl Served {
    /// Serves `console`'s relay on 127.0.0.1.
    pub fn start(console: &Console) -> Served {
        Served { url: console.url() }
    }

    /// A phone of `member`, enrolled with a fresh code as `timebank enroll` does.
    pub fn phone(&self, console: &Console, member: &MemberRecord) -> Phone {
        Phone(console.http_phone_via(&self.url, member))
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

/// The shared test phone, as these tests use it: a sync must succeed, a visit is logged
/// at a given time.
pub struct Phone(timebank_testing::Phone);

impl Deref for Phone {
    type Target = timebank_testing::Phone;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Phone {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Phone {
    /// Syncs with the relay it enrolled with.
    pub fn sync(&mut self) {
        self.0.sync().unwrap();
    }

    /// Logs a finished visit to `elder` from `hours_ago` for `minutes`.
    pub fn log_visit(&mut self, elder: &MemberId, hours_ago: i64, minutes: i64, note: &str) -> VisitId {
        self.0.log_visit_at(elder, hours_ago, minutes, note)
    }

    /// The store directory.
    pub fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}
