//! SMH uploads end to end (docs/smh-api.md §5): begin → PUT to the cos origin with exactly the returned
//! headers → confirm, for simple and multipart uploads; quick upload; conflicts; renew; cancel;
//! every documented confirm error. The bucket's truth comes from `/_dev/objects`.

mod common;
mod support;

use reqwest::Method;
use serde_json::{json, Value};
use support::{assert_smh_error, crc64, data, json_of, sha256_hex, Env};

/// Small parts keep the tests fast; the rule is the same.
async fn small_parts(env: &Env) {
    let (status, _) = env.dev_post("config", json!({ "minPartSize": 1024 })).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn simple_round_trip() {
    let env = Env::start(&[]).await;
    env.mkdir("dir").await;
    let bytes = data(5000, 1);
    let (status, auth) = env.begin("dir/a.bin", false, &[("filesize", "5000")], None).await;
    assert_eq!(status, 201, "{auth}");
    assert_eq!(auth["domain"], env.server.get("cos"));
    assert!(auth["path"].as_str().unwrap().starts_with(&format!("/{}/-/", env.lib)), "opaque key: {auth}");
    assert!(auth["headers"]["Authorization"].as_str().unwrap().starts_with("q-sign-algorithm=sha1&"));
    assert!(auth["headers"]["x-cos-security-token"].is_string());
    assert!(auth["expiration"].as_str().unwrap().ends_with(".000Z"));
    assert_eq!(auth["availableDomainNum"], 1);
    assert!(auth.get("uploadId").is_none());
    // Nothing exists before confirm.
    assert_eq!(env.req(Method::HEAD, &env.file_url("dir/a.bin"), &env.admin, &[]).send().await.unwrap().status(), 404);

    let put = env.cos_put(&auth, bytes.clone(), None).await;
    assert_eq!(put.status(), 200);
    assert_eq!(put.headers()["x-cos-hash-crc64ecma"], crc64(&bytes).to_string().as_str());
    let confirm_key = auth["confirmKey"].as_str().unwrap();
    let (status, info) = env.confirm(confirm_key, Some(crc64(&bytes)), &[]).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["path"], json!(["dir", "a.bin"]));
    assert_eq!((info["name"].as_str(), info["size"].as_str()), (Some("a.bin"), Some("5000")));
    assert_eq!(info["crc64"], crc64(&bytes).to_string());
    assert_eq!(info["isOverwritten"], false);

    // The bucket holds exactly these bytes, linked to the SMH path.
    let objects = env.objects().await;
    assert_eq!(objects.len(), 1);
    let object = &objects[0];
    assert_eq!(format!("/{}", object["key"].as_str().unwrap()), auth["path"].as_str().unwrap());
    assert_eq!((object["size"].as_u64(), object["sha256"].as_str()), (Some(5000), Some(sha256_hex(&bytes).as_str())));
    assert_eq!(object["crc64"], crc64(&bytes).to_string());
    assert_eq!((object["smhPath"].as_str(), object["spaceId"].as_str()), (Some("dir/a.bin"), Some("-")));

    // Info, HEAD, download redirect (a signed COS URL that really serves the bytes).
    let (status, got) =
        json_of(env.req(Method::GET, &env.file_url("dir/a.bin"), &env.admin, &[("info", "")]).send().await.unwrap())
            .await;
    assert_eq!((status.as_u16(), got["size"].as_str()), (200, Some("5000")));
    let (_, dir_info) =
        json_of(env.req(Method::GET, &env.dir_url("dir/a.bin"), &env.admin, &[("info", "")]).send().await.unwrap())
            .await;
    assert_eq!(dir_info["size"], "5000");
    let head = env.req(Method::HEAD, &env.file_url("dir/a.bin"), &env.admin, &[]).send().await.unwrap();
    assert_eq!(head.headers()["x-smh-size"], "5000");
    let redirect = env.req(Method::GET, &env.file_url("dir/a.bin"), &env.admin, &[]).send().await.unwrap();
    assert_eq!(redirect.status(), 302);
    let location = redirect.headers()["location"].to_str().unwrap().to_string();
    let body = env.http.get(&location).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(&body[..], &bytes[..]);

    // The task is done: 2nd confirm, renew and cancel → 409; its credentials are revoked.
    assert_eq!(env.confirm(confirm_key, None, &[]).await.1["code"], "UploadComplete");
    let r = env.req(Method::DELETE, &env.url("file", confirm_key), &env.admin, &[("upload", "")]).send().await.unwrap();
    assert_smh_error(r, 409, "UploadComplete").await;
    assert_eq!(env.cos_put(&auth, b"again".to_vec(), None).await.status(), 403);
    // Delete the file: object gone.
    assert_eq!(
        env.req(Method::DELETE, &env.file_url("dir/a.bin"), &env.admin, &[]).send().await.unwrap().status(),
        204
    );
    assert!(env.objects().await.is_empty());
    assert_smh_error(
        env.req(Method::GET, &env.file_url("dir/a.bin"), &env.admin, &[("info", "")]).send().await.unwrap(),
        404,
        "FileNotFound",
    )
    .await;
}

