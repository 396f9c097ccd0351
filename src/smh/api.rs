//! The SMH API calls of an upload, over the [`Http`] port: begin (simple / multipart, with quick
//! upload hashes), renew, confirm, cancel, query. Each call retries what is safe to retry and
//! replays once with a fresh token when SMH answers `InvalidAccessToken`.

use std::rc::Rc;

use crate::json::{self, Value};

use super::path::{encode_segment, LibraryPath};
use super::token::Tokens;
use super::types::{begin_body, Conflict, FileInfo, UploadAuth};
use crate::engine::retry::{Backoff, RetryConfig, XorShift};
use crate::engine::timeout::with_timeout;
use crate::error::{Error, Result};
use crate::platform::{Http, HttpRequest, HttpResponse, Method, Timer};

/// Where an SMH library lives and who calls it.
#[derive(Debug, Clone)]
pub struct SmhTarget {
    /// `https://…` (http only for loopback), without a trailing slash.
    pub base_url: String,
    pub library_id: String,
    /// `-` for single-tenant libraries.
    pub space_id: String,
    /// Optional `user_id` sent on every call (admin tokens acting for a user).
    pub user_id: Option<String>,
}

/// Outcome of begin-upload.
#[derive(Debug, Clone)]
pub enum Begin {
    /// 201: upload the bytes with these parameters.
    Upload(UploadAuth),
    /// 202: a file with the same size and beginning hash exists; send the full hash.
    QuickCandidate,
    /// 200: quick upload hit — the file exists now, nothing to send.
    Instant(FileInfo),
}

/// SMH calls for one client.
#[derive(Clone)]
pub struct SmhApi {
    pub http: Rc<dyn Http>,
    pub timer: Rc<dyn Timer>,
    pub tokens: Tokens,
    pub target: SmhTarget,
    pub retry: RetryConfig,
}

/// A JSON body or none.
type Body = Option<Value>;

impl SmhApi {
    fn file_url(&self, resource: &str, tail: &str, query: &[(&str, Option<String>)], token: &str) -> String {
        let t = &self.target;
        let mut url = format!(
            "{}/api/v1/{resource}/{}/{}/{}",
            t.base_url,
            encode_segment(&t.library_id),
            encode_segment(&t.space_id),
            tail
        );
        let mut sep = '?';
        let user = t.user_id.as_ref().map(|u| ("user_id", Some(u.clone())));
        for (k, v) in query.iter().cloned().chain(user).chain([("access_token", Some(token.to_string()))]) {
            url.push(sep);
            sep = '&';
            url.push_str(k);
            if let Some(v) = v {
                url.push('=');
                url.push_str(&encode_segment(&v));
            }
        }
        url
    }

    /// One SMH call with retries; returns a 2xx response.
    async fn call(
        &self,
        method: Method,
        tail: &str,
        query: &[(&str, Option<String>)],
        body: Body,
        what: &str,
    ) -> Result<HttpResponse> {
        self.call_with(method, "file", tail, query, body, what, u32::MAX, self.retry.request_timeout).await
    }

    /// [`SmhApi::call`] for a call that is not idempotent: after a failure with no reply (the
    /// server may have acted and the reply been lost) it is retried at most `lost_reply_retries`
    /// times; replies that say the server failed (5xx, 429) are retried as usual.
    /// Each attempt may take `timeout`.
    #[allow(clippy::too_many_arguments)]
    async fn call_with(
        &self,
        method: Method,
        resource: &str,
        tail: &str,
        query: &[(&str, Option<String>)],
        body: Body,
        what: &str,
        lost_reply_retries: u32,
        timeout: std::time::Duration,
    ) -> Result<HttpResponse> {
        let mut lost_replies = 0u32;
        let body: Option<crate::platform::Body> = body.map(|v| crate::platform::Body::from(v.to_json().into_bytes()));
        let seed = (self.timer.now_ms() * 1000.0) as u64 ^ 0x9E37_79B9_7F4A_7C15;
        let mut rng = XorShift::new(seed);
        let mut backoff = Backoff::new_with_rng(self.retry.backoff.clone(), Box::new(move || rng.next_f64()));
        let mut token = self.tokens.get().await?;
        let mut refreshed = false;
        let mut attempt = 0;
        loop {
            let mut headers = Vec::new();
            if body.is_some() {
                headers.push(("Content-Type".to_string(), "application/json".to_string()));
            }
            let request = HttpRequest {
                method,
                url: self.file_url(resource, tail, query, &token),
                headers,
                body: body.clone(),
                timeout: Some(timeout),
                progress: None,
            };
            let result = with_timeout(&*self.timer, timeout, what, self.http.send(request)).await;
            let error = match result {
                Ok(resp) if (200..300).contains(&resp.status) => return Ok(resp),
                Ok(resp) => smh_error(&resp, &token),
                Err(e) => e,
            };
            if error.is_invalid_token() && !refreshed && self.tokens.can_refresh() {
                refreshed = true;
                token = self.tokens.refresh(&token).await?;
                continue;
            }
            let no_reply = matches!(error, Error::Network { .. } | Error::Timeout { .. });
            if no_reply && lost_replies >= lost_reply_retries {
                return Err(error);
            }
            if error.retryable() && attempt < self.retry.max_retries {
                lost_replies += u32::from(no_reply);
                attempt += 1;
                self.timer.sleep(backoff.next()).await;
                continue;
            }
            return Err(error);
        }
    }

