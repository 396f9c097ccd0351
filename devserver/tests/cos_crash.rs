//! Crash safety of the store: `kill -9` in the middle of a large PUT or of a Complete, restart
//! on the same `--data`, and the object is absent or whole — never truncated or partial.

mod common;
mod cos_client;
mod support;

use std::io::Write;
use std::time::{Duration, Instant};

use cos_client::*;
use reqwest::Method;

use common::{temp_dir, Devserver};

const MIB: usize = 1024 * 1024;

fn files_in(dir: std::path::PathBuf) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

/// Opens a raw connection and sends the request head of a signed PUT.
fn start_put(cos: &Cos, key: &str, query: &[(&str, &str)], len: usize) -> std::net::TcpStream {
    let auth = cos.authorization("PUT", key, query, &[], (now() - 60, now() + 600));
    let url = cos.url(key, query);
    let target = &url[url.find(&cos.addr).unwrap() + cos.addr.len()..];
    let mut tcp = std::net::TcpStream::connect(&cos.addr).unwrap();
    write!(
        tcp,
        "PUT {target} HTTP/1.1\r\nHost: {}\r\nAuthorization: {auth}\r\nContent-Length: {len}\r\n\r\n",
        cos.addr
    )
    .unwrap();
    tcp
}

#[tokio::test]
async fn kill_during_large_put_leaves_no_truncated_object() {
    let dir = temp_dir("crash-put");
    let mut server = Devserver::start_on(&dir, &[]);
    let cos = Cos::owner(&server);
    let kept = data(100_000, 7);
    assert_eq!(cos.put("kept.bin", kept.clone()).await.status(), 200);

    // Declare 200 MiB, stream 96 MiB, then kill -9 while the body is arriving.
    let declared = 200 * MIB;
    let block = data(MIB, 1);
    let mut tcp = start_put(&cos, "big.bin", &[], declared);
    for _ in 0..96 {
        tcp.write_all(&block).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while files_in(dir.join("tmp")) == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(files_in(dir.join("tmp")), 1, "the body streams into a temp file");
    server.kill();
    drop(tcp);

    let server = Devserver::start_on(&dir, &[]);
    let cos = Cos::owner(&server);
    assert_eq!(cos.head("big.bin").await.status(), 404, "no truncated object");
    assert_eq!(files_in(dir.join("tmp")), 0, "start-up swept the temp file");
    assert_eq!(files_in(dir.join("objects")), 1, "only the committed object's file");
    assert_eq!(cos.get("kept.bin").await.bytes().await.unwrap().to_vec(), kept);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn kill_during_complete_never_leaves_a_partial_object() {
    let dir = temp_dir("crash-complete");
    let mut server = Devserver::start_on(&dir, &[]);
    let cos = Cos::owner(&server);
    let key = "assembled.bin";
    let upload_id = cos.initiate(key).await;
    let block = data(4 * MIB, 3);
    let parts = 24u32;
    let mut etags = Vec::new();
    let mut whole = Vec::with_capacity(block.len() * parts as usize);
    for n in 1..=parts {
        let mut part = block.clone();
        part[..4].copy_from_slice(&n.to_be_bytes());
        whole.extend_from_slice(&part);
        let r = cos.put_part(key, &upload_id, n, part).await;
        assert_eq!(r.status(), 200);
        etags.push((n, header(&r, "etag")));
    }
    let expected_crc = crc64(&whole).to_string();

    // Send Complete and kill -9 while the parts are being assembled.
    let mut body = String::from("<CompleteMultipartUpload>");
    for (n, etag) in &etags {
        body.push_str(&format!("<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"));
    }
    body.push_str("</CompleteMultipartUpload>");
    let query = [("uploadId", upload_id.as_str())];
    let auth = cos.authorization("POST", key, &query, &[], (now() - 60, now() + 600));
    let mut tcp = std::net::TcpStream::connect(&cos.addr).unwrap();
    write!(
        tcp,
        "POST /{key}?uploadId={upload_id} HTTP/1.1\r\nHost: {}\r\nAuthorization: {auth}\r\nContent-Length: {}\r\n\r\n{body}",
        cos.addr,
        body.len()
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(60)).await;
    server.kill();
    drop(tcp);

    let server = Devserver::start_on(&dir, &[]);
    let cos = Cos::owner(&server);
    assert_eq!(files_in(dir.join("tmp")), 0);
    let head = cos.head(key).await;
    if head.status() == 200 {
        eprintln!("kill landed after the commit");
        // Completed before the kill: whole, and the upload is gone.
        assert_eq!(header(&head, "content-length"), whole.len().to_string());
        assert_eq!(header(&head, "x-cos-hash-crc64ecma"), expected_crc);
        let r = cos.signed(Method::GET, key, &[("uploadId", &upload_id)], &[]).send().await.unwrap();
        assert_eq!(r.status(), 404);
    } else {
        eprintln!("kill landed before the commit");
        // Interrupted: no object, the upload is open again and completes now.
        assert_eq!(head.status(), 404);
        assert_eq!(files_in(dir.join("objects")), 0, "no orphaned assembly left");
        let r = cos.complete(key, &upload_id, &etags).await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "x-cos-hash-crc64ecma"), expected_crc);
    }
    let got = cos.get(key).await.bytes().await.unwrap();
    assert_eq!(crc64(&got).to_string(), expected_crc, "the object is whole");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
