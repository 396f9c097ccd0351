//! Scripted fault rules for the `smh` and `cos` origins (set through the app origin's
//! `/_dev/faults`), and [`Observe`], the layer that applies them and records the request log.
//!
//! OWNER: the SMH side.
//!
//! A rule (JSON, camelCase):
//! `{"origin": "cos"|"smh", "method"?: "PUT", "path"?: "substring" | "glob*", "query"?: "partNumber",
//!   "skip"?: N, "times"?: N (default 1), "action": {...}}` with `action` one of
//! - `{"type":"status","status":500,"code"?:"InternalError","message"?:"…"}` — the service's own
//!   error body (COS XML / SMH JSON), after reading the request body
//! - `{"type":"reset"}` — reads up to [`RESET_READ_BYTES`] of the body, then drops the connection
//!   without a response
//! - `{"type":"delay","ms":N}` — waits, then handles the request normally
//! - `{"type":"stall","ms"?:N}` — answers nothing for `ms` (default [`DEFAULT_STALL_MS`]), then
//!   drops the connection
//! - `{"type":"expired"}` — cos: 403 AccessDenied "Request has expired"; smh: 403 InvalidAccessToken
//! - `{"type":"badCrc"}` — cos: handled normally, but `x-cos-hash-crc64ecma` in the answer is wrong;
//!   smh: no effect
//!
//! Matching: a request matches a rule when every given field matches (method case-insensitive;
//! path: glob over the whole path if it contains `*`, else substring; query: that key present).
//! The first matching rule with `times` left either lets the request through (while its `skip`
//! is positive, decrementing it) or fires (decrementing `times`). Preflights (`OPTIONS`) are
//! never faulted.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tower::{Layer, Service, ServiceExt};

use crate::cos::CosError;
use crate::reqlog::{self, LogEntry};
use crate::state::AppState;

/// Body bytes read before a `reset` drops the connection.
pub const RESET_READ_BYTES: u64 = 64 * 1024;
/// How long a `stall` keeps the client waiting when `ms` is not given.
pub const DEFAULT_STALL_MS: u64 = 60_000;
/// Longest `stall` or `delay` accepted, so a forgotten rule cannot hang a test run forever.
pub const MAX_WAIT_MS: u64 = 10 * 60_000;
/// Upper bound on the body read (and discarded) before an injected error response.
const DRAIN_LIMIT_BYTES: u64 = 6 * 1024 * 1024 * 1024;

/// Which origin a rule targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Cos,
    Smh,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Cos => "cos",
            Origin::Smh => "smh",
        }
    }
}

/// What a firing rule does.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Action {
    Status {
        status: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    Reset,
    Delay { ms: u64 },
    Stall {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ms: Option<u64>,
    },
    Expired,
    BadCrc,
}

impl Action {
    fn name(&self) -> &'static str {
        match self {
            Action::Status { .. } => "status",
            Action::Reset => "reset",
            Action::Delay { .. } => "delay",
            Action::Stall { .. } => "stall",
            Action::Expired => "expired",
            Action::BadCrc => "badCrc",
        }
    }
}

/// A rule as posted to `/_dev/faults`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub origin: Origin,
    pub method: Option<String>,
    pub path: Option<String>,
    pub query: Option<String>,
    pub skip: Option<u32>,
    pub times: Option<u32>,
    pub action: Action,
}

/// A rule with its remaining counts, as `GET /_dev/faults` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Rule {
    pub id: u64,
    pub origin: Origin,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Matches still let through before the rule fires.
    pub skip: u32,
    /// Firings left.
    pub times: u32,
    /// Times it fired so far.
    pub fired: u32,
    pub action: Action,
}

impl Rule {
    fn matches(&self, origin: Origin, method: &Method, path: &str, query: Option<&str>) -> bool {
        self.origin == origin
            && self.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method.as_str()))
            && self.path.as_deref().is_none_or(|p| path_matches(p, path))
            && self.query.as_deref().is_none_or(|key| {
                query.unwrap_or("").split('&').any(|pair| pair.split('=').next() == Some(key))
            })
    }
}

