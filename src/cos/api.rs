//! The COS XML API calls of a direct-COS upload, signed in the client with temporary
//! credentials (q-sign, [`super::sign`]): PutObject / UploadPart requests for the engine to
//! send, and InitiateMultipartUpload, ListParts, CompleteMultipartUpload, AbortMultipartUpload,
//! HeadObject through the SDK's one retry loop ([`crate::net::retry::send`]). A request COS
//! refuses for expired credentials is signed again with fresh ones; one refused for a skewed
//! clock is signed again after correcting the clock from the reply's `Date`.

use crate::vecmap::VecMap as BTreeMap;
use std::future::Future;
use std::rc::Rc;

use futures::FutureExt;

use super::credentials::CredentialCache;
use super::domain::Origin;
use super::sign::{authorization, uri_encode, SignRequest};
use super::xml::{element, parse_error};
use crate::error::{Error, Result};
use crate::json::{parse_u64, u64_to_string};
use crate::net::retry::{self, Attempts, Call, Idempotent, RetryConfig};
use crate::platform::{Body, Http, HttpRequest, HttpResponse, LocalBoxFuture, Method, ProgressFn, Timer};
use crate::text::{concat, contains, fill, has_control, split, split_once, trim};

/// COS's longest object key, in bytes (docs/cos-api.md: keys up to 850 bytes).
pub const MAX_KEY_BYTES: usize = 850;
/// Largest ListParts page COS returns.
const LIST_PAGE: u32 = 1000;
/// Times one call signs again after COS refused its credentials or its time.
const MAX_REAUTH: u32 = 2;

/// Checks an object key: 1–850 bytes, no control characters, no `.`/`..` segments (a browser
/// would resolve them away from the key that was signed); a leading `/` is dropped.
pub fn validate_key(key: &str) -> Result<String> {
    let bad = |why: &str| Error::invalid_input("key", why.to_string());
    let key = key.strip_prefix("/").unwrap_or(key);
    if key.is_empty() {
        return Err(bad("is empty"));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(bad("is longer than 850 bytes"));
    }
    if has_control(key) {
        return Err(bad("contains a control character"));
    }
    if split(key, b'/').any(|s| s == "." || s == "..") {
        return Err(bad("may not contain `.` or `..` segments"));
    }
    Ok(key.to_string())
}

/// Where the bucket is.
#[derive(Debug, Clone)]
pub struct CosTarget {
    pub bucket: String,
    pub region: String,
    /// The checked origin requests go to: `{bucket}.cos.{region}.myqcloud.com` or `domain`.
    pub origin: Origin,
}

/// COS calls for one uploader.
#[derive(Clone)]
pub struct CosApi {
    pub http: Rc<dyn Http>,
    pub timer: Rc<dyn Timer>,
    pub target: CosTarget,
    pub credentials: CredentialCache,
    pub retry: RetryConfig,
}

/// One part as ListParts reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedPart {
    pub size: u64,
    pub etag: String,
}

/// What CompleteMultipartUpload answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    pub etag: Option<String>,
    /// The whole object's CRC-64, when COS sent one the page can read.
    pub crc64: Option<u64>,
}

impl CosApi {
    /// `scheme://authority/encoded-key` (+ `?query`).
    fn url(&self, key: &str, query: &[(String, String)]) -> String {
        let mut url = self.target.origin.base();
        for segment in split(key, b'/') {
            url.push('/');
            url.push_str(&uri_encode(segment));
        }
        for (i, (k, v)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(k);
            if !v.is_empty() {
                url.push('=');
                url.push_str(&uri_encode(v));
            }
        }
        url
    }

