//! Test-only native adapters of the SDK's ports (reqwest + tokio) and a devserver launcher.
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::{select, Either};
use serde_json::Value;
use smh_upload::engine::{ClientConfig, Control, Observer, Progress, SmhUploader, UploadResult, UploadState};
use smh_upload::platform::{
    Http, HttpRequest, HttpResponse, LocalBoxFuture, MemoryCheckpoints, MemorySource, Method, Timer,
};
use smh_upload::smh::{Conflict, LibraryPath, SmhTarget, TokenProvider, Tokens};
use smh_upload::Error;

/// `Http` over reqwest. The request runs as a tokio task (reqwest needs `Send`); upload progress
/// is sampled from an atomic counter the body stream advances. Dropping the future aborts it.
pub struct ReqwestHttp {
    client: reqwest::Client,
}

impl Default for ReqwestHttp {
    fn default() -> Self {
        ReqwestHttp { client: reqwest::Client::builder().no_proxy().build().expect("reqwest client") }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<Result<HttpResponse, Box<Error>>>);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Http for ReqwestHttp {
    fn send(&self, request: HttpRequest) -> LocalBoxFuture<'_, Result<HttpResponse, Box<Error>>> {
        let client = self.client.clone();
        Box::pin(async move {
            let sent = Arc::new(AtomicU64::new(0));
            let method = match request.method {
                Method::Get => reqwest::Method::GET,
                Method::Put => reqwest::Method::PUT,
                Method::Post => reqwest::Method::POST,
                Method::Delete => reqwest::Method::DELETE,
                Method::Head => reqwest::Method::HEAD,
            };
            let mut builder = client.request(method, &request.url);
            for (k, v) in &request.headers {
                builder = builder.header(k, v);
            }
            if let Some(t) = request.timeout {
                builder = builder.timeout(t);
            }
            if let Some(body) = &request.body {
                let bytes = bytes_of(body);
                let len = bytes.len() as u64;
                let counter = sent.clone();
                let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
                    bytes.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
                let stream = futures::stream::iter(chunks).map(move |c| {
                    if let Ok(c) = &c {
                        counter.fetch_add(c.len() as u64, Ordering::Relaxed);
                    }
                    c
                });
                builder = builder.header("content-length", len.to_string()).body(reqwest::Body::wrap_stream(stream));
            }
            let url = request.url.clone();
            let task = AbortOnDrop(tokio::spawn(async move {
                let resp = builder.send().await.map_err(|e| classify(e, &url))?;
                let status = resp.status().as_u16();
                let headers = resp
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.as_str().to_ascii_lowercase(), v.to_str().unwrap_or_default().to_string()))
                    .collect();
                let body = resp.bytes().await.map_err(|e| classify(e, &url))?.to_vec();
                Ok(HttpResponse { status, headers, body })
            }));
            let progress = request.progress.clone();
            let mut reported = 0;
            let mut task = task;
            loop {
                let tick = std::pin::pin!(tokio::time::sleep(Duration::from_millis(10)));
                match select(&mut task.0, tick).await {
                    Either::Left((joined, _)) => {
                        if let Some(p) = &progress {
                            let now = sent.load(Ordering::Relaxed);
                            if now > reported {
                                p(now);
                            }
                        }
                        return joined.unwrap_or_else(|e| Err(Error::Network { message: e.to_string() }.into()));
                    }
                    Either::Right(_) => {
                        if let Some(p) = &progress {
                            let now = sent.load(Ordering::Relaxed);
                            if now > reported {
                                reported = now;
                                p(now);
                            }
                        }
                    }
                }
            }
        })
    }
}

use futures::StreamExt;

fn bytes_of(body: &smh_upload::platform::Body) -> Vec<u8> {
    body.bytes().expect("native tests send bytes in memory").to_vec()
}

