//! `smh-devserver` binary: parses flags, binds the three listeners, prints the READY line, serves.

use clap::Parser;
use smh_devserver::{config::Cli, Config, Listeners};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> smh_devserver::anyhow_free::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SMH_DEVSERVER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
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
    eprintln!("smh-devserver: app {}  smh {}  cos http://{}  data {}", ready.app, ready.smh, ready.cos, config.data_dir.display());
    smh_devserver::run(state, listeners, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
