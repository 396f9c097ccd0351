//! Scripted fault rules for the `smh` and `cos` origins (set through the app origin's
//! `/_dev/faults`), and [`Observe`], the layer that applies them and records the request log.
//!
//! OWNER: the SMH side.
//!
//! A rule (JSON, camelCase):
//! `{"origin": "cos"|"smh", "method"?: "PUT", "path"?: "substring" | "glob*", "query"?: "partNumber",
//!   "skip"?: N, "every"?: N (≥ 1), "rate"?: 0.0–1.0, "seed"?: u64, "times"?: N (default 1),
//!   "action": {...}}` with `action` one of
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
//! - `{"type":"dropReply"}` — handled normally (the whole body read, every side effect committed:
//!   a begin creates its upload, a part is stored, a confirm commits), then the connection is
//!   dropped before any response byte: a lost reply
//!
//! Matching: a request matches a rule when every given field matches (method case-insensitive;
//! path: glob over the whole path if it contains `*`, else substring; query: that key present).
//! Rules are tried in the order they were added; each matching rule with `times` left decides in
//! turn, and the first that fires wins (later rules do not see that request). A rule that does
//! not fire passes the request on to the next rule. A matching rule decides like this:
//! 1. while `skip` is positive, it decrements `skip` and does not fire;
//! 2. otherwise the request is the rule's next *candidate* (numbered 1, 2, …); with `every: N`
//!    only candidates N, 2N, 3N, … may fire;
//! 3. with `rate: p` such a candidate fires with probability `p`, drawn from a pseudo-random
//!    function of (`seed`, candidate number) — the same seed and request order fire on the same
//!    requests in every run (seed default 0; give rules that should fire independently
//!    different seeds);
//! 4. firing decrements `times`; at 0 the rule is spent and ignored.
//!
//! So several rules on the same requests compose as a cascade: e.g. `rate 0.04 → status 500`,
//! then `rate 0.03 → reset`, then `rate 0.03 → dropReply` fails about 4 % + 2.9 % + 2.8 % of the
//! matching requests, each failure from exactly one rule. `GET /_dev/faults` reports per rule
//! `seen` (matching requests that reached it) and `fired`. Preflights (`OPTIONS`) are never
//! faulted: the CORS layer outside this one answers them ([`crate::cors`]).

use std::convert::Infallible;
use std::future::Future;
use std::num::NonZeroU32;
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
    Delay {
        ms: u64,
    },
    Stall {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ms: Option<u64>,
    },
    Expired,
    BadCrc,
    DropReply,
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
            Action::DropReply => "dropReply",
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
    /// Only every Nth candidate may fire (N ≥ 1).
    pub every: Option<NonZeroU32>,
    /// Probability that a candidate fires.
    #[serde(default, deserialize_with = "probability")]
    pub rate: Option<f64>,
    /// Seed of the `rate` draws.
    pub seed: Option<u64>,
    pub times: Option<u32>,
    pub action: Action,
}

/// `rate`: a finite number in 0.0…1.0.
fn probability<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    let rate = Option::<f64>::deserialize(deserializer)?;
    match rate {
        Some(p) if !(0.0..=1.0).contains(&p) => {
            Err(serde::de::Error::custom(format!("rate must be between 0.0 and 1.0, got {p}")))
        }
        _ => Ok(rate),
    }
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub every: Option<NonZeroU32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Firings left.
    pub times: u32,
    /// Matching requests that reached this rule (skipped, passed on or fired).
    pub seen: u64,
    /// Times it fired so far.
    pub fired: u32,
    pub action: Action,
    /// Requests past `skip` so far (numbers `every` and the `rate` draws).
    #[serde(skip)]
    candidates: u64,
}

impl Rule {
    fn matches(&self, origin: Origin, method: &Method, path: &str, query: Option<&str>) -> bool {
        self.origin == origin
            && self.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method.as_str()))
            && self.path.as_deref().is_none_or(|p| path_matches(p, path))
            && self
                .query
                .as_deref()
                .is_none_or(|key| form_urlencoded::parse(query.unwrap_or("").as_bytes()).any(|(k, _)| k == key))
    }

    /// Counts one matching request and says whether the rule fires on it (module doc, steps 1–4).
    fn decide(&mut self) -> bool {
        self.seen += 1;
        if self.skip > 0 {
            self.skip -= 1;
            return false;
        }
        self.candidates += 1;
        if self.every.is_some_and(|n| !self.candidates.is_multiple_of(u64::from(n.get()))) {
            return false;
        }
        if self.rate.is_some_and(|p| unit_draw(self.seed.unwrap_or(0), self.candidates) >= p) {
            return false;
        }
        self.times -= 1;
        self.fired += 1;
        true
    }
}

