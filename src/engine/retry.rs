//! Retry policy and exponential backoff with full jitter.
//!
//! The following are retried, each request inside its own loop (never by restarting the upload):
//!
//! * 5xx and 429 answers, COS `SlowDown` / `RequestTimeout`
//! * network errors (refused, reset, CORS-blocked) and timeouts, including stalled part uploads
//! * a part whose CRC64 reply differs from the bytes sent
//! * COS "Request has expired": after renewing the upload authorisation (not counted as a retry)
//! * SMH `InvalidAccessToken`: once, after `getAccessToken()` gave a new token
//!
//! Everything else (4xx) is final. See [`crate::Error::retryable`].

use std::time::Duration;

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
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_retries: 5,
            retry_budget: 100,
            backoff: BackoffConfig::default(),
            request_timeout: Duration::from_secs(30),
            stall_timeout: Duration::from_secs(30),
        }
    }
}

/// The waits of one retried operation.
pub struct Backoff {
    config: BackoffConfig,
    attempt: u32,
    rng: Box<dyn FnMut() -> f64>,
}

impl Backoff {
    /// A backoff drawing jitter from `rng`, which returns uniform values in `[0, 1)`.
    pub fn new_with_rng(config: BackoffConfig, rng: Box<dyn FnMut() -> f64>) -> Backoff {
        Backoff { config, attempt: 0, rng }
    }

    /// The next wait.
    pub fn next(&mut self) -> Duration {
        let cap = self.config.max_backoff.as_secs_f64();
        let bound = (self.config.init_backoff.as_secs_f64() * self.config.base.powi(self.attempt as i32)).min(cap);
        self.attempt = self.attempt.saturating_add(1);
        let r = (self.rng)().clamp(0.0, 1.0);
        Duration::from_secs_f64(bound * r)
    }

    /// Starts again from the first wait (after progress).
    pub fn reset(&mut self) {
        self.attempt = 0;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps_with_full_jitter() {
        let config =
            BackoffConfig { init_backoff: Duration::from_millis(100), max_backoff: Duration::from_secs(1), base: 2.0 };
        let mut b = Backoff::new_with_rng(config.clone(), Box::new(|| 0.999_999));
        let waits: Vec<u128> = (0..6).map(|_| b.next().as_millis()).collect();
        assert_eq!(waits, vec![99, 199, 399, 799, 999, 999]);
        b.reset();
        assert_eq!(b.next().as_millis(), 99);
        let mut zero = Backoff::new_with_rng(config, Box::new(|| 0.0));
        assert_eq!(zero.next(), Duration::ZERO);
    }

    #[test]
    fn xorshift_in_unit_interval() {
        let mut r = XorShift::new(42);
        for _ in 0..1000 {
            let v = r.next_f64();
            assert!((0.0..1.0).contains(&v));
        }
    }
}
