//! Engine tests over a scripted fake `Http`: each request is answered by the next scripted reply
//! (checked against the expected method and path), so a test reads like the protocol. Covers the
//! replies the devserver never sends: non-JSON and truncated SMH bodies, bare 5xx, BadCrc64.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

use super::{run, ClientConfig, Control, Observer, Progress, SmhUploader, UploadOptions, UploadState};
use crate::error::{Error, Result};
use crate::platform::{
    CheckpointStore, Http, HttpRequest, HttpResponse, LocalBoxFuture, MemoryCheckpoints, MemorySource, Method,
    NoCheckpoints, Timer,
};
use crate::smh::{Conflict, LibraryPath, SmhTarget, Tokens};

type Reply = Box<dyn Fn(&HttpRequest) -> Result<HttpResponse>>;

/// Answers requests from a script; panics on an unexpected request.
#[derive(Default)]
struct Script {
    steps: RefCell<VecDeque<(Method, &'static str, Reply)>>,
    seen: RefCell<Vec<(Method, String)>>,
}

impl Script {
    fn expect(
        &self,
        method: Method,
        path_part: &'static str,
        reply: impl Fn(&HttpRequest) -> Result<HttpResponse> + 'static,
    ) -> &Self {
        self.steps.borrow_mut().push_back((method, path_part, Box::new(reply)));
        self
    }
}

impl Http for Script {
    fn send(&self, request: HttpRequest) -> LocalBoxFuture<'_, Result<HttpResponse>> {
        let url = crate::error::redact_url(&request.url).to_string();
        self.seen.borrow_mut().push((request.method, url.clone()));
        let (method, part, reply) = self
            .steps
            .borrow_mut()
            .pop_front()
            .unwrap_or_else(|| panic!("unexpected request {:?} {url}", request.method));
        assert_eq!(request.method, method, "{url}");
        assert!(request.url.contains(part), "{url} should contain {part}");
        if let Some(p) = &request.progress {
            p(request.body.as_ref().map_or(0, |b| b.len()));
        }
        let out = reply(&request);
        // Like a real request, the reply arrives on a later poll: other futures (a cancel
        // watcher) run meanwhile.
        Box::pin(async move {
            YieldOnce(false).await;
            out
        })
    }
}

/// Pending on the first poll (waking itself), ready on the second.
struct YieldOnce(bool);

impl std::future::Future for YieldOnce {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

/// Sleeps end after two polls — later than any scripted reply (one poll), so a timeout never
/// beats a reply; the clock advances by the time slept.
#[derive(Default)]
struct FakeTimer(Rc<Cell<f64>>);

impl Timer for FakeTimer {
    fn sleep(&self, d: Duration) -> LocalBoxFuture<'static, ()> {
        self.0.set(self.0.get() + d.as_secs_f64() * 1000.0);
        Box::pin(async {
            YieldOnce(false).await;
            YieldOnce(false).await;
        })
    }
    fn now_ms(&self) -> f64 {
        self.0.get()
    }
    fn unix_ms(&self) -> f64 {
        1_800_000_000_000.0 + self.0.get()
    }
}

#[derive(Default)]
struct States(RefCell<Vec<UploadState>>);
impl Observer for States {
    fn on_state(&self, s: UploadState) {
        self.0.borrow_mut().push(s);
    }
    fn on_progress(&self, _: &Progress) {}
}

fn json(status: u16, body: serde_json::Value) -> Result<HttpResponse> {
    Ok(HttpResponse {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    })
}

fn raw(status: u16, body: &str) -> Result<HttpResponse> {
    Ok(HttpResponse { status, headers: vec![], body: body.as_bytes().to_vec() })
}

fn auth_reply() -> Result<HttpResponse> {
    json(
        201,
        serde_json::json!({
            "domain": "b-1250000000.cos.ap-guangzhou.myqcloud.com", "path": "/lib/-/obj",
            "headers": {"Authorization": "q-sign-algorithm=sha1&q-signature=SECRETSIG"},
            "confirmKey": "ck1", "expiration": "2027-01-15T08:00:00.000Z"
        }),
    )
}

fn cos_ok(crc: u64) -> impl Fn(&HttpRequest) -> Result<HttpResponse> {
    move |_| {
        Ok(HttpResponse {
            status: 200,
            headers: vec![("x-cos-hash-crc64ecma".into(), crc.to_string()), ("etag".into(), "\"e\"".into())],
            body: vec![],
        })
    }
}

