//! Fault rules (`/_dev/faults`) on both origins — each action observable — and the request log.

mod common;
mod support;

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use support::{assert_smh_error, crc64, data, json_of, Env};

async fn add_rule(env: &Env, rule: Value) -> Value {
    let (status, body) = env.dev_post("faults", rule).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A multipart task with small parts; returns its upload parameters.
async fn multipart(env: &Env, path: &str) -> Value {
    env.dev_post("config", json!({ "minPartSize": 1024 })).await;
    let (status, auth) = env.begin(path, true, &[], None).await;
    assert_eq!(status, 201);
    auth
}

#[tokio::test]
async fn cos_status_skip_times_and_listing() {
    let env = Env::start(&[]).await;
    let auth = multipart(&env, "f.bin").await;
    let rules = add_rule(
        &env,
        json!({ "origin": "cos", "method": "PUT", "query": "partNumber", "skip": 1, "times": 2,
        "action": { "type": "status", "status": 500 } }),
    )
    .await;
    assert_eq!(rules["rules"][0]["times"], 2);
    let part = data(1024, 1);
    // skip 1: the first part PUT goes through, the next two fail with COS XML, then OK again.
    assert_eq!(env.cos_put(&auth, part.clone(), Some(1)).await.status(), 200);
    for _ in 0..2 {
        let r = env.cos_put(&auth, part.clone(), Some(2)).await;
        assert_eq!(r.status(), 500);
        assert_eq!(r.headers()["content-type"], "application/xml");
        assert!(r.headers().contains_key("x-cos-request-id"));
        assert!(r.text().await.unwrap().contains("<Code>InternalError</Code>"));
    }
    assert_eq!(env.cos_put(&auth, part.clone(), Some(2)).await.status(), 200);
    let listed = env.dev_get("faults").await;
    assert_eq!((listed["rules"][0]["times"].as_u64(), listed["rules"][0]["fired"].as_u64()), (Some(0), Some(2)));
    // Custom code; a simple PutObject does not match `query: partNumber`.
    add_rule(
        &env,
        json!([{ "origin": "cos", "path": "*", "action": { "type": "status", "status": 503, "code": "SlowDown" } }]),
    )
    .await;
    let r = env.cos_put(&auth, part.clone(), Some(3)).await;
    assert_eq!(r.status(), 503);
    assert!(r.text().await.unwrap().contains("<Code>SlowDown</Code>"));
    env.dev_delete("faults").await;
    assert_eq!(env.dev_get("faults").await, json!({ "rules": [] }));
}

#[tokio::test]
async fn reset_delay_stall() {
    let env = Env::start(&[]).await;
    let auth = multipart(&env, "f.bin").await;
    let part = data(200 * 1024, 2);
    // reset: the client sees a network error, no response.
    add_rule(&env, json!({ "origin": "cos", "query": "partNumber", "action": { "type": "reset" } })).await;
    let mut url = format!(
        "http://{}{}?partNumber=1&uploadId={}",
        auth["domain"].as_str().unwrap(),
        auth["path"].as_str().unwrap(),
        auth["uploadId"].as_str().unwrap()
    );
    let mut rb = env.http.put(&url).body(part.clone());
    for (k, v) in auth["headers"].as_object().unwrap() {
        rb = rb.header(k.as_str(), v.as_str().unwrap());
    }
    let err = rb.send().await.expect_err("reset must be a network error");
    assert!(!err.is_status(), "{err}");
    // The part was not stored.
    let uploads = env.dev_get("uploads").await;
    assert_eq!(uploads["cos"][0]["parts"], 0);

    // delay: handled normally, late.
    add_rule(&env, json!({ "origin": "cos", "query": "partNumber", "action": { "type": "delay", "ms": 400 } })).await;
    let started = Instant::now();
    assert_eq!(env.cos_put(&auth, data(1024, 3), Some(1)).await.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(400));

    // stall: nothing within `ms` (a client timeout fires), then the connection is dropped.
    add_rule(&env, json!({ "origin": "cos", "query": "partNumber", "action": { "type": "stall", "ms": 1500 } })).await;
    url = url.replace("partNumber=1", "partNumber=2");
    let mut rb = env.http.put(&url).timeout(Duration::from_millis(500)).body(data(10, 4));
    for (k, v) in auth["headers"].as_object().unwrap() {
        rb = rb.header(k.as_str(), v.as_str().unwrap());
    }
    let err = rb.send().await.expect_err("stall must time out");
    assert!(err.is_timeout(), "{err}");

    // The log names each fault; reset/stall have status 0; no query strings.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let log: Vec<Value> = env.dev_get("log?origin=cos").await.as_array().unwrap().clone();
    let faults: Vec<(&str, u64)> =
        log.iter().filter_map(|e| Some((e["fault"].as_str()?, e["status"].as_u64().unwrap()))).collect();
    assert_eq!(faults, [("reset", 0), ("delay", 200), ("stall", 0)]);
    assert!(log.iter().all(|e| !e["path"].as_str().unwrap().contains('?')));
    let reset = log.iter().find(|e| e["fault"] == "reset").unwrap();
    assert!(reset["bytesIn"].as_u64().unwrap() <= 200 * 1024);
}

#[tokio::test]
async fn expired_on_both_origins_and_bad_crc() {
    let env = Env::start(&[]).await;
    let (_, auth) = env.begin("x.bin", false, &[], None).await;
    add_rule(&env, json!({ "origin": "cos", "method": "PUT", "action": { "type": "expired" } })).await;
    let r = env.cos_put(&auth, b"abc".to_vec(), None).await;
    assert_eq!(r.status(), 403);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("<Code>AccessDenied</Code>") && text.contains("<Message>Request has expired</Message>"),
        "{text}"
    );

    add_rule(&env, json!({ "origin": "smh", "path": "/api/v1/directory/", "action": { "type": "expired" } })).await;
    let r = env.req(Method::GET, &env.dir_url(""), &env.admin, &[]).send().await.unwrap();
    assert_smh_error(r, 403, "InvalidAccessToken").await;
    assert_eq!(env.req(Method::GET, &env.dir_url(""), &env.admin, &[]).send().await.unwrap().status(), 200);

    // smh status with a code of choice.
    add_rule(
        &env,
        json!({ "origin": "smh", "method": "POST", "query": "confirm", "action": { "type": "status", "status": 503 } }),
    )
    .await;
    let bytes = data(777, 5);
    assert_eq!(env.cos_put(&auth, bytes.clone(), None).await.status(), 200);
    let key = auth["confirmKey"].as_str().unwrap();
    let (status, err) = env.confirm(key, Some(crc64(&bytes)), &[]).await;
    assert_eq!((status.as_u16(), err["code"].as_str()), (503, Some("ServerOverloaded")));
    assert_eq!(env.confirm(key, Some(crc64(&bytes)), &[]).await.0, 200);

    // badCrc: stored correctly, answered with a wrong x-cos-hash-crc64ecma.
    let (_, auth) = env.begin("y.bin", false, &[], None).await;
    add_rule(&env, json!({ "origin": "cos", "action": { "type": "badCrc" } })).await;
    let r = env.cos_put(&auth, bytes.clone(), None).await;
    assert_eq!(r.status(), 200);
    assert_ne!(r.headers()["x-cos-hash-crc64ecma"], crc64(&bytes).to_string().as_str());
    let objects = env.objects().await;
    let stored = objects.iter().find(|o| o["key"].as_str().unwrap() == &auth["path"].as_str().unwrap()[1..]).unwrap();
    assert_eq!(stored["crc64"], crc64(&bytes).to_string());

    // Bad rules are refused.
    let (status, _) = env.dev_post("faults", json!({ "origin": "ftp", "action": { "type": "reset" } })).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn request_log_counts_bytes() {
    let env = Env::start(&[]).await;
    env.dev_delete("log").await;
    let bytes = data(12345, 6);
    env.upload_simple("l.bin", &bytes, &[]).await;
    let log: Vec<Value> = env.dev_get("log").await.as_array().unwrap().clone();
    let ops: Vec<(&str, &str)> =
        log.iter().map(|e| (e["origin"].as_str().unwrap(), e["op"].as_str().unwrap())).collect();
    assert_eq!(ops, [("smh", "begin"), ("cos", "PutObject"), ("smh", "confirm")]);
    assert_eq!(log[1]["bytesIn"], 12345);
    assert_eq!(log[1]["status"], 200);
    // Filters and `since`.
    let seq = log[1]["seq"].as_u64().unwrap();
    let after = env.dev_get(&format!("log?since={seq}")).await;
    assert_eq!(after.as_array().unwrap().len(), 1);
    assert_eq!(env.dev_get("log?op=PutObject").await.as_array().unwrap().len(), 1);
    // Tokens never appear in the log.
    let text = env.http.get(format!("{}/_dev/log", env.app())).send().await.unwrap().text().await.unwrap();
    assert!(!text.contains(&env.admin));
    env.dev_delete("log").await;
    assert_eq!(env.dev_get("log").await, json!([]));
    let _ = json_of;
}
