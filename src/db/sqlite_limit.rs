//! A statement time limit for SQLite, like PostgreSQL's `statement_timeout`:
//! a statement still running after `TASKLANE_STATEMENT_TIMEOUT_MS` is
//! interrupted (it fails with SQLITE_INTERRUPT, its transaction rolls back,
//! the request gets an error), so a slow search can not keep a pooled
//! connection, or the single writer, after its request has given up.
//!
//! SQLite has no such setting; it calls a *progress handler* every
//! [`STEPS`] virtual-machine instructions, and a handler that returns
//! non-zero interrupts the statement. Each connection gets one that
//! compares the clock with the start of the running statement, which the
//! connection's [`Instrumentation`] notes on `StartQuery`.
//!
//! Diesel does not hand out the raw `sqlite3*`, so we learn it the way
//! SQLite extensions do: an auto-extension (registered once per process)
//! runs inside every `sqlite3_open_v2` on the opening thread and leaves the
//! handle in a thread-local, which [`open`] reads right after it opened
//! the connection on that same thread.

#![expect(
    unsafe_code,
    reason = "the SQLite C API: progress handler and auto-extension"
)]

use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Once, OnceLock};
use std::time::{Duration, Instant};

use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::{Connection, ConnectionResult, SqliteConnection};
use libsqlite3_sys as ffi;

use super::counter::CountingProbe;

/// Instructions between two looks at the clock: about a millisecond of
/// work, so the check costs nothing measurable on a long scan and the limit
/// is kept to within a few milliseconds.
const STEPS: c_int = 65_536;

thread_local! {
    /// The handle of the connection this thread opened last.
    static OPENED: Cell<*mut ffi::sqlite3> = const { Cell::new(std::ptr::null_mut()) };
}

/// Runs inside `sqlite3_open_v2` for every connection of the process.
unsafe extern "C" fn note_opened(
    db: *mut ffi::sqlite3,
    _err: *mut *mut c_char,
    _api: *const ffi::sqlite3_api_routines,
) -> c_int {
    OPENED.with(|opened| opened.set(db));
    ffi::SQLITE_OK
}

fn register_once() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // SAFETY: `note_opened` only notes the handle it is given.
        unsafe {
            ffi::sqlite3_auto_extension(Some(note_opened));
        }
    });
}

/// Microseconds since a fixed point of this process (never 0).
fn now_micros() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    let base = *BASE.get_or_init(Instant::now);
    u64::try_from(base.elapsed().as_micros())
        .unwrap_or(u64::MAX)
        .saturating_add(1)
}

/// When the running statement of one connection started (0: none runs),
/// and how long one may run.
struct Deadline {
    started: AtomicU64,
    limit_micros: u64,
}

/// The progress handler: non-zero interrupts the running statement.
unsafe extern "C" fn check(data: *mut c_void) -> c_int {
    // SAFETY: `data` is the `Deadline` that `open` leaked for this
    // connection; the connection's probe frees it only when the connection
    // is dropped, and SQLite never calls the handler after that.
    let deadline = unsafe { &*(data as *const Deadline) };
    let started = deadline.started.load(Ordering::Relaxed);
    c_int::from(started != 0 && now_micros().saturating_sub(started) > deadline.limit_micros)
}

/// The instrumentation of a SQLite connection: counts statements and
/// notes when each starts.
pub struct SqliteProbe {
    counting: CountingProbe,
    deadline: *const Deadline,
}

// SAFETY: the pointer is an `Arc<Deadline>` (Send + Sync) given up to the
// connection, which moves between threads with it.
unsafe impl Send for SqliteProbe {}

impl Instrumentation for SqliteProbe {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        // SAFETY: owned by this probe until it is dropped.
        let deadline = unsafe { &*self.deadline };
        match event {
            InstrumentationEvent::StartQuery { .. } => {
                deadline.started.store(now_micros(), Ordering::Relaxed);
            }
            InstrumentationEvent::FinishQuery { .. } => {
                deadline.started.store(0, Ordering::Relaxed);
            }
            _ => {}
        }
        self.counting.on_connection_event(event);
    }
}

impl Drop for SqliteProbe {
    fn drop(&mut self) {
        // SAFETY: from `Arc::into_raw` in `open`, given back once. SQLite
        // runs the progress handler only inside a statement, and none can
        // run once the connection is being dropped.
        drop(unsafe { Arc::from_raw(self.deadline) });
    }
}

/// Opens `path` (on the calling thread: call it on the blocking pool) with
/// the statement limit `limit` and `counting` as its instrumentation.
pub fn open(
    path: &str,
    limit: Duration,
    counting: CountingProbe,
) -> ConnectionResult<SqliteConnection> {
    register_once();
    OPENED.with(|opened| opened.set(std::ptr::null_mut()));
    let mut conn = SqliteConnection::establish(path)?;
    let db = OPENED.with(|opened| opened.replace(std::ptr::null_mut()));
    if db.is_null() {
        return Err(diesel::ConnectionError::BadConnection(
            "the SQLite statement limit could not be installed".into(),
        ));
    }
    let deadline = Arc::into_raw(Arc::new(Deadline {
        started: AtomicU64::new(0),
        limit_micros: u64::try_from(limit.as_micros()).unwrap_or(u64::MAX),
    }));
    // SAFETY: `db` is the handle `conn` just opened on this thread; the
    // probe that owns `deadline` lives exactly as long as `conn`.
    unsafe {
        ffi::sqlite3_progress_handler(db, STEPS, Some(check), deadline as *mut c_void);
    }
    conn.set_instrumentation(SqliteProbe { counting, deadline });
    Ok(conn)
}