fn config() -> ClientConfig {
    ClientConfig::new(SmhTarget {
        base_url: "https://smh.example.com".into(),
        library_id: "lib".into(),
        space_id: "-".into(),
        user_id: None,
    })
}

fn upload(script: Rc<Script>, data: &[u8]) -> (Result<super::UploadResult>, Rc<States>) {
    let mut config = config();
    config.retry.max_retries = 2;
    let uploader = Rc::new(
        SmhUploader::new(
            config,
            script,
            Rc::new(FakeTimer::default()),
            Tokens::fixed("TOKEN123".into()),
            Rc::new(NoCheckpoints),
        )
        .unwrap(),
    );
    let states = Rc::new(States::default());
    let source = Rc::new(MemorySource { bytes: Rc::from(data.to_vec()), name: "f".into() });
    let opts = UploadOptions {
        path: LibraryPath::parse("a.bin").unwrap(),
        conflict: Conflict::Rename,
        quick_upload: false,
        create_parents: false,
    };
    let result = futures::executor::block_on(run(uploader, source, opts, Control::new(), states.clone()));
    (result, states)
}

fn assert_no_secret(e: &Error) {
    let text = format!("{e} {e:?}");
    assert!(!text.contains("TOKEN123") && !text.contains("SECRETSIG"), "secret leaked: {text}");
}

#[test]
fn happy_simple_upload_protocol() {
    let data = b"hello world\n";
    let crc = crate::checksum::crc64::checksum(data);
    let script = Rc::new(Script::default());
    script
        .expect(
            Method::Put,
            "/api/v1/file/lib/-/a.bin?conflict_resolution_strategy=rename&filesize=12&access_token=",
            |_| auth_reply(),
        )
        .expect(Method::Put, "https://b-1250000000.cos.ap-guangzhou.myqcloud.com/lib/-/obj", cos_ok(crc))
        .expect(Method::Post, "/api/v1/file/lib/-/ck1?confirm&conflict_resolution_strategy=rename", move |req| {
            let body: serde_json::Value =
                serde_json::from_slice(req.body.as_ref().and_then(|b| b.bytes()).unwrap()).unwrap();
            assert_eq!(body["crc64"], "14969823782951187105", "whole-file CRC sent on confirm");
            json(
                200,
                serde_json::json!({"path": ["a.bin"], "name": "a.bin", "size": "12", "crc64": "14969823782951187105"}),
            )
        });
    let (result, states) = upload(script.clone(), data);
    let result = result.unwrap();
    assert_eq!((result.file.path.as_str(), result.crc64.as_str()), ("a.bin", "14969823782951187105"));
    // Every state is reported, the first one included, and `uploading` only after begin.
    assert_eq!(
        states.0.borrow().as_slice(),
        &[UploadState::Preparing, UploadState::Uploading, UploadState::Confirming, UploadState::Done]
    );
    assert!(script.steps.borrow().is_empty());
}

#[test]
fn non_json_begin_reply_is_invalid_response_without_secrets() {
    let script = Rc::new(Script::default());
    // A proxy's login page that quotes the request, token and all.
    script.expect(Method::Put, "/a.bin", |req| raw(201, &format!("<html>proxy login for {}</html>", req.url)));
    let (result, states) = upload(script, b"x");
    let e = result.unwrap_err();
    assert_eq!((e.code(), e.status(), e.retryable()), ("InvalidResponse", 201, false));
    assert_no_secret(&e);
    assert_eq!(states.0.borrow().last(), Some(&UploadState::Failed));
}

#[test]
fn truncated_confirm_reply_fails_and_cancels_the_upload() {
    let data = b"abc";
    let crc = crate::checksum::crc64::checksum(data);
    let script = Rc::new(Script::default());
    script
        .expect(Method::Put, "/a.bin", |_| auth_reply())
        .expect(Method::Put, "/lib/-/obj", cos_ok(crc))
        .expect(Method::Post, "/ck1?confirm", |_| raw(200, "{\"path\": [\"a.b"))
        .expect(Method::Delete, "/ck1?upload", |_| raw(204, ""));
    let (result, _) = upload(script.clone(), data);
    let e = result.unwrap_err();
    assert_eq!(e.code(), "InvalidResponse");
    assert!(script.steps.borrow().is_empty(), "the upload was cancelled on the server");
}

