//! PostObject (`POST /`, multipart/form-data) against the real binary: forms built here from
//! Tencent's API doc 436/14690 (policy signed with this file's own HMAC code, body laid out by
//! hand, file last) and in cos-wx-sdk-v5's `Signature` shape; the stored bytes are read back
//! with GetObject.

mod common;
mod cos_client;
mod support;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use sha1::{Digest as _, Sha1};

use common::Devserver;
use cos_client::*;

const BOUNDARY: &str = "----smhDevserverTestBoundary7MA4YWxkTrZu0gW";

/// A form: fields in order, then the file.
struct Form {
    fields: Vec<(String, String)>,
    file_name: String,
    file: Vec<u8>,
}

impl Form {
    fn new(file: Vec<u8>) -> Form {
        Form { fields: Vec::new(), file_name: "upload.bin".into(), file }
    }

    fn field(mut self, name: &str, value: &str) -> Form {
        self.fields.push((name.into(), value.into()));
        self
    }

    /// The multipart/form-data body (RFC 7578), `file` last.
    fn body(&self) -> Vec<u8> {
        let mut body = Vec::new();
        for (name, value) in &self.fields {
            body.extend(
                format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").bytes(),
            );
        }
        body.extend(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: application/octet-stream\r\n\r\n",
                self.file_name
            )
            .bytes(),
        );
        body.extend(&self.file);
        body.extend(format!("\r\n--{BOUNDARY}--\r\n").bytes());
        body
    }

    async fn post(&self, cos: &Cos) -> reqwest::Response {
        cos.http
            .post(format!("http://{}/", cos.addr))
            .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
            .header("origin", "http://127.0.0.1:9")
            .body(self.body())
            .send()
            .await
            .unwrap()
    }
}

