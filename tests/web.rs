//! Browser tests (wasm-bindgen-test in headless Chromium) of the browser adapters and the JS
//! binding, against the devserver `cargo xtask test` starts (its READY JSON arrives at compile
//! time as `SMH_DEVSERVER_READY_JSON`).
#![cfg(target_arch = "wasm32")]

use std::rc::Rc;
use std::time::Duration;

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

use smh_upload::engine::{run, ClientConfig, Control, Observer, Progress, SmhUploader, UploadOptions, UploadState};
use smh_upload::platform::browser::{BlobSource, JsTimer, XhrHttp};
use smh_upload::platform::{Body, FileSource, Http, HttpRequest, Method, NoCheckpoints, Timer};
use smh_upload::smh::{Conflict, LibraryPath, SmhTarget, Tokens};

wasm_bindgen_test_configure!(run_in_browser);

fn ready() -> serde_json::Value {
    // `option_env!`, not `env!`: the tests also compile (for clippy) without a devserver.
    let Some(json) = option_env!("SMH_DEVSERVER_READY_JSON") else {
        panic!("run through `cargo xtask test`, which starts the devserver")
    };
    serde_json::from_str(json).expect("READY JSON")
}

fn field(name: &str) -> String {
    ready()[name].as_str().unwrap_or_default().to_string()
}

fn blob_of(bytes: &[u8]) -> web_sys::Blob {
    let parts = js_sys::Array::new();
    parts.push(&Uint8Array::from(bytes));
    web_sys::Blob::new_with_u8_array_sequence(&parts).expect("blob")
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u32).wrapping_mul(31).wrapping_add(seed as u32) as u8).collect()
}

async fn app_json(method: Method, path: &str, body: Option<serde_json::Value>) -> serde_json::Value {
    let req = HttpRequest {
        method,
        url: format!("{}{}", field("app"), path),
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: body.map(|b| Body::from(b.to_string().into_bytes())),
        timeout: Some(Duration::from_secs(20)),
        progress: None,
    };
    let resp = XhrHttp.send(req).await.expect("app origin reachable");
    assert!((200..300).contains(&resp.status), "{path}: {}", resp.status);
    serde_json::from_slice(&resp.body).unwrap_or(serde_json::Value::Null)
}

async fn token() -> String {
    app_json(Method::Post, "/token", Some(serde_json::json!({}))).await["accessToken"].as_str().unwrap().to_string()
}

#[wasm_bindgen_test]
async fn blob_source_reads_exact_slices() {
    let data = pattern(100_000, 3);
    let source = BlobSource::new(blob_of(&data)).unwrap();
    assert_eq!(source.size(), 100_000);
    assert_eq!(source.read(0..10).await.unwrap(), data[..10]);
    assert_eq!(source.read(99_990..100_000).await.unwrap(), data[99_990..]);
    assert_eq!(source.read(5..5).await.unwrap(), Vec::<u8>::new());
}

/// A part's browser work (slice, Worker message, then XHR send) waits for a later task of the
/// event loop, so a wave of parts is not one long task: a timer armed before `part()` has fired
/// by the time the part is ready.
#[wasm_bindgen_test]
async fn each_part_starts_in_a_task_of_its_own() {
    let source = BlobSource::new(blob_of(&pattern(1000, 5))).unwrap();
    let probe = js_sys::Function::new_no_args("globalThis.smhTaskProbe = true");
    js_sys::Reflect::set(&js_sys::global(), &"smhTaskProbe".into(), &JsValue::FALSE).unwrap();
    web_sys::window().unwrap().set_timeout_with_callback_and_timeout_and_arguments_0(&probe, 0).unwrap();
    let part = source.part(10..20).await.expect("part");
    assert_eq!(part.body.len(), 10);
    let fired = js_sys::Reflect::get(&js_sys::global(), &"smhTaskProbe".into()).unwrap();
    assert_eq!(fired, JsValue::TRUE, "part() sliced the file in the caller's task");
}

