//! The SMH API calls of an upload, over the [`Http`] port: begin (simple / multipart, with quick
//! upload hashes), renew, confirm, cancel, query. Each call goes through the SDK's one retry
//! loop ([`crate::net::retry::send`]): retried where that is safe, and replayed once with a fresh
//! token when SMH answers `InvalidAccessToken`; the token never reaches an error.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use futures::FutureExt;

use crate::json::{self, Value};

use super::path::{encode_segment, LibraryPath};
use super::token::Tokens;
use super::types::{begin_body, invalid, Conflict, FileInfo, UploadAuth};
use crate::error::{Error, Result};
use crate::net::retry::{self, Attempts, Call, Idempotent, RetryConfig};
use crate::platform::{Body, Http, HttpRequest, HttpResponse, LocalBoxFuture, Method, Timer};
use crate::text::{self, concat, fill};

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
    Upload(Rc<UploadAuth>),
    /// 202: a file with the same size and beginning hash exists; send the full hash.
    QuickCandidate,
    /// 200: quick upload hit — the file exists now, nothing to send.
    Instant(Box<FileInfo>),
}

/// How a file is uploaded: one PUT, or parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadKind {
    Simple,
    Multipart,
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

impl SmhApi {
    /// The URL of a call on `{resource}/…`, up to the token it ends with:
    /// `{base}/api/v1/{resource}/{library}/{space}/{tail}?{query}&user_id=…&access_token=`.
    /// `query` is `name` or `name=value` items joined by `&`, whose values need no encoding.
    fn url(&self, resource: &str, tail: &str, query: &str) -> String {
        let t = &self.target;
        let (library, space) = (encode_segment(&t.library_id), encode_segment(&t.space_id));
        let mut url = concat(&[&t.base_url, "/api/v1/", resource, "/", &library, "/", &space, "/", tail, "?", query]);
        if !query.is_empty() {
            url.push('&');
        }
        if let Some(user) = &t.user_id {
            url.push_str("user_id=");
            url.push_str(&encode_segment(user));
            url.push('&');
        }
        url.push_str("access_token=");
        url
    }

