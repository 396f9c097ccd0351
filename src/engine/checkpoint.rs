//! Resumable-upload records: what a multipart upload must remember to continue after a reload,
//! kept in the client's [`CheckpointStore`].
//!
//! - **Key**: a digest of (library, space, target path, size, the source's fingerprint — name,
//!   lastModified where known — and, for sources without a modification time, the SHA-256 of
//!   the first 1 MiB; a `File` is found by its fingerprint alone, so nothing is hashed before its
//!   first byte goes out). Never the token: a record alone cannot authorise anything; resuming
//!   needs a valid access token again.
//! - **Record**: the server upload it continues (COS's UploadId, and SMH's confirmKey for an SMH
//!   upload), the part size, and the parts done with their CRC-64s (so the confirm still carries
//!   the whole file's CRC without reading it again). Written as parts complete, at most once per
//!   [`SAVE_INTERVAL_MS`] (and on pause/stop).
//! - **Index**: one extra entry, [`INDEX_KEY`], lists the records (`pendingUploads()` reads it),
//!   each with its client's *scope* (the SMH library and space, or the COS bucket's domain).
//!   A client lists, prunes and discards only the records of its own scope: the page's other
//!   clients may upload elsewhere, and a record is continued or cancelled only with the
//!   credentials of the service that opened it. Entries saved before scopes existed have none
//!   and belong to every client, as they did then. Of a scope, records older than
//!   [`MAX_AGE_MS`] or beyond the newest [`MAX_RECORDS`] are dropped, so storage stays bounded.
//! - **Bounds**: every call into the store (a custom store's `get`/`set`/`remove`, IndexedDB)
//!   is given the client's request timeout; one that has not settled by then counts as a failed
//!   one (nothing read, nothing written) and the upload goes on, so the index's read-modify-write
//!   holds its lock for a few such bounds at most; and a custom store has a lock of its own: a
//!   store that never answers cannot hold up the records of every other client on the page.
//! - **Claims**: one upload per record at a time in a client; a claim is released on every exit,
//!   a cancel while the record loads included. Across the page's clients and the origin's tabs,
//!   the upload holds its record ([`crate::platform::hold_record`]: the Web Locks API) for its
//!   life; an upload that finds its record held goes its own way: a server upload of its own,
//!   and no record.
//! - **Pruned records** name server uploads nobody will continue: they are queued
//!   ([`Checkpoints::take_pruned`]) for the client to cancel (SMH) or abort (COS), so that COS
//!   does not keep their parts.
//!
//! On the next `upload()` of the same file to the same target, the engine asks the server which
//! parts it holds (SMH's task, whose `parts` is COS's ListParts; ListParts itself for direct COS
//! — the truth when the record and the server disagree) and sends only the missing ones (see
//! `engine::upload::perform_upload`).

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::FutureExt;

use super::lock::Lock;
use super::plan::{PartDone, PartsDone};
use crate::checksum::hex;
use crate::json::{self, Writer};
use crate::platform::{hold_record, sha256, CheckpointStore, Hold, LocalBoxFuture, Timer};
use crate::vecmap::{sort_by, VecSet};

/// Format version of records; others are ignored (and replaced). 2: written by [`crate::json`]
/// (parts as `[number, length, "crc"]`, times in whole milliseconds).
const VERSION: u32 = 2;
/// The store key of the index of records.
pub const INDEX_KEY: &str = "index";
/// Records not updated for this long are forgotten (SMH upload tasks do not live longer).
pub const MAX_AGE_MS: f64 = 7.0 * 24.0 * 3600.0 * 1000.0;
/// At most this many records are kept; the oldest go first.
pub const MAX_RECORDS: usize = 50;
/// Minimum time between two writes of one record while parts complete.
pub const SAVE_INTERVAL_MS: f64 = 1000.0;

/// What identifies "the same upload" across reloads.
pub struct Identity<'a> {
    pub library_id: &'a str,
    pub space_id: &'a str,
    pub path: &'a str,
    pub size: u64,
    pub fingerprint: &'a str,
    /// Hex SHA-256 of the first 1 MiB (the quick-upload beginning hash).
    pub beginning_hash: &'a str,
}