/// A part's XHR `send` comes a task after the request is opened (adapters.js), like the part's
/// other browser work; a part given up on before then (a pause, a cancel) is never sent, while
/// a part awaited goes out.
#[wasm_bindgen_test]
async fn a_part_dropped_before_its_send_task_is_never_sent() {
    let source = BlobSource::new(blob_of(&pattern(1000, 7))).unwrap();
    let put = |name: &str, body: Body| HttpRequest {
        method: Method::Put,
        url: format!("http://{}/{name}", field("cos")),
        headers: vec![],
        body: Some(body),
        timeout: Some(Duration::from_secs(20)),
        progress: Some(Rc::new(|_| {})),
    };
    let part = source.part(0..1000).await.expect("part");
    let mut dropped = XhrHttp.send(put("dropped-part.bin", part.body.clone()));
    assert!(futures::poll!(dropped.as_mut()).is_pending(), "not sent in the caller's task");
    drop(dropped);
    let sent = XhrHttp.send(put("sent-part.bin", part.body)).await.expect("a response");
    assert_eq!(sent.status, 403, "an unsigned PUT reached COS");
    JsTimer.sleep(Duration::from_millis(100)).await;
    let log = app_json(Method::Get, "/_dev/log", None).await;
    let paths: Vec<&str> = log.as_array().unwrap().iter().filter_map(|e| e["path"].as_str()).collect();
    assert!(paths.iter().any(|p| p.ends_with("/sent-part.bin")), "{paths:?}");
    assert!(!paths.iter().any(|p| p.ends_with("/dropped-part.bin")), "the dropped part went out: {paths:?}");
}

/// A part given up on after its send task ran (a cancel, a quick-upload hit, a lost race) is
/// aborted on the wire: dropping it calls its XHR's `abort()` while the request is open, so its
/// bytes stop going out (and cannot reach COS after SMH revoked the credentials they were signed
/// with). `XMLHttpRequest.prototype.abort` is watched for the `readyState` it is called in.
#[wasm_bindgen_test]
async fn a_part_dropped_after_its_send_is_aborted_on_the_wire() {
    let rules = serde_json::json!([
        {"origin": "cos", "path": "dropped-after-send.bin", "times": 1, "action": {"type": "stall", "ms": 3000}},
    ]);
    app_json(Method::Post, "/_dev/faults", Some(rules)).await;
    js_sys::eval(
        "const abort = XMLHttpRequest.prototype.abort;
         globalThis.smhAborts = { states: [], restore() { XMLHttpRequest.prototype.abort = abort; } };
         XMLHttpRequest.prototype.abort = function () { smhAborts.states.push(this.readyState); return abort.call(this); };",
    )
    .expect("watch abort()");
    let source = BlobSource::new(blob_of(&pattern(1 << 20, 5))).unwrap();
    let part = source.part(0..1 << 20).await.expect("part");
    let mut sending = XhrHttp.send(HttpRequest {
        method: Method::Put,
        url: format!("http://{}/dropped-after-send.bin", field("cos")),
        headers: vec![],
        body: Some(part.body),
        timeout: Some(Duration::from_secs(20)),
        progress: Some(Rc::new(|_| {})),
    });
    assert!(futures::poll!(sending.as_mut()).is_pending());
    // The send task runs; the devserver holds the request without an answer.
    JsTimer.sleep(Duration::from_millis(200)).await;
    assert!(futures::poll!(sending.as_mut()).is_pending(), "the stalled PUT was answered");
    drop(sending);
    let states = js_sys::eval("const s = smhAborts.states; smhAborts.restore(); s").expect("abort() calls");
    let states: Vec<f64> = js_sys::Array::from(&states).iter().filter_map(|v| v.as_f64()).collect();
    // readyState 1: OPENED, with send() made and no reply yet.
    assert_eq!(states, vec![1.0], "abort() calls on the dropped part's XHR, by readyState");
    app_json(Method::Delete, "/_dev/faults", None).await;
}

