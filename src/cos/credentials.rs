//! Temporary COS credentials for the direct-COS mode: the shapes a backend hands the page
//! (docs/cos-api.md §7), a cache that asks `getCredentials()` again before they expire or when COS
//! refuses them — one call however many parts are waiting — and the correction of a client
//! clock that COS found skewed.
//!
//! Accepted shapes (also inside a TencentCloud API `{"Response": …}` envelope):
//! - STS GetFederationToken / AssumeRole: `{Credentials: {TmpSecretId, TmpSecretKey, Token},
//!   StartTime?, ExpiredTime | Expiration}`;
//! - VOD CreateStorageCredentials: `{Credentials: {AccessKeyId, SecretAccessKey, SessionToken,
//!   Expiration}}`;
//! - flat: `{tmpSecretId, tmpSecretKey, sessionToken, startTime?, expiredTime}`, or nested as the
//!   `qcloud-cos-sts` helpers return it: `{credentials: {tmpSecretId, tmpSecretKey,
//!   sessionToken}, startTime?, expiredTime}`.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;

use crate::date::parse_http_date;
use crate::error::{Error, Result};
use crate::json::{parse_u64, Value};
use crate::net::SingleFlight;
use crate::platform::LocalBoxFuture;

/// Credentials are fetched again when fewer than this many seconds remain (cos-js-sdk-v5 uses
/// 60 s; a part that starts just before the end must still be accepted)…
const REFRESH_MARGIN_MAX_S: f64 = 300.0;
/// …or a quarter of their lifetime, for short-lived ones.
const REFRESH_MARGIN_FRACTION: f64 = 0.25;
/// A clock off by less than this is left alone (COS allows 15 minutes).
const SKEW_TOLERANCE_S: f64 = 30.0;
/// A request's signature is valid for at most this long (the keys' own expiry may end it sooner).
pub const SIGNATURE_LIFETIME_S: f64 = 3600.0;
/// A signature's validity starts this long before now, for clocks a little behind COS's.
pub const SIGNATURE_BACKDATE_S: f64 = 60.0;
/// Credentials that our clock says had expired when they arrived are used
/// for this long anyway: that may be our clock's fault, which COS's reply then corrects — asking
/// the backend again at once would only bring the same answer.
const FRESH_S: f64 = 10.0;

/// One set of temporary credentials. `Debug` never shows the secret or the token.
#[derive(Clone, PartialEq)]
pub struct Credentials {
    pub secret_id: String,
    pub secret_key: String,
    pub token: String,
    /// Unix seconds: when they became valid (the issuing server's clock), if known.
    pub start: Option<u64>,
    /// Unix seconds: when COS stops accepting them.
    pub expires: u64,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials {{ secret_id: {}, expires: {} }}", self.secret_id, self.expires)
    }
}

fn fail(message: &str) -> Error {
    Error::Credentials { message: message.to_string() }
}

/// A whole number of seconds given as a number or a decimal string.
fn seconds(value: Option<&Value>) -> Option<u64> {
    let value = value?;
    // `u64`'s `str::parse`, an optional `+` before the digits, without linking core's parser.
    let parse = |s: &str| parse_u64(s.strip_prefix("+").unwrap_or(s));
    value.to_u64().or_else(|| value.as_str().and_then(|s| parse(crate::text::trim(s))))
}

/// Unix seconds of an RFC 3339 time (`2024-08-20T13:55:53Z`).
fn rfc3339_seconds(value: Option<&Value>) -> Option<u64> {
    let ms = crate::date::parse_iso8601_ms(value?.as_str()?)?;
    (ms >= 0.0).then(|| (ms / 1000.0) as u64)
}

