//! The direct-COS mode (`run_cos`, the engine behind `CosUploader`) against the real
//! smh-devserver's cos origin, with temporary keys from its `POST /credentials` (the customer
//! backend): sizes around the threshold, Content-Type and metadata, cancel, credentials expiring
//! mid-upload, every credential shape, a clock an hour fast, resume from a record, the
//! allow-list. Bytes are checked through the devserver's `/_dev/objects`.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use serde_json::{json, Value};
use smh_upload::cos::credentials::CredentialProvider;
use smh_upload::engine::{
    run_cos, ClientConfig, Control, CosConfig, CosObject, CosResult, DirectCosUploader, UploadState,
};
use smh_upload::platform::{
    CheckpointStore, Http, HttpRequest, HttpResponse, LocalBoxFuture, MemoryCheckpoints, MemorySource, Method, Timer,
};
use smh_upload::Error;
use support::*;

const MIB: usize = 1024 * 1024;

/// `getCredentials()` of a page: asks the devserver's customer backend, counts the calls.
struct Backend {
    app: String,
    shape: &'static str,
    duration: u64,
    calls: Rc<Cell<u32>>,
}

impl CredentialProvider for Backend {
    fn fetch(&self) -> LocalBoxFuture<'static, Result<smh_upload::json::Value, Box<Error>>> {
        self.calls.set(self.calls.get() + 1);
        let url =
            format!("{}/credentials?shape={}", self.app, if self.shape.starts_with("vod") { "vod" } else { "sts" });
        let (shape, duration) = (self.shape, self.duration);
        Box::pin(async move {
            let fail = |e: String| Box::new(Error::Credentials { message: e });
            let v: serde_json::Value = reqwest::Client::builder()
                .no_proxy()
                .build()
                .unwrap()
                .post(url)
                .json(&json!({"durationSeconds": duration}))
                .send()
                .await
                .map_err(|e| fail(e.to_string()))?
                .json()
                .await
                .map_err(|e| fail(e.to_string()))?;
            // The shapes a backend may hand over: as minted, or reshaped.
            let v = match shape {
                "flat" => {
                    json!({"tmpSecretId": v["Credentials"]["TmpSecretId"], "tmpSecretKey": v["Credentials"]["TmpSecretKey"], "sessionToken": v["Credentials"]["Token"], "startTime": v["StartTime"], "expiredTime": v["ExpiredTime"]})
                }
                "vod-bare" => v["Response"].clone(),
                // Keys the backend cached: issued 4000 s before they are handed over.
                "cached" => {
                    let mut v = v;
                    v["StartTime"] = json!(v["StartTime"].as_u64().expect("StartTime") - 4000);
                    v
                }
                _ => v,
            };
            smh_upload::json::parse(v.to_string().as_bytes()).map_err(|_| fail("not JSON".into()))
        })
    }
}

struct Setup {
    calls: Rc<Cell<u32>>,
    uploader: Rc<DirectCosUploader>,
}

fn cos_config(server: &Devserver) -> (CosConfig, ClientConfig) {
    let mut config = server.config();
    config.multipart_threshold = 2 * MIB as u64;
    config.part_size = Some(MIB as u64);
    let cos =
        CosConfig { bucket: server.field("bucket"), region: server.field("region"), domain: Some(server.field("cos")) };
    (cos, config)
}

fn setup(
    server: &Devserver,
    shape: &'static str,
    duration: u64,
    timer: Rc<dyn Timer>,
    store: Rc<dyn CheckpointStore>,
    config: Option<ClientConfig>,
) -> Setup {
    setup_over(server, shape, duration, timer, store, config, Rc::new(ReqwestHttp::default()))
}

fn setup_over(
    server: &Devserver,
    shape: &'static str,
    duration: u64,
    timer: Rc<dyn Timer>,
    store: Rc<dyn CheckpointStore>,
    config: Option<ClientConfig>,
    http: Rc<dyn Http>,
) -> Setup {
    let calls = Rc::new(Cell::new(0));
    let (cos, default_config) = cos_config(server);
    let provider = Rc::new(Backend { app: server.field("app"), shape, duration, calls: calls.clone() });
    let uploader = DirectCosUploader::new(cos, config.unwrap_or(default_config), http, timer, provider, store)
        .expect("valid config");
    Setup { calls, uploader: Rc::new(uploader) }
}

async fn put(
    uploader: &Rc<DirectCosUploader>,
    data: &[u8],
    key: &str,
    control: Control,
    rec: Rc<Recorder>,
) -> Result<CosResult, Box<Error>> {
    let source = Rc::new(MemorySource { bytes: Rc::from(data.to_vec()), name: key.to_string() });
    let object = CosObject {
        key: key.to_string(),
        content_type: Some("video/mp4".into()),
        meta: vec![("owner".into(), "jane".into())],
    };
    run_cos(uploader.clone(), source, object, control, rec).await
}