/// A promise's settlement reaches the future awaiting it (its value, or its rejection), and
/// none reaches a future dropped before it settled: the next future takes the slot the dropped
/// one freed (the allocator hands the same block back) and must stay pending until its own
/// promise settles.
#[wasm_bindgen_test]
async fn a_promise_settles_only_the_future_still_awaiting_it() {
    use smh_upload::platform::browser::settled;
    assert_eq!(settled(&js_sys::Promise::resolve(&JsValue::from(7))).await, Ok(JsValue::from(7)));
    assert_eq!(settled(&js_sys::Promise::reject(&JsValue::from("no"))).await, Err(JsValue::from("no")));

    let mut resolve = None;
    let late = js_sys::Promise::new(&mut |res, _| resolve = Some(res));
    let mut dropped = settled(&late);
    assert!(futures::poll!(&mut dropped).is_pending());
    drop(dropped);
    let mut waiting = settled(&js_sys::Promise::new(&mut |_, _| {}));
    assert!(futures::poll!(&mut waiting).is_pending());
    resolve.expect("the executor ran").call0(&JsValue::NULL).expect("resolve");
    JsTimer.sleep(Duration::from_millis(10)).await;
    assert!(futures::poll!(&mut waiting).is_pending(), "the dropped future's promise settled another one");
}

#[wasm_bindgen_test]
async fn timer_sleeps_and_cancels_on_drop() {
    let t = JsTimer;
    let start = t.now_ms();
    t.sleep(Duration::from_millis(30)).await;
    assert!(t.now_ms() - start >= 25.0);
    assert!(t.unix_ms() > 1.6e12);

    // A sleep dropped while armed clears its timeout: the page's setTimeout / clearTimeout are
    // watched (the glue looks them up at each call) for the ids of 4321 ms timeouts.
    js_sys::eval(
        "const set = globalThis.setTimeout, clear = globalThis.clearTimeout;
         globalThis.smhTimers = { armed: [], cleared: [], restore() { globalThis.setTimeout = set; globalThis.clearTimeout = clear; } };
         globalThis.setTimeout = (f, ms, ...rest) => { const id = set(f, ms, ...rest); if (ms === 4321) smhTimers.armed.push(id); return id; };
         globalThis.clearTimeout = id => { smhTimers.cleared.push(id); clear(id); };",
    )
    .expect("watch the timers");
    let mut sleeping = t.sleep(Duration::from_millis(4321));
    let first_poll = futures::poll!(sleeping.as_mut());
    drop(sleeping);
    let timers = js_sys::eval("smhTimers.restore(); smhTimers").expect("the watched timers");
    let ids = |name: &str| js_sys::Array::from(&Reflect::get(&timers, &name.into()).unwrap()).to_vec();
    let (armed, cleared) = (ids("armed"), ids("cleared"));
    assert!(first_poll.is_pending(), "a 4.3 s sleep is not over at once");
    assert_eq!(armed.len(), 1, "the first poll armed one timeout");
    assert!(
        cleared.contains(&armed[0]),
        "dropping the sleep cleared its timeout (armed {armed:?}, cleared {cleared:?})"
    );
}

#[wasm_bindgen_test]
async fn xhr_reports_upload_progress_and_reads_exposed_headers() {
    let data: Rc<[u8]> = Rc::from(pattern(3 << 20, 1));
    let seen = Rc::new(std::cell::Cell::new(0u64));
    let s = seen.clone();
    // An unsigned PUT to the cos origin: COS refuses it, with CORS headers on the error.
    let req = HttpRequest {
        method: Method::Put,
        url: format!("http://{}/anonymous.bin", field("cos")),
        headers: vec![],
        body: Some(Body::Bytes(data)),
        timeout: Some(Duration::from_secs(20)),
        progress: Some(Rc::new(move |n| s.set(n))),
    };
    let resp = XhrHttp.send(req).await.expect("a response, not a network error");
    assert_eq!(resp.status, 403);
    let body = String::from_utf8_lossy(&resp.body);
    assert!(body.contains("<Code>"), "COS error XML readable");
    // Read exactly: the XML repeats the header's id; names lowercase, values trimmed.
    let id = body.split("<RequestId>").nth(1).and_then(|rest| rest.split('<').next());
    assert!(id.is_some_and(|id| !id.is_empty()), "{body}");
    assert_eq!(resp.header("x-cos-request-id"), id, "x-cos-request-id is exposed to scripts, read exactly");
    for (name, value) in &resp.headers {
        assert!(*name == name.to_ascii_lowercase() && value.trim() == value, "{name}: {value:?}");
    }
    assert_eq!(seen.get(), 3 << 20, "upload progress reached the body size");
}

