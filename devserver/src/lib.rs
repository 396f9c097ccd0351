//! smh-devserver: a local imitation of Tencent Smart Media Hosting (SMH), of the COS bucket bound
//! to its library, and of a tiny customer backend — the test oracle and demo host of smh-upload.
//!
//! It never imports the SDK: signatures, hashes and CRCs are computed here with well-known crates
//! (`hmac`, `sha1`, `sha2`, `md-5`, `crc`), so that a bug on one side cannot hide one on the other.
//!
//! # Layout
//! - [`config`]: command-line options and the identity printed on the READY line.
//! - [`cors`]: the CORS layer of each origin (tower-http's `CorsLayer`).
//! - [`datadir`]: the data directory is the devserver's own (marked), never someone else's.
//! - [`db`]: the SQLite connection shared by every module (metadata only).
//! - [`store`]: the bucket's bytes — objects and multipart uploads as files written
//!   temp + rename (a multipart object: its part files, linked), their metadata in SQLite, and the temporary COS credentials that SMH
//!   hands out as upload authorisations.
//! - [`cos`]: the `cos` origin — the COS XML API of the one bucket (signature checks, XML, CORS).
//! - [`smh`]: the `smh` origin — the SMH REST API (tokens, spaces, directories, files, uploads).
//! - [`app`]: the `app` origin — the customer backend (`POST /token`), static `www/` and `pkg/`,
//!   and every test hook under `/_dev/`.
//! - [`hosts`]: the `Host` names each origin answers (421 otherwise), against DNS rebinding.
//! - [`faults`]: scripted fault rules applied to the `smh` and `cos` origins.
//! - [`reqlog`]: a bounded log of the requests the `smh` and `cos` origins received.
//! - [`state`]: [`state::AppState`], the one clonable handle every router gets.

pub mod app;
pub mod config;
pub mod cors;
pub mod cos;
pub mod datadir;
pub mod db;
pub mod faults;
pub mod hosts;
pub mod reqlog;
pub mod smh;
pub mod state;
pub mod store;

use std::future::Future;

use tokio::net::TcpListener;

pub use config::{Config, Ready};
pub use state::AppState;

/// The three pre-bound listeners, one per origin.
pub struct Listeners {
    pub app: TcpListener,
    pub smh: TcpListener,
    pub cos: TcpListener,
}

/// Opens the state under `config.data_dir` and the identity it holds (created on first start).
///
/// Separate from [`run`] so that `main` can print the READY line only once everything is up.
pub fn open_state(config: &Config, listeners: &Listeners) -> anyhow_free::Result<AppState> {
    let origins = state::Origins {
        app: listeners.app.local_addr()?,
        smh: listeners.smh.local_addr()?,
        cos: listeners.cos.local_addr()?,
    };
    AppState::open(config, origins)
}

/// Serves the three origins until `shutdown` resolves.
pub async fn run(
    state: AppState,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    smh::quick::resume(&state).map_err(std::io::Error::other)?;
    let (tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let serve = |listener: TcpListener, router: axum::Router| {
        let mut rx = tx.subscribe();
        tokio::spawn(async move {
            axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>())
                .with_graceful_shutdown(async move {
                    let _ = rx.recv().await;
                })
                .await
        })
    };
    use hosts::{guard, Served};
    let app = serve(listeners.app, guard(app::router(state.clone()), &state, Served::App));
    let smh = serve(listeners.smh, guard(smh::router(state.clone()), &state, Served::Smh));
    let cos = serve(listeners.cos, guard(cos::router(state.clone()), &state, Served::Cos));
    shutdown.await;
    let _ = tx.send(());
    for task in [app, smh, cos] {
        match task.await {
            Ok(result) => result?,
            Err(join) => return Err(std::io::Error::other(join)),
        }
    }
    Ok(())
}

/// A minimal boxed error for start-up paths (no `anyhow` dependency).
pub mod anyhow_free {
    pub type Error = Box<dyn std::error::Error + Send + Sync + 'static>;
    pub type Result<T> = std::result::Result<T, Error>;
}
