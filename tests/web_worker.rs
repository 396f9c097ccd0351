//! Browser tests (wasm-bindgen-test, headless Chromium) of the upload Worker
//! (src/platform/browser/worker.rs): the Worker's CRC-64 and chained SHA-256 — WebCrypto and
//! JavaScript (src/platform/browser/sha256.js) — equal the page's and a Rust reference (the sha2
//! crate) on awkward lengths; a Worker that cannot start falls back to the page with the same
//! results; the Worker's memory stays flat; the page's synchronous SHA-256 gives checkpoint keys
//! their value; and an upload through the public JS API, hashed in the Worker, ends
//! byte-identical on the devserver. Data is random (WebCrypto), so each run tries new bytes.
//!
//! The test page is wasm-bindgen-test's, not the package, so the Worker script is given as a
//! `blob:` URL of what `cargo xtask pkg` makes of pkg-template/smh_upload_worker.js: sha256.js
//! followed by it.
#![cfg(target_arch = "wasm32")]

use std::time::Duration;

use js_sys::{Function, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

use sha2::{Digest, Sha256};
use smh_upload::checksum::crc64;
use smh_upload::platform::browser::worker::{self, Via};
use smh_upload::platform::browser::XhrHttp;
use smh_upload::platform::{Body, Http, HttpRequest, Method};
use smh_upload::{Error, SmhClient};

wasm_bindgen_test_configure!(run_in_browser);

const MIB: usize = 1 << 20;
/// Around the quick-upload block (1 MiB) and the Worker's read chunk (4 MiB).
const AWKWARD: &[usize] =
    &[1, 15, 16, 17, MIB - 1, MIB, MIB + 1, 2 * MIB - 1, 2 * MIB + 1, 4 * MIB - 1, 4 * MIB + 1, 5 * MIB + 7];

/// Points the SDK at the Worker script of the package (as a `blob:` URL).
fn use_package_worker() {
    use_worker_source(concat!(
        include_str!("../src/platform/browser/sha256.js"),
        include_str!("../pkg-template/smh_upload_worker.js")
    ));
}

/// Points the SDK at a Worker running `source`.
fn use_worker_source(source: &str) {
    let make_url = Function::new_with_args(
        "source",
        "return URL.createObjectURL(new Blob([source], { type: 'text/javascript' }))",
    );
    let url = make_url.call1(&JsValue::NULL, &source.into()).expect("blob URL");
    worker::use_worker_script(&url.as_string().expect("a string"));
}

fn blob_of(bytes: &[u8]) -> web_sys::Blob {
    web_sys::Blob::new_with_u8_array_sequence(&js_sys::Array::of1(&Uint8Array::from(bytes))).expect("blob")
}

/// `len` random bytes (WebCrypto's generator, 64 KiB per call, its limit).
fn random_bytes(len: usize) -> Vec<u8> {
    let crypto = web_sys::window().and_then(|w| w.crypto().ok()).expect("crypto");
    let mut bytes = vec![0u8; len];
    for chunk in bytes.chunks_mut(65_536) {
        crypto.get_random_values_with_u8_array(chunk).expect("random bytes");
    }
    bytes
}

/// The chain of docs/smh-api.md §5.8, by the sha2 crate: h_i = SHA-256(h_{i-1} ‖ block_i).
fn reference_chain(bytes: &[u8], previous: Option<[u8; 32]>) -> [u8; 32] {
    let mut hash = previous;
    for block in bytes.chunks(MIB) {
        let mut sha = Sha256::new();
        if let Some(h) = hash {
            sha.update(h);
        }
        sha.update(block);
        hash = Some(sha.finalize().into());
    }
    hash.expect("non-empty")
}

/// Every way a hash is computed (the Worker's and the page's, each with WebCrypto and with
/// JavaScript's SHA-256).
const ALL_VIAS: [Via; 4] = [Via::Worker, Via::WorkerJs, Via::Page, Via::PageJs];

#[wasm_bindgen_test]
async fn worker_and_page_crc64_equal_the_reference() {
    use_package_worker();
    let data = random_bytes(5 * MIB + 7);
    for &len in [0].iter().chain(AWKWARD) {
        let blob = blob_of(&data[..len]);
        let expected = crc64::checksum(&data[..len]);
        assert_eq!(worker::crc64(blob.clone(), Via::Worker).await.expect("worker"), expected, "worker, {len} bytes");
        assert_eq!(worker::crc64(blob.clone(), Via::Page).await.expect("page"), expected, "page, {len} bytes");
    }
    assert_eq!(worker::crc64(blob_of(b"123456789"), Via::Worker).await.unwrap(), 11051210869376104954);
}

#[wasm_bindgen_test]
async fn worker_and_page_chain_hashes_equal_the_reference() {
    use_package_worker();
    let data = random_bytes(5 * MIB + 7);
    for &len in AWKWARD {
        let blob = blob_of(&data[..len]);
        let expected = reference_chain(&data[..len], None);
        for via in ALL_VIAS {
            assert_eq!(worker::chain_hash(&blob, None, via).await.expect("hash"), expected, "{via:?}, {len} bytes");
        }
    }
    // Continuing a chain from a block boundary, as the engine does per 8 MiB read.
    let first = reference_chain(&data[..2 * MIB], None);
    let rest = blob_of(&data[2 * MIB..]);
    for via in ALL_VIAS {
        assert_eq!(
            worker::chain_hash(&rest, Some(first), via).await.unwrap(),
            reference_chain(&data, None),
            "{via:?}, resumed"
        );
    }
    // Nothing to hash is a read error everywhere.
    for via in ALL_VIAS {
        assert!(
            matches!(worker::chain_hash(&blob_of(&[]), None, via).await.map_err(|e| *e), Err(Error::FileRead { .. })),
            "{via:?}, empty"
        );
    }
}

/// The engine hashes a file in consecutive requests, each naming the next so the Worker reads it
/// early (`chain_hash_ahead`): the chain is the reference's for requests of several lengths
/// (below, at and above the Worker's 4 MiB read), with hints that are taken, and with a hint
/// that is never taken (the beginning hash before the full hash).
#[wasm_bindgen_test]
async fn chain_hash_in_requests_with_reads_ahead_equals_the_reference() {
    use smh_upload::platform::browser::worker::ReadAhead;
    use_package_worker();
    let data = random_bytes(13 * MIB + 12_345);
    let blob = blob_of(&data);
    let slice = |start: usize, end: usize| blob.slice_with_f64_and_f64(start as f64, end as f64).expect("slice");
    let expected = reference_chain(&data, None);
    // Sources name files: unique to this test (the Worker is shared by every test).
    let mut sources = 1_000_000..;
    for request in [MIB, 3 * MIB, 8 * MIB] {
        for via in [Via::Worker, Via::WorkerJs] {
            // A hint never taken: the first MiB names [1 MiB, 2 MiB) as next, as a file of its
            // own, then the chain starts again.
            let unused = sources.next().unwrap();
            let first = ReadAhead { source: unused, start: 0, next: Some(slice(MIB, 2 * MIB)) };
            assert_eq!(
                worker::chain_hash_ahead(Ok(slice(0, MIB)), None, via, Some(first)).await.expect("first MiB"),
                reference_chain(&data[..MIB], None)
            );
            let source = sources.next().unwrap();
            let (mut hash, mut start) = (None, 0);
            while start < data.len() {
                let end = (start + request).min(data.len());
                let following = (end + request).min(data.len());
                let next = (end < data.len()).then(|| slice(end, following));
                let ahead = ReadAhead { source, start: start as u64, next };
                hash =
                    Some(worker::chain_hash_ahead(Ok(slice(start, end)), hash, via, Some(ahead)).await.expect("hash"));
                start = end;
            }
            assert_eq!(hash, Some(expected), "{via:?}, requests of {request} bytes");
        }
    }
}

/// The engine asks for one CRC-64 per part in flight, all at once: the Worker computes them side
/// by side (one at a time, its reads were the upload's bottleneck), sharing one wasm buffer.
#[wasm_bindgen_test]
async fn concurrent_crc_requests_run_side_by_side_with_correct_results() {
    use futures::future::{join_all, select, Either};
    use_package_worker();
    let data = random_bytes(9 * MIB + 3);
    let lengths = [9 * MIB + 3, 5 * MIB + 7, 4 * MIB, 4 * MIB + 1, 17, 2 * MIB - 1];
    let blobs: Vec<_> = lengths.iter().map(|&len| blob_of(&data[data.len() - len..])).collect();
    let results = join_all(blobs.iter().map(|b| worker::crc64(b.clone(), Via::Worker))).await;
    for (len, result) in lengths.iter().zip(results) {
        assert_eq!(
            result.expect("worker"),
            crc64::checksum(&data[data.len() - len..]),
            "{len} bytes, among concurrent requests"
        );
    }
    // A small part asked for after a large one is answered first: it is not queued behind it.
    let large = blob_of(&random_bytes(64 * MIB));
    let small = blob_of(&data[..17]);
    let first = select(
        Box::pin(worker::crc64(large.clone(), Via::Worker)),
        Box::pin(worker::crc64(small.clone(), Via::Worker)),
    )
    .await;
    let Either::Right((small_crc, large_pending)) = first else { panic!("the 17-byte CRC waited for the 64 MiB one") };
    assert_eq!(small_crc.unwrap(), crc64::checksum(&data[..17]));
    large_pending.await.expect("the large one completes too");
}

#[wasm_bindgen_test]
async fn a_worker_that_cannot_start_falls_back_to_the_page() {
    let data = random_bytes(3 * MIB + 5);
    let blob = blob_of(&data);
    for broken in ["/no-such-worker.js", "data:text/javascript,throw new Error('boom')"] {
        worker::use_worker_script(broken);
        assert!(worker::crc64(blob.clone(), Via::Worker).await.is_err(), "{broken}: the Worker alone fails");
        assert_eq!(worker::crc64(blob.clone(), Via::Auto).await.expect("fallback"), crc64::checksum(&data), "{broken}");
        assert_eq!(
            worker::chain_hash(&blob, None, Via::Auto).await.expect("fallback"),
            reference_chain(&data, None),
            "{broken}"
        );
    }
    use_package_worker();
    assert_eq!(
        worker::crc64(blob.clone(), Via::Worker).await.expect("a good script works again"),
        crc64::checksum(&data)
    );
}

/// While the Worker is still starting, the first block's hash (a file's first MiB, which an upload
/// needs before its first request) is WebCrypto's in the page rather than waiting for it. Here a
/// Worker that never gets ready: without that, each answer would wait for its start-up bound.
#[wasm_bindgen_test]
async fn the_first_block_is_hashed_in_the_page_while_the_worker_starts() {
    use futures::future::{select, Either};
    use smh_upload::platform::browser::JsTimer;
    use smh_upload::platform::Timer;
    use_worker_source("self.onmessage = () => {};");
    for len in [1, 17, MIB - 1, MIB] {
        let data = random_bytes(len);
        let blob = blob_of(&data);
        let hash = Box::pin(worker::chain_hash(&blob, None, Via::Auto));
        let Either::Left((hash, _)) = select(hash, JsTimer.sleep(Duration::from_secs(3))).await else {
            panic!("{len} bytes: the hash waited for the Worker")
        };
        assert_eq!(hash.expect("hash"), reference_chain(&data, None), "{len} bytes");
    }
    use_package_worker();
}

#[wasm_bindgen_test]
async fn worker_memory_stays_flat_whatever_the_size() {
    use_package_worker();
    let small = random_bytes(2 * MIB);
    worker::crc64(blob_of(&small), Via::Worker).await.unwrap();
    let before = worker::worker_memory_bytes().await.unwrap();
    let big = blob_of(&random_bytes(48 * MIB));
    worker::crc64(big.clone(), Via::Worker).await.unwrap();
    worker::chain_hash(&big, None, Via::WorkerJs).await.unwrap();
    let after = worker::worker_memory_bytes().await.unwrap();
    assert_eq!(after, before, "the Worker's wasm memory grew from {before} to {after} bytes for a 48 MiB blob");
}

async fn app_json(method: Method, path: &str, body: Option<&str>) -> serde_json::Value {
    let Some(json) = option_env!("SMH_DEVSERVER_READY_JSON") else {
        panic!("run through `cargo xtask test`, which starts the devserver")
    };
    let ready: serde_json::Value = serde_json::from_str(json).expect("READY JSON");
    let request = HttpRequest {
        method,
        url: format!("{}{path}", ready["app"].as_str().unwrap_or_default()),
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: body.map(|b| Body::from(b.as_bytes().to_vec())),
        timeout: Some(Duration::from_secs(20)),
        progress: None,
    };
    let response = XhrHttp.send(request).await.expect("app origin reachable");
    assert!((200..300).contains(&response.status), "{path}: {}", response.status);
    serde_json::from_slice(&response.body).unwrap_or(serde_json::Value::Null)
}

#[wasm_bindgen_test]
async fn an_upload_hashed_in_the_worker_is_byte_identical_on_the_devserver() {
    use_package_worker();
    let ready: serde_json::Value =
        serde_json::from_str(option_env!("SMH_DEVSERVER_READY_JSON").unwrap_or("{}")).unwrap();
    let token = app_json(Method::Post, "/token", Some("{}")).await["accessToken"].as_str().unwrap().to_string();
    let text = |name: &str| ready[name].as_str().unwrap_or_default().to_string();
    let domains = serde_json::json!([text("cos")]).to_string();
    // The wasm's client as the JS layer (src/bindings/js/) drives it, with its options in one
    // array (src/bindings/common.rs `read_common`, then src/bindings/client.rs): partSize and
    // multipartThreshold 1 MiB, no checkpoints (null), the rest absent (undefined).
    let options = js_sys::Array::new();
    options.set(0, domains.into());
    options.set(2, (MIB as f64).into());
    options.set(3, (MIB as f64).into());
    options.set(8, JsValue::NULL);
    options.set(9, text("smh").into());
    options.set(10, text("libraryId").into());
    options.set(11, text("spaceId").into());
    options.set(13, token.into());
    let client = SmhClient::new(options.into()).expect("client");

    // 3 parts (the last short), quick upload on: the parts' CRCs come from the Worker (a wrong
    // CRC makes COS refuse the part: BadCrc64); the beginning hash too, or WebCrypto's in the page
    // if asked while the Worker just replaced is still starting. Then the same bytes again: SMH finds the
    // beginning hash, the full hash is computed in the Worker, and the quick upload hits only if
    // it equals the devserver's own hash of the stored bytes.
    let data = random_bytes(2 * MIB + 12_345);
    let upload = |path: &str| {
        // The task's events; `done` settles with the result (JSON text) or the encoded error.
        let events = Function::new_no_args(
            "const e = { s() {}, p() {}, w() {} }; \
             e.done = new Promise((ok, fail) => { e.d = (good, v) => (good ? ok(JSON.parse(v)) : fail(v)); }); \
             return e;",
        )
        .call0(&JsValue::NULL)
        .unwrap();
        // conflict 1: overwrite; quick upload on.
        let task = client.upload(blob_of(&data).into(), path, 1, true, None, events.clone().unchecked_into());
        let done = JsFuture::from(js_sys::Promise::from(Reflect::get(&events, &"done".into()).unwrap()));
        async move {
            let _running = task;
            done.await
        }
    };
    let field = |result: &JsValue, name: &str| Reflect::get(result, &name.into()).unwrap();
    let before = worker::replies();
    let result = upload("worker-hashed.bin").await.expect("upload done");
    assert_eq!(field(&result, "crc64").as_string(), Some(crc64::checksum(&data).to_string()));
    assert_eq!(field(&result, "instant"), JsValue::FALSE);
    let sent = worker::replies() - before;
    assert!(sent >= 3, "the Worker answered {sent} requests for 3 parts");
    let before = worker::replies();
    let again = upload("worker-hashed-again.bin").await.expect("quick upload done");
    assert_eq!(field(&again, "instant"), JsValue::TRUE, "the Worker's full hash matched the devserver's");
    let hashed = worker::replies() - before;
    assert!(hashed >= 2, "the Worker answered {hashed} requests for the beginning and full hashes");

    let objects = app_json(Method::Get, "/_dev/objects", None).await;
    let stored =
        objects.as_array().and_then(|all| all.iter().find(|o| o["smhPath"] == "worker-hashed.bin")).expect("stored");
    let subtle = web_sys::window().and_then(|w| w.crypto().ok()).expect("WebCrypto").subtle();
    let digest = JsFuture::from(subtle.digest_with_str_and_u8_array("SHA-256", &data).unwrap()).await.unwrap();
    assert_eq!(stored["sha256"].as_str(), Some(smh_upload::checksum::hex(&Uint8Array::new(&digest).to_vec()).as_str()));
}

/// The page's synchronous SHA-256 (JavaScript's: the wasm carries none) equals the sha2 crate's
/// around the 64-byte block and its padding, and gives a checkpoint key the value it has natively
/// (src/engine/checkpoint_tests.rs): records saved before are found.
#[wasm_bindgen_test]
fn the_page_s_sync_sha256_and_checkpoint_keys_equal_the_reference() {
    use smh_upload::engine::checkpoint::Identity;
    let data = random_bytes(MIB + 100);
    for len in [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, MIB + 100] {
        let expected: [u8; 32] = Sha256::digest(&data[..len]).into();
        assert_eq!(smh_upload::platform::sha256(&data[..len]), expected, "{len} bytes");
    }
    let identity = Identity {
        library_id: "lib",
        space_id: "-",
        path: "a/b.bin",
        size: 10,
        fingerprint: "blob:b.bin:10:5",
        beginning_hash: "ab",
    };
    assert_eq!(identity.key(), "up:900221e56ac1b30fea2e68771a6296d4");
}
