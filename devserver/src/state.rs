//! [`AppState`]: the one clonable handle given to every router, and the server's identity.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::distr::{Alphanumeric, SampleString};
use rusqlite::OptionalExtension;

use crate::config::{Config, Ready};
use crate::db::Db;
use crate::faults::Faults;
use crate::reqlog::RequestLog;
use crate::store::Store;

/// Addresses the three origins listen on.
#[derive(Debug, Clone, Copy)]
pub struct Origins {
    pub app: SocketAddr,
    pub smh: SocketAddr,
    pub cos: SocketAddr,
}

/// Who this server is: created on the first start on a data directory, the same afterwards.
#[derive(Debug, Clone)]
pub struct Identity {
    pub library_id: String,
    pub library_secret: String,
    /// `name-appid`, e.g. `devbucket-1250000000`.
    pub bucket: String,
    pub region: String,
    /// The bucket owner's permanent COS API keys.
    pub secret_id: String,
    pub secret_key: String,
}

/// Knobs the tests turn through `/_dev/config` (never through the smh or cos origins).
#[derive(Debug, Clone)]
pub struct DevSettings {
    /// Lifetime of the upload authorisations SMH hands out (begin / renew).
    /// 30 min: SDKs renew 5 min before it. Unconfirmed: docs/devserver-fidelity.md#smh-upload-ttl
    pub upload_ttl: Duration,
    /// `domain` SMH returns for uploads; `None` = the cos origin's `127.0.0.1:P`.
    /// Tests set another host here to check the SDK's domain allow-list.
    pub cos_domain_override: Option<String>,
    /// Smallest non-last part COS accepts at Complete (real COS: 1 MiB).
    pub min_part_size: u64,
    /// Largest JSON body the smh origin reads.
    pub max_json_body: usize,
    /// Space quota in bytes for begin-upload's `filesize` check; `None` = unlimited.
    pub quota_bytes: Option<u64>,
}

impl Default for DevSettings {
    fn default() -> Self {
        DevSettings {
            upload_ttl: Duration::from_secs(30 * 60),
            cos_domain_override: None,
            min_part_size: 1024 * 1024,
            max_json_body: 64 * 1024,
            quota_bytes: None,
        }
    }
}

/// Shared state; cheap to clone (all `Arc`s).
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub origins: Origins,
    pub identity: Arc<Identity>,
    pub db: Db,
    pub store: Store,
    pub faults: Arc<Faults>,
    pub log: Arc<RequestLog>,
    /// A `std::sync::Mutex`: read and written in one short step, never held across `.await`.
    pub settings: Arc<Mutex<DevSettings>>,
    /// SMH quick-upload hashes being computed in the background.
    pub quick: Arc<crate::smh::quick::QuickIndex>,
}

impl AppState {
    /// Opens the data directory (refused unless it is the devserver's, [`crate::datadir`]),
    /// creating the identity and the schema on first use.
    pub fn open(config: &Config, origins: Origins) -> crate::anyhow_free::Result<AppState> {
        crate::datadir::claim(&config.data_dir)?;
        let db = Db::open(&config.data_dir)?;
        let identity = load_or_create_identity(&db)?;
        let store = Store::open(db.clone(), &config.data_dir)?;
        let state = AppState {
            config: Arc::new(config.clone()),
            origins,
            identity: Arc::new(identity),
            db,
            store,
            faults: Arc::new(Faults::default()),
            log: Arc::new(RequestLog::default()),
            settings: Arc::new(Mutex::new(DevSettings::default())),
            quick: Arc::default(),
        };
        crate::smh::init(&state)?;
        Ok(state)
    }

    /// Current settings (a copy).
    pub fn settings(&self) -> DevSettings {
        self.settings_mut().clone()
    }

    pub fn settings_mut(&self) -> MutexGuard<'_, DevSettings> {
        self.settings.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The `domain` SMH hands out for uploads: `host:port` of the cos origin unless overridden.
    pub fn cos_domain(&self) -> String {
        self.settings().cos_domain_override.unwrap_or_else(|| self.origins.cos.to_string())
    }

    /// The READY line's JSON.
    pub fn ready(&self) -> Ready {
        let id = &self.identity;
        Ready {
            app: format!("http://{}", self.origins.app),
            smh: format!("http://{}", self.origins.smh),
            cos: self.origins.cos.to_string(),
            library_id: id.library_id.clone(),
            library_secret: id.library_secret.clone(),
            space_id: crate::smh::default_space_id(self),
            bucket: id.bucket.clone(),
            region: id.region.clone(),
            secret_id: id.secret_id.clone(),
            secret_key: id.secret_key.clone(),
            multi_tenant: self.config.multi_tenant,
            multi_album: self.config.multi_album,
            media_library: self.config.media_library,
            data: self.config.data_dir.display().to_string(),
        }
    }
}

fn random_lower(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::rng(), len).to_ascii_lowercase()
}

fn load_or_create_identity(db: &Db) -> rusqlite::Result<Identity> {
    let conn = db.lock();
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS identity (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            library_id TEXT NOT NULL, library_secret TEXT NOT NULL,
            bucket TEXT NOT NULL, region TEXT NOT NULL,
            secret_id TEXT NOT NULL, secret_key TEXT NOT NULL)",
    )?;
    let existing = conn
        .query_row(
            "SELECT library_id, library_secret, bucket, region, secret_id, secret_key FROM identity WHERE id = 1",
            [],
            |r| {
                Ok(Identity {
                    library_id: r.get(0)?,
                    library_secret: r.get(1)?,
                    bucket: r.get(2)?,
                    region: r.get(3)?,
                    secret_id: r.get(4)?,
                    secret_key: r.get(5)?,
                })
            },
        )
        .optional()?;
    if let Some(identity) = existing {
        return Ok(identity);
    }
    let identity = Identity {
        library_id: format!("smh{}", random_lower(12)),
        library_secret: random_lower(40),
        bucket: "devbucket-1250000000".to_string(),
        region: "ap-guangzhou".to_string(),
        secret_id: format!("AKID{}", Alphanumeric.sample_string(&mut rand::rng(), 32)),
        secret_key: Alphanumeric.sample_string(&mut rand::rng(), 32),
    };
    conn.execute(
        "INSERT INTO identity (id, library_id, library_secret, bucket, region, secret_id, secret_key) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)",
        rusqlite::params![identity.library_id, identity.library_secret, identity.bucket, identity.region, identity.secret_id, identity.secret_key],
    )?;
    Ok(identity)
}
