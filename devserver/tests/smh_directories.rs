//! SMH directory API (docs/smh-api.md §4), name rules, media-library and multi-album rules, CORS.

mod common;
mod support;

use reqwest::Method;
use serde_json::{json, Value};
use support::{assert_smh_error, json_of, Env};

#[tokio::test]
async fn create_list_head_delete() {
    let env = Env::start(&[]).await;
    // Parents are created; the answer names the full path.
    let (status, body) =
        json_of(env.req(Method::PUT, &env.dir_url("a/b/c"), &env.admin, &[("with_inode", "1")]).send().await.unwrap())
            .await;
    assert_eq!(status, 201);
    assert_eq!(body["path"], json!(["a", "b", "c"]));
    assert!(body["inode"].is_string() && body["creationTime"].as_str().unwrap().ends_with('Z'));
    // ask (default) → 409; rename → "c (1)".
    assert_smh_error(
        env.req(Method::PUT, &env.dir_url("a/b/c"), &env.admin, &[]).send().await.unwrap(),
        409,
        "SameNameDirectoryOrFileExists",
    )
    .await;
    let (_, body) = json_of(
        env.req(Method::PUT, &env.dir_url("a/b/c"), &env.admin, &[("conflict_resolution_strategy", "rename")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body["path"], json!(["a", "b", "c (1)"]));
    let r = env
        .req(Method::PUT, &env.dir_url("a/x"), &env.admin, &[("conflict_resolution_strategy", "bogus")])
        .send()
        .await
        .unwrap();
    assert_smh_error(r, 400, "InvalidConflictResolutionStrategy").await;
    // `%2F` separates like `/`.
    let r = env.req(Method::PUT, &env.url("directory", "a%2Fslash%2Fd"), &env.admin, &[]).send().await.unwrap();
    assert_eq!(json_of(r).await.1["path"], json!(["a", "slash", "d"]));
    // HEAD.
    assert_eq!(env.req(Method::HEAD, &env.dir_url("a/b"), &env.admin, &[]).send().await.unwrap().status(), 200);
    assert_eq!(env.req(Method::HEAD, &env.dir_url("a/nope"), &env.admin, &[]).send().await.unwrap().status(), 404);
    // A file in the way of a directory path → 409.
    env.dev_post("seed", json!({ "path": "a/file.txt", "base64": "aGk=" })).await;
    assert_smh_error(
        env.req(Method::PUT, &env.dir_url("a/file.txt/sub"), &env.admin, &[]).send().await.unwrap(),
        409,
        "SameNameDirectoryOrFileExists",
    )
    .await;
    // Listing: dirs first, then files; size and crc64 are strings.
    let (status, body) = json_of(env.req(Method::GET, &env.dir_url("a"), &env.admin, &[]).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(body["path"], json!(["a"]));
    let names: Vec<&str> = body["contents"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["b", "slash", "file.txt"]);
    let file = &body["contents"][2];
    assert_eq!(
        (file["type"].as_str(), file["size"].as_str(), file["crc64"].is_string()),
        (Some("file"), Some("2"), true)
    );
    assert!(body.get("nextMarker").is_none());
    // Missing dir → 404; a file is not a directory.
    assert_smh_error(
        env.req(Method::GET, &env.dir_url("zz"), &env.admin, &[]).send().await.unwrap(),
        404,
        "DirectoryNotFound",
    )
    .await;
    assert_smh_error(
        env.req(Method::GET, &env.dir_url("a/file.txt"), &env.admin, &[]).send().await.unwrap(),
        404,
        "DirectoryNotFound",
    )
    .await;
    // Delete recursively (its file's object goes too).
    let delete_token = env.token(json!({ "grant": "delete_file" })).await;
    assert_smh_error(
        env.req(Method::DELETE, &env.dir_url("a"), &delete_token, &[]).send().await.unwrap(),
        403,
        "NoPermission",
    )
    .await;
    assert_eq!(env.objects().await.len(), 1);
    assert_eq!(env.req(Method::DELETE, &env.dir_url("a"), &env.admin, &[]).send().await.unwrap().status(), 204);
    assert_eq!(env.req(Method::HEAD, &env.dir_url("a/b/c"), &env.admin, &[]).send().await.unwrap().status(), 404);
    assert!(env.objects().await.is_empty());
    let (_, root) = json_of(env.req(Method::GET, &env.dir_url(""), &env.admin, &[]).send().await.unwrap()).await;
    assert_eq!(root, json!({ "path": [], "contents": [] }));
}

#[tokio::test]
async fn list_paging_with_marker() {
    let env = Env::start(&[]).await;
    for name in ["d3", "d1", "d2"] {
        env.mkdir(&format!("p/{name}")).await;
    }
    for name in ["f2", "f1"] {
        env.dev_post("seed", json!({ "path": format!("p/{name}"), "base64": "" })).await;
    }
    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let mut q = vec![("limit", "2".to_string()), ("by-marker", "1".to_string())];
        if let Some(m) = &marker {
            q.push(("marker", m.clone()));
        }
        let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, body) =
            json_of(env.req(Method::GET, &env.dir_url("p"), &env.admin, &q).send().await.unwrap()).await;
        assert_eq!(status, 200, "{body}");
        seen.extend(body["contents"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap().to_string()));
        match body.get("nextMarker").and_then(Value::as_str) {
            Some(m) => marker = Some(m.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, ["d1", "d2", "d3", "f1", "f2"]);
    assert_smh_error(
        env.req(Method::GET, &env.dir_url("p"), &env.admin, &[("marker", "garbage")]).send().await.unwrap(),
        404,
        "MarkerNotFound",
    )
    .await;
    let (_, body) =
        json_of(env.req(Method::GET, &env.dir_url("p"), &env.admin, &[("filter", "onlyFile")]).send().await.unwrap())
            .await;
    assert_eq!(body["contents"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn name_rules_store_nothing() {
    let env = Env::start(&[]).await;
    let long = "x".repeat(256);
    let cases = [
        ("a//b", 400, "EmptyFileName"),
        // Dot segments in raw form are resolved by the client URL parser; `%2F` keeps them.
        ("a%2F..%2Fb", 400, "IllegalFileName"),
        ("a%2F.%2Fb", 400, "IllegalFileName"),
        ("a%00b", 400, "IllegalFileName"),
        ("a%0Ab", 400, "IllegalFileName"),
        ("a%3Ab", 400, "IllegalFileName"),
        ("a%FFb", 400, "IllegalFileName"),
        (long.as_str(), 400, "DirectoryNameLengthExceed"),
    ];
    for (raw, status, code) in cases {
        let r = env.req(Method::PUT, &env.url("directory", raw), &env.admin, &[]).send().await.unwrap();
        assert_smh_error(r, status, code).await;
        let r = env.req(Method::PUT, &env.url("file", raw), &env.admin, &[]).send().await.unwrap();
        let file_code = if code == "DirectoryNameLengthExceed" { "FileNameLengthExceed" } else { code };
        assert_smh_error(r, status, file_code).await;
    }
    // 255 multi-byte characters are fine.
    env.mkdir(&"é".repeat(255)).await;
    let (_, root) = json_of(env.req(Method::GET, &env.dir_url(""), &env.admin, &[]).send().await.unwrap()).await;
    assert_eq!(root["contents"].as_array().unwrap().len(), 1);
    assert!(env.objects().await.is_empty());
    assert!(env.dev_get("uploads").await["smh"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn media_library_and_multi_album_rules() {
    let media = Env::start(&["--media-library"]).await;
    assert_smh_error(
        media.req(Method::PUT, &media.dir_url("album"), &media.admin, &[]).send().await.unwrap(),
        400,
        "DirectoryNotAllowed",
    )
    .await;
    assert_smh_error(
        media.req(Method::PUT, &media.file_url("doc.txt"), &media.admin, &[]).send().await.unwrap(),
        400,
        "ExtnameNotAllowed",
    )
    .await;
    assert_eq!(
        media.req(Method::PUT, &media.file_url("photo.jpg"), &media.admin, &[]).send().await.unwrap().status(),
        201
    );

    let albums = Env::start(&["--media-library", "--multi-album"]).await;
    albums.mkdir("trip").await;
    assert_smh_error(
        albums.req(Method::PUT, &albums.dir_url("trip/day1"), &albums.admin, &[]).send().await.unwrap(),
        400,
        "DirectoryLevelExceed",
    )
    .await;
    assert_smh_error(
        albums.req(Method::PUT, &albums.file_url("photo.jpg"), &albums.admin, &[]).send().await.unwrap(),
        400,
        "UploadToRootDirectoryNotAllowed",
    )
    .await;
    assert_smh_error(
        albums.req(Method::PUT, &albums.file_url("trip/a/photo.jpg"), &albums.admin, &[]).send().await.unwrap(),
        400,
        "DirectoryLevelExceed",
    )
    .await;
    let (status, auth) = albums.begin("trip/photo.jpg", false, &[], None).await;
    assert_eq!(status, 201);
    assert_eq!(auth["headers"]["Content-Type"], "image/jpeg");
    // Media libraries classify images in listings.
    albums.dev_post("seed", json!({ "path": "trip/seeded.png", "base64": "" })).await;
    let (_, body) =
        json_of(albums.req(Method::GET, &albums.dir_url("trip"), &albums.admin, &[]).send().await.unwrap()).await;
    assert_eq!(body["contents"][0]["type"], "image");
}

#[tokio::test]
async fn cors_on_every_response() {
    let env = Env::start(&[]).await;
    let origin = "http://127.0.0.1:9";
    let r = env
        .http
        .request(Method::OPTIONS, env.file_url("a.bin"))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "PUT")
        .header("Access-Control-Request-Headers", "content-type,x-smh-meta-a")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], origin);
    assert_eq!(r.headers()["access-control-allow-headers"], "content-type,x-smh-meta-a");
    assert!(r.headers()["access-control-allow-methods"].to_str().unwrap().contains("PUT"));
    assert_eq!(r.headers()["access-control-max-age"], "600", "preflights are cached");
    // Errors carry CORS too.
    let r = env.http.get(env.dir_url("")).header("Origin", origin).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["access-control-allow-origin"], origin);
    let exposed = r.headers()["access-control-expose-headers"].to_str().unwrap().to_ascii_lowercase();
    assert!(exposed.contains("x-request-id"), "{exposed}");
    // Unknown API → JSON 404.
    assert_smh_error(env.http.get(format!("{}/api/v1/nothing", env.smh())).send().await.unwrap(), 404, "ApiNotFound")
        .await;
}
