//! [`Uploader`]: the platform-free client — validated configuration, the service that authorises
//! its uploads ([`Service`]: SMH, or COS directly with temporary credentials), the connection
//! slots shared by all its uploads.

use std::rc::Rc;

use super::checkpoint::{Checkpoints, Pending};
use super::plan::{DEFAULT_MULTIPART_THRESHOLD, MAX_IN_MEMORY_BODY, MIN_PART_SIZE};
use super::retry::RetryConfig;
use super::scheduler::Slots;
use crate::cos::api::{CosApi, CosTarget};
use crate::cos::credentials::{CredentialCache, CredentialProvider};
use crate::cos::domain::{is_loopback, AllowList};
use crate::error::{Error, Result};
use crate::platform::{CheckpointStore, Http, Timer};
use crate::smh::{SmhApi, SmhTarget, Tokens};

/// Most parts in flight one client allows.
pub const MAX_CONCURRENCY: usize = 32;
/// Default parts in flight (design.md §6: 4–6 saturate a fast link with 8 MiB parts). 6, from
/// `cargo xtask bench` on loopback (256 MiB, 8 MiB parts, Chromium, three runs each, same page):
/// the parts went out in 2.88–3.68 s with 6 against 3.16–4.01 s with 4 (the raw `fetch` loop:
/// 2.50 s against 2.96 s), as the earlier sweep found (+15 %). A page's bodies are Blob slices and
/// the upload Worker holds 2 MiB per part in flight, so 6 costs little memory; mini-programs keep
/// their own default (src/bindings/platform.rs).
pub const DEFAULT_CONCURRENCY: usize = 6;

/// Everything an [`Uploader`] is configured with (already parsed from JS or built natively).
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub target: SmhTarget,
    /// Where bytes may go; `None` = the official COS domains only.
    pub allowed_domains: Option<Vec<String>>,
    /// Parts in flight across all uploads of the client.
    pub concurrency: usize,
    /// Fixed part size; `None` = automatic.
    pub part_size: Option<u64>,
    /// Files larger than this use multipart upload.
    pub multipart_threshold: u64,
    pub retry: RetryConfig,
    /// Default of the upload option `createParents`.
    pub create_parents: bool,
}

impl ClientConfig {
    /// A config with defaults for everything but the target.
    pub fn new(target: SmhTarget) -> ClientConfig {
        ClientConfig {
            target,
            allowed_domains: None,
            concurrency: DEFAULT_CONCURRENCY,
            part_size: None,
            multipart_threshold: DEFAULT_MULTIPART_THRESHOLD,
            retry: RetryConfig::default(),
            create_parents: true,
        }
    }
}

/// Checks `baseUrl`: `https://host[:port][/prefix]`, or `http://` for loopback hosts only.
pub fn validate_base_url(url: &str) -> Result<String> {
    let bad = |why: &str| Error::invalid_input("baseUrl", why.to_string());
    let url = url.trim().trim_end_matches('/');
    let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("must be an absolute https:// URL"))?;
    if rest.contains(['?', '#', ' ', '@']) || rest.is_empty() {
        return Err(bad("must be scheme://host[:port][/path] without query, fragment or credentials"));
    }
    let authority = rest.split('/').next().unwrap_or_default();
    let host = if authority.starts_with('[') {
        authority.split_once(']').map(|(h, _)| format!("{h}]")).unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default().to_string()
    };
    match scheme.to_ascii_lowercase().as_str() {
        "https" => {}
        "http" if is_loopback(&host) => {}
        "http" => return Err(bad("must use https (plain http only for loopback hosts)")),
        _ => return Err(bad("must be an https:// URL")),
    }
    if host.is_empty() {
        return Err(bad("has no host"));
    }
    Ok(url.to_string())
}

/// Who authorises an uploader's uploads (the control plane; bytes always go to COS).
pub enum Service {
    /// SMH begins, renews, confirms and cancels; COS receives the bytes SMH signed for.
    /// (Each variant exists only in builds with its JS class, cargo features `smh-client` and
    /// `cos-uploader`, so that the browser entry of one class carries none of the other's code.)
    #[cfg(feature = "smh-client")]
    Smh(SmhApi),
    /// COS's own multipart API, signed in the client with temporary credentials.
    #[cfg(feature = "cos-uploader")]
    Cos(CosApi),
}