    /// An idempotent call with the client's time limit.
    fn call(&self, what: &'static str) -> Call<'static> {
        Call { what, idempotent: Idempotent::Yes, timeout: self.retry.request_timeout }
    }

    /// One SMH call to `url` (from [`SmhApi::url`]) through the retry loop, `body` JSON; its
    /// outcome is read by `then` (a plain function: the calls that read alike share one future).
    fn send<T: 'static>(
        &self,
        call: Call<'static>,
        method: Method,
        url: String,
        body: Option<String>,
        then: fn(Result<HttpResponse>) -> Result<T>,
    ) -> impl Future<Output = Result<T>> + '_ {
        self.exchange(call, method, url, body).map(then)
    }

    /// The exchange of [`SmhApi::send`], boxed: the futures awaiting an SMH call hold a pointer
    /// to the retry loop's state, not the state itself (smaller moves and drops in each).
    fn exchange(
        &self,
        call: Call<'static>,
        method: Method,
        url: String,
        body: Option<String>,
    ) -> Pin<Box<impl Future<Output = Result<HttpResponse>> + '_>> {
        let body = body.map(|json| Body::from(json.into_bytes()));
        let mut attempts =
            SmhAttempts { tokens: &self.tokens, method, url, body, token: None, refused: None, refreshed: false };
        Box::pin(async move { retry::send(&*self.http, &*self.timer, &self.retry, call, &mut attempts).await })
    }

    /// Begin an upload of `size` bytes to `path` (multipart or simple), with quick-upload hashes.
    pub fn begin(
        &self,
        path: &LibraryPath,
        kind: UploadKind,
        size: u64,
        conflict: Conflict,
        beginning_hash: Option<&str>,
        full_hash: Option<&str>,
    ) -> impl Future<Output = Result<Begin>> + '_ {
        let multipart = kind == UploadKind::Multipart;
        let query = concat(&[
            if multipart { "multipart&" } else { "" },
            "conflict_resolution_strategy=",
            conflict.as_str(),
            "&filesize=",
            &json::u64_to_string(size),
        ]);
        let method = if multipart { Method::Post } else { Method::Put };
        // A begin whose reply is lost has opened a task we cannot name: an empty, never-confirmed
        // one that SMH expires; nothing becomes visible.
        let call = Call { idempotent: Idempotent::OnceAfterLostReply, ..self.call("begin upload") };
        let url = self.url("file", &path.encoded(), &query);
        self.send(call, method, url, Some(begin_body(size, beginning_hash, full_hash)), |resp| {
            let resp = resp?;
            match resp.status {
                202 => Ok(Begin::QuickCandidate),
                200 => Ok(Begin::Instant(file_info(Ok(resp))?)),
                _ => Ok(Begin::Upload(upload_auth(Ok(resp))?)),
            }
        })
    }

    /// Fresh upload parameters for a multipart upload (new signature and expiration).
    pub fn renew(&self, confirm_key: &str) -> impl Future<Output = Result<Rc<UploadAuth>>> + '_ {
        let url = self.url("file", &encode_segment(confirm_key), "renew");
        self.send(self.call("renew upload"), Method::Post, url, None, upload_auth)
    }

    /// Commits the upload; `crc64` is the whole file's CRC-64/XZ (SMH checks it: `BadCrc64`).
    /// Each attempt may take `timeout` (assembling a big file takes SMH a while).
    pub fn confirm(
        &self,
        confirm_key: &str,
        crc64: u64,
        conflict: Conflict,
        timeout: std::time::Duration,
    ) -> impl Future<Output = Result<Box<FileInfo>>> + '_ {
        let query = concat(&["confirm&conflict_resolution_strategy=", conflict.as_str()]);
        let url = self.url("file", &encode_segment(confirm_key), &query);
        let body = json::Writer::new().open('{').str_member("crc64", &json::u64_to_string(crc64)).close('}').finish();
        let call = Call { timeout, ..self.call("confirm upload") };
        self.send(call, Method::Post, url, Some(body), file_info)
    }

    /// Cancels the upload on the server (aborts the COS multipart upload too).
    pub fn cancel(&self, confirm_key: &str) -> impl Future<Output = Result<()>> + '_ {
        let url = self.url("file", &encode_segment(confirm_key), "upload");
        self.send(self.call("cancel upload"), Method::Delete, url, None, |resp| resp.map(|_| ()))
    }

    /// Creates directory `path` and its missing parents (`PUT /api/v1/directory/…`; an existing
    /// directory is fine).
    pub fn create_directory(&self, path: &LibraryPath) -> impl Future<Output = Result<()>> + '_ {
        let url = self.url("directory", &path.encoded(), "");
        self.send(self.call("create directory"), Method::Put, url, None, |resp| match resp {
            Ok(_) => Ok(()),
            Err(e) if matches!(*e, Error::Smh { status: 409, .. }) => Ok(()),
            Err(e) => Err(e),
        })
    }

    /// File info of `path` (`GET …/{path}?info`).
    pub fn info(&self, path: &LibraryPath) -> impl Future<Output = Result<Box<FileInfo>>> + '_ {
        let url = self.url("file", &path.encoded(), "info");
        self.send(self.call("file info"), Method::Get, url, None, file_info)
    }

    /// The upload task as SMH sees it (`GET {confirmKey}?upload`).
    pub fn query(&self, confirm_key: &str) -> impl Future<Output = Result<Value>> + '_ {
        let url = self.url("file", &encode_segment(confirm_key), "upload");
        self.send(self.call("query upload"), Method::Get, url, None, |resp| json_body(&resp?))
    }
}

/// The upload parameters a reply gives (begin, renew).
fn upload_auth(resp: Result<HttpResponse>) -> Result<Rc<UploadAuth>> {
    let resp = resp?;
    UploadAuth::from_json(&json_body(&resp)?, resp.status)
}

/// The file a reply describes (confirm, info).
fn file_info(resp: Result<HttpResponse>) -> Result<Box<FileInfo>> {
    let resp = resp?;
    FileInfo::from_json(json_body(&resp)?, resp.status)
}