/// The devserver's record of object `key`.
async fn object(server: &Devserver, key: &str) -> Option<serde_json::Value> {
    let v = server.app_get("/_dev/objects").await;
    let list = v.as_array().cloned().or_else(|| v["objects"].as_array().cloned()).unwrap_or_default();
    list.into_iter().find(|o| o["key"].as_str() == Some(key))
}

async fn assert_stored(server: &Devserver, key: &str, data: &[u8], result: &CosResult) {
    let o = object(server, key).await.unwrap_or_else(|| panic!("no object {key}"));
    assert_eq!(o["size"].as_u64(), Some(data.len() as u64), "{key} size");
    assert_eq!(o["sha256"].as_str(), Some(sha256_hex(data).as_str()), "{key} bytes");
    assert_eq!(o["crc64"].as_str(), Some(result.crc64.as_str()), "{key}: the server's CRC-64 differs from the SDK's");
    assert_eq!(result.size, data.len() as u64);
}

async fn open_cos_uploads(server: &Devserver) -> usize {
    server.open_uploads().await["cos"].as_array().map_or(usize::MAX, Vec::len)
}

#[tokio::test(flavor = "current_thread")]
async fn sizes_around_the_threshold_with_type_and_metadata() {
    let server = Devserver::start(&[]);
    let s = setup(&server, "sts", 1800, Rc::new(TokioTimer::default()), Rc::new(MemoryCheckpoints::default()), None);
    for (i, (key, len)) in [
        ("v/empty.mp4", 0),
        ("v/one.mp4", 1),
        ("v/at.mp4", 2 * MIB),
        ("v/over.mp4", 2 * MIB + 1),
        ("v/中文 a+b.mp4", 3 * MIB + 5),
    ]
    .into_iter()
    .enumerate()
    {
        let data = bytes(len, i as u64 + 7);
        let rec = Rc::new(Recorder::default());
        let result =
            put(&s.uploader, &data, key, Control::new(), rec.clone()).await.unwrap_or_else(|e| panic!("{key}: {e}"));
        assert_stored(&server, key, &data, &result).await;
        assert_eq!(result.key, key);
        assert!(result.location.ends_with(&format!("/{key}")), "{}", result.location);
        assert!(result.etag.as_deref().is_some_and(|e| e.starts_with('"')), "{key}: etag {:?}", result.etag);
        assert_eq!(rec.states.borrow().last(), Some(&UploadState::Done));
    }
    let ops: Vec<String> =
        server.cos_requests().await.iter().map(|e| e["op"].as_str().unwrap_or_default().to_string()).collect();
    assert_eq!(ops.iter().filter(|o| o.as_str() == "UploadPart").count(), 3 + 4, "{ops:?}");
    assert_eq!(ops.iter().filter(|o| o.as_str() == "CompleteMultipartUpload").count(), 2, "{ops:?}");
    assert_eq!(s.calls.get(), 1, "one set of credentials serves every request while valid");
    assert_eq!(open_cos_uploads(&server).await, 0);
}

#[tokio::test(flavor = "current_thread")]
async fn every_credential_shape_uploads() {
    let server = Devserver::start(&[]);
    for (i, shape) in ["sts", "vod", "vod-bare", "flat"].into_iter().enumerate() {
        let s =
            setup(&server, shape, 1800, Rc::new(TokioTimer::default()), Rc::new(MemoryCheckpoints::default()), None);
        let data = bytes(3 * MIB, 40 + i as u64);
        let key = format!("shapes/{shape}.bin");
        let result = put(&s.uploader, &data, &key, Control::new(), Rc::new(Recorder::default()))
            .await
            .unwrap_or_else(|e| panic!("{shape}: {e}"));
        assert_stored(&server, &key, &data, &result).await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn cancel_aborts_the_multipart_upload() {
    let server = Devserver::start(&[]);
    let s = setup(&server, "sts", 1800, Rc::new(TokioTimer::default()), Rc::new(MemoryCheckpoints::default()), None);
    server
        .app_post(
            "/_dev/faults",
            json!({"origin": "cos", "method": "PUT", "times": 100, "action": {"type": "delay", "ms": 100}}),
        )
        .await;
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
    let err = put(&s.uploader, &bytes(8 * MIB, 5), "cancelled.bin", control, rec.clone()).await.unwrap_err();
    assert_eq!(err, Error::Aborted.into());
    assert_eq!(rec.states.borrow().last(), Some(&UploadState::Cancelled));
    assert_eq!(open_cos_uploads(&server).await, 0, "the multipart upload was aborted");
    assert!(object(&server, "cancelled.bin").await.is_none());
}

#[tokio::test(flavor = "current_thread")]
async fn credentials_expiring_mid_upload_are_fetched_again_once() {
    let server = Devserver::start(&[]);
    let mut config = cos_config(&server).1;
    config.concurrency = 4;
    let s = setup(
        &server,
        "sts",
        1800,
        Rc::new(TokioTimer::default()),
        Rc::new(MemoryCheckpoints::default()),
        Some(config),
    );
    server
        .app_post(
            "/_dev/faults",
            json!({"origin": "cos", "method": "PUT", "times": 100, "action": {"type": "delay", "ms": 60}}),
        )
        .await;
    let rec = Rc::new(Recorder::default());
    let expired = Rc::new(Cell::new(false));
    let app = server.field("app");
    {
        let expired = expired.clone();
        *rec.hook.borrow_mut() = Some(Box::new(move |p| {
            if p.loaded >= 3 * MIB as u64 && !expired.replace(true) {
                // Expire every key the backend issued while parts are in flight.
                let app = app.clone();
                std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                    rt.block_on(async {
                        reqwest::Client::builder()
                            .no_proxy()
                            .build()
                            .unwrap()
                            .post(format!("{app}/_dev/credentials/expire"))
                            .json(&json!({}))
                            .send()
                            .await
                            .unwrap()
                    });
                })
                .join()
                .unwrap();
            }
        }));
    }
    let data = bytes(12 * MIB, 9);
    let result = put(&s.uploader, &data, "expiring.bin", Control::new(), rec).await.expect("survives expiry");
    assert!(expired.get());
    assert_stored(&server, "expiring.bin", &data, &result).await;
    assert_eq!(s.calls.get(), 2, "parallel parts refused at once share one getCredentials() call");
}

