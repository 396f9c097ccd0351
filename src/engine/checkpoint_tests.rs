//! Tests of the checkpoint records (src/engine/checkpoint.rs).
use super::*;
use crate::platform::MemoryCheckpoints;
use futures::executor::block_on;
use std::future::Future;

fn id<'a>(path: &'a str, fingerprint: &'a str) -> Identity<'a> {
    Identity { library_id: "lib", space_id: "-", path, size: 10, fingerprint, beginning_hash: "ab" }
}

#[test]
fn keys_differ_by_every_field_and_hold_no_input() {
    let base = id("a/b.bin", "blob:b.bin:10:5").key();
    assert_eq!(base, id("a/b.bin", "blob:b.bin:10:5").key());
    assert_ne!(base, id("a/c.bin", "blob:b.bin:10:5").key());
    assert_ne!(base, id("a/b.bin", "blob:b.bin:10:6").key());
    assert!(!base.contains("b.bin") && base.starts_with("up:"));
}

/// Records saved by earlier versions are found by their key: its value is fixed (the same in the
/// browser, whose SHA-256 is JavaScript's: tests/web_worker.rs).
#[test]
fn keys_keep_their_value() {
    assert_eq!(id("a/b.bin", "blob:b.bin:10:5").key(), KNOWN_KEY);
}

/// The key of `id("a/b.bin", "blob:b.bin:10:5")`: "up:" and the first 16 bytes, in hex, of the
/// SHA-256 of "lib\0-\0a/b.bin\010\0blob:b.bin:10:5\0ab\0".
const KNOWN_KEY: &str = "up:900221e56ac1b30fea2e68771a6296d4";

#[test]
fn save_load_list_remove() {
    let store = Rc::new(MemoryCheckpoints::default());
    let c = Checkpoints::new(store.clone(), "s");
    let mut r = Record::new("a/b.bin", "b.bin", 10, 5, 1000.0);
    (r.confirm_key, r.upload_id) = (Some("ck".into()), Some("u1".into()));
    r.parts.insert(1, PartDone { number: 1, len: 5, crc64: 42, etag: None });
    block_on(c.save("up:1", &r));
    assert!(c.claim("up:1"));
    let (hold, loaded) = block_on(c.load("up:1")).expect("no one holds it");
    assert_eq!(loaded, Some(Box::new(r.clone())));
    assert!(block_on(c.pending(2000.0)).is_empty(), "not listed while an upload of it runs");
    assert!(block_on(c.load("up:1")).is_none(), "held by the first upload");
    drop(hold);
    c.release("up:1");
    // A direct-COS record names no confirmKey: stored as "", read back as none.
    let cos = Record { confirm_key: None, ..r.clone() };
    block_on(c.save("up:cos", &cos));
    assert_eq!(block_on(c.read("up:cos")).map(|r| r.confirm_key), Some(None));
    block_on(c.remove("up:cos"));
    let pending = block_on(c.pending(2000.0));
    assert_eq!(pending.len(), 1);
    assert_eq!((pending[0].path.as_str(), pending[0].loaded), ("a/b.bin", 5));
    // Too old: pruned from the index with its record, which is handed over for its server
    // upload to be cancelled.
    assert!(block_on(c.pending(1000.0 + MAX_AGE_MS + 1.0)).is_empty());
    assert!(block_on(store.get("up:1")).is_none());
    assert_eq!(c.take_pruned(), vec![("up:1".to_string(), Box::new(r.clone()))]);
    assert!(c.take_pruned().is_empty(), "handed over once");
    block_on(c.save("up:2", &r));
    block_on(c.remove("up:2"));
    assert!(block_on(c.pending(2000.0)).is_empty());
    assert!(block_on(store.get(INDEX_KEY)).is_none(), "an empty index is removed");
}

