//! Helpers for the smh/app integration tests: a started devserver, a reqwest client, URLs of the
//! SMH resources, tokens, and a COS PUT with exactly the headers SMH returned.
#![allow(dead_code)]

use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

use crate::common::Devserver;

/// Percent-encodes one path segment (RFC 3986 unreserved kept).
pub fn enc(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Encodes each segment of `a/b/c`, keeping the slashes.
pub fn enc_path(path: &str) -> String {
    path.split('/').map(enc).collect::<Vec<_>>().join("/")
}

pub struct Env {
    pub server: Devserver,
    pub http: reqwest::Client,
    pub lib: String,
    pub space: String,
    /// An admin token.
    pub admin: String,
}

impl Env {
    pub async fn start(flags: &[&str]) -> Env {
        Env::with_server(Devserver::start(flags)).await
    }

    /// On an existing data directory (restart tests); the directory is kept on drop.
    pub async fn start_on(data: &std::path::Path, flags: &[&str]) -> Env {
        Env::with_server(Devserver::start_on(data, flags)).await
    }

    async fn with_server(server: Devserver) -> Env {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .unwrap();
        let lib = server.library_id();
        let space = server.space_id();
        let mut env = Env { server, http, lib, space, admin: String::new() };
        env.admin = env.token(json!({ "grant": "admin" })).await;
        env
    }

    pub fn smh(&self) -> String {
        self.server.smh()
    }
    pub fn app(&self) -> String {
        self.server.app()
    }

    /// Mints a token through the app origin's `POST /token`.
    pub async fn token(&self, body: Value) -> String {
        let r = self.http.post(format!("{}/token", self.app())).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 200, "POST /token {body}");
        let v: Value = r.json().await.unwrap();
        v["accessToken"].as_str().unwrap().to_string()
    }

    /// `{smh}/api/v1/{resource}/{lib}/{space}/{raw_tail}`; `raw_tail` is used as given.
    pub fn url(&self, resource: &str, raw_tail: &str) -> String {
        format!("{}/api/v1/{resource}/{}/{}/{raw_tail}", self.smh(), self.lib, self.space)
    }

    pub fn dir_url(&self, path: &str) -> String {
        self.url("directory", &enc_path(path))
    }

    pub fn file_url(&self, path: &str) -> String {
        self.url("file", &enc_path(path))
    }

    /// A request with `access_token` and extra query pairs.
    pub fn req(&self, method: Method, url: &str, token: &str, query: &[(&str, &str)]) -> reqwest::RequestBuilder {
        self.http.request(method, url).query(&[("access_token", token)]).query(query)
    }

    pub async fn mkdir(&self, path: &str) {
        let r = self.req(Method::PUT, &self.dir_url(path), &self.admin, &[]).send().await.unwrap();
        assert_eq!(r.status(), 201, "mkdir {path}");
    }

    /// Begin (simple or multipart) with the admin token; returns (status, body).
    pub async fn begin(
        &self,
        path: &str,
        multipart: bool,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (method, mut q) = if multipart { (Method::POST, vec![("multipart", "")]) } else { (Method::PUT, vec![]) };
        q.extend_from_slice(query);
        let mut rb = self.req(method, &self.file_url(path), &self.admin, &q);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        json_of(rb.send().await.unwrap()).await
    }

    /// `POST …/{confirmKey}?confirm` with an optional crc64.
    pub async fn confirm(&self, confirm_key: &str, crc64: Option<u64>, query: &[(&str, &str)]) -> (StatusCode, Value) {
        let mut q = vec![("confirm", "")];
        q.extend_from_slice(query);
        let mut rb = self.req(Method::POST, &self.url("file", confirm_key), &self.admin, &q);
        if let Some(crc) = crc64 {
            rb = rb.json(&json!({ "crc64": crc.to_string() }));
        }
        json_of(rb.send().await.unwrap()).await
    }

    /// PUT `bytes` to the COS origin with exactly the returned headers (part `n` if given).
    pub async fn cos_put(&self, auth: &Value, bytes: Vec<u8>, part: Option<u32>) -> Response {
        self.cos_put_request(auth, bytes, part).send().await.unwrap()
    }

    /// The request [`Env::cos_put`] sends, for tests that expect no response.
    pub fn cos_put_request(&self, auth: &Value, bytes: Vec<u8>, part: Option<u32>) -> reqwest::RequestBuilder {
        let mut url = format!("http://{}{}", auth["domain"].as_str().unwrap(), auth["path"].as_str().unwrap());
        if let Some(n) = part {
            url = format!("{url}?partNumber={n}&uploadId={}", auth["uploadId"].as_str().unwrap());
        }
        let mut rb = self.http.put(url).body(bytes);
        for (name, value) in auth["headers"].as_object().unwrap() {
            rb = rb.header(name.as_str(), value.as_str().unwrap());
        }
        rb
    }

    /// begin → PUT → confirm (simple) with crc64; returns the confirm body.
    pub async fn upload_simple(&self, path: &str, bytes: &[u8], query: &[(&str, &str)]) -> (StatusCode, Value) {
        let (status, auth) = self.begin(path, false, query, None).await;
        assert_eq!(status, 201, "begin {path}: {auth}");
        let put = self.cos_put(&auth, bytes.to_vec(), None).await;
        assert_eq!(put.status(), 200, "cos put: {}", put.text().await.unwrap());
        self.confirm(auth["confirmKey"].as_str().unwrap(), Some(crc64(bytes)), &[]).await
    }

    pub async fn dev_get(&self, hook: &str) -> Value {
        let r = self.http.get(format!("{}/_dev/{hook}", self.app())).send().await.unwrap();
        assert_eq!(r.status(), 200, "GET /_dev/{hook}");
        r.json().await.unwrap()
    }

    pub async fn dev_post(&self, hook: &str, body: Value) -> (StatusCode, Value) {
        let r = self.http.post(format!("{}/_dev/{hook}", self.app())).json(&body).send().await.unwrap();
        json_of(r).await
    }

    pub async fn dev_delete(&self, hook: &str) {
        let r = self.http.delete(format!("{}/_dev/{hook}", self.app())).send().await.unwrap();
        assert!(r.status().is_success(), "DELETE /_dev/{hook}");
    }

    /// Objects in the bucket (`/_dev/objects`).
    pub async fn objects(&self) -> Vec<Value> {
        self.dev_get("objects").await.as_array().unwrap().clone()
    }
}

/// Status and JSON body (`Null` when empty / not JSON).
pub async fn json_of(r: Response) -> (StatusCode, Value) {
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Asserts an SMH error: status, code, and the `requestId`/`X-Request-Id` pair.
pub async fn assert_smh_error(r: Response, status: u16, code: &str) {
    let header_id = r.headers().get("x-request-id").map(|v| v.to_str().unwrap().to_string());
    let (got, body) = json_of(r).await;
    assert_eq!((got.as_u16(), body["code"].as_str()), (status, Some(code)), "body: {body}");
    assert_eq!(header_id.as_deref(), body["requestId"].as_str(), "X-Request-Id = requestId");
}

/// CRC-64/XZ (COS `x-cos-hash-crc64ecma`), computed independently of the server.
pub fn crc64(bytes: &[u8]) -> u64 {
    crc::Crc::<u64>::new(&crc::CRC_64_XZ).checksum(bytes)
}

/// `n` deterministic pseudo-random bytes.
pub fn data(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
