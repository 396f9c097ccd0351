//! Fault rules with `every`, `rate` + `seed`, several rules at once, and the `dropReply` action
//! (the request is handled and committed, the reply is lost) — observed over real HTTP.

mod common;
mod support;

use serde_json::{json, Value};
use support::{crc64, data, Env};

async fn add_rule(env: &Env, rule: Value) -> Value {
    let (status, body) = env.dev_post("faults", rule).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A COS PUT with the headers SMH returned; `Err` when no response came.
async fn try_put(env: &Env, auth: &Value, bytes: Vec<u8>, part: Option<u32>) -> Result<u16, reqwest::Error> {
    env.cos_put_request(auth, bytes, part).send().await.map(|r| r.status().as_u16())
}

/// Statuses of `n` part PUTs into one multipart upload (0 = no response).
async fn part_statuses(env: &Env, auth: &Value, n: u32) -> Vec<u16> {
    let mut statuses = Vec::new();
    for part in 1..=n {
        statuses.push(try_put(env, auth, data(64, part.into()), Some(part)).await.unwrap_or(0));
    }
    statuses
}

async fn multipart(env: &Env, path: &str) -> Value {
    env.dev_post("config", json!({ "minPartSize": 64 })).await;
    let (status, auth) = env.begin(path, true, &[], None).await;
    assert_eq!(status, 201, "{auth}");
    auth
}

#[tokio::test]
async fn every_nth_put_fails_and_counts_are_listed() {
    let env = Env::start(&[]).await;
    let auth = multipart(&env, "every.bin").await;
    // The demo page's rule, verbatim.
    add_rule(
        &env,
        json!({"origin":"cos","method":"PUT","every":5,"times":100000,"action":{"type":"status","status":500}}),
    )
    .await;
    let statuses = part_statuses(&env, &auth, 12).await;
    let failed: Vec<usize> = statuses.iter().enumerate().filter(|(_, s)| **s == 500).map(|(i, _)| i + 1).collect();
    assert_eq!(failed, [5, 10], "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 500));
    let rule = &env.dev_get("faults").await["rules"][0];
    assert_eq!((rule["every"].as_u64(), rule["seen"].as_u64(), rule["fired"].as_u64()), (Some(5), Some(12), Some(2)));

    // `skip` first, then every 2nd candidate, capped by `times`.
    env.dev_delete("faults").await;
    add_rule(&env, json!({"origin":"cos","query":"partNumber","skip":3,"every":2,"times":2,"action":{"type":"status","status":503}})).await;
    let statuses = part_statuses(&env, &auth, 10).await;
    assert_eq!(statuses, [200, 200, 200, 200, 503, 200, 503, 200, 200, 200]);

    // Bad values are refused with the reason.
    for bad in [json!({"every": 0}), json!({"rate": 1.5})] {
        let mut rule = json!({"origin":"cos","action":{"type":"reset"}});
        rule.as_object_mut().unwrap().extend(bad.as_object().unwrap().clone());
        let (status, body) = env.dev_post("faults", rule).await;
        assert_eq!(status, 400, "{body}");
    }
}

#[tokio::test]
async fn seeded_rate_is_reproducible_and_rules_compose() {
    let env = Env::start(&[]).await;
    let auth = multipart(&env, "rate.bin").await;
    let run = |seed: u64| {
        let env = &env;
        let auth = &auth;
        async move {
            env.dev_delete("faults").await;
            add_rule(
                env,
                json!({"origin":"cos","query":"partNumber","rate":0.3,"seed":seed,"times":1000,
                "action":{"type":"status","status":500}}),
            )
            .await;
            let statuses = part_statuses(env, auth, 40).await;
            let fired = env.dev_get("faults").await["rules"][0]["fired"].as_u64().unwrap();
            (statuses, fired)
        }
    };
    let (first, fired) = run(11).await;
    assert_eq!(first.iter().filter(|s| **s == 500).count() as u64, fired);
    assert!((4..=20).contains(&fired), "rate 0.3 of 40 fired {fired}");
    assert_eq!(run(11).await.0, first, "same seed, same requests fail");
    assert_ne!(run(12).await.0, first, "another seed fails others");

    // Three rules on the same requests: each failure comes from exactly one rule, and the
    // counts add up to the failed requests.
    env.dev_delete("faults").await;
    add_rule(&env, json!([
        {"origin":"cos","query":"partNumber","rate":0.15,"seed":1,"times":1000,"action":{"type":"status","status":500}},
        {"origin":"cos","query":"partNumber","rate":0.15,"seed":2,"times":1000,"action":{"type":"status","status":503,"code":"SlowDown"}},
        {"origin":"cos","query":"partNumber","every":4,"times":1000,"action":{"type":"reset"}},
    ])).await;
    let statuses = part_statuses(&env, &auth, 60).await;
    let rules = env.dev_get("faults").await["rules"].as_array().unwrap().clone();
    let fired: Vec<u64> = rules.iter().map(|r| r["fired"].as_u64().unwrap()).collect();
    let seen: Vec<u64> = rules.iter().map(|r| r["seen"].as_u64().unwrap()).collect();
    let count = |s: u16| statuses.iter().filter(|x| **x == s).count() as u64;
    assert_eq!(fired, [count(500), count(503), count(0)], "{statuses:?}");
    assert!(fired.iter().all(|f| *f > 0), "every rule fired: {fired:?}");
    assert_eq!(seen, [60, 60 - fired[0], 60 - fired[0] - fired[1]]);
}

#[tokio::test]
async fn drop_reply_commits_then_loses_the_reply() {
    let env = Env::start(&[]).await;
    env.dev_delete("log").await;

    // begin: the upload exists on the server though the client got no answer.
    add_rule(&env, json!({"origin":"smh","method":"PUT","path":"/api/v1/file/","action":{"type":"dropReply"}})).await;
    let lost = env.req(reqwest::Method::PUT, &env.file_url("lost-begin.bin"), &env.admin, &[]).send().await;
    let err = lost.expect_err("a dropped reply is a network error");
    assert!(!err.is_status() && !err.is_timeout(), "{err}");
    let open = env.dev_get("uploads").await;
    let tasks = open["smh"].as_array().unwrap();
    assert_eq!(tasks.len(), 1, "{open}");
    assert_eq!(tasks[0]["path"], "lost-begin.bin");

    // part PUT: the part is stored.
    let auth = multipart(&env, "lost-part.bin").await;
    add_rule(&env, json!({"origin":"cos","query":"partNumber","action":{"type":"dropReply"}})).await;
    let part = data(4096, 9);
    assert!(try_put(&env, &auth, part.clone(), Some(1)).await.is_err());
    let uploads = env.dev_get("uploads").await;
    let upload = uploads["cos"].as_array().unwrap().iter().find(|u| u["uploadId"] == auth["uploadId"]).unwrap().clone();
    assert_eq!(upload["parts"], 1, "{uploads}");

    // confirm: the file is committed.
    let (_, auth) = env.begin("lost-confirm.bin", false, &[], None).await;
    let bytes = data(777, 3);
    assert_eq!(try_put(&env, &auth, bytes.clone(), None).await.unwrap(), 200);
    add_rule(&env, json!({"origin":"smh","method":"POST","query":"confirm","action":{"type":"dropReply"}})).await;
    let key = auth["confirmKey"].as_str().unwrap();
    let lost = env
        .req(reqwest::Method::POST, &env.url("file", key), &env.admin, &[("confirm", "")])
        .json(&json!({ "crc64": crc64(&bytes).to_string() }))
        .send()
        .await;
    assert!(lost.is_err(), "confirm reply must be lost");
    let objects = env.objects().await;
    let file = objects.iter().find(|o| o["smhPath"] == "lost-confirm.bin").expect("confirmed file");
    assert_eq!(file["size"], 777);

    // Each lost reply is logged with fault dropReply and status 0.
    let log = env.dev_get("log").await;
    let dropped: Vec<(&str, u64)> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["fault"] == "dropReply")
        .map(|e| (e["op"].as_str().unwrap(), e["status"].as_u64().unwrap()))
        .collect();
    assert_eq!(dropped, [("begin", 0), ("UploadPart", 0), ("confirm", 0)]);
}
