//! The request log (`/_dev/log`) never holds a secret: token renew / delete (token in the path),
//! SMH calls with `access_token=` and `Authorization: Bearer`, uploads whose COS requests carry
//! signatures and session tokens, a presigned URL, bucket keys from `POST /credentials` — then
//! every token, signature, session token and secret key those requests used is looked for in
//! the whole log.

mod common;
mod cos_client;
mod support;

use cos_client::Cos;
use reqwest::Method;
use serde_json::{json, Value};
use support::{crc64, data, Env};

/// The `q-signature` of an `Authorization` value.
fn signature_of(authorization: &str) -> String {
    authorization.split('&').find_map(|kv| kv.strip_prefix("q-signature=")).expect("q-signature").to_string()
}

#[tokio::test]
async fn no_secret_reaches_the_request_log() {
    let env = Env::start(&[]).await;
    env.dev_post("config", json!({ "minPartSize": 1024 })).await;
    env.dev_delete("log").await;
    let mut secrets: Vec<String> = vec![env.admin.clone(), env.server.library_secret(), env.server.get("secretKey")];

    // Token renew and delete put the token in the path.
    let user_token = env.token(json!({ "userId": "u1" })).await;
    secrets.push(user_token.clone());
    let token_url = format!("{}/api/v1/token/{}/{user_token}", env.smh(), env.lib);
    assert_eq!(env.http.post(&token_url).send().await.unwrap().status(), 200, "renew");
    // A trailing slash must not defeat the redaction either.
    env.http.post(format!("{token_url}/")).send().await.unwrap();
    assert!(env.http.delete(&token_url).send().await.unwrap().status().is_success(), "delete");
    let user_tokens = format!("{}/api/v1/token/{}", env.smh(), env.lib);
    let r = env
        .http
        .delete(&user_tokens)
        .query(&[("library_secret", env.server.library_secret().as_str()), ("user_id", "u1")])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "delete user tokens: {}", r.status());

    // An SMH call with the token in `Authorization: Bearer`.
    let bearer = env.token(json!({})).await;
    secrets.push(bearer.clone());
    let r = env.http.get(env.dir_url("")).bearer_auth(&bearer).send().await.unwrap();
    assert_eq!(r.status(), 200);

    // A simple and a multipart upload through SMH: their COS requests carry a signature and a
    // session token.
    let bytes = data(3000, 1);
    let (status, auth) = env.begin("s.bin", false, &[], None).await;
    assert_eq!(status, 201);
    assert_eq!(env.cos_put(&auth, bytes.clone(), None).await.status(), 200);
    assert_eq!(env.confirm(auth["confirmKey"].as_str().unwrap(), Some(crc64(&bytes)), &[]).await.0, 200);
    let (status, multipart) = env.begin("m.bin", true, &[], None).await;
    assert_eq!(status, 201);
    assert_eq!(env.cos_put(&multipart, data(2048, 2), Some(1)).await.status(), 200);
    let renewed = env
        .req(Method::POST, &env.url("file", multipart["confirmKey"].as_str().unwrap()), &env.admin, &[("renew", "")])
        .send()
        .await
        .unwrap();
    let renewed: Value = renewed.json().await.unwrap();
    for upload in [&auth, &multipart, &renewed] {
        let headers = &upload["headers"];
        secrets.push(signature_of(headers["Authorization"].as_str().expect("Authorization header")));
        secrets.push(headers["x-cos-security-token"].as_str().expect("session token").to_string());
    }
    let cancel = env
        .req(Method::DELETE, &env.url("file", multipart["confirmKey"].as_str().unwrap()), &env.admin, &[("upload", "")])
        .send()
        .await
        .unwrap();
    assert!(cancel.status().is_success());

    // Bucket keys from the customer backend, used for a signed PUT and a presigned GET.
    let r = env.http.post(format!("{}/credentials", env.app())).json(&json!({})).send().await.unwrap();
    let issued: Value = r.json().await.unwrap();
    let c = &issued["Credentials"];
    let (id, key, token) =
        (c["TmpSecretId"].as_str().unwrap(), c["TmpSecretKey"].as_str().unwrap(), c["Token"].as_str().unwrap());
    secrets.extend([key.to_string(), token.to_string()]);
    let cos = Cos::owner(&env.server).with_key(id, key, Some(token));
    let put = cos.signed(Method::PUT, "direct/a.bin", &[], &[]);
    let put = put.body(b"abc".to_vec()).build().unwrap();
    secrets.push(signature_of(put.headers()["authorization"].to_str().unwrap()));
    assert_eq!(env.http.execute(put).await.unwrap().status(), 200);
    let window = (cos_client::now() - 60, cos_client::now() + 600);
    let presigned = cos.authorization("get", "direct/a.bin", &[], &[], window);
    secrets.push(signature_of(&presigned));
    let mut query: Vec<(String, String)> =
        presigned.split('&').filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_string(), v.to_string()))).collect();
    query.push(("x-cos-security-token".into(), token.to_string()));
    let r = env.http.get(cos.url("direct/a.bin", &[])).query(&query).send().await.unwrap();
    assert_eq!(r.status(), 200, "presigned GET");

    // The log saw all of it …
    let log = env.http.get(format!("{}/_dev/log", env.app())).send().await.unwrap().text().await.unwrap();
    let entries: Vec<Value> = serde_json::from_str(&log).unwrap();
    let ops: Vec<&str> = entries.iter().map(|e| e["op"].as_str().unwrap()).collect();
    for op in [
        "renewToken",
        "deleteToken",
        "deleteUserTokens",
        "listDirectory",
        "PutObject",
        "UploadPart",
        "renew",
        "cancel",
        "GetObject",
    ] {
        assert!(ops.contains(&op), "{op} missing from the log: {ops:?}");
    }
    // … and holds none of their secrets.
    secrets.retain(|s| s.len() >= 8);
    assert!(secrets.len() >= 14, "{} secrets gathered", secrets.len());
    for secret in &secrets {
        assert!(!log.contains(secret.as_str()), "the request log holds a secret ({} chars)", secret.len());
    }
    assert!(log.contains("/api/v1/token/") && log.contains("{token}"), "token paths are logged, redacted");
}
