//! Which `Host` names the three origins answer, against DNS rebinding.
//!
//! The listeners are on loopback, but a web page whose domain is made to resolve to 127.0.0.1
//! ("DNS rebinding") is same-origin with whatever answers there: without this check it could read
//! `/_dev/*`, mint admin tokens and COS keys, and read the library. Such a request carries the
//! page's own domain in `Host`, so every origin answers only loopback names — `127.0.0.1` (any
//! 127/8 address), `[::1]`, `localhost`, `*.localhost`, with or without a port — and the names
//! given with `--allowed-host`; anything else gets 421 Misdirected Request before any handler
//! runs. A request without a `Host` (HTTP/1.0 from a script) is not a browser's and is answered.
//!
//! The cos origin also answers the bucket names Tencent's SDKs put in `Host` when pointed at a
//! local address (docs/cos-api.md §5.2): `{bucket}.cos.{region}.myqcloud.com` (or
//! `.tencentcos.cn`), the path-style endpoint `cos.{region}.myqcloud.com`, and `{bucket}.` before
//! `localhost` or an allowed name. No attacker can make Tencent's domains resolve to a
//! rebinding address, and every cos request is signature-checked anyway.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// The origin a host check guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    App,
    Smh,
    Cos,
}

/// How the cos origin reads a `Host` (docs/cos-api.md §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CosHost {
    /// A loopback address or name, or an allowed name: no bucket in the Host (the SDKs'
    /// `Domain: '127.0.0.1:P'` mode). The request is for the one bucket; its path is the key.
    Plain,
    /// `{bucket}.{domain}`: virtual-hosted style; the path is the key.
    Bucket(String),
    /// `cos.{region}.myqcloud.com`: path-style; the first path segment is the bucket.
    PathStyle,
    /// Not a name the cos origin answers.
    Foreign,
}

/// `host` without its port and trailing dot, lowercased (`[::1]:80` → `[::1]`).
pub fn host_name(host: &str) -> String {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !name.ends_with(':') => name,
        _ => host,
    };
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// A loopback address or name (`name` as from [`host_name`]).
fn is_loopback(name: &str) -> bool {
    let address = name.strip_prefix('[').and_then(|v6| v6.strip_suffix(']')).unwrap_or(name);
    match address.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => name == "localhost" || name.ends_with(".localhost"),
    }
}

/// Whether the app and smh origins answer `name` (as from [`host_name`]).
pub fn is_local(name: &str, allowed: &[String]) -> bool {
    is_loopback(name) || allowed.iter().any(|a| a == name)
}

