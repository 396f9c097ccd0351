//! The one handler of the cos origin: resolves bucket and operation, authenticates,
//! authorises, runs the operation's handler, and adds the common headers to every answer.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::response::Response;
use futures_util::StreamExt;

use super::auth::{authenticate, authorize};
use super::bucket::{bucket_head, bucket_list};
use super::error::CosError;
use super::multipart::{multipart_abort, multipart_complete, multipart_initiate, part_put, parts_list, uploads_list};
use super::object::{body_stream, object_delete, object_get, object_put};
use super::post::post_object;
use super::request::{CosRequest, Operation};
use super::response::{add_common_headers, new_request_id, use_cos_header_case};
use crate::state::AppState;

/// Every request of the cos origin.
pub async fn cos_request(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let mut body = Some(body);
    let request_id = new_request_id();
    let head = parts.method == Method::HEAD;
    let resource =
        format!("{}{}", parts.headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or(""), parts.uri.path());
    let mut response = match serve(&state, &parts, &mut body).await {
        Ok(response) => response,
        Err(error) => {
            if let Some(unread) = body.take() {
                drain(&parts.headers, unread).await;
            }
            error.render(&resource, &request_id, head)
        }
    };
    add_common_headers(response.headers_mut(), &request_id);
    use_cos_header_case(&mut response).await;
    response
}

/// Largest unread request body drained before an early error answer (see [`drain`]).
pub const MAX_DRAIN_BYTES: u64 = 512 * 1024 * 1024;

/// Reads and discards a body the handler refused before reading it (e.g. 403 "Request has
/// expired" on an 8 MiB part). Answering while the client is still sending makes hyper close
/// the connection, and browsers and SDKs then see a network error instead of the COS error they
/// renew credentials or retry on. Bodies larger than [`MAX_DRAIN_BYTES`] are not drained.
async fn drain(headers: &axum::http::HeaderMap, body: Body) {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    if declared == 0 || declared > MAX_DRAIN_BYTES {
        return;
    }
    let mut stream = body_stream(body);
    while let Some(Ok(_)) = stream.next().await {}
}

async fn serve(
    state: &AppState,
    parts: &axum::http::request::Parts,
    body: &mut Option<Body>,
) -> Result<Response, CosError> {
    let req = CosRequest::parse(state, parts)?;
    let op = req.operation()?;
    if op != Operation::PostObject {
        // PostObject has no Authorization header: its form fields sign it (checked as read).
        let principal = authenticate(state, &req)?;
        authorize(&principal, op, &req)?;
    }
    match op {
        Operation::PostObject => post_object(state, &req, body).await,
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
