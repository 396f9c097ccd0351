//! How the SDK talks over the [`Http`](crate::platform::Http) port, below the service clients
//! (`smh`, `cos`) and the engine: the retry policy and backoff ([`retry`]), the one retry loop
//! every control call goes through ([`retry::send`]), time limits ([`timeout`]), one shared call
//! for concurrent callers ([`single_flight`]: token and credential fetches), and URL
//! percent-encoding.

pub mod retry;
pub mod single_flight;
pub mod timeout;

pub use retry::{wait_online, Attempts, Backoff, BackoffConfig, Call, Idempotent, Network, Retry, RetryConfig};
pub use single_flight::SingleFlight;
pub use timeout::with_timeout;

/// RFC 3986 percent-encoding of everything but `A-Z a-z 0-9 - _ . ~` (UTF-8, uppercase hex): an
/// SMH path segment or query value, a COS key segment, and the form COS signs.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[(b >> 4) as usize]));
            out.push(char::from(b"0123456789ABCDEF"[(b & 15) as usize]));
        }
    }
    out
}