/// Only the listing checks that the index's records still exist (one store read each): a save
/// or a removal leaves the entry of a record another tab removed for the next listing.
#[test]
fn only_the_listing_drops_entries_whose_record_is_gone() {
    let store = Rc::new(MemoryCheckpoints::default());
    let c = Checkpoints::new(store.clone(), "s");
    let r = Record::new("a/b.bin", "b.bin", 10, 5, 1000.0);
    for key in ["up:gone", "up:1", "up:2"] {
        block_on(c.save(key, &r));
    }
    block_on(store.remove("up:gone"));
    block_on(c.save("up:1", &r));
    block_on(c.remove("up:2"));
    let index = block_on(store.get(INDEX_KEY)).expect("an index");
    assert!(index.contains("up:gone"), "kept by a save and a removal: {index}");
    let listed: Vec<String> = block_on(c.pending(2000.0)).into_iter().map(|p| p.key).collect();
    assert_eq!(listed, ["up:1"]);
    assert!(!block_on(store.get(INDEX_KEY)).expect("an index").contains("up:gone"));
}

/// Every entry a drop picks goes, adjacent ones included: the listing leaves out each claimed
/// record, and a removal takes every entry of its key (an index written with one twice).
#[test]
fn adjacent_entries_are_dropped_together() {
    let store = Rc::new(MemoryCheckpoints::default());
    let c = Checkpoints::new(store.clone(), "s");
    for (i, key) in ["up:1", "up:2", "up:3", "up:4"].into_iter().enumerate() {
        let mut r = Record::new(key, "n", 10, 5, 1000.0 + i as f64);
        r.upload_id = Some("u".into());
        block_on(c.save(key, &r));
    }
    // Newest first: up:4, up:3, up:2, up:1.
    assert!(c.claim("up:4") && c.claim("up:3"));
    let listed: Vec<String> = block_on(c.pending(2000.0)).into_iter().map(|p| p.key).collect();
    assert_eq!(listed, ["up:2", "up:1"]);
    let mut index = block_on(c.index());
    let twice = index.entries[2].clone();
    index.entries.insert(2, twice);
    block_on(store.set(INDEX_KEY, index.to_json()));
    block_on(c.remove("up:2"));
    let keys: Vec<String> = block_on(c.index()).entries.into_iter().map(|p| p.key).collect();
    assert_eq!(keys, ["up:4", "up:3", "up:1"]);
}

/// A store whose every operation yields once before it completes, like IndexedDB.
#[derive(Default)]
struct Yielding(MemoryCheckpoints);

async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return std::task::Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await
}

impl CheckpointStore for Yielding {
    fn get(&self, key: &str) -> crate::platform::LocalBoxFuture<'_, Option<String>> {
        let key = key.to_string();
        Box::pin(async move {
            yield_once().await;
            self.0.get(&key).await
        })
    }
    fn set(&self, key: &str, value: String) -> crate::platform::LocalBoxFuture<'_, ()> {
        let key = key.to_string();
        Box::pin(async move {
            yield_once().await;
            self.0.set(&key, value).await
        })
    }
    fn remove(&self, key: &str) -> crate::platform::LocalBoxFuture<'_, ()> {
        let key = key.to_string();
        Box::pin(async move {
            yield_once().await;
            self.0.remove(&key).await
        })
    }
}

#[test]
fn clients_over_one_store_do_not_resurrect_each_others_entries() {
    let store = Rc::new(Yielding::default());
    let (a, b) = (Checkpoints::new(store.clone(), "s"), Checkpoints::new(store.clone(), "s"));
    let r = Record::new("f", "f", 10, 5, 1.0);
    // Interleaved on one thread, as two clients of a page are: a save and a remove whose
    // index updates would overlap without the page-wide lock.
    block_on(a.save("up:a", &r));
    block_on(b.save("up:b", &r));
    block_on(futures::future::join(a.remove("up:a"), b.save("up:b", &r)));
    let index = block_on(a.index());
    assert_eq!(
        index.entries.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(),
        ["up:b"],
        "the removed entry stays removed"
    );
    let pending = block_on(a.pending(2.0));
    assert_eq!(pending.iter().map(|p| p.key.as_str()).collect::<Vec<_>>(), ["up:b"]);
    // An entry whose record vanished (another tab removed it) is dropped.
    block_on(store.remove("up:b"));
    assert!(block_on(b.pending(2.0)).is_empty());
    assert!(block_on(store.get(INDEX_KEY)).is_none());
}

