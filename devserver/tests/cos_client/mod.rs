//! A small COS client for the cos-origin tests: requests signed with the devserver's own
//! [`sign_authorization`] (the signer's vectors are unit-tested against the spec), raw
//! unsigned requests for tamper cases, and XML/hash helpers.
#![allow(dead_code)]

use reqwest::{Method, RequestBuilder, Response};
use smh_devserver::cos::sign::sign_authorization;

use crate::common::Devserver;
#[allow(unused_imports)]
pub use crate::support::{crc64, data};

/// Percent-encodes a key for a URL path (everything but unreserved and `/`).
pub fn enc_key(key: &str) -> String {
    key.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Percent-encodes a query component (unreserved kept).
pub fn enc(s: &str) -> String {
    enc_key(s).replace('/', "%2F")
}

pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Signing identity + target of COS requests.
#[derive(Clone)]
pub struct Cos {
    pub http: reqwest::Client,
    /// `127.0.0.1:P`
    pub addr: String,
    pub bucket: String,
    pub region: String,
    pub ak: String,
    pub sk: String,
    /// Sent as `x-cos-security-token` (unsigned, as the JS SDKs do).
    pub token: Option<String>,
    /// `Some(host)`: send this Host header (virtual-host style, as python's `IP=` mode).
    pub host: Option<String>,
}

impl Cos {
    /// The bucket owner's permanent key, path to `127.0.0.1:P`.
    pub fn owner(server: &Devserver) -> Cos {
        Cos {
            http: reqwest::Client::builder().timeout(std::time::Duration::from_secs(60)).build().unwrap(),
            addr: server.get("cos"),
            bucket: server.get("bucket"),
            region: server.get("region"),
            ak: server.get("secretId"),
            sk: server.get("secretKey"),
            token: None,
            host: None,
        }
    }

    /// The same target with another key pair (and token).
    pub fn with_key(&self, ak: &str, sk: &str, token: Option<&str>) -> Cos {
        Cos { ak: ak.to_string(), sk: sk.to_string(), token: token.map(str::to_string), ..self.clone() }
    }

    /// Virtual-host style: `Host: {bucket}.cos.{region}.myqcloud.com`.
    pub fn virtual_host(&self, bucket: &str) -> Cos {
        Cos { host: Some(format!("{bucket}.cos.{}.myqcloud.com", self.region)), ..self.clone() }
    }

    pub fn url(&self, key: &str, query: &[(&str, &str)]) -> String {
        let mut url = format!("http://{}/{}", self.addr, enc_key(key));
        if !query.is_empty() {
            let q: Vec<String> = query
                .iter()
                .map(|(k, v)| if v.is_empty() { enc(k) } else { format!("{}={}", enc(k), enc(v)) })
                .collect();
            url = format!("{url}?{}", q.join("&"));
        }
        url
    }

    /// The Host the server sees.
    pub fn host_header(&self) -> String {
        self.host.clone().unwrap_or_else(|| self.addr.clone())
    }

    /// `Authorization` for a request, signing `host`, the given headers and every query pair.
    pub fn authorization(
        &self,
        method: &str,
        key: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        window: (i64, i64),
    ) -> String {
        let params: Vec<(String, String)> = query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut signed: Vec<(String, String)> = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        signed.push(("host".to_string(), self.host_header()));
        sign_authorization(&self.ak, &self.sk, window.0, window.1, method, &format!("/{key}"), &params, &signed)
    }

    /// An unsigned request (headers added, Host overridden if virtual-host).
    pub fn raw(&self, method: Method, key: &str, query: &[(&str, &str)], headers: &[(&str, &str)]) -> RequestBuilder {
        let mut rb = self.http.request(method, self.url(key, query));
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(host) = &self.host {
            rb = rb.header("host", host);
        }
        if let Some(token) = &self.token {
            rb = rb.header("x-cos-security-token", token);
        }
        rb
    }

    /// A request signed for now-60 … now+600.
    pub fn signed(
        &self,
        method: Method,
        key: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> RequestBuilder {
        let auth = self.authorization(method.as_str(), key, query, headers, (now() - 60, now() + 600));
        self.raw(method, key, query, headers).header("authorization", auth)
    }

    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Response {
        self.signed(Method::PUT, key, &[], &[]).body(bytes).send().await.unwrap()
    }

    pub async fn get(&self, key: &str) -> Response {
        self.signed(Method::GET, key, &[], &[]).send().await.unwrap()
    }

    pub async fn head(&self, key: &str) -> Response {
        self.signed(Method::HEAD, key, &[], &[]).send().await.unwrap()
    }

    /// InitiateMultipartUpload → UploadId.
    pub async fn initiate(&self, key: &str) -> String {
        let r = self.signed(Method::POST, key, &[("uploads", "")], &[]).send().await.unwrap();
        assert_eq!(r.status(), 200);
        xml_values(&r.text().await.unwrap(), "UploadId").remove(0)
    }

    /// UploadPart → response.
    pub async fn put_part(&self, key: &str, upload_id: &str, n: u32, bytes: Vec<u8>) -> Response {
        let number = n.to_string();
        self.signed(Method::PUT, key, &[("partNumber", &number), ("uploadId", upload_id)], &[])
            .body(bytes)
            .send()
            .await
            .unwrap()
    }

    /// CompleteMultipartUpload with `(number, etag)` in the given order.
    pub async fn complete(&self, key: &str, upload_id: &str, parts: &[(u32, String)]) -> Response {
        let mut body = String::from("<CompleteMultipartUpload>");
        for (n, etag) in parts {
            body.push_str(&format!(
                "<Part><PartNumber>{n}</PartNumber><ETag>{}</ETag></Part>",
                etag.replace('"', "&quot;")
            ));
        }
        body.push_str("</CompleteMultipartUpload>");
        self.signed(Method::POST, key, &[("uploadId", upload_id)], &[]).body(body).send().await.unwrap()
    }
}

/// Text of every `<tag>…</tag>` in `xml` (no nesting; entities `&quot;` `&amp;` decoded).
pub fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        out.push(after[..end].replace("&quot;", "\"").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"));
        rest = &after[end + close.len()..];
    }
    out
}

/// Asserts a COS error: status, `<Code>` (for non-HEAD), and the common headers.
pub async fn assert_cos_error(r: Response, status: u16, code: &str) -> String {
    assert_eq!(r.status().as_u16(), status, "status");
    let request_id = r.headers().get("x-cos-request-id").expect("x-cos-request-id").to_str().unwrap().to_string();
    assert_eq!(r.headers().get("server").unwrap(), "tencent-cos");
    assert!(r.headers().contains_key("date"));
    assert!(r.headers().contains_key("access-control-expose-headers"));
    let body = r.text().await.unwrap();
    assert_eq!(xml_values(&body, "Code"), vec![code.to_string()], "body: {body}");
    assert_eq!(xml_values(&body, "RequestId"), vec![request_id]);
    xml_values(&body, "Message").pop().unwrap_or_default()
}

pub fn md5_hex(bytes: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(bytes))
}

pub fn header(r: &Response, name: &str) -> String {
    r.headers().get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
}
