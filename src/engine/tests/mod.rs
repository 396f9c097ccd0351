//! Engine tests over a scripted fake `Http`: each request is answered by the next scripted reply
//! (checked against the expected method and path), so a test reads like the protocol. Covers the
//! replies the devserver never sends: non-JSON and truncated SMH bodies, bare 5xx, BadCrc64.
//!
//! By subject: [`replies`] (what each kind of reply leads to), [`begin`] (begin, cancel and
//! confirm around the shielded calls, file reads), [`resume`] (resumable records), [`options`]
//! (what the constructors refuse).

mod begin;
mod options;
mod replies;
mod resume;

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

pub(super) type Reply = Box<dyn Fn(&HttpRequest) -> Result<HttpResponse>>;

/// Answers requests from a script; panics on an unexpected request.
#[derive(Default)]
pub(super) struct Script {
    pub(super) steps: RefCell<VecDeque<(Method, &'static str, Reply)>>,
    pub(super) seen: RefCell<Vec<(Method, String)>>,
}

impl Script {
    pub(super) fn expect(
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
pub(super) struct YieldOnce(bool);

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
pub(super) struct FakeTimer(pub(super) Rc<Cell<f64>>);

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
pub(super) struct States(pub(super) RefCell<Vec<UploadState>>);
impl Observer for States {
    fn on_state(&self, s: UploadState) {
        self.0.borrow_mut().push(s);
    }
    fn on_progress(&self, _: &Progress) {}
}

pub(super) fn json(status: u16, body: serde_json::Value) -> Result<HttpResponse> {
    Ok(HttpResponse {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    })
}

pub(super) fn raw(status: u16, body: &str) -> Result<HttpResponse> {
    Ok(HttpResponse { status, headers: vec![], body: body.as_bytes().to_vec() })
}

pub(super) fn auth_reply() -> Result<HttpResponse> {
    json(
        201,
        serde_json::json!({
            "domain": "b-1250000000.cos.ap-guangzhou.myqcloud.com", "path": "/lib/-/obj",
            "headers": {"Authorization": "q-sign-algorithm=sha1&q-signature=SECRETSIG"},
            "confirmKey": "ck1", "expiration": "2027-01-15T08:00:00.000Z"
        }),
    )
}

pub(super) fn cos_ok(crc: u64) -> impl Fn(&HttpRequest) -> Result<HttpResponse> {
    move |_| {
        Ok(HttpResponse {
            status: 200,
            headers: vec![("x-cos-hash-crc64ecma".into(), crc.to_string()), ("etag".into(), "\"e\"".into())],
            body: vec![],
        })
    }
}

pub(super) fn config() -> ClientConfig {
    ClientConfig::new(SmhTarget {
        base_url: "https://smh.example.com".into(),
        library_id: "lib".into(),
        space_id: "-".into(),
        user_id: None,
    })
}

pub(super) fn upload(script: Rc<Script>, data: &[u8]) -> (Result<super::UploadResult>, Rc<States>) {
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

pub(super) fn assert_no_secret(e: &Error) {
    let text = format!("{e} {e:?}");
    assert!(!text.contains("TOKEN123") && !text.contains("SECRETSIG"), "secret leaked: {text}");
}

pub(super) fn multipart_auth_reply() -> Result<HttpResponse> {
    json(
        201,
        serde_json::json!({
            "domain": "b-1250000000.cos.ap-guangzhou.myqcloud.com", "path": "/lib/-/obj", "uploadId": "u1",
            "headers": {"Authorization": "q-sign-algorithm=sha1&q-signature=SECRETSIG"},
            "confirmKey": "ck1", "expiration": "2027-01-15T08:00:00.000Z"
        }),
    )
}

pub(super) fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// Progress reports' `loaded` values.
#[derive(Default)]
pub(super) struct Loaded(pub(super) RefCell<Vec<u64>>);
impl Observer for Loaded {
    fn on_state(&self, _: UploadState) {}
    fn on_progress(&self, p: &Progress) {
        if p.phase == super::Phase::Uploading {
            self.0.borrow_mut().push(p.loaded);
        }
    }
}

pub(super) fn multipart_uploader(script: Rc<Script>, store: Rc<dyn CheckpointStore>) -> Rc<SmhUploader> {
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