/// Two clients of a page that upload to different targets share the page's store: each lists,
/// prunes and hands over for cancelling only its own records (the other's would be cancelled
/// with the wrong service's credentials, and its resumable work lost). Entries saved before
/// scopes existed belong to both.
#[test]
fn clients_of_other_targets_keep_their_records_apart() {
    let store = Rc::new(MemoryCheckpoints::default());
    let (a, b) = (Checkpoints::new(store.clone(), "smh:lib/a"), Checkpoints::new(store.clone(), "cos:bucket"));
    let mut r = Record::new("f", "f", 10, 5, 1.0);
    r.upload_id = Some("u".into());
    block_on(a.save("up:a", &r));
    block_on(b.save("up:b", &r));
    let keys = |c: &Checkpoints, now: f64| block_on(c.pending(now)).into_iter().map(|p| p.key).collect::<Vec<_>>();
    assert_eq!(keys(&a, 2.0), ["up:a"]);
    assert_eq!(keys(&b, 2.0), ["up:b"]);
    // A's records expire: A prunes and hands over its own, never B's.
    assert!(keys(&a, 2.0 + MAX_AGE_MS).is_empty());
    assert_eq!(a.take_pruned().into_iter().map(|(key, _)| key).collect::<Vec<_>>(), ["up:a"]);
    assert!(block_on(store.get("up:b")).is_some(), "B's record is B's to prune");
    assert_eq!(keys(&b, 2.0), ["up:b"]);
    // An entry without a scope (saved by an earlier version) is every client's.
    let legacy = r#"{"v":2,"entries":[{"key":"up:old","path":"o","name":"o","size":10,"loaded":0,"updatedAt":3}]}"#;
    block_on(store.set(INDEX_KEY, legacy.to_string()));
    block_on(store.set("up:old", r.to_json()));
    assert_eq!(keys(&a, 4.0), ["up:old"]);
    assert_eq!(keys(&b, 4.0), ["up:old"]);
}

/// A store that never answers (a custom store whose promises never settle, an IndexedDB
/// that never opens); `page_wide` as given.
struct Stalled(bool);
impl CheckpointStore for Stalled {
    fn get(&self, _key: &str) -> crate::platform::LocalBoxFuture<'_, Option<String>> {
        Box::pin(futures::future::pending())
    }
    fn set(&self, _key: &str, _value: String) -> crate::platform::LocalBoxFuture<'_, ()> {
        Box::pin(futures::future::pending())
    }
    fn remove(&self, _key: &str) -> crate::platform::LocalBoxFuture<'_, ()> {
        Box::pin(futures::future::pending())
    }
    fn page_wide(&self) -> bool {
        self.0
    }
}

/// A timer whose sleeps end when the test says so.
#[derive(Default)]
struct ManualTimer(Rc<std::cell::Cell<bool>>);
impl Timer for ManualTimer {
    fn sleep(&self, _: Duration) -> crate::platform::LocalBoxFuture<'static, ()> {
        let fired = self.0.clone();
        Box::pin(std::future::poll_fn(
            move |_| {
                if fired.get() {
                    std::task::Poll::Ready(())
                } else {
                    std::task::Poll::Pending
                }
            },
        ))
    }
    fn now_ms(&self) -> f64 {
        0.0
    }
    fn unix_ms(&self) -> f64 {
        0.0
    }
}

fn poll_once<F: Future>(f: &mut std::pin::Pin<Box<F>>) -> std::task::Poll<F::Output> {
    let waker = futures::task::noop_waker();
    f.as_mut().poll(&mut std::task::Context::from_waker(&waker))
}

#[test]
fn a_load_dropped_midway_releases_the_claim() {
    let c = Checkpoints::new(Rc::new(Stalled(true)), "s");
    assert!(c.claim("up:1") && !c.claim("up:1"), "one upload per record");
    let mut load = Box::pin(c.load("up:1"));
    assert!(poll_once(&mut load).is_pending());
    drop(load); // the upload was cancelled while its record loaded
    assert!(!c.is_claimed("up:1"), "the claim went with the load");
    // A load that finishes leaves the claim to the upload, which releases it when it ends.
    let c = Checkpoints::new(Rc::new(MemoryCheckpoints::default()), "s");
    assert!(c.claim("up:1"));
    assert!(block_on(c.load("up:1")).is_some_and(|(_, record)| record.is_none()));
    assert!(c.is_claimed("up:1"));
    c.release("up:1");
    assert!(!c.is_claimed("up:1"));
}

