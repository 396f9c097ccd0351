//! The cos origin as a direct-to-COS uploader (smh-upload's `CosUploader`) meets it: keys minted
//! by the app origin's `POST /credentials` (STS and VOD shapes) signing the whole simple and
//! multipart flow, Content-Type and `x-cos-meta-*` kept, the CRC-64 of Complete, Abort leaving
//! nothing open (seen through `GET /_dev/uploads`), the clock-skew check with the server `Date`
//! on every answer, and the CORS exposure a page needs to read all of that.

mod common;
mod cos_client;
mod support;

use cos_client::{assert_cos_error, header, md5_hex, now, xml_values, Cos};
use reqwest::Method;
use serde_json::{json, Value};
use support::{crc64, data, Env};

/// A COS client signing with keys minted by `POST /credentials{query}` (`?shape=vod` or not).
async fn minted_client(env: &Env, query: &str, body: Value) -> Cos {
    let r = env.http.post(format!("{}/credentials{query}", env.app())).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let issued: Value = r.json().await.unwrap();
    let owner = Cos::owner(&env.server);
    if query.contains("vod") {
        let c = &issued["Response"]["Credentials"];
        owner.with_key(
            c["AccessKeyId"].as_str().unwrap(),
            c["SecretAccessKey"].as_str().unwrap(),
            c["SessionToken"].as_str(),
        )
    } else {
        let c = &issued["Credentials"];
        owner.with_key(c["TmpSecretId"].as_str().unwrap(), c["TmpSecretKey"].as_str().unwrap(), c["Token"].as_str())
    }
}

/// The COS multipart uploads open in the bucket, as `GET /_dev/uploads` reports them.
async fn open_multipart(env: &Env) -> Vec<Value> {
    env.dev_get("uploads").await["cos"].as_array().unwrap().clone()
}

/// Seconds between the server's `Date` header and this machine's clock.
fn date_offset(r: &reqwest::Response) -> i64 {
    let date = header(r, "date");
    let server = httpdate::parse_http_date(&date).unwrap_or_else(|e| panic!("Date {date:?}: {e}"));
    server.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64 - now()
}

#[tokio::test]
async fn minted_keys_sign_the_whole_flow_with_type_and_meta_kept() {
    let env = Env::start(&[]).await;
    env.dev_post("config", json!({ "minPartSize": 1024 })).await;
    for (shape, query) in [("sts", ""), ("vod", "?shape=vod")] {
        let cos = minted_client(&env, query, json!({ "prefix": "videos/" })).await;
        let typed = [("content-type", "video/mp4"), ("x-cos-meta-title", "Hello world"), ("x-cos-meta-owner", "u7")];

        // Below the threshold: one PutObject.
        let key = format!("videos/{shape}-small.mp4");
        let small = data(777, 1);
        let r = cos.signed(Method::PUT, &key, &[], &typed).body(small.clone()).send().await.unwrap();
        assert_eq!(r.status(), 200, "{shape}");
        assert_eq!(header(&r, "x-cos-hash-crc64ecma"), crc64(&small).to_string());
        assert_eq!(header(&r, "etag"), format!("\"{}\"", md5_hex(&small)));
        let head = cos.head(&key).await;
        assert_eq!(header(&head, "content-type"), "video/mp4");
        assert_eq!(header(&head, "x-cos-meta-title"), "Hello world");
        assert_eq!(header(&head, "x-cos-meta-owner"), "u7");

        // Above it: Initiate (type and meta given here) / UploadPart / ListParts / Complete.
        let key = format!("videos/{shape}-big.mp4");
        let r = cos.signed(Method::POST, &key, &[("uploads", "")], &typed).send().await.unwrap();
        assert_eq!(r.status(), 200, "{shape} initiate");
        let upload_id = xml_values(&r.text().await.unwrap(), "UploadId").remove(0);
        let parts = [data(2048, 2), data(2048, 3), data(100, 4)];
        let mut etags = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            let r = cos.put_part(&key, &upload_id, i as u32 + 1, part.clone()).await;
            assert_eq!(r.status(), 200, "{shape} part {i}");
            assert_eq!(header(&r, "x-cos-hash-crc64ecma"), crc64(part).to_string());
            etags.push((i as u32 + 1, header(&r, "etag")));
        }
        let listed = cos.signed(Method::GET, &key, &[("uploadId", &upload_id)], &[]).send().await.unwrap();
        assert_eq!(listed.status(), 200);
        let xml = listed.text().await.unwrap();
        assert_eq!(xml_values(&xml, "PartNumber"), ["1", "2", "3"]);
        assert_eq!(xml_values(&xml, "Size"), ["2048", "2048", "100"]);
        assert_eq!(xml_values(&xml, "ETag"), etags.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>());
        let open = open_multipart(&env).await;
        assert!(open.iter().any(|u| u["uploadId"] == upload_id.as_str() && u["parts"] == 3), "{open:?}");

        let r = cos.complete(&key, &upload_id, &etags).await;
        assert_eq!(r.status(), 200, "{shape} complete");
        let whole = parts.concat();
        assert_eq!(
            header(&r, "x-cos-hash-crc64ecma"),
            crc64(&whole).to_string(),
            "Complete carries the object's CRC-64"
        );
        let got = cos.get(&key).await;
        assert_eq!(header(&got, "content-type"), "video/mp4");
        assert_eq!(header(&got, "x-cos-meta-title"), "Hello world");
        assert_eq!(header(&got, "x-cos-hash-crc64ecma"), crc64(&whole).to_string());
        assert_eq!(got.bytes().await.unwrap().to_vec(), whole);
        assert!(open_multipart(&env).await.is_empty(), "Complete closes the upload");

        // Outside the minted prefix: refused at every step.
        let r = cos.signed(Method::POST, "other/x.mp4", &[("uploads", "")], &[]).send().await.unwrap();
        assert_cos_error(r, 403, "AccessDenied").await;
    }
}