    /// `headers` plus `x-cos-security-token` and `Authorization` for `method path?query`
    /// (`path` is `/` + the raw key), and the generation of the credentials used (see
    /// [`CredentialCache::get`] for `refresh_early`).
    pub async fn sign(
        &self,
        method: Method,
        path: &str,
        query: &[(String, String)],
        mut headers: Vec<(String, String)>,
        refresh_early: bool,
    ) -> Result<(Vec<(String, String)>, u64)> {
        let unix_ms = self.timer.unix_ms();
        let (creds, generation) = self.credentials.get(unix_ms, refresh_early).await?;
        headers.push(("x-cos-security-token".to_string(), creds.token.clone()));
        let (start, end) = self.credentials.key_window(&creds, unix_ms);
        // `host` is signed but not sent: the browser sets it.
        headers.push(("host".to_string(), self.target.origin.authority.clone()));
        let request = SignRequest { method: method.as_str(), path, query, headers: &headers };
        let signature = authorization(&creds.secret_id, &creds.secret_key, start, end, &request);
        headers.pop();
        headers.push(("Authorization".to_string(), signature));
        Ok((headers, generation))
    }

    /// A signed PutObject (`part` = None) or UploadPart (`Some((uploadId, n))`) of `body`, and the
    /// credentials' generation; `headers` are the object's (Content-Type, x-cos-meta-*).
    pub fn put_request(
        &self,
        key: &str,
        part: Option<(&str, u32)>,
        headers: Vec<(String, String)>,
        body: Body,
        progress: Option<ProgressFn>,
    ) -> impl Future<Output = Result<(HttpRequest, u64)>> + '_ {
        let query = match part {
            Some((upload_id, n)) => {
                vec![param("partNumber", &u64_to_string(n.into())), param("uploadId", upload_id)]
            }
            None => Vec::new(),
        };
        let (url, path) = (self.url(key, &query), concat(&["/", key]));
        async move {
            let (headers, generation) = self.sign(Method::Put, &path, &query, headers, true).await?;
            Ok((
                HttpRequest { method: Method::Put, url, headers, body: Some(body), timeout: None, progress },
                generation,
            ))
        }
    }

    /// Notes what a refusal says about our clock and credentials: corrects the clock from the
    /// reply's `Date` when COS found it skewed, fetches new credentials when it refused them.
    pub async fn recover(&self, error: &Error, reply_date: Option<&str>, generation: u64) -> Result<()> {
        if self.cure(error, reply_date) == Some(true) {
            self.refresh_credentials(generation).await?;
        }
        Ok(())
    }

    /// The part of [`CosApi::recover`] that needs no waiting: `None` when `error` is not an
    /// expired authorisation; else the clock is corrected from `reply_date` and the answer is
    /// whether new credentials are needed too.
    fn cure(&self, error: &Error, reply_date: Option<&str>) -> Option<bool> {
        if !error.is_expired_authorisation() {
            return None;
        }
        if let Some(date) = reply_date {
            self.credentials.correct_clock(date, self.timer.unix_ms());
        }
        // A skew is cured by the clock (corrected now, or by a part refused just before this
        // one), not by new credentials; anything else needs new credentials.
        Some(error.code() != "RequestTimeTooSkewed")
    }

    /// New credentials unless the ones of `generation` were replaced already.
    fn refresh_credentials(&self, generation: u64) -> impl Future<Output = Result<()>> + '_ {
        self.credentials.refresh(generation, self.timer.unix_ms())
    }

    /// One control call on `key` through the retry loop; its outcome (a 2xx reply without an
    /// error in its body, or the error) is read by `then` (a plain function: the calls share
    /// one future).
    #[allow(clippy::too_many_arguments)]
    fn send<T: 'static>(
        &self,
        call: Call<'static>,
        method: Method,
        key: &str,
        query: Vec<(String, String)>,
        headers: Vec<(String, String)>,
        body: Option<Vec<u8>>,
        then: fn(Result<HttpResponse>) -> Result<T>,
    ) -> impl Future<Output = Result<T>> + '_ {
        let attempts = CosAttempts {
            api: self,
            method,
            url: self.url(key, &query),
            path: concat(&["/", key]),
            query,
            headers,
            body: body.map(Body::from),
            generation: 0,
            date: None,
            reauthorised: 0,
            refresh: false,
        };
        self.exchange(call, attempts).map(then)
    }

    async fn exchange(&self, call: Call<'_>, mut attempts: CosAttempts<'_>) -> Result<HttpResponse> {
        retry::send(&*self.http, &*self.timer, &self.retry, call, &mut attempts).await
    }

    /// A call of `what` limited by the request timeout.
    fn bounded(&self, what: &'static str, idempotent: Idempotent) -> Call<'static> {
        Call { what, idempotent, timeout: self.retry.request_timeout }
    }

    /// InitiateMultipartUpload with the object's headers; returns the UploadId.
    pub fn initiate(&self, key: &str, headers: Vec<(String, String)>) -> impl Future<Output = Result<String>> + '_ {
        let call = self.bounded("initiate multipart upload", Idempotent::OnceAfterLostReply);
        self.send(call, Method::Post, key, vec![param("uploads", "")], headers, None, |resp| {
            let resp = resp?;
            let text = String::from_utf8_lossy(&resp.body);
            element(&text, "UploadId").filter(|id| !id.is_empty()).ok_or_else(|| {
                Error::InvalidResponse {
                    status: resp.status,
                    message: "InitiateMultipartUpload reply has no UploadId".into(),
                }
                .into()
            })
        })
    }

    /// ListParts, every page: part number → size and ETag.
    pub async fn list_parts(&self, key: &str, upload_id: &str) -> Result<BTreeMap<u32, ListedPart>> {
        let mut parts = BTreeMap::new();
        let mut marker = 0u32;
        loop {
            let query = vec![
                param("uploadId", upload_id),
                param("max-parts", &u64_to_string(LIST_PAGE.into())),
                param("part-number-marker", &u64_to_string(marker.into())),
            ];
            let call = self.bounded("list parts", Idempotent::Yes);
            let resp = self.send(call, Method::Get, key, query, Vec::new(), None, |resp| resp).await?;
            let text = String::from_utf8_lossy(&resp.body);
            let bad = || Error::InvalidResponse {
                status: resp.status,
                message: "ListParts reply is not a ListPartsResult".into(),
            };
            if !contains(&text, "<ListPartsResult") {
                return Err(bad().into());
            }
            let mut rest = &text[..];
            while let Some((_, after)) = split_once(rest, "<Part>") {
                rest = after;
                let block = split_once(after, "<Part>").map_or(after, |(block, _)| block);
                let block = split_once(block, "</Part>").map_or(block, |(block, _)| block);
                let number = element(block, "PartNumber")
                    .and_then(|n| u32::try_from(parse_u64(trim(&n))?).ok())
                    .ok_or_else(bad)?;
                let size = element(block, "Size").and_then(|n| parse_u64(trim(&n))).ok_or_else(bad)?;
                let etag = element(block, "ETag").ok_or_else(bad)?;
                parts.insert(number, ListedPart { size, etag });
            }
            let truncated = element(&text, "IsTruncated").is_some_and(|t| trim(&t).eq_ignore_ascii_case("true"));
            let next = element(&text, "NextPartNumberMarker")
                .and_then(|n| u32::try_from(parse_u64(trim(&n))?).ok())
                .unwrap_or(0);
            if !truncated || next <= marker {
                return Ok(parts);
            }
            marker = next;
        }
    }

    /// CompleteMultipartUpload with `parts` (number, ETag) in ascending order; each attempt may
    /// take `timeout` (COS assembles the object before it answers).
    pub fn complete(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
        timeout: std::time::Duration,
    ) -> impl Future<Output = Result<Completed>> + '_ {
        let mut xml = String::from("<CompleteMultipartUpload>");
        for (n, etag) in parts {
            let etag = escape(etag);
            xml.push_str(&fill(
                "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>",
                &[(*n).into(), (&etag).into()],
            ));
        }
        xml.push_str("</CompleteMultipartUpload>");
        let headers = vec![("Content-Type".to_string(), "application/xml".to_string())];
        let call = Call { what: "complete multipart upload", idempotent: Idempotent::Yes, timeout };
        let query = vec![param("uploadId", upload_id)];
        self.send(call, Method::Post, key, query, headers, Some(xml.into_bytes()), |resp| {
            let resp = resp?;
            let text = String::from_utf8_lossy(&resp.body);
            if !contains(&text, "<CompleteMultipartUploadResult") {
                return Err(Error::InvalidResponse {
                    status: resp.status,
                    message: "CompleteMultipartUpload reply is not a CompleteMultipartUploadResult".into(),
                }
                .into());
            }
            Ok(Completed {
                etag: element(&text, "ETag").or_else(|| resp.header("etag").map(str::to_string)),
                crc64: crc_header(&resp),
            })
        })
    }

    /// AbortMultipartUpload; an upload COS no longer knows counts as aborted.
    pub fn abort(&self, key: &str, upload_id: &str) -> impl Future<Output = Result<()>> + '_ {
        let call = self.bounded("abort multipart upload", Idempotent::Yes);
        let query = vec![param("uploadId", upload_id)];
        self.send(call, Method::Delete, key, query, Vec::new(), None, |resp| match resp {
            Ok(_) => Ok(()),
            Err(e) if matches!(&*e, Error::Cos { code, .. } if code == "NoSuchUpload") => Ok(()),
            Err(e) => Err(e),
        })
    }

    /// HeadObject: size, ETag and CRC-64 of a stored object.
    #[allow(clippy::type_complexity)]
    pub fn head(&self, key: &str) -> impl Future<Output = Result<(Option<u64>, Option<String>, Option<u64>)>> + '_ {
        let call = self.bounded("head object", Idempotent::Yes);
        self.send(call, Method::Head, key, Vec::new(), Vec::new(), None, |resp| {
            let resp = resp?;
            let size = resp.header("content-length").and_then(|v| parse_u64(trim(v)));
            Ok((size, resp.header("etag").map(str::to_string), crc_header(&resp)))
        })
    }
}

