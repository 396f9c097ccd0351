//! The `app` origin: the customer backend (`POST /token`), `www/` at `/`, `pkg/` at `/pkg/`, and
//! every test hook under `/_dev/`.
//!
//! OWNER: the SMH side.
//!
//! # Routes
//! - `POST /token` → `{"accessToken","expiresIn"}` ([`token`])
//! - `POST /credentials[?shape=vod]` → temporary COS keys for the bucket, and
//!   `POST /_dev/credentials/expire` ([`credentials`])
//! - `/_dev/faults` (GET, POST, DELETE), `GET /_dev/objects`, `GET /_dev/uploads`,
//!   `POST /_dev/tokens/expire`, `POST /_dev/uploads/expire`, `GET|POST /_dev/config`,
//!   `GET|DELETE /_dev/log`, `POST /_dev/seed`, `GET /_dev/ready` ([`dev`])
//! - `/pkg/*` the built npm package; `/*` the demo page, or a built-in page without `--www`
//!   ([`site`])
//!
//! CORS admits any loopback origin (`http://127.0.0.1:*`, `http://localhost:*`, `http://[::1]:*`).

pub mod credentials;
pub mod dev;
pub mod site;
pub mod token;

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tower_http::cors::AllowOrigin;

use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/token", post(token::token_mint))
        .route("/credentials", post(credentials::credentials_mint))
        .route("/_dev/credentials/expire", post(credentials::credentials_expire))
        .route("/_dev/faults", get(dev::faults_list).post(dev::faults_add).delete(dev::faults_clear))
        .route("/_dev/objects", get(dev::objects_list))
        .route("/_dev/uploads", get(dev::uploads_list))
        .route("/_dev/tokens/expire", post(dev::tokens_expire))
        .route("/_dev/uploads/expire", post(dev::uploads_expire))
        .route("/_dev/config", get(dev::config_get).post(dev::config_set))
        .route("/_dev/log", get(dev::log_list).delete(dev::log_clear))
        .route("/_dev/seed", post(dev::seed_create))
        .route("/_dev/ready", get(dev::ready_public));
    let origins = AllowOrigin::predicate(|origin, _| origin.to_str().is_ok_and(is_loopback_origin));
    let methods = [Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::OPTIONS];
    site::mount(routes, &state).layer(crate::cors::layer(origins, &methods, &[])).with_state(state)
}

/// Whether `origin` is a page served from a loopback host (any port).
fn is_loopback_origin(origin: &str) -> bool {
    let Some(rest) = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://")) else {
        return false;
    };
    let host = if let Some(v6) = rest.strip_prefix('[') {
        v6.split(']').next().map(|h| format!("[{h}]")).unwrap_or_default()
    } else {
        rest.split(':').next().unwrap_or("").to_string()
    };
    host == "localhost" || host == "[::1]" || host.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

/// A JSON error of the app origin (not an SMH error: the customer backend's own shape).
pub(crate) fn app_error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message.into() }))).into_response()
}

/// A customer-backend request body of at most `limit` bytes: empty = `T::default()`, else JSON;
/// otherwise the 413 / 400 answer (`what` names the expected body in the message).
pub(crate) async fn json_body<T: serde::de::DeserializeOwned + Default>(
    body: axum::body::Body,
    limit: usize,
    what: &str,
) -> Result<T, Response> {
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| app_error(StatusCode::PAYLOAD_TOO_LARGE, "request body too large"))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(&bytes).map_err(|e| app_error(StatusCode::BAD_REQUEST, format!("body is not {what}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::is_loopback_origin;

    #[test]
    fn loopback_origins() {
        assert!(is_loopback_origin("http://127.0.0.1:8080"));
        assert!(is_loopback_origin("http://localhost:3000"));
        assert!(is_loopback_origin("http://[::1]:1"));
        assert!(is_loopback_origin("http://127.0.0.1"));
        assert!(!is_loopback_origin("http://evil.example:80"));
        assert!(!is_loopback_origin("http://127.0.0.1.evil.example"));
    }
}
