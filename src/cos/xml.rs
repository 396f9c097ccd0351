//! COS error replies: `<Error><Code>…</Code><Message>…</Message><RequestId>…</RequestId></Error>`.

use crate::error::Error;
use crate::platform::HttpResponse;

/// Text of the first `<tag>…</tag>` in `xml`, entity-unescaped.
fn element<'a>(xml: &'a str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&close)? + start;
    Some(unescape(&xml[start..end]))
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

/// Turns a non-2xx COS reply into [`Error::Cos`] (or a generic one when the body is not XML,
/// e.g. a HEAD reply or a proxy's page).
pub fn parse_error(resp: &HttpResponse) -> Error {
    let text = String::from_utf8_lossy(&resp.body);
    let header_id = resp.header("x-cos-request-id").map(str::to_string);
    match element(&text, "Code") {
        Some(code) => Error::Cos {
            status: resp.status,
            code,
            message: element(&text, "Message").unwrap_or_default(),
            request_id: element(&text, "RequestId").or(header_id),
        },
        None => Error::Cos {
            status: resp.status,
            code: match resp.status {
                403 => "AccessDenied".into(),
                404 => "NoSuchKey".into(),
                s if s >= 500 => "InternalError".into(),
                _ => "UnknownError".into(),
            },
            message: format!("HTTP {} without a COS error body", resp.status),
            request_id: header_id,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cos_error_xml() {
        let resp = HttpResponse {
            status: 404,
            headers: vec![("x-cos-request-id".into(), "hdr".into())],
            body: b"<?xml version='1.0'?><Error><Code>NoSuchUpload</Code><Message>a &amp; b</Message><RequestId>NjA4</RequestId></Error>".to_vec(),
        };
        match parse_error(&resp) {
            Error::Cos { status, code, message, request_id } => {
                assert_eq!((status, code.as_str(), message.as_str(), request_id.as_deref()), (404, "NoSuchUpload", "a & b", Some("NjA4")));
            }
            other => panic!("{other:?}"),
        }
        let bare = HttpResponse { status: 503, headers: vec![], body: vec![] };
        let e = parse_error(&bare);
        assert!(e.retryable());
    }
}