/// A request that fails, or does not answer in time, is named by its method and URL without the
/// query and fragment (where tokens and signatures go): `Network` and `Timeout`, both retried.
#[wasm_bindgen_test]
async fn xhr_failures_name_the_request_without_its_query() {
    let rules = serde_json::json!([
        // POST: a browser sends a PUT again, unasked, when its connection drops before the reply.
        {"origin": "cos", "path": "xhr-reset.bin", "times": 2, "action": {"type": "reset"}},
        {"origin": "cos", "path": "xhr-stall.bin", "times": 1, "action": {"type": "stall", "ms": 3000}},
    ]);
    app_json(Method::Post, "/_dev/faults", Some(rules)).await;
    let request = |name: &str, timeout| HttpRequest {
        method: Method::Post,
        url: format!("http://{}/{name}?sign=SECRET#fragment", field("cos")),
        headers: vec![],
        body: Some(Body::from(b"x".to_vec())),
        timeout: Some(timeout),
        progress: None,
    };
    let reset = XhrHttp.send(request("xhr-reset.bin", Duration::from_secs(20))).await.expect_err("connection dropped");
    assert_eq!((reset.code(), reset.retryable()), ("Network", true), "{reset}");
    let url = format!("http://{}/xhr-reset.bin", field("cos"));
    assert_eq!(reset.to_string(), format!("network error: POST {url} failed (network error or CORS)"));
    let stalled = XhrHttp.send(request("xhr-stall.bin", Duration::from_millis(300))).await.expect_err("no answer");
    assert_eq!((stalled.code(), stalled.retryable()), ("Timeout", true), "{stalled}");
    assert_eq!(stalled.to_string(), format!("timeout: POST http://{}/xhr-stall.bin", field("cos")));
}

#[derive(Default)]
struct Rec(std::cell::RefCell<Vec<UploadState>>);
impl Observer for Rec {
    fn on_state(&self, s: UploadState) {
        self.0.borrow_mut().push(s);
    }
    fn on_progress(&self, _p: &Progress) {}
}

/// Uploads `bytes` to `path` (rename on conflict, no quick upload) with an uploader over `http`
/// holding `token`; the error the upload must end with.
async fn failed_upload(
    config: ClientConfig,
    http: Rc<dyn Http>,
    token: String,
    path: &str,
    bytes: &[u8],
) -> smh_upload::Error {
    let up = Rc::new(
        SmhUploader::new(config, http, Rc::new(JsTimer), Tokens::fixed(token), Rc::new(NoCheckpoints)).unwrap(),
    );
    let opts = UploadOptions {
        path: LibraryPath::parse(path).unwrap(),
        conflict: Conflict::Rename,
        quick_upload: false,
        create_parents: false,
    };
    let source = Rc::new(BlobSource::new(blob_of(bytes)).unwrap());
    run(up, source, opts, Control::new(), Rc::new(Rec::default())).await.map_err(|e| *e).expect_err("cannot succeed")
}

fn uploader(tok: String, threshold: u64) -> Rc<SmhUploader> {
    let mut config = ClientConfig::new(SmhTarget {
        base_url: field("smh"),
        library_id: field("libraryId"),
        space_id: field("spaceId"),
        user_id: None,
    });
    config.allowed_domains = Some(vec![field("cos")]);
    config.multipart_threshold = threshold;
    config.part_size = Some(1 << 20);
    Rc::new(
        SmhUploader::new(config, Rc::new(XhrHttp), Rc::new(JsTimer), Tokens::fixed(tok), Rc::new(NoCheckpoints))
            .unwrap(),
    )
}

async fn stored_sha256(path: &str) -> Option<String> {
    let objects = app_json(Method::Get, "/_dev/objects", None).await;
    objects
        .as_array()?
        .iter()
        .find(|o| o["smhPath"].as_str() == Some(path))
        .and_then(|o| o["sha256"].as_str().map(str::to_string))
}

async fn sha256_hex(data: &[u8]) -> String {
    let subtle = web_sys::window().map(|w| w.crypto().unwrap().subtle()).expect("WebCrypto");
    let digest = JsFuture::from(subtle.digest_with_str_and_u8_array("SHA-256", data).unwrap()).await.unwrap();
    smh_upload::checksum::hex(&Uint8Array::new(&digest).to_vec())
}