fn classify(e: reqwest::Error, url: &str) -> Error {
    let url = smh_upload::error::redact_url(url);
    if e.is_timeout() {
        Error::Timeout { message: url.to_string() }
    } else {
        Error::Network { message: format!("{url}: {}", e.without_url()) }
    }
}

/// Timer over tokio.
pub struct TokioTimer {
    start: Instant,
}

impl Default for TokioTimer {
    fn default() -> Self {
        TokioTimer { start: Instant::now() }
    }
}

impl Timer for TokioTimer {
    fn sleep(&self, duration: Duration) -> LocalBoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
    fn now_ms(&self) -> f64 {
        self.start.elapsed().as_secs_f64() * 1000.0
    }
    fn unix_ms(&self) -> f64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0)
    }
}

/// A device clock `.1` seconds off (its wall clock only: sleeps and the monotonic clock are
/// right).
pub struct SkewedTimer(pub TokioTimer, pub f64);

impl Timer for SkewedTimer {
    fn sleep(&self, d: Duration) -> LocalBoxFuture<'static, ()> {
        self.0.sleep(d)
    }
    fn now_ms(&self) -> f64 {
        self.0.now_ms()
    }
    fn unix_ms(&self) -> f64 {
        self.0.unix_ms() + self.1 * 1000.0
    }
}

/// A running devserver (the workspace's one launcher, `smh-devserver-launch`) on a fresh data
/// directory; killed on drop and its data removed.
pub struct Devserver {
    process: smh_devserver_launch::Devserver,
    pub ready: Value,
    http: reqwest::Client,
}

fn devserver_bin() -> std::path::PathBuf {
    if let Ok(p) = std::env::var("SMH_DEVSERVER_BIN") {
        return p.into();
    }
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debug/smh-devserver")
}

impl Devserver {
    pub fn start(flags: &[&str]) -> Devserver {
        let process = smh_devserver_launch::Devserver::start(&devserver_bin(), flags)
            .unwrap_or_else(|e| panic!("{e} (or set SMH_DEVSERVER_BIN)"));
        Devserver {
            ready: serde_json::from_str(process.ready_json()).unwrap(),
            process,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
        }
    }

    pub fn field(&self, name: &str) -> String {
        self.ready[name].as_str().unwrap_or_default().to_string()
    }

    /// POST to the app origin (e.g. `/token`, `/_dev/faults`).
    pub async fn app_post(&self, path: &str, body: Value) -> Value {
        let resp =
            self.http.post(format!("{}{}", self.field("app"), path)).json(&body).send().await.expect("app request");
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        assert!(status.is_success(), "POST {path} -> {status}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    pub async fn app_get(&self, path: &str) -> Value {
        let resp = self.http.get(format!("{}{}", self.field("app"), path)).send().await.expect("app request");
        assert!(resp.status().is_success(), "GET {path} -> {}", resp.status());
        resp.json().await.unwrap()
    }

    pub async fn app_delete(&self, path: &str) {
        let resp = self.http.delete(format!("{}{}", self.field("app"), path)).send().await.expect("app request");
        assert!(resp.status().is_success(), "DELETE {path} -> {}", resp.status());
    }

    pub async fn token(&self) -> String {
        let v = self.app_post("/token", serde_json::json!({})).await;
        v["accessToken"].as_str().expect("accessToken").to_string()
    }

    /// The stored object backing SMH file `path`, from `/_dev/objects`.
    pub async fn object_at(&self, path: &str) -> Option<Value> {
        let v = self.app_get("/_dev/objects").await;
        let list = v.as_array().cloned().or_else(|| v["objects"].as_array().cloned()).unwrap_or_default();
        list.into_iter().find(|o| o["smhPath"].as_str() == Some(path))
    }

    /// Requests the cos origin received (from `/_dev/log`).
    pub async fn cos_requests(&self) -> Vec<Value> {
        let v = self.app_get("/_dev/log").await;
        let list = v.as_array().cloned().or_else(|| v["entries"].as_array().cloned()).unwrap_or_default();
        list.into_iter().filter(|e| e["origin"].as_str() == Some("cos")).collect()
    }

    /// Open uploads (SMH tasks and COS multipart uploads) from `/_dev/uploads`.
    pub async fn open_uploads(&self) -> Value {
        self.app_get("/_dev/uploads").await
    }

    /// A client config pointed at this devserver, with bytes allowed to its cos origin.
    pub fn config(&self) -> ClientConfig {
        let mut c = ClientConfig::new(SmhTarget {
            base_url: self.field("smh"),
            library_id: self.field("libraryId"),
            space_id: self.field("spaceId"),
            user_id: None,
        });
        c.allowed_domains = Some(vec![self.field("cos")]);
        c.retry.backoff.init_backoff = Duration::from_millis(20);
        c.retry.backoff.max_backoff = Duration::from_millis(200);
        c
    }

    pub async fn uploader(&self, config: ClientConfig) -> Rc<SmhUploader> {
        let tokens = Tokens::fixed(self.token().await);
        self.uploader_with(config, tokens)
    }

    pub fn uploader_with(&self, config: ClientConfig, tokens: Tokens) -> Rc<SmhUploader> {
        Rc::new(
            SmhUploader::new(
                config,
                Rc::new(ReqwestHttp::default()),
                Rc::new(TokioTimer::default()),
                tokens,
                Rc::new(MemoryCheckpoints::default()),
            )
            .expect("valid config"),
        )
    }
}

/// Deterministic test bytes (differ by `seed`).
pub fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    smh_upload::checksum::hex(&sha2::Sha256::digest(data))
}