/// A number in [0, 1) that depends only on `seed` and `n` (SplitMix64 of their mix).
fn unit_draw(seed: u64, n: u64) -> f64 {
    let mut z = seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
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
                every: spec.every,
                rate: spec.rate,
                seed: spec.seed,
                times: spec.times.unwrap_or(1),
                seen: 0,
                fired: 0,
                action,
                candidates: 0,
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
        rules
            .iter_mut()
            .filter(|r| r.times > 0 && r.matches(origin, method, path, query))
            .find_map(|rule| rule.decide().then(|| rule.action.clone()))
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
        let action = self.state.faults.take(self.origin, &method, &path, query.as_deref());

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
            Some(Action::DropReply) => {
                // Handled to the end (side effects committed), then the reply is lost.
                let handled = inner.oneshot(request).await.unwrap_or_else(|never| match never {});
                drop(handled);
                dropped_connection()
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
            Some(Action::Reset | Action::Stall { .. } | Action::DropReply) => 0,
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

    /// A cos PUT rule with `action: reset` and the given counts.
    fn rule(skip: u32, every: u32, rate: Option<f64>, seed: u64, times: u32) -> RuleSpec {
        RuleSpec {
            origin: Origin::Cos,
            method: Some("put".into()),
            path: None,
            query: Some("partNumber".into()),
            skip: Some(skip),
            every: NonZeroU32::new(every),
            rate,
            seed: Some(seed),
            times: Some(times),
            action: Action::Reset,
        }
    }

    fn part_put(faults: &Faults) -> bool {
        faults.take(Origin::Cos, &Method::PUT, "/k", Some("partNumber=1&uploadId=u")).is_some()
    }

    #[test]
    fn skip_then_times() {
        let faults = Faults::default();
        faults.add(vec![rule(1, 0, None, 0, 2)]);
        let take = |q| faults.take(Origin::Cos, &Method::PUT, "/k", Some(q)).is_some();
        assert!(!take("uploadId=u"));
        assert!(!take("partNumber=1&uploadId=u"));
        assert!(take("partNumber=2&uploadId=u"));
        assert!(take("partNumber=3&uploadId=u"));
        assert!(!take("partNumber=4&uploadId=u"));
        assert_eq!((faults.list()[0].seen, faults.list()[0].fired), (3, 2));
    }

    #[test]
    fn every_after_skip_capped_by_times() {
        let faults = Faults::default();
        faults.add(vec![rule(2, 3, None, 0, 2)]);
        let fired: Vec<usize> = (1..=14).filter(|_| part_put(&faults)).collect();
        // Requests 1–2 skipped; candidates 3, 6 of the rest (requests 5, 8) fire; then spent.
        assert_eq!(fired, [5, 8]);
    }

    #[test]
    fn rate_is_reproducible_per_seed() {
        let run = |seed| {
            let faults = Faults::default();
            faults.add(vec![rule(0, 0, Some(0.1), seed, u32::MAX)]);
            (0..2000).map(|_| part_put(&faults)).collect::<Vec<bool>>()
        };
        let first = run(7);
        assert_eq!(first, run(7));
        assert_ne!(first, run(8));
        let fired = first.iter().filter(|f| **f).count();
        assert!((150..=250).contains(&fired), "rate 0.1 of 2000 fired {fired}");
    }

    #[test]
    fn rules_cascade() {
        let faults = Faults::default();
        // Rule 1 fires on every 2nd request; rule 2 on every 2nd request rule 1 passes on.
        faults.add(vec![rule(0, 2, None, 0, 100), rule(0, 2, None, 0, 100)]);
        let fired: Vec<bool> = (0..8).map(|_| part_put(&faults)).collect();
        assert_eq!(fired, [false, true, true, true, false, true, true, true]);
        let rules = faults.list();
        assert_eq!((rules[0].seen, rules[0].fired, rules[1].seen, rules[1].fired), (8, 4, 4, 2));
        // A rule still skipping passes the request on instead of shielding it.
        faults.clear();
        faults.add(vec![rule(5, 0, None, 0, 1), rule(0, 0, None, 0, 1)]);
        assert!(part_put(&faults));
    }

    #[test]
    fn bad_rules_refused() {
        let parse = |v: serde_json::Value| serde_json::from_value::<RuleSpec>(v);
        let base = serde_json::json!({ "origin": "cos", "action": { "type": "dropReply" } });
        assert!(parse(base.clone()).is_ok());
        for (field, value) in
            [("every", serde_json::json!(0)), ("rate", serde_json::json!(1.5)), ("rate", serde_json::json!(-0.1))]
        {
            let mut bad = base.clone();
            bad[field] = value;
            assert!(parse(bad).is_err(), "{field}");
        }
    }
}