impl Identity<'_> {
    /// The record's store key: the SHA-256 of the fields, each followed by a NUL byte (records
    /// saved by earlier versions are found by it: its value must not change).
    pub fn key(&self) -> String {
        let mut bytes = Vec::new();
        for part in [
            self.library_id,
            self.space_id,
            self.path,
            &json::u64_to_string(self.size),
            self.fingerprint,
            self.beginning_hash,
        ] {
            bytes.extend_from_slice(part.as_bytes());
            bytes.push(0);
        }
        crate::text::concat(&["up:", &hex(&sha256(&bytes)[..16])])
    }
}

/// One resumable upload.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Target path in the library, as given to `upload()`.
    pub path: String,
    /// File name (from the source's fingerprint), for display.
    pub name: String,
    pub size: u64,
    pub part_size: u64,
    /// The multipart upload it continues (COS's UploadId); `None` until one is open.
    pub upload_id: Option<String>,
    /// SMH's confirmKey of that upload; `None` for a direct-COS upload, whose object key is
    /// `path`.
    pub confirm_key: Option<String>,
    /// The parts the server acknowledged (without ETags).
    pub parts: PartsDone,
    pub created_at: f64,
    pub updated_at: f64,
}

impl Record {
    /// A record of an upload to `path` that has no server upload yet.
    pub fn new(path: &str, name: &str, size: u64, part_size: u64, now: f64) -> Record {
        Record {
            path: path.to_string(),
            name: name.to_string(),
            size,
            part_size,
            upload_id: None,
            confirm_key: None,
            parts: PartsDone::new(),
            created_at: now,
            updated_at: now,
        }
    }

    /// Bytes of the parts done.
    pub fn loaded(&self) -> u64 {
        super::plan::loaded(&self.parts)
    }
}

/// An unfinished upload, as `pendingUploads()` lists it: its entry in the index.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub key: String,
    /// The saving client's [`Checkpoints::scope`]; empty in entries saved before scopes existed.
    pub scope: String,
    pub path: String,
    pub name: String,
    pub size: u64,
    pub loaded: u64,
    pub updated_at: f64,
}

#[derive(Debug, Default)]
struct Index {
    entries: Vec<Pending>,
}

thread_local! {
    /// One lock for every client of the page over the page's storage (IndexedDB, localStorage,
    /// wx storage): clients would otherwise interleave their read-modify-write of the index and
    /// bring back entries another client removed.
    static INDEX_LOCK: Lock = Lock::new();
}

/// The checkpoint keys a client's running uploads hold (one upload per record).
#[derive(Debug, Default)]
struct Claims(RefCell<VecSet<String>>);

/// Releases the claim on a key when dropped before [`Unclaim::keep`]: a future dropped midway
/// (the upload cancelled while its record loads) must not leave the key claimed for the life
/// of the client — `pendingUploads()` would hide its record and later uploads of the file
/// would keep none.
struct Unclaim<'a> {
    claims: &'a Claims,
    key: &'a str,
    armed: bool,
}

impl Unclaim<'_> {
    /// The load finished: the upload holds the claim and releases it when it ends.
    fn keep(mut self) {
        self.armed = false;
    }
}

impl Drop for Unclaim<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.claims.0.borrow_mut().remove(self.key);
        }
    }
}

/// A record [`Checkpoints::take_pruned`] hands over: its key and what it said.
pub type Pruned = (String, Box<Record>);

/// How long a store call may take, and the timer that says when that is over.
struct Bound {
    timer: Rc<dyn Timer>,
    limit: Duration,
}

/// The records of a client, over its store.
pub struct Checkpoints {
    store: Rc<dyn CheckpointStore>,
    /// Serialises index updates: page-wide for the page's own storage, per client for a custom
    /// store (which may hang without holding up anyone else's).
    lock: Lock,
    bound: Option<Bound>,
    claims: Claims,
    /// Records pruned whose server uploads are still to be cancelled.
    pruned: RefCell<Vec<Pruned>>,
    /// Whose records these are: the index entries this client lists, prunes and discards.
    scope: String,
}

impl Checkpoints {
    /// The records of `scope` over `store`, whose calls take as long as they take (tests).
    pub fn new(store: Rc<dyn CheckpointStore>, scope: &str) -> Checkpoints {
        Checkpoints::with_bound(store, scope, None)
    }

    /// The records of `scope` over `store`, each call to it given at most `limit` (see the
    /// module docs).
    pub fn bounded(store: Rc<dyn CheckpointStore>, scope: &str, timer: Rc<dyn Timer>, limit: Duration) -> Checkpoints {
        Checkpoints::with_bound(store, scope, Some(Bound { timer, limit }))
    }