/// One query parameter (decoded; `uploads` is `("uploads", "")`).
fn param(name: &str, value: &str) -> (String, String) {
    (name.to_string(), value.to_string())
}

/// One COS call as the retry loop sends it: signed afresh for each attempt; a refusal of the
/// credentials or of the clock is cured (at most [`MAX_REAUTH`] times) and the call sent again.
struct CosAttempts<'a> {
    api: &'a CosApi,
    method: Method,
    url: String,
    /// `/` + the raw key, as it is signed.
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Option<Body>,
    /// The credentials' generation of the last attempt.
    generation: u64,
    /// The `Date` of the last error reply: COS's clock.
    date: Option<String>,
    reauthorised: u32,
    /// The credentials were refused as expired: the next attempt fetches new ones first.
    refresh: bool,
}

impl Attempts for CosAttempts<'_> {
    fn request(&mut self) -> LocalBoxFuture<'_, Result<HttpRequest>> {
        self.date = None;
        Box::pin(async move {
            if std::mem::take(&mut self.refresh) {
                self.api.refresh_credentials(self.generation).await?;
            }
            // An abort cleans up: the keys held do while they are valid.
            let refresh_early = self.method != Method::Delete;
            let (headers, generation) =
                self.api.sign(self.method, &self.path, &self.query, self.headers.clone(), refresh_early).await?;
            self.generation = generation;
            Ok(HttpRequest::new(self.method, self.url.clone(), headers, self.body.clone()))
        })
    }

    fn check(&mut self, reply: HttpResponse) -> Result<HttpResponse> {
        // COS may answer 200 and put an error in the body (CompleteMultipartUpload).
        if (200..300).contains(&reply.status) && !error_in_body(&reply.body) {
            // Every COS reply carries its clock: a device clock found off is corrected before
            // the parts are signed, not after each of them is refused.
            if let Some(date) = reply.header("date") {
                self.api.credentials.correct_clock(date, self.api.timer.unix_ms());
            }
            return Ok(reply);
        }
        self.date = reply.header("date").map(str::to_string);
        Err(parse_error(&reply).into())
    }

    fn reauthorise(&mut self, error: &Error) -> bool {
        if self.reauthorised >= MAX_REAUTH {
            return false;
        }
        let date = self.date.take();
        let Some(refresh) = self.api.cure(error, date.as_deref()) else { return false };
        self.refresh = refresh;
        self.reauthorised += 1;
        true
    }
}