/// `{bucket}-{appid}`: lowercase letters, digits and `-`, ending in `-<digits>`.
pub fn looks_like_bucket(label: &str) -> bool {
    let Some((name, appid)) = label.rsplit_once('-') else { return false };
    !name.is_empty()
        && !appid.is_empty()
        && appid.bytes().all(|b| b.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// `cos.{region}.myqcloud.com` or `cos.{region}.tencentcos.cn`.
fn is_cos_endpoint(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("cos.") else { return false };
    let Some(region) = rest.strip_suffix(".myqcloud.com").or_else(|| rest.strip_suffix(".tencentcos.cn")) else {
        return false;
    };
    !region.is_empty() && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Reads the cos origin's `Host` (`host` as sent, port and all).
pub fn cos_host(host: &str, allowed: &[String]) -> CosHost {
    let name = host_name(host);
    if name.parse::<std::net::IpAddr>().is_ok() || name.starts_with('[') {
        return if is_local(&name, allowed) { CosHost::Plain } else { CosHost::Foreign };
    }
    if name == "localhost" || allowed.contains(&name) {
        return CosHost::Plain;
    }
    if let Some((label, domain)) = name.split_once('.') {
        if looks_like_bucket(label) && (is_local(domain, allowed) || is_cos_endpoint(domain)) {
            return CosHost::Bucket(label.to_string());
        }
    }
    if is_cos_endpoint(&name) {
        CosHost::PathStyle
    } else if is_loopback(&name) {
        CosHost::Plain
    } else {
        CosHost::Foreign
    }
}

/// Whether origin `served` answers a request with this `Host` header (`None`: no header).
pub fn answers(served: Served, host: Option<&str>, allowed: &[String]) -> bool {
    let Some(host) = host else { return true };
    match served {
        Served::App | Served::Smh => is_local(&host_name(host), allowed),
        Served::Cos => cos_host(host, allowed) != CosHost::Foreign,
    }
}

/// `router` behind the host check of origin `served` (its outermost layer).
pub fn guard(router: axum::Router, state: &AppState, served: Served) -> axum::Router {
    router.layer(axum::middleware::from_fn_with_state((state.clone(), served), check))
}

/// The layer: 421 Misdirected Request for a Host the origin does not answer.
pub async fn check(State((state, served)): State<(AppState, Served)>, request: Request, next: Next) -> Response {
    let host = request.headers().get(header::HOST).map(|h| h.to_str().unwrap_or("\u{fffd}").to_string());
    if answers(served, host.as_deref(), &state.config.allowed_hosts) {
        return next.run(request).await;
    }
    let message = format!(
        "421 Misdirected Request: smh-devserver answers only loopback hosts (127.0.0.1, [::1], localhost, \
         *.localhost) and names given with --allowed-host, not Host {:?}.\n",
        host.unwrap_or_default()
    );
    let mut response = (StatusCode::MISDIRECTED_REQUEST, message).into_response();
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A name `--allowed-host` accepts: a DNS name or an IP address, without port or scheme.
pub fn parse_allowed_host(value: &str) -> Result<String, String> {
    let name = value.trim_end_matches('.').to_ascii_lowercase();
    let valid_dns = !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    let address = name.strip_prefix('[').and_then(|v6| v6.strip_suffix(']')).unwrap_or(&name);
    match address.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(_)) => Ok(format!("[{address}]")),
        Ok(std::net::IpAddr::V4(_)) => Ok(name),
        Err(_) if valid_dns => Ok(name),
        Err(_) => Err(format!("{value:?} is not a host name (give a name such as dev.example.test, without port)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_allowed_names() {
        let allowed = vec!["dev.example.test".to_string()];
        for host in ["127.0.0.1:8080", "127.0.0.1", "127.1.2.3:1", "localhost:3000", "LOCALHOST", "a.localhost:9"] {
            assert!(answers(Served::App, Some(host), &[]), "{host}");
        }
        for host in ["[::1]:80", "[::1]", "dev.example.test:80", "dev.example.test."] {
            assert!(answers(Served::Smh, Some(host), &allowed), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:8780",
            "localhost.evil.example",
            "10.0.0.1:80",
            "[::2]",
            "x.dev.example.test",
        ] {
            assert!(!answers(Served::App, Some(host), &allowed), "{host}");
        }
        assert!(answers(Served::App, None, &[]));
    }

    #[test]
    fn cos_hosts() {
        let allowed = vec!["cos.local".to_string()];
        let b = |s: &str| CosHost::Bucket(s.to_string());
        assert_eq!(cos_host("127.0.0.1:9000", &allowed), CosHost::Plain);
        assert_eq!(cos_host("localhost:9000", &allowed), CosHost::Plain);
        assert_eq!(cos_host("cos.local:9000", &allowed), CosHost::Plain);
        assert_eq!(cos_host("app.localhost", &allowed), CosHost::Plain);
        assert_eq!(cos_host("devbucket-1250000000.cos.ap-guangzhou.myqcloud.com", &allowed), b("devbucket-1250000000"));
        assert_eq!(cos_host("other-1.cos.ap-guangzhou.tencentcos.cn:1", &allowed), b("other-1"));
        assert_eq!(cos_host("devbucket-1250000000.localhost:1", &allowed), b("devbucket-1250000000"));
        assert_eq!(cos_host("devbucket-1250000000.cos.local", &allowed), b("devbucket-1250000000"));
        assert_eq!(cos_host("cos.ap-guangzhou.myqcloud.com", &allowed), CosHost::PathStyle);
        assert_eq!(cos_host("devbucket-1250000000.evil.example", &allowed), CosHost::Foreign);
        assert_eq!(cos_host("evil.example", &allowed), CosHost::Foreign);
        assert_eq!(cos_host("cos.evil.example", &allowed), CosHost::Foreign);
    }

    #[test]
    fn allowed_host_values() {
        assert_eq!(parse_allowed_host("Dev.Example.test."), Ok("dev.example.test".to_string()));
        assert_eq!(parse_allowed_host("::1"), Ok("[::1]".to_string()));
        assert_eq!(parse_allowed_host("192.168.1.2"), Ok("192.168.1.2".to_string()));
        assert!(parse_allowed_host("dev.example.test:80").is_err());
        assert!(parse_allowed_host("http://x").is_err());
        assert!(parse_allowed_host("").is_err());
    }
}
