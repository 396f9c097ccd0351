//! [`Uploader`]: the platform-free client — validated configuration, the SMH API, the connection
//! slots shared by all its uploads.

use std::rc::Rc;

use super::plan::{DEFAULT_MULTIPART_THRESHOLD, MAX_PART_SIZE, MIN_PART_SIZE};
use super::retry::RetryConfig;
use super::scheduler::Slots;
use crate::cos::domain::{is_loopback, AllowList};
use crate::error::{Error, Result};
use crate::platform::{CheckpointStore, Http, Timer};
use crate::smh::{SmhApi, SmhTarget, Tokens};

/// Most parts in flight one client allows.
pub const MAX_CONCURRENCY: usize = 32;
/// Default parts in flight (design.md §6: 4–6 saturate a fast link with 8 MiB parts).
pub const DEFAULT_CONCURRENCY: usize = 4;

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

/// The client: shared by every upload it starts.
pub struct Uploader {
    pub(crate) api: SmhApi,
    pub(crate) allow: AllowList,
    pub(crate) config: ClientConfig,
    pub(crate) slots: Slots,
    #[allow(dead_code)] // resume across reloads comes with the checkpoint store
    pub(crate) checkpoints: Rc<dyn CheckpointStore>,
}

impl Uploader {
    /// Validates `config` and builds the client.
    pub fn new(mut config: ClientConfig, http: Rc<dyn Http>, timer: Rc<dyn Timer>, tokens: Tokens, checkpoints: Rc<dyn CheckpointStore>) -> Result<Uploader> {
        config.target.base_url = validate_base_url(&config.target.base_url)?;
        if config.target.library_id.trim().is_empty() || config.target.library_id.contains(['/', '?', '#']) {
            return Err(Error::invalid_input("libraryId", "must be a non-empty library id"));
        }
        if config.target.space_id.trim().is_empty() || config.target.space_id.contains(['/', '?', '#']) {
            return Err(Error::invalid_input("spaceId", "must be a space id, or '-' for single-tenant libraries"));
        }
        if config.concurrency == 0 || config.concurrency > MAX_CONCURRENCY {
            return Err(Error::invalid_input("concurrency", format!("must be between 1 and {MAX_CONCURRENCY}")));
        }
        if let Some(p) = config.part_size {
            if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&p) {
                return Err(Error::invalid_input("partSize", "must be between 1 MiB (the COS minimum) and 5 GiB"));
            }
        }
        if config.multipart_threshold > MAX_PART_SIZE {
            return Err(Error::invalid_input("multipartThreshold", "must be at most 5 GiB (the largest simple upload)"));
        }
        let allow = match &config.allowed_domains {
            Some(list) => AllowList::parse(list)?,
            None => AllowList::official_cos(),
        };
        let api = SmhApi { http, timer, tokens, target: config.target.clone(), retry: config.retry.clone() };
        Ok(Uploader { api, allow, slots: Slots::new(config.concurrency), config, checkpoints })
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
        for bad in ["http://smh.tencentcs.com", "ftp://x", "smh.tencentcs.com", "https://", "https://a/b?x=1", "https://u@h"] {
            assert!(matches!(validate_base_url(bad), Err(Error::InvalidInput { .. })), "{bad}");
        }
    }
}