    /// Begin an upload of `size` bytes to `path` (multipart or simple), with quick-upload hashes.
    pub async fn begin(
        &self,
        path: &LibraryPath,
        multipart: bool,
        size: u64,
        conflict: Conflict,
        beginning_hash: Option<String>,
        full_hash: Option<String>,
    ) -> Result<Begin> {
        let mut query: Vec<(&str, Option<String>)> = Vec::new();
        if multipart {
            query.push(("multipart", None));
        }
        query.push(("conflict_resolution_strategy", Some(conflict.as_str().to_string())));
        query.push(("filesize", Some(json::u64_to_string(size))));
        let body = begin_body(size, beginning_hash, full_hash);
        let method = if multipart { Method::Post } else { Method::Put };
        // Not idempotent: a begin whose reply is lost has opened an upload we cannot name. One
        // retry after a lost reply bounds that to one orphan — an empty, never-confirmed task
        // that SMH expires; nothing becomes visible — instead of failing the whole upload.
        let resp = self
            .call_with(
                method,
                "file",
                &path.encoded(),
                &query,
                Some(body),
                "begin upload",
                1,
                self.retry.request_timeout,
            )
            .await?;
        match resp.status {
            202 => Ok(Begin::QuickCandidate),
            200 => Ok(Begin::Instant(FileInfo::from_json(json_body(&resp)?, resp.status)?)),
            _ => Ok(Begin::Upload(UploadAuth::from_json(&json_body(&resp)?, resp.status)?)),
        }
    }

    /// Fresh upload parameters for a multipart upload (new signature and expiration).
    pub async fn renew(&self, confirm_key: &str) -> Result<UploadAuth> {
        let resp =
            self.call(Method::Post, &encode_segment(confirm_key), &[("renew", None)], None, "renew upload").await?;
        UploadAuth::from_json(&json_body(&resp)?, resp.status)
    }

    /// Commits the upload; `crc64` is the whole file's CRC-64/XZ (SMH checks it: `BadCrc64`).
    /// Each attempt may take `timeout` (assembling a big file takes SMH a while).
    pub async fn confirm(
        &self,
        confirm_key: &str,
        crc64: u64,
        conflict: Conflict,
        timeout: std::time::Duration,
    ) -> Result<FileInfo> {
        let query = [("confirm", None), ("conflict_resolution_strategy", Some(conflict.as_str().to_string()))];
        let body = Value::object([("crc64", Value::from(json::u64_to_string(crc64)))]);
        let resp = self
            .call_with(
                Method::Post,
                "file",
                &encode_segment(confirm_key),
                &query,
                Some(body),
                "confirm upload",
                u32::MAX,
                timeout,
            )
            .await?;
        FileInfo::from_json(json_body(&resp)?, resp.status)
    }

    /// Cancels the upload on the server (aborts the COS multipart upload too).
    pub async fn cancel(&self, confirm_key: &str) -> Result<()> {
        self.call(Method::Delete, &encode_segment(confirm_key), &[("upload", None)], None, "cancel upload")
            .await
            .map(|_| ())
    }

    /// Creates directory `path` and its missing parents (`PUT /api/v1/directory/…`; an existing
    /// directory is fine).
    pub async fn create_directory(&self, path: &LibraryPath) -> Result<()> {
        match self
            .call_with(
                Method::Put,
                "directory",
                &path.encoded(),
                &[],
                None,
                "create directory",
                u32::MAX,
                self.retry.request_timeout,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(Error::Smh { status: 409, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// File info of `path` (`GET …/{path}?info`).
    pub async fn info(&self, path: &LibraryPath) -> Result<FileInfo> {
        let resp = self.call(Method::Get, &path.encoded(), &[("info", None)], None, "file info").await?;
        FileInfo::from_json(json_body(&resp)?, resp.status)
    }

    /// The upload task as SMH sees it (`GET {confirmKey}?upload`).
    pub async fn query(&self, confirm_key: &str) -> Result<Value> {
        let resp =
            self.call(Method::Get, &encode_segment(confirm_key), &[("upload", None)], None, "query upload").await?;
        json_body(&resp)
    }
}

/// The reply's body as JSON; anything else is `InvalidResponse` (with the parser's reason and
/// offset, never the body: it may echo a token).
fn json_body(resp: &HttpResponse) -> Result<Value> {
    json::parse(&resp.body).map_err(|e| Error::InvalidResponse {
        status: resp.status,
        message: format!("reply is not JSON ({} at byte {})", e.reason, e.offset),
    })
}

/// Turns an SMH error reply into [`Error::Smh`], scrubbing the token should it be echoed.
fn smh_error(resp: &HttpResponse, token: &str) -> Error {
    let request_id = resp.header("x-request-id").map(str::to_string);
    let reply = json::parse(&resp.body).ok();
    match reply.as_ref().and_then(|v| Some((v, v.get("code")?.as_str()?))) {
        Some((v, code)) => {
            let scrub = |s: &str| if token.is_empty() { s.to_string() } else { s.replace(token, "***") };
            Error::Smh {
                status: resp.status,
                code: scrub(code),
                message: scrub(v.get("message").and_then(Value::as_str).unwrap_or_default()),
                request_id: v.get("requestId").and_then(Value::as_str).map(str::to_string).or(request_id),
            }
        }
        _ if resp.status >= 500 || resp.status == 429 => Error::Smh {
            status: resp.status,
            code: if resp.status == 429 { "RateLimitExceeded".into() } else { "InternalServerError".into() },
            message: "server error without a JSON body".into(),
            request_id,
        },
        _ => Error::InvalidResponse { status: resp.status, message: "error reply is not SMH JSON".into() },
    }
}