#[test]
fn a_store_that_never_answers_is_given_the_bound() {
    let timer = ManualTimer::default();
    let fired = timer.0.clone();
    let c = Checkpoints::bounded(Rc::new(Stalled(true)), "s", Rc::new(timer), Duration::from_secs(30));
    let r = Record::new("f", "f", 10, 5, 1.0);
    let mut save = Box::pin(c.save("up:1", &r));
    let mut load = Box::pin(c.load("up:2"));
    let mut pending = Box::pin(c.pending(0.0));
    assert!(poll_once(&mut save).is_pending() && poll_once(&mut load).is_pending());
    fired.set(true); // the bound is over
    assert!(poll_once(&mut save).is_ready(), "the save gave up");
    assert!(matches!(poll_once(&mut load), std::task::Poll::Ready(Some((_, None)))), "nothing read");
    assert_eq!(poll_once(&mut pending), std::task::Poll::Ready(Vec::new()));
    assert!(poll_once(&mut Box::pin(c.remove("up:1"))).is_ready());
}

#[test]
fn a_custom_store_that_hangs_holds_up_no_other_client() {
    let hung = Checkpoints::new(Rc::new(Stalled(false)), "s");
    let r = Record::new("f", "f", 10, 5, 1.0);
    let mut stuck = Box::pin(hung.save("up:1", &r));
    assert!(poll_once(&mut stuck).is_pending(), "holds its index lock, waiting for set()");
    let local = Checkpoints::new(Rc::new(MemoryCheckpoints::default()), "s");
    let mut save = Box::pin(local.save("up:2", &r));
    assert!(poll_once(&mut save).is_ready(), "another client's records are kept meanwhile");
    assert_eq!(block_on(local.pending(2.0)).len(), 1);
    // Over the page's storage the lock is shared, but held no longer than the bound.
    let timer = ManualTimer::default();
    let fired = timer.0.clone();
    let page = Checkpoints::bounded(Rc::new(Stalled(true)), "s", Rc::new(timer), Duration::from_secs(30));
    let mut stuck = Box::pin(page.save("up:3", &r));
    assert!(poll_once(&mut stuck).is_pending());
    let mut waiting = Box::pin(local.save("up:4", &r));
    assert!(poll_once(&mut waiting).is_pending(), "waits for the page-wide lock");
    fired.set(true);
    assert!(poll_once(&mut stuck).is_ready());
    drop(stuck);
    assert!(poll_once(&mut waiting).is_ready(), "then goes on");
}

#[test]
fn bounded_count() {
    let store = Rc::new(MemoryCheckpoints::default());
    let c = Checkpoints::new(store.clone(), "s");
    for i in 0..(MAX_RECORDS + 5) {
        let mut r = Record::new(&format!("f{i}"), "f", 10, 5, i as f64);
        r.upload_id = (i % 2 == 0).then(|| format!("u{i}"));
        block_on(c.save(&format!("up:{i}"), &r));
    }
    // The pruned records that name a server upload are handed over.
    let pruned: Vec<String> = c.take_pruned().into_iter().map(|(key, _)| key).collect();
    assert_eq!(pruned, ["up:0", "up:2", "up:4"]);
    let pending = block_on(c.pending(100.0));
    assert_eq!(pending.len(), MAX_RECORDS);
    assert_eq!(pending[0].path, format!("f{}", MAX_RECORDS + 4), "newest first");
    assert!(block_on(store.get("up:0")).is_none(), "the oldest record is deleted");
}

/// A removal forgets one record and prunes nothing: pruning (and cancelling what it prunes on the
/// server) is for a save and a listing. Set up with more of the client's records than it keeps
/// (written by another tab, say), which the listing after it does prune.
#[test]
fn a_removal_prunes_nothing() {
    let store = Rc::new(MemoryCheckpoints::default());
    let mut entries = Vec::new();
    for i in 0..(MAX_RECORDS + 2) {
        let key = format!("up:{i}");
        let mut r = Record::new(&format!("f{i}"), "f", 10, 5, i as f64);
        r.upload_id = Some(format!("u{i}"));
        block_on(store.set(&key, r.to_json()));
        let (path, name) = (r.path.clone(), r.name.clone());
        entries.push(Pending { key, scope: "s".into(), path, name, size: 10, loaded: 0, updated_at: i as f64 });
    }
    block_on(store.set(INDEX_KEY, Index { entries }.to_json()));
    let c = Checkpoints::new(store.clone(), "s");

    block_on(c.remove("up:5"));
    assert!(c.take_pruned().is_empty(), "a removal handed records over to cancel");
    let index = Index::from_json(&block_on(store.get(INDEX_KEY)).expect("index")).expect("reads back");
    assert_eq!(index.entries.len(), MAX_RECORDS + 1, "only the removed entry is gone");
    assert!(block_on(store.get("up:5")).is_none() && block_on(store.get("up:0")).is_some());

    // The listing prunes the surplus (the oldest), which the removal left alone.
    assert_eq!(block_on(c.pending(100.0)).len(), MAX_RECORDS);
    assert_eq!(c.take_pruned().into_iter().map(|(key, _)| key).collect::<Vec<_>>(), ["up:0"]);
}

