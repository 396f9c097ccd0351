//! The app origin: `POST /token`, its CORS, static content, and the `/_dev/` hooks' shapes.

mod common;
mod support;

use reqwest::Method;
use serde_json::{json, Value};
use support::{assert_smh_error, json_of, Env};

#[tokio::test]
async fn token_endpoint() {
    let env = Env::start(&[]).await;
    let url = format!("{}/token", env.app());
    // Default grant: upload-capable, not admin.
    let (status, body) = json_of(env.http.post(&url).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(body["expiresIn"], 86400);
    let token = body["accessToken"].as_str().unwrap().to_string();
    assert_eq!(env.req(Method::PUT, &env.dir_url("d"), &token, &[]).send().await.unwrap().status(), 201);
    let (status, _) = json_of(
        env.req(Method::PUT, &env.file_url("d/a.bin"), &token, &[("conflict_resolution_strategy", "overwrite")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201);
    assert_smh_error(
        env.req(Method::DELETE, &env.dir_url("d"), &token, &[]).send().await.unwrap(),
        403,
        "NoPermission",
    )
    .await;
    // Grant as an array, period as a string, user id.
    let (status, body) = json_of(
        env.http
            .post(&url)
            .json(&json!({ "grant": ["create_directory"], "period": "30", "userId": "u1" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status.as_u16(), body["expiresIn"].as_u64()), (200, Some(30)));
    let t = body["accessToken"].as_str().unwrap();
    assert_smh_error(env.req(Method::PUT, &env.file_url("b.bin"), t, &[]).send().await.unwrap(), 403, "NoPermission")
        .await;
    // SMH errors pass through; bad bodies are 400.
    let r = env.http.post(&url).json(&json!({ "grant": "nonsense" })).send().await.unwrap();
    assert_smh_error(r, 400, "ParamInvalid").await;
    assert_eq!(env.http.post(&url).body("{").send().await.unwrap().status(), 400);
    assert_eq!(env.http.post(&url).json(&json!({ "grant": 5 })).send().await.unwrap().status(), 400);
    assert_eq!(env.http.post(&url).json(&json!({ "secret": "x" })).send().await.unwrap().status(), 400);

    // CORS: any loopback origin, nothing for others.
    for origin in ["http://127.0.0.1:5173", "http://localhost:8080"] {
        let r = env
            .http
            .request(Method::OPTIONS, &url)
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "content-type")
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        assert_eq!(r.headers()["access-control-allow-origin"], origin);
        assert_eq!(r.headers()["access-control-allow-headers"], "content-type");
        assert_eq!(r.headers()["access-control-max-age"], "600", "preflights are cached");
        let r = env.http.post(&url).header("Origin", origin).send().await.unwrap();
        assert_eq!(r.headers()["access-control-allow-origin"], origin);
    }
    let r = env.http.post(&url).header("Origin", "https://evil.example").send().await.unwrap();
    assert!(!r.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn builtin_page_and_static_dirs() {
    let env = Env::start(&[]).await;
    let r = env.http.get(format!("{}/", env.app())).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = r.text().await.unwrap();
    assert!(html.contains(&env.lib) && html.contains(&env.smh()));
    assert!(!html.contains(&env.server.library_secret()), "the page must not carry the secret");

    let root = common::temp_dir("static");
    std::fs::create_dir_all(root.join("www")).unwrap();
    std::fs::create_dir_all(root.join("pkg")).unwrap();
    std::fs::write(root.join("www/index.html"), "<p>demo</p>").unwrap();
    std::fs::write(root.join("pkg/smh_upload_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(root.join("pkg/smh_upload.js"), "export {}").unwrap();
    let www = root.join("www").display().to_string();
    let pkg = root.join("pkg").display().to_string();
    let env = Env::start(&["--www", &www, "--pkg", &pkg]).await;
    let get = |path: &str| env.http.get(format!("{}{path}", env.app())).send();
    let r = get("/").await.unwrap();
    assert_eq!(r.text().await.unwrap(), "<p>demo</p>");
    let r = get("/pkg/smh_upload_bg.wasm").await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/wasm");
    let r = get("/pkg/smh_upload.js").await.unwrap();
    assert!(r.headers()["content-type"].to_str().unwrap().contains("javascript"));
    assert_eq!(get("/pkg/missing.js").await.unwrap().status(), 404);
    // /token and /_dev still answer next to the static files.
    assert_eq!(env.http.post(format!("{}/token", env.app())).send().await.unwrap().status(), 200);
    let _ = std::fs::remove_dir_all(root);
}

#[tokio::test]
async fn dev_config_seed_and_shapes() {
    let env = Env::start(&[]).await;
    let config = env.dev_get("config").await;
    assert_eq!(
        config,
        json!({ "uploadTtlSeconds": 1800, "cosDomain": null, "minPartSize": 1048576, "quotaBytes": null, "maxJsonBody": 65536 })
    );
    let (status, config) = env
        .dev_post(
            "config",
            json!({ "uploadTtlSeconds": 5, "minPartSize": 1, "quotaBytes": 9, "cosDomain": "x.example:1" }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(config["uploadTtlSeconds"], 5);
    assert_eq!(config["cosDomain"], "x.example:1");
    let (status, _) = env.dev_post("config", json!({ "bogus": 1 })).await;
    assert_eq!(status, 400);
    let (status, _) = env.dev_post("config", json!({ "minPartSize": "big" })).await;
    assert_eq!(status, 400);

    // Seed: base64 or size+byte, creates parents, answers file info.
    let (status, info) = env.dev_post("seed", json!({ "path": "a/b/c.txt", "base64": "aGVsbG8=" })).await;
    assert_eq!(status, 201, "{info}");
    assert_eq!((info["path"].clone(), info["size"].clone()), (json!(["a", "b", "c.txt"]), json!("5")));
    for bad in [
        json!({ "path": "x" }),
        json!({ "path": "x", "base64": "!!" }),
        json!({ "path": "a/../b", "size": 1 }),
        json!({ "path": "x", "spaceId": "nope", "size": 1 }),
    ] {
        let (status, _) = env.dev_post("seed", bad.clone()).await;
        assert!(status.is_client_error(), "{bad} → {status}");
    }
    let objects = env.objects().await;
    assert_eq!(objects.len(), 1);
    let o = &objects[0];
    for field in ["key", "sha256", "crc64", "etag", "smhPath", "spaceId"] {
        assert!(o[field].is_string(), "{field} in {o}");
    }
    assert_eq!(o["size"], 5);
    assert_eq!(o["sha256"], "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
    // Uploads listing shape.
    let (_, auth) = env.begin("a/m.bin", true, &[], None).await;
    let uploads = env.dev_get("uploads").await;
    let task = &uploads["smh"][0];
    assert_eq!(
        (task["confirmKey"].clone(), task["kind"].as_str(), task["path"].as_str()),
        (auth["confirmKey"].clone(), Some("multipart"), Some("a/m.bin"))
    );
    assert_eq!(uploads["cos"][0]["uploadId"], auth["uploadId"]);
    assert_eq!(uploads["cos"][0]["parts"], 0);
    let v: Value = env.dev_get("faults").await;
    assert_eq!(v, json!({ "rules": [] }));
}

/// `GET /_dev/ready`: the READY data a page may see — where SMH and COS are — never a secret.
#[tokio::test]
async fn dev_ready_has_no_secrets() {
    let env = Env::start(&[]).await;
    let r =
        env.http.get(format!("{}/_dev/ready", env.app())).header("Origin", "http://127.0.0.1:1").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], "http://127.0.0.1:1");
    let text = r.text().await.unwrap();
    let ready: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(ready["app"], env.app());
    assert_eq!(ready["smh"], env.smh());
    assert_eq!(ready["libraryId"], env.lib);
    assert_eq!(ready["spaceId"], env.space);
    assert_eq!(format!("http://{}", ready["cos"].as_str().unwrap()), env.server.cos());
    for secret in ["librarySecret", "secretId", "secretKey"] {
        assert!(ready.get(secret).is_none(), "{secret} must not be served");
        let value = env.server.get(secret);
        assert!(!value.is_empty() && !text.contains(&value), "the value of {secret} leaked");
    }
}