    fn with_bound(store: Rc<dyn CheckpointStore>, scope: &str, bound: Option<Bound>) -> Checkpoints {
        let lock = if store.page_wide() { INDEX_LOCK.with(Lock::clone) } else { Lock::new() };
        let scope = scope.to_string();
        Checkpoints { store, lock, bound, claims: Claims::default(), pruned: RefCell::default(), scope }
    }

    /// Whether `entry` is this client's to list, prune and discard.
    fn owns(&self, entry: &Pending) -> bool {
        entry.scope.is_empty() || entry.scope == self.scope
    }

    /// Whether records are kept at all (`checkpoints: 'none'` keeps none).
    pub fn enabled(&self) -> bool {
        self.store.enabled()
    }

    /// `work`'s outcome, or `T::default()` (nothing read, nothing written) when it has not
    /// finished within the bound (it is then dropped with this future).
    fn bounded_call<'a, T: Default + 'a>(&'a self, mut work: LocalBoxFuture<'a, T>) -> impl Future<Output = T> + 'a {
        let mut deadline = None;
        poll_fn(move |cx| match work.as_mut().poll(cx) {
            Poll::Pending if self.expired(&mut deadline, cx) => Poll::Ready(T::default()),
            outcome => outcome,
        })
    }

    /// Whether the bound of a call that is still running is over; its timer starts the first
    /// time the call is found running (a store that answers at once, localStorage or memory,
    /// needs no timer).
    fn expired(&self, deadline: &mut Option<LocalBoxFuture<'static, ()>>, cx: &mut Context<'_>) -> bool {
        let Some(bound) = &self.bound else { return false };
        deadline.get_or_insert_with(|| bound.timer.sleep(bound.limit)).as_mut().poll(cx).is_ready()
    }

    fn get(&self, key: &str) -> impl Future<Output = Option<String>> + '_ {
        self.bounded_call(self.store.get(key))
    }

    /// Writes `text` under `key`, or removes it (`None`).
    fn put(&self, key: &str, text: Option<String>) -> impl Future<Output = ()> + '_ {
        self.bounded_call(match text {
            Some(text) => self.store.set(key, text),
            None => self.store.remove(key),
        })
    }

    /// Marks record `key` as in use by an upload; `false` if another upload of this client has it.
    pub fn claim(&self, key: &str) -> bool {
        self.claims.0.borrow_mut().insert(key.to_string())
    }

    pub fn release(&self, key: &str) {
        self.claims.0.borrow_mut().remove(key);
    }

    /// Whether an upload of this client holds `key`.
    pub fn is_claimed(&self, key: &str) -> bool {
        self.claims.0.borrow().contains(key)
    }

    /// For the upload that has just claimed `key` (see [`Checkpoints::claim`]): holds it against
    /// the page's other clients and the origin's other tabs, for as long as the upload keeps the
    /// [`Hold`], and reads the record (none of this format: `None`). `None` for the whole: one
    /// of them holds it, and the claim is released. Dropped before it finishes, it releases the
    /// claim.
    pub async fn load(&self, key: &str) -> Option<(Hold, Option<Box<Record>>)> {
        let unclaim = Unclaim { claims: &self.claims, key, armed: true };
        let hold = hold_record(key).await?;
        let record = self.read(key).await;
        unclaim.keep();
        Some((hold, record))
    }

    /// The record under `key`, if one of this format exists (however old).
    pub fn read(&self, key: &str) -> impl Future<Output = Option<Box<Record>>> + '_ {
        let mut get = self.get(key);
        poll_fn(move |cx| Pin::new(&mut get).poll(cx).map(|text| Record::from_json(&text?)))
    }

    /// The records pruned since the last call, whose server uploads may still be open: the
    /// caller cancels those no upload holds ([`hold_record`]), best effort.
    pub fn take_pruned(&self) -> Vec<Pruned> {
        std::mem::take(&mut *self.pruned.borrow_mut())
    }

    /// Writes `record` under `key` and its index entry; prunes old records. The returned future
    /// borrows neither: the caller may change the record while it runs.
    pub fn save(&self, key: &str, record: &Record) -> impl Future<Output = ()> + '_ {
        let entry = Box::new(Pending {
            key: key.to_string(),
            scope: self.scope.clone(),
            path: record.path.clone(),
            name: record.name.clone(),
            size: record.size,
            loaded: record.loaded(),
            updated_at: record.updated_at,
        });
        let now = entry.updated_at;
        self.edit(Some(key.to_string()), Some((record.to_json(), entry)), now).map(drop)
    }

    /// Forgets the record under `key`.
    pub fn remove(&self, key: &str) -> impl Future<Output = ()> + '_ {
        self.edit(Some(key.to_string()), None, 0.0).map(drop)
    }

    /// This client's unfinished uploads that none of its uploads runs now ([`Checkpoints::claim`]),
    /// newest first. Its entries whose record is gone (another tab removed it) are dropped from
    /// the index.
    pub fn pending(&self, now: f64) -> impl Future<Output = Vec<Pending>> + '_ {
        self.edit(None, None, now)
    }

    /// One read-modify-write of the index, under the lock (one state machine for [`save`],
    /// [`remove`] and [`pending`]). With a `key`: writes `saved`'s text under it and puts its
    /// entry in the key's place in the index, pruning old records at `now`; or, given `None`,
    /// removes both. Without a key: prunes at `now`, drops this client's entries whose record
    /// is gone, and answers this client's unclaimed entries (newest first, as pruning sorted
    /// them).
    ///
    /// [`save`]: Checkpoints::save
    /// [`remove`]: Checkpoints::remove
    /// [`pending`]: Checkpoints::pending
    async fn edit(&self, key: Option<String>, saved: Option<(String, Box<Pending>)>, now: f64) -> Vec<Pending> {
        let _one = self.lock.lock().await;
        let (text, entry) = saved.unzip();
        if let Some(key) = &key {
            self.put(key, text).await;
        }
        let mut index = self.index().await;
        let before = index.entries.len();
        let listing = key.is_none();
        if let Some(key) = &key {
            drop_entries(&mut index.entries, |e| e.key == *key);
        }
        let saving = entry.is_some();
        if let Some(entry) = entry {
            index.entries.push(*entry);
        }
        if saving || listing {
            // This client's expired and surplus entries (and their records) are dropped.
            sort_by(&mut index.entries, |a, b| a.updated_at.total_cmp(&b.updated_at).is_gt());
            let mut kept = 0;
            let mut i = 0;
            while let Some(entry) = index.entries.get(i) {
                // Another scope's records are pruned by their own clients, which can cancel them.
                let mine = self.owns(entry);
                if !mine || (now - entry.updated_at <= MAX_AGE_MS && kept < MAX_RECORDS) {
                    kept += usize::from(mine);
                    i += 1;
                    continue;
                }
                let key = index.entries.remove(i).key;
                let record = self.read(&key).await;
                self.put(&key, None).await;
                if let Some(record) = record.filter(|r| r.upload_id.is_some()) {
                    self.pruned.borrow_mut().push((key, record));
                }
            }
        }
        let mut i = 0;
        // Listing only (one loop whichever the call: smaller than the same loop in an `if`).
        while let (true, Some(entry)) = (listing, index.entries.get(i)) {
            if self.owns(entry) && self.get(&entry.key).await.is_none() {
                index.entries.remove(i);
            } else {
                i += 1;
            }
        }
        if saving || index.entries.len() != before {
            self.write_index(&index).await;
        }
        if listing {
            drop_entries(&mut index.entries, |e| !self.owns(e) || self.is_claimed(&e.key));
        }
        index.entries
    }

    fn index(&self) -> impl Future<Output = Index> + '_ {
        let mut get = self.get(INDEX_KEY);
        poll_fn(move |cx| Pin::new(&mut get).poll(cx).map(|text| Index::read(text.as_deref())))
    }

    /// Writes the index; an empty one is removed.
    fn write_index(&self, index: &Index) -> impl Future<Output = ()> + '_ {
        self.put(INDEX_KEY, (!index.entries.is_empty()).then(|| index.to_json()))
    }
}