/// Where a direct-COS uploader sends objects.
#[derive(Debug, Clone)]
pub struct CosConfig {
    /// `name-appid`, e.g. `examplebucket-1250000000`.
    pub bucket: String,
    /// e.g. `ap-guangzhou`.
    pub region: String,
    /// `host[:port]`; `None` = `{bucket}.cos.{region}.myqcloud.com`.
    pub domain: Option<String>,
}

/// The client: shared by every upload it starts.
pub struct Uploader {
    pub(crate) service: Service,
    pub(crate) http: Rc<dyn Http>,
    pub(crate) timer: Rc<dyn Timer>,
    pub(crate) allow: AllowList,
    pub(crate) config: ClientConfig,
    pub(crate) slots: Slots,
    pub(crate) checkpoints: Checkpoints,
}

impl Uploader {
    /// Validates `config` and builds the client.
    #[cfg(feature = "smh-client")]
    pub fn new(
        mut config: ClientConfig,
        http: Rc<dyn Http>,
        timer: Rc<dyn Timer>,
        tokens: Tokens,
        checkpoints: Rc<dyn CheckpointStore>,
    ) -> Result<Uploader> {
        config.target.base_url = validate_base_url(&config.target.base_url)?;
        if config.target.library_id.trim().is_empty() || config.target.library_id.contains(['/', '?', '#']) {
            return Err(Error::invalid_input("libraryId", "must be a non-empty library id"));
        }
        if config.target.space_id.trim().is_empty() || config.target.space_id.contains(['/', '?', '#']) {
            return Err(Error::invalid_input("spaceId", "must be a space id, or '-' for single-tenant libraries"));
        }
        let allow = Self::check_common(&config)?;
        let api = SmhApi {
            http: http.clone(),
            timer: timer.clone(),
            tokens,
            target: config.target.clone(),
            retry: config.retry.clone(),
        };
        Ok(Uploader {
            service: Service::Smh(api),
            checkpoints: Checkpoints::bounded(checkpoints, timer.clone(), config.retry.request_timeout),
            http,
            timer,
            allow,
            slots: Slots::new(config.concurrency),
            config,
        })
    }

    /// A direct-COS uploader: objects go to `cos`'s bucket, signed with the credentials
    /// `credentials` provides (`config.target`, the SMH target, is not used). `allowedDomains`
    /// defaults to the bucket's domain alone.
    #[cfg(feature = "cos-uploader")]
    pub fn new_cos(
        cos: CosConfig,
        mut config: ClientConfig,
        http: Rc<dyn Http>,
        timer: Rc<dyn Timer>,
        credentials: Rc<dyn CredentialProvider>,
        checkpoints: Rc<dyn CheckpointStore>,
    ) -> Result<Uploader> {
        let valid = |s: &str| !s.trim().is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !valid(&cos.bucket) {
            return Err(Error::invalid_input(
                "bucket",
                "must be the bucket's name-appid, e.g. examplebucket-1250000000",
            ));
        }
        if !valid(&cos.region) {
            return Err(Error::invalid_input("region", "must be a COS region, e.g. ap-guangzhou"));
        }
        let domain = match &cos.domain {
            Some(d) => d.trim().to_ascii_lowercase(),
            None => format!("{}.cos.{}.myqcloud.com", cos.bucket, cos.region).to_ascii_lowercase(),
        };
        if config.allowed_domains.is_none() {
            config.allowed_domains = Some(vec![domain.clone()]);
        }
        let allow = Self::check_common(&config)?;
        // The bucket's domain is checked now: nothing is ever sent anywhere else.
        let origin = allow.check(&domain).map_err(|e| match e {
            Error::DomainNotAllowed { .. } => e,
            _ => Error::invalid_input("domain", "must be host[:port]"),
        })?;
        let target = CosTarget { bucket: cos.bucket, region: cos.region, origin };
        let api = CosApi {
            http: http.clone(),
            timer: timer.clone(),
            target,
            credentials: CredentialCache::new(credentials),
            retry: config.retry.clone(),
        };
        Ok(Uploader {
            service: Service::Cos(api),
            checkpoints: Checkpoints::bounded(checkpoints, timer.clone(), config.retry.request_timeout),
            http,
            timer,
            allow,
            slots: Slots::new(config.concurrency),
            config,
        })
    }