/// Records states and progress.
/// Called on each progress report.
pub type ProgressHook = Box<dyn Fn(&Progress)>;

#[derive(Default)]
pub struct Recorder {
    pub states: std::cell::RefCell<Vec<UploadState>>,
    pub progress: std::cell::RefCell<Vec<Progress>>,
    /// Called on each progress report (e.g. to pause at some point).
    pub hook: std::cell::RefCell<Option<ProgressHook>>,
    pub reports: Cell<usize>,
}

impl Observer for Recorder {
    fn on_state(&self, state: UploadState) {
        self.states.borrow_mut().push(state);
    }
    fn on_progress(&self, p: &Progress) {
        self.progress.borrow_mut().push(*p);
        self.reports.set(self.reports.get() + 1);
        if let Some(h) = self.hook.borrow().as_ref() {
            h(p);
        }
    }
}

/// Uploads `data` to `path` with default options; returns the result and the recorder.
pub async fn upload(
    uploader: &Rc<SmhUploader>,
    data: &[u8],
    path: &str,
    conflict: Conflict,
    quick: bool,
) -> (Result<UploadResult, Box<Error>>, Rc<Recorder>) {
    let recorder = Rc::new(Recorder::default());
    let result = upload_with(uploader, data, path, conflict, quick, Control::new(), recorder.clone()).await;
    (result, recorder)
}

pub async fn upload_with(
    uploader: &Rc<SmhUploader>,
    data: &[u8],
    path: &str,
    conflict: Conflict,
    quick: bool,
    control: Control,
    observer: Rc<dyn Observer>,
) -> Result<UploadResult, Box<Error>> {
    let source = Rc::new(MemorySource { bytes: Rc::from(data.to_vec()), name: path.to_string() });
    let opts = smh_upload::engine::UploadOptions {
        path: LibraryPath::parse(path)?,
        conflict,
        quick_upload: quick,
        create_parents: false,
    };
    smh_upload::engine::run(uploader.clone(), source, opts, control, observer).await
}

/// A token provider that asks the devserver's /token each time and counts calls.
pub struct AppTokens {
    pub app: String,
    pub calls: Rc<Cell<u32>>,
}