/// Drops the entries `drop` picks: `retain` in a loop that is less code than `retain`'s own.
fn drop_entries(entries: &mut Vec<Pending>, drop: impl Fn(&Pending) -> bool) {
    let mut i = 0;
    while let Some(entry) = entries.get(i) {
        if drop(entry) {
            entries.remove(i);
        } else {
            i += 1;
        }
    }
}

// The stored JSON form, read and written with `crate::json` (see its module doc for why not
// serde). A record or index that does not read back whole is ignored, as a missing one is.

/// Unix times are kept in whole milliseconds (they come from `Date.now()`).
fn millis(t: f64) -> u64 {
    if t > 0.0 {
        t as u64
    } else {
        0
    }
}

/// The stored text of a record or index, if it is JSON of this format ([`VERSION`]).
fn parse_stored(stored: &str) -> Option<json::Value> {
    let v = json::parse(stored.as_bytes()).ok()?;
    (v.u64_at("v")? == u64::from(VERSION)).then_some(v)
}

impl Record {
    fn to_json(&self) -> String {
        let mut w = Writer::new();
        w.open('{')
            .u64_member("v", VERSION.into())
            .str_member("path", &self.path)
            .str_member("name", &self.name)
            .u64_member("size", self.size)
            .u64_member("partSize", self.part_size)
            .str_member("confirmKey", self.confirm_key.as_deref().unwrap_or_default())
            .str_member("uploadId", self.upload_id.as_deref().unwrap_or_default())
            .key("parts")
            .open('[');
        for p in self.parts.values() {
            w.open('[').u64(u64::from(p.number)).u64(p.len).str(&json::u64_to_string(p.crc64)).close(']');
        }
        w.close(']')
            .u64_member("createdAt", millis(self.created_at))
            .u64_member("updatedAt", millis(self.updated_at))
            .close('}')
            .finish()
    }

