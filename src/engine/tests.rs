//! Engine tests over a scripted fake `Http`: each request is answered by the next scripted reply
//! (checked against the expected method and path), so a test reads like the protocol. Covers the
//! replies the devserver never sends: non-JSON and truncated SMH bodies, bare 5xx, BadCrc64.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

use super::upload::{run, Observer, UploadOptions};
use super::{ClientConfig, Control, Progress, UploadState, Uploader};
use crate::error::{Error, Result};
use crate::platform::{Http, HttpRequest, HttpResponse, LocalBoxFuture, MemorySource, Method, NoCheckpoints, Timer};
use crate::smh::{Conflict, LibraryPath, SmhTarget, Tokens};

type Reply = Box<dyn Fn(&HttpRequest) -> Result<HttpResponse>>;

/// Answers requests from a script; panics on an unexpected request.
#[derive(Default)]
struct Script {
    steps: RefCell<VecDeque<(Method, &'static str, Reply)>>,
    seen: RefCell<Vec<(Method, String)>>,
}

impl Script {
    fn expect(&self, method: Method, path_part: &'static str, reply: impl Fn(&HttpRequest) -> Result<HttpResponse> + 'static) -> &Self {
        self.steps.borrow_mut().push_back((method, path_part, Box::new(reply)));
        self
    }
}

impl Http for Script {
    fn send(&self, request: HttpRequest) -> LocalBoxFuture<'_, Result<HttpResponse>> {
        let url = crate::error::redact_url(&request.url).to_string();
        self.seen.borrow_mut().push((request.method, url.clone()));
        let (method, part, reply) = self.steps.borrow_mut().pop_front().unwrap_or_else(|| panic!("unexpected request {:?} {url}", request.method));
        assert_eq!(request.method, method, "{url}");
        assert!(request.url.contains(part), "{url} should contain {part}");
        if let Some(p) = &request.progress {
            p(request.body.as_ref().map_or(0, |b| b.len() as u64));
        }
        let out = reply(&request);
        Box::pin(async move { out })
    }
}

/// Sleeps return at once; the clock advances by the time slept.
#[derive(Default)]
struct FakeTimer(Rc<Cell<f64>>);

impl Timer for FakeTimer {
    fn sleep(&self, d: Duration) -> LocalBoxFuture<'static, ()> {
        self.0.set(self.0.get() + d.as_secs_f64() * 1000.0);
        Box::pin(async {})
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
    Ok(HttpResponse { status, headers: vec![("content-type".into(), "application/json".into())], body: body.to_string().into_bytes() })
}

fn raw(status: u16, body: &str) -> Result<HttpResponse> {
    Ok(HttpResponse { status, headers: vec![], body: body.as_bytes().to_vec() })
}

fn auth_reply() -> Result<HttpResponse> {
    json(201, serde_json::json!({
        "domain": "b-1250000000.cos.ap-guangzhou.myqcloud.com", "path": "/lib/-/obj",
        "headers": {"Authorization": "q-sign-algorithm=sha1&q-signature=SECRETSIG"},
        "confirmKey": "ck1", "expiration": "2027-01-15T08:00:00.000Z"
    }))
}

fn cos_ok(crc: u64) -> impl Fn(&HttpRequest) -> Result<HttpResponse> {
    move |_| Ok(HttpResponse { status: 200, headers: vec![("x-cos-hash-crc64ecma".into(), crc.to_string()), ("etag".into(), "\"e\"".into())], body: vec![] })
}

fn config() -> ClientConfig {
    ClientConfig::new(SmhTarget { base_url: "https://smh.example.com".into(), library_id: "lib".into(), space_id: "-".into(), user_id: None })
}

fn upload(script: Rc<Script>, data: &[u8]) -> (Result<super::UploadResult>, Rc<States>) {
    let mut config = config();
    config.retry.max_retries = 2;
    let uploader = Rc::new(Uploader::new(config, script, Rc::new(FakeTimer::default()), Tokens::fixed("TOKEN123".into()), Rc::new(NoCheckpoints)).unwrap());
    let states = Rc::new(States::default());
    let source = Rc::new(MemorySource { bytes: Rc::from(data.to_vec()), name: "f".into() });
    let opts = UploadOptions { path: LibraryPath::parse("a.bin").unwrap(), conflict: Conflict::Rename, quick_upload: false };
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
    let crc = crate::cos::crc64::checksum(data);
    let script = Rc::new(Script::default());
    script
        .expect(Method::Put, "/api/v1/file/lib/-/a.bin?conflict_resolution_strategy=rename&filesize=12&access_token=", |_| auth_reply())
        .expect(Method::Put, "https://b-1250000000.cos.ap-guangzhou.myqcloud.com/lib/-/obj", cos_ok(crc))
        .expect(Method::Post, "/api/v1/file/lib/-/ck1?confirm&conflict_resolution_strategy=rename", move |req| {
            let body: serde_json::Value = serde_json::from_slice(req.body.as_ref().and_then(|b| b.bytes()).unwrap()).unwrap();
            assert_eq!(body["crc64"], "14969823782951187105", "whole-file CRC sent on confirm");
            json(200, serde_json::json!({"path": ["a.bin"], "name": "a.bin", "size": "12", "crc64": "14969823782951187105"}))
        });
    let (result, states) = upload(script.clone(), data);
    let result = result.unwrap();
    assert_eq!((result.file.path.as_str(), result.crc64.as_str()), ("a.bin", "14969823782951187105"));
    assert_eq!(states.0.borrow().as_slice(), &[UploadState::Confirming, UploadState::Done]);
    assert!(script.steps.borrow().is_empty());
}

