//! PUT of bytes to the COS bucket domain: a whole object (simple upload) or one part, with
//! exactly the headers SMH returned, and the CRC64 of the reply checked against the bytes sent.

use super::domain::Origin;
use super::xml::parse_error;
use crate::error::{Error, Result};
use crate::platform::{Body, Http, HttpRequest, HttpResponse, Method, ProgressFn};
use crate::smh::UploadAuth;

/// Headers a browser sets itself and refuses from scripts.
const FORBIDDEN_HEADERS: &[&str] = &["host", "content-length", "connection", "expect", "transfer-encoding"];

/// The URL of a PUT: the object, or a part of the multipart upload.
pub fn put_url(origin: &Origin, auth: &UploadAuth, part_number: Option<u32>) -> String {
    let path = if auth.path.starts_with('/') { auth.path.clone() } else { format!("/{}", auth.path) };
    match (part_number, &auth.upload_id) {
        (Some(n), Some(id)) => format!(
            "{}{}?partNumber={}&uploadId={}",
            origin.base(),
            path,
            n,
            super::super::smh::path::encode_segment(id)
        ),
        _ => format!("{}{}", origin.base(), path),
    }
}

/// Builds the PUT request for `body`.
pub fn put_request(
    origin: &Origin,
    auth: &UploadAuth,
    part_number: Option<u32>,
    body: Body,
    progress: Option<ProgressFn>,
) -> HttpRequest {
    let headers = auth
        .headers
        .iter()
        .filter(|(k, _)| !FORBIDDEN_HEADERS.contains(&k.to_ascii_lowercase().as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    HttpRequest {
        method: Method::Put,
        url: put_url(origin, auth, part_number),
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
        return Err(parse_error(resp));
    }
    let header = resp.header("x-cos-hash-crc64ecma");
    if let Some(value) = header {
        let got: Option<u64> = value.trim().parse().ok();
        if got != Some(sent_crc) {
            return Err(Error::IntegrityMismatch {
                message: format!("COS stored a different CRC64 than the bytes sent have ({sent_crc})"),
            });
        }
    }
    Ok(Stored { etag: resp.header("etag").map(str::to_string), crc_checked: header.is_some() })
}

/// Sends one PUT through `http`.
pub async fn put(http: &dyn Http, request: HttpRequest, sent_crc: u64) -> Result<Stored> {
    let resp = http.send(request).await?;
    check_put_reply(&resp, sent_crc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cos::domain::AllowList;

    fn auth() -> UploadAuth {
        UploadAuth {
            domain: "b-1.cos.ap-guangzhou.myqcloud.com".into(),
            path: "/lib/space/key".into(),
            upload_id: Some("u1".into()),
            headers: [("Authorization".to_string(), "q-sign".to_string()), ("Host".to_string(), "x".to_string())]
                .into_iter()
                .collect(),
            confirm_key: "c".into(),
            expiration: "2030-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn part_url_and_headers() {
        let origin = AllowList::official_cos().check("b-1.cos.ap-guangzhou.myqcloud.com").unwrap();
        let req = put_request(&origin, &auth(), Some(3), Body::from(vec![1u8, 2]), None);
        assert_eq!(req.url, "https://b-1.cos.ap-guangzhou.myqcloud.com/lib/space/key?partNumber=3&uploadId=u1");
        assert_eq!(req.headers, vec![("Authorization".to_string(), "q-sign".to_string())]);
        assert_eq!(put_url(&origin, &auth(), None), "https://b-1.cos.ap-guangzhou.myqcloud.com/lib/space/key");
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
        assert!(matches!(check_put_reply(&ok, 41), Err(Error::IntegrityMismatch { .. })));
        let err = HttpResponse { status: 403, headers: vec![], body: b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message><RequestId>r1</RequestId></Error>".to_vec() };
        let e = check_put_reply(&err, 0).unwrap_err();
        assert!(e.is_expired_authorisation());
        assert_eq!(e.request_id(), Some("r1"));
    }
}