/// One SMH call as the retry loop sends it: the access token goes at the end of the URL, is
/// replaced once when SMH refuses it, and is scrubbed from error replies that echo it.
struct SmhAttempts<'a> {
    tokens: &'a Tokens,
    method: Method,
    /// The URL without the token's value.
    url: String,
    body: Option<Body>,
    /// The token of the last attempt (fetched at the first).
    token: Option<String>,
    /// The token SMH refused: the next attempt asks for another.
    refused: Option<String>,
    refreshed: bool,
}

impl Attempts for SmhAttempts<'_> {
    fn request(&mut self) -> LocalBoxFuture<'_, Result<HttpRequest>> {
        Box::pin(async move {
            if let Some(refused) = self.refused.take() {
                self.tokens.forget(&refused);
            }
            let token = match &self.token {
                Some(token) => token,
                None => self.token.insert(self.tokens.get().await?),
            };
            let mut headers = Vec::new();
            if self.body.is_some() {
                headers.push(("Content-Type".to_string(), "application/json".to_string()));
            }
            let url = concat(&[&self.url, &encode_segment(token)]);
            Ok(HttpRequest::new(self.method, url, headers, self.body.clone()))
        })
    }

    fn check(&mut self, reply: HttpResponse) -> Result<HttpResponse> {
        if (200..300).contains(&reply.status) {
            return Ok(reply);
        }
        Err(smh_error(&reply, self.token.as_deref().unwrap_or_default()).into())
    }

    fn reauthorise(&mut self, error: &Error) -> bool {
        if !error.is_invalid_token() || self.refreshed || !self.tokens.can_refresh() {
            return false;
        }
        self.refreshed = true;
        self.refused = Some(self.token.take().unwrap_or_default());
        true
    }
}

/// The reply's body as JSON; anything else is `InvalidResponse` (with the parser's reason and
/// offset where it tells one, never the body: it may echo a token).
fn json_body(resp: &HttpResponse) -> Result<Value> {
    json::parse(&resp.body).map_err(|e| {
        let message = match e.offset {
            Some(at) => fill("reply is not JSON ({} at byte {})", &[e.reason.into(), (at as u64).into()]),
            None => fill("reply is not JSON ({})", &[e.reason.into()]),
        };
        invalid(resp.status, &message)
    })
}

