//! Where the bucket is in a cos request is decided by the Host alone (docs/cos-api.md §5.2):
//! a key whose first segment is the bucket's name is still that whole key, unless the Host is
//! COS's path-style endpoint.

mod common;
mod cos_client;
mod support;

use cos_client::*;
use reqwest::Method;
use serde_json::Value;

use common::Devserver;

async fn stored_keys(server: &Devserver) -> Vec<String> {
    let objects: Value = reqwest::get(format!("{}/_dev/objects", server.app())).await.unwrap().json().await.unwrap();
    let mut keys: Vec<String> = objects.as_array().unwrap().iter().map(|o| o["key"].as_str().unwrap().into()).collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn a_key_named_like_the_bucket_is_kept_whole() {
    let server = Devserver::start(&[]);
    let cos = Cos::owner(&server);
    let bucket = cos.bucket.clone();
    let nested = format!("{bucket}/a.txt");

    // Loopback Host (the JS SDKs' `Domain: '127.0.0.1:P'`): the path is the key.
    assert_eq!(cos.put(&nested, b"nested".to_vec()).await.status(), 200);
    assert_eq!(cos.put(&bucket, b"bare".to_vec()).await.status(), 200);
    assert_eq!(stored_keys(&server).await, vec![bucket.clone(), nested.clone()]);
    assert_eq!(cos.get(&nested).await.bytes().await.unwrap().as_ref(), b"nested");
    assert_eq!(cos.get(&bucket).await.bytes().await.unwrap().as_ref(), b"bare");
    assert_cos_error(cos.get("a.txt").await, 404, "NoSuchKey").await;
    let listing = cos.signed(Method::GET, "", &[], &[]).send().await.unwrap().text().await.unwrap();
    assert_eq!(xml_values(&listing, "Key"), vec![bucket.clone(), nested.clone()]);

    // Virtual-hosted (python's `IP=` mode): the same.
    let vhost = cos.virtual_host(&bucket);
    assert_eq!(vhost.get(&nested).await.bytes().await.unwrap().as_ref(), b"nested");

    // COS's path-style endpoint: the first segment is the bucket.
    let path_style = Cos { host: Some(format!("cos.{}.myqcloud.com", cos.region)), ..cos.clone() };
    assert_eq!(path_style.put(&format!("{bucket}/b.txt"), b"b".to_vec()).await.status(), 200);
    assert_eq!(cos.get("b.txt").await.bytes().await.unwrap().as_ref(), b"b");
    assert_eq!(path_style.get(&nested).await.status(), 404, "{bucket}/{bucket}/a.txt is not stored");
    assert_eq!(path_style.get(&format!("{bucket}/{nested}")).await.bytes().await.unwrap().as_ref(), b"nested");
    assert_cos_error(path_style.get("otherbucket-1250000000/a.txt").await, 404, "NoSuchBucket").await;
}