#[test]
fn garbage_is_ignored() {
    let store = Rc::new(MemoryCheckpoints::default());
    block_on(store.set("up:x", "{not json".into()));
    block_on(store.set(INDEX_KEY, "[]".into()));
    let c = Checkpoints::new(store, "s");
    assert!(block_on(c.load("up:x")).is_some_and(|(_, record)| record.is_none()));
    assert!(block_on(c.pending(0.0)).is_empty());
}

/// A record and an index as stored by version 2 (quotes escaped, a CRC above 2^53, empty
/// ids stored as ""): records saved by earlier releases must read back as they were, and be
/// written the same way again.
const STORED_RECORD: &str = r#"{"v":2,"path":"a/b \"1\".bin","name":"b \"1\".bin","size":10,"partSize":5,"confirmKey":"ck","uploadId":"u1","parts":[[1,5,"42"],[2,5,"18446744073709551615"]],"createdAt":1000,"updatedAt":2000}"#;
const STORED_COS_RECORD: &str = r#"{"v":2,"path":"k","name":"k","size":0,"partSize":1,"confirmKey":"","uploadId":"","parts":[],"createdAt":0,"updatedAt":7}"#;
const STORED_INDEX: &str = r#"{"v":2,"entries":[{"key":"up:1","scope":"s","path":"a/b.bin","name":"b.bin","size":10,"loaded":5,"updatedAt":2000},{"key":"up:2","scope":"","path":"\u0001","name":"é","size":0,"loaded":0,"updatedAt":0}]}"#;

#[test]
fn stored_format_is_kept() {
    let mut record = Record::new("a/b \"1\".bin", "b \"1\".bin", 10, 5, 1000.0);
    record.updated_at = 2000.0;
    (record.confirm_key, record.upload_id) = (Some("ck".into()), Some("u1".into()));
    record.parts.insert(1, PartDone { number: 1, len: 5, crc64: 42, etag: None });
    record.parts.insert(2, PartDone { number: 2, len: 5, crc64: u64::MAX, etag: None });
    assert_eq!(Record::from_json(STORED_RECORD), Some(Box::new(record.clone())));
    assert_eq!(record.to_json(), STORED_RECORD);

    let mut cos = Record::new("k", "k", 0, 1, 0.0);
    cos.updated_at = 7.0;
    assert_eq!(Record::from_json(STORED_COS_RECORD), Some(Box::new(cos.clone())));
    assert_eq!(cos.to_json(), STORED_COS_RECORD);

    let entry = |key: &str, scope: &str, path: &str, name: &str, size, loaded, updated_at| Pending {
        key: key.into(),
        scope: scope.into(),
        path: path.into(),
        name: name.into(),
        size,
        loaded,
        updated_at,
    };
    let index = Index::from_json(STORED_INDEX).expect("reads back");
    let entries =
        vec![entry("up:1", "s", "a/b.bin", "b.bin", 10, 5, 2000.0), entry("up:2", "", "\u{1}", "é", 0, 0, 0.0)];
    assert_eq!(index.entries, entries);
    assert_eq!(Index { entries }.to_json(), STORED_INDEX);

    // Another format version is ignored, as a missing record or index is.
    let other = |stored: &str| stored.replacen(r#"{"v":2,"#, r#"{"v":3,"#, 1);
    assert_eq!(Record::from_json(&other(STORED_RECORD)), None);
    assert!(Index::from_json(&other(STORED_INDEX)).is_none());
}