#[test]
fn non_json_begin_reply_is_invalid_response_without_secrets() {
    let script = Rc::new(Script::default());
    script.expect(Method::Put, "/a.bin", |_| raw(201, "<html>proxy login</html>"));
    let (result, states) = upload(script, b"x");
    let e = result.unwrap_err();
    assert_eq!((e.code(), e.status(), e.retryable()), ("InvalidResponse", 201, false));
    assert_no_secret(&e);
    assert_eq!(states.0.borrow().last(), Some(&UploadState::Failed));
}

#[test]
fn truncated_confirm_reply_fails_and_cancels_the_upload() {
    let data = b"abc";
    let crc = crate::cos::crc64::checksum(data);
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
        .expect(Method::Put, "/a.bin", |_| json(503, serde_json::json!({"code": "ServerOverloaded", "message": "busy", "requestId": "r1"})))
        .expect(Method::Put, "/a.bin", |_| json(404, serde_json::json!({"code": "DirectoryNotFound", "message": "no dir", "requestId": "r2"})));
    let (result, _) = upload(script.clone(), b"x");
    let e = result.unwrap_err();
    assert_eq!((e.code(), e.status(), e.request_id(), e.retryable()), ("DirectoryNotFound", 404, Some("r2"), false));
    assert!(script.steps.borrow().is_empty());
}

#[test]
fn cos_error_xml_is_typed_and_bad_crc_at_confirm_is_integrity_mismatch() {
    let data = b"abc";
    let crc = crate::cos::crc64::checksum(data);
    let script = Rc::new(Script::default());
    script
        .expect(Method::Put, "/a.bin", |_| auth_reply())
        .expect(Method::Put, "/lib/-/obj", |_| raw(400, "<Error><Code>BadDigest</Code><Message>md5</Message><RequestId>cosreq</RequestId></Error>"));
    script.expect(Method::Delete, "/ck1?upload", |_| raw(204, ""));
    let (result, _) = upload(script.clone(), data);
    let e = result.unwrap_err();
    assert_eq!((e.code(), e.status(), e.request_id()), ("BadDigest", 400, Some("cosreq")));
    assert_no_secret(&e);

    let script = Rc::new(Script::default());
    script
        .expect(Method::Put, "/a.bin", |_| auth_reply())
        .expect(Method::Put, "/lib/-/obj", cos_ok(crc))
        .expect(Method::Post, "/ck1?confirm", |_| json(400, serde_json::json!({"code": "BadCrc64", "message": "crc", "requestId": "r"})))
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
    let crc = crate::cos::crc64::checksum(data);
    let script = Rc::new(Script::default());
    script
        .expect(Method::Put, "/a.bin", |_| auth_reply())
        .expect(Method::Put, "/lib/-/obj", cos_ok(crc))
        .expect(Method::Post, "/ck1?confirm", |_| Err(Error::Network { message: "reset after commit".into() }))
        .expect(Method::Post, "/ck1?confirm", |_| json(409, serde_json::json!({"code": "UploadComplete", "message": "done", "requestId": "r"})))
        .expect(Method::Get, "/ck1?upload", |_| json(200, serde_json::json!({"confirmed": true, "path": ["a (1).bin"]})))
        .expect(Method::Get, "/a%20%281%29.bin?info", move |_| json(200, serde_json::json!({"path": ["a (1).bin"], "size": "3", "crc64": crc.to_string()})));
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
    let uploader = Rc::new(Uploader::new(config, Rc::new(Script::default()), Rc::new(FakeTimer::default()), Tokens::fixed("t".into()), Rc::new(NoCheckpoints)).unwrap());
    let states = Rc::new(States::default());
    let opts = UploadOptions { path: LibraryPath::parse("big.bin").unwrap(), conflict: Conflict::Rename, quick_upload: false };
    let result = futures::executor::block_on(run(uploader, Rc::new(Huge), opts, Control::new(), states.clone()));
    assert_eq!(result.unwrap_err().code(), "InvalidInput");
    assert_eq!(states.0.borrow().as_slice(), &[UploadState::Failed]);
}