fn hmac_sha1_hex(key: &str, msg: &str) -> String {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(msg.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// ISO 8601 of `now + seconds`.
fn expiration(seconds: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(now() + seconds).unwrap();
    t.format(&time::format_description::well_known::Rfc3339).unwrap()
}

/// Adds `policy`, `q-sign-algorithm`, `q-ak`, `q-key-time`, `q-signature` (doc 436/14690 steps
/// 2–7) for `policy` signed with `cos`'s key, valid for `window`.
fn sign_policy(form: Form, cos: &Cos, policy: &Value, window: (i64, i64)) -> Form {
    let key_time = format!("{};{}", window.0, window.1);
    let json = policy.to_string();
    let sign_key = hmac_sha1_hex(&cos.sk, &key_time);
    let string_to_sign = hex::encode(Sha1::digest(json.as_bytes()));
    let signature = hmac_sha1_hex(&sign_key, &string_to_sign);
    form.field("policy", &base64::engine::general_purpose::STANDARD.encode(&json))
        .field("q-sign-algorithm", "sha1")
        .field("q-ak", &cos.ak)
        .field("q-key-time", &key_time)
        .field("q-signature", &signature)
}

fn window() -> (i64, i64) {
    (now() - 60, now() + 600)
}

/// A policy for keys under `post/`, 1 B … 1 MiB, with the doc's required q-* conditions.
fn policy(cos: &Cos, window: (i64, i64), expires_in: i64) -> Value {
    json!({
        "expiration": expiration(expires_in),
        "conditions": [
            { "bucket": cos.bucket },
            ["starts-with", "$key", "post/"],
            ["content-length-range", 1, 1024 * 1024],
            { "q-sign-algorithm": "sha1" },
            { "q-ak": cos.ak },
            { "q-sign-time": format!("{};{}", window.0, window.1) },
        ]
    })
}

#[tokio::test]
async fn policy_signed_form_stores_the_file() {
    let server = Devserver::start(&[]);
    let cos = Cos::owner(&server);
    let bytes = data(300_001, 3);
    let w = window();
    let form = Form::new(bytes.clone())
        .field("key", "post/a b.bin")
        .field("success_action_status", "201")
        .field("Content-Type", "image/png")
        .field("x-cos-meta-origin", "form");
    let r = sign_policy(form, &cos, &policy(&cos, w, 600), w).post(&cos).await;
    assert_eq!(r.status(), 201);
    assert_eq!(header(&r, "etag"), format!("\"{}\"", md5_hex(&bytes)));
    assert_eq!(header(&r, "x-cos-hash-crc64ecma"), crc64(&bytes).to_string());
    assert_eq!(header(&r, "location"), format!("http://{}/post/a%20b.bin", cos.addr));
    assert_eq!(header(&r, "access-control-allow-origin"), "http://127.0.0.1:9", "CORS on the answer");
    assert!(r.text().await.unwrap().is_empty(), "doc 436/14690: the body is empty");

    let r = cos.get("post/a b.bin").await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), "image/png");
    assert_eq!(header(&r, "x-cos-meta-origin"), "form");
    assert!(r.bytes().await.unwrap() == bytes, "stored byte-identical");

    // The preflight a browser sends before a cross-origin form POST with fetch.
    let r = cos
        .raw(Method::OPTIONS, "", &[], &[("origin", "http://127.0.0.1:9"), ("access-control-request-method", "POST")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(header(&r, "access-control-allow-methods").contains("POST"));
}

#[tokio::test]
async fn filename_variable_default_status_and_redirect() {
    let server = Devserver::start(&[]);
    let cos = Cos::owner(&server);
    let w = window();
    // `${filename}` in the key, no success_action_status → 204 (example 7).
    let mut form = Form::new(b"photo bytes".to_vec()).field("key", "post/${filename}");
    form.file_name = "photo.jpg".into();
    let r = sign_policy(form, &cos, &policy(&cos, w, 600), w).post(&cos).await;
    assert_eq!(r.status(), 204);
    assert_eq!(header(&r, "location"), format!("http://{}/post/photo.jpg", cos.addr));
    assert_eq!(cos.get("post/photo.jpg").await.bytes().await.unwrap().as_ref(), b"photo bytes");

    // success_action_redirect → 303 to it with bucket, key and etag (example 8).
    let form = Form::new(b"x".to_vec())
        .field("key", "post/r.txt")
        .field("success_action_redirect", "https://example.test/done.html");
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let cos_no_redirect = Cos { http: client, ..cos.clone() };
    let r = sign_policy(form, &cos, &policy(&cos, w, 600), w).post(&cos_no_redirect).await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        header(&r, "location"),
        format!("https://example.test/done.html?bucket={}&key=post%2Fr.txt&etag=%22{}%22", cos.bucket, md5_hex(b"x"))
    );
}

#[tokio::test]
async fn bad_signature_expired_policy_and_conditions_are_refused() {
    let server = Devserver::start(&[]);
    let cos = Cos::owner(&server);
    let w = window();
    let good = || Form::new(b"new".to_vec()).field("key", "post/kept.txt");
    assert_eq!(cos.put("post/kept.txt", b"old".to_vec()).await.status(), 200);

    // Signed with another secret.
    let wrong = cos.with_key(&cos.ak, "not-the-secret-key-0000000000000", None);
    let r = sign_policy(good(), &wrong, &policy(&cos, w, 600), w).post(&cos).await;
    assert_cos_error(r, 403, "SignatureDoesNotMatch").await;
    // A policy changed after signing.
    let signed = sign_policy(good(), &cos, &policy(&cos, w, 600), w);
    let mut tampered = Form::new(b"new".to_vec());
    for (name, value) in signed.fields {
        let value = if name == "policy" {
            let wider = json!({ "expiration": expiration(600), "conditions": [] }).to_string();
            base64::engine::general_purpose::STANDARD.encode(wider)
        } else {
            value
        };
        tampered = tampered.field(&name, &value);
    }
    assert_cos_error(tampered.post(&cos).await, 403, "SignatureDoesNotMatch").await;
    // Unknown key id.
    let stranger = cos.with_key("AKIDunknownunknownunknownunknown0000", &cos.sk, None);
    let r = sign_policy(good(), &stranger, &policy(&cos, w, 600), w).post(&cos).await;
    assert_cos_error(r, 403, "InvalidAccessKeyId").await;
    // q-key-time over.
    let past = (now() - 600, now() - 300);
    let r = sign_policy(good(), &cos, &policy(&cos, past, 600), past).post(&cos).await;
    assert_eq!(assert_cos_error(r, 403, "AccessDenied").await, "Request has expired");
    // Policy expired.
    let r = sign_policy(good(), &cos, &policy(&cos, w, -5), w).post(&cos).await;
    assert_eq!(assert_cos_error(r, 403, "AccessDenied").await, "Invalid according to Policy: Policy expired.");
    // Key outside the policy's prefix.
    let outside = Form::new(b"new".to_vec()).field("key", "elsewhere/x.txt");
    let r = sign_policy(outside, &cos, &policy(&cos, w, 600), w).post(&cos).await;
    let message = assert_cos_error(r, 403, "AccessDenied").await;
    assert!(message.starts_with("Invalid according to Policy: Policy Condition failed: [\"starts-with\""), "{message}");
    // A field the policy pins is missing from the form.
    let mut pinned = policy(&cos, w, 600);
    pinned["conditions"].as_array_mut().unwrap().push(json!(["eq", "$Content-Type", "text/plain"]));
    let r = sign_policy(good(), &cos, &pinned, w).post(&cos).await;
    assert_cos_error(r, 403, "AccessDenied").await;
    // content-length-range: too large, too small.
    let big = Form::new(data(1024 * 1024 + 1, 1)).field("key", "post/kept.txt");
    assert_cos_error(sign_policy(big, &cos, &policy(&cos, w, 600), w).post(&cos).await, 400, "EntityTooLarge").await;
    let empty = Form::new(Vec::new()).field("key", "post/kept.txt");
    assert_cos_error(sign_policy(empty, &cos, &policy(&cos, w, 600), w).post(&cos).await, 400, "EntityTooSmall").await;
    // Content-MD5 of other bytes.
    let md5 = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(b"other"));
    let bad_md5 = good().field("Content-MD5", &md5);
    assert_cos_error(sign_policy(bad_md5, &cos, &policy(&cos, w, 600), w).post(&cos).await, 400, "BadDigest").await;

    assert_eq!(cos.get("post/kept.txt").await.bytes().await.unwrap().as_ref(), b"old", "nothing was replaced");
    assert_eq!(cos.head("elsewhere/x.txt").await.status(), 404);
}