#[wasm_bindgen_test]
async fn engine_uploads_a_blob_multipart_through_xhr() {
    let data = pattern((3 << 20) + 1, 9);
    let tok = token().await;
    let mkdir = HttpRequest {
        method: Method::Put,
        url: format!(
            "{}/api/v1/directory/{}/{}/web?conflict_resolution_strategy=rename&access_token={tok}",
            field("smh"),
            field("libraryId"),
            field("spaceId")
        ),
        headers: vec![],
        body: None,
        timeout: Some(Duration::from_secs(20)),
        progress: None,
    };
    assert_eq!(XhrHttp.send(mkdir).await.unwrap().status, 201);
    let up = uploader(tok, 1 << 20);
    let rec = Rc::new(Rec::default());
    let opts = UploadOptions {
        path: LibraryPath::parse("web/multipart.bin").unwrap(),
        conflict: Conflict::Overwrite,
        quick_upload: false,
        create_parents: false,
    };
    let result = run(up, Rc::new(BlobSource::new(blob_of(&data)).unwrap()), opts, Control::new(), rec.clone())
        .await
        .expect("upload");
    assert_eq!(result.file.path, "web/multipart.bin");
    assert_eq!(stored_sha256("web/multipart.bin").await, Some(sha256_hex(&data).await));
    assert_eq!(rec.0.borrow().last(), Some(&UploadState::Done));
}

/// What a hostile or broken SMH reply puts into the COS request headers: a signature-looking
/// value with a CR/LF in the middle, which `setRequestHeader` refuses.
const HOSTILE_SIGNATURE: &str = "q-sign-algorithm=sha1&q-signature=SECRETSIG5f3b9c";
const HOSTILE_VALUE_TAIL: &str = "\r\nX-Injected: yes";

#[wasm_bindgen_test]
async fn a_header_value_the_browser_refuses_is_a_final_invalid_response_that_hides_the_value() {
    let req = HttpRequest {
        method: Method::Put,
        url: format!("http://{}/refused-header.bin", field("cos")),
        headers: vec![("Authorization".into(), format!("{HOSTILE_SIGNATURE}{HOSTILE_VALUE_TAIL}"))],
        body: Some(Body::from(b"x".to_vec())),
        timeout: Some(Duration::from_secs(20)),
        progress: None,
    };
    let err = XhrHttp.send(req).await.expect_err("the browser refuses the header");
    let text = err.to_string();
    assert_eq!((err.code(), err.retryable()), ("InvalidResponse", false), "{text}");
    assert!(text.contains("Authorization"), "the message names the header: {text}");
    assert!(!text.contains("SECRETSIG") && !text.contains("X-Injected"), "the message hides the value: {text}");
}

/// `Http` over XHR that rewrites SMH's begin reply: its COS `Authorization` header gains a CR/LF.
/// Counts the requests that went (or tried to go) to the cos origin.
struct HostileSmh {
    cos_attempts: std::cell::Cell<u32>,
}

impl Http for HostileSmh {
    fn send(
        &self,
        request: HttpRequest,
    ) -> smh_upload::platform::LocalBoxFuture<'_, smh_upload::Result<smh_upload::platform::HttpResponse>> {
        Box::pin(async move {
            if request.url.contains(&field("cos")) {
                self.cos_attempts.set(self.cos_attempts.get() + 1);
            }
            let mut resp = XhrHttp.send(request).await?;
            if let Ok(mut body) = serde_json::from_slice::<serde_json::Value>(&resp.body) {
                if let Some(auth) = body.pointer_mut("/headers/Authorization") {
                    *auth =
                        serde_json::Value::String(format!("{}{HOSTILE_VALUE_TAIL}", auth.as_str().unwrap_or_default()));
                    resp.body = body.to_string().into_bytes();
                }
            }
            Ok(resp)
        })
    }
}

