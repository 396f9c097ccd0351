//! Command-line options ([`Cli`]), the resolved [`Config`], and the [`Ready`] line's JSON.

use std::net::IpAddr;
use std::path::PathBuf;

use serde::Serialize;

/// `smh-devserver [--data DIR] [--host 127.0.0.1] [--allowed-host NAME]... [--app-port N] [--smh-port N] [--cos-port N]
/// [--www DIR] [--pkg DIR] [--multi-tenant] [--multi-album] [--media-library]` (docs/design.md §4;
/// `--help` prints every flag, the READY line and the hooks: devserver/README.md has more).
#[derive(Debug, clap::Parser)]
#[command(
    name = "smh-devserver",
    version,
    about = "Local imitation of Tencent SMH + COS + a customer backend, for upload tests",
    long_about = "Local imitation of Tencent Smart Media Hosting (SMH), the COS XML API of the \
library's bucket, and a customer backend, on three loopback ports, so that upload pages and \
SDKs can be tested on one machine with no cloud account.",
    after_help = "When all three listeners are up, one line goes to stdout:\n  \
SMH_DEVSERVER_READY {\"app\",\"smh\",\"cos\",\"libraryId\",\"librarySecret\",\"spaceId\",\"bucket\",\"region\",\"secretId\",\"secretKey\",...}\n\
Tests script it through the app origin: POST /token, POST /credentials, and the /_dev/ hooks \
(faults, objects, uploads, log, config, seed, tokens/expire, uploads/expire, credentials/expire, ready).\n\
Logs go to stderr (SMH_DEVSERVER_LOG=info|debug). Full reference: devserver/README.md."
)]
pub struct Cli {
    /// Data directory (SQLite metadata + object bytes); reuse it to restart with the same
    /// library, bucket, keys and objects. It must be new, empty, or one the devserver made (it
    /// marks it with a `.smh-devserver-data` file): the devserver deletes files in it that it did
    /// not write, so any other non-empty directory is refused. Default: a fresh directory under
    /// the system temp dir, removed at exit.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Address every listener binds to. Only loopback addresses are accepted.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Also answer requests whose Host is NAME (any port), e.g. a name your hosts file maps to
    /// 127.0.0.1. Repeatable. Without it only loopback hosts are answered (127.0.0.1, [::1],
    /// localhost, *.localhost; on the cos origin also bucket names such as
    /// `{bucket}.cos.{region}.myqcloud.com`), others get 421, so that a web page whose domain
    /// is rebound to 127.0.0.1 cannot use the devserver.
    #[arg(long = "allowed-host", value_name = "NAME", value_parser = crate::hosts::parse_allowed_host)]
    pub allowed_hosts: Vec<String>,
    /// Port of the app origin (customer backend `POST /token`, `/_dev/` hooks, `--www`, `--pkg`); 0 = any free port.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub app_port: u16,
    /// Port of the SMH API (`/api/v1/…`); 0 = any free port.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub smh_port: u16,
    /// Port of the COS bucket (XML API, where part bytes go); 0 = any free port.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub cos_port: u16,
    /// Directory served at `/` of the app origin (your upload page). Default: a built-in page.
    #[arg(long, value_name = "DIR")]
    pub www: Option<PathBuf>,
    /// Directory served at `/pkg/` of the app origin (e.g. the built npm package).
    #[arg(long, value_name = "DIR")]
    pub pkg: Option<PathBuf>,
    /// The library has tenant spaces (a first space is created and reported as `spaceId`).
    #[arg(long)]
    pub multi_tenant: bool,
    /// Spaces are in multi-album mode (uploads only into first-level albums).
    #[arg(long)]
    pub multi_album: bool,
    /// Media-library rules (no directories unless --multi-album, extension checks) instead of
    /// the default file library.
    #[arg(long)]
    pub media_library: bool,
}

/// Resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub host: IpAddr,
    /// Host names answered besides the loopback ones ([`crate::hosts`]), lowercase, no port.
    pub allowed_hosts: Vec<String>,
    pub app_port: u16,
    pub smh_port: u16,
    pub cos_port: u16,
    pub www: Option<PathBuf>,
    pub pkg: Option<PathBuf>,
    pub multi_tenant: bool,
    pub multi_album: bool,
    pub media_library: bool,
}

impl Config {
    pub fn from_cli(cli: Cli) -> crate::anyhow_free::Result<Config> {
        if !cli.host.is_loopback() {
            return Err(format!(
                "--host {} is not a loopback address; smh-devserver only listens on loopback",
                cli.host
            )
            .into());
        }
        let data_dir = match cli.data {
            Some(dir) => dir,
            None => {
                let unique = format!("smh-devserver-{}-{}", std::process::id(), rand::random::<u32>());
                std::env::temp_dir().join(unique)
            }
        };
        Ok(Config {
            data_dir,
            host: cli.host,
            allowed_hosts: cli.allowed_hosts,
            app_port: cli.app_port,
            smh_port: cli.smh_port,
            cos_port: cli.cos_port,
            www: cli.www,
            pkg: cli.pkg,
            multi_tenant: cli.multi_tenant,
            multi_album: cli.multi_album,
            media_library: cli.media_library,
        })
    }

    /// A config for tests: fresh data dir, default library.
    pub fn for_tests(data_dir: PathBuf) -> Config {
        Config {
            data_dir,
            host: IpAddr::from([127, 0, 0, 1]),
            allowed_hosts: Vec::new(),
            app_port: 0,
            smh_port: 0,
            cos_port: 0,
            www: None,
            pkg: None,
            multi_tenant: false,
            multi_album: false,
            media_library: false,
        }
    }
}

/// The JSON after `SMH_DEVSERVER_READY ` (docs/design.md §4).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ready {
    /// `http://127.0.0.1:P` of the customer backend.
    pub app: String,
    /// `http://127.0.0.1:P` of the SMH API.
    pub smh: String,
    /// `127.0.0.1:P` of the COS bucket domain (no scheme, as SMH returns `domain`).
    pub cos: String,
    pub library_id: String,
    pub library_secret: String,
    pub space_id: String,
    pub bucket: String,
    pub region: String,
    /// The bucket's permanent COS API key pair, for Tencent's own COS clients.
    pub secret_id: String,
    pub secret_key: String,
    pub multi_tenant: bool,
    pub multi_album: bool,
    pub media_library: bool,
    pub data: String,
}