#[tokio::test]
async fn malformed_forms() {
    let server = Devserver::start(&[]);
    let cos = Cos::owner(&server);
    let url = format!("http://{}/", cos.addr);
    let r = cos.http.post(&url).header("content-type", "text/plain").body("key=x").send().await.unwrap();
    assert_cos_error(r, 400, "InvalidRequest").await;
    // No file field.
    let body =
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\npost/x\r\n--{BOUNDARY}--\r\n");
    let r = cos
        .http
        .post(&url)
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_cos_error(r, 400, "InvalidArgument").await;
    // No signature at all.
    assert_cos_error(Form::new(b"x".to_vec()).field("key", "post/x").post(&cos).await, 403, "AccessDenied").await;
    // A policy that is not base64 JSON.
    let w = window();
    let form = Form::new(b"x".to_vec()).field("key", "post/x");
    let mut form = sign_policy(form, &cos, &policy(&cos, w, 600), w);
    for (name, value) in &mut form.fields {
        if name == "policy" {
            *value = "%%%".into();
        }
    }
    assert_cos_error(form.post(&cos).await, 400, "InvalidPolicyDocument").await;
}

/// cos-wx-sdk-v5's `postObject` (lib/request.js): a `Signature` field holding an Authorization
/// for `POST /` that signs `host` and the x-cos-* headers, which travel as form fields.
#[tokio::test]
async fn wx_sdk_signature_field() {
    let server = Devserver::start(&[]);
    let cos = Cos::owner(&server);
    let auth = cos.authorization("POST", "", &[], &[("x-cos-meta-album", "trip")], window());
    let form = |meta: &str| {
        Form::new(b"mini-program bytes".to_vec())
            .field("key", "wx/photo.jpg")
            .field("success_action_status", "200")
            .field("Signature", &auth)
            .field("Content-Type", "")
            .field("x-cos-meta-album", meta)
    };
    let r = form("trip").post(&cos).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "etag"), format!("\"{}\"", md5_hex(b"mini-program bytes")));
    let r = cos.get("wx/photo.jpg").await;
    assert_eq!(header(&r, "x-cos-meta-album"), "trip");
    assert_eq!(header(&r, "content-type"), "application/octet-stream");
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"mini-program bytes");
    // A signed field changed.
    assert_cos_error(form("other").post(&cos).await, 403, "SignatureDoesNotMatch").await;
}

/// A customer backend's temporary keys (`POST /credentials`, scoped to `post/`) sign the policy;
/// the session token travels as the `x-cos-security-token` field.
#[tokio::test]
async fn temporary_keys_sign_forms_within_their_prefix() {
    let server = Devserver::start(&[]);
    let cos = Cos::owner(&server);
    let r = cos
        .http
        .post(format!("{}/credentials", server.app()))
        .json(&json!({ "prefix": "post/" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let sts: Value = r.json().await.unwrap();
    let credentials = &sts["Credentials"];
    let temp =
        cos.with_key(credentials["TmpSecretId"].as_str().unwrap(), credentials["TmpSecretKey"].as_str().unwrap(), None);
    let token = credentials["Token"].as_str().unwrap();
    let w = window();
    let form = |key: &str, token: Option<&str>| {
        let form = Form::new(b"from a temporary key".to_vec()).field("key", key);
        let form = match token {
            Some(token) => form.field("x-cos-security-token", token),
            None => form,
        };
        let open_policy = json!({ "expiration": expiration(600), "conditions": [] });
        sign_policy(form, &temp, &open_policy, w)
    };
    assert_eq!(form("post/tmp.txt", Some(token)).post(&cos).await.status(), 204);
    assert_eq!(cos.get("post/tmp.txt").await.bytes().await.unwrap().as_ref(), b"from a temporary key");
    assert_cos_error(form("other/tmp.txt", Some(token)).post(&cos).await, 403, "AccessDenied").await;
    assert_cos_error(form("post/tmp.txt", None).post(&cos).await, 403, "InvalidAccessKeyId").await;
    assert_cos_error(form("post/tmp.txt", Some("not-the-token")).post(&cos).await, 400, "InvalidToken").await;
}
