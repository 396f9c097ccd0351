//! PUT of bytes to the COS bucket domain: a whole object (simple upload) or one part of a
//! multipart upload, with exactly the headers that authorise it, and the CRC-64 of the reply
//! checked against the bytes sent.

use super::domain::Origin;
use super::xml::parse_error;
use crate::error::{Error, Result};
use crate::net::percent_encode;
use crate::platform::{Body, HttpRequest, HttpResponse, Method, ProgressFn};
use crate::text::{concat, fill, trim};

/// Headers a browser sets itself and refuses from scripts.
const FORBIDDEN_HEADERS: &[&str] = &["host", "content-length", "connection", "expect", "transfer-encoding"];

/// Which PUT: the whole object, or part `number` of multipart upload `upload_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOf<'a> {
    Object,
    Part { number: u32, upload_id: &'a str },
}

/// The URL of a PUT to `path` (the object's URL path, with or without its leading `/`).
pub fn put_url(origin: &Origin, path: &str, of: PutOf<'_>) -> String {
    let slash = if path.starts_with('/') { "" } else { "/" };
    match of {
        PutOf::Part { number, upload_id } => {
            let (base, upload_id) = (origin.base(), percent_encode(upload_id));
            fill(
                "{}{}{}?partNumber={}&uploadId={}",
                &[(&base).into(), slash.into(), path.into(), number.into(), (&upload_id).into()],
            )
        }
        PutOf::Object => concat(&[&origin.base(), slash, path]),
    }
}

/// The PUT of `body` with `headers` as given (those a browser refuses from scripts left out).
pub fn put_request<'h>(
    origin: &Origin,
    path: &str,
    of: PutOf<'_>,
    headers: impl IntoIterator<Item = (&'h String, &'h String)>,
    body: Body,
    progress: Option<ProgressFn>,
) -> HttpRequest {
    let headers = headers
        .into_iter()
        .filter(|(k, _)| !FORBIDDEN_HEADERS.contains(&k.to_ascii_lowercase().as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    HttpRequest {
        method: Method::Put,
        url: put_url(origin, path, of),
        headers,
        body: Some(body),
        timeout: None,
        progress,
    }
}

/// What COS said about a stored object or part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub etag: Option<String>,
    /// COS's `x-cos-hash-crc64ecma` was readable and matched. `false` when the reply had none
    /// readable — in browsers, a bucket whose CORS does not expose the header.
    pub crc_checked: bool,
}

/// Interprets the reply to a PUT of bytes whose CRC-64 is `sent_crc`.
pub fn check_put_reply(resp: &HttpResponse, sent_crc: u64) -> Result<Stored> {
    if !(200..300).contains(&resp.status) {
        return Err(parse_error(resp).into());
    }
    let header = resp.header("x-cos-hash-crc64ecma");
    if let Some(value) = header {
        let got = crate::json::parse_u64(trim(value));
        if got != Some(sent_crc) {
            return Err(Error::IntegrityMismatch {
                message: fill("COS stored a different CRC64 than the bytes sent have ({})", &[sent_crc.into()]),
            }
            .into());
        }
    }
    Ok(Stored { etag: resp.header("etag").map(str::to_string), crc_checked: header.is_some() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cos::domain::AllowList;

    #[test]
    fn part_url_and_headers() {
        let origin = AllowList::official_cos().check("b-1.cos.ap-guangzhou.myqcloud.com").unwrap();
        let headers: Vec<(String, String)> =
            vec![("Authorization".into(), "q-sign".into()), ("Host".into(), "x".into())];
        let part = PutOf::Part { number: 3, upload_id: "u1" };
        let req = put_request(
            &origin,
            "/lib/space/key",
            part,
            headers.iter().map(|(k, v)| (k, v)),
            Body::from(vec![1u8, 2]),
            None,
        );
        assert_eq!(req.url, "https://b-1.cos.ap-guangzhou.myqcloud.com/lib/space/key?partNumber=3&uploadId=u1");
        assert_eq!(req.headers, vec![("Authorization".to_string(), "q-sign".to_string())]);
        let object = "https://b-1.cos.ap-guangzhou.myqcloud.com/lib/space/key";
        assert_eq!(put_url(&origin, "lib/space/key", PutOf::Object), object);
        assert_eq!(put_url(&origin, "/lib/space/key", PutOf::Object), object);
    }

    #[test]
    fn crc_reply_checked() {
        let ok = HttpResponse {
            status: 200,
            headers: vec![("x-cos-hash-crc64ecma".into(), "42".into()), ("etag".into(), "\"e\"".into())],
            body: vec![],
        };
        assert_eq!(check_put_reply(&ok, 42).unwrap(), Stored { etag: Some("\"e\"".into()), crc_checked: true });
        let bare = HttpResponse { status: 200, headers: vec![], body: vec![] };
        assert!(!check_put_reply(&bare, 42).unwrap().crc_checked, "a reply without the header is not a checked one");
        assert!(matches!(check_put_reply(&ok, 41).map_err(|e| *e), Err(Error::IntegrityMismatch { .. })));
        let err = HttpResponse { status: 403, headers: vec![], body: b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message><RequestId>r1</RequestId></Error>".to_vec() };
        let e = check_put_reply(&err, 0).unwrap_err();
        assert!(e.is_expired_authorisation());
        assert_eq!(e.request_id(), Some("r1"));
    }
}
