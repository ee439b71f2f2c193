//! Checkpoints the SQLite store's write-ahead log on a thread of its own, so that no sync's
//! commit copies the log into the file and flushes it while the phone waits (ADR 52).

use std::os::raw::c_int;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;

use rusqlite::Connection;
use rusqlite::hooks::Wal;

use crate::store::StoreResult;

/// Pages in the log after a commit from which a checkpoint is due: SQLite's own default
/// for the checkpoint it would otherwise run inside that commit.
const DUE_AT_PAGES: c_int = 1000;

/// The checkpointing thread, woken by the writer's commits; stopped and joined on drop.
#[derive(Debug)]
pub(super) struct Checkpointer {
    bell: Arc<Bell>,
    thread: Option<JoinHandle<()>>,
}

/// What the writer tells the thread: a checkpoint is due, or the store is closing.
#[derive(Debug, Default)]
struct Bell {
    state: Mutex<Rung>,
    rung: Condvar,
}

#[derive(Debug, Default)]
struct Rung {
    due: bool,
    stop: bool,
}

impl Bell {
    fn ring(&self, stop: bool) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.due = true;
        state.stop |= stop;
        self.rung.notify_one();
    }

    /// Waits for the next ring; `false` once the store is closing.
    fn wait(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        while !state.due {
            state = self.rung.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        state.due = false;
        !state.stop
    }
}

impl Checkpointer {
    /// Opens the thread's own connection to the store at `path` and takes the checkpoints
    /// over from `writer` (whose automatic checkpoint this replaces).
    pub(super) fn start(
        path: &Path,
        writer: &mut Connection,
        configure: impl Fn(&mut Connection) -> rusqlite::Result<()>,
    ) -> StoreResult<Checkpointer> {
        let mut conn = Connection::open(path)?;
        configure(&mut conn)?;
        let bell = Arc::new(Bell::default());
        let thread = std::thread::Builder::new().name("checkpoint".into()).spawn({
            let bell = Arc::clone(&bell);
            move || {
                while bell.wait() {
                    // PASSIVE: copies what no reader still needs, never waits for the writer
                    // or a reader; what it leaves is copied by the next one.
                    if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                        tracing::warn!(%error, "could not checkpoint the store's write-ahead log; the next commit will ask again");
                    }
                }
            }
        })?;
        let hook_bell = Arc::clone(&bell);
        writer.wal_hook(Some(move |_: &mut Wal, pages: c_int| {
            if pages >= DUE_AT_PAGES {
                hook_bell.ring(false);
            }
            Ok(())
        }))?;
        Ok(Checkpointer { bell, thread: Some(thread) })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.bell.ring(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