/// `pattern` with `*` = glob over the whole path, else substring.
fn path_matches(pattern: &str, path: &str) -> bool {
    if !pattern.contains('*') {
        return path.contains(pattern);
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !path.starts_with(first) || path.len() < first.len() + last.len() || !path.ends_with(last) {
        return false;
    }
    let mut rest = &path[first.len()..path.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

/// The active rules.
///
/// A `std::sync::Mutex`: matching is a short scan, never held across `.await`.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Mutex<Vec<Rule>>,
    next_id: AtomicU64,
}

impl Faults {
    fn rules(&self) -> std::sync::MutexGuard<'_, Vec<Rule>> {
        self.rules.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds rules (after the existing ones); returns all rules.
    pub fn add(&self, specs: Vec<RuleSpec>) -> Vec<Rule> {
        let mut rules = self.rules();
        for spec in specs {
            let action = match spec.action {
                Action::Delay { ms } => Action::Delay { ms: ms.min(MAX_WAIT_MS) },
                Action::Stall { ms } => Action::Stall { ms: Some(ms.unwrap_or(DEFAULT_STALL_MS).min(MAX_WAIT_MS)) },
                other => other,
            };
            rules.push(Rule {
                id: self.next_id.fetch_add(1, Ordering::Relaxed) + 1,
                origin: spec.origin,
                method: spec.method,
                path: spec.path,
                query: spec.query,
                skip: spec.skip.unwrap_or(0),
                times: spec.times.unwrap_or(1),
                fired: 0,
                action,
            });
        }
        rules.clone()
    }

    pub fn clear(&self) {
        self.rules().clear();
    }

    pub fn list(&self) -> Vec<Rule> {
        self.rules().clone()
    }

    /// The action to apply to this request, if a rule fires (counts updated).
    pub fn take(&self, origin: Origin, method: &Method, path: &str, query: Option<&str>) -> Option<Action> {
        let mut rules = self.rules();
        let rule = rules.iter_mut().find(|r| r.times > 0 && r.matches(origin, method, path, query))?;
        if rule.skip > 0 {
            rule.skip -= 1;
            return None;
        }
        rule.times -= 1;
        rule.fired += 1;
        Some(rule.action.clone())
    }
}

/// Layer applying fault rules and recording the request log for one origin.
/// Added last (outermost but CORS) on the smh router and at the very end of `cos::router`.
#[derive(Clone)]
pub struct Observe {
    state: AppState,
    origin: Origin,
}

impl Observe {
    pub fn new(state: AppState, origin: Origin) -> Observe {
        Observe { state, origin }
    }
}

impl<S> Layer<S> for Observe {
    type Service = ObserveService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ObserveService { inner, observe: self.clone() }
    }
}

/// The service of [`Observe`].
#[derive(Clone)]
pub struct ObserveService<S> {
    inner: S,
    observe: Observe,
}

impl<S> Service<Request> for ObserveService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The clone that was driven to readiness handles this request (tower's usual dance).
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let observe = self.observe.clone();
        Box::pin(async move { Ok(observe.handle(inner, request).await) })
    }
}

impl Observe {
    async fn handle<S>(self, inner: S, request: Request) -> Response
    where
        S: Service<Request, Response = Response, Error = Infallible> + Send + 'static,
        S::Future: Send + 'static,
    {
        let method = request.method().clone();
        let path = request.uri().path().to_string();
        let query = request.uri().query().map(str::to_string);
        let op = reqlog::classify(self.origin.as_str(), &method, &path, query.as_deref());
        let action = if method == Method::OPTIONS {
            None
        } else {
            self.state.faults.take(self.origin, &method, &path, query.as_deref())
        };

        // Count the request body bytes the server reads.
        let counter = Arc::new(AtomicU64::new(0));
        let (parts, body) = request.into_parts();
        let counting = counter.clone();
        let body = Body::from_stream(body.into_data_stream().map(move |chunk| {
            if let Ok(bytes) = &chunk {
                counting.fetch_add(bytes.len() as u64, Ordering::Relaxed);
            }
            chunk
        }));
        let request = Request::from_parts(parts, body);
        // Recorded when the response is ready, or on drop if the client went away first.
        let mut pending = PendingEntry {
            log: self.state.log.clone(),
            counter,
            entry: Some(LogEntry {
                seq: 0,
                time_ms: crate::smh::http::now_ms(),
                origin: self.origin.as_str(),
                method: method.to_string(),
                path: reqlog::redact_path(self.origin.as_str(), &path),
                op,
                status: 0,
                bytes_in: 0,
                fault: action.as_ref().map(Action::name),
            }),
        };

        let response = match &action {
            None => inner.oneshot(request).await.unwrap_or_else(|never| match never {}),
            Some(Action::Delay { ms }) => {
                tokio::time::sleep(Duration::from_millis(*ms)).await;
                inner.oneshot(request).await.unwrap_or_else(|never| match never {})
            }
            Some(Action::BadCrc) => {
                let mut response = inner.oneshot(request).await.unwrap_or_else(|never| match never {});
                corrupt_crc(&mut response);
                response
            }
            Some(Action::Status { status, code, message }) => {
                drain(request.into_body(), DRAIN_LIMIT_BYTES).await;
                let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                self.error_response(status, code.as_deref(), message.as_deref())
            }
            Some(Action::Expired) => {
                drain(request.into_body(), DRAIN_LIMIT_BYTES).await;
                match self.origin {
                    Origin::Cos => CosError::request_expired().into_response(),
                    Origin::Smh => crate::smh::SmhError::InvalidAccessToken.into_response(),
                }
            }
            Some(Action::Reset) => {
                drain(request.into_body(), RESET_READ_BYTES).await;
                dropped_connection()
            }
            Some(Action::Stall { ms }) => {
                tokio::time::sleep(Duration::from_millis(ms.unwrap_or(DEFAULT_STALL_MS))).await;
                dropped_connection()
            }
        };
        let status = match action {
            Some(Action::Reset | Action::Stall { .. }) => 0,
            _ => response.status().as_u16(),
        };
        pending.finish(status);
        response
    }

