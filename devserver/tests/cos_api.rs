//! The cos origin over HTTP, against the real binary: every operation's happy path, signature
//! and credential checks, Range, listings, multipart rules, short bodies, concurrency.

mod common;
mod cos_client;
mod support;

use std::io::{Read, Write};

use cos_client::*;
use reqwest::Method;
use serde_json::json;

use common::Devserver;

#[tokio::test]
async fn object_put_head_get_range_delete() {
    let server = Devserver::start(&[]);
    let cos = Cos::owner(&server);
    let key = "dir/中文 a+b%.txt";
    let body = b"hello world\n".to_vec();
    let md5 = base64_md5(&body);
    let r = cos
        .signed(
            Method::PUT,
            key,
            &[],
            &[("content-type", "text/plain"), ("x-cos-meta-author", "Jane Doe"), ("content-md5", &md5)],
        )
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "etag"), "\"6f5902ac237024bdd0c176cb93063dc4\"");
    assert_eq!(header(&r, "x-cos-hash-crc64ecma"), "14969823782951187105");
    assert_eq!(header(&r, "server"), "tencent-cos");
    assert!(!header(&r, "x-cos-request-id").is_empty());

    let r = cos.head(key).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-length"), "12");
    assert_eq!(header(&r, "content-type"), "text/plain");
    assert_eq!(header(&r, "x-cos-meta-author"), "Jane Doe");
    assert_eq!(header(&r, "x-cos-hash-crc64ecma"), crc64(&body).to_string());
    assert!(!header(&r, "last-modified").is_empty());

    let r = cos.get(key).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().to_vec(), body);

    let r = cos.signed(Method::GET, key, &[], &[("range", "bytes=6-10")]).send().await.unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(header(&r, "content-range"), "bytes 6-10/12");
    assert_eq!(header(&r, "x-cos-hash-crc64ecma"), crc64(&body).to_string(), "whole-object CRC on 206");
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"world");
    let r = cos.signed(Method::GET, key, &[], &[("range", "bytes=-3")]).send().await.unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"ld\n");
    let r = cos.signed(Method::GET, key, &[], &[("range", "bytes=12-")]).send().await.unwrap();
    assert_eq!(header(&r, "content-range"), "bytes */12");
    assert_cos_error(r, 416, "InvalidRange").await;

    // Virtual-host style (python `IP=`/`Port=` mode) reaches the same bucket; another bucket does not.
    let vhost = cos.virtual_host(&cos.bucket);
    assert_eq!(vhost.get(key).await.bytes().await.unwrap().to_vec(), body);
    let r = cos.virtual_host("otherbucket-1250000000").get(key).await;
    assert_cos_error(r, 404, "NoSuchBucket").await;
    assert_eq!(cos.signed(Method::HEAD, "", &[], &[]).send().await.unwrap().status(), 200);

    let r = cos.signed(Method::DELETE, key, &[], &[]).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_cos_error(cos.get(key).await, 404, "NoSuchKey").await;
    let r = cos.head(key).await;
    assert_eq!(r.status(), 404);
    assert!(r.bytes().await.unwrap().is_empty(), "HEAD errors have no body");
    assert_eq!(cos.signed(Method::DELETE, key, &[], &[]).send().await.unwrap().status(), 204);
}

fn base64_md5(bytes: &[u8]) -> String {
    use base64::Engine;
    use md5::Digest;
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(bytes))
}

#[tokio::test]
async fn put_body_checks() {
    let server = Devserver::start(&[]);
    let cos = Cos::owner(&server);
    let r = cos.signed(Method::PUT, "m", &[], &[("content-md5", "not base64!")]).body("x").send().await.unwrap();
    assert_cos_error(r, 400, "InvalidDigest").await;
    let wrong = base64_md5(b"y");
    let r = cos.signed(Method::PUT, "m", &[], &[("content-md5", &wrong)]).body("x").send().await.unwrap();
    assert_cos_error(r, 400, "BadDigest").await;
    // A streamed (chunked) body has no Content-Length.
    let stream = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"abc"))]);
    let r = cos.signed(Method::PUT, "m", &[], &[]).body(reqwest::Body::wrap_stream(stream)).send().await.unwrap();
    assert_cos_error(r, 411, "MissingContentLength").await;
    assert_eq!(cos.head("m").await.status(), 404);
    let r = cos.signed(Method::GET, "m", &[("acl", "")], &[]).send().await.unwrap();
    assert_cos_error(r, 501, "NotImplemented").await;
}