#[test]
fn bare_5xx_is_retried_and_an_smh_4xx_is_final() {
    let script = Rc::new(Script::default());
    script
        .expect(Method::Put, "/a.bin", |_| raw(502, "Bad Gateway"))
        .expect(Method::Put, "/a.bin", |_| {
            json(503, serde_json::json!({"code": "ServerOverloaded", "message": "busy", "requestId": "r1"}))
        })
        .expect(Method::Put, "/a.bin", |_| {
            json(404, serde_json::json!({"code": "DirectoryNotFound", "message": "no dir", "requestId": "r2"}))
        });
    let (result, _) = upload(script.clone(), b"x");
    let e = result.unwrap_err();
    assert_eq!((e.code(), e.status(), e.request_id(), e.retryable()), ("DirectoryNotFound", 404, Some("r2"), false));
    assert!(script.steps.borrow().is_empty());
}

#[test]
fn cos_error_xml_is_typed_and_bad_crc_at_confirm_is_integrity_mismatch() {
    let data = b"abc";
    let crc = crate::checksum::crc64::checksum(data);
    let script = Rc::new(Script::default());
    script.expect(Method::Put, "/a.bin", |_| auth_reply()).expect(Method::Put, "/lib/-/obj", |_| {
        raw(400, "<Error><Code>BadDigest</Code><Message>md5</Message><RequestId>cosreq</RequestId></Error>")
    });
    script.expect(Method::Delete, "/ck1?upload", |_| raw(204, ""));
    let (result, _) = upload(script.clone(), data);
    let e = result.unwrap_err();
    assert_eq!((e.code(), e.status(), e.request_id()), ("BadDigest", 400, Some("cosreq")));
    assert_no_secret(&e);

    let script = Rc::new(Script::default());
    script
        .expect(Method::Put, "/a.bin", |_| auth_reply())
        .expect(Method::Put, "/lib/-/obj", cos_ok(crc))
        .expect(Method::Post, "/ck1?confirm", |_| {
            json(400, serde_json::json!({"code": "BadCrc64", "message": "crc", "requestId": "r"}))
        })
        .expect(Method::Delete, "/ck1?upload", |_| raw(204, ""));
    let (result, _) = upload(script.clone(), data);
    let e = result.unwrap_err();
    assert_eq!((e.code(), e.retryable()), ("IntegrityMismatch", false));
    assert!(script.steps.borrow().is_empty());
}

#[test]
fn wrong_crc_in_a_200_reply_resends_the_part_then_gives_up() {
    let data = b"abc";
    let script = Rc::new(Script::default());
    script.expect(Method::Put, "/a.bin", |_| auth_reply());
    for _ in 0..3 {
        script.expect(Method::Put, "/lib/-/obj", cos_ok(1));
    }
    script.expect(Method::Delete, "/ck1?upload", |_| raw(204, ""));
    let (result, _) = upload(script.clone(), data);
    assert_eq!(result.unwrap_err().code(), "IntegrityMismatch");
    assert!(script.steps.borrow().is_empty(), "1 try + 2 retries, then cancel");
}

#[test]
fn confirm_whose_reply_was_lost_is_recovered_from_the_task() {
    let data = b"abc";
    let crc = crate::checksum::crc64::checksum(data);
    let script = Rc::new(Script::default());
    script
        .expect(Method::Put, "/a.bin", |_| auth_reply())
        .expect(Method::Put, "/lib/-/obj", cos_ok(crc))
        .expect(Method::Post, "/ck1?confirm", |_| Err(Error::Network { message: "reset after commit".into() }))
        .expect(Method::Post, "/ck1?confirm", |_| {
            json(409, serde_json::json!({"code": "UploadComplete", "message": "done", "requestId": "r"}))
        })
        .expect(Method::Get, "/ck1?upload", |_| {
            json(200, serde_json::json!({"confirmed": true, "path": ["a (1).bin"]}))
        })
        .expect(Method::Get, "/a%20%281%29.bin?info", move |_| {
            json(200, serde_json::json!({"path": ["a (1).bin"], "size": "3", "crc64": crc.to_string()}))
        });
    let (result, states) = upload(script.clone(), data);
    let result = result.unwrap();
    assert_eq!(result.file.path, "a (1).bin");
    assert_eq!(states.0.borrow().last(), Some(&UploadState::Done));
    assert!(script.steps.borrow().is_empty());
}

/// A source that only has a size (planning fails before any read).
struct Huge;
impl crate::platform::FileSource for Huge {
    fn size(&self) -> u64 {
        20_000 * 1024 * 1024 * 1024
    }
    fn read(&self, _: std::ops::Range<u64>) -> LocalBoxFuture<'_, Result<Vec<u8>>> {
        panic!("planning must fail before any read")
    }
    fn fingerprint(&self) -> String {
        "huge".into()
    }
}