    /// The origin's own error rendering: COS XML ([`CosError`], with its common and CORS headers)
    /// or SMH JSON (CORS added by the smh router's outer layer).
    fn error_response(&self, status: StatusCode, code: Option<&str>, message: Option<&str>) -> Response {
        match self.origin {
            Origin::Smh => {
                let code = code.unwrap_or(match status.as_u16() {
                    503 => "ServerOverloaded",
                    429 => "RateLimitExceeded",
                    s if s >= 500 => "InternalServerError",
                    _ => "ParamInvalid",
                });
                let message = message.unwrap_or("injected fault");
                crate::smh::error::error_response(status, code, message)
            }
            Origin::Cos => {
                let code = code.unwrap_or(match status.as_u16() {
                    503 => "ServiceUnavailable",
                    429 => "SlowDown",
                    s if s >= 500 => "InternalError",
                    _ => "InvalidRequest",
                });
                let message = message.unwrap_or(match code {
                    "InternalError" => "We encountered an internal error. Please try again.",
                    "ServiceUnavailable" => "Please reduce your request rate.",
                    "SlowDown" => "Please reduce your request rate.",
                    _ => "injected fault",
                });
                CosError::new(status, intern(code), message).into_response()
            }
        }
    }
}

/// A log entry waiting for its status; recorded with status 0 if dropped unfinished (the client
/// closed the connection while the request was handled).
struct PendingEntry {
    log: Arc<crate::reqlog::RequestLog>,
    counter: Arc<AtomicU64>,
    entry: Option<LogEntry>,
}

impl PendingEntry {
    fn finish(&mut self, status: u16) {
        if let Some(mut entry) = self.entry.take() {
            entry.status = status;
            entry.bytes_in = self.counter.load(Ordering::Relaxed);
            self.log.record(entry);
        }
    }
}

impl Drop for PendingEntry {
    fn drop(&mut self) {
        self.finish(0);
    }
}

/// A `&'static str` for an error code named in a rule ([`CosError`] takes static codes). Each
/// distinct code is leaked once; rules name a handful.
fn intern(code: &str) -> &'static str {
    static CODES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut codes = CODES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(known) = codes.iter().find(|c| **c == code) {
        return known;
    }
    let leaked: &'static str = Box::leak(code.to_string().into_boxed_str());
    codes.push(leaked);
    leaked
}

/// Replaces `x-cos-hash-crc64ecma` with a wrong value.
fn corrupt_crc(response: &mut Response) {
    const CRC_HEADER: &str = "x-cos-hash-crc64ecma";
    let actual = response
        .headers()
        .get(CRC_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let wrong = (actual ^ 0x5a5a_5a5a_5a5a_5a5a).to_string();
    if let Ok(v) = HeaderValue::from_str(&wrong) {
        response.headers_mut().insert(CRC_HEADER, v);
    }
}

/// Reads and discards up to `limit` body bytes (an error response is only read by a client that
/// finished sending).
async fn drain(body: Body, limit: u64) {
    let mut stream = body.into_data_stream();
    let mut read = 0u64;
    while read < limit {
        match stream.next().await {
            Some(Ok(chunk)) => read += chunk.len() as u64,
            _ => break,
        }
    }
}

/// A response whose body fails at once: hyper then closes the connection without sending
/// anything, so the client sees a network error.
fn dropped_connection() -> Response {
    let failing = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("injected fault: connection dropped"))
    });
    Response::new(Body::from_stream(failing))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(path_matches("/smh*/-/*", "/smhabc/-/0123"));
        assert!(path_matches("abc", "/x/abc/y"));
        assert!(!path_matches("/a*c", "/abd"));
        assert!(path_matches("*", "/anything"));
    }

    #[test]
    fn skip_then_times() {
        let faults = Faults::default();
        faults.add(vec![RuleSpec {
            origin: Origin::Cos,
            method: Some("put".into()),
            path: None,
            query: Some("partNumber".into()),
            skip: Some(1),
            times: Some(2),
            action: Action::Reset,
        }]);
        let take = |q| faults.take(Origin::Cos, &Method::PUT, "/k", Some(q)).is_some();
        assert!(!take("uploadId=u"));
        assert!(!take("partNumber=1&uploadId=u"));
        assert!(take("partNumber=2&uploadId=u"));
        assert!(take("partNumber=3&uploadId=u"));
        assert!(!take("partNumber=4&uploadId=u"));
        assert_eq!(faults.list()[0].fired, 2);
    }
}
