//! `POST /credentials` on the app origin: temporary COS keys (STS and VOD shapes) that the cos
//! origin accepts — signed with the test's own COS client — until they expire, and refuses with
//! COS's errors afterwards, with a wrong token, or outside their prefix.

mod common;
mod cos_client;
mod support;

use std::time::Duration;

use cos_client::{assert_cos_error, header, xml_values, Cos};
use reqwest::Method;
use serde_json::{json, Value};
use support::{data, Env};

async fn mint(env: &Env, query: &str, body: Value) -> (u16, Value) {
    let r = env.http.post(format!("{}/credentials{query}", env.app())).json(&body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

/// A COS client signing with the STS answer's keys and sending its token.
fn sts_client(env: &Env, issued: &Value) -> Cos {
    let c = &issued["Credentials"];
    Cos::owner(&env.server).with_key(
        c["TmpSecretId"].as_str().unwrap(),
        c["TmpSecretKey"].as_str().unwrap(),
        Some(c["Token"].as_str().unwrap()),
    )
}

#[tokio::test]
async fn sts_keys_upload_until_they_expire() {
    let env = Env::start(&[]).await;
    let (status, issued) = mint(&env, "", json!({})).await;
    assert_eq!(status, 200, "{issued}");
    let c = &issued["Credentials"];
    assert!(c["TmpSecretId"].as_str().unwrap().starts_with("AKID"));
    assert!(!c["TmpSecretKey"].as_str().unwrap().is_empty() && !c["Token"].as_str().unwrap().is_empty());
    let (start, expired) = (issued["StartTime"].as_i64().unwrap(), issued["ExpiredTime"].as_i64().unwrap());
    assert_eq!(expired - start, 1800, "default duration");
    assert!((start - cos_client::now()).abs() <= 5);
    let expiration = issued["Expiration"].as_str().unwrap();
    assert!(expiration.len() == 20 && expiration.ends_with('Z'), "{expiration}");
    assert_eq!(issued["RequestId"].as_str().unwrap().len(), 36);

    // Simple and multipart upload with the keys, HEAD to check.
    let cos = sts_client(&env, &issued);
    assert_eq!(cos.put("sts/simple.bin", data(1000, 1)).await.status(), 200);
    env.dev_post("config", json!({ "minPartSize": 1024 })).await;
    let upload_id = cos.initiate("sts/multi.bin").await;
    let part1 = cos.put_part("sts/multi.bin", &upload_id, 1, data(1024, 2)).await;
    assert_eq!(part1.status(), 200);
    let part2 = cos.put_part("sts/multi.bin", &upload_id, 2, data(10, 3)).await;
    assert_eq!(part2.status(), 200);
    let parts = [(1, header(&part1, "etag")), (2, header(&part2, "etag"))];
    let listed =
        cos.signed(Method::GET, "sts/multi.bin", &[("uploadId", upload_id.as_str())], &[]).send().await.unwrap();
    assert_eq!(xml_values(&listed.text().await.unwrap(), "PartNumber"), ["1", "2"]);
    assert_eq!(cos.complete("sts/multi.bin", &upload_id, &parts).await.status(), 200);
    let head = cos.head("sts/multi.bin").await;
    assert_eq!((head.status().as_u16(), header(&head, "content-length")), (200, "1034".to_string()));
    // Not granted: deleting and listing the bucket.
    assert_cos_error(cos.signed(Method::DELETE, "sts/simple.bin", &[], &[]).send().await.unwrap(), 403, "AccessDenied")
        .await;
    assert_cos_error(cos.signed(Method::GET, "", &[], &[]).send().await.unwrap(), 403, "AccessDenied").await;

    // Wrong or missing token.
    let c = &issued["Credentials"];
    let (id, key) = (c["TmpSecretId"].as_str().unwrap(), c["TmpSecretKey"].as_str().unwrap());
    let wrong = cos.with_key(id, key, Some("not-the-token"));
    assert_cos_error(wrong.put("sts/x.bin", b"x".to_vec()).await, 400, "InvalidToken").await;
    let missing = cos.with_key(id, key, None);
    assert_cos_error(missing.put("sts/x.bin", b"x".to_vec()).await, 403, "InvalidAccessKeyId").await;
    // A bad signature over a signed token: the debug string names the token, never shows it.
    let token = c["Token"].as_str().unwrap();
    let tampered = cos.with_key(id, "not-the-key", None);
    let r = tampered
        .signed(Method::PUT, "sts/x.bin", &[], &[("x-cos-security-token", token)])
        .body("x")
        .send()
        .await
        .unwrap();
    let debug = header(&r, "x-smh-debug-formatstring");
    assert!(debug.contains("x-cos-security-token%3D%7Btoken%7D") && !debug.contains(token), "{debug}");
    assert_cos_error(r, 403, "SignatureDoesNotMatch").await;
    // Another key's token does not fit either.
    let (_, other) = mint(&env, "", json!({})).await;
    let swapped = cos.with_key(id, key, other["Credentials"]["Token"].as_str());
    assert_cos_error(swapped.put("sts/x.bin", b"x".to_vec()).await, 400, "InvalidToken").await;

    // Expired (test hook, this key only): COS's "Request has expired"; the other key still works.
    let (status, expired) = env.dev_post("credentials/expire", json!({ "tmpSecretId": id })).await;
    assert_eq!((status.as_u16(), expired["expired"].as_u64()), (200, Some(1)));
    let r = cos.put("sts/late.bin", b"late".to_vec()).await;
    assert_eq!(assert_cos_error(r, 403, "AccessDenied").await, "Request has expired");
    assert_cos_error(cos.put_part("sts/multi2.bin", "x", 1, b"x".to_vec()).await, 403, "AccessDenied").await;
    assert_eq!(sts_client(&env, &other).put("sts/other.bin", b"o".to_vec()).await.status(), 200);
    let keys: Vec<String> = env.objects().await.iter().map(|o| o["key"].as_str().unwrap().to_string()).collect();
    assert!(!keys.contains(&"sts/late.bin".to_string()), "{keys:?}");
}

#[tokio::test]
async fn short_keys_expire_by_the_clock() {
    let env = Env::start(&[]).await;
    let (status, issued) = mint(&env, "", json!({ "durationSeconds": 1 })).await;
    assert_eq!(status, 200);
    assert_eq!(issued["ExpiredTime"].as_i64().unwrap() - issued["StartTime"].as_i64().unwrap(), 1);
    let cos = sts_client(&env, &issued);
    assert_eq!(cos.put("clock/a.bin", b"a".to_vec()).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = cos.put("clock/b.bin", b"b".to_vec()).await;
    assert_eq!(assert_cos_error(r, 403, "AccessDenied").await, "Request has expired");
}

#[tokio::test]
async fn prefix_scopes_the_keys() {
    let env = Env::start(&[]).await;
    let (status, issued) = mint(&env, "", json!({ "prefix": "users/7/" })).await;
    assert_eq!(status, 200, "{issued}");
    let cos = sts_client(&env, &issued);
    assert_eq!(cos.put("users/7/a.bin", b"a".to_vec()).await.status(), 200);
    assert_eq!(cos.get("users/7/a.bin").await.status(), 200);
    assert_cos_error(cos.put("users/8/a.bin", b"a".to_vec()).await, 403, "AccessDenied").await;
    assert_cos_error(cos.put("users/7", b"a".to_vec()).await, 403, "AccessDenied").await;
    let r = cos.signed(Method::POST, "users/8/m.bin", &[("uploads", "")], &[]).send().await.unwrap();
    assert_cos_error(r, 403, "AccessDenied").await;
    // Listing uploads: under the prefix only.
    let mine = cos.signed(Method::GET, "", &[("uploads", ""), ("prefix", "users/7/")], &[]).send().await.unwrap();
    assert_eq!(mine.status(), 200);
    let all = cos.signed(Method::GET, "", &[("uploads", "")], &[]).send().await.unwrap();
    assert_cos_error(all, 403, "AccessDenied").await;
}

#[tokio::test]
async fn vod_shape_and_bad_requests() {
    let env = Env::start(&[]).await;
    let (status, issued) = mint(&env, "?shape=vod", json!({ "durationSeconds": 600 })).await;
    assert_eq!(status, 200, "{issued}");
    let response = issued["Response"].as_object().expect("the Response envelope");
    assert_eq!(response.keys().collect::<Vec<_>>(), ["Credentials", "RequestId"]);
    let c = &issued["Response"]["Credentials"];
    let mut fields: Vec<&String> = c.as_object().unwrap().keys().collect();
    fields.sort();
    assert_eq!(fields, ["AccessKeyId", "Expiration", "SecretAccessKey", "SessionToken"]);
    // `Expiration` (RFC 3339) is 600 s away.
    let expiration =
        time::OffsetDateTime::parse(c["Expiration"].as_str().unwrap(), &time::format_description::well_known::Rfc3339)
            .unwrap();
    let left = expiration.unix_timestamp() - cos_client::now();
    assert!((595..=601).contains(&left), "{left}");
    let cos = Cos::owner(&env.server).with_key(
        c["AccessKeyId"].as_str().unwrap(),
        c["SecretAccessKey"].as_str().unwrap(),
        c["SessionToken"].as_str(),
    );
    assert_eq!(cos.put("vod/a.mp4", data(500, 4)).await.status(), 200);

    for (query, body, needle) in [
        ("", json!({ "durationSeconds": 0 }), "durationSeconds"),
        ("", json!({ "durationSeconds": 129_601 }), "durationSeconds"),
        ("", json!({ "prefix": "/abs" }), "prefix"),
        ("", json!({ "duration": 60 }), "duration"),
        ("?shape=aws", json!({}), "shape"),
    ] {
        let (status, error) = mint(&env, query, body.clone()).await;
        assert_eq!(status, 400, "{query} {body}");
        assert!(error["error"].as_str().unwrap().contains(needle), "{error}");
    }
}

#[tokio::test]
async fn cors_as_for_token() {
    let env = Env::start(&[]).await;
    let page = "http://127.0.0.1:4321";
    let preflight = env
        .http
        .request(Method::OPTIONS, format!("{}/credentials", env.app()))
        .header("origin", page)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(preflight.headers()["access-control-allow-origin"], page);
    let r = env.http.post(format!("{}/credentials", env.app())).header("origin", page).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], page);
    let r = env
        .http
        .post(format!("{}/credentials", env.app()))
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert!(!r.headers().contains_key("access-control-allow-origin"));
}