/// Credentials COS refuses as expired on a control call (here InitiateMultipartUpload, signed
/// with the cached keys of an earlier upload) are fetched again and the call sent again.
#[tokio::test(flavor = "current_thread")]
async fn credentials_expired_before_a_control_call_are_fetched_again() {
    let server = Devserver::start(&[]);
    let s = setup(&server, "sts", 1800, Rc::new(TokioTimer::default()), Rc::new(MemoryCheckpoints::default()), None);
    let small = bytes(1000, 3);
    put(&s.uploader, &small, "first.bin", Control::new(), Rc::new(Recorder::default())).await.expect("uploads");
    assert_eq!(s.calls.get(), 1);
    server.app_post("/_dev/credentials/expire", json!({})).await;
    let data = bytes(3 * MIB, 5);
    let result = put(&s.uploader, &data, "after-expiry.bin", Control::new(), Rc::new(Recorder::default()))
        .await
        .expect("uploads");
    assert_stored(&server, "after-expiry.bin", &data, &result).await;
    assert_eq!(s.calls.get(), 2, "the refused keys were replaced once");
    let initiates: Vec<u64> = server
        .cos_requests()
        .await
        .iter()
        .filter(|e| e["op"].as_str() == Some("InitiateMultipartUpload"))
        .filter_map(|e| e["status"].as_u64())
        .collect();
    assert_eq!(initiates, [403, 200], "refused with the old keys, accepted with the new");
}

#[tokio::test(flavor = "current_thread")]
async fn short_lived_credentials_are_renewed_before_they_expire() {
    let server = Devserver::start(&[]);
    // 8 s of validity: fetched again when fewer than 2 s remain, before COS would refuse them;
    // 24 parts, 4 at a time, 1.5 s each: 9 s.
    let s = setup(&server, "sts", 8, Rc::new(TokioTimer::default()), Rc::new(MemoryCheckpoints::default()), None);
    server
        .app_post(
            "/_dev/faults",
            json!({"origin": "cos", "method": "PUT", "times": 100, "action": {"type": "delay", "ms": 1500}}),
        )
        .await;
    let data = bytes(24 * MIB, 11);
    let result =
        put(&s.uploader, &data, "short.bin", Control::new(), Rc::new(Recorder::default())).await.expect("uploads");
    assert_stored(&server, "short.bin", &data, &result).await;
    assert!(s.calls.get() >= 2, "fetched again before expiry: {}", s.calls.get());
    let refused = server.cos_requests().await.iter().filter(|e| e["status"].as_u64() == Some(403)).count();
    assert_eq!(refused, 0, "no request was sent with expired keys");
}

#[tokio::test(flavor = "current_thread")]
async fn a_clock_an_hour_fast_is_corrected() {
    let server = Devserver::start(&[]);
    for (shape, key) in [("sts", "skew/sts.bin"), ("vod", "skew/vod.bin")] {
        let timer = Rc::new(SkewedTimer(TokioTimer::default(), 3600.0));
        let s = setup(&server, shape, 1800, timer, Rc::new(MemoryCheckpoints::default()), None);
        let data = bytes(3 * MIB, 13);
        // By the device's clock the keys look expired on arrival (StartTime, when the keys were
        // issued, says nothing of the time now): they are tried, and COS's RequestTimeTooSkewed
        // (with its Date) corrects the clock.
        let result = put(&s.uploader, &data, key, Control::new(), Rc::new(Recorder::default()))
            .await
            .unwrap_or_else(|e| panic!("{shape}: {e}"));
        assert_stored(&server, key, &data, &result).await;
        assert_eq!(s.calls.get(), 1, "{shape}: the clock was corrected, the credentials kept");
    }
}

