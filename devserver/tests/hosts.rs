//! DNS rebinding: every origin answers only loopback Hosts and the names given with
//! `--allowed-host` (the cos origin also its bucket names); anything else gets 421 before any
//! handler runs, so a page whose domain resolves to 127.0.0.1 mints nothing and reads nothing.

mod common;
mod cos_client;
mod support;

use cos_client::Cos;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use common::Devserver;

/// Sends `method url` with this `Host` header; returns the status.
async fn status_with_host(method: Method, url: &str, host: &str) -> StatusCode {
    let http = reqwest::Client::new();
    let mut request = http.request(method.clone(), url).header("host", host);
    if method == Method::POST {
        request = request.json(&json!({}));
    }
    request.send().await.unwrap().status()
}

fn port(url: &str) -> &str {
    url.rsplit(':').next().unwrap()
}

#[tokio::test]
async fn a_rebound_domain_gets_421_everywhere() {
    let server = Devserver::start(&[]);
    let (app, smh) = (server.app(), server.smh());
    let token_url = format!(
        "{smh}/api/v1/token?library_id={}&library_secret={}&grant=admin",
        server.library_id(),
        server.library_secret()
    );
    for host in ["evil.example", "rebind.evil.example", "localhost.evil.example", "192.168.1.10", "[::2]"] {
        let h = format!("{host}:{}", port(&app));
        assert_eq!(status_with_host(Method::GET, &format!("{app}/_dev/ready"), &h).await, 421, "{h}");
        assert_eq!(status_with_host(Method::POST, &format!("{app}/token"), &h).await, 421, "{h}");
        assert_eq!(status_with_host(Method::POST, &format!("{app}/credentials"), &h).await, 421, "{h}");
        assert_eq!(status_with_host(Method::GET, &format!("{app}/_dev/objects"), &h).await, 421, "{h}");
        assert_eq!(status_with_host(Method::GET, &format!("{app}/"), &h).await, 421, "{h}");
        let h = format!("{host}:{}", port(&smh));
        assert_eq!(status_with_host(Method::GET, &token_url, &h).await, 421, "{h}");
    }
    // The refused requests did nothing: no token was minted through them.
    let log: Value = reqwest::get(format!("{app}/_dev/log")).await.unwrap().json().await.unwrap();
    assert_eq!(log.as_array().unwrap().len(), 0, "{log}");

    // Loopback names, with or without port, answer.
    for host in ["127.0.0.1", "localhost", "LocalHost", "page.localhost", "[::1]", "127.0.0.2"] {
        for h in [host.to_string(), format!("{host}:{}", port(&app))] {
            assert_eq!(status_with_host(Method::GET, &format!("{app}/_dev/ready"), &h).await, 200, "{h}");
        }
        let h = format!("{host}:{}", port(&smh));
        assert_eq!(status_with_host(Method::GET, &token_url, &h).await, 200, "{h}");
    }
}

#[tokio::test]
async fn the_cos_origin_answers_loopback_and_bucket_hosts_only() {
    let server = Devserver::start(&[]);
    let cos = Cos::owner(&server);
    assert_eq!(cos.put("a.txt", b"a".to_vec()).await.status(), 200);
    let with_host = |host: &str| Cos { host: Some(host.to_string()), ..cos.clone() };
    let p = port(&cos.addr).to_string();
    for host in [
        format!("localhost:{p}"),
        format!("{}.cos.{}.myqcloud.com", cos.bucket, cos.region),
        format!("{}.cos.{}.tencentcos.cn:{p}", cos.bucket, cos.region),
        format!("{}.localhost:{p}", cos.bucket),
    ] {
        let r = with_host(&host).get("a.txt").await;
        assert_eq!(r.status(), 200, "{host}");
        assert_eq!(r.bytes().await.unwrap().as_ref(), b"a");
    }
    for host in [format!("evil.example:{p}"), format!("{}.evil.example:{p}", cos.bucket), "cos.evil.example".into()] {
        assert_eq!(with_host(&host).get("a.txt").await.status(), 421, "{host}");
        let preflight = with_host(&host)
            .raw(
                Method::OPTIONS,
                "a.txt",
                &[],
                &[("origin", "http://evil.example"), ("access-control-request-method", "PUT")],
            )
            .send()
            .await
            .unwrap();
        assert_eq!(preflight.status(), 421, "preflight with {host}");
    }
}

#[tokio::test]
async fn allowed_host_adds_names() {
    let server = Devserver::start(&["--allowed-host", "Dev.Example.test", "--allowed-host", "cos.local"]);
    let app = server.app();
    for host in ["dev.example.test", "dev.example.test:80", "cos.local", "localhost"] {
        assert_eq!(status_with_host(Method::GET, &format!("{app}/_dev/ready"), host).await, 200, "{host}");
    }
    for host in ["other.example", "x.dev.example.test"] {
        assert_eq!(status_with_host(Method::GET, &format!("{app}/_dev/ready"), host).await, 421, "{host}");
    }
    // On the cos origin an allowed name also carries the bucket (python's `Endpoint` mode).
    let cos = Cos::owner(&server);
    assert_eq!(cos.put("b.txt", b"b".to_vec()).await.status(), 200);
    for host in [format!("{}.cos.local", cos.bucket), "cos.local".to_string()] {
        let r = Cos { host: Some(host.clone()), ..cos.clone() }.get("b.txt").await;
        assert_eq!(r.status(), 200, "{host}");
    }
}

#[test]
fn allowed_host_is_checked_and_documented() {
    let run = |args: &[&str]| std::process::Command::new(common::bin()).args(args).output().unwrap();
    let help = run(&["--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--allowed-host <NAME>"), "{help}");
    let bad = run(&["--allowed-host", "dev.example.test:80"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a host name"));
}