/// Turns an SMH error reply into [`Error::Smh`], scrubbing the token should it be echoed.
fn smh_error(resp: &HttpResponse, token: &str) -> Error {
    let request_id = resp.header("x-request-id").map(str::to_string);
    let reply = json::parse(&resp.body).ok();
    match reply.as_ref().and_then(|v| Some((v, v.get("code")?.as_str()?))) {
        Some((v, code)) => Error::Smh {
            status: resp.status,
            code: text::replace(code, token, "***"),
            message: text::replace(v.str_at("message").unwrap_or_default(), token, "***"),
            request_id: v.str_at("requestId").map(str::to_string).or(request_id),
        },
        _ if resp.status >= 500 || resp.status == 429 => Error::Smh {
            status: resp.status,
            code: if resp.status == 429 { "RateLimitExceeded".into() } else { "InternalServerError".into() },
            message: "server error without a JSON body".into(),
            request_id,
        },
        _ => Error::InvalidResponse { status: resp.status, message: "error reply is not SMH JSON".into() },
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::time::Duration;

    use futures::executor::block_on;

    use super::*;
    use crate::net::retry::tests::Instant;
    use crate::smh::TokenProvider;

    /// Answers 200 `{}` (or the queued replies) and keeps each request as
    /// `METHOD URL | headers | body | timeout`.
    #[derive(Default)]
    struct Wire {
        sent: RefCell<Vec<String>>,
        replies: RefCell<Vec<HttpResponse>>,
    }

    impl Http for Wire {
        fn send(&self, r: HttpRequest) -> LocalBoxFuture<'_, Result<HttpResponse>> {
            let body = match &r.body {
                Some(Body::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
                _ => String::new(),
            };
            let headers: Vec<String> = r.headers.iter().map(|(k, v)| concat(&[k, ": ", v])).collect();
            let line = format!("{:?} {} | {} | {} | {:?}", r.method, r.url, headers.join(", "), body, r.timeout);
            self.sent.borrow_mut().push(line);
            let reply = self.replies.borrow_mut().pop();
            let reply = reply.unwrap_or(HttpResponse { status: 200, headers: vec![], body: b"{}".to_vec() });
            Box::pin(async move { Ok(reply) })
        }
    }

    /// Hands out `t1`, then `t2 +/&=` (which the URL must encode).
    struct Two(RefCell<u32>);
    impl TokenProvider for Two {
        fn fetch(&self) -> LocalBoxFuture<'static, Result<String>> {
            *self.0.borrow_mut() += 1;
            let token = if *self.0.borrow() == 1 { "t1" } else { "t2 +/&=" };
            Box::pin(async move { Ok(token.to_string()) })
        }
    }

    #[test]
    fn requests_on_the_wire() {
        let wire = Rc::new(Wire::default());
        let api = SmhApi {
            http: wire.clone(),
            timer: Rc::new(Instant),
            tokens: Tokens::from_provider(Rc::new(Two(RefCell::new(0))), None),
            target: SmhTarget {
                base_url: "https://smh.test:8443".into(),
                library_id: "lib 1".into(),
                space_id: "-".into(),
                user_id: Some("ad min/1".into()),
            },
            retry: RetryConfig::default(),
        };
        let path = LibraryPath::parse("相册/my photo+1.jpg").unwrap();
        let _ = block_on(api.begin(&path, UploadKind::Multipart, 5 << 20, Conflict::Rename, Some("ab"), Some("cd")));
        let _ = block_on(api.begin(&path, UploadKind::Simple, 0, Conflict::Overwrite, None, None));
        let _ = block_on(api.confirm("ck/1 x", u64::MAX, Conflict::Ask, Duration::from_secs(7)));
        block_on(api.create_directory(&path.parent().unwrap())).unwrap();
        // A refused token is fetched again, once, and the call replayed with it.
        let refused = br#"{"code":"InvalidAccessToken","message":"t1 is bad"}"#.to_vec();
        wire.replies.borrow_mut().push(HttpResponse { status: 403, headers: vec![], body: refused });
        block_on(api.query("ck")).unwrap();
        let _ = block_on(api.renew("ck"));
        block_on(api.cancel("ck")).unwrap();
        let _ = block_on(api.info(&path));
        let (file, lib, user) = ("https://smh.test:8443/api/v1/file/lib%201/-/", "lib%201/-/", "user_id=ad%20min%2F1");
        let photo = "%E7%9B%B8%E5%86%8C/my%20photo%2B1.jpg";
        let json = "Content-Type: application/json";
        let t2 = "access_token=t2%20%2B%2F%26%3D";
        let expected = [
            format!("Post {file}{photo}?multipart&conflict_resolution_strategy=rename&filesize=5242880&{user}&access_token=t1 | {json} | {{\"size\":\"5242880\",\"beginningHash\":\"ab\",\"fullHash\":\"cd\"}} | Some(30s)"),
            format!("Put {file}{photo}?conflict_resolution_strategy=overwrite&filesize=0&{user}&access_token=t1 | {json} | {{\"size\":\"0\"}} | Some(30s)"),
            format!("Post {file}ck%2F1%20x?confirm&conflict_resolution_strategy=ask&{user}&access_token=t1 | {json} | {{\"crc64\":\"18446744073709551615\"}} | Some(7s)"),
            format!("Put https://smh.test:8443/api/v1/directory/{lib}%E7%9B%B8%E5%86%8C?{user}&access_token=t1 |  |  | Some(30s)"),
            format!("Get {file}ck?upload&{user}&access_token=t1 |  |  | Some(30s)"),
            format!("Get {file}ck?upload&{user}&{t2} |  |  | Some(30s)"),
            format!("Post {file}ck?renew&{user}&{t2} |  |  | Some(30s)"),
            format!("Delete {file}ck?upload&{user}&{t2} |  |  | Some(30s)"),
            format!("Get {file}{photo}?info&{user}&{t2} |  |  | Some(30s)"),
        ];
        assert_eq!(*wire.sent.borrow(), expected);
    }
}