    // Every member is read before anything is copied: a record that does not read back then
    // has little to drop.
    fn from_json(stored: &str) -> Option<Box<Record>> {
        let v = parse_stored(stored)?;
        let (path, name) = (v.str_at("path")?, v.str_at("name")?);
        let (size, part_size) = (v.u64_at("size")?, v.u64_at("partSize")?);
        let (confirm_key, upload_id) = (v.str_at("confirmKey")?, v.str_at("uploadId")?);
        let (created_at, updated_at) = (v.u64_at("createdAt")?, v.u64_at("updatedAt")?);
        let mut parts = PartsDone::new();
        for part in v.get("parts")?.as_array()? {
            let [n, len, crc] = part.as_array()? else { return None };
            let number = u32::try_from(n.as_u64()?).ok()?;
            parts.insert(number, PartDone { number, len: len.as_u64()?, crc64: crc.to_u64()?, etag: None });
        }
        // Stored as "" when absent.
        let given = |s: &str| (!s.is_empty()).then(|| s.to_string());
        Some(Box::new(Record {
            path: path.to_string(),
            name: name.to_string(),
            size,
            part_size,
            confirm_key: given(confirm_key),
            upload_id: given(upload_id),
            parts,
            created_at: created_at as f64,
            updated_at: updated_at as f64,
        }))
    }
}

impl Index {
    fn to_json(&self) -> String {
        let mut w = Writer::new();
        w.open('{').u64_member("v", VERSION.into()).key("entries").open('[');
        for e in &self.entries {
            w.open('{')
                .str_member("key", &e.key)
                .str_member("scope", &e.scope)
                .str_member("path", &e.path)
                .str_member("name", &e.name)
                .u64_member("size", e.size)
                .u64_member("loaded", e.loaded)
                .u64_member("updatedAt", millis(e.updated_at))
                .close('}');
        }
        w.close(']').close('}').finish()
    }

    /// The stored index, or an empty one where there is none of this format.
    fn read(stored: Option<&str>) -> Index {
        stored.and_then(Index::from_json).unwrap_or_default()
    }

    fn from_json(stored: &str) -> Option<Index> {
        let v = parse_stored(stored)?;
        let mut entries = Vec::new();
        for e in v.get("entries")?.as_array()? {
            let (key, path, name) = (e.str_at("key")?, e.str_at("path")?, e.str_at("name")?);
            let (size, loaded, updated_at) = (e.u64_at("size")?, e.u64_at("loaded")?, e.u64_at("updatedAt")?);
            entries.push(Pending {
                key: key.to_string(),
                scope: e.str_at("scope").unwrap_or_default().to_string(),
                path: path.to_string(),
                name: name.to_string(),
                size,
                loaded,
                updated_at: updated_at as f64,
            });
        }
        Some(Index { entries })
    }
}

#[cfg(test)]
#[path = "checkpoint_tests.rs"]
mod tests;
