//! Multipart handlers: Initiate, UploadPart, ListParts, Complete, Abort, ListMultipartUploads.

use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;

use super::error::CosError;
use super::object::{body_stream, content_length, content_md5, stored_headers, take, write_headers};
use super::request::CosRequest;
use super::response::iso8601_ms;
use super::xml::{parse_complete, Xml};
use crate::state::AppState;

/// Largest CompleteMultipartUpload body read (10000 parts at ~100 bytes each, with room).
pub const MAX_COMPLETE_BODY_BYTES: usize = 2 * 1024 * 1024;
/// Page size limit of ListParts and ListMultipartUploads (and their default).
pub const MAX_LIST_PAGE: usize = 1000;
/// Initiator/Owner of listings: the devserver's fixed account.
const OWNER_ID: &str = "qcs::cam::uin/100000000001:uin/100000000001";
const OWNER_NAME: &str = "100000000001";

fn xml_response(xml: Xml) -> Response {
    ([(header::CONTENT_TYPE, "application/xml")], xml.finish()).into_response()
}

/// `encoding-type=url` percent-encodes names in listings (docs/cos-api.md §2.10/§2.11).
pub fn name_encoder(req: &CosRequest) -> impl Fn(&str) -> String {
    let url = req.param("encoding-type") == Some("url");
    move |s: &str| if url { super::sign::uri_encode(s.as_bytes()) } else { s.to_string() }
}

/// A `max-*` page size: default and cap [`MAX_LIST_PAGE`], non-numbers → 400 InvalidArgument.
pub fn page_size(req: &CosRequest, param: &str) -> Result<usize, CosError> {
    match req.param(param).filter(|v| !v.is_empty()) {
        None => Ok(MAX_LIST_PAGE),
        Some(v) => v
            .parse::<usize>()
            .map(|n| n.min(MAX_LIST_PAGE))
            .map_err(|_| CosError::invalid_argument(format!("{param} must be a non-negative integer."))),
    }
}

fn owner(xml: &mut Xml, tag: &'static str) {
    xml.open(tag).leaf("ID", OWNER_ID).leaf("DisplayName", OWNER_NAME).close();
}

fn upload_id(req: &CosRequest) -> &str {
    req.param("uploadId").unwrap_or("")
}

/// The upload must exist and belong to the request's key (else 404 NoSuchUpload).
fn check_upload_key(state: &AppState, req: &CosRequest) -> Result<(), CosError> {
    match state.store.upload(upload_id(req))? {
        Some(info) if info.key == req.key => Ok(()),
        _ => Err(CosError::no_such_upload()),
    }
}

/// POST /{key}?uploads
pub fn multipart_initiate(state: &AppState, req: &CosRequest) -> Result<Response, CosError> {
    let (content_type, stored) = stored_headers(req)?;
    let upload_id = state.store.initiate_multipart(&req.key, &content_type, stored)?;
    let mut xml = Xml::new("InitiateMultipartUploadResult");
    xml.leaf("Bucket", &req.bucket).leaf("Key", &req.key).leaf("UploadId", &upload_id);
    Ok(xml_response(xml))
}

/// PUT /{key}?partNumber=N&uploadId=U
pub async fn part_put(state: &AppState, req: &CosRequest, body: &mut Option<Body>) -> Result<Response, CosError> {
    let number = req
        .param("partNumber")
        .and_then(|n| n.parse::<u32>().ok())
        .ok_or_else(|| CosError::invalid_argument("Part number must be an integer between 1 and 10000, inclusive."))?;
    let len = content_length(req)?;
    let md5 = content_md5(req)?;
    check_upload_key(state, req)?;
    let part = state.store.put_part(upload_id(req), number, body_stream(take(body)), len, md5).await?;
    Ok((StatusCode::OK, write_headers(&part.etag, part.crc64), [(header::CONTENT_LENGTH, "0")]).into_response())
}

/// GET /{key}?uploadId=U[&part-number-marker=N][&max-parts=M][&encoding-type=url]
pub fn parts_list(state: &AppState, req: &CosRequest) -> Result<Response, CosError> {
    let (info, parts) = state.store.list_parts(upload_id(req))?.ok_or_else(CosError::no_such_upload)?;
    if info.key != req.key {
        return Err(CosError::no_such_upload());
    }
    let marker: u32 = match req.param("part-number-marker").filter(|v| !v.is_empty()) {
        None => 0,
        Some(v) => v.parse().map_err(|_| CosError::invalid_argument("part-number-marker must be an integer."))?,
    };
    let max = page_size(req, "max-parts")?;
    let encode = name_encoder(req);
    let mut after = parts.into_iter().filter(|p| p.number > marker).peekable();
    let page: Vec<_> = after.by_ref().take(max).collect();
    let truncated = after.peek().is_some();
    let mut xml = Xml::new("ListPartsResult");
    xml.leaf("Bucket", &req.bucket)
        .leaf("Encoding-type", req.param("encoding-type").unwrap_or(""))
        .leaf("Key", &encode(&info.key))
        .leaf("UploadId", &info.upload_id);
    owner(&mut xml, "Initiator");
    owner(&mut xml, "Owner");
    xml.leaf("PartNumberMarker", &marker.to_string());
    for part in &page {
        xml.open("Part")
            .leaf("PartNumber", &part.number.to_string())
            .leaf("LastModified", &iso8601_ms(part.last_modified_ms))
            .leaf("ETag", &part.etag)
            .leaf("Size", &part.size.to_string())
            .close();
    }
    let next = page.last().map(|p| p.number).unwrap_or(marker);
    xml.leaf("NextPartNumberMarker", &next.to_string())
        .leaf("StorageClass", "STANDARD")
        .leaf("MaxParts", &max.to_string())
        .leaf("IsTruncated", if truncated { "true" } else { "false" });
    Ok(xml_response(xml))
}