#[wasm_bindgen_test]
async fn an_smh_reply_whose_header_the_browser_refuses_fails_at_once_without_echoing_it() {
    let mut config = ClientConfig::new(SmhTarget {
        base_url: field("smh"),
        library_id: field("libraryId"),
        space_id: field("spaceId"),
        user_id: None,
    });
    config.allowed_domains = Some(vec![field("cos")]);
    let http = Rc::new(HostileSmh { cos_attempts: std::cell::Cell::new(0) });
    let err = failed_upload(config, http.clone(), token().await, "hostile-header.bin", b"hostile").await;
    let text = err.to_string();
    assert_eq!((err.code(), err.retryable()), ("InvalidResponse", false), "{text}");
    // Refused when the reply is read (0) or by the browser's setRequestHeader (1), never retried.
    assert!(http.cos_attempts.get() <= 1, "not retried, it can never succeed: {} attempts", http.cos_attempts.get());
    assert!(!text.contains("q-signature") && !text.contains("X-Injected"), "no header value in the message: {text}");
    assert_eq!(stored_sha256("hostile-header.bin").await, None);
}

/// The page's JSON reader is the browser's `JSON.parse` (src/platform/browser/adapters.js):
/// replies read as the values written, numbers exact as their text (a CRC-64 above 2^53
/// included).
#[wasm_bindgen_test]
fn the_pages_json_reader_reads_replies_with_exact_numbers() {
    use smh_upload::json::{parse, Value};
    let ok = |text: &str| parse(text.as_bytes()).unwrap_or_else(|e| panic!("{text:?}: {e:?}"));
    let reply = r#" {"confirmed": false, "uploadId": "u1", "crc64": 18446744073709551615,
        "size": "14969823782951187105", "parts": [{"PartNumber": 1, "Size": 1048576, "ETag": "\"x\"",
        "crc64": 9007199254740993}, {"PartNumber": 2, "n": [-2.5e+3, 1.0, 0, -0, 1E-7, null, true, false]}],
        "marks": [[1], [[2]], {"0": 3}, [], ["4"], [[]], {"": {}}]} "#;
    let v = ok(reply);
    assert_eq!(v.get("crc64").and_then(Value::as_u64), Some(u64::MAX));
    assert_eq!(v.get("size").and_then(Value::to_u64), Some(14_969_823_782_951_187_105));
    let parts = v.get("parts").and_then(Value::as_array).expect("parts");
    // 2^53 + 1, which a double rounds to 2^53.
    assert_eq!(parts[0].get("crc64").and_then(Value::as_u64), Some(9_007_199_254_740_993));
    assert_eq!(parts[0].get("ETag").and_then(Value::as_str), Some("\"x\""));
    assert_eq!(parts[1].get("n").and_then(Value::as_array).map(|n| n[1].as_u64()), Some(None), "1.0 is no integer");
    // Written back, it is the reply without its whitespace (no string of it has any).
    assert_eq!(v.to_json(), reply.split_whitespace().collect::<String>());

    let s = ok(r#"["a\"b\\c\/d\b\f\n\r\t", "\u00e9\u4E2D", "\ud83d\ude00", "é中😀", "1;2 \"3\" [4] -5", "\ud800"]"#);
    let strings: Vec<&str> = s.as_array().expect("array").iter().filter_map(Value::as_str).collect();
    assert_eq!(strings, ["a\"b\\c/d\u{8}\u{c}\n\r\t", "é中", "😀", "é中😀", "1;2 \"3\" [4] -5", "\u{fffd}"]);
    let dup = ok(r#"{"k;": 1, "k;": 18446744073709551614}"#);
    assert_eq!(dup.get("k;").and_then(Value::as_u64), Some(u64::MAX - 1), "the last duplicate wins");

    let deep = |n: usize| "[".repeat(n) + &"]".repeat(n);
    assert!(parse(deep(smh_upload::json::MAX_DEPTH).as_bytes()).is_ok());
    assert!(parse(deep(smh_upload::json::MAX_DEPTH + 1).as_bytes()).is_err());
    assert!(parse(deep(100_000).as_bytes()).is_err());
}

/// What the native reader refuses, the page's refuses too, with neither a piece of the input nor
/// an offset; and a mangled reply reads as `JSON.parse` reads it, or is refused when it refuses.
#[wasm_bindgen_test]
fn the_pages_json_reader_refuses_what_json_parse_refuses() {
    use smh_upload::json::parse;
    for bad in include!("support/not_json.rs") {
        let err = parse(bad.as_bytes()).expect_err(bad);
        assert_eq!(err.offset, None, "{bad:?}");
    }
    assert!(parse(b"\"\xff\"").is_err(), "not UTF-8");

    let seeds = [
        r#"{"domain":"cos.example","path":"/a.bin","uploadId":"u1","headers":{"Authorization":"q-sign"},"confirmKey":"k","expiration":"2026-01-01T00:00:00.000Z"}"#,
        r#"{"confirmed":false,"uploadId":"u1","parts":[{"PartNumber":1,"Size":1048576,"ETag":"\"e\""}],"crc64":14969823782951187105}"#,
        r#"{"path":["a","b (1).bin"],"size":"12","crc64":"0","n":[-0.5e-3,1E+2,true,null,{}]}"#,
        r#"{"code":"InvalidAccessToken","message":"bad \"token\" \u00e9 \ud83d\ude00","requestId":"r1"}"#,
    ];
    let pieces = ["\"", "\\", "-", "0", "1", "9", ".", "e", "E", "+", "[", "]", "{", "}", ",", ":", " ", "u", "n", "t"];
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = |bound: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % bound as u64) as usize
    };
    let json_parse = |text: &str| js_sys::JSON::parse(text).ok();
    let (mut accepted, mut refused) = (0, 0);
    for round in 0..3000 {
        let mut text: Vec<char> = seeds[round % seeds.len()].chars().collect();
        for _ in 0..1 + next(3) {
            let at = next(text.len());
            match next(3) {
                0 => {
                    text.remove(at);
                }
                1 => text.insert(at, pieces[next(pieces.len())].chars().next().unwrap()),
                _ => text[at] = pieces[next(pieces.len())].chars().next().unwrap(),
            }
        }
        let text: String = text.into_iter().collect();
        match (parse(text.as_bytes()), json_parse(&text)) {
            (Ok(ours), Some(theirs)) => {
                accepted += 1;
                let again = json_parse(&ours.to_json()).expect("what it read writes back as JSON");
                // Lone surrogates (from a mangled `\ud83d\ude00`) are U+FFFD in Rust's strings.
                if !text.to_lowercase().contains("\\ud") {
                    assert_eq!(js_sys::JSON::stringify(&again).ok(), js_sys::JSON::stringify(&theirs).ok(), "{text}");
                }
            }
            (Err(_), None) => refused += 1,
            (ours, theirs) => panic!("{text:?}: ours {ours:?}, JSON.parse's {theirs:?}"),
        }
    }
    assert!(accepted > 300 && refused > 300, "{accepted} accepted, {refused} refused");
}