impl TokenProvider for AppTokens {
    fn fetch(&self) -> LocalBoxFuture<'static, Result<String, Box<Error>>> {
        self.calls.set(self.calls.get() + 1);
        let app = self.app.clone();
        Box::pin(async move {
            let v: Value = reqwest::Client::builder()
                .no_proxy()
                .build()
                .unwrap()
                .post(format!("{app}/token"))
                .json(&serde_json::json!({}))
                .send()
                .await
                .map_err(|e| Error::AccessToken { message: e.to_string() })?
                .json()
                .await
                .map_err(|e| Error::AccessToken { message: e.to_string() })?;
            Ok(v["accessToken"].as_str().unwrap_or_default().to_string())
        })
    }
}

impl Devserver {
    /// An uploader over `http` (e.g. a wrapper of [`ReqwestHttp`] that counts or rewrites).
    pub fn uploader_over(&self, config: ClientConfig, tokens: Tokens, http: Rc<dyn Http>) -> Rc<SmhUploader> {
        Rc::new(
            SmhUploader::new(
                config,
                http,
                Rc::new(TokioTimer::default()),
                tokens,
                Rc::new(MemoryCheckpoints::default()),
            )
            .expect("valid config"),
        )
    }
}

/// `Http` over [`ReqwestHttp`] that counts the PUTs in flight to the cos origin `cos_host`
/// (bytes being sent) and keeps the most there ever were at once.
pub struct CountingHttp {
    inner: ReqwestHttp,
    cos_host: String,
    in_flight: Rc<Cell<usize>>,
    pub max_in_flight: Rc<Cell<usize>>,
    /// For each PUT in the order they started: the PUTs in flight then, itself included.
    pub at_start: Rc<RefCell<Vec<usize>>>,
}

impl CountingHttp {
    pub fn new(cos_host: &str) -> CountingHttp {
        CountingHttp {
            inner: ReqwestHttp::default(),
            cos_host: cos_host.to_string(),
            in_flight: Rc::default(),
            max_in_flight: Rc::default(),
            at_start: Rc::default(),
        }
    }
}

/// One request in flight, counted until dropped (completed or aborted).
struct Counted(Rc<Cell<usize>>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

impl Http for CountingHttp {
    fn send(&self, request: HttpRequest) -> LocalBoxFuture<'_, Result<HttpResponse, Box<Error>>> {
        let counted = (request.method == Method::Put && request.url.contains(&self.cos_host)).then(|| {
            self.in_flight.set(self.in_flight.get() + 1);
            self.max_in_flight.set(self.max_in_flight.get().max(self.in_flight.get()));
            self.at_start.borrow_mut().push(self.in_flight.get());
            Counted(self.in_flight.clone())
        });
        Box::pin(async move {
            let _counted = counted;
            self.inner.send(request).await
        })
    }
}

/// A reply rewriter of [`RewritingHttp`].
type Rewrite = Box<dyn Fn(&HttpRequest, HttpResponse) -> HttpResponse>;

/// `Http` over [`ReqwestHttp`] whose replies `rewrite` may replace (a hostile proxy or server):
/// it gets the request (URL, headers) and the real response.
pub struct RewritingHttp {
    inner: ReqwestHttp,
    rewrite: Rewrite,
}

impl RewritingHttp {
    pub fn new(rewrite: impl Fn(&HttpRequest, HttpResponse) -> HttpResponse + 'static) -> RewritingHttp {
        RewritingHttp { inner: ReqwestHttp::default(), rewrite: Box::new(rewrite) }
    }
}

impl Http for RewritingHttp {
    fn send(&self, request: HttpRequest) -> LocalBoxFuture<'_, Result<HttpResponse, Box<Error>>> {
        Box::pin(async move {
            let seen = HttpRequest { body: None, progress: None, ..request.clone() };
            let response = self.inner.send(request).await?;
            Ok((self.rewrite)(&seen, response))
        })
    }
}
