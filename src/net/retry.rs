//! Retry policy, exponential backoff with full jitter, and the one retry loop of the SDK.
//!
//! Every request is retried inside its own loop, never by restarting the upload:
//!
//! * 5xx and 429 answers, COS `SlowDown` / `RequestTimeout` / `InternalError` /
//!   `ServiceUnavailable` (also in a 200 reply's body), network errors (refused, reset,
//!   CORS-blocked) and timeouts, including stalled part uploads: [`crate::Error::retryable`];
//! * a part whose CRC-64 reply differs from the bytes sent (read again first);
//! * a refused authorisation — SMH `InvalidAccessToken`, COS "Request has expired" or a skewed
//!   clock — after renewing it ([`Attempts::reauthorise`]), not counted as a retry.
//!
//! While the platform says the device is offline, nothing is sent and no retry is spent: a failed
//! attempt waits for the network ([`wait_online`], at most `offline_timeout`) and goes again.
//!
//! Everything else (4xx) is final. The control calls of both services go through [`send`]; the
//! part uploads (whose retries also track progress, renewals and the client's congestion window)
//! and the file re-reads count their retries with the same [`Retry`].

use std::future::{poll_fn, Future};
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use super::timeout::with_timeout;
use crate::error::{Error, Result};
use crate::platform::{AlwaysOnline, Connectivity, Http, HttpRequest, HttpResponse, LocalBoxFuture, Timer};
use crate::text::fill;

/// Exponential backoff with "full jitter": the n-th wait is uniform in
/// `[0, min(max_backoff, init_backoff · base^n)]`
/// (<https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/>).
#[derive(Debug, Clone, PartialEq)]
pub struct BackoffConfig {
    /// Upper bound of the first wait.
    pub init_backoff: Duration,
    /// Upper bound of any wait.
    pub max_backoff: Duration,
    /// Growth factor per attempt.
    pub base: f64,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig { init_backoff: Duration::from_millis(200), max_backoff: Duration::from_secs(15), base: 2.0 }
    }
}

/// Retry limits of one client.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryConfig {
    /// Retries of one request (or one part) before it fails. After a part makes progress its
    /// count starts again (like tus-js-client's `shouldResetDelays`).
    pub max_retries: u32,
    /// Retries one upload may spend in total across all its requests, so that a flaky link that
    /// lets every part progress a little cannot retry forever.
    pub retry_budget: u32,
    pub backoff: BackoffConfig,
    /// Time limit of one control-flow request (SMH API).
    pub request_timeout: Duration,
    /// A part upload with no progress for this long is aborted and retried.
    pub stall_timeout: Duration,
    /// How long one request waits for the network while the platform says the device is offline
    /// before it fails with `Network` (no retry is spent while it waits).
    pub offline_timeout: Duration,
    /// The platform's word on the network.
    pub network: Network,
}

/// The platform's [`Connectivity`], shared by every request of a client.
#[derive(Clone)]
pub struct Network(pub Rc<dyn Connectivity>);

impl Default for Network {
    fn default() -> Network {
        Network(Rc::new(AlwaysOnline))
    }
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Network")
    }
}

impl PartialEq for Network {
    fn eq(&self, other: &Network) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

/// Waits while the platform says the device is offline, at most `policy.offline_timeout` (then
/// `Network`, retryable: the app may try again later). Requests made meanwhile would fail at once
/// and spend retries a lift or a tunnel outlasts.
pub fn wait_online<'a>(timer: &dyn Timer, policy: &'a RetryConfig) -> impl Future<Output = Result<()>> + 'a {
    // Both waits start now (the caller awaits at once); none while online.
    let mut waits =
        (!policy.network.0.is_online()).then(|| (policy.network.0.until_online(), timer.sleep(policy.offline_timeout)));
    poll_fn(move |cx| {
        let Some((online, timeout)) = waits.as_mut() else { return Poll::Ready(Ok(())) };
        if online.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Ok(()));
        }
        if timeout.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        Poll::Ready(Err(Error::Network {
            message: fill(
                "offline for longer than offlineTimeout ({} ms)",
                &[(policy.offline_timeout.as_millis() as u64).into()],
            ),
        }
        .into()))
    })
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_retries: 5,
            retry_budget: 100,
            backoff: BackoffConfig::default(),
            request_timeout: Duration::from_secs(30),
            stall_timeout: Duration::from_secs(30),
            offline_timeout: Duration::from_secs(600),
            network: Network::default(),
        }
    }
}