#[tokio::test]
async fn short_body_stores_nothing() {
    let server = Devserver::start(&[]);
    let cos = Cos::owner(&server);
    let auth = cos.authorization("PUT", "short.bin", &[], &[], (now() - 60, now() + 600));
    let mut tcp = std::net::TcpStream::connect(&cos.addr).unwrap();
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
    write!(
        tcp,
        "PUT /short.bin HTTP/1.1\r\nHost: {}\r\nAuthorization: {auth}\r\nContent-Length: 100\r\n\r\n",
        cos.addr
    )
    .unwrap();
    tcp.write_all(&[7u8; 50]).unwrap();
    tcp.shutdown(std::net::Shutdown::Write).unwrap();
    let mut response = String::new();
    let _ = tcp.read_to_string(&mut response);
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    assert!(response.contains("<Code>IncompleteBody</Code>"), "{response}");
    assert_eq!(cos.head("short.bin").await.status(), 404);
    let tmp = std::fs::read_dir(server.data.join("tmp")).unwrap().count();
    assert_eq!(tmp, 0, "temp file removed");
}

#[tokio::test]
async fn signature_checks() {
    let server = Devserver::start(&[]);
    let cos = Cos::owner(&server);
    assert_eq!(cos.put("k", b"v".to_vec()).await.status(), 200);
    let window = (now() - 60, now() + 600);

    // Missing → AccessDenied.
    assert_cos_error(cos.raw(Method::GET, "k", &[], &[]).send().await.unwrap(), 403, "AccessDenied").await;
    // Signed for another path.
    let auth = cos.authorization("GET", "other", &[], &[], window);
    let r = cos.raw(Method::GET, "k", &[], &[]).header("authorization", auth).send().await.unwrap();
    assert!(r.headers().contains_key("x-smh-debug-formatstring"));
    assert_cos_error(r, 403, "SignatureDoesNotMatch").await;
    // A signed header changed on the way.
    let auth = cos.authorization("GET", "k", &[], &[("range", "bytes=0-0")], window);
    let r =
        cos.raw(Method::GET, "k", &[], &[("range", "bytes=0-1")]).header("authorization", auth).send().await.unwrap();
    assert_cos_error(r, 403, "SignatureDoesNotMatch").await;
    // An unsigned extra header is fine.
    let auth = cos.authorization("GET", "k", &[], &[], window);
    let r = cos.raw(Method::GET, "k", &[], &[("x-cos-extra", "1")]).header("authorization", auth).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // A signed query parameter changed.
    let auth = cos.authorization("GET", "", &[("prefix", "a")], &[], window);
    let r = cos.raw(Method::GET, "", &[("prefix", "b")], &[]).header("authorization", auth).send().await.unwrap();
    assert_cos_error(r, 403, "SignatureDoesNotMatch").await;
    // Method changed.
    let auth = cos.authorization("HEAD", "k", &[], &[], window);
    let r = cos.raw(Method::GET, "k", &[], &[]).header("authorization", auth).send().await.unwrap();
    assert_cos_error(r, 403, "SignatureDoesNotMatch").await;
    // Unknown key id; right id with a wrong secret.
    let r = cos.with_key("AKIDnobody", "x", None).signed(Method::GET, "k", &[], &[]).send().await.unwrap();
    assert_cos_error(r, 403, "InvalidAccessKeyId").await;
    let r = cos.with_key(&cos.ak, "wrong-secret", None).signed(Method::GET, "k", &[], &[]).send().await.unwrap();
    assert_cos_error(r, 403, "SignatureDoesNotMatch").await;
    // Time window over, or not begun.
    for window in [(now() - 600, now() - 10), (now() + 100, now() + 600)] {
        let auth = cos.authorization("GET", "k", &[], &[], window);
        let r = cos.raw(Method::GET, "k", &[], &[]).header("authorization", auth).send().await.unwrap();
        assert_eq!(assert_cos_error(r, 403, "AccessDenied").await, "Request has expired");
    }
    // A refused large body is read before the answer, so the client sees the COS error (which
    // SDKs renew credentials on) rather than a reset connection.
    let auth = cos.authorization("PUT", "big", &[], &[], (now() - 600, now() - 10));
    let r = cos
        .raw(Method::PUT, "big", &[], &[])
        .header("authorization", auth)
        .body(vec![0u8; 8 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(assert_cos_error(r, 403, "AccessDenied").await, "Request has expired");

    // Host signed without the port (python signs the bare hostname).
    let bare = Cos { host: None, ..cos.clone() };
    let params: Vec<(String, String)> = vec![];
    let auth = smh_devserver::cos::sign::sign_authorization(
        &cos.ak,
        &cos.sk,
        window.0,
        window.1,
        "get",
        "/k",
        &params,
        &[("host".to_string(), "127.0.0.1".to_string())],
    );
    let r = bare.raw(Method::GET, "k", &[], &[]).header("authorization", auth).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // Empty header and param lists (what SMH hands out) cover any query and headers.
    let auth =
        smh_devserver::cos::sign::sign_authorization(&cos.ak, &cos.sk, window.0, window.1, "get", "/k", &[], &[]);
    let r = cos
        .raw(Method::GET, "k", &[("response-content-type", "x/y")], &[])
        .header("authorization", auth)
        .send()
        .await
        .unwrap();
    assert_eq!((r.status().as_u16(), header(&r, "content-type")), (200, "x/y".to_string()));
    // Presigned URL form; `;` raw (node) and percent-encoded (py).
    let auth = cos.authorization("GET", "k", &[], &[], window);
    for url in [format!("{}?{auth}", cos.url("k", &[])), format!("{}?{}", cos.url("k", &[]), auth.replace(';', "%3B"))]
    {
        let r = cos.http.get(url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.bytes().await.unwrap().as_ref(), b"v");
    }
    // OPTIONS needs no signature and answers CORS.
    let r = cos
        .raw(
            Method::OPTIONS,
            "k",
            &[],
            &[
                ("origin", "http://127.0.0.1:9"),
                ("access-control-request-method", "PUT"),
                ("access-control-request-headers", "authorization,x-cos-security-token"),
            ],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "access-control-allow-origin"), "http://127.0.0.1:9");
    assert_eq!(header(&r, "access-control-allow-headers"), "authorization,x-cos-security-token");
    assert_eq!(header(&r, "access-control-max-age"), "600", "preflights are cached");
    // The request after it may read ETag (what the JS SDKs complete multipart uploads with).
    let r = cos.signed(Method::GET, "k", &[], &[("origin", "http://127.0.0.1:9")]).send().await.unwrap();
    assert_eq!(header(&r, "access-control-allow-origin"), "http://127.0.0.1:9");
    assert!(header(&r, "access-control-expose-headers").to_ascii_lowercase().contains("etag"));
}

/// The temporary credential's secret, read from the data directory (SMH never reveals it).
fn temp_secret(server: &Devserver, ak: &str) -> String {
    let conn = rusqlite::Connection::open(server.data.join("meta.sqlite")).unwrap();
    conn.query_row("SELECT secret_key FROM cos_credentials WHERE secret_id = ?1", [ak], |r| r.get(0)).unwrap()
}

fn q_ak(authorization: &str) -> String {
    authorization.split('&').find_map(|kv| kv.strip_prefix("q-ak=")).unwrap().to_string()
}

#[tokio::test]
async fn temporary_credentials_token_scope_expiry() {
    let env = support::Env::start(&[]).await;
    let cos = Cos::owner(&env.server);

    // Simple upload authorisation: PutObject of its key only.
    let (status, simple) = env.begin("simple.bin", false, &[], None).await;
    assert_eq!(status, 201, "{simple}");
    let key = simple["path"].as_str().unwrap().trim_start_matches('/').to_string();
    let auth = simple["headers"]["Authorization"].as_str().unwrap().to_string();
    let token = simple["headers"]["x-cos-security-token"].as_str().unwrap().to_string();
    let ak = q_ak(&auth);
    let temp = cos.with_key(&ak, &temp_secret(&env.server, &ak), Some(&token));

    // Missing token, wrong token.
    let r = cos.raw(Method::PUT, &key, &[], &[]).header("authorization", &auth).body("x").send().await.unwrap();
    assert_cos_error(r, 403, "InvalidAccessKeyId").await;
    let r = cos
        .raw(Method::PUT, &key, &[], &[("x-cos-security-token", "nope")])
        .header("authorization", &auth)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_cos_error(r, 400, "InvalidToken").await;
    // Token in the query works like the header.
    let url = cos.url(&key, &[("x-cos-security-token", &token)]);
    let r = cos.http.put(url).header("authorization", &auth).body("x").send().await.unwrap();
    assert_eq!(r.status(), 200);
    // Out of scope: another key, another operation on its key.
    assert_cos_error(temp.put("other.bin", b"x".to_vec()).await, 403, "AccessDenied").await;
    assert_cos_error(temp.get(&key).await, 403, "AccessDenied").await;
    assert_cos_error(temp.signed(Method::DELETE, &key, &[], &[]).send().await.unwrap(), 403, "AccessDenied").await;
    assert_eq!(temp.put(&key, b"yz".to_vec()).await.status(), 200);

    // Multipart authorisation: UploadPart/ListParts of its upload only.
    let (status, multi) = env.begin("multi.bin", true, &[], Some(json!({ "size": 3 }))).await;
    assert!(status.is_success(), "{multi}");
    let mkey = multi["path"].as_str().unwrap().trim_start_matches('/').to_string();
    let upload_id = multi["uploadId"].as_str().unwrap().to_string();
    let mauth = multi["headers"]["Authorization"].as_str().unwrap().to_string();
    let mtoken = multi["headers"]["x-cos-security-token"].as_str().unwrap().to_string();
    let mak = q_ak(&mauth);
    let mtemp = cos.with_key(&mak, &temp_secret(&env.server, &mak), Some(&mtoken));
    assert_eq!(mtemp.put_part(&mkey, &upload_id, 1, b"abc".to_vec()).await.status(), 200);
    let r = mtemp.signed(Method::GET, &mkey, &[("uploadId", &upload_id)], &[]).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let other_upload = cos.initiate(&mkey).await;
    assert_cos_error(mtemp.put_part(&mkey, &other_upload, 1, b"abc".to_vec()).await, 403, "AccessDenied").await;
    assert_cos_error(mtemp.put(&mkey, b"abc".to_vec()).await, 403, "AccessDenied").await;
    assert_cos_error(mtemp.complete(&mkey, &upload_id, &[(1, String::new())]).await, 403, "AccessDenied").await;
    // The SMH-issued header (empty lists) works for any part number.
    let url = cos.url(&mkey, &[("partNumber", "2"), ("uploadId", &upload_id)]);
    let r = cos
        .http
        .put(url)
        .header("authorization", &mauth)
        .header("x-cos-security-token", &mtoken)
        .body("d")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Expired (test hook) → "Request has expired", which SDKs renew on.
    let (status, _) = env.dev_post("uploads/expire", json!({})).await;
    assert!(status.is_success());
    let r = mtemp.put_part(&mkey, &upload_id, 1, b"abc".to_vec()).await;
    assert_eq!(assert_cos_error(r, 403, "AccessDenied").await, "Request has expired");
}

#[tokio::test]
async fn multipart_happy_path_and_listing() {
    let server = Devserver::start(&[]);
    let cos = Cos::owner(&server);
    let key = "big/f.bin";
    let sizes = [1 << 20, 1 << 20, 12345];
    let parts: Vec<Vec<u8>> = sizes.iter().enumerate().map(|(i, n)| data(*n, i as u64 + 1)).collect();
    let upload_id = cos.initiate(key).await;
    assert_eq!(upload_id.len(), 64);
    assert!(upload_id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    let mut etags = vec![String::new(); 3];
    for i in [2usize, 0, 1] {
        let r = cos.put_part(key, &upload_id, i as u32 + 1, parts[i].clone()).await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "etag"), format!("\"{}\"", md5_hex(&parts[i])));
        assert_eq!(header(&r, "x-cos-hash-crc64ecma"), crc64(&parts[i]).to_string());
        etags[i] = header(&r, "etag");
    }
    // Re-uploading a part replaces it.
    let r = cos.put_part(key, &upload_id, 3, parts[2].clone()).await;
    assert_eq!(r.status(), 200);

    // ListParts, paged.
    let r = cos
        .signed(Method::GET, key, &[("uploadId", &upload_id), ("max-parts", "2"), ("encoding-type", "url")], &[])
        .send()
        .await
        .unwrap();
    let xml = r.text().await.unwrap();
    assert_eq!(xml_values(&xml, "PartNumber"), vec!["1", "2"]);
    assert_eq!(xml_values(&xml, "IsTruncated"), vec!["true"]);
    assert_eq!(xml_values(&xml, "Key"), vec!["big%2Ff.bin"]);
    let r = cos
        .signed(Method::GET, key, &[("uploadId", &upload_id), ("part-number-marker", "2")], &[])
        .send()
        .await
        .unwrap();
    let xml = r.text().await.unwrap();
    assert_eq!(xml_values(&xml, "PartNumber"), vec!["3"]);
    assert_eq!(xml_values(&xml, "Size"), vec!["12345"]);
    assert_eq!(xml_values(&xml, "IsTruncated"), vec!["false"]);

    // ListMultipartUploads as python asks it.
    let q = [
        ("uploads", ""),
        ("prefix", key),
        ("delimiter", ""),
        ("key-marker", ""),
        ("upload-id-marker", ""),
        ("max-uploads", "1000"),
        ("encoding-type", "url"),
    ];
    let xml = cos.signed(Method::GET, "", &q, &[]).send().await.unwrap().text().await.unwrap();
    assert_eq!(xml_values(&xml, "UploadId"), vec![upload_id.clone()]);
    assert_eq!(xml_values(&xml, "Key"), vec!["big%2Ff.bin"]);

    let numbered: Vec<(u32, String)> = etags.iter().enumerate().map(|(i, e)| (i as u32 + 1, e.clone())).collect();
    let r = cos.complete(key, &upload_id, &numbered).await;
    assert_eq!(r.status(), 200);
    let whole: Vec<u8> = parts.concat();
    assert_eq!(header(&r, "x-cos-hash-crc64ecma"), crc64(&whole).to_string());
    let xml = r.text().await.unwrap();
    let etag = xml_values(&xml, "ETag").remove(0);
    assert!(etag.starts_with('"') && etag.ends_with("-3\""), "{etag}");
    let r = cos.get(key).await;
    assert_eq!(header(&r, "etag"), etag);
    assert_eq!(r.bytes().await.unwrap().to_vec(), whole);
    // Consumed.
    assert_cos_error(cos.complete(key, &upload_id, &numbered).await, 404, "NoSuchUpload").await;
    let xml = cos.signed(Method::GET, "", &[("uploads", "")], &[]).send().await.unwrap().text().await.unwrap();
    assert!(xml_values(&xml, "UploadId").is_empty());
}