fn text(object: &Value, names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| object.get(n)?.as_str())
        .map(crate::text::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Reads any accepted shape (see the module docs). Nothing of the input is quoted in errors.
pub fn parse(value: &Value) -> Result<Rc<Credentials>> {
    let outer = value.get("Response").unwrap_or(value);
    if outer.get("Error").is_some() {
        return Err(fail("getCredentials returned a TencentCloud API error reply instead of credentials").into());
    }
    let inner = outer.get("Credentials").or_else(|| outer.get("credentials")).unwrap_or(outer);
    let secret_id = text(inner, &["TmpSecretId", "AccessKeyId", "tmpSecretId", "secretId"]);
    let secret_key = text(inner, &["TmpSecretKey", "SecretAccessKey", "tmpSecretKey", "secretKey"]);
    let token =
        text(inner, &["Token", "SessionToken", "sessionToken", "securityToken", "SecurityToken", "XCosSecurityToken"]);
    let (Some(secret_id), Some(secret_key), Some(token)) = (secret_id, secret_key, token) else {
        return Err(fail(
            "getCredentials must resolve to STS credentials {Credentials: {TmpSecretId, TmpSecretKey, Token}, ExpiredTime}, VOD credentials {Credentials: {AccessKeyId, SecretAccessKey, SessionToken, Expiration}} or {tmpSecretId, tmpSecretKey, sessionToken, expiredTime}",
        ).into());
    };
    let expires = [outer, inner]
        .iter()
        .find_map(|o| seconds(o.get("ExpiredTime").or_else(|| o.get("expiredTime"))))
        .or_else(|| {
            [inner, outer].iter().find_map(|o| rfc3339_seconds(o.get("Expiration").or_else(|| o.get("expiration"))))
        })
        .ok_or_else(|| fail("the credentials carry no expiry (ExpiredTime, expiredTime or Expiration)"))?;
    let start = [outer, inner].iter().find_map(|o| seconds(o.get("StartTime").or_else(|| o.get("startTime"))));
    if start.is_some_and(|s| s >= expires) {
        return Err(fail("the credentials expire before they start").into());
    }
    Ok(Rc::new(Credentials { secret_id, secret_key, token, start, expires }))
}

/// Where credentials come from (`getCredentials()` in JS).
pub trait CredentialProvider {
    /// Fetches a fresh set, already in one of the accepted shapes.
    fn fetch(&self) -> LocalBoxFuture<'static, Result<Value>>;
}

struct Inner {
    /// The credentials, their generation, COS's time when they arrived (as we knew it then),
    /// and the local time they arrived.
    current: Option<(Rc<Credentials>, u64, f64, f64)>,
    fetching: SingleFlight<Result<Rc<Credentials>>>,
    generation: u64,
}

/// What the clones of a [`CredentialCache`] share.
struct Shared {
    inner: RefCell<Inner>,
    /// Seconds to add to the local clock to get COS's (set from the `Date` of COS's replies).
    offset_s: Cell<f64>,
    /// Whether a COS reply's `Date` has checked the clock yet.
    clock_checked: Cell<bool>,
}

/// The cache of one uploader: current credentials with their generation, one fetch at a time,
/// and the offset of the server's clock from ours.
#[derive(Clone)]
pub struct CredentialCache {
    provider: Rc<dyn CredentialProvider>,
    shared: Rc<Shared>,
}

impl CredentialCache {
    pub fn new(provider: Rc<dyn CredentialProvider>) -> CredentialCache {
        let inner = RefCell::new(Inner { current: None, fetching: SingleFlight::default(), generation: 0 });
        let shared = Shared { inner, offset_s: Cell::new(0.0), clock_checked: Cell::new(false) };
        CredentialCache { provider, shared: Rc::new(shared) }
    }

    /// COS's time now, in Unix seconds, from the local `unix_ms`.
    pub fn server_now(&self, unix_ms: f64) -> f64 {
        unix_ms / 1000.0 + self.shared.offset_s.get()
    }

    /// The `q-key-time` window (Unix seconds, COS's clock) of a request signed at local time
    /// `unix_ms` with `creds`: `[max(now − 60 s, StartTime), min(now + 1 h, ExpiredTime)]`, at
    /// least one second long (docs/cos-api.md §1.1).
    pub fn key_window(&self, creds: &Credentials, unix_ms: f64) -> (u64, u64) {
        let now = self.server_now(unix_ms);
        let start = ((now - SIGNATURE_BACKDATE_S).max(0.0) as u64).max(creds.start.unwrap_or(0));
        let end = ((now + SIGNATURE_LIFETIME_S) as u64).min(creds.expires).max(start + 1);
        (start, end)
    }

    /// Records COS's clock from the `Date` of a reply (RFC 1123); returns whether ours was off
    /// by more than the tolerance (and is now corrected).
    pub fn correct_clock(&self, date_header: &str, unix_ms: f64) -> bool {
        let Some(server) = parse_http_date(date_header) else { return false };
        self.shared.clock_checked.set(true);
        let offset = server as f64 - unix_ms / 1000.0;
        let changed = (offset - self.shared.offset_s.get()).abs() > SKEW_TOLERANCE_S;
        if changed {
            self.shared.offset_s.set(if offset.abs() > SKEW_TOLERANCE_S { offset } else { 0.0 });
        }
        changed
    }

    /// Credentials usable now, with their generation: fetched when there are none or they are
    /// about to expire — with `refresh_early`, within the refresh margin (a part of their
    /// lifetime), so that an upload's parts never wait for a fetch; without (a cleanup call such
    /// as an abort, which must not depend on the app's backend), only within a second.
    pub async fn get(&self, unix_ms: f64, refresh_early: bool) -> Result<(Rc<Credentials>, u64)> {
        let now = self.server_now(unix_ms);
        let current = self.shared.inner.borrow().current.clone();
        if let Some((creds, generation, received, received_local)) = current {
            let lifetime = creds.expires as f64 - creds.start.map_or(received, |s| (s as f64).max(received));
            let margin =
                if refresh_early { (lifetime * REFRESH_MARGIN_FRACTION).clamp(1.0, REFRESH_MARGIN_MAX_S) } else { 1.0 };
            // Looked expired when they arrived, by our clock only (see FRESH_S).
            let doubtful = (creds.expires as f64) <= received;
            let fresh = (0.0..FRESH_S).contains(&(unix_ms / 1000.0 - received_local));
            if (doubtful && fresh) || (creds.expires as f64) - now > margin {
                return Ok((creds, generation));
            }
        }
        self.fetch(now, unix_ms).await
    }

    /// COS refused the credentials of `generation`: fetch new ones unless a part already did.
    pub async fn refresh(&self, generation: u64, unix_ms: f64) -> Result<()> {
        {
            let mut inner = self.shared.inner.borrow_mut();
            match &inner.current {
                Some((_, g, _, _)) if *g != generation => return Ok(()),
                _ => inner.current = None,
            }
        }
        self.fetch(self.server_now(unix_ms), unix_ms).await.map(|_| ())
    }

    async fn fetch(&self, now: f64, unix_ms: f64) -> Result<(Rc<Credentials>, u64)> {
        let fetch = self.shared.inner.borrow().fetching.join(|| {
            let call = self.provider.fetch();
            Box::pin(async move { call.await.and_then(|v| parse(&v)) })
        });
        let creds = fetch.await?;
        let mut inner = self.shared.inner.borrow_mut();
        // `StartTime` is when the keys were issued, not the time now: a backend may hand out
        // keys it cached for an hour. Only a COS reply's `Date` says what time it is. Keys that
        // look expired on arrival by a clock no reply has checked yet may only look so because
        // that clock is ahead: they are tried, and COS's answer corrects the clock
        // (RequestTimeTooSkewed, with its Date).
        if self.shared.clock_checked.get() && (creds.expires as f64) <= now {
            return Err(fail("getCredentials returned credentials that have already expired (check the backend's clock, DurationSeconds and how long it caches keys)").into());
        }
        // Parts waiting on the same fetch share one generation.
        let generation = match &inner.current {
            Some((c, g, _, _)) if *c == creds => *g,
            _ => {
                inner.generation += 1;
                inner.generation
            }
        };
        inner.current = Some((creds.clone(), generation, now, unix_ms / 1000.0));
        Ok((creds, generation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    fn value(s: &str) -> Value {
        json::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn seconds_strings_read_as_u64_parse_reads_them() {
        for s in ["1700001800", " 1700001800\n", "+5", "+", "-0", "", "1.5", "18446744073709551616", "\u{a0}7"] {
            assert_eq!(seconds(Some(&Value::from(s))), s.trim().parse::<u64>().ok(), "{s:?}");
        }
    }

    #[test]
    fn every_shape_parses() {
        let sts = value(
            r#"{"Credentials":{"TmpSecretId":"AKIDa","TmpSecretKey":"k","Token":"t"},"StartTime":1700000000,"ExpiredTime":1700001800}"#,
        );
        let vod = value(
            r#"{"Credentials":{"AccessKeyId":"AKIDa","SecretAccessKey":"k","SessionToken":"t","Expiration":"2023-11-14T22:43:20Z"}}"#,
        );
        let vod_env = value(
            r#"{"Response":{"Credentials":{"AccessKeyId":"AKIDa","SecretAccessKey":"k","SessionToken":"t","Expiration":"2023-11-14T22:43:20Z"},"RequestId":"r"}}"#,
        );
        let flat = value(
            r#"{"tmpSecretId":"AKIDa","tmpSecretKey":"k","sessionToken":"t","startTime":1700000000,"expiredTime":"1700001800"}"#,
        );
        let helper = value(
            r#"{"credentials":{"tmpSecretId":"AKIDa","tmpSecretKey":"k","sessionToken":"t"},"startTime":1700000000,"expiredTime":1700001800}"#,
        );
        for (v, expires, start) in [
            (sts, 1700001800, Some(1700000000)),
            (vod, 1700001800, None),
            (vod_env, 1700001800, None),
            (flat, 1700001800, Some(1700000000)),
            (helper, 1700001800, Some(1700000000)),
        ] {
            let c = parse(&v).unwrap();
            assert_eq!(
                (c.secret_id.as_str(), c.secret_key.as_str(), c.token.as_str(), c.expires, c.start),
                ("AKIDa", "k", "t", expires, start)
            );
        }
    }

    #[test]
    fn bad_shapes_are_credential_errors_without_the_input() {
        for bad in [
            r#"{}"#,
            r#"{"Credentials":{"TmpSecretId":"AKIDa","TmpSecretKey":"secretvalue"}}"#,
            r#"{"tmpSecretId":"a","tmpSecretKey":"secretvalue","sessionToken":"t"}"#,
            r#"{"Response":{"Error":{"Code":"x"}}}"#,
            r#"{"tmpSecretId":"a","tmpSecretKey":"secretvalue","sessionToken":"t","startTime":5,"expiredTime":4}"#,
        ] {
            let e = parse(&value(bad)).unwrap_err();
            assert_eq!(e.code(), "CredentialsError", "{bad}");
            assert!(!e.to_string().contains("secretvalue"));
        }
        let c = parse(&value(
            r#"{"tmpSecretId":"AKIDa","tmpSecretKey":"secretvalue","sessionToken":"tokenvalue","expiredTime":9}"#,
        ))
        .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("secretvalue") && !shown.contains("tokenvalue"), "{shown}");
    }

    struct Counting(Rc<Cell<u32>>, u64);
    impl CredentialProvider for Counting {
        fn fetch(&self) -> LocalBoxFuture<'static, Result<Value>> {
            self.0.set(self.0.get() + 1);
            let n = self.0.get();
            let expires = self.1;
            Box::pin(async move {
                Ok(value(&format!(
                    r#"{{"tmpSecretId":"id{n}","tmpSecretKey":"k","sessionToken":"t","expiredTime":{expires}}}"#
                )))
            })
        }
    }

    #[test]
    fn refreshes_are_deduplicated_and_early() {
        let calls = Rc::new(Cell::new(0));
        let cache = CredentialCache::new(Rc::new(Counting(calls.clone(), 2_000)));
        let now_ms = 1_000_000.0; // 1000 s
        let (a, b) =
            futures::executor::block_on(futures::future::join(cache.get(now_ms, true), cache.get(now_ms, true)));
        assert_eq!(calls.get(), 1, "two parts asking at once share one getCredentials() call");
        let (ga, gb) = (a.unwrap().1, b.unwrap().1);
        assert_eq!(ga, gb);
        futures::executor::block_on(cache.get(now_ms, true)).unwrap();
        assert_eq!(calls.get(), 1, "cached while valid");
        // Refused: the first refresh fetches, a second one for the same generation does not.
        futures::executor::block_on(cache.refresh(ga, now_ms)).unwrap();
        futures::executor::block_on(cache.refresh(ga, now_ms)).unwrap();
        assert_eq!(calls.get(), 2);
        // Within the margin (a quarter of 1000 s left → 250 s): a cleanup call uses them while
        // they are valid; the parts' fetch new ones before use.
        futures::executor::block_on(cache.get(1_800_000.0, false)).unwrap();
        assert_eq!(calls.get(), 2);
        futures::executor::block_on(cache.get(1_800_000.0, true)).unwrap();
        assert_eq!(calls.get(), 3);
    }

    /// Keys issued at `.0`, valid for `.1` seconds.
    struct Started(u64, u64);
    impl CredentialProvider for Started {
        fn fetch(&self) -> LocalBoxFuture<'static, Result<Value>> {
            let (start, duration) = (self.0, self.1);
            Box::pin(async move {
                Ok(value(&format!(
                    r#"{{"tmpSecretId":"a","tmpSecretKey":"k","sessionToken":"t","startTime":{start},"expiredTime":{}}}"#,
                    start + duration
                )))
            })
        }
    }

    /// Keys a backend cached: issued 4000 s ago, valid for 7200 s. `StartTime` is not the time
    /// now: the clock is left alone and each signature's window holds now.
    #[test]
    fn cached_keys_sign_with_the_time_now() {
        let now_s = 1_000_000.0;
        let cache = CredentialCache::new(Rc::new(Started(1_000_000 - 4000, 7200)));
        let (creds, _) = futures::executor::block_on(cache.get(now_s * 1000.0, true)).expect("usable");
        assert_eq!(cache.server_now(now_s * 1000.0), now_s, "StartTime did not move the clock");
        let (start, end) = cache.key_window(&creds, now_s * 1000.0);
        assert_eq!((start, end), (1_000_000 - 60, 1_000_000 + 3200), "[now - 60, ExpiredTime]");
        // Keys issued this very second: the window starts at StartTime, not before it.
        let fresh = CredentialCache::new(Rc::new(Started(1_000_000, 1800)));
        let (creds, _) = futures::executor::block_on(fresh.get(now_s * 1000.0, true)).unwrap();
        assert_eq!(fresh.key_window(&creds, now_s * 1000.0), (1_000_000, 1_000_000 + 1800));
        // Long-lived keys: at most an hour.
        let long = CredentialCache::new(Rc::new(Started(1_000_000 - 100, 36_000)));
        let (creds, _) = futures::executor::block_on(long.get(now_s * 1000.0, true)).unwrap();
        assert_eq!(long.key_window(&creds, now_s * 1000.0), (1_000_000 - 60, 1_000_000 + 3600));
    }

    #[test]
    fn only_a_reply_date_corrects_a_clock_an_hour_fast() {
        let cache = CredentialCache::new(Rc::new(Started(1_000_000, 1800)));
        let ours_ms = (1_000_000.0 + 3600.0) * 1000.0;
        let (creds, _) =
            futures::executor::block_on(cache.get(ours_ms, true)).expect("tried: COS tells whether our clock is wrong");
        assert_eq!(creds.expires, 1_001_800);
        assert_eq!(cache.server_now(ours_ms), 1_003_600.0, "StartTime is not the time now");
        let date = "Mon, 12 Jan 1970 13:46:40 GMT"; // 1_000_000
        assert_eq!(parse_http_date(date), Some(1_000_000));
        assert!(cache.correct_clock(date, ours_ms));
        assert!((cache.server_now(ours_ms) - 1_000_000.0).abs() < 1.0);
        let (start, end) = cache.key_window(&creds, ours_ms);
        assert_eq!((start, end), (1_000_000, 1_001_800));
    }

    #[test]
    fn expired_on_arrival_is_an_error_and_skew_corrects() {
        // By a clock no COS reply has checked, keys may only look expired (our clock ahead):
        // used while fresh, not fetched again for every part.
        let calls = Rc::new(Cell::new(0));
        let cache = CredentialCache::new(Rc::new(Counting(calls.clone(), 900)));
        futures::executor::block_on(cache.get(1_000_000.0, true)).expect("tried: COS tells whether our clock is wrong");
        futures::executor::block_on(cache.get(1_001_000.0, true)).unwrap();
        assert_eq!(calls.get(), 1);
        // Our clock is an hour fast: the server's Date says so.
        let server = parse_http_date("Sun, 29 Nov 2026 17:57:32 GMT").unwrap();
        let ours_ms = (server + 3600) as f64 * 1000.0;
        assert!(cache.correct_clock("Sun, 29 Nov 2026 17:57:32 GMT", ours_ms));
        assert!((cache.server_now(ours_ms) - server as f64).abs() < 1.0);
        assert!(!cache.correct_clock("Sun, 29 Nov 2026 17:57:32 GMT", ours_ms), "already corrected");
        // By a clock a reply checked, expired keys are the backend's mistake.
        let checked = CredentialCache::new(Rc::new(Started(1_000_000, 1800)));
        checked.correct_clock("Mon, 12 Jan 1970 14:20:00 GMT", 1_002_000_000.0);
        let e = futures::executor::block_on(checked.get(1_002_000_000.0, true)).unwrap_err();
        assert_eq!(e.code(), "CredentialsError");
    }
}