/// The waits of one retried operation.
pub struct Backoff {
    config: BackoffConfig,
    /// `init_backoff · base^n` in seconds for the n-th wait, before the cap.
    next: f64,
    rng: XorShift,
}

impl Backoff {
    /// A backoff whose jitter comes from a [`XorShift`] seeded with `seed`.
    pub fn seeded(config: BackoffConfig, seed: u64) -> Backoff {
        Backoff { next: config.init_backoff.as_secs_f64(), config, rng: XorShift::new(seed) }
    }

    /// The next wait.
    pub fn wait(&mut self) -> Duration {
        let r = self.rng.next_f64();
        self.wait_with(r)
    }

    /// The next wait with jitter `r`, uniform in `[0, 1)`.
    pub fn wait_with(&mut self, r: f64) -> Duration {
        let bound = self.next.min(self.config.max_backoff.as_secs_f64());
        // Grows by one factor per wait (past the cap it reaches infinity, which the cap bounds):
        // no `powi`, and whole nanoseconds instead of `from_secs_f64`'s 128-bit arithmetic.
        self.next *= self.config.base;
        Duration::from_nanos((bound * r.clamp(0.0, 1.0) * 1e9) as u64)
    }

    /// Starts again from the first wait (after progress).
    pub fn reset(&mut self) {
        self.next = self.config.init_backoff.as_secs_f64();
    }
}

/// A small xorshift generator for jitter (no crypto needed), seeded from the clock.
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> XorShift {
        XorShift(seed | 1)
    }
    /// Uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The retries one operation has left and the waits before them.
pub struct Retry {
    done: u32,
    max: u32,
    backoff: Backoff,
}

impl Retry {
    /// At most `max` retries, waiting as `backoff` says before each.
    pub fn new(max: u32, backoff: Backoff) -> Retry {
        Retry { done: 0, max, backoff }
    }

    /// Takes one retry: the wait before it, or `None` when none is left.
    pub fn take(&mut self) -> Option<Duration> {
        if self.done >= self.max {
            return None;
        }
        self.done += 1;
        Some(self.backoff.wait())
    }

    /// The operation made progress: its count and its waits start again (like tus-js-client's
    /// `shouldResetDelays`).
    pub fn reset(&mut self) {
        self.done = 0;
        self.backoff.reset();
    }
}

/// How one control call may be repeated (in the manner of object_store's `RetryableRequest`).
/// What can hide an error in a 200 reply and what is secret are the service's to know: see
/// [`Attempts`].
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// Names the call in timeout messages ("begin upload").
    pub what: &'a str,
    /// Whether repeating the call after its reply was lost is harmless.
    pub idempotent: Idempotent,
    /// Time limit of one attempt.
    pub timeout: Duration,
}

/// Whether a call may be repeated when no reply came back (the server may have acted on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotent {
    /// Reads, renewals, confirms, cancels: repeating them changes nothing.
    Yes,
    /// A call that creates something it names only in its reply (SMH's begin, COS's
    /// InitiateMultipartUpload): a lost reply leaves an upload nobody can name. It is repeated
    /// once after a lost reply, bounding that to one orphan (which the service expires, and
    /// which holds no bytes), instead of failing the whole upload.
    OnceAfterLostReply,
}

/// The service's side of one call sent by [`send`].
pub trait Attempts {
    /// The request of the next attempt, with the credentials current now (an access token in
    /// its URL, a signature in its headers).
    fn request(&mut self) -> LocalBoxFuture<'_, Result<HttpRequest>>;
    /// The outcome a reply stands for: success, or the error it carries — also one hidden in a
    /// 2xx body. Secrets the request carried (a token a server echoes) must not reach the error.
    fn check(&mut self, reply: HttpResponse) -> Result<HttpResponse>;
    /// After a failed attempt: whether renewing the authorisation `error` refused (a new token,
    /// new credentials, a corrected clock) lets the call go again at once, as a new attempt that
    /// is not counted as a retry. What renewing needs to wait for (a fetch) is done by the next
    /// [`Attempts::request`], whose error ends the call: one async step per attempt, not two.
    fn reauthorise(&mut self, error: &Error) -> bool;
}

