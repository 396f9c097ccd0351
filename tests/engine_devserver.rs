//! The engine against the real smh-devserver (native adapters from `support`): sizes around every
//! boundary, concurrency, quick upload, conflicts, pause/resume, cancel, token refresh, renew,
//! the domain allow-list, injected faults. Bytes are checked through the devserver's
//! `/_dev/objects`, never through the SDK's own answer.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use futures::future::join_all;
use serde_json::json;
use smh_upload::engine::{Control, UploadState};
use smh_upload::platform::{FileSource, HttpRequest, HttpResponse, MemorySource, Method};
use smh_upload::smh::{Conflict, Tokens};
use smh_upload::Error;
use support::*;

const MIB: usize = 1024 * 1024;

/// Asserts the devserver holds exactly `data` at `path` and the SDK's CRC agrees with it.
async fn assert_stored(server: &Devserver, path: &str, data: &[u8], sdk_crc: &str) {
    let object = server.object_at(path).await.unwrap_or_else(|| panic!("no object for {path}"));
    assert_eq!(object["size"].as_u64(), Some(data.len() as u64), "{path} size");
    assert_eq!(object["sha256"].as_str(), Some(sha256_hex(data).as_str()), "{path} bytes");
    assert_eq!(object["crc64"].as_str(), Some(sdk_crc), "{path}: the server's CRC64 differs from the SDK's");
}

async fn assert_nothing_open(server: &Devserver) {
    let open = server.open_uploads().await;
    assert_eq!(open["smh"].as_array().map(Vec::len), Some(0), "open SMH uploads: {open}");
    assert_eq!(open["cos"].as_array().map(Vec::len), Some(0), "open COS uploads: {open}");
}

#[tokio::test(flavor = "current_thread")]
async fn sizes_around_every_boundary() {
    let server = Devserver::start(&[]);
    let mut config = server.config();
    config.multipart_threshold = 2 * MIB as u64;
    config.part_size = Some(MIB as u64);
    let uploader = server.uploader(config).await;
    let cases = [
        ("empty.bin", 0),
        ("one.bin", 1),
        ("under.bin", 2 * MIB - 1),
        ("exact.bin", 2 * MIB),
        ("over.bin", 2 * MIB + 1),
        ("lastpart1.bin", 3 * MIB + 1),
    ];
    for (i, (name, len)) in cases.into_iter().enumerate() {
        let data = bytes(len, i as u64 + 1);
        let (result, rec) = upload(&uploader, &data, name, Conflict::Ask, false).await;
        let result = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(result.file.path, name);
        assert!(!result.instant);
        assert_stored(&server, name, &data, &result.crc64).await;
        assert_eq!(rec.states.borrow().last(), Some(&UploadState::Done));
        let progress = rec.progress.borrow();
        let uploading: Vec<u64> =
            progress.iter().filter(|p| p.phase == smh_upload::engine::Phase::Uploading).map(|p| p.loaded).collect();
        assert!(uploading.windows(2).all(|w| w[0] <= w[1]), "{name}: progress went backwards: {uploading:?}");
        assert_eq!(uploading.last().copied(), Some(len as u64), "{name}: last report is the whole file");
    }
    // The multipart ones really were multipart: parts reached the cos origin.
    let ops: Vec<String> =
        server.cos_requests().await.iter().map(|e| e["op"].as_str().unwrap_or_default().to_string()).collect();
    assert_eq!(
        ops.iter().filter(|o| o.as_str() == "UploadPart").count(),
        3 + 4,
        "parts of over.bin (3) and lastpart1.bin (4): {ops:?}"
    );
    assert_nothing_open(&server).await;
}

#[tokio::test(flavor = "current_thread")]
async fn hundred_files_concurrently_share_the_slots() {
    let server = Devserver::start(&[]);
    let mut config = server.config();
    config.concurrency = 4;
    let http = Rc::new(CountingHttp::new(&server.field("cos")));
    let uploader = server.uploader_over(config, Tokens::fixed(server.token().await), http.clone());
    // PUTs held a little on the server, so that uploads really overlap.
    server
        .app_post(
            "/_dev/faults",
            json!({"origin": "cos", "method": "PUT", "times": 1000, "action": {"type": "delay", "ms": 20}}),
        )
        .await;
    let files: Vec<(String, Vec<u8>)> =
        (0..100).map(|i| (format!("many/f{i:03}.bin"), bytes(1000 + i * 37, 100 + i as u64))).collect();
    server.app_post("/token", json!({})).await; // warm
    let dir_token = server.token().await;
    reqwest::Client::new()
        .put(format!(
            "{}/api/v1/directory/{}/{}/many?access_token={}",
            server.field("smh"),
            server.field("libraryId"),
            server.field("spaceId"),
            dir_token
        ))
        .send()
        .await
        .unwrap();
    let results = join_all(files.iter().map(|(path, data)| {
        let uploader = uploader.clone();
        async move { upload(&uploader, data, path, Conflict::Ask, false).await.0 }
    }))
    .await;
    for ((path, data), result) in files.iter().zip(results) {
        let result = result.unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_stored(&server, path, data, &result.crc64).await;
    }
    assert_eq!(uploader.slots_in_use(), 0, "every slot released");
    // The 100 uploads shared the client's 4 slots: never more PUTs in flight, and all 4 used.
    assert_eq!(http.max_in_flight.get(), 4, "most PUTs in flight at once across the 100 uploads");
}

#[tokio::test(flavor = "current_thread")]
async fn quick_upload_sends_no_bytes() {
    let server = Devserver::start(&[]);
    let uploader = server.uploader(server.config()).await;
    let data = bytes(3 * MIB + 5, 7);
    let (first, _) = upload(&uploader, &data, "orig.bin", Conflict::Ask, true).await;
    let first = first.unwrap();
    assert!(!first.instant);
    server.app_delete("/_dev/log").await;
    let (second, rec) = upload(&uploader, &data, "copy.bin", Conflict::Ask, true).await;
    let second = second.unwrap();
    assert!(second.instant, "quick upload hit");
    let writes: Vec<_> = server.cos_requests().await.into_iter().filter(|e| e["method"] == "PUT").collect();
    assert!(writes.is_empty(), "no byte may reach COS on a quick-upload hit: {writes:?}");
    assert_stored(&server, "copy.bin", &data, &first.crc64).await;
    assert_eq!(
        rec.states.borrow().as_slice(),
        &[UploadState::Preparing, UploadState::Hashing, UploadState::Done],
        "preparing → hashing (the 202 asked for the full hash) → done"
    );
    // Same size and first MiB, different tail: a 202 then a real upload.
    let mut other = data.clone();
    *other.last_mut().unwrap() ^= 0xff;
    server.app_delete("/_dev/log").await;
    let (third, _) = upload(&uploader, &other, "near.bin", Conflict::Ask, true).await;
    let third = third.unwrap();
    assert!(!third.instant);
    assert_stored(&server, "near.bin", &other, &third.crc64).await;
    let log = server.app_get("/_dev/log").await;
    let begins: Vec<u64> =
        log.as_array().unwrap().iter().filter(|e| e["op"] == "begin").filter_map(|e| e["status"].as_u64()).collect();
    assert_eq!(begins, [202, 201], "SMH answered the first begin 202 (send the full hash), the second 201: {log}");
    let sent: Vec<u64> = server
        .cos_requests()
        .await
        .iter()
        .filter(|e| e["method"] == "PUT" && e["status"] == 200)
        .filter_map(|e| e["bytesIn"].as_u64())
        .collect();
    assert_eq!(sent, [other.len() as u64], "then the bytes went up");
}

