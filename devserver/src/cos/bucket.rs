//! Bucket handlers: GetBucket (ListObjects v1) and HeadBucket.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::error::CosError;
use super::multipart::{name_encoder, page_size};
use super::request::CosRequest;
use super::response::iso8601_ms;
use super::xml::Xml;
use crate::state::AppState;

/// Keys fetched from the store per batch while rolling keys up into common prefixes.
const LIST_BATCH: usize = 1000;
/// Owner of listed objects: the devserver's fixed APPID.
const OWNER_ID: &str = "1250000000";

/// GET /?prefix=&delimiter=&marker=&max-keys=&encoding-type=url (S3 v1 semantics, docs/cos-api.md §2.11).
pub fn bucket_list(state: &AppState, req: &CosRequest) -> Result<Response, CosError> {
    let prefix = req.param("prefix").unwrap_or("");
    let delimiter = req.param("delimiter").unwrap_or("");
    let marker = req.param("marker").unwrap_or("");
    let max = page_size(req, "max-keys")?;
    let encode = name_encoder(req);

    let mut contents = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut truncated = false;
    let mut next_marker = String::new();
    let mut cursor = marker.to_string();
    'scan: loop {
        let batch = state.store.list_objects(prefix, &cursor, LIST_BATCH)?;
        let Some(last) = batch.last() else { break };
        cursor = last.key.clone();
        let full_batch = batch.len() == LIST_BATCH;
        for object in batch {
            let common = (!delimiter.is_empty())
                .then(|| {
                    object.key[prefix.len()..]
                        .find(delimiter)
                        .map(|i| object.key[..prefix.len() + i + delimiter.len()].to_string())
                })
                .flatten();
            if let Some(common) = &common {
                // Keys under a prefix already listed (or under the marker itself) roll up.
                if prefixes.last() == Some(common) || common.as_str() <= marker {
                    continue;
                }
            }
            if contents.len() + prefixes.len() == max {
                truncated = true;
                break 'scan;
            }
            next_marker = common.clone().unwrap_or_else(|| object.key.clone());
            match common {
                Some(common) => prefixes.push(common),
                None => contents.push(object),
            }
        }
        if !full_batch {
            break;
        }
    }
    let mut xml = Xml::new("ListBucketResult");
    xml.leaf("Name", &req.bucket);
    if let Some(encoding) = req.param("encoding-type") {
        xml.leaf("EncodingType", encoding);
    }
    xml.leaf("Prefix", &encode(prefix)).leaf("Marker", &encode(marker)).leaf("MaxKeys", &max.to_string());
    if !delimiter.is_empty() {
        xml.leaf("Delimiter", &encode(delimiter));
    }
    xml.leaf("IsTruncated", if truncated { "true" } else { "false" });
    if truncated {
        // COS returns NextMarker even without a delimiter (doc 436/7734).
        xml.leaf("NextMarker", &encode(&next_marker));
    }
    for common in &prefixes {
        xml.open("CommonPrefixes").leaf("Prefix", &encode(common)).close();
    }
    for object in &contents {
        xml.open("Contents")
            .leaf("Key", &encode(&object.key))
            .leaf("LastModified", &iso8601_ms(object.last_modified_ms))
            .leaf("ETag", &object.etag)
            .leaf("Size", &object.size.to_string())
            .open("Owner")
            .leaf("ID", OWNER_ID)
            .leaf("DisplayName", OWNER_ID)
            .close()
            .leaf("StorageClass", "STANDARD")
            .close();
    }
    Ok(([(header::CONTENT_TYPE, "application/xml")], xml.finish()).into_response())
}

/// HEAD / — the bucket exists (resolution already answered 404 NoSuchBucket otherwise).
pub fn bucket_head() -> Result<Response, CosError> {
    Ok((StatusCode::OK, [(header::CONTENT_LENGTH, "0")]).into_response())
}
