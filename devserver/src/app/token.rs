//! `POST /token`: the customer backend minting an access token for its page, through the SMH
//! token API (called in-process on the smh router, as a real backend calls SMH over HTTPS).

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde::Deserialize;
use serde_json::Value;
use tower::ServiceExt;

use super::{app_error, json_body};
use crate::smh::error::REQUEST_ID_HEADER;
use crate::state::AppState;

/// Grants of a token when the page asks for none: what a browser uploader needs — upload (also
/// overwrite, hence `upload_file_force`), create directories (`autoCreateDir`), delete its files.
/// Not `admin`: a browser token should not manage spaces or delete directory trees.
pub const DEFAULT_GRANT: &str = "upload_file,upload_file_force,create_directory,delete_file";
/// Grants that act on the library rather than a space; with these no default space is bound.
const LIBRARY_GRANTS: &[&str] = &["admin", "create_space"];
/// Largest request body accepted.
const MAX_BODY: usize = 16 * 1024;

/// Body of `POST /token`; every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenRequest {
    space_id: Option<String>,
    user_id: Option<String>,
    client_id: Option<String>,
    session_id: Option<String>,
    /// `"a,b"` or `["a","b"]`.
    grant: Option<Value>,
    /// Seconds, number or string.
    period: Option<Value>,
}

fn grant_list(grant: Option<&Value>) -> Result<String, String> {
    match grant {
        None | Some(Value::Null) => Ok(DEFAULT_GRANT.to_string()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(String::from).ok_or_else(|| "grant items must be strings".to_string()))
            .collect::<Result<Vec<_>, _>>()
            .map(|v| v.join(",")),
        Some(_) => Err("grant must be a string or an array of strings".to_string()),
    }
}

pub async fn token_mint(State(state): State<AppState>, body: Body) -> Response {
    let request: TokenRequest = match json_body(body, MAX_BODY, "a token request").await {
        Ok(r) => r,
        Err(answer) => return answer,
    };
    let grant = match grant_list(request.grant.as_ref()) {
        Ok(g) => g,
        Err(e) => return app_error(StatusCode::BAD_REQUEST, e),
    };
    let library_wide = grant.split(',').any(|g| LIBRARY_GRANTS.contains(&g.trim()));
    // Multi-tenant: bind the token to the first space unless the page named one or asked for
    // library-wide grants.
    let space_id = request
        .space_id
        .or_else(|| (state.config.multi_tenant && !library_wide).then(|| crate::smh::default_space_id(&state)));
    let period = match request.period {
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::String(s)) => Some(s),
        _ => None,
    };
    let identity = &state.identity;
    let mut query = vec![
        ("library_id", Some(identity.library_id.clone())),
        ("library_secret", Some(identity.library_secret.clone())),
        ("space_id", space_id),
        ("user_id", request.user_id),
        ("client_id", request.client_id),
        ("session_id", request.session_id),
        ("period", period),
        ("grant", Some(grant)),
    ];
    let query: Vec<String> = query
        .drain(..)
        .filter_map(|(k, v)| v.map(|v| format!("{k}={}", utf8_percent_encode(&v, NON_ALPHANUMERIC))))
        .collect();
    let Ok(smh_request) =
        Request::builder().method("POST").uri(format!("/api/v1/token?{}", query.join("&"))).body(Body::empty())
    else {
        return app_error(StatusCode::INTERNAL_SERVER_ERROR, "could not build the token request");
    };
    let smh_response = match crate::smh::router(state.clone()).oneshot(smh_request).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let status = smh_response.status();
    let request_id = smh_response.headers().get(REQUEST_ID_HEADER).cloned();
    let Ok(body) = to_bytes(smh_response.into_body(), MAX_BODY).await else {
        return app_error(StatusCode::BAD_GATEWAY, "could not read the SMH answer");
    };
    // The SMH answer (token or SMH error JSON) passes through unchanged, with its request id.
    let mut response = (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    if let Some(id) = request_id {
        response.headers_mut().insert(REQUEST_ID_HEADER, id);
    }
    response
}
