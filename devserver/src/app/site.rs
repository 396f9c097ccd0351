//! Static content of the app origin: `--pkg` at `/pkg/`, `--www` at `/`, or — without `--www` —
//! a small built-in page that mints a token and lists the library root.

use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use tower_http::services::ServeDir;

use crate::state::AppState;

/// Adds the static routes to `routes`. `ServeDir` picks MIME types by extension
/// (`.wasm` → `application/wasm`).
pub fn mount(routes: Router<AppState>, state: &AppState) -> Router<AppState> {
    let routes = match &state.config.pkg {
        Some(pkg) => routes.nest_service("/pkg", ServeDir::new(pkg)),
        None => routes,
    };
    match &state.config.www {
        Some(www) => routes.fallback_service(ServeDir::new(www)),
        None => routes.route("/", get(builtin_page)),
    }
}

/// The built-in page; it holds no secret (the token comes from `POST /token`).
async fn builtin_page(State(state): State<AppState>) -> Html<String> {
    let ready = state.ready();
    let config = serde_json::json!({
        "smh": ready.smh, "libraryId": ready.library_id, "spaceId": ready.space_id,
    });
    Html(BUILTIN_PAGE.replace("__CONFIG__", &config.to_string()))
}

const BUILTIN_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>smh-devserver</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}code{background:#eee;padding:0 .3em}li{margin:.2em 0}</style>
</head>
<body>
<h1>smh-devserver</h1>
<p>No <code>--www</code> directory was given. The library root:</p>
<ul id="root"><li>loading…</li></ul>
<script type="module">
const config = __CONFIG__;
const list = document.getElementById('root');
try {
  const t = await (await fetch('/token', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' })).json();
  const url = `${config.smh}/api/v1/directory/${encodeURIComponent(config.libraryId)}/${encodeURIComponent(config.spaceId)}/?limit=1000&access_token=${encodeURIComponent(t.accessToken)}`;
  const dir = await (await fetch(url)).json();
  list.replaceChildren(...(dir.contents || []).map(e => {
    const li = document.createElement('li');
    li.textContent = e.type === 'dir' ? `${e.name}/` : `${e.name} (${e.size} bytes)`;
    return li;
  }));
  if (!dir.contents || dir.contents.length === 0) list.innerHTML = '<li>(empty)</li>';
} catch (e) {
  list.innerHTML = '';
  list.append(String(e));
}
</script>
</body>
</html>
"#;