#[tokio::test]
async fn multipart_round_trip_and_query() {
    let env = Env::start(&[]).await;
    small_parts(&env).await;
    let bytes = data(2 * 1024 + 100, 2);
    let (status, auth) = env.begin("big.bin", true, &[], Some(json!({ "size": bytes.len().to_string() }))).await;
    assert_eq!(status, 201, "{auth}");
    let upload_id = auth["uploadId"].as_str().unwrap().to_string();
    let confirm_key = auth["confirmKey"].as_str().unwrap().to_string();
    for (i, chunk) in bytes.chunks(1024).enumerate() {
        let r = env.cos_put(&auth, chunk.to_vec(), Some(i as u32 + 1)).await;
        assert_eq!(r.status(), 200);
        assert!(r.headers().contains_key("etag"));
    }
    // Query shows the parts (COS ListParts passthrough, PascalCase) and fresh upload parameters.
    let r = env.req(Method::GET, &env.url("file", &confirm_key), &env.admin, &[("upload", "")]).send().await.unwrap();
    let (status, task) = json_of(r).await;
    assert_eq!(status, 200, "{task}");
    assert_eq!((task["confirmed"].as_bool(), task["uploadId"].as_str()), (Some(false), Some(upload_id.as_str())));
    let sizes: Vec<u64> = task["parts"].as_array().unwrap().iter().map(|p| p["Size"].as_u64().unwrap()).collect();
    assert_eq!(sizes, [1024, 1024, 100]);
    assert_eq!(task["path"], json!(["big.bin"]));
    assert!(task["uploadPartInfo"]["headers"]["Authorization"].is_string());
    let uploads = env.dev_get("uploads").await;
    assert_eq!((uploads["smh"].as_array().unwrap().len(), uploads["cos"].as_array().unwrap().len()), (1, 1));

    // Two confirms at once: exactly one wins, the other is 409.
    let (a, b) = tokio::join!(
        env.confirm(&confirm_key, Some(crc64(&bytes)), &[]),
        env.confirm(&confirm_key, Some(crc64(&bytes)), &[])
    );
    let mut statuses = [a.0.as_u16(), b.0.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{a:?} {b:?}");
    let info = if a.0 == 200 { a.1 } else { b.1 };
    assert_eq!(info["size"], bytes.len().to_string());
    let objects = env.objects().await;
    assert_eq!(objects[0]["sha256"], sha256_hex(&bytes));
    assert_eq!(objects[0]["smhPath"], "big.bin");
    let uploads = env.dev_get("uploads").await;
    assert_eq!(uploads, json!({ "smh": [], "cos": [] }));
    let r = env.req(Method::GET, &env.url("file", &confirm_key), &env.admin, &[("upload", "")]).send().await.unwrap();
    assert_eq!(json_of(r).await.1["confirmed"], true);
}

#[tokio::test]
async fn confirm_errors_keep_the_task_open() {
    let env = Env::start(&[]).await;
    small_parts(&env).await;
    // Simple: confirm before the PUT.
    let (_, auth) = env.begin("s.bin", false, &[], None).await;
    let key = auth["confirmKey"].as_str().unwrap();
    assert_eq!(env.confirm(key, None, &[]).await.1["code"], "UploadIncomplete");
    // Wrong crc64 → 400 BadCrc64, task still open; the right one then succeeds.
    let bytes = data(300, 3);
    assert_eq!(env.cos_put(&auth, bytes.clone(), None).await.status(), 200);
    let (status, err) = env.confirm(key, Some(crc64(&bytes) ^ 1), &[]).await;
    assert_eq!((status.as_u16(), err["code"].as_str()), (400, Some("BadCrc64")));
    assert!(env.objects().await[0]["smhPath"].is_null());
    assert_eq!(env.confirm(key, Some(crc64(&bytes)), &[]).await.0, 200);

    // Multipart: no parts, a gap, a small non-last part, a bad CRC.
    let (_, auth) = env.begin("m.bin", true, &[], None).await;
    let key = auth["confirmKey"].as_str().unwrap();
    assert_eq!(env.confirm(key, None, &[]).await.1["code"], "MultipartUploadIncomplete");
    let p1 = data(1024, 4);
    let p3 = data(10, 5);
    env.cos_put(&auth, p1.clone(), Some(1)).await;
    env.cos_put(&auth, p3.clone(), Some(3)).await;
    assert_eq!(env.confirm(key, None, &[]).await.1["code"], "MultipartUploadIncomplete");
    let small = data(500, 6);
    env.cos_put(&auth, small.clone(), Some(2)).await;
    assert_eq!(env.confirm(key, None, &[]).await.1["code"], "MultipartUploadPartTooSmall");
    let p2 = data(1024, 7);
    env.cos_put(&auth, p2.clone(), Some(2)).await;
    let whole: Vec<u8> = [p1, p2, p3].concat();
    let (status, err) = env.confirm(key, Some(crc64(&whole).wrapping_add(1)), &[]).await;
    assert_eq!((status.as_u16(), err["code"].as_str()), (400, Some("BadCrc64")));
    // Nothing assembled yet: the COS upload is still open.
    assert_eq!(env.dev_get("uploads").await["cos"].as_array().unwrap().len(), 1);
    let (status, info) = env.confirm(key, Some(crc64(&whole)), &[]).await;
    assert_eq!((status.as_u16(), info["size"].as_str()), (200, Some("2058")));

    // Unknown confirmKey everywhere → 404 UploadNotFound; bad crc64 syntax → 400.
    let unknown = env.url("file", "0123456789abcdef0123456789abcdef");
    for (method, flag) in
        [(Method::POST, "confirm"), (Method::POST, "renew"), (Method::GET, "upload"), (Method::DELETE, "upload")]
    {
        let r = env.req(method, &unknown, &env.admin, &[(flag, "")]).send().await.unwrap();
        assert_smh_error(r, 404, "UploadNotFound").await;
    }
    let (_, auth) = env.begin("c.bin", false, &[], None).await;
    let r = env
        .req(Method::POST, &env.url("file", auth["confirmKey"].as_str().unwrap()), &env.admin, &[("confirm", "")])
        .json(&json!({ "crc64": "abc" }))
        .send()
        .await
        .unwrap();
    assert_smh_error(r, 400, "ParamInvalid").await;
}

#[tokio::test]
async fn conflict_strategies_at_begin_and_confirm() {
    let env = Env::start(&[]).await;
    env.mkdir("d").await;
    assert_eq!(env.upload_simple("d/a.bin", b"one", &[]).await.0, 200);
    // ask at begin → 409.
    let (status, err) = env.begin("d/a.bin", false, &[("conflict_resolution_strategy", "ask")], None).await;
    assert_eq!((status.as_u16(), err["code"].as_str()), (409, Some("SameNameDirectoryOrFileExists")));
    // rename (the default) → "a (1).bin", then "a (2).bin".
    let (_, info) = env.upload_simple("d/a.bin", b"two", &[]).await;
    assert_eq!(info["path"], json!(["d", "a (1).bin"]));
    let (_, info) = env.upload_simple("d/a.bin", b"three", &[("conflict_resolution_strategy", "rename")]).await;
    assert_eq!(info["name"], "a (2).bin");
    // overwrite → replaces, old object deleted.
    let (_, info) = env.upload_simple("d/a.bin", b"four", &[("conflict_resolution_strategy", "overwrite")]).await;
    assert_eq!((info["isOverwritten"].as_bool(), info["size"].as_str()), (Some(true), Some("4")));
    assert_eq!(env.objects().await.len(), 3);
    // overwrite onto a directory → 409; unknown strategy → 400; missing parent → 404.
    env.mkdir("d/sub").await;
    let (status, _) = env.begin("d/sub", false, &[("conflict_resolution_strategy", "overwrite")], None).await;
    assert_eq!(status, 409);
    let (status, err) = env.begin("d/x.bin", false, &[("conflict_resolution_strategy", "never")], None).await;
    assert_eq!((status.as_u16(), err["code"].as_str()), (400, Some("InvalidConflictResolutionStrategy")));
    let (status, err) = env.begin("nodir/x.bin", true, &[], None).await;
    assert_eq!((status.as_u16(), err["code"].as_str()), (404, Some("DirectoryNotFound")));

    // Checked again at confirm: a file appears meanwhile.
    let (_, auth) = env.begin("d/late.bin", false, &[("conflict_resolution_strategy", "ask")], None).await;
    env.cos_put(&auth, b"late".to_vec(), None).await;
    env.dev_post("seed", json!({ "path": "d/late.bin", "base64": "" })).await;
    let key = auth["confirmKey"].as_str().unwrap();
    let (status, _) = env.confirm(key, None, &[]).await;
    assert_eq!(status, 409);
    // The strategy given at confirm overrides begin's.
    let (status, info) = env.confirm(key, None, &[("conflict_resolution_strategy", "rename")]).await;
    assert_eq!((status.as_u16(), info["name"].as_str()), (200, Some("late (1).bin")));
    // The parent deleted meanwhile → 404 DirectoryNotFound at confirm.
    env.mkdir("gone").await;
    let (_, auth) = env.begin("gone/x.bin", false, &[], None).await;
    env.cos_put(&auth, b"x".to_vec(), None).await;
    env.req(Method::DELETE, &env.dir_url("gone"), &env.admin, &[]).send().await.unwrap();
    let (status, err) = env.confirm(auth["confirmKey"].as_str().unwrap(), None, &[]).await;
    assert_eq!((status.as_u16(), err["code"].as_str()), (404, Some("DirectoryNotFound")));
}

#[tokio::test]
async fn quick_upload_202_then_200_without_bytes() {
    let env = Env::start(&[]).await;
    // The test vector of docs/smh-api.md §5.8: the server computes the same hashes from stored bytes.
    let bytes: Vec<u8> = (0..2 * 1024 * 1024).map(|i| (i % 256) as u8).collect();
    let beginning = "fbbab289f7f94b25736c58be46a994c441fd02552cc6022352e3d86d2fab7c83";
    let full = "1265d50fb492427896c2dbd7250cca60f30440769b086cf7e74a540a2e514744";
    let (status, _) = env.upload_simple("orig.bin", &bytes, &[]).await;
    assert_eq!(status, 200);
    env.dev_delete("log").await;

    let size = bytes.len().to_string();
    let (status, body) =
        env.begin("copy.bin", true, &[], Some(json!({ "size": size, "beginningHash": beginning }))).await;
    assert_eq!((status.as_u16(), body), (202, json!({})));
    // Wrong fullHash → a normal 201.
    let (status, _) = env
        .begin("copy.bin", false, &[], Some(json!({ "size": size, "beginningHash": beginning, "fullHash": "00" })))
        .await;
    assert_eq!(status, 201);
    // Matching fullHash → 200, file created now; numbers accepted for size.
    let (status, info) = env
        .begin(
            "copy.bin",
            true,
            &[],
            Some(json!({ "size": bytes.len(), "beginningHash": beginning, "fullHash": full })),
        )
        .await;
    assert_eq!(status, 200, "{info}");
    assert_eq!((info["path"].clone(), info["crc64"].clone()), (json!(["copy.bin"]), json!(crc64(&bytes).to_string())));
    // No byte reached the cos origin.
    let log: Vec<Value> = env.dev_get("log?origin=cos").await.as_array().unwrap().clone();
    assert!(log.iter().all(|e| e["bytesIn"] == 0), "{log:?}");
    assert!(!log.iter().any(|e| e["op"] == "UploadPart" || e["op"] == "PutObject"));
    let copy = env.objects().await.into_iter().find(|o| o["smhPath"] == "copy.bin").unwrap();
    assert_eq!(copy["sha256"], sha256_hex(&bytes));
    // Other sizes and small files are no candidates.
    let (status, _) =
        env.begin("x.bin", false, &[], Some(json!({ "size": "3000000", "beginningHash": beginning }))).await;
    assert_eq!(status, 201);
    // A seeded file is a candidate too.
    let (status, info) = env.dev_post("seed", json!({ "path": "seeded.bin", "size": 1048576, "byte": 7 })).await;
    assert_eq!(status, 201, "{info}");
    let seeded = vec![7u8; 1048576];
    let (status, _) =
        env.begin("y.bin", false, &[], Some(json!({ "size": "1048576", "beginningHash": sha256_hex(&seeded) }))).await;
    assert_eq!(status, 202);
}

#[tokio::test]
async fn renew_expire_and_cancel() {
    let env = Env::start(&[]).await;
    small_parts(&env).await;
    let (_, auth) = env.begin("r.bin", true, &[], None).await;
    let key = auth["confirmKey"].as_str().unwrap().to_string();
    let renew = env.url("file", &key);
    let (status, renewed) =
        json_of(env.req(Method::POST, &renew, &env.admin, &[("renew", "1")]).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!((renewed["uploadId"].clone(), renewed["confirmKey"].clone()), (auth["uploadId"].clone(), json!(key)));
    assert_ne!(renewed["headers"]["Authorization"], auth["headers"]["Authorization"]);
    // Both the old and the new authorisation work until they expire.
    assert_eq!(env.cos_put(&auth, data(1024, 1), Some(1)).await.status(), 200);
    assert_eq!(env.cos_put(&renewed, data(10, 2), Some(2)).await.status(), 200);
    // Expire every upload credential: COS answers 403 "Request has expired"; renew fixes it.
    env.dev_post("uploads/expire", json!({})).await;
    let r = env.cos_put(&renewed, data(10, 2), Some(2)).await;
    assert_eq!(r.status(), 403);
    let text = r.text().await.unwrap();
    assert!(text.contains("<Code>AccessDenied</Code>") && text.contains("Request has expired"), "{text}");
    let (_, fresh) = json_of(env.req(Method::POST, &renew, &env.admin, &[("renew", "")]).send().await.unwrap()).await;
    assert_eq!(env.cos_put(&fresh, data(10, 2), Some(2)).await.status(), 200);
    // A short TTL is reflected in `expiration`.
    env.dev_post("config", json!({ "uploadTtlSeconds": 60 })).await;
    let (_, short) = json_of(env.req(Method::POST, &renew, &env.admin, &[("renew", "")]).send().await.unwrap()).await;
    assert!(short["expiration"].as_str().unwrap() < fresh["expiration"].as_str().unwrap());

    // Cancel: 204, nothing left anywhere, later calls 404, credentials revoked.
    let r = env.req(Method::DELETE, &renew, &env.admin, &[("upload", "1")]).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(env.dev_get("uploads").await, json!({ "smh": [], "cos": [] }));
    assert!(env.objects().await.is_empty());
    assert_smh_error(
        env.req(Method::POST, &renew, &env.admin, &[("renew", "")]).send().await.unwrap(),
        404,
        "UploadNotFound",
    )
    .await;
    assert_eq!(env.confirm(&key, None, &[]).await.1["code"], "UploadNotFound");
    assert_eq!(env.cos_put(&fresh, data(10, 2), Some(3)).await.status(), 403);

    // Simple: renew is refused; cancel deletes the PUT object.
    let (_, simple) = env.begin("s.bin", false, &[], None).await;
    let skey = simple["confirmKey"].as_str().unwrap();
    let r = env.req(Method::POST, &env.url("file", skey), &env.admin, &[("renew", "")]).send().await.unwrap();
    assert_smh_error(r, 400, "ParamInvalid").await;
    env.cos_put(&simple, b"bytes".to_vec(), None).await;
    assert_eq!(env.objects().await.len(), 1);
    env.req(Method::DELETE, &env.url("file", skey), &env.admin, &[("upload", "")]).send().await.unwrap();
    assert!(env.objects().await.is_empty());
}

#[tokio::test]
async fn bodies_quota_and_domain() {
    let env = Env::start(&[]).await;
    // Oversized JSON → 413; malformed → 400; nothing stored.
    let big = json!({ "size": "1", "labels": ["x".repeat(70 * 1024)] });
    let (status, err) = env.begin("a.bin", false, &[], Some(big)).await;
    assert_eq!((status.as_u16(), err["code"].as_str()), (413, Some("RequestEntityTooLarge")));
    let r = env
        .req(Method::PUT, &env.file_url("a.bin"), &env.admin, &[])
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_smh_error(r, 400, "ParamInvalid").await;
    assert!(env.dev_get("uploads").await["smh"].as_array().unwrap().is_empty());
    // Quota on the announced size.
    env.dev_post("config", json!({ "quotaBytes": 10 })).await;
    let (status, err) = env.begin("a.bin", false, &[("filesize", "11")], None).await;
    assert_eq!((status.as_u16(), err["code"].as_str()), (400, Some("QuotaLimitReached")));
    env.dev_post("config", json!({ "quotaBytes": null })).await;
    // The domain override is what begin hands out.
    env.dev_post("config", json!({ "cosDomain": "examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com" })).await;
    let (status, auth) = env.begin("a.bin", false, &[("filesize", "11")], None).await;
    assert_eq!(
        (status.as_u16(), auth["domain"].as_str()),
        (201, Some("examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com"))
    );
    // x-smh-meta-* headers come back as metaData.
    env.dev_post("config", json!({ "cosDomain": null })).await;
    let (_, auth) = json_of(
        env.req(Method::PUT, &env.file_url("m.txt"), &env.admin, &[])
            .header("x-smh-meta-color", "blue")
            .send()
            .await
            .unwrap(),
    )
    .await;
    env.cos_put(&auth, b"hi".to_vec(), None).await;
    let (_, info) = env.confirm(auth["confirmKey"].as_str().unwrap(), None, &[]).await;
    assert_eq!(info["metaData"], json!({ "x-smh-meta-color": "blue" }));
    assert_eq!(info["contentType"], "text/plain");
}

/// `(beginningHash, fullHash)` of docs/smh-api.md §5.8, computed here independently of the server.
fn quick_hashes_of(bytes: &[u8]) -> (String, String) {
    use sha2::Digest;
    let mut chained: Option<[u8; 32]> = None;
    for block in bytes.chunks(1024 * 1024) {
        let mut sha = sha2::Sha256::new();
        if let Some(previous) = chained {
            sha.update(previous);
        }
        sha.update(block);
        chained = Some(sha.finalize().into());
    }
    (sha256_hex(&bytes[..bytes.len().min(1024 * 1024)]), hex::encode(chained.unwrap()))
}

/// Confirm of a multipart upload answers before the quick-upload hashes exist (they are
/// computed in the background from the linked parts); a quick upload of the same content sent
/// the moment confirm answers still hits, because the lookup waits for that size's hashing.
/// The copy shares the object's files (hard links): no byte is copied either.
#[tokio::test]
async fn quick_upload_hits_right_after_a_multipart_confirm() {
    use std::os::unix::fs::MetadataExt;
    let env = Env::start(&[]).await;
    let bytes = data(48 * 1024 * 1024 + 12345, 31);
    let (beginning, full) = quick_hashes_of(&bytes);
    let size = bytes.len().to_string();
    let (status, auth) =
        env.begin("orig.bin", true, &[], Some(json!({ "size": size, "beginningHash": beginning }))).await;
    assert_eq!(status, 201, "nothing to quick-upload from yet: {auth}");
    for (i, chunk) in bytes.chunks(8 * 1024 * 1024).enumerate() {
        assert_eq!(env.cos_put(&auth, chunk.to_vec(), Some(i as u32 + 1)).await.status(), 200);
    }
    let (status, info) = env.confirm(auth["confirmKey"].as_str().unwrap(), Some(crc64(&bytes)), &[]).await;
    assert_eq!(status, 200, "{info}");

    let body = json!({ "size": size, "beginningHash": beginning, "fullHash": full });
    let (status, info) = env.begin("copy.bin", true, &[], Some(body)).await;
    assert_eq!(status, 200, "quick upload right after confirm: {info}");
    assert_eq!(info["crc64"], crc64(&bytes).to_string());
    let objects = env.objects().await;
    assert_eq!(objects.len(), 2);
    assert!(objects.iter().all(|o| o["sha256"] == sha256_hex(&bytes)), "{objects:?}");

    // Both objects are directories holding the same files (inodes): linked, not copied.
    let objects_dir = env.server.data.join("objects");
    let mut inode_lists: Vec<Vec<u64>> = std::fs::read_dir(&objects_dir)
        .unwrap()
        .map(|object| {
            let object = object.unwrap().path();
            assert!(object.is_dir(), "{object:?}");
            let mut files: Vec<_> = std::fs::read_dir(&object).unwrap().map(|f| f.unwrap().path()).collect();
            files.sort();
            files.iter().map(|f| std::fs::metadata(f).unwrap().ino()).collect()
        })
        .collect();
    assert_eq!(inode_lists.len(), 2);
    assert_eq!(inode_lists[0].len(), 7, "one file per part");
    let second = inode_lists.pop().unwrap();
    assert_eq!(inode_lists[0], second);
}

/// A file confirmed while the server stopped before its quick-upload hashes were recorded (here:
/// its hashes erased in the database while the server was down) is hashed again on start-up.
#[tokio::test]
async fn quick_hashes_missing_at_start_up_are_computed_again() {
    let dir = common::temp_dir("quick-resume");
    let bytes = data(3 * 1024 * 1024 + 5, 32);
    let (beginning, full) = quick_hashes_of(&bytes);
    {
        let mut env = Env::start_on(&dir, &[]).await;
        let (status, info) = env.upload_simple("orig.bin", &bytes, &[]).await;
        assert_eq!(status, 200, "{info}");
        env.server.kill();
    }
    let conn = rusqlite::Connection::open(dir.join("meta.sqlite")).unwrap();
    let erased = conn
        .execute("UPDATE smh_nodes SET beginning_hash = NULL, full_hash = NULL WHERE path = 'orig.bin'", [])
        .unwrap();
    assert_eq!(erased, 1);
    drop(conn);

    let env = Env::start_on(&dir, &[]).await;
    let body = json!({ "size": bytes.len().to_string(), "beginningHash": beginning, "fullHash": full });
    let (status, info) = env.begin("copy.bin", false, &[], Some(body)).await;
    assert_eq!(status, 200, "{info}");
    drop(env);
    let _ = std::fs::remove_dir_all(&dir);
}
