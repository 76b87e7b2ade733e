//! Checkpointing the WAL on a thread of its own, so the writer does not copy its pages into
//! the database file (and sync that file) inside its own commits.
//!
//! SQLite's automatic checkpoint runs in the connection that commits, after the commit: that
//! writer then copies every page of the WAL into the database file and syncs it before it
//! returns. A file store instead turns the automatic checkpoint off on its connection and
//! runs `PRAGMA wal_checkpoint(PASSIVE)` on a second connection, on a thread, after each
//! commit. A passive checkpoint never blocks the writer, and it does not change durability:
//! a commit is synced in the WAL (`synchronous=FULL`) before it returns, and the checkpoint
//! connection is `synchronous=FULL` too, so the database file is synced before the WAL is
//! reused.
//!
//! The WAL is bounded: when the last checkpoint found it beyond [`WAL_LIMIT_BYTES`], the
//! next write first waits for a checkpoint round that started after the previous commit
//! (with no writer active, that round copies the whole WAL, and the write after it starts
//! the WAL over from its beginning).

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use rusqlite::Connection;

/// A write waits for the checkpointer when the WAL has grown beyond this.
pub(crate) const WAL_LIMIT_BYTES: i64 = 16 * 1024 * 1024;

/// The background checkpointer of one file store.
pub(crate) struct Checkpointer {
    shared: Arc<Shared>,
    /// Frames in the WAL beyond which a write waits ([`WAL_LIMIT_BYTES`] in pages).
    limit_frames: i64,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the checkpointer: a commit or the store's end.
    wake: Condvar,
    /// Wakes writers waiting for a round to end.
    done: Condvar,
}

#[derive(Default)]
struct State {
    /// Commits seen (each asks for a round).
    requested: u64,
    /// The value of `requested` when the last finished round started.
    completed: u64,
    /// Frames in the WAL when the last round ended.
    wal_frames: i64,
    /// The store is closing: the thread ends.
    stop: bool,
    /// The thread has ended (stopped or failed): nobody waits for it any more.
    ended: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is a few counters, consistent after any panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Checkpointer {
    /// Opens a second connection to the store at `path` and starts its thread. `page_size`
    /// is the store's page size in bytes (one WAL frame holds one page). `None` (with a
    /// warning logged) when that fails: the store then keeps SQLite's own checkpoints.
    pub(crate) fn start(path: &Path, page_size: i64) -> Option<Self> {
        let conn = match open(path) {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, "no background WAL checkpoints: cannot open a second connection");
                return None;
            }
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            done: Condvar::new(),
        });
        let thread = std::thread::Builder::new()
            .name("store-checkpoint".into())
            .spawn({
                let shared = shared.clone();
                move || run(&conn, &shared)
            })
            .inspect_err(|e| {
                tracing::warn!(error = %e, "no background WAL checkpoints: cannot start a thread");
            })
            .ok()?;
        Some(Self {
            shared,
            limit_frames: (WAL_LIMIT_BYTES / page_size.max(512)).max(1),
            thread: Some(thread),
        })
    }

    /// Before a write transaction: when the WAL has passed its limit, waits for a round that
    /// started after the last commit.
    pub(crate) fn before_write(&self) {
        let mut state = self.shared.lock();
        if state.wal_frames <= self.limit_frames {
            return;
        }
        let wanted = state.requested;
        while state.completed < wanted && !state.ended {
            state = self
                .shared
                .done
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// After a commit: asks for a round.
    pub(crate) fn committed(&self) {
        let mut state = self.shared.lock();
        state.requested += 1;
        drop(state);
        self.shared.wake.notify_one();
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The checkpointer's own connection.
fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    // The checkpoint syncs the database file before the WAL may be reused.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    Ok(conn)
}

/// The checkpointer's loop: one passive checkpoint per wake-up, until the store closes.
fn run(conn: &Connection, shared: &Shared) {
    let mut state = shared.lock();
    loop {
        while state.requested == state.completed && !state.stop {
            state = shared
                .wake
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if state.stop {
            break;
        }
        let round = state.requested;
        drop(state);
        let outcome = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
        });
        state = shared.lock();
        state.completed = round;
        match outcome {
            Ok((frames, copied)) => {
                tracing::trace!(frames, copied, "WAL checkpoint");
                state.wal_frames = frames;
            }
            // The next commit asks for another round; until one succeeds, a write past the
            // limit waits for each round (and the WAL may grow, as under SQLite's own
            // checkpoints when they fail).
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
        }
        shared.done.notify_all();
    }
    state.ended = true;
    drop(state);
    shared.done.notify_all();
}