#[tokio::test]
async fn abort_leaves_nothing_open() {
    let env = Env::start(&[]).await;
    env.dev_post("config", json!({ "minPartSize": 1024 })).await;
    let cos = minted_client(&env, "", json!({})).await;
    let key = "cancel/me.bin";
    let upload_id = cos.initiate(key).await;
    for n in 1..=2 {
        assert_eq!(cos.put_part(key, &upload_id, n, data(4096, n as u64)).await.status(), 200);
    }
    let open = open_multipart(&env).await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(
        (open[0]["key"].as_str(), open[0]["uploadId"].as_str(), open[0]["parts"].as_u64()),
        (Some(key), Some(upload_id.as_str()), Some(2))
    );

    let r = cos.signed(Method::DELETE, key, &[("uploadId", &upload_id)], &[]).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert!(open_multipart(&env).await.is_empty(), "nothing open after Abort");
    assert!(!env.server.data.join("uploads").join(&upload_id).exists(), "the parts' bytes are gone");
    assert!(env.objects().await.is_empty(), "no object either");
    let r = cos.signed(Method::GET, key, &[("uploadId", &upload_id)], &[]).send().await.unwrap();
    assert_cos_error(r, 404, "NoSuchUpload").await;
    assert_cos_error(cos.put_part(key, &upload_id, 3, b"late".to_vec()).await, 404, "NoSuchUpload").await;
}

#[tokio::test]
async fn a_clock_ahead_by_more_than_15_minutes_is_request_time_too_skewed() {
    let env = Env::start(&[]).await;
    let cos = minted_client(&env, "", json!({})).await;
    let send = |window: (i64, i64)| {
        let auth = cos.authorization("PUT", "skew.bin", &[], &[], window);
        cos.raw(Method::PUT, "skew.bin", &[], &[]).header("authorization", auth).body("x").send()
    };
    // An hour ahead (a page whose clock is wrong): refused, with the server's time to correct from.
    let r = send((now() + 3600, now() + 3600 + 900)).await.unwrap();
    assert!(date_offset(&r).abs() <= 2, "Date is the server's time");
    assert_cos_error(r, 403, "RequestTimeTooSkewed").await;
    // Just over the tolerance: skewed; within it but not yet begun: "Request has expired".
    let r = send((now() + 15 * 60 + 30, now() + 3600)).await.unwrap();
    assert_cos_error(r, 403, "RequestTimeTooSkewed").await;
    let r = send((now() + 300, now() + 3600)).await.unwrap();
    assert_eq!(assert_cos_error(r, 403, "AccessDenied").await, "Request has expired");
    // Behind: a window that started an hour ago still holds while it lasts (presigned URLs), and
    // is "Request has expired" once over — not skew.
    assert_eq!(send((now() - 3600, now() + 600)).await.unwrap().status(), 200);
    let r = send((now() - 3600, now() - 1800)).await.unwrap();
    assert_eq!(assert_cos_error(r, 403, "AccessDenied").await, "Request has expired");
    // Corrected (signed with the server's clock): accepted.
    let r = send((now() - 60, now() + 900)).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(env.objects().await.iter().filter(|o| o["key"] == "skew.bin").count() == 1);
}

#[tokio::test]
async fn every_answer_carries_date_and_pages_may_read_it() {
    let env = Env::start(&[]).await;
    let cos = minted_client(&env, "", json!({})).await;
    let page = "http://127.0.0.1:4321";
    let expose = |r: &reqwest::Response| -> Vec<String> {
        header(r, "access-control-expose-headers").split(',').map(|h| h.trim().to_ascii_lowercase()).collect()
    };
    let needed = ["date", "etag", "x-cos-hash-crc64ecma", "x-cos-request-id"];

    // Preflight of a signed PUT with a session token, meta and type.
    let preflight = cos
        .raw(
            Method::OPTIONS,
            "p.bin",
            &[],
            &[
                ("origin", page),
                ("access-control-request-method", "PUT"),
                ("access-control-request-headers", "authorization,content-type,x-cos-meta-a,x-cos-security-token"),
            ],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 200);
    assert!(date_offset(&preflight).abs() <= 2);
    assert!(header(&preflight, "access-control-allow-headers").contains("x-cos-security-token"));

    // A success, a COS error, and an injected fault: each with Date and the exposure.
    let ok = cos.signed(Method::PUT, "p.bin", &[], &[("origin", page)]).body("p").send().await.unwrap();
    let error = cos.signed(Method::GET, "missing.bin", &[], &[("origin", page)]).send().await.unwrap();
    let (status, _) = env
        .dev_post("faults", json!({ "origin": "cos", "method": "PUT", "action": { "type": "status", "status": 503 } }))
        .await;
    assert!(status.is_success());
    let fault = cos.signed(Method::PUT, "f.bin", &[], &[("origin", page)]).body("f").send().await.unwrap();
    for (what, r, status) in [("success", &ok, 200), ("error", &error, 404), ("fault", &fault, 503)] {
        assert_eq!(r.status().as_u16(), status, "{what}");
        assert!(date_offset(r).abs() <= 2, "{what}: Date");
        assert_eq!(header(r, "access-control-allow-origin"), page, "{what}: the page may read it");
        let exposed = expose(r);
        for name in needed {
            assert!(exposed.iter().any(|h| h == name), "{what}: {name} not exposed in {exposed:?}");
        }
    }
}
