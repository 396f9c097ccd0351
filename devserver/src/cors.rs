//! CORS of the three origins, with tower-http's [`CorsLayer`]: every preflight (`OPTIONS`) is
//! answered by the layer itself — the methods given, whatever request headers the browser
//! asks for, cacheable for [`PREFLIGHT_MAX_AGE`] — and every other response, errors and
//! injected faults included, names the page's origin when it is allowed and the headers a
//! page may read.

use std::time::Duration;

use axum::http::{HeaderName, Method};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

/// How long a browser may cache a preflight answer.
pub const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// The layer: `origins` are the page origins answered (echoed in `Access-Control-Allow-Origin`),
/// `methods` the methods a preflight allows, `expose` the response headers a page may read.
pub fn layer(origins: AllowOrigin, methods: &[Method], expose: &[&'static str]) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(origins)
        .allow_methods(methods.to_vec())
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers(expose.iter().map(|name| HeaderName::from_static(name)).collect::<Vec<_>>())
        .max_age(PREFLIGHT_MAX_AGE)
}