#[test]
fn a_plan_error_is_reported_as_failed_without_any_request() {
    let mut config = config();
    config.part_size = Some(1024 * 1024);
    let uploader = Rc::new(
        SmhUploader::new(
            config,
            Rc::new(Script::default()),
            Rc::new(FakeTimer::default()),
            Tokens::fixed("t".into()),
            Rc::new(NoCheckpoints),
        )
        .unwrap(),
    );
    let states = Rc::new(States::default());
    let opts = UploadOptions {
        path: LibraryPath::parse("big.bin").unwrap(),
        conflict: Conflict::Rename,
        quick_upload: false,
        create_parents: false,
    };
    let result = futures::executor::block_on(run(uploader, Rc::new(Huge), opts, Control::new(), states.clone()));
    assert_eq!(result.unwrap_err().code(), "InvalidInput");
    assert_eq!(states.0.borrow().as_slice(), &[UploadState::Preparing, UploadState::Failed]);
}

fn multipart_auth_reply() -> Result<HttpResponse> {
    json(
        201,
        serde_json::json!({
            "domain": "b-1250000000.cos.ap-guangzhou.myqcloud.com", "path": "/lib/-/obj", "uploadId": "u1",
            "headers": {"Authorization": "q-sign-algorithm=sha1&q-signature=SECRETSIG"},
            "confirmKey": "ck1", "expiration": "2027-01-15T08:00:00.000Z"
        }),
    )
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

#[test]
fn begin_is_retried_once_after_a_lost_reply_but_not_twice() {
    // Retried once: one lost reply costs at most one orphaned (empty, unconfirmed) task.
    let crc = crate::checksum::crc64::checksum(b"abc");
    let script = Rc::new(Script::default());
    script
        .expect(Method::Put, "/a.bin", |_| Err(Error::Network { message: "reply lost".into() }))
        .expect(Method::Put, "/a.bin", |_| auth_reply())
        .expect(Method::Put, "/lib/-/obj", cos_ok(crc))
        .expect(Method::Post, "/ck1?confirm", move |_| {
            json(200, serde_json::json!({"path": ["a.bin"], "size": "3", "crc64": crc.to_string()}))
        });
    assert!(upload(script.clone(), b"abc").0.is_ok());
    assert!(script.steps.borrow().is_empty());
    // A second lost reply is final: the SDK does not open a third upload it cannot name.
    let script = Rc::new(Script::default());
    script.expect(Method::Put, "/a.bin", |_| Err(Error::Timeout { message: "reply lost".into() })).expect(
        Method::Put,
        "/a.bin",
        |_| Err(Error::Network { message: "reply lost".into() }),
    );
    let (result, _) = upload(script.clone(), b"abc");
    assert_eq!(result.unwrap_err().code(), "Network");
    assert!(script.steps.borrow().is_empty());
}

#[test]
fn cancel_while_begin_is_in_flight_cancels_the_upload_smh_opened() {
    let control = Control::new();
    let script = Rc::new(Script::default());
    let c = control.clone();
    script
        .expect(Method::Put, "/a.bin", move |_| {
            c.cancel(); // the user cancels while SMH is still answering
            auth_reply()
        })
        .expect(Method::Delete, "/ck1?upload", |_| raw(204, ""));
    let uploader = Rc::new(
        SmhUploader::new(
            config(),
            script.clone(),
            Rc::new(FakeTimer::default()),
            Tokens::fixed("t".into()),
            Rc::new(NoCheckpoints),
        )
        .unwrap(),
    );
    let states = Rc::new(States::default());
    let source = Rc::new(MemorySource { bytes: Rc::from(b"abc".to_vec()), name: "f".into() });
    let opts = UploadOptions {
        path: LibraryPath::parse("a.bin").unwrap(),
        conflict: Conflict::Rename,
        quick_upload: false,
        create_parents: false,
    };
    let result = futures::executor::block_on(run(uploader, source, opts, control, states.clone()));
    assert_eq!(result.unwrap_err().code(), "Aborted");
    assert!(script.steps.borrow().is_empty(), "the upload SMH opened was cancelled: {:?}", script.seen.borrow());
    assert_eq!(states.0.borrow().last(), Some(&UploadState::Cancelled));
}

#[test]
fn missing_parent_directories_are_created_then_begin_is_retried_once() {
    let crc = crate::checksum::crc64::checksum(b"abc");
    let script = Rc::new(Script::default());
    let not_found =
        || json(404, serde_json::json!({"code": "DirectoryNotFound", "message": "no dir", "requestId": "r"}));
    script
        .expect(Method::Put, "/api/v1/file/lib/-/x/y/a.bin?", move |_| not_found())
        .expect(Method::Put, "/api/v1/directory/lib/-/x/y?", |_| json(201, serde_json::json!({"path": ["x", "y"]})))
        .expect(Method::Put, "/api/v1/file/lib/-/x/y/a.bin?", |_| auth_reply())
        .expect(Method::Put, "/lib/-/obj", cos_ok(crc))
        .expect(Method::Post, "/ck1?confirm", move |_| {
            json(200, serde_json::json!({"path": ["x", "y", "a.bin"], "size": "3", "crc64": crc.to_string()}))
        });
    let uploader = Rc::new(
        SmhUploader::new(
            config(),
            script.clone(),
            Rc::new(FakeTimer::default()),
            Tokens::fixed("TOKEN123".into()),
            Rc::new(NoCheckpoints),
        )
        .unwrap(),
    );
    let source = Rc::new(MemorySource { bytes: Rc::from(b"abc".to_vec()), name: "f".into() });
    let opts = UploadOptions {
        path: LibraryPath::parse("x/y/a.bin").unwrap(),
        conflict: Conflict::Rename,
        quick_upload: false,
        create_parents: true,
    };
    let result = futures::executor::block_on(run(
        uploader.clone(),
        source.clone(),
        opts.clone(),
        Control::new(),
        Rc::new(States::default()),
    ));
    assert_eq!(result.unwrap().file.path, "x/y/a.bin");
    assert!(script.steps.borrow().is_empty());
    // Off: SMH's answer stands.
    script.expect(Method::Put, "/api/v1/file/lib/-/x/y/a.bin?", move |_| not_found());
    let opts = UploadOptions { create_parents: false, ..opts };
    let result = futures::executor::block_on(run(uploader, source, opts, Control::new(), Rc::new(States::default())));
    assert_eq!(result.unwrap_err().code(), "DirectoryNotFound");
}

/// Progress reports' `loaded` values.
#[derive(Default)]
struct Loaded(RefCell<Vec<u64>>);
impl Observer for Loaded {
    fn on_state(&self, _: UploadState) {}
    fn on_progress(&self, p: &Progress) {
        if p.phase == super::Phase::Uploading {
            self.0.borrow_mut().push(p.loaded);
        }
    }
}

fn multipart_uploader(script: Rc<Script>, store: Rc<dyn CheckpointStore>) -> Rc<SmhUploader> {
    let mut config = config();
    config.retry.max_retries = 1;
    config.concurrency = 1;
    config.part_size = Some(1 << 20);
    config.multipart_threshold = 1 << 20;
    Rc::new(
        SmhUploader::new(config, script, Rc::new(FakeTimer::default()), Tokens::fixed("TOKEN123".into()), store)
            .unwrap(),
    )
}

#[test]
fn an_interrupted_multipart_upload_resumes_from_the_parts_the_server_holds() {
    const MIB: usize = 1 << 20;
    let data = pattern(3 * MIB + 5);
    let whole = crate::checksum::crc64::checksum(&data);
    let store: Rc<dyn CheckpointStore> = Rc::new(MemoryCheckpoints::default());
    let source = Rc::new(MemorySource { bytes: Rc::from(data.clone()), name: "f".into() });
    let opts = UploadOptions {
        path: LibraryPath::parse("a.bin").unwrap(),
        conflict: Conflict::Rename,
        quick_upload: false,
        create_parents: false,
    };

    // First page: parts 1 and 2 go through, then the network is gone.
    let script = Rc::new(Script::default());
    script
        .expect(Method::Post, "/a.bin?multipart", |_| multipart_auth_reply())
        .expect(Method::Put, "partNumber=1&uploadId=u1", cos_ok(crate::checksum::crc64::checksum(&data[..MIB])))
        .expect(Method::Put, "partNumber=2&uploadId=u1", cos_ok(crate::checksum::crc64::checksum(&data[MIB..2 * MIB])));
    for _ in 0..2 {
        script.expect(Method::Put, "partNumber=3&uploadId=u1", |_| Err(Error::Network { message: "offline".into() }));
    }
    let uploader = multipart_uploader(script.clone(), store.clone());
    let result = futures::executor::block_on(run(
        uploader.clone(),
        source.clone(),
        opts.clone(),
        Control::new(),
        Rc::new(States::default()),
    ));
    assert_eq!(result.unwrap_err().code(), "Network");
    assert!(script.steps.borrow().is_empty(), "no cancel: the upload stays resumable");
    let pending = futures::executor::block_on(uploader.pending_uploads());
    assert_eq!(pending.len(), 1);
    assert_eq!(
        (pending[0].path.as_str(), pending[0].loaded, pending[0].size),
        ("a.bin", 2 * MIB as u64, data.len() as u64)
    );
    let record = futures::executor::block_on(store.get(&pending[0].key)).unwrap();
    assert!(!record.contains("SECRETSIG") && !record.contains("access_token"), "no secret in the record: {record}");

    // After a reload (a new client over the same store): the server's list of parts is the
    // truth — part 2 was lost there, so it is sent again with 3 and 4; part 1 is not.
    let script = Rc::new(Script::default());
    script
        .expect(Method::Get, "/ck1?upload", |_| json(200, serde_json::json!({"confirmed": false, "uploadId": "u1", "parts": [{"PartNumber": 1, "Size": 1048576, "ETag": "\"x\""}]})))
        .expect(Method::Post, "/ck1?renew", |_| multipart_auth_reply())
        .expect(Method::Put, "partNumber=2&uploadId=u1", cos_ok(crate::checksum::crc64::checksum(&data[MIB..2 * MIB])))
        .expect(Method::Put, "partNumber=3&uploadId=u1", cos_ok(crate::checksum::crc64::checksum(&data[2 * MIB..3 * MIB])))
        .expect(Method::Put, "partNumber=4&uploadId=u1", cos_ok(crate::checksum::crc64::checksum(&data[3 * MIB..])))
        .expect(Method::Post, "/ck1?confirm", move |req| {
            let body: serde_json::Value = serde_json::from_slice(req.body.as_ref().and_then(|b| b.bytes()).unwrap()).unwrap();
            assert_eq!(body["crc64"], whole.to_string(), "the confirm carries the whole file's CRC");
            json(200, serde_json::json!({"path": ["a.bin"], "size": (3 * MIB + 5).to_string(), "crc64": whole.to_string()}))
        });
    let uploader = multipart_uploader(script.clone(), store.clone());
    let loaded = Rc::new(Loaded::default());
    let result = futures::executor::block_on(run(uploader.clone(), source, opts, Control::new(), loaded.clone()));
    assert_eq!(result.unwrap().crc64, whole.to_string());
    assert!(script.steps.borrow().is_empty(), "{:?}", script.seen.borrow());
    assert_eq!(loaded.0.borrow().first(), Some(&(MIB as u64)), "progress starts from the resumed bytes");
    assert!(futures::executor::block_on(uploader.pending_uploads()).is_empty(), "the record is removed when done");
}

#[test]
fn a_record_whose_upload_the_server_forgot_is_discarded_and_the_upload_restarts() {
    const MIB: usize = 1 << 20;
    let data = pattern(2 * MIB);
    let store: Rc<dyn CheckpointStore> = Rc::new(MemoryCheckpoints::default());
    let source = Rc::new(MemorySource { bytes: Rc::from(data.clone()), name: "f".into() });
    let opts = UploadOptions {
        path: LibraryPath::parse("a.bin").unwrap(),
        conflict: Conflict::Rename,
        quick_upload: false,
        create_parents: false,
    };
    let script = Rc::new(Script::default());
    script.expect(Method::Post, "/a.bin?multipart", |_| multipart_auth_reply());
    for _ in 0..2 {
        script.expect(Method::Put, "partNumber=1&uploadId=u1", |_| Err(Error::Network { message: "offline".into() }));
    }
    let uploader = multipart_uploader(script.clone(), store.clone());
    // Nothing was acknowledged: nothing to resume, so the upload is cancelled on the server.
    script.expect(Method::Delete, "/ck1?upload", |_| raw(204, ""));
    let result = futures::executor::block_on(run(
        uploader.clone(),
        source.clone(),
        opts.clone(),
        Control::new(),
        Rc::new(States::default()),
    ));
    assert_eq!(result.unwrap_err().code(), "Network");
    assert!(script.steps.borrow().is_empty());
    assert!(futures::executor::block_on(uploader.pending_uploads()).is_empty());

    // A record whose task SMH no longer knows.
    let mut record = super::checkpoint::Record::new("a.bin", "f", data.len() as u64, MIB as u64, 1_800_000_000_000.0);
    (record.confirm_key, record.upload_id) = (Some("ck-old".into()), Some("u-old".into()));
    record.parts.insert(1, super::plan::PartDone { number: 1, len: MIB as u64, crc64: 7, etag: None });
    let key = {
        let beginning = crate::checksum::beginning_hash(&data[..MIB]);
        super::checkpoint::Identity {
            library_id: "lib",
            space_id: "-",
            path: "a.bin",
            size: data.len() as u64,
            fingerprint: "mem:f:2097152",
            beginning_hash: &beginning,
        }
        .key()
    };
    futures::executor::block_on(super::checkpoint::Checkpoints::new(store.clone()).save(&key, &record));
    let script = Rc::new(Script::default());
    let crc1 = crate::checksum::crc64::checksum(&data[..MIB]);
    let crc2 = crate::checksum::crc64::checksum(&data[MIB..]);
    script
        .expect(Method::Get, "/ck-old?upload", |_| {
            json(404, serde_json::json!({"code": "UploadNotFound", "message": "gone", "requestId": "r"}))
        })
        .expect(Method::Delete, "/ck-old?upload", |_| {
            json(404, serde_json::json!({"code": "UploadNotFound", "message": "gone", "requestId": "r"}))
        })
        .expect(Method::Post, "/a.bin?multipart", |_| multipart_auth_reply())
        .expect(Method::Put, "partNumber=1&uploadId=u1", cos_ok(crc1))
        .expect(Method::Put, "partNumber=2&uploadId=u1", cos_ok(crc2))
        .expect(Method::Post, "/ck1?confirm", |_| json(200, serde_json::json!({"path": ["a.bin"], "size": "2097152"})));
    let uploader = multipart_uploader(script.clone(), store.clone());
    futures::executor::block_on(run(uploader.clone(), source, opts, Control::new(), Rc::new(States::default())))
        .expect("a clean restart");
    assert!(script.steps.borrow().is_empty(), "{:?}", script.seen.borrow());
    assert!(futures::executor::block_on(uploader.pending_uploads()).is_empty());
}

#[test]
fn a_renewal_that_changes_the_upload_id_is_refused() {
    let data = pattern(2 << 20);
    let script = Rc::new(Script::default());
    script
        .expect(Method::Post, "/a.bin?multipart", |_| multipart_auth_reply())
        .expect(Method::Put, "partNumber=1&uploadId=u1", |_| {
            raw(403, "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>")
        })
        .expect(Method::Post, "/ck1?renew", |_| {
            json(
                200,
                serde_json::json!({
                    "domain": "b-1250000000.cos.ap-guangzhou.myqcloud.com", "path": "/lib/-/obj", "uploadId": "u-other",
                    "headers": {"Authorization": "x"}, "confirmKey": "ck1", "expiration": "2030-01-01T00:00:00Z"
                }),
            )
        })
        .expect(Method::Delete, "/ck1?upload", |_| raw(204, ""));
    let uploader = multipart_uploader(script.clone(), Rc::new(NoCheckpoints));
    let opts = UploadOptions {
        path: LibraryPath::parse("a.bin").unwrap(),
        conflict: Conflict::Rename,
        quick_upload: false,
        create_parents: false,
    };
    let source = Rc::new(MemorySource { bytes: Rc::from(data), name: "f".into() });
    let result = futures::executor::block_on(run(uploader, source, opts, Control::new(), Rc::new(States::default())));
    assert_eq!(result.unwrap_err().code(), "InvalidResponse");
    assert!(script.steps.borrow().is_empty(), "{:?}", script.seen.borrow());
}

#[test]
fn cancel_during_confirm_of_a_committed_file_reports_it_done() {
    // Decided: once SMH has committed the file, cancel() cannot undo it; the task says so.
    let control = Control::new();
    let c = control.clone();
    let crc = crate::checksum::crc64::checksum(b"abc");
    let script = Rc::new(Script::default());
    script.expect(Method::Put, "/a.bin", |_| auth_reply()).expect(Method::Put, "/lib/-/obj", cos_ok(crc)).expect(
        Method::Post,
        "/ck1?confirm",
        move |_| {
            c.cancel();
            json(200, serde_json::json!({"path": ["a.bin"], "size": "3", "crc64": crc.to_string()}))
        },
    );
    let uploader = Rc::new(
        SmhUploader::new(
            config(),
            script.clone(),
            Rc::new(FakeTimer::default()),
            Tokens::fixed("TOKEN123".into()),
            Rc::new(NoCheckpoints),
        )
        .unwrap(),
    );
    let states = Rc::new(States::default());
    let source = Rc::new(MemorySource { bytes: Rc::from(b"abc".to_vec()), name: "f".into() });
    let opts = UploadOptions {
        path: LibraryPath::parse("a.bin").unwrap(),
        conflict: Conflict::Rename,
        quick_upload: false,
        create_parents: false,
    };
    let result = futures::executor::block_on(run(uploader, source, opts, control, states.clone()));
    assert_eq!(result.unwrap().file.path, "a.bin");
    assert_eq!(states.0.borrow().last(), Some(&UploadState::Done));
    assert!(script.steps.borrow().is_empty(), "no cancel of a committed file: {:?}", script.seen.borrow());
}

/// A file whose reads fail `failures` times (a transient `NotReadableError`), then succeed.
struct Flaky {
    bytes: Vec<u8>,
    failures: Cell<u32>,
}

impl crate::platform::FileSource for Flaky {
    fn size(&self) -> u64 {
        self.bytes.len() as u64
    }
    fn read(&self, range: std::ops::Range<u64>) -> LocalBoxFuture<'_, Result<Vec<u8>>> {
        let out = if self.failures.get() > 0 {
            self.failures.set(self.failures.get() - 1);
            Err(Error::FileRead { message: "NotReadableError".into() })
        } else {
            Ok(self.bytes[range.start as usize..range.end as usize].to_vec())
        };
        Box::pin(async move { out })
    }
    fn fingerprint(&self) -> String {
        "flaky".into()
    }
    fn part(&self, range: std::ops::Range<u64>) -> LocalBoxFuture<'_, Result<crate::platform::Part>> {
        // Like the browser: the body is a handle at once, the read behind the CRC may fail.
        let body = crate::platform::Body::from(self.bytes[range.start as usize..range.end as usize].to_vec());
        let read = self.read(range);
        Box::pin(async move {
            let outcome = read.await.map(|b| crate::checksum::crc64::checksum(&b));
            Ok(crate::platform::Part { body, crc64: Box::pin(async move { outcome }) })
        })
    }
}