#[tokio::test]
async fn multipart_rules() {
    let server = Devserver::start(&[]);
    let cos = Cos::owner(&server);
    let key = "rules.bin";
    let id = cos.initiate(key).await;
    let small = data(100 * 1024, 1);
    let mut etags = Vec::new();
    for n in 1..=3 {
        etags.push((n, header(&cos.put_part(key, &id, n, small.clone()).await, "etag")));
    }
    assert_cos_error(cos.complete(key, &id, &[etags[1].clone(), etags[0].clone()]).await, 400, "InvalidPartOrder")
        .await;
    assert_cos_error(cos.complete(key, &id, &etags).await, 400, "EntityTooSmall").await;
    assert_cos_error(cos.complete(key, &id, &[etags[0].clone(), (4, etags[0].1.clone())]).await, 400, "InvalidPart")
        .await;
    assert_cos_error(
        cos.complete(key, &id, &[(3, "\"00000000000000000000000000000000\"".into())]).await,
        400,
        "InvalidPart",
    )
    .await;
    let r = cos
        .signed(Method::POST, key, &[("uploadId", &id)], &[])
        .body("<CompleteMultipartUpload><Part>")
        .send()
        .await
        .unwrap();
    assert_cos_error(r, 400, "MalformedXML").await;
    for bad in ["0", "10001", "x"] {
        let r = cos
            .signed(Method::PUT, key, &[("partNumber", bad), ("uploadId", &id)], &[])
            .body("x")
            .send()
            .await
            .unwrap();
        assert_cos_error(r, 400, "InvalidArgument").await;
    }
    assert_cos_error(cos.put_part(key, "nope", 1, b"x".to_vec()).await, 404, "NoSuchUpload").await;
    assert_cos_error(cos.put_part("other-key", &id, 1, b"x".to_vec()).await, 404, "NoSuchUpload").await;
    // A single small part is a valid (last) part.
    let r = cos.complete(key, &id, &[etags[0].clone()]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(cos.get(key).await.bytes().await.unwrap().to_vec(), small);

    let id = cos.initiate(key).await;
    assert_eq!(cos.signed(Method::DELETE, key, &[("uploadId", &id)], &[]).send().await.unwrap().status(), 204);
    assert_cos_error(
        cos.signed(Method::DELETE, key, &[("uploadId", &id)], &[]).send().await.unwrap(),
        404,
        "NoSuchUpload",
    )
    .await;
    assert!(!server.data.join("uploads").join(&id).exists());
}

#[tokio::test]
async fn bucket_listing_paging_delimiter_encoding() {
    let server = Devserver::start(&[]);
    let cos = Cos::owner(&server);
    let keys = ["a.txt", "dir/a b.txt", "dir/sub/1", "dir/sub/2", "dir/x%y", "dir/z", "dir/ф", "e"];
    for key in keys {
        assert_eq!(cos.put(key, key.as_bytes().to_vec()).await.status(), 200);
    }
    // Whole bucket in pages of 3, following NextMarker.
    let mut seen = Vec::new();
    let mut marker = String::new();
    loop {
        let xml = cos
            .signed(Method::GET, "", &[("max-keys", "3"), ("marker", &marker)], &[])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        seen.extend(xml_values(&xml, "Key"));
        if xml_values(&xml, "IsTruncated") == vec!["false"] {
            break;
        }
        marker = xml_values(&xml, "NextMarker").remove(0);
    }
    assert_eq!(seen, keys);

    // Delimiter + encoding-type=url, paged by 2: common prefix counts as one entry.
    let mut entries = Vec::new();
    let mut marker = String::new();
    loop {
        let q = [
            ("prefix", "dir/"),
            ("delimiter", "/"),
            ("max-keys", "2"),
            ("marker", marker.as_str()),
            ("encoding-type", "url"),
        ];
        let xml = cos.signed(Method::GET, "", &q, &[]).send().await.unwrap().text().await.unwrap();
        assert_eq!(xml_values(&xml, "Delimiter"), vec!["%2F"]);
        let mut page = xml_values(&xml, "Key");
        page.extend(xml_values(&xml, "CommonPrefixes").iter().flat_map(|c| xml_values(c, "Prefix")));
        entries.extend(page);
        if xml_values(&xml, "IsTruncated") == vec!["false"] {
            break;
        }
        marker = decode(&xml_values(&xml, "NextMarker").remove(0));
    }
    entries.sort();
    assert_eq!(
        entries,
        ["dir%2Fa%20b.txt", "dir%2Fsub%2F", "dir%2Fx%25y", "dir%2Fz", "dir%2F%D1%84"]
            .map(String::from)
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
    );
    let r = cos.signed(Method::GET, "", &[("max-keys", "x")], &[]).send().await.unwrap();
    assert_cos_error(r, 400, "InvalidArgument").await;
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8().unwrap().into_owned()
}

#[tokio::test]
async fn fifty_concurrent_uploads_and_atomic_replacement() {
    let server = Devserver::start(&[]);
    let cos = Cos::owner(&server);
    let mut tasks = Vec::new();
    for i in 0..50u64 {
        let cos = cos.clone();
        tasks.push(tokio::spawn(async move {
            let body = data(64 * 1024 + i as usize, i);
            let key = format!("c/{i:02}");
            let r = cos.put(&key, body.clone()).await;
            assert_eq!(r.status(), 200);
            assert_eq!(header(&r, "x-cos-hash-crc64ecma"), crc64(&body).to_string());
            (key, body)
        }));
    }
    let mut expected = Vec::new();
    for t in tasks {
        expected.push(t.await.unwrap());
    }
    for (key, body) in &expected {
        assert_eq!(&cos.get(key).await.bytes().await.unwrap().to_vec(), body);
    }
    let xml = cos.signed(Method::GET, "", &[("prefix", "c/")], &[]).send().await.unwrap().text().await.unwrap();
    assert_eq!(xml_values(&xml, "Key").len(), 50);

    // Ten writers and readers on one key: every read is one whole version.
    let versions: Vec<Vec<u8>> = (0..10).map(|i| data(256 * 1024, 100 + i)).collect();
    let mut tasks = Vec::new();
    for v in versions.clone() {
        let writer = cos.clone();
        tasks.push(tokio::spawn(async move { assert_eq!(writer.put("same", v).await.status(), 200) }));
        let cos = cos.clone();
        let versions = versions.clone();
        tasks.push(tokio::spawn(async move {
            let r = cos.get("same").await;
            if r.status() == 200 {
                let etag = header(&r, "etag");
                let got = r.bytes().await.unwrap().to_vec();
                assert!(versions.contains(&got), "a read saw a mix of versions");
                assert_eq!(etag, format!("\"{}\"", md5_hex(&got)));
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let objects = std::fs::read_dir(server.data.join("objects")).unwrap().count();
    assert_eq!(objects, 51, "replaced files are removed");
}
