//! The quick-upload index (docs/smh-api.md §5.8): a confirmed file's `beginningHash` and `fullHash`,
//! computed from the stored bytes off the confirm path.
//!
//! Confirm answers as soon as the object exists (a multipart object is completed without
//! reading a byte, see `store`), so the one full read these hashes need happens here, in the
//! background, one object at a time. Until they are recorded the file is *pending*: a
//! quick-upload lookup for a file of the same size first waits for the pending objects of that
//! size (at most [`PENDING_WAIT_LIMIT`]), so a quick upload of the same content right after its
//! confirm still hits — what a client sees is the same as if confirm had hashed inline, only
//! the confirm is faster. A hit right after confirm is the behaviour clients rely on.
//! Unconfirmed: docs/devserver-fidelity.md#smh-quick-index-timing
//!
//! A pending file's row has no hashes; on start-up such rows (the server stopped before their
//! hashing ended) are queued again ([`resume`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::params;
use tokio::sync::{watch, Semaphore};

use super::error::{SmhError, SmhResult};
use super::hashes::{quick_hashes, QUICK_MIN_SIZE};
use crate::state::AppState;

/// Longest a quick-upload lookup waits for pending objects of its size before it answers from
/// the index as it is (hashing runs at hundreds of MB/s: this covers objects of many GB).
pub const PENDING_WAIT_LIMIT: Duration = Duration::from_secs(60);

/// Objects whose hashes are being computed, and a signal for each one finished.
pub struct QuickIndex {
    /// object key → size.
    pending: Mutex<HashMap<String, u64>>,
    /// Bumped whenever an object leaves `pending`.
    finished: watch::Sender<u64>,
    /// One object hashed at a time (the machine's other core keeps serving uploads).
    hashing: Semaphore,
}

impl Default for QuickIndex {
    fn default() -> Self {
        QuickIndex { pending: Mutex::new(HashMap::new()), finished: watch::Sender::new(0), hashing: Semaphore::new(1) }
    }
}

impl QuickIndex {
    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Marks `object_key` (of `size` bytes) pending. Call before its file row is committed, so
    /// that no lookup can see the file without seeing it pending.
    pub fn mark_pending(&self, object_key: &str, size: u64) {
        self.pending().insert(object_key.to_string(), size);
    }

    /// Takes `object_key` out of `pending` (hashed, failed, or its file was never committed).
    pub fn finish(&self, object_key: &str) {
        if self.pending().remove(object_key).is_some() {
            self.finished.send_modify(|n| *n += 1);
        }
    }

    /// Waits until no object of `size` bytes is pending, or [`PENDING_WAIT_LIMIT`] passed.
    pub async fn settled(&self, size: u64) {
        let mut finished = self.finished.subscribe();
        let wait = async {
            // Subscribed before looking: a finish after the look wakes `changed`.
            while self.pending().values().any(|s| *s == size) {
                if finished.changed().await.is_err() {
                    return;
                }
            }
        };
        if tokio::time::timeout(PENDING_WAIT_LIMIT, wait).await.is_err() {
            tracing::warn!(size, "smh: quick-upload lookup stopped waiting for pending hashes");
        }
    }
}

/// Computes and records the hashes of a pending object in the background; the object leaves
/// `pending` whatever happens (a failure is logged: that file is then not quick-uploadable).
pub fn hash_in_background(state: &AppState, object_key: String) {
    let state = state.clone();
    tokio::spawn(async move {
        let outcome = {
            let _turn = state.quick.hashing.acquire().await;
            record_hashes(&state, &object_key).await
        };
        if let Err(e) = outcome {
            tracing::warn!(error = %e, "smh: could not compute quick-upload hashes");
        }
        state.quick.finish(&object_key);
    });
}

async fn record_hashes(state: &AppState, object_key: &str) -> SmhResult<()> {
    // Gone meanwhile (the file was deleted or overwritten): nothing to index.
    let Some((beginning, full)) = object_hashes(state, object_key).await? else {
        return Ok(());
    };
    state.db.lock().execute(
        "UPDATE smh_nodes SET beginning_hash = ?1, full_hash = ?2 WHERE object_key = ?3",
        params![beginning, full, object_key],
    )?;
    Ok(())
}

/// Quick-upload hashes of a stored object, computed from its bytes off the async threads;
/// `None` if there is no such object.
async fn object_hashes(state: &AppState, key: &str) -> SmhResult<Option<(String, String)>> {
    let Some((_, bytes)) = state.store.open_object(key)? else {
        return Ok(None);
    };
    let hashes = tokio::task::spawn_blocking(move || quick_hashes(bytes.into_reader()))
        .await
        .map_err(|e| SmhError::Internal(format!("hash task: {e}")))?
        .map_err(|e| SmhError::Internal(format!("hash read: {e}")))?;
    Ok(Some(hashes))
}

/// Start-up: queues the files whose hashes were never recorded.
pub fn resume(state: &AppState) -> SmhResult<()> {
    let unhashed: Vec<(String, i64)> = {
        let conn = state.db.lock();
        let mut stmt = conn.prepare(
            "SELECT object_key, size FROM smh_nodes
             WHERE is_dir = 0 AND object_key IS NOT NULL AND size >= ?1 AND beginning_hash IS NULL",
        )?;
        let rows = stmt.query_map([QUICK_MIN_SIZE as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    for (object_key, size) in unhashed {
        state.quick.mark_pending(&object_key, size as u64);
        hash_in_background(state, object_key);
    }
    Ok(())
}