/// POST /{key}?uploadId=U with the part list.
pub async fn multipart_complete(
    state: &AppState,
    req: &CosRequest,
    body: &mut Option<Body>,
) -> Result<Response, CosError> {
    check_upload_key(state, req)?;
    let md5 = content_md5(req)?;
    let bytes = http_body_util::Limited::new(take(body), MAX_COMPLETE_BODY_BYTES)
        .collect()
        .await
        .map_err(|_| CosError::malformed_xml())?
        .to_bytes();
    if md5.is_some_and(|md5| md5 != <[u8; 16]>::from(<md5::Md5 as md5::Digest>::digest(&bytes))) {
        return Err(crate::store::StoreError::BadDigest.into());
    }
    let parts = std::str::from_utf8(&bytes)
        .ok()
        .and_then(parse_complete)
        .filter(|parts| !parts.is_empty())
        .ok_or_else(CosError::malformed_xml)?;
    let min_part_size = state.settings().min_part_size;
    let meta = state.store.complete_multipart(upload_id(req), parts, min_part_size, None).await?;
    let mut xml = Xml::new("CompleteMultipartUploadResult");
    xml.leaf("Location", &format!("{}/{}", req.host, meta.key))
        .leaf("Bucket", &req.bucket)
        .leaf("Key", &meta.key)
        .leaf("ETag", &meta.etag);
    let mut response = xml_response(xml);
    response.headers_mut().extend(write_headers(&meta.etag, meta.crc64));
    Ok(response)
}

/// DELETE /{key}?uploadId=U
pub fn multipart_abort(state: &AppState, req: &CosRequest) -> Result<Response, CosError> {
    check_upload_key(state, req)?;
    if state.store.abort_multipart(upload_id(req))? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(CosError::no_such_upload())
    }
}

/// GET /?uploads[&prefix][&delimiter][&key-marker][&upload-id-marker][&max-uploads][&encoding-type]
pub fn uploads_list(state: &AppState, req: &CosRequest) -> Result<Response, CosError> {
    let prefix = req.param("prefix").unwrap_or("");
    let delimiter = req.param("delimiter").unwrap_or("");
    let key_marker = req.param("key-marker").unwrap_or("");
    let id_marker = req.param("upload-id-marker").unwrap_or("");
    let max = page_size(req, "max-uploads")?;
    let encode = name_encoder(req);
    // S3 semantics: after (key-marker, upload-id-marker); without an id marker, after every
    // upload of key-marker. Unconfirmed: docs/devserver-fidelity.md#cos-list-uploads-markers
    let after = state.store.list_multipart_uploads(prefix)?.into_iter().filter(|u| {
        u.key.as_str() > key_marker
            || (u.key == key_marker && !id_marker.is_empty() && u.upload_id.as_str() > id_marker)
    });
    let mut uploads = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut truncated = false;
    for upload in after {
        let common = (!delimiter.is_empty())
            .then(|| {
                upload.key[prefix.len()..]
                    .find(delimiter)
                    .map(|i| upload.key[..prefix.len() + i + delimiter.len()].to_string())
            })
            .flatten();
        if let Some(common) = &common {
            if prefixes.last() == Some(common) {
                continue;
            }
        }
        if uploads.len() + prefixes.len() == max {
            truncated = true;
            break;
        }
        match common {
            Some(common) => prefixes.push(common),
            None => uploads.push(upload),
        }
    }
    let (next_key, next_id) = match uploads.last() {
        Some(u) if truncated => (u.key.clone(), u.upload_id.clone()),
        _ => (String::new(), String::new()),
    };
    let mut xml = Xml::new("ListMultipartUploadsResult");
    xml.leaf("Bucket", &req.bucket)
        .leaf("Encoding-Type", req.param("encoding-type").unwrap_or(""))
        .leaf("KeyMarker", &encode(key_marker))
        .leaf("UploadIdMarker", id_marker)
        .leaf("NextKeyMarker", &encode(&next_key))
        .leaf("NextUploadIdMarker", &next_id)
        .leaf("MaxUploads", &max.to_string())
        .leaf("IsTruncated", if truncated { "true" } else { "false" })
        .leaf("Prefix", &encode(prefix));
    if !delimiter.is_empty() {
        xml.leaf("Delimiter", &encode(delimiter));
    }
    for upload in &uploads {
        xml.open("Upload")
            .leaf("Key", &encode(&upload.key))
            .leaf("UploadId", &upload.upload_id)
            .leaf("StorageClass", "STANDARD");
        owner(&mut xml, "Initiator");
        owner(&mut xml, "Owner");
        xml.leaf("Initiated", &iso8601_ms(upload.initiated_ms)).close();
    }
    for common in &prefixes {
        xml.open("CommonPrefixes").leaf("Prefix", &encode(common)).close();
    }
    Ok(xml_response(xml))
}
