//! The one SQLite connection (metadata only; object bytes live in files, see [`crate::store`]).

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::Connection;

/// Shared SQLite handle.
///
/// This is a `std::sync::Mutex` and not a Tokio mutex: no `.await` happens while it is held, and
/// every statement is short (bytes are never stored in SQLite). Long file work (hashing,
/// assembling parts) runs outside the lock.
#[derive(Clone)]
pub struct Db(Arc<Mutex<Connection>>);

impl Db {
    /// Opens (creating) `dir/meta.sqlite` in WAL mode with `synchronous=NORMAL`: a committed row
    /// survives `kill -9` of the server (the WAL is written before the commit returns); only a
    /// machine crash may lose the last commits, as it may the object files, which are not
    /// fsync'ed either (see `store::files`).
    pub fn open(dir: &Path) -> rusqlite::Result<Db> {
        let conn = Connection::open(dir.join(crate::datadir::DATABASE))?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;",
        )?;
        Ok(Db(Arc::new(Mutex::new(conn))))
    }

    /// Locks the connection. A poisoned lock (a panic in another handler) is recovered: SQLite
    /// itself keeps the data consistent, the lock protects no Rust invariant.
    pub fn lock(&self) -> MutexGuard<'_, Connection> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