/// Keys a backend cached for more than an hour (issue 18.2): `StartTime` is when they were
/// issued, not the time now, so the signatures are made for now and COS takes them.
#[tokio::test(flavor = "current_thread")]
async fn keys_cached_for_more_than_an_hour_sign_requests_for_now() {
    let server = Devserver::start(&[]);
    let s = setup(&server, "cached", 7200, Rc::new(TokioTimer::default()), Rc::new(MemoryCheckpoints::default()), None);
    for (key, len) in [("cached/one.bin", MIB), ("cached/multi.bin", 3 * MIB)] {
        let data = bytes(len, 17);
        let result = put(&s.uploader, &data, key, Control::new(), Rc::new(Recorder::default()))
            .await
            .unwrap_or_else(|e| panic!("{key}: {e}"));
        assert_stored(&server, key, &data, &result).await;
    }
    assert_eq!(s.calls.get(), 1, "the cached keys served every request");
    let refused = server.cos_requests().await.iter().filter(|e| e["status"].as_u64() == Some(403)).count();
    assert_eq!(refused, 0, "no request was refused");
}

#[tokio::test(flavor = "current_thread")]
async fn an_interrupted_upload_resumes_from_its_record() {
    let server = Devserver::start(&[]);
    let store: Rc<dyn CheckpointStore> = Rc::new(MemoryCheckpoints::default());
    let s = setup(&server, "sts", 1800, Rc::new(TokioTimer::default()), store.clone(), None);
    let data = bytes(8 * MIB, 21);
    // The network dies after three parts: the upload fails, its record stays.
    server.app_post("/_dev/faults", json!({"origin": "cos", "method": "PUT", "query": "partNumber", "skip": 3, "times": 1000, "action": {"type": "reset"}})).await;
    let err = put(&s.uploader, &data, "resumed.bin", Control::new(), Rc::new(Recorder::default())).await.unwrap_err();
    assert!(err.retryable(), "{err}");
    let pending = s.uploader.pending_uploads().await;
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0].path, "resumed.bin");
    server.app_delete("/_dev/faults").await;
    let stored_parts = |uploads: Value| uploads["cos"][0]["parts"].as_u64();
    let stored = stored_parts(server.open_uploads().await).expect("the multipart upload is still open on COS");
    let sent_ok = |log: Vec<Value>| {
        log.iter().filter(|e| e["op"].as_str() == Some("UploadPart") && e["status"].as_u64() == Some(200)).count()
            as u64
    };
    let before = sent_ok(server.cos_requests().await);
    assert_eq!(before, 3, "the first attempt stored the three parts before the network died");
    assert_eq!(stored, before, "COS holds the parts it acknowledged");
    // "Reload": a new uploader over the same store.
    let again = setup(&server, "sts", 1800, Rc::new(TokioTimer::default()), store, None);
    let result = put(&again.uploader, &data, "resumed.bin", Control::new(), Rc::new(Recorder::default()))
        .await
        .expect("resumes");
    assert_stored(&server, "resumed.bin", &data, &result).await;
    let resent = sent_ok(server.cos_requests().await) - before;
    assert_eq!(resent, 8 - stored, "only the {} parts COS did not hold were sent again", 8 - stored);
    let ops: Vec<String> =
        server.cos_requests().await.iter().map(|e| e["op"].as_str().unwrap_or_default().to_string()).collect();
    assert_eq!(ops.iter().filter(|o| o.as_str() == "InitiateMultipartUpload").count(), 1, "{ops:?}");
    assert!(ops.iter().any(|o| o == "ListParts"), "{ops:?}");
    assert!(again.uploader.pending_uploads().await.is_empty());
    assert_eq!(open_cos_uploads(&server).await, 0);
}

/// A store over memory whose record reads can be held (a slow IndexedDB): while held, a read
/// of a record cancels `control`, so the upload is cancelled while its record loads.
#[derive(Default)]
struct HeldStore {
    inner: MemoryCheckpoints,
    held: Cell<bool>,
    cancel: std::cell::RefCell<Option<Control>>,
}

impl CheckpointStore for HeldStore {
    fn get(&self, key: &str) -> LocalBoxFuture<'_, Option<String>> {
        let key = key.to_string();
        Box::pin(async move {
            if key.starts_with("up:") && self.held.get() {
                if let Some(control) = self.cancel.borrow_mut().take() {
                    control.cancel();
                }
                while self.held.get() {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            self.inner.get(&key).await
        })
    }
    fn set(&self, key: &str, value: String) -> LocalBoxFuture<'_, ()> {
        self.inner.set(key, value)
    }
    fn remove(&self, key: &str) -> LocalBoxFuture<'_, ()> {
        self.inner.remove(key)
    }
}