#[tokio::test(flavor = "current_thread")]
async fn conflict_strategies() {
    let server = Devserver::start(&[]);
    let uploader = server.uploader(server.config()).await;
    let a = bytes(100, 1);
    let b = bytes(200, 2);
    upload(&uploader, &a, "c.txt", Conflict::Ask, false).await.0.unwrap();
    let renamed = upload(&uploader, &b, "c.txt", Conflict::Rename, false).await.0.unwrap();
    assert_ne!(renamed.file.path, "c.txt");
    assert_stored(&server, &renamed.file.path, &b, &renamed.crc64).await;
    assert_stored(&server, "c.txt", &a, &upload_crc(&a)).await;
    let err = upload(&uploader, &b, "c.txt", Conflict::Ask, false).await.0.unwrap_err();
    assert_eq!((err.code(), err.status()), ("SameNameDirectoryOrFileExists", 409));
    let over = upload(&uploader, &b, "c.txt", Conflict::Overwrite, false).await.0.unwrap();
    assert!(over.file.is_overwritten);
    assert_stored(&server, "c.txt", &b, &over.crc64).await;
    assert_nothing_open(&server).await;
}

fn upload_crc(data: &[u8]) -> String {
    smh_upload::checksum::crc64::checksum(data).to_string()
}

#[tokio::test(flavor = "current_thread")]
async fn an_overloaded_cos_gets_fewer_parts_at_once_then_more_again() {
    let server = Devserver::start(&[]);
    let mut config = server.config();
    config.part_size = Some(MIB as u64);
    config.concurrency = 6;
    let http = Rc::new(CountingHttp::new(&server.field("cos")));
    let uploader = server.uploader_over(config, Tokens::fixed(server.token().await), http.clone());
    // The first six parts (all in flight at once) are refused with SlowDown; every later part
    // takes 400 ms, longer than any first backoff (≤ 200 ms), so parts sent together overlap.
    server.app_post("/_dev/faults", json!({"origin": "cos", "method": "PUT", "query": "partNumber", "times": 6, "action": {"type": "status", "status": 503, "code": "SlowDown"}})).await;
    server.app_post("/_dev/faults", json!({"origin": "cos", "method": "PUT", "query": "partNumber", "times": 1000, "action": {"type": "delay", "ms": 400}})).await;
    let data = bytes(30 * MIB, 31);
    let (result, _) = upload(&uploader, &data, "overloaded.bin", Conflict::Ask, false).await;
    let result = result.unwrap();
    assert_stored(&server, "overloaded.bin", &data, &result.crc64).await;
    let starts = http.at_start.borrow().clone();
    assert_eq!(starts.len(), 36, "30 parts and 6 sent twice: {starts:?}");
    assert_eq!(&starts[..6], &[1, 2, 3, 4, 5, 6], "six at once to begin with: {starts:?}");
    // The six SlowDowns are one overload: the window halves once, to 3, and the six parts are
    // sent again three at a time (without adapting, all six would be in flight again).
    assert!(starts[6..12].iter().all(|&n| n <= 3), "after the SlowDowns at most 3 in flight: {starts:?}");
    // Deliveries grow it back to the concurrency.
    assert!(starts[24..].iter().any(|&n| n >= 5), "back to 5–6 in flight: {starts:?}");
    assert_eq!(uploader.slots_in_use(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn pause_then_resume_completes() {
    let server = Devserver::start(&[]);
    let mut config = server.config();
    config.part_size = Some(MIB as u64);
    config.concurrency = 2;
    let uploader = server.uploader(config).await;
    let data = bytes(12 * MIB, 3);
    // Slow every part down so that the pause lands mid-upload.
    server.app_post("/_dev/faults", json!({"origin": "cos", "method": "PUT", "query": "partNumber", "times": 100, "action": {"type": "delay", "ms": 50}})).await;
    let control = Control::new();
    let rec = Rc::new(Recorder::default());
    let paused_once = Rc::new(Cell::new(false));
    {
        let (control, paused_once) = (control.clone(), paused_once.clone());
        *rec.hook.borrow_mut() = Some(Box::new(move |p| {
            if p.loaded >= 3 * MIB as u64 && !paused_once.get() {
                paused_once.set(true);
                control.pause();
            }
        }));
    }
    let resumer = async {
        while !paused_once.get() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        control.resume();
    };
    let (result, ()) = futures::join!(
        upload_with(&uploader, &data, "paused.bin", Conflict::Ask, false, control.clone(), rec.clone()),
        resumer
    );
    let result = result.unwrap();
    let states = rec.states.borrow().clone();
    let paused_at = states.iter().position(|s| *s == UploadState::Paused).expect("was paused");
    assert_eq!(states[paused_at + 1], UploadState::Uploading, "{states:?}");
    assert_eq!(states.last(), Some(&UploadState::Done));
    assert_stored(&server, "paused.bin", &data, &result.crc64).await;
}

/// Cancelled while paused, an upload goes `paused → cancelled`, never through `uploading`
/// (issue 18.11).
#[tokio::test(flavor = "current_thread")]
async fn cancel_while_paused_goes_straight_to_cancelled() {
    let server = Devserver::start(&[]);
    let mut config = server.config();
    config.part_size = Some(MIB as u64);
    config.concurrency = 2;
    let uploader = server.uploader(config).await;
    server.app_post("/_dev/faults", json!({"origin": "cos", "method": "PUT", "query": "partNumber", "times": 100, "action": {"type": "delay", "ms": 50}})).await;
    let control = Control::new();
    let rec = Rc::new(Recorder::default());
    {
        let control = control.clone();
        *rec.hook.borrow_mut() = Some(Box::new(move |p| {
            if p.loaded >= 2 * MIB as u64 {
                control.pause();
            }
        }));
    }
    let data = bytes(8 * MIB, 4);
    let canceller = async {
        while !rec.states.borrow().contains(&UploadState::Paused) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        control.cancel();
    };
    let (result, ()) = futures::join!(
        upload_with(&uploader, &data, "paused-cancel.bin", Conflict::Ask, false, control.clone(), rec.clone()),
        canceller
    );
    assert_eq!(result.unwrap_err(), Error::Aborted.into());
    let states = rec.states.borrow().clone();
    assert_eq!(&states[states.len() - 2..], [UploadState::Paused, UploadState::Cancelled], "{states:?}");
    assert_nothing_open(&server).await;
}

/// A device clock an hour ahead of SMH's, more than the 30 minutes an authorisation lives: the
/// authorisation looks expired on arrival, which says the clock is wrong, not that it must be
/// renewed at once and again every 1.5 s (issue 18.11).
#[tokio::test(flavor = "current_thread")]
async fn a_clock_ahead_by_more_than_the_authorisation_lifetime_does_not_renew_in_a_loop() {
    let server = Devserver::start(&[]);
    let mut config = server.config();
    config.part_size = Some(MIB as u64);
    config.multipart_threshold = MIB as u64;
    config.concurrency = 1;
    let uploader = Rc::new(
        smh_upload::engine::SmhUploader::new(
            config,
            Rc::new(ReqwestHttp::default()),
            Rc::new(SkewedTimer(TokioTimer::default(), 3600.0)),
            Tokens::fixed(server.token().await),
            Rc::new(smh_upload::platform::MemoryCheckpoints::default()),
        )
        .expect("valid config"),
    );
    // 8 parts one after the other, 500 ms each: 4 s, long enough for two renewals 1.5 s apart.
    server
        .app_post(
            "/_dev/faults",
            json!({"origin": "cos", "method": "PUT", "times": 100, "action": {"type": "delay", "ms": 500}}),
        )
        .await;
    let data = bytes(8 * MIB, 12);
    let result = upload(&uploader, &data, "clock-ahead.bin", Conflict::Ask, false).await.0.expect("uploads");
    assert_stored(&server, "clock-ahead.bin", &data, &result.crc64).await;
    let log = server.app_get("/_dev/log").await;
    let renewals = log.as_array().unwrap().iter().filter(|e| e["op"] == "renew").count();
    assert_eq!(renewals, 0, "the 30-minute authorisation was not renewed during a 4 s upload");
}

#[tokio::test(flavor = "current_thread")]
async fn cancel_leaves_nothing_on_the_server() {
    let server = Devserver::start(&[]);
    let mut config = server.config();
    config.part_size = Some(MIB as u64);
    config.concurrency = 1;
    let uploader = server.uploader(config).await;
    server
        .app_post(
            "/_dev/faults",
            json!({"origin": "cos", "method": "PUT", "times": 100, "action": {"type": "delay", "ms": 100}}),
        )
        .await;
    let data = bytes(10 * MIB, 4);
    let control = Control::new();
    let rec = Rc::new(Recorder::default());
    {
        let control = control.clone();
        *rec.hook.borrow_mut() = Some(Box::new(move |p| {
            if p.loaded >= 2 * MIB as u64 {
                control.cancel();
            }
        }));
    }
    let err =
        upload_with(&uploader, &data, "cancelled.bin", Conflict::Ask, false, control, rec.clone()).await.unwrap_err();
    assert_eq!(err, Error::Aborted.into());
    assert_eq!(rec.states.borrow().last(), Some(&UploadState::Cancelled));
    assert_nothing_open(&server).await;
    assert!(server.object_at("cancelled.bin").await.is_none());
}

#[tokio::test(flavor = "current_thread")]
async fn expired_token_is_refreshed_and_the_call_replayed() {
    let server = Devserver::start(&[]);
    let calls = Rc::new(Cell::new(0));
    let tokens = Tokens::from_provider(Rc::new(AppTokens { app: server.field("app"), calls: calls.clone() }), None);
    tokens.get().await.unwrap();
    let mut config = server.config();
    config.part_size = Some(MIB as u64);
    config.multipart_threshold = MIB as u64;
    let uploader = server.uploader_with(config, tokens);
    let data = bytes(4 * MIB, 5);
    // Parts answer only after 500 ms, so the token surely expires before confirm.
    server
        .app_post(
            "/_dev/faults",
            json!({"origin": "cos", "method": "PUT", "times": 100, "action": {"type": "delay", "ms": 500}}),
        )
        .await;
    let rec = Rc::new(Recorder::default());
    let expired = Rc::new(Cell::new(false));
    let expire_mid_upload = async {
        while rec.progress.borrow().iter().all(|p| p.loaded == 0) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        server.app_post("/_dev/tokens/expire", json!({})).await;
        expired.set(true);
    };
    let (result, ()) = futures::join!(
        upload_with(&uploader, &data, "tok.bin", Conflict::Ask, false, Control::new(), rec.clone()),
        expire_mid_upload
    );
    let result = result.unwrap();
    assert!(expired.get());
    assert_eq!(calls.get(), 2, "getAccessToken called again after the token expired");
    assert_stored(&server, "tok.bin", &data, &result.crc64).await;
}

#[tokio::test(flavor = "current_thread")]
async fn fixed_expired_token_fails_with_invalid_access_token() {
    let server = Devserver::start(&[]);
    let token = server.token().await;
    server.app_post("/_dev/tokens/expire", json!({})).await;
    let uploader = server.uploader_with(server.config(), Tokens::fixed(token.clone()));
    let err = upload(&uploader, b"x", "t.txt", Conflict::Ask, false).await.0.unwrap_err();
    assert_eq!((err.code(), err.status(), err.retryable()), ("InvalidAccessToken", 403, false));
    assert!(!err.to_string().contains(&token), "the token must not appear in messages");
}

#[tokio::test(flavor = "current_thread")]
async fn expired_upload_authorisation_is_renewed() {
    let server = Devserver::start(&[]);
    let mut config = server.config();
    config.part_size = Some(MIB as u64);
    config.concurrency = 1;
    let uploader = server.uploader(config).await;
    let data = bytes(10 * MIB, 6);
    let rec = Rc::new(Recorder::default());
    let expire = async {
        while rec.progress.borrow().iter().all(|p| p.loaded < 2 * MIB as u64) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        server.app_post("/_dev/uploads/expire", json!({})).await;
    };
    // Parts held 150 ms each (1.5 s in all), so that the expiry surely lands mid-upload.
    server
        .app_post(
            "/_dev/faults",
            json!({"origin": "cos", "method": "PUT", "times": 100, "action": {"type": "delay", "ms": 150}}),
        )
        .await;
    let (result, ()) = futures::join!(
        upload_with(&uploader, &data, "renew.bin", Conflict::Ask, false, Control::new(), rec.clone()),
        expire
    );
    let result = result.unwrap();
    assert_stored(&server, "renew.bin", &data, &result.crc64).await;
    let log = server.app_get("/_dev/log").await;
    let ops: Vec<String> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{}:{}", e["op"].as_str().unwrap_or_default(), e["status"]))
        .collect();
    let refused = ops
        .iter()
        .position(|o| o == "UploadPart:403")
        .unwrap_or_else(|| panic!("COS refused a part once the authorisation expired: {ops:?}"));
    let renewed =
        ops.iter().position(|o| o == "renew:200").unwrap_or_else(|| panic!("then the upload was renewed: {ops:?}"));
    assert!(
        refused < renewed && ops[renewed..].iter().any(|o| o == "UploadPart:200"),
        "refused, renewed, then parts again: {ops:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn short_lived_authorisation_is_renewed_before_it_expires() {
    let server = Devserver::start(&[]);
    server.app_post("/_dev/config", json!({"uploadTtlSeconds": 3})).await;
    let mut config = server.config();
    config.part_size = Some(MIB as u64);
    config.multipart_threshold = MIB as u64;
    config.concurrency = 1;
    let uploader = server.uploader(config).await;
    server
        .app_post(
            "/_dev/faults",
            json!({"origin": "cos", "method": "PUT", "times": 100, "action": {"type": "delay", "ms": 400}}),
        )
        .await;
    let data = bytes(8 * MIB, 8);
    let result = upload(&uploader, &data, "ttl.bin", Conflict::Ask, false).await.0.unwrap();
    assert_stored(&server, "ttl.bin", &data, &result.crc64).await;
    let cos = server.cos_requests().await;
    let refused = cos.iter().filter(|e| e["status"] == 403).count();
    assert_eq!(refused, 0, "renewed before expiry, so COS never refused: {cos:?}");
    // 8 parts one after the other, each held 400 ms: the upload outlives the 3 s authorisation,
    // so it went on only because it was renewed.
    let log = server.app_get("/_dev/log").await;
    let renewals = log.as_array().unwrap().iter().filter(|e| e["op"] == "renew" && e["status"] == 200).count();
    assert!(renewals >= 1, "at least one renewal: {log}");
}

#[tokio::test(flavor = "current_thread")]
async fn domain_not_allowed_sends_no_byte_and_cancels() {
    let server = Devserver::start(&[]);
    let mut config = server.config();
    config.allowed_domains = Some(vec!["*.myqcloud.com".into()]);
    let uploader = server.uploader(config).await;
    server.app_delete("/_dev/log").await;
    for len in [10, 3 * MIB + 1] {
        let err = upload(&uploader, &bytes(len, 9), "evil.bin", Conflict::Ask, false).await.0.unwrap_err();
        assert_eq!(err.code(), "DomainNotAllowed");
    }
    assert!(server.cos_requests().await.is_empty(), "not one request reached the cos origin");
    assert_nothing_open(&server).await;
}

#[tokio::test(flavor = "current_thread")]
async fn faults_are_retried() {
    let server = Devserver::start(&[]);
    let mut config = server.config();
    config.part_size = Some(MIB as u64);
    config.multipart_threshold = MIB as u64;
    config.retry.stall_timeout = Duration::from_millis(500);
    let uploader = server.uploader(config).await;
    let cases = [
        ("e500.bin", json!({"type": "status", "status": 500, "code": "InternalError"}), 2),
        ("slow.bin", json!({"type": "status", "status": 503, "code": "SlowDown"}), 1),
        ("reset.bin", json!({"type": "reset"}), 1),
        ("badcrc.bin", json!({"type": "badCrc"}), 1),
        ("stall.bin", json!({"type": "stall", "ms": 5000}), 1),
        ("smh503.bin", json!({"type": "status", "status": 503, "code": "ServerOverloaded"}), 1),
    ];
    for (i, (name, action, times)) in cases.into_iter().enumerate() {
        let origin = if name.starts_with("smh") { "smh" } else { "cos" };
        let mut rule = json!({"origin": origin, "times": times, "action": action});
        if origin == "cos" {
            rule["query"] = json!("partNumber");
        }
        server.app_post("/_dev/faults", rule).await;
        let data = bytes(3 * MIB + 100, 20 + i as u64);
        let result =
            upload(&uploader, &data, name, Conflict::Ask, false).await.0.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_stored(&server, name, &data, &result.crc64).await;
        let rules = server.app_get("/_dev/faults").await;
        let rule = &rules["rules"][0];
        assert_eq!(rule["fired"].as_u64(), Some(times), "{name}: the fault fired as scripted: {rules}");
        server.app_delete("/_dev/faults").await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn final_errors_are_typed_and_cancel_the_upload() {
    let server = Devserver::start(&[]);
    let mut config = server.config();
    config.part_size = Some(MIB as u64);
    config.multipart_threshold = MIB as u64;
    config.retry.max_retries = 1;
    let uploader = server.uploader(config).await;
    server.app_post("/_dev/faults", json!({"origin": "cos", "query": "partNumber", "times": 100, "action": {"type": "status", "status": 500, "code": "InternalError"}})).await;
    let err = upload(&uploader, &bytes(3 * MIB, 1), "fail.bin", Conflict::Ask, false).await.0.unwrap_err();
    assert_eq!((err.code(), err.status(), err.retryable()), ("InternalError", 500, true));
    assert!(err.request_id().is_some(), "COS request id kept");
    server.app_delete("/_dev/faults").await;
    assert_nothing_open(&server).await;
    // Parent directory missing: SMH's 404, nothing left.
    let err = upload(&uploader, b"x", "no/such/dir.txt", Conflict::Ask, false).await.0.unwrap_err();
    assert_eq!((err.code(), err.status()), ("DirectoryNotFound", 404));
}

#[tokio::test(flavor = "current_thread")]
async fn bad_configuration_is_invalid_input() {
    let server = Devserver::start(&[]);
    type Change = Box<dyn Fn(&mut smh_upload::engine::ClientConfig)>;
    let cases: Vec<(&str, Change)> = vec![
        ("concurrency", Box::new(|c| c.concurrency = 0)),
        ("concurrency", Box::new(|c| c.concurrency = 1000)),
        ("partSize", Box::new(|c| c.part_size = Some(1024))),
        ("baseUrl", Box::new(|c| c.target.base_url = "http://smh.example.com".into())),
        ("allowedDomains", Box::new(|c| c.allowed_domains = Some(vec!["*.com".into()]))),
        ("libraryId", Box::new(|c| c.target.library_id = "".into())),
    ];
    for (option, change) in cases {
        let mut config = server.config();
        change(&mut config);
        let result = smh_upload::engine::SmhUploader::new(
            config,
            Rc::new(ReqwestHttp::default()),
            Rc::new(TokioTimer::default()),
            Tokens::fixed("t".into()),
            Rc::new(smh_upload::platform::NoCheckpoints),
        );
        match result.map_err(|e| *e) {
            Err(Error::InvalidInput { option: o, .. }) => assert_eq!(o, option),
            Err(e) => panic!("{option}: {e}"),
            Ok(_) => panic!("{option}: accepted"),
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn multi_tenant_space_and_multi_album_paths() {
    // Tenant space: the spaceId from READY goes into every call; the token is bound to it.
    let server = Devserver::start(&["--multi-tenant"]);
    let space = server.field("spaceId");
    assert_ne!(space, "-");
    let uploader = server.uploader(server.config()).await;
    let data = bytes(3 * MIB, 31);
    let result = upload(&uploader, &data, "tenant.bin", Conflict::Ask, false).await.0.unwrap();
    let object = server.object_at("tenant.bin").await.expect("stored");
    assert_eq!(object["spaceId"].as_str(), Some(space.as_str()));
    assert_eq!(object["sha256"].as_str(), Some(sha256_hex(&data).as_str()));
    assert_eq!(object["crc64"].as_str(), Some(result.crc64.as_str()));
    // The same client pointed at another space is refused by SMH (token bound to the first).
    let mut other = server.config();
    other.target.space_id = "space-of-someone-else".into();
    let err = upload(&server.uploader(other).await, b"x", "x.bin", Conflict::Ask, false).await.0.unwrap_err();
    assert_eq!(err.status(), 403, "{err}");

    // Multi-album: uploads only into an album (a first-level directory).
    let server = Devserver::start(&["--multi-album"]);
    let uploader = server.uploader(server.config()).await;
    let err = upload(&uploader, b"root", "root.jpg", Conflict::Ask, false).await.0.unwrap_err();
    assert_eq!((err.code(), err.status()), ("UploadToRootDirectoryNotAllowed", 400));
    let token = server.token().await;
    let made = reqwest::Client::new()
        .put(format!(
            "{}/api/v1/directory/{}/{}/trip?access_token={token}",
            server.field("smh"),
            server.field("libraryId"),
            server.field("spaceId")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status().as_u16(), 201);
    let photo = bytes(2 * MIB + 3, 32);
    let result = upload(&uploader, &photo, "trip/photo.jpg", Conflict::Ask, true).await.0.unwrap();
    assert_stored(&server, "trip/photo.jpg", &photo, &result.crc64).await;
    assert_nothing_open(&server).await;
}

fn is_begin(request: &HttpRequest) -> bool {
    request.url.contains("/api/v1/file/") && request.url.contains("filesize=")
}

fn header<'a>(request: &'a HttpRequest, name: &str) -> &'a str {
    request.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map_or("", |(_, v)| v.as_str())
}

/// The rewrites of [`replies_echoing_credentials_do_not_leak_them_into_errors`].
type Rewrite = Box<dyn Fn(&HttpRequest, HttpResponse) -> HttpResponse>;

/// Uploads `data` through an uploader whose replies `rewrite` changes; the error, as text.
async fn failed_upload_through(server: &Devserver, token: &str, rewrite: Rewrite, data: &[u8], path: &str) -> String {
    let mut config = server.config();
    config.retry.max_retries = 1;
    config.multipart_threshold = MIB as u64;
    config.part_size = Some(MIB as u64);
    let uploader = server.uploader_over(config, Tokens::fixed(token.to_string()), Rc::new(RewritingHttp::new(rewrite)));
    let err = upload(&uploader, data, path, Conflict::Ask, false).await.0.expect_err(path);
    format!("{err} {err:?}")
}

/// Replies that quote the credentials of the request they answer — a proxy's login page that
/// links back to the URL (with `access_token`), an SMH error that names the token. The SDK's
/// errors must not carry them on (the replies of this test do hold the real token).
#[tokio::test(flavor = "current_thread")]
async fn replies_echoing_credentials_do_not_leak_them_into_errors() {
    let server = Devserver::start(&[]);
    let token = server.token().await;
    let login_page: Rewrite = Box::new(|req, resp| {
        if !is_begin(req) {
            return resp;
        }
        HttpResponse {
            status: 201,
            headers: vec![],
            body: format!("<html>Session ended. <a href=\"{}\">Log in</a></html>", req.url).into_bytes(),
        }
    });
    let token_in_error: Rewrite = Box::new(|req, resp| {
        if !is_begin(req) {
            return resp;
        }
        let body = json!({"code": "InvalidAccessToken", "message": format!("the token in {} is not valid", req.url), "requestId": "hostile"});
        HttpResponse {
            status: 403,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    });
    for (case, rewrite) in [("login-page", login_page), ("smh-error", token_in_error)] {
        let text = failed_upload_through(&server, &token, rewrite, &bytes(10, 1), &format!("hostile-{case}.bin")).await;
        assert!(!text.contains(&token), "{case}: the access token leaked: {text}");
    }
}

/// A COS error that quotes the signature and security token it refused: the SDK hides long
/// opaque words of COS messages (src/cos/xml.rs `scrub_opaque`), so neither reaches the error.
#[tokio::test(flavor = "current_thread")]
async fn cos_error_quoting_the_signature_does_not_leak_it() {
    let server = Devserver::start(&[]);
    let token = server.token().await;
    let seen: Rc<std::cell::RefCell<Vec<String>>> = Rc::default();
    let quote: Rewrite = {
        let seen = seen.clone();
        Box::new(move |req, resp| {
            if req.method != Method::Put || !req.url.contains("partNumber=") {
                return resp;
            }
            let (authorization, security) = (header(req, "authorization"), header(req, "x-cos-security-token"));
            let signature = authorization.split("q-signature=").nth(1).unwrap_or_default();
            seen.borrow_mut().extend([signature.to_string(), security.to_string()]);
            let xml = format!("<Error><Code>SignatureDoesNotMatch</Code><Message>Signature {authorization} with token {security} does not match</Message><RequestId>hostile</RequestId></Error>");
            HttpResponse { status: 403, headers: vec![], body: xml.into_bytes() }
        })
    };
    let text = failed_upload_through(&server, &token, quote, &bytes(2 * MIB, 3), "hostile-cos-error.bin").await;
    let seen = seen.borrow();
    assert!(seen.len() >= 2 && seen.iter().all(|s| s.len() >= 8), "a signed part PUT was answered: {seen:?}");
    for secret in seen.iter() {
        assert!(!text.contains(secret.as_str()), "a signature or security token leaked: {text}");
    }
}

/// A confirm whose reply is lost while SMH still assembles the file: the retried confirm hears
/// `UploadComplete`, and the task reads unconfirmed for a while. The engine asks again until it
/// reads confirmed (here: the first confirm's reply becomes a 503 and the first two task queries
/// say `confirmed: false`).
#[tokio::test(flavor = "current_thread")]
async fn a_confirm_still_running_on_smh_is_waited_for() {
    let server = Devserver::start(&[]);
    let token = server.token().await;
    let (confirms, queries) = (Rc::new(Cell::new(0u32)), Rc::new(Cell::new(0u32)));
    let rewrite = {
        let (confirms, queries) = (confirms.clone(), queries.clone());
        move |req: &HttpRequest, resp: HttpResponse| {
            if req.url.contains("?confirm") && confirms.replace(confirms.get() + 1) == 0 {
                return HttpResponse {
                    status: 503,
                    headers: vec![],
                    body: br#"{"code":"ServerOverloaded","message":"busy"}"#.to_vec(),
                };
            }
            if req.method == Method::Get && req.url.contains("?upload") && queries.replace(queries.get() + 1) < 2 {
                let body = String::from_utf8_lossy(&resp.body).replace("\"confirmed\":true", "\"confirmed\":false");
                return HttpResponse { body: body.into_bytes(), ..resp };
            }
            resp
        }
    };
    let mut config = server.config();
    config.multipart_threshold = MIB as u64;
    config.part_size = Some(MIB as u64);
    let uploader = server.uploader_over(config, Tokens::fixed(token), Rc::new(RewritingHttp::new(rewrite)));
    let data = bytes(3 * MIB, 17);
    let (result, _) = upload(&uploader, &data, "slow-confirm.bin", Conflict::Ask, false).await;
    let result = result.expect("the confirmed file is reported");
    assert!(confirms.get() >= 2 && queries.get() >= 3, "confirms {} queries {}", confirms.get(), queries.get());
    assert_stored(&server, "slow-confirm.bin", &data, &result.crc64).await;
}

/// A part whose CRC-64 was computed over other bytes than those sent (a file changing under the
/// reader, a bad read): COS's CRC differs; sending the same body with the same CRC again would
/// fail forever, so the part is read again, CRC included.
#[tokio::test(flavor = "current_thread")]
async fn a_part_crc_mismatch_reads_the_part_again() {
    struct FlakyCrc {
        inner: MemorySource,
        bad_left: Cell<u32>,
        reads: Cell<u32>,
    }
    impl FileSource for FlakyCrc {
        fn size(&self) -> u64 {
            self.inner.size()
        }
        fn read(
            &self,
            range: std::ops::Range<u64>,
        ) -> smh_upload::platform::LocalBoxFuture<'_, Result<Vec<u8>, Box<Error>>> {
            self.inner.read(range)
        }
        fn fingerprint(&self) -> String {
            self.inner.fingerprint()
        }
        fn part(
            &self,
            range: std::ops::Range<u64>,
        ) -> smh_upload::platform::LocalBoxFuture<'_, Result<smh_upload::platform::Part, Box<Error>>> {
            Box::pin(async move {
                self.reads.set(self.reads.get() + 1);
                let part = self.inner.part(range).await?;
                if self.bad_left.get() == 0 {
                    return Ok(part);
                }
                self.bad_left.set(self.bad_left.get() - 1);
                let crc = part.crc64.await? ^ 1;
                Ok(smh_upload::platform::Part { body: part.body, crc64: Box::pin(async move { Ok(crc) }) })
            })
        }
    }
    let server = Devserver::start(&[]);
    let mut config = server.config();
    config.multipart_threshold = MIB as u64;
    config.part_size = Some(MIB as u64);
    config.concurrency = 1;
    let uploader = server.uploader(config).await;
    let data = bytes(3 * MIB, 19);
    let source = Rc::new(FlakyCrc {
        inner: MemorySource { bytes: Rc::from(data.clone()), name: "flaky.bin".into() },
        bad_left: Cell::new(1),
        reads: Cell::new(0),
    });
    let opts = smh_upload::engine::UploadOptions {
        path: smh_upload::smh::LibraryPath::parse("flaky.bin").unwrap(),
        conflict: Conflict::Ask,
        quick_upload: false,
        create_parents: false,
    };
    let result = smh_upload::engine::run(uploader, source.clone(), opts, Control::new(), Rc::new(Recorder::default()))
        .await
        .expect("the re-read part goes through");
    assert_eq!(source.reads.get(), 4, "three parts, one of them read twice");
    assert_stored(&server, "flaky.bin", &data, &result.crc64).await;
}

/// A client that gives up on a confirm while SMH assembles the file (its request timed out, the
/// connection closed): SMH still finishes that confirm, and the client's retry — which hears
/// `UploadComplete` — sees the task confirmed. A server that dropped the confirm with the
/// connection would leave the task `confirming` for ever, and a large upload could never finish.
#[tokio::test(flavor = "current_thread")]
async fn a_confirm_the_client_gave_up_on_still_completes() {
    struct GivesUpOnFirstConfirm {
        inner: ReqwestHttp,
        gave_up: Cell<bool>,
    }
    impl smh_upload::platform::Http for GivesUpOnFirstConfirm {
        fn send(
            &self,
            request: HttpRequest,
        ) -> smh_upload::platform::LocalBoxFuture<'_, Result<HttpResponse, Box<Error>>> {
            Box::pin(async move {
                if !request.url.contains("?confirm") || self.gave_up.replace(true) {
                    return self.inner.send(request).await;
                }
                // Long enough for the request to arrive, shorter than assembling 64 MiB.
                let send = self.inner.send(request);
                match futures::future::select(send, Box::pin(tokio::time::sleep(Duration::from_millis(60)))).await {
                    futures::future::Either::Left((reply, _)) => reply,
                    futures::future::Either::Right(_) => {
                        Err(Error::Timeout { message: "gave up on the confirm".into() }.into())
                    }
                }
            })
        }
    }
    let server = Devserver::start(&[]);
    let token = server.token().await;
    let mut config = server.config();
    config.part_size = Some(8 * MIB as u64);
    let http = Rc::new(GivesUpOnFirstConfirm { inner: ReqwestHttp::default(), gave_up: Cell::new(false) });
    let uploader = server.uploader_over(config, Tokens::fixed(token), http.clone());
    let data = bytes(64 * MIB, 23);
    let (result, _) = upload(&uploader, &data, "abandoned-confirm.bin", Conflict::Ask, false).await;
    let result = result.expect("the first confirm finished on the server");
    assert!(http.gave_up.get());
    assert_stored(&server, "abandoned-confirm.bin", &data, &result.crc64).await;
    assert_nothing_open(&server).await;
}

/// Cancel while SMH answers a quick-upload begin that hits (issue 18.8): SMH has created the
/// file, so the upload waits for the reply and is reported done (instant), not `Aborted`.
#[tokio::test(flavor = "current_thread")]
async fn cancel_during_a_quick_upload_hit_reports_the_stored_file() {
    let server = Devserver::start(&[]);
    let uploader = server.uploader(server.config()).await;
    let data = bytes(3 * MIB + 5, 41);
    let first = upload(&uploader, &data, "quick-orig.bin", Conflict::Ask, true).await.0.unwrap();
    // The second begin (with the full hash, the one that hits) is held for a while.
    server
        .app_post(
            "/_dev/faults",
            json!({"origin": "smh", "query": "filesize", "skip": 1, "times": 1, "action": {"type": "delay", "ms": 1500}}),
        )
        .await;
    let control = Control::new();
    let rec = Rc::new(Recorder::default());
    let cancel_while_held = async {
        // The rule has fired once the held begin reached SMH.
        loop {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let faults = server.app_get("/_dev/faults").await;
            if faults["rules"][0]["fired"].as_u64() == Some(1) {
                break;
            }
        }
        control.cancel();
    };
    let (result, ()) = futures::join!(
        upload_with(&uploader, &data, "quick-copy.bin", Conflict::Ask, true, control.clone(), rec.clone()),
        cancel_while_held
    );
    let result = result.expect("SMH stored the file before cancel() could stop it");
    assert!(result.instant, "quick upload hit");
    assert_eq!(rec.states.borrow().last(), Some(&UploadState::Done));
    assert_stored(&server, "quick-copy.bin", &data, &first.crc64).await;
    assert_nothing_open(&server).await;
}

/// A quick-upload hit (the full hash ready before any part) whose reply is lost, once — the
/// resent begin finds the path taken — or twice — no answer at all: the file at the path settles
/// it, so `rename` does not store the file a second time beside the hit.
#[tokio::test(flavor = "current_thread")]
async fn a_quick_upload_hit_whose_reply_is_lost_is_not_stored_twice() {
    let server = Devserver::start(&[]);
    let uploader = server.uploader(server.config()).await;
    let data = bytes(3 * MIB + 5, 43);
    let first = upload(&uploader, &data, "lost-hit-orig.bin", Conflict::Ask, true).await.0.unwrap();
    for drops in [1, 2] {
        let path = format!("lost-hit-{drops}.bin");
        server.app_delete("/_dev/faults").await;
        // After the first begin (202: send the full hash), the begins with it are handled — the
        // hit stores the file — and their replies dropped.
        server
            .app_post(
                "/_dev/faults",
                json!({"origin": "smh", "query": "filesize", "skip": 1, "times": drops, "action": {"type": "dropReply"}}),
            )
            .await;
        let result =
            upload(&uploader, &data, &path, Conflict::Rename, true).await.0.expect("settled by the file at the path");
        let faults = server.app_get("/_dev/faults").await;
        assert_eq!(faults["rules"][0]["fired"].as_u64(), Some(drops), "replies dropped: {faults}");
        assert!(result.instant, "the lost hit is the result");
        assert_eq!(result.file.path, path);
        assert_stored(&server, &path, &data, &first.crc64).await;
        assert!(server.object_at(&format!("lost-hit-{drops} (1).bin")).await.is_none(), "a second copy");
    }
    assert_nothing_open(&server).await;
}

/// A resumable upload whose check fails for a reason of its own — here SMH's task query answered
/// 503 past its retries (issue 18.3) — is not taken as forgotten by SMH: the attempt fails with
/// that (retryable) error, the record and the SMH task stay, and the next upload resumes.
#[tokio::test(flavor = "current_thread")]
async fn a_failed_resume_check_keeps_the_record_and_the_task() {
    let server = Devserver::start(&[]);
    let mut config = server.config();
    config.multipart_threshold = 2 * MIB as u64;
    config.part_size = Some(MIB as u64);
    config.retry.max_retries = 1;
    let uploader = server.uploader(config).await;
    let data = bytes(6 * MIB, 47);
    server.app_post("/_dev/faults", json!({"origin": "cos", "method": "PUT", "query": "partNumber", "skip": 3, "times": 1000, "action": {"type": "reset"}})).await;
    let err = upload(&uploader, &data, "checked.bin", Conflict::Ask, false).await.0.unwrap_err();
    assert!(err.retryable(), "{err}");
    server.app_delete("/_dev/faults").await;
    server.app_post("/_dev/faults", json!({"origin": "smh", "method": "GET", "query": "upload", "times": 1000, "action": {"type": "status", "status": 503}})).await;
    let err = upload(&uploader, &data, "checked.bin", Conflict::Ask, false).await.0.unwrap_err();
    assert_eq!((err.status(), err.retryable()), (503, true), "{err}");
    let pending = uploader.pending_uploads().await;
    assert_eq!(pending.iter().map(|p| p.path.as_str()).collect::<Vec<_>>(), ["checked.bin"], "the record is kept");
    let open = server.open_uploads().await;
    assert_eq!(open["smh"].as_array().map(Vec::len), Some(1), "the SMH task is not cancelled: {open}");
    server.app_delete("/_dev/faults").await;
    let puts = |log: &[serde_json::Value]| log.iter().filter(|e| e["method"] == "PUT").count();
    // Three PUTs pass the fault, but one still in flight when the attempt failed may or may not
    // have been stored: a resume sends the other three or four, a new upload would send all six.
    let before = puts(&server.cos_requests().await);
    let result = upload(&uploader, &data, "checked.bin", Conflict::Ask, false).await.0.expect("resumes");
    assert_stored(&server, "checked.bin", &data, &result.crc64).await;
    let sent = puts(&server.cos_requests().await) - before;
    assert!((3..=5).contains(&sent), "only the missing parts were sent, not all six: {sent}");
    let log = server.app_get("/_dev/log").await;
    let ops = |op: &str| log.as_array().unwrap().iter().filter(|e| e["op"] == op).count();
    assert_eq!((ops("begin"), ops("cancel")), (1, 0), "one task, never cancelled: {log}");
    assert!(uploader.pending_uploads().await.is_empty());
    assert_nothing_open(&server).await;
}

/// The devserver's config with 1 MiB parts from 2 MiB on.
fn one_mib_parts(server: &Devserver) -> smh_upload::engine::ClientConfig {
    let mut config = server.config();
    config.multipart_threshold = 2 * MIB as u64;
    config.part_size = Some(MIB as u64);
    config
}

/// Asserts the uploader holds a record of an upload to `path`, and no other.
async fn assert_pending(uploader: &smh_upload::engine::SmhUploader, path: &str) {
    let pending = uploader.pending_uploads().await;
    assert_eq!(pending.iter().map(|p| p.path.as_str()).collect::<Vec<_>>(), [path], "the record is kept");
}

/// Counts SMH requests of `op` in the devserver's log.
async fn smh_ops(server: &Devserver, op: &str) -> usize {
    let log = server.app_get("/_dev/log").await;
    log.as_array().unwrap().iter().filter(|e| e["op"] == op).count()
}

/// Waits until fault rule `index` has fired.
async fn until_fired(server: &Devserver, index: usize) {
    loop {
        tokio::time::sleep(Duration::from_millis(10)).await;
        if server.app_get("/_dev/faults").await["rules"][index]["fired"].as_u64() >= Some(1) {
            return;
        }
    }
}

/// Cancels `control` once rule 0 has fired; returns how long the upload then took to report
/// `Cancelled`.
async fn cancel_when_held(server: &Devserver, control: &Control, rec: &Recorder) -> Duration {
    until_fired(server, 0).await;
    control.cancel();
    let cancelled = std::time::Instant::now();
    while !rec.states.borrow().contains(&UploadState::Cancelled) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    cancelled.elapsed()
}

/// Cancel while SMH holds the begin (issue 18.1): a begin commits no file, so the task reports
/// `Cancelled` at once instead of after the reply; the task the begin opened is cancelled once
/// its reply arrives, and nothing is left open.
#[tokio::test(flavor = "current_thread")]
async fn cancel_during_a_held_begin_settles_at_once_and_cancels_the_task_later() {
    let server = Devserver::start(&[]);
    let uploader = server.uploader(one_mib_parts(&server)).await;
    let data = bytes(3 * MIB, 59);
    server
        .app_post(
            "/_dev/faults",
            json!({"origin": "smh", "query": "filesize", "times": 1, "action": {"type": "delay", "ms": 1500}}),
        )
        .await;
    let (control, rec) = (Control::new(), Rc::new(Recorder::default()));
    let started = std::time::Instant::now();
    let (result, to_cancelled) = futures::join!(
        upload_with(&uploader, &data, "held-begin.bin", Conflict::Ask, false, control.clone(), rec.clone()),
        cancel_when_held(&server, &control, &rec)
    );
    assert_eq!(result.unwrap_err().code(), "Aborted");
    assert!(to_cancelled < Duration::from_millis(400), "cancelled after {to_cancelled:?}, not at once");
    assert!(started.elapsed() >= Duration::from_millis(1500), "the upload ended only after the begin's reply");
    assert_eq!(rec.states.borrow().iter().filter(|s| **s == UploadState::Cancelled).count(), 1);
    assert_eq!((smh_ops(&server, "begin").await, smh_ops(&server, "cancel").await), (1, 1));
    assert_nothing_open(&server).await;
}

/// Cancel while a confirm stalls past its bound (issue 18.1): the task reports `Cancelled` by
/// the confirm's time limit, not after every retry; the file may have been committed, so the
/// record and the SMH task are kept, and the next upload of the file settles it.
#[tokio::test(flavor = "current_thread")]
async fn cancel_during_a_stalled_confirm_settles_by_its_bound_and_keeps_the_record() {
    let server = Devserver::start(&[]);
    let mut config = one_mib_parts(&server);
    config.retry.request_timeout = Duration::from_millis(600);
    let uploader = server.uploader(config).await;
    let data = bytes(3 * MIB, 61);
    server
        .app_post(
            "/_dev/faults",
            json!({"origin": "smh", "query": "confirm", "times": 1000, "action": {"type": "stall", "ms": 20000}}),
        )
        .await;
    let (control, rec) = (Control::new(), Rc::new(Recorder::default()));
    let (result, to_cancelled) = futures::join!(
        upload_with(&uploader, &data, "stalled-confirm.bin", Conflict::Ask, false, control.clone(), rec.clone()),
        cancel_when_held(&server, &control, &rec)
    );
    assert_eq!(result.unwrap_err().code(), "Aborted");
    // The bound: one confirm's time limit (600 ms for 3 MiB) after the cancel.
    assert!(to_cancelled < Duration::from_millis(1200), "cancelled after {to_cancelled:?}");
    assert_pending(&uploader, "stalled-confirm.bin").await;
    assert_eq!(smh_ops(&server, "cancel").await, 0, "the task that may have committed is not cancelled");
    server.app_delete("/_dev/faults").await;
    let before = server.cos_requests().await.len();
    let result = upload(&uploader, &data, "stalled-confirm.bin", Conflict::Ask, false).await.0.expect("resumes");
    assert_eq!(server.cos_requests().await.len(), before, "every part was on the server already");
    assert_stored(&server, "stalled-confirm.bin", &data, &result.crc64).await;
    assert_eq!(smh_ops(&server, "begin").await, 1);
    assert!(uploader.pending_uploads().await.is_empty());
    assert_nothing_open(&server).await;
}

/// A confirm that committed but whose reply never arrived — lost, then every retry reset
/// (issue 18.3c): the upload fails with a retryable error but keeps its record and its task,
/// and the next upload of the file learns from SMH that it was confirmed: done, nothing resent.
#[tokio::test(flavor = "current_thread")]
async fn a_confirm_reply_lost_for_good_keeps_the_record_and_the_next_upload_settles_it() {
    let server = Devserver::start(&[]);
    let mut config = one_mib_parts(&server);
    config.retry.max_retries = 1;
    let uploader = server.uploader(config).await;
    let data = bytes(3 * MIB, 67);
    // The first confirm commits and its reply is lost; every later one is reset unheard.
    server
        .app_post(
            "/_dev/faults",
            json!({"origin": "smh", "query": "confirm", "times": 1, "action": {"type": "dropReply"}}),
        )
        .await;
    server
        .app_post(
            "/_dev/faults",
            json!({"origin": "smh", "query": "confirm", "times": 1000, "action": {"type": "reset"}}),
        )
        .await;
    let err = upload(&uploader, &data, "lost-confirm.bin", Conflict::Ask, false).await.0.unwrap_err();
    assert!(err.retryable(), "{err}");
    assert_pending(&uploader, "lost-confirm.bin").await;
    server.app_delete("/_dev/faults").await;
    let before = server.cos_requests().await.len();
    let result = upload(&uploader, &data, "lost-confirm.bin", Conflict::Ask, false).await.0.expect("settled");
    assert_eq!(server.cos_requests().await.len(), before, "nothing was sent again");
    assert_stored(&server, "lost-confirm.bin", &data, &result.crc64).await;
    assert_eq!((smh_ops(&server, "begin").await, smh_ops(&server, "cancel").await), (1, 0));
    assert!(uploader.pending_uploads().await.is_empty());
    assert_nothing_open(&server).await;
}

/// `getAccessToken()` failing mid-upload — here when SMH refuses the token at confirm and the
/// refresh rejects (issue 18.3b): the upload fails with a retryable `AccessTokenError`, keeps
/// the record and the task, and the next upload of the file resumes (no part sent again).
#[tokio::test(flavor = "current_thread")]
async fn a_failed_token_refresh_keeps_the_record_and_the_task() {
    struct Flaky {
        inner: AppTokens,
        failing: Rc<Cell<bool>>,
    }
    impl smh_upload::smh::TokenProvider for Flaky {
        fn fetch(&self) -> smh_upload::platform::LocalBoxFuture<'static, Result<String, Box<Error>>> {
            if self.failing.get() {
                let message = "getAccessToken rejected: backend unreachable".to_string();
                return Box::pin(async move { Err(Error::AccessToken { message }.into()) });
            }
            smh_upload::smh::TokenProvider::fetch(&self.inner)
        }
    }
    let server = Devserver::start(&[]);
    let config = one_mib_parts(&server);
    let failing = Rc::new(Cell::new(true));
    let provider =
        Flaky { inner: AppTokens { app: server.field("app"), calls: Rc::default() }, failing: failing.clone() };
    let uploader = server.uploader_with(config, Tokens::from_provider(Rc::new(provider), Some(server.token().await)));
    let data = bytes(3 * MIB, 71);
    server
        .app_post(
            "/_dev/faults",
            json!({"origin": "smh", "query": "confirm", "times": 1, "action": {"type": "expired"}}),
        )
        .await;
    let err = upload(&uploader, &data, "token-lost.bin", Conflict::Ask, false).await.0.unwrap_err();
    assert_eq!((err.code(), err.retryable()), ("AccessTokenError", true), "{err}");
    assert_pending(&uploader, "token-lost.bin").await;
    assert_eq!(server.open_uploads().await["smh"].as_array().map(Vec::len), Some(1), "the task is kept");
    failing.set(false);
    let before = server.cos_requests().await.len();
    let result = upload(&uploader, &data, "token-lost.bin", Conflict::Ask, false).await.0.expect("resumes");
    assert_eq!(server.cos_requests().await.len(), before, "every part was on the server already");
    assert_stored(&server, "token-lost.bin", &data, &result.crc64).await;
    assert_eq!((smh_ops(&server, "begin").await, smh_ops(&server, "cancel").await), (1, 0));
    assert_nothing_open(&server).await;
}