/// `x-cos-hash-crc64ecma` of a reply, when present and readable.
pub fn crc_header(resp: &HttpResponse) -> Option<u64> {
    resp.header("x-cos-hash-crc64ecma").and_then(|v| parse_u64(trim(v)))
}

/// Whether a 2xx reply carries an `<Error>` document (COS answers CompleteMultipartUpload with
/// a 200 at once and keeps the connection alive with whitespace until it knows the outcome).
fn error_in_body(body: &[u8]) -> bool {
    // `trim`, not a trim of the start alone: what ends the text cannot change how it starts,
    // and the package has one trim.
    let text = String::from_utf8_lossy(body);
    let text = trim(&text);
    let text = match text.strip_prefix("<?xml") {
        Some(rest) => trim(split_once(rest, "?>").map_or("", |(_, r)| r)),
        None => text,
    };
    text.starts_with("<Error>")
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cos::credentials::CredentialProvider;
    use crate::platform::LocalBoxFuture;

    /// Answers every request 200 with a `Date` an hour ahead of the device's clock.
    struct AheadServer;
    impl Http for AheadServer {
        fn send(&self, _request: HttpRequest) -> LocalBoxFuture<'_, Result<HttpResponse>> {
            let date = "Thu, 01 Jan 1970 01:00:00 GMT".to_string();
            Box::pin(async move {
                Ok(HttpResponse {
                    status: 200,
                    headers: vec![("date".into(), date)],
                    body: b"<InitiateMultipartUploadResult><UploadId>u1</UploadId></InitiateMultipartUploadResult>"
                        .to_vec(),
                })
            })
        }
    }
    struct EpochTimer;
    impl Timer for EpochTimer {
        fn sleep(&self, _: std::time::Duration) -> LocalBoxFuture<'static, ()> {
            Box::pin(async {})
        }
        fn now_ms(&self) -> f64 {
            0.0
        }
        fn unix_ms(&self) -> f64 {
            0.0
        }
    }
    struct Keys;
    impl CredentialProvider for Keys {
        fn fetch(&self) -> LocalBoxFuture<'static, Result<crate::json::Value>> {
            Box::pin(async {
                crate::json::parse(br#"{"tmpSecretId":"a","tmpSecretKey":"k","sessionToken":"t","expiredTime":9000}"#)
                    .map_err(|_| Error::Credentials { message: String::new() }.into())
            })
        }
    }

    #[test]
    fn any_reply_date_corrects_the_clock() {
        let origin = crate::cos::domain::AllowList::official_cos().check("b-1.cos.ap-guangzhou.myqcloud.com").unwrap();
        let api = CosApi {
            http: Rc::new(AheadServer),
            timer: Rc::new(EpochTimer),
            target: CosTarget { bucket: "b-1".into(), region: "ap-guangzhou".into(), origin },
            credentials: CredentialCache::new(Rc::new(Keys)),
            retry: RetryConfig::default(),
        };
        assert_eq!(futures::executor::block_on(api.initiate("k", Vec::new())).unwrap(), "u1");
        assert_eq!(api.credentials.server_now(0.0), 3600.0, "a successful reply's Date set the clock");
    }

    #[test]
    fn keys_and_error_bodies() {
        assert_eq!(validate_key("/videos/a.mp4").unwrap(), "videos/a.mp4");
        assert!(error_in_body(
            format!("{}<?xml version=\"1.0\"?>\n<Error><Code>InternalError</Code></Error>", " ".repeat(4096))
                .as_bytes()
        ));
        assert!(!error_in_body(b"  <CompleteMultipartUploadResult><ETag>x</ETag></CompleteMultipartUploadResult>"));
        assert!(error_in_body("\u{a0}\n<Error>\n \u{3000}".as_bytes()), "Unicode whitespace around it");
        for not_one in [&b"<?xml?>"[..], b"", b" \n ", b"<?xml <Error>", b"<Erro", b"x<Error>", b"<?xml ?> <Err\n"] {
            assert!(!error_in_body(not_one), "{not_one:?}");
        }
        assert_eq!(validate_key("中文 a+b=c.txt").unwrap(), "中文 a+b=c.txt");
        assert_eq!(escape("\"e&1\"<中>"), "&quot;e&amp;1&quot;&lt;中&gt;");
        for bad in ["", "/", "a/../b", "./a", "a\nb", &"x".repeat(851)] {
            assert_eq!(validate_key(bad).unwrap_err().code(), "InvalidInput", "{bad:?}");
        }
    }
}
