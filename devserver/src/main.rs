//! `smh-devserver` binary: parses flags, binds the three listeners, prints the READY line, serves.

use clap::Parser;
use smh_devserver::{config::Cli, Config, Listeners};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match serve().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("smh-devserver: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve() -> smh_devserver::anyhow_free::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SMH_DEVSERVER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    #[cfg(unix)]
    raise_open_file_limit();
    let cli = Cli::parse();
    // A data directory we made up is ours to remove at exit; one given with --data is kept.
    let temporary_data = cli.data.is_none();
    let config = Config::from_cli(cli)?;
    let bind = |port: u16| TcpListener::bind((config.host, port));
    let listeners = Listeners {
        app: bind(config.app_port).await?,
        smh: bind(config.smh_port).await?,
        cos: bind(config.cos_port).await?,
    };
    let state = smh_devserver::open_state(&config, &listeners)?;
    let ready = state.ready();
    println!("SMH_DEVSERVER_READY {}", serde_json::to_string(&ready)?);
    eprintln!(
        "smh-devserver: app {}  smh {}  cos http://{}  data {}",
        ready.app,
        ready.smh,
        ready.cos,
        config.data_dir.display()
    );
    let data_dir = config.data_dir.clone();
    let remove_temporary_data = move || {
        if temporary_data {
            let _ = std::fs::remove_dir_all(&data_dir);
        }
    };
    // SIGTERM (what test runners and `kill` send) stops at once, as an unhandled SIGTERM would;
    // only the temporary data directory is removed first.
    #[cfg(unix)]
    if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        let remove = remove_temporary_data.clone();
        tokio::spawn(async move {
            term.recv().await;
            remove();
            std::process::exit(0);
        });
    }
    smh_devserver::run(state, listeners, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    remove_temporary_data();
    Ok(())
}

/// A read of a multipart object holds one open file per part (up to 10000; `store::read`), so
/// the soft limit on open files is raised to the hard one, as servers commonly do. A failure
/// only keeps the old limit.
#[cfg(unix)]
fn raise_open_file_limit() {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes and setrlimit reads only `limit`, a valid `rlimit`.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}
