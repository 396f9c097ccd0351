//! COS error replies: `<Error><Code>…</Code><Message>…</Message><RequestId>…</RequestId></Error>`.

use crate::error::Error;
use crate::platform::HttpResponse;
use crate::text::{concat, fill, find, replace};

/// Text of the first `<tag>…</tag>` in `xml`, entity-unescaped.
pub fn element(xml: &str, tag: &str) -> Option<String> {
    let open = concat(&["<", tag, ">"]);
    let close = concat(&["</", tag, ">"]);
    let start = find(xml, &open)? + open.len();
    let end = find(&xml[start..], &close)? + start;
    Some(unescape(&xml[start..end]))
}

fn unescape(s: &str) -> String {
    let mut s = s.to_string();
    for (entity, c) in [("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\""), ("&apos;", "'"), ("&amp;", "&")] {
        s = replace(&s, entity, c);
    }
    s
}

/// Shortest run of opaque characters that is hidden from a COS message.
const OPAQUE_MIN: usize = 24;

/// `message` with every long opaque word — a run of at least [`OPAQUE_MIN`] characters that are
/// not spaces or quotes, such as a signature, an `Authorization` value or a security token that
/// a server or proxy quotes back — replaced by `***`. COS's own messages are plain sentences.
pub fn scrub_opaque(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.chars().count() >= OPAQUE_MIN {
            out.push_str("***");
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in message.chars() {
        if c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | ',') {
            flush(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Longest `<Code>` taken as COS's error code.
const CODE_MAX: usize = 64;

/// Whether `code` reads as a COS error code (`NoSuchUpload`, `InvalidArgument`): a short word of
/// letters and digits. Anything else — a damaged reply, a proxy's page — is not passed on as a
/// code: it could carry what the request did (a token) into the error's message.
fn is_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= CODE_MAX
        && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_')
}

/// Turns a non-2xx COS reply into [`Error::Cos`] (with a code from the status when the body
/// has no readable `<Code>`, e.g. a HEAD reply or a proxy's page).
pub fn parse_error(resp: &HttpResponse) -> Error {
    let text = String::from_utf8_lossy(&resp.body);
    let header_id = resp.header("x-cos-request-id").map(str::to_string);
    match element(&text, "Code").filter(|code| is_code(code)) {
        Some(code) => Error::Cos {
            status: resp.status,
            code,
            // A message may quote what the request carried (signature, token): never pass that on.
            message: scrub_opaque(&element(&text, "Message").unwrap_or_default()),
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
            message: fill("HTTP {} without a readable COS error code", &[resp.status.into()]),
            request_id: header_id,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_signatures_and_tokens_are_hidden_from_messages() {
        let auth = "q-sign-algorithm=sha1&q-ak=AKIDx&q-sign-time=1;2&q-key-time=1;2&q-header-list=host&q-url-param-list=&q-signature=97ce389e65891290669a9e3df20240de680e7130";
        let body = format!("<Error><Code>SignatureDoesNotMatch</Code><Message>Signature {auth} with token TOKEN/abc+def==0123456789abcdef does not match</Message></Error>");
        let resp = HttpResponse { status: 403, headers: vec![], body: body.into_bytes() };
        let Error::Cos { message, .. } = parse_error(&resp) else { panic!() };
        assert_eq!(message, "Signature *** with token *** does not match");
        assert_eq!(scrub_opaque("The specified upload does not exist."), "The specified upload does not exist.");
    }

    #[test]
    fn parses_cos_error_xml() {
        let resp = HttpResponse {
            status: 404,
            headers: vec![("x-cos-request-id".into(), "hdr".into())],
            body: b"<?xml version='1.0'?><Error><Code>NoSuchUpload</Code><Message>a &amp; b</Message><RequestId>NjA4</RequestId></Error>".to_vec(),
        };
        match parse_error(&resp) {
            Error::Cos { status, code, message, request_id } => {
                assert_eq!(
                    (status, code.as_str(), message.as_str(), request_id.as_deref()),
                    (404, "NoSuchUpload", "a & b", Some("NjA4"))
                );
            }
            other => panic!("{other:?}"),
        }
        let bare = HttpResponse { status: 503, headers: vec![], body: vec![] };
        let e = parse_error(&bare);
        assert!(e.retryable());
        // A `<Code>` that is no code (here: it swallowed the message, token and all) is not passed on.
        let damaged = HttpResponse {
            status: 403,
            headers: vec![],
            body: b"<Error><Code>AccessDenied token SECRETSECRETSECRETSECRETSECRET</Code></Error>".to_vec(),
        };
        match parse_error(&damaged) {
            Error::Cos { code, message, .. } => {
                assert_eq!(code, "AccessDenied");
                assert!(!message.contains("SECRET"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }
}