/// Cancelled while its record loads (issue 18.7), an upload leaves the record to later ones:
/// `pendingUploads()` still lists it, and the next upload of the file resumes from it.
#[tokio::test(flavor = "current_thread")]
async fn cancel_while_the_record_loads_leaves_it_to_later_uploads() {
    let server = Devserver::start(&[]);
    let store = Rc::new(HeldStore::default());
    let s = setup(&server, "sts", 1800, Rc::new(TokioTimer::default()), store.clone(), None);
    let data = bytes(6 * MIB, 23);
    server.app_post("/_dev/faults", json!({"origin": "cos", "method": "PUT", "query": "partNumber", "skip": 2, "times": 1000, "action": {"type": "reset"}})).await;
    let err = put(&s.uploader, &data, "held.bin", Control::new(), Rc::new(Recorder::default())).await.unwrap_err();
    assert!(err.retryable(), "{err}");
    server.app_delete("/_dev/faults").await;
    assert_eq!(s.uploader.pending_uploads().await.len(), 1);

    store.held.set(true);
    let control = Control::new();
    *store.cancel.borrow_mut() = Some(control.clone());
    let err = put(&s.uploader, &data, "held.bin", control, Rc::new(Recorder::default())).await.unwrap_err();
    assert_eq!(err, Error::Aborted.into());
    assert!(store.cancel.borrow().is_none(), "cancelled while the record was loading");
    store.held.set(false);
    let pending = s.uploader.pending_uploads().await;
    assert_eq!(pending.iter().map(|p| p.path.as_str()).collect::<Vec<_>>(), ["held.bin"], "the record is not claimed");
    let result =
        put(&s.uploader, &data, "held.bin", Control::new(), Rc::new(Recorder::default())).await.expect("resumes");
    assert_stored(&server, "held.bin", &data, &result).await;
    let ops: Vec<String> =
        server.cos_requests().await.iter().map(|e| e["op"].as_str().unwrap_or_default().to_string()).collect();
    assert_eq!(ops.iter().filter(|o| o.as_str() == "InitiateMultipartUpload").count(), 1, "resumed: {ops:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_domain_outside_the_allow_list_is_refused_before_anything_is_sent() {
    let server = Devserver::start(&[]);
    let (cos, mut config) = cos_config(&server);
    config.allowed_domains = Some(vec!["*.myqcloud.com".into()]);
    let calls = Rc::new(Cell::new(0));
    let provider = Rc::new(Backend { app: server.field("app"), shape: "sts", duration: 1800, calls: calls.clone() });
    let err = DirectCosUploader::new(
        cos,
        config,
        Rc::new(ReqwestHttp::default()),
        Rc::new(TokioTimer::default()),
        provider,
        Rc::new(MemoryCheckpoints::default()),
    )
    .err()
    .expect("refused");
    assert_eq!(err.code(), "DomainNotAllowed");
    assert_eq!(calls.get(), 0, "no credentials were even asked for");
    assert!(server.cos_requests().await.is_empty());
}

/// Complete's `x-cos-hash-crc64ecma` is checked against the parts' combined CRC-64: a wrong one
/// fails the upload; a missing one is looked up with HEAD.
#[tokio::test(flavor = "current_thread")]
async fn the_completed_object_crc_is_checked() {
    fn completing(req: &HttpRequest) -> bool {
        req.method == Method::Post && req.url.contains("uploadId=")
    }
    let server = Devserver::start(&[]);
    let data = bytes(3 * MIB, 31);
    let wrong = |req: &HttpRequest, resp: HttpResponse| {
        if !completing(req) {
            return resp;
        }
        let headers = resp
            .headers
            .into_iter()
            .map(
                |(k, v)| if k.eq_ignore_ascii_case("x-cos-hash-crc64ecma") { (k, "12345".to_string()) } else { (k, v) },
            )
            .collect();
        HttpResponse { headers, ..resp }
    };
    let s = setup_over(
        &server,
        "sts",
        1800,
        Rc::new(TokioTimer::default()),
        Rc::new(MemoryCheckpoints::default()),
        None,
        Rc::new(RewritingHttp::new(wrong)),
    );
    let err = put(&s.uploader, &data, "crc/wrong.bin", Control::new(), Rc::new(Recorder::default())).await.unwrap_err();
    assert_eq!(err.code(), "IntegrityMismatch", "{err}");
    let missing = |req: &HttpRequest, resp: HttpResponse| {
        if !completing(req) {
            return resp;
        }
        HttpResponse {
            headers: resp
                .headers
                .into_iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("x-cos-hash-crc64ecma"))
                .collect(),
            ..resp
        }
    };
    let s = setup_over(
        &server,
        "sts",
        1800,
        Rc::new(TokioTimer::default()),
        Rc::new(MemoryCheckpoints::default()),
        None,
        Rc::new(RewritingHttp::new(missing)),
    );
    let result = put(&s.uploader, &data, "crc/missing.bin", Control::new(), Rc::new(Recorder::default()))
        .await
        .expect("checked by HEAD");
    assert_stored(&server, "crc/missing.bin", &data, &result).await;
    let heads = server.cos_requests().await.iter().filter(|e| e["op"].as_str() == Some("HeadObject")).count();
    assert_eq!(heads, 1, "one HEAD for the object whose Complete reply had no CRC-64");
}