/// `Http` that answers every request with `body`, status 201.
struct Answers(&'static str);

impl Http for Answers {
    fn send(
        &self,
        _request: HttpRequest,
    ) -> smh_upload::platform::LocalBoxFuture<'_, smh_upload::Result<smh_upload::platform::HttpResponse>> {
        let body = self.0.as_bytes().to_vec();
        Box::pin(async move { Ok(smh_upload::platform::HttpResponse { status: 201, headers: vec![], body }) })
    }
}

#[wasm_bindgen_test]
async fn an_smh_reply_that_is_not_json_is_an_invalid_response_that_hides_the_reply() {
    let mut config = ClientConfig::new(SmhTarget {
        base_url: "https://smh.example.com".into(),
        library_id: "lib".into(),
        space_id: "-".into(),
        user_id: None,
    });
    config.allowed_domains = Some(vec!["cos.example.com".into()]);
    let http =
        Rc::new(Answers(r#"{"domain": "cos.example.com", "headers": {"Authorization": "SECRETSIG9"}, "n": 01}"#));
    let err = failed_upload(config, http, "tok".into(), "a.bin", b"abc").await;
    let text = err.to_string();
    assert_eq!((err.code(), err.retryable()), ("InvalidResponse", false), "{text}");
    assert!(text.contains("reply is not JSON"), "{text}");
    assert!(!text.contains("SECRET"), "no piece of the reply in the message: {text}");
}
