//! The one handler of the cos origin: resolves bucket and operation, authenticates,
//! authorises, runs the operation's handler, and adds the common headers to every answer.

use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::response::Response;

use super::auth::{authenticate, authorize};
use super::bucket::{bucket_head, bucket_list};
use super::error::CosError;
use super::multipart::{multipart_abort, multipart_complete, multipart_initiate, part_put, parts_list, uploads_list};
use super::object::{object_delete, object_get, object_put};
use super::request::{CosRequest, Operation};
use super::response::{add_common_headers, cors_preflight, new_request_id, use_cos_header_case};
use crate::state::AppState;

/// Every request of the cos origin.
pub async fn cos_request(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let request_id = new_request_id();
    let origin = parts.headers.get(header::ORIGIN).cloned();
    let head = parts.method == Method::HEAD;
    let resource = format!(
        "{}{}",
        parts.headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or(""),
        parts.uri.path()
    );
    let mut response = if parts.method == Method::OPTIONS {
        cors_preflight(&parts.headers)
    } else {
        match serve(&state, &parts, body).await {
            Ok(response) => response,
            Err(error) => error.render(&resource, &request_id, head),
        }
    };
    add_common_headers(response.headers_mut(), origin.as_ref(), &request_id);
    use_cos_header_case(&mut response).await;
    response
}

async fn serve(state: &AppState, parts: &axum::http::request::Parts, body: axum::body::Body) -> Result<Response, CosError> {
    let req = CosRequest::parse(state, parts)?;
    let op = req.operation()?;
    let principal = authenticate(state, &req)?;
    authorize(&principal, op, &req)?;
    match op {
        Operation::PutObject => object_put(state, &req, body).await,
        Operation::GetObject => object_get(&req, state, false).await,
        Operation::HeadObject => object_get(&req, state, true).await,
        Operation::DeleteObject => object_delete(state, &req),
        Operation::InitiateMultipartUpload => multipart_initiate(state, &req),
        Operation::UploadPart => part_put(state, &req, body).await,
        Operation::ListParts => parts_list(state, &req),
        Operation::CompleteMultipartUpload => multipart_complete(state, &req, body).await,
        Operation::AbortMultipartUpload => multipart_abort(state, &req),
        Operation::ListMultipartUploads => uploads_list(state, &req),
        Operation::GetBucket => bucket_list(state, &req),
        Operation::HeadBucket => bucket_head(),
    }
}