/// A clock an hour behind: the first request's refusal ("Request has expired") or any COS reply's
/// `Date` corrects it before the parts are signed, so no part is refused.
#[tokio::test(flavor = "current_thread")]
async fn a_clock_an_hour_slow_is_corrected_before_the_parts() {
    let server = Devserver::start(&[]);
    let timer = Rc::new(SkewedTimer(TokioTimer::default(), -3600.0));
    let s = setup(&server, "vod", 1800, timer, Rc::new(MemoryCheckpoints::default()), None);
    let data = bytes(6 * MIB, 29);
    let result =
        put(&s.uploader, &data, "slow-clock.bin", Control::new(), Rc::new(Recorder::default())).await.expect("uploads");
    assert_stored(&server, "slow-clock.bin", &data, &result).await;
    let refused_parts = server
        .cos_requests()
        .await
        .iter()
        .filter(|e| e["op"].as_str() == Some("UploadPart") && e["status"].as_u64() == Some(403))
        .count();
    assert_eq!(refused_parts, 0, "the clock was corrected before any part was signed");
}

/// COS may answer CompleteMultipartUpload 200 and put an error in the body (issue 18.4): one
/// whose code says "try again" (`InternalError`, `ServiceUnavailable`, `SlowDown`) is retried as
/// a 5xx would be, and the upload completes instead of aborting every part.
#[tokio::test(flavor = "current_thread")]
async fn a_complete_answered_200_with_a_retryable_error_is_retried() {
    let server = Devserver::start(&[]);
    let s = setup(&server, "sts", 1800, Rc::new(TokioTimer::default()), Rc::new(MemoryCheckpoints::default()), None);
    let data = bytes(4 * MIB, 37);
    for code in ["InternalError", "ServiceUnavailable", "SlowDown"] {
        server
            .app_post(
                "/_dev/faults",
                json!({"origin": "cos", "method": "POST", "query": "uploadId", "times": 1, "action": {"type": "status", "status": 200, "code": code}}),
            )
            .await;
        let key = format!("complete-200/{code}.bin");
        let result = put(&s.uploader, &data, &key, Control::new(), Rc::new(Recorder::default()))
            .await
            .unwrap_or_else(|e| panic!("{code}: {e}"));
        assert_stored(&server, &key, &data, &result).await;
    }
    let completes: Vec<u64> = server
        .cos_requests()
        .await
        .iter()
        .filter(|e| e["op"].as_str() == Some("CompleteMultipartUpload"))
        .filter_map(|e| e["status"].as_u64())
        .collect();
    assert_eq!(completes, [200; 6], "each Complete was sent twice: {completes:?}");
    assert_eq!(open_cos_uploads(&server).await, 0);
}

/// A resumable upload whose check fails for a reason of its own — here ListParts answered 503
/// past its retries (issue 18.3) — is not taken as forgotten by COS: the attempt fails with that
/// (retryable) error, the record and the multipart upload stay, and the next upload resumes.
#[tokio::test(flavor = "current_thread")]
async fn a_failed_resume_check_keeps_the_record_and_the_upload() {
    let server = Devserver::start(&[]);
    let store: Rc<dyn CheckpointStore> = Rc::new(MemoryCheckpoints::default());
    let (_, mut config) = cos_config(&server);
    config.retry.max_retries = 1;
    let s = setup(&server, "sts", 1800, Rc::new(TokioTimer::default()), store, Some(config));
    let data = bytes(6 * MIB, 43);
    let rec = || Rc::new(Recorder::default());
    server.app_post("/_dev/faults", json!({"origin": "cos", "method": "PUT", "query": "partNumber", "skip": 3, "times": 1000, "action": {"type": "reset"}})).await;
    let err = put(&s.uploader, &data, "checked.bin", Control::new(), rec()).await.unwrap_err();
    assert!(err.retryable(), "{err}");
    server.app_delete("/_dev/faults").await;
    server.app_post("/_dev/faults", json!({"origin": "cos", "method": "GET", "query": "uploadId", "times": 1000, "action": {"type": "status", "status": 503}})).await;
    let err = put(&s.uploader, &data, "checked.bin", Control::new(), rec()).await.unwrap_err();
    assert_eq!((err.code(), err.status(), err.retryable()), ("ServiceUnavailable", 503, true), "{err}");
    let pending = s.uploader.pending_uploads().await;
    assert_eq!(pending.iter().map(|p| p.path.as_str()).collect::<Vec<_>>(), ["checked.bin"], "the record is kept");
    assert_eq!(open_cos_uploads(&server).await, 1, "the multipart upload is not aborted");
    server.app_delete("/_dev/faults").await;
    let ops =
        |log: Vec<Value>| log.iter().map(|e| e["op"].as_str().unwrap_or_default().to_string()).collect::<Vec<_>>();
    let count = |ops: &[String], op: &str| ops.iter().filter(|o| o.as_str() == op).count();
    // Three PUTs pass the fault, but one still in flight when the attempt failed may or may not
    // have been stored: a resume sends the other three or four, a new upload would send all six.
    let before = count(&ops(server.cos_requests().await), "UploadPart");
    let result = put(&s.uploader, &data, "checked.bin", Control::new(), rec()).await.expect("resumes");
    assert_stored(&server, "checked.bin", &data, &result).await;
    let after = ops(server.cos_requests().await);
    let sent = count(&after, "UploadPart") - before;
    assert!((3..=5).contains(&sent), "only the missing parts were sent, not all six: {after:?}");
    assert_eq!(count(&after, "InitiateMultipartUpload"), 1, "{after:?}");
    assert_eq!(count(&after, "AbortMultipartUpload"), 0, "{after:?}");
    assert!(s.uploader.pending_uploads().await.is_empty());
    assert_eq!(open_cos_uploads(&server).await, 0);
}