#[test]
fn a_transient_read_failure_is_retried_and_a_lasting_one_is_file_read_error() {
    let crc = crate::checksum::crc64::checksum(b"abc");
    let script = Rc::new(Script::default());
    script
        .expect(Method::Put, "/a.bin", |_| auth_reply())
        .expect(Method::Put, "/lib/-/obj", cos_ok(crc)) // sent while the read failed: not counted
        .expect(Method::Put, "/lib/-/obj", cos_ok(crc))
        .expect(Method::Post, "/ck1?confirm", move |_| {
            json(200, serde_json::json!({"path": ["a.bin"], "size": "3", "crc64": crc.to_string()}))
        });
    let uploader = Rc::new(
        SmhUploader::new(
            config(),
            script.clone(),
            Rc::new(FakeTimer::default()),
            Tokens::fixed("TOKEN123".into()),
            Rc::new(NoCheckpoints),
        )
        .unwrap(),
    );
    let opts = UploadOptions {
        path: LibraryPath::parse("a.bin").unwrap(),
        conflict: Conflict::Rename,
        quick_upload: false,
        create_parents: false,
    };
    let source = Rc::new(Flaky { bytes: b"abc".to_vec(), failures: Cell::new(1) });
    let result = futures::executor::block_on(run(
        uploader.clone(),
        source,
        opts.clone(),
        Control::new(),
        Rc::new(States::default()),
    ));
    assert_eq!(result.unwrap().crc64, crc.to_string());
    assert!(script.steps.borrow().is_empty());
    // Three failed reads in a row: the file is gone; a typed FileReadError, the upload cancelled.
    script
        .expect(Method::Put, "/a.bin", |_| auth_reply())
        .expect(Method::Put, "/lib/-/obj", cos_ok(crc))
        .expect(Method::Put, "/lib/-/obj", cos_ok(crc))
        .expect(Method::Put, "/lib/-/obj", cos_ok(crc))
        .expect(Method::Delete, "/ck1?upload", |_| raw(204, ""));
    let source = Rc::new(Flaky { bytes: b"abc".to_vec(), failures: Cell::new(3) });
    let result = futures::executor::block_on(run(uploader, source, opts, Control::new(), Rc::new(States::default())));
    assert_eq!(result.unwrap_err().code(), "FileReadError");
    assert!(script.steps.borrow().is_empty(), "{:?}", script.seen.borrow());
}
