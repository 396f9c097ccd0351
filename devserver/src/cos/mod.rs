//! The `cos` origin: the COS XML API of the one bucket bound to the library
//! (docs/cos-api.md §9), faithful enough for Tencent's own COS SDKs.
//!
//! Routes (one fallback handler dispatches by method and query *keys*, docs/cos-api.md §9.1):
//!
//! | request                                   | operation               | handler                       |
//! |-------------------------------------------|-------------------------|-------------------------------|
//! | `OPTIONS *`                               | CORS preflight, no auth | [`crate::cors`] (a layer)     |
//! | `PUT /{key}`                              | PutObject               | [`object::object_put`]        |
//! | `GET /{key}` (`Range` → 206 / 416)        | GetObject               | [`object::object_get`]        |
//! | `HEAD /{key}`                             | HeadObject              | [`object::object_get`]        |
//! | `DELETE /{key}`                           | DeleteObject            | [`object::object_delete`]     |
//! | `POST /{key}?uploads`                     | InitiateMultipartUpload | [`multipart::multipart_initiate`] |
//! | `PUT /{key}?partNumber=N&uploadId=U`      | UploadPart              | [`multipart::part_put`]       |
//! | `GET /{key}?uploadId=U`                   | ListParts               | [`multipart::parts_list`]     |
//! | `POST /{key}?uploadId=U`                  | CompleteMultipartUpload | [`multipart::multipart_complete`] |
//! | `DELETE /{key}?uploadId=U`                | AbortMultipartUpload    | [`multipart::multipart_abort`] |
//! | `GET /?uploads`                           | ListMultipartUploads    | [`multipart::uploads_list`]   |
//! | `GET /`                                   | GetBucket (v1)          | [`bucket::bucket_list`]       |
//! | `HEAD /`                                  | HeadBucket              | [`bucket::bucket_head`]       |
//! | `POST /` (multipart/form-data)            | PostObject              | [`post::post_object`]         |
//! | `?acl`, `?tagging`, …, copy               | —                       | 501 NotImplemented            |
//!
//! The bucket comes from the Host header ([`request`]); every non-OPTIONS request is
//! signature-checked ([`auth`]; PostObject by its form fields, [`post`]) against the owner's
//! permanent key or a temporary credential from [`crate::store`], whose scope is then enforced. Every answer, errors included, carries
//! `x-cos-request-id`, `Date`, `Server: tencent-cos` ([`response`]) and the CORS headers ([`crate::cors`]).
//!
//! OWNER: the COS side.

pub mod auth;
pub mod bucket;
pub mod dispatch;
pub mod error;
pub mod multipart;
pub mod object;
pub mod post;
pub mod request;
pub mod response;
pub mod sign;
pub mod xml;

use axum::Router;

pub use error::CosError;

use crate::state::AppState;

/// The cos origin's router. Layers (fault injection, request log) go on the returned router:
/// responses they make themselves should be a [`CosError`] (it renders the COS XML and the
/// common headers on its own). CORS wraps them all, so that a page also reads injected faults.
pub fn router(state: AppState) -> Router {
    Router::new()
        .fallback(dispatch::cos_request)
        .with_state(state.clone())
        .layer(crate::faults::Observe::new(state, crate::faults::Origin::Cos))
        .layer(crate::cors::layer(
            tower_http::cors::AllowOrigin::mirror_request(),
            &response::ALLOW_METHODS,
            response::EXPOSE_HEADERS,
        ))
}