/// The one answer that discards a record: COS saying it does not know the upload (`NoSuchUpload`
/// to ListParts). The upload then begins anew and completes; nothing is left open.
#[tokio::test(flavor = "current_thread")]
async fn a_record_cos_no_longer_knows_is_discarded() {
    let server = Devserver::start(&[]);
    let s = setup(&server, "sts", 1800, Rc::new(TokioTimer::default()), Rc::new(MemoryCheckpoints::default()), None);
    let data = bytes(6 * MIB, 53);
    server.app_post("/_dev/faults", json!({"origin": "cos", "method": "PUT", "query": "partNumber", "skip": 3, "times": 1000, "action": {"type": "reset"}})).await;
    let err = put(&s.uploader, &data, "forgotten.bin", Control::new(), Rc::new(Recorder::default())).await.unwrap_err();
    assert!(err.retryable(), "{err}");
    server.app_delete("/_dev/faults").await;
    server.app_post("/_dev/faults", json!({"origin": "cos", "method": "GET", "query": "uploadId", "times": 1, "action": {"type": "status", "status": 404, "code": "NoSuchUpload"}})).await;
    let result = put(&s.uploader, &data, "forgotten.bin", Control::new(), Rc::new(Recorder::default()))
        .await
        .expect("begins anew");
    assert_stored(&server, "forgotten.bin", &data, &result).await;
    let ops: Vec<String> =
        server.cos_requests().await.iter().map(|e| e["op"].as_str().unwrap_or_default().to_string()).collect();
    let count = |op: &str| ops.iter().filter(|o| o.as_str() == op).count();
    assert_eq!((count("InitiateMultipartUpload"), count("AbortMultipartUpload")), (2, 1), "{ops:?}");
    assert!(s.uploader.pending_uploads().await.is_empty());
    assert_eq!(open_cos_uploads(&server).await, 0);
}

/// The actions the README's recommended key policy grants: the SDK must need no other.
const RECOMMENDED_POLICY: [&str; 7] = [
    "PutObject",
    "InitiateMultipartUpload",
    "UploadPart",
    "CompleteMultipartUpload",
    "AbortMultipartUpload",
    "ListParts",
    "HeadObject",
];

/// A setup with STS keys, `config`, and records kept in memory.
fn setup_with(server: &Devserver, config: ClientConfig) -> Setup {
    setup(server, "sts", 1800, Rc::new(TokioTimer::default()), Rc::new(MemoryCheckpoints::default()), Some(config))
}

/// Asserts the uploader holds a record of an upload to `key`, and no other.
async fn assert_pending(uploader: &DirectCosUploader, key: &str) {
    let pending = uploader.pending_uploads().await;
    assert_eq!(pending.iter().map(|p| p.path.as_str()).collect::<Vec<_>>(), [key], "the record is kept");
}

/// The operations of the cos requests logged after the first `skip`.
async fn ops_since(server: &Devserver, skip: usize) -> Vec<String> {
    let log = server.cos_requests().await;
    log.iter().skip(skip).map(|e| e["op"].as_str().unwrap_or_default().to_string()).collect()
}

fn assert_recommended(ops: &[String]) {
    for op in ops {
        assert!(RECOMMENDED_POLICY.contains(&op.as_str()), "{op} is not in the recommended policy: {ops:?}");
    }
}

