//! `POST /credentials`: the customer backend issuing temporary COS keys for the library's bucket
//! (docs/cos-api.md §7), as a real backend calls STS `GetFederationToken` or VOD
//! `CreateStorageCredentials` with an upload policy and hands the result to its page.
//!
//! OWNER: the COS-credentials side.
//!
//! Body (JSON, optional, camelCase): `{"durationSeconds"?: 1…129600 (default 1800),
//! "prefix"?: "uploads/"}` — `prefix` scopes the keys to object keys starting with it (a real
//! backend's policy resource `…/{prefix}*`); without it they cover the whole bucket. What the
//! keys may do is [`crate::cos::auth::authorize`]'s to say.
//!
//! Answer, by `?shape=`:
//! - `sts` (default) — GetFederationToken's `Response` content (docs/cos-api.md §7.1):
//!   `{"Credentials":{"TmpSecretId","TmpSecretKey","Token"},"ExpiredTime":unix,
//!   "Expiration":"2026-01-01T00:30:00Z","StartTime":unix,"RequestId"}` (`StartTime`: issue time,
//!   as the qcloud-cos-sts helpers add it);
//! - `vod` — CreateStorageCredentials exactly as docs/cos-api.md §7.2 shows it, in its envelope:
//!   `{"Response":{"Credentials":{"AccessKeyId","SecretAccessKey","SessionToken","Expiration"},
//!   "RequestId"}}`.
//!
//! Errors: 400 `{"error": "…"}` for a bad body, duration or shape. The keys are accepted by the
//! cos origin (with `x-cos-security-token`) until `ExpiredTime`, then answered 403 AccessDenied
//! "Request has expired" (see [`crate::cos::auth::authenticate`]).
//!
//! Test hook: `POST /_dev/credentials/expire` `{"tmpSecretId"?}` expires that key, or every key
//! issued here → `{"expired": n}`.

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{app_error, json_body};
use crate::state::AppState;
use crate::store::TempCredential;

/// STS and VOD's default validity.
pub const DEFAULT_DURATION_SECS: i64 = 1800;
/// Shortest validity accepted: one second, so tests can watch keys expire (real STS has a
/// floor; this devserver does not need one).
pub const MIN_DURATION_SECS: i64 = 1;
/// Longest validity: 36 h, the maximum of both STS (sub-account) and VOD (docs/cos-api.md §7).
pub const MAX_DURATION_SECS: i64 = 129_600;
/// Longest prefix: COS object keys are at most 850 bytes.
const MAX_PREFIX_BYTES: usize = 850;
/// Largest request body accepted.
const MAX_BODY: usize = 16 * 1024;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CredentialsRequest {
    duration_seconds: Option<i64>,
    prefix: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ShapeQuery {
    shape: Option<String>,
}

/// The answer shapes.
#[derive(Debug, Clone, Copy)]
enum Shape {
    Sts,
    Vod,
}

fn parse_shape(shape: Option<&str>) -> Result<Shape, String> {
    match shape {
        None | Some("sts") => Ok(Shape::Sts),
        Some("vod") => Ok(Shape::Vod),
        Some(other) => Err(format!("shape must be \"sts\" or \"vod\", not {other:?}")),
    }
}

/// The validity and prefix asked for, checked.
fn validate(request: CredentialsRequest) -> Result<(i64, String), String> {
    let duration = request.duration_seconds.unwrap_or(DEFAULT_DURATION_SECS);
    if !(MIN_DURATION_SECS..=MAX_DURATION_SECS).contains(&duration) {
        return Err(format!(
            "durationSeconds must be between {MIN_DURATION_SECS} and {MAX_DURATION_SECS}, got {duration}"
        ));
    }
    let prefix = request.prefix.unwrap_or_default();
    if prefix.starts_with('/') || prefix.len() > MAX_PREFIX_BYTES || prefix.chars().any(char::is_control) {
        return Err(format!(
            "prefix must be an object key prefix: no leading '/', no control characters, at most {MAX_PREFIX_BYTES} bytes"
        ));
    }
    Ok((duration, prefix))
}

/// A request id in the TencentCloud API's UUID form.
fn request_id() -> String {
    let hex = {
        let mut bytes = [0u8; 16];
        rand::Rng::fill(&mut rand::rng(), &mut bytes);
        hex::encode(bytes)
    };
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// RFC 3339 UTC without fractions, as STS and VOD write `Expiration`.
fn iso_seconds(unix: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::from_unix_timestamp(unix).ok().and_then(|t| t.format(&format).ok()).unwrap_or_default()
}

fn render(shape: Shape, credential: &TempCredential, issued: i64) -> Value {
    let expiration = iso_seconds(credential.expires);
    match shape {
        Shape::Sts => json!({
            "Credentials": {
                "TmpSecretId": credential.secret_id,
                "TmpSecretKey": credential.secret_key,
                "Token": credential.token,
            },
            "ExpiredTime": credential.expires,
            "Expiration": expiration,
            "StartTime": issued,
            "RequestId": request_id(),
        }),
        Shape::Vod => json!({
            "Response": {
                "Credentials": {
                    "AccessKeyId": credential.secret_id,
                    "SecretAccessKey": credential.secret_key,
                    "SessionToken": credential.token,
                    "Expiration": expiration,
                },
                "RequestId": request_id(),
            }
        }),
    }
}

pub async fn credentials_mint(State(state): State<AppState>, Query(query): Query<ShapeQuery>, body: Body) -> Response {
    let shape = match parse_shape(query.shape.as_deref()) {
        Ok(s) => s,
        Err(e) => return app_error(StatusCode::BAD_REQUEST, e),
    };
    let request: CredentialsRequest = match json_body(body, MAX_BODY, "{durationSeconds?, prefix?}").await {
        Ok(r) => r,
        Err(answer) => return answer,
    };
    let (duration, prefix) = match validate(request) {
        Ok(r) => r,
        Err(e) => return app_error(StatusCode::BAD_REQUEST, e),
    };
    let issued = crate::store::now_secs();
    match state.store.mint_bucket_credential(&prefix, duration) {
        Ok(credential) => Json(render(shape, &credential, issued)).into_response(),
        Err(e) => app_error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ExpireRequest {
    tmp_secret_id: Option<String>,
}

/// `POST /_dev/credentials/expire`.
pub async fn credentials_expire(State(state): State<AppState>, body: Body) -> Response {
    let request: ExpireRequest = match json_body(body, MAX_BODY, "{tmpSecretId?}").await {
        Ok(r) => r,
        Err(answer) => return answer,
    };
    match state.store.expire_bucket_credentials(request.tmp_secret_id.as_deref()) {
        Ok(n) => Json(json!({ "expired": n })).into_response(),
        Err(e) => app_error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_bounds() {
        let check =
            |json: &str| serde_json::from_str::<CredentialsRequest>(json).map_err(|e| e.to_string()).and_then(validate);
        assert_eq!(check("{}"), Ok((1800, String::new())));
        assert_eq!(check(r#"{"durationSeconds":60,"prefix":"a/"}"#), Ok((60, "a/".into())));
        for bad in [r#"{"durationSeconds":0}"#, r#"{"durationSeconds":129601}"#, r#"{"prefix":"/a"}"#, r#"{"ttl":5}"#] {
            assert!(check(bad).is_err(), "{bad}");
        }
        assert!(parse_shape(Some("aws")).is_err());
        assert_eq!(iso_seconds(1_700_001_800), "2023-11-14T22:43:20Z");
    }
}