    /// Checks the options both kinds share; returns the parsed allow-list.
    fn check_common(config: &ClientConfig) -> Result<AllowList> {
        if config.concurrency == 0 || config.concurrency > MAX_CONCURRENCY {
            return Err(Error::invalid_input("concurrency", format!("must be between 1 and {MAX_CONCURRENCY}")));
        }
        // COS allows 5 GiB, but a body is read into memory once (for its CRC-64 in browsers, for
        // the request itself in mini-programs), and a tab or a phone holds a few at a time.
        if let Some(p) = config.part_size {
            if !(MIN_PART_SIZE..=MAX_IN_MEMORY_BODY).contains(&p) {
                return Err(Error::invalid_input(
                    "partSize",
                    "must be between 1 MiB (the COS minimum) and 512 MiB (each part is held in memory once)",
                ));
            }
        }
        if config.multipart_threshold > MAX_IN_MEMORY_BODY {
            return Err(Error::invalid_input(
                "multipartThreshold",
                "must be at most 512 MiB (a simple upload is held in memory once)",
            ));
        }
        match &config.allowed_domains {
            Some(list) => AllowList::parse(list),
            None => Ok(AllowList::official_cos()),
        }
    }

    /// Marks checkpoint `key` as in use; `false` if another upload of this client has it.
    pub(crate) fn claim(&self, key: &str) -> bool {
        self.checkpoints.claim(key)
    }

    pub(crate) fn release(&self, key: &str) {
        self.checkpoints.release(key);
    }

    /// Unfinished uploads that `upload()` of the same file to the same path would continue,
    /// newest first (not those running now).
    pub async fn pending_uploads(&self) -> Vec<Pending> {
        let now = self.timer.unix_ms();
        let pending = self.checkpoints.pending(now).await;
        pending.into_iter().filter(|p| !self.checkpoints.is_claimed(&p.key)).collect()
    }

    /// Forgets the unfinished uploads to `path` (the object key for COS; all when `None`) and
    /// cancels them on the server; returns how many.
    pub async fn discard_pending(&self, path: Option<&str>) -> usize {
        let now = self.timer.unix_ms();
        let mut count = 0;
        for pending in self.pending_uploads().await {
            if path.is_some_and(|p| p.trim_start_matches('/') != pending.path) {
                continue;
            }
            if let Some(record) = self.checkpoints.read(&pending.key, now).await {
                let _ = self.cancel_on_server(&record.confirm_key, &record.upload_id).await;
            }
            self.checkpoints.remove(&pending.key).await;
            count += 1;
        }
        count
    }

    /// Cancels an unfinished upload on the server: SMH's task `confirm_key`, or COS's multipart
    /// upload `upload_id` of object `confirm_key`.
    pub(crate) async fn cancel_on_server(&self, confirm_key: &str, upload_id: &str) -> Result<()> {
        match &self.service {
            #[cfg(feature = "smh-client")]
            Service::Smh(api) => api.cancel(confirm_key).await,
            #[cfg(feature = "cos-uploader")]
            Service::Cos(api) => api.abort(confirm_key, upload_id).await,
        }
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Connection slots held right now by this client's uploads.
    pub fn slots_in_use(&self) -> usize {
        self.slots.in_use()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_rules() {
        assert_eq!(validate_base_url("https://smh.tencentcs.com/").unwrap(), "https://smh.tencentcs.com");
        assert!(validate_base_url("http://127.0.0.1:9000").is_ok());
        assert!(validate_base_url("http://localhost:9000/x").is_ok());
        for bad in
            ["http://smh.tencentcs.com", "ftp://x", "smh.tencentcs.com", "https://", "https://a/b?x=1", "https://u@h"]
        {
            assert!(matches!(validate_base_url(bad), Err(Error::InvalidInput { .. })), "{bad}");
        }
    }
}