/// `getCredentials()` failing mid-upload (issue 18.3b) — here the refresh after COS refused
/// the keys as expired, with a failure calling again may cure (a rejection, a timeout): the
/// upload fails with a retryable `CredentialsError`, keeps its record and the multipart upload
/// (no abort that would need keys again), and the next upload of the file resumes.
#[tokio::test(flavor = "current_thread")]
async fn a_failed_credentials_fetch_keeps_the_record_and_the_upload() {
    struct Rationed {
        inner: Backend,
        left: Rc<Cell<u32>>,
    }
    impl CredentialProvider for Rationed {
        fn fetch(&self) -> LocalBoxFuture<'static, Result<smh_upload::json::Value, Box<Error>>> {
            if self.left.get() == 0 {
                let message = "getCredentials rejected: backend unreachable".to_string();
                return Box::pin(async move { Err(Error::Credentials { message }.into()) });
            }
            self.left.set(self.left.get() - 1);
            self.inner.fetch()
        }
    }
    let server = Devserver::start(&[]);
    let (cos, mut config) = cos_config(&server);
    config.concurrency = 1;
    let left = Rc::new(Cell::new(1));
    let inner = Backend { app: server.field("app"), shape: "sts", duration: 1800, calls: Rc::default() };
    let provider = Rc::new(Rationed { inner, left: left.clone() });
    let store: Rc<dyn CheckpointStore> = Rc::new(MemoryCheckpoints::default());
    let http = Rc::new(ReqwestHttp::default());
    let uploader =
        Rc::new(DirectCosUploader::new(cos, config, http, Rc::new(TokioTimer::default()), provider, store).unwrap());
    let data = bytes(6 * MIB, 73);
    server.app_post("/_dev/faults", json!({"origin": "cos", "method": "PUT", "query": "partNumber", "skip": 2, "times": 1, "action": {"type": "expired"}})).await;
    let err = put(&uploader, &data, "keys-lost.bin", Control::new(), Rc::new(Recorder::default())).await.unwrap_err();
    assert_eq!((err.code(), err.retryable()), ("CredentialsError", true), "{err}");
    assert_pending(&uploader, "keys-lost.bin").await;
    assert_eq!(open_cos_uploads(&server).await, 1, "the multipart upload is not aborted");
    left.set(100);
    let mark = server.cos_requests().await.len();
    let result =
        put(&uploader, &data, "keys-lost.bin", Control::new(), Rc::new(Recorder::default())).await.expect("resumes");
    assert_stored(&server, "keys-lost.bin", &data, &result).await;
    let ops = ops_since(&server, mark).await;
    let count = |op: &str| ops.iter().filter(|o| o.as_str() == op).count();
    assert_eq!((count("InitiateMultipartUpload"), count("UploadPart")), (0, 4), "parts 3-6 sent: {ops:?}");
    let all = ops_since(&server, 0).await;
    assert!(!all.iter().any(|o| o == "AbortMultipartUpload"), "{all:?}");
    assert_eq!(open_cos_uploads(&server).await, 0);
}

/// A Complete that committed but whose reply never arrived — lost, then every retry reset
/// (issue 18.3c): the upload fails with a retryable error and keeps its record; the next upload
/// of the file hears NoSuchUpload from ListParts and finds the object by HEAD — its size and the
/// CRC-64 read from the file — so it is done with nothing sent again.
#[tokio::test(flavor = "current_thread")]
async fn a_complete_reply_lost_for_good_keeps_the_record_and_the_next_upload_settles_it() {
    let server = Devserver::start(&[]);
    let (_, mut config) = cos_config(&server);
    config.retry.max_retries = 1;
    let s = setup_with(&server, config);
    let data = bytes(5 * MIB, 79);
    server.app_post("/_dev/faults", json!({"origin": "cos", "method": "POST", "query": "uploadId", "times": 1, "action": {"type": "dropReply"}})).await;
    server
        .app_post(
            "/_dev/faults",
            json!({"origin": "cos", "method": "POST", "query": "uploadId", "times": 1000, "action": {"type": "reset"}}),
        )
        .await;
    let err =
        put(&s.uploader, &data, "lost-complete.bin", Control::new(), Rc::new(Recorder::default())).await.unwrap_err();
    assert!(err.retryable(), "{err}");
    assert_pending(&s.uploader, "lost-complete.bin").await;
    server.app_delete("/_dev/faults").await;
    let mark = server.cos_requests().await.len();
    let result = put(&s.uploader, &data, "lost-complete.bin", Control::new(), Rc::new(Recorder::default()))
        .await
        .expect("settled");
    assert_stored(&server, "lost-complete.bin", &data, &result).await;
    assert_eq!(ops_since(&server, mark).await, ["ListParts", "HeadObject"]);
    assert_recommended(&ops_since(&server, 0).await);
    assert!(s.uploader.pending_uploads().await.is_empty());
    assert_eq!(open_cos_uploads(&server).await, 0);
}

/// CompleteMultipartUpload gets the size-scaled time limit of SMH's confirm (issue 18.5): COS
/// assembles the object before it answers, so a 32 MiB object may take the request timeout plus
/// a second; with the request timeout alone every attempt would time out.
#[tokio::test(flavor = "current_thread")]
async fn complete_has_the_size_scaled_time_limit() {
    let server = Devserver::start(&[]);
    let (_, mut config) = cos_config(&server);
    config.retry.max_retries = 1;
    config.retry.request_timeout = Duration::from_millis(500);
    config.part_size = Some(8 * MIB as u64);
    let s = setup_with(&server, config);
    let data = bytes(32 * MIB, 83);
    server.app_post("/_dev/faults", json!({"origin": "cos", "method": "POST", "query": "uploadId", "times": 1000, "action": {"type": "delay", "ms": 1000}})).await;
    let result = put(&s.uploader, &data, "slow-complete.bin", Control::new(), Rc::new(Recorder::default()))
        .await
        .expect("one Complete in time");
    assert_stored(&server, "slow-complete.bin", &data, &result).await;
    let ops = ops_since(&server, 0).await;
    assert_eq!(ops.iter().filter(|o| o.as_str() == "CompleteMultipartUpload").count(), 1, "{ops:?}");
    assert_recommended(&ops);
}