/// Sends one control call through `http`, retrying what is safe to retry with backoff; returns
/// the reply [`Attempts::check`] accepted.
pub async fn send(
    http: &dyn Http,
    timer: &dyn Timer,
    policy: &RetryConfig,
    call: Call<'_>,
    attempts: &mut dyn Attempts,
) -> Result<HttpResponse> {
    let seed = (timer.now_ms() * 1000.0) as u64 ^ 0x9E37_79B9_7F4A_7C15;
    let mut retry = Retry::new(policy.max_retries, Backoff::seeded(policy.backoff.clone(), seed));
    let mut lost_replies = 0u32;
    loop {
        wait_online(timer, policy).await?;
        let mut request = attempts.request().await?;
        request.timeout = Some(call.timeout);
        let error = match with_timeout(timer, call.timeout, call.what, http.send(request)).await {
            Ok(reply) => match attempts.check(reply) {
                Ok(reply) => return Ok(reply),
                Err(error) => error,
            },
            Err(error) => error,
        };
        if attempts.reauthorise(&error) {
            continue;
        }
        let no_reply = matches!(*error, Error::Network { .. } | Error::Timeout { .. });
        if no_reply && call.idempotent == Idempotent::OnceAfterLostReply && lost_replies >= 1 {
            return Err(error);
        }
        if !error.retryable() {
            return Err(error);
        }
        lost_replies += u32::from(no_reply);
        if !policy.network.0.is_online() {
            // The outage failed it, not the server: wait for the network, no retry spent.
            continue;
        }
        let Some(wait) = retry.take() else { return Err(error) };
        timer.sleep(wait).await;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn grows_then_caps_with_full_jitter() {
        let config =
            BackoffConfig { init_backoff: Duration::from_millis(100), max_backoff: Duration::from_secs(1), base: 2.0 };
        let mut b = Backoff::seeded(config.clone(), 1);
        let waits: Vec<u128> = (0..6).map(|_| b.wait_with(0.999_999).as_millis()).collect();
        assert_eq!(waits, vec![99, 199, 399, 799, 999, 999]);
        b.reset();
        assert_eq!(b.wait_with(0.999_999).as_millis(), 99);
        assert_eq!(Backoff::seeded(config, 1).wait_with(0.0), Duration::ZERO);
    }

    #[test]
    fn xorshift_in_unit_interval() {
        let mut r = XorShift::new(42);
        for _ in 0..1000 {
            let v = r.next_f64();
            assert!((0.0..1.0).contains(&v));
        }
    }

    /// Fails every request without a reply, or with `status`; counts the requests.
    struct Failing(std::cell::Cell<u32>, Option<u16>);
    impl Http for Failing {
        fn send(&self, _: HttpRequest) -> LocalBoxFuture<'_, Result<HttpResponse>> {
            self.0.set(self.0.get() + 1);
            let status = self.1;
            Box::pin(async move {
                match status {
                    Some(status) => Ok(HttpResponse { status, headers: vec![], body: vec![] }),
                    None => Err(Error::Network { message: "reset".into() }.into()),
                }
            })
        }
    }
    /// A timer whose sleeps end at once.
    pub(crate) struct Instant;
    impl Timer for Instant {
        fn sleep(&self, _: Duration) -> LocalBoxFuture<'static, ()> {
            Box::pin(async {})
        }
        fn now_ms(&self) -> f64 {
            0.0
        }
        fn unix_ms(&self) -> f64 {
            0.0
        }
    }
    /// Non-2xx replies are errors; a 403 is cured `cures` times by re-authorising.
    struct Plain {
        cures: u32,
    }
    impl Attempts for Plain {
        fn request(&mut self) -> LocalBoxFuture<'_, Result<HttpRequest>> {
            Box::pin(async {
                Ok(HttpRequest::new(crate::platform::Method::Get, "http://127.0.0.1/".into(), vec![], None))
            })
        }
        fn check(&mut self, reply: HttpResponse) -> Result<HttpResponse> {
            match reply.status {
                200..=299 => Ok(reply),
                status => {
                    Err(Error::Cos { status, code: String::new(), message: String::new(), request_id: None }.into())
                }
            }
        }
        fn reauthorise(&mut self, error: &Error) -> bool {
            let cure = error.status() == 403 && self.cures > 0;
            self.cures -= u32::from(cure);
            cure
        }
    }

    fn attempts(reply: Option<u16>, idempotent: Idempotent, cures: u32) -> (u32, Box<Error>) {
        let http = Failing(std::cell::Cell::new(0), reply);
        let policy = RetryConfig { max_retries: 3, ..RetryConfig::default() };
        let call = Call { what: "test", idempotent, timeout: Duration::from_secs(1) };
        let error = futures::executor::block_on(send(&http, &Instant, &policy, call, &mut Plain { cures }))
            .expect_err("every reply fails");
        (http.0.get(), error)
    }

    #[test]
    fn one_loop_retries_by_idempotency_and_reauthorises_without_counting() {
        // Idempotent: the first try and max_retries more.
        assert_eq!(attempts(None, Idempotent::Yes, 0).0, 4);
        // A call that creates something is repeated once after a lost reply, not more…
        let (sent, error) = attempts(None, Idempotent::OnceAfterLostReply, 0);
        assert_eq!((sent, error.code()), (2, "Network"));
        // …but a reply that says the server failed is retried as usual.
        assert_eq!(attempts(Some(503), Idempotent::OnceAfterLostReply, 0).0, 4);
        // Final errors are not retried; a cured refusal goes again, not counted as a retry.
        assert_eq!(attempts(Some(404), Idempotent::Yes, 0).0, 1);
        assert_eq!(attempts(Some(403), Idempotent::Yes, 2).0, 3);
    }

    /// The network, as a test switches it: `until_online` brings it back at once, unless `never`.
    struct Switch {
        online: Rc<std::cell::Cell<bool>>,
        never: bool,
    }
    impl Connectivity for Switch {
        fn is_online(&self) -> bool {
            self.online.get()
        }
        fn until_online(&self) -> LocalBoxFuture<'static, ()> {
            if self.never {
                return Box::pin(std::future::pending());
            }
            let online = self.online.clone();
            Box::pin(async move { online.set(true) })
        }
    }
    /// Loses the network under its first request (which fails), answers 200 after.
    struct LosesNetwork(std::cell::Cell<u32>, Rc<std::cell::Cell<bool>>);
    impl Http for LosesNetwork {
        fn send(&self, _: HttpRequest) -> LocalBoxFuture<'_, Result<HttpResponse>> {
            self.0.set(self.0.get() + 1);
            let first = self.0.get() == 1;
            let online = self.1.clone();
            Box::pin(async move {
                if first || !online.get() {
                    online.set(false);
                    return Err(Error::Network { message: "ERR_INTERNET_DISCONNECTED".into() }.into());
                }
                Ok(HttpResponse { status: 200, headers: vec![], body: vec![] })
            })
        }
    }

    #[test]
    fn an_outage_is_waited_out_without_spending_a_retry_and_bounded() {
        let online = Rc::new(std::cell::Cell::new(true));
        let call = Call { what: "test", idempotent: Idempotent::Yes, timeout: Duration::from_secs(1) };
        // No retries at all: only waiting for the network, not a retry, can get past the outage.
        let policy = |never| RetryConfig {
            max_retries: 0,
            network: Network(Rc::new(Switch { online: online.clone(), never })),
            ..RetryConfig::default()
        };
        let http = LosesNetwork(std::cell::Cell::new(0), online.clone());
        let reply = futures::executor::block_on(send(&http, &Instant, &policy(false), call, &mut Plain { cures: 0 }));
        assert_eq!(reply.expect("waited out").status, 200);
        assert_eq!(http.0.get(), 2, "one request failed by the outage, one after it");
        // A network that never comes back: `Network` after offline_timeout, no request sent.
        online.set(false);
        let http = LosesNetwork(std::cell::Cell::new(1), online.clone());
        let error = futures::executor::block_on(send(&http, &Instant, &policy(true), call, &mut Plain { cures: 0 }))
            .expect_err("offline for good");
        assert_eq!((error.code(), error.retryable()), ("Network", true));
        assert!(error.to_string().contains("offlineTimeout"), "{error}");
        assert_eq!(http.0.get(), 1, "nothing sent while offline");
    }

    #[test]
    fn a_retry_count_starts_again_after_progress() {
        let config =
            BackoffConfig { init_backoff: Duration::from_millis(100), max_backoff: Duration::from_secs(1), base: 2.0 };
        let mut retry = Retry::new(2, Backoff::seeded(config, 7));
        // The retry's jitter, drawn again: its waits are these fractions of 100 ms, 200 ms, …
        let mut jitter = XorShift::new(7);
        let mut wait = |bound: f64| Some(Duration::from_nanos((bound * jitter.next_f64() * 1e9) as u64));
        assert_eq!(retry.take(), wait(0.1));
        assert_eq!(retry.take(), wait(0.2));
        assert_eq!(retry.take(), None);
        retry.reset();
        assert_eq!(retry.take(), wait(0.1), "count and waits start again");
    }
}
