//! [`Uploader`]: what every upload of one client shares, whichever service authorises them —
//! validated configuration, the ports, the allow-list of upload domains, the connection slots,
//! the resumable records. [`super::SmhUploader`] and [`super::DirectCosUploader`] are an
//! `Uploader` with their service's API.

use std::future::Future;
use std::rc::Rc;

use super::checkpoint::{Checkpoints, Pending, Record};
use super::plan::{DEFAULT_MULTIPART_THRESHOLD, MAX_IN_MEMORY_BODY, MIN_PART_SIZE};
use super::scheduler::Slots;
use crate::cos::domain::{is_loopback, AllowList};
use crate::error::{Error, Result};
use crate::net::retry::RetryConfig;
use crate::platform::{hold_record, record_held_elsewhere, CheckpointStore, Http, LocalBoxFuture, Timer};
use crate::smh::SmhTarget;
use crate::text::{fill, split_once, trim, trim_end, trim_start};

/// Most parts in flight one client allows.
pub const MAX_CONCURRENCY: usize = 32;
/// Default parts in flight (docs/design.md §6: 4–6 saturate a fast link with 8 MiB parts): the
/// top of that range, since a page's bodies are Blob slices and the upload Worker holds 2 MiB per
/// part in flight, so each costs little memory (`cargo xtask bench`, section "sweep", compares
/// 4 and 6). Mini-programs keep their own default (src/bindings/platform.rs).
pub const DEFAULT_CONCURRENCY: usize = 6;
/// Default of `quickUploadWait`: how long a quick upload's full hash may delay the first part.
pub const DEFAULT_QUICK_UPLOAD_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

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
    /// After SMH names a quick-upload candidate, how long the full hash may run before the
    /// parts start going alongside it (`smh_flow::quick`'s module doc).
    pub quick_upload_wait: std::time::Duration,
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
            quick_upload_wait: DEFAULT_QUICK_UPLOAD_WAIT,
        }
    }
}

/// Checks `baseUrl`: `https://host[:port][/prefix]`, or `http://` for loopback hosts only.
pub fn validate_base_url(url: &str) -> Result<String> {
    match base_url(url) {
        Ok(url) => Ok(url.to_string()),
        Err(why) => Err(Error::invalid_input("baseUrl", why).into()),
    }
}

/// [`validate_base_url`]'s URL (trimmed, without trailing `/`), or what is wrong with it.
fn base_url(url: &str) -> Result<&str, &'static str> {
    let url = trim_end(trim(url), b'/');
    let (scheme, rest) = split_once(url, "://").ok_or("must be an absolute https:// URL")?;
    if rest.is_empty() || rest.bytes().any(|b| matches!(b, b'?' | b'#' | b' ' | b'@')) {
        return Err("must be scheme://host[:port][/path] without query, fragment or credentials");
    }
    // The host ends at the first `/` or `:`; a bracketed IPv6 one at its `]` (none without it).
    let bytes = rest.as_bytes();
    let end = |stop: &[u8]| bytes.iter().position(|b| stop.contains(b)).unwrap_or(bytes.len());
    let host = if bytes[0] == b'[' {
        let close = end(b"]/");
        if bytes.get(close) == Some(&b']') {
            &rest[..=close]
        } else {
            ""
        }
    } else {
        &rest[..end(b"/:")]
    };
    if scheme.eq_ignore_ascii_case("http") {
        if !is_loopback(host) {
            return Err("must use https (plain http only for loopback hosts)");
        }
    } else if !scheme.eq_ignore_ascii_case("https") {
        return Err("must be an https:// URL");
    }
    if host.is_empty() {
        return Err("has no host");
    }
    Ok(url)
}

/// What every upload of one client shares.
pub struct Uploader {
    pub(crate) http: Rc<dyn Http>,
    pub(crate) timer: Rc<dyn Timer>,
    pub(crate) allow: AllowList,
    pub(crate) config: ClientConfig,
    pub(crate) slots: Slots,
    pub(crate) checkpoints: Checkpoints,
}

impl Uploader {
    /// Checks the options every client has and builds the shared part; its records are those of
    /// `scope` (the service target it uploads to, [`Checkpoints`]).
    pub(crate) fn new(
        config: ClientConfig,
        http: Rc<dyn Http>,
        timer: Rc<dyn Timer>,
        checkpoints: Rc<dyn CheckpointStore>,
        scope: &str,
    ) -> Result<Uploader> {
        let allow = Self::check_common(&config)?;
        Ok(Uploader {
            checkpoints: Checkpoints::bounded(checkpoints, scope, timer.clone(), config.retry.request_timeout),
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
            return Err(Error::invalid_input(
                "concurrency",
                fill("must be between 1 and {}", &[(MAX_CONCURRENCY as u64).into()]),
            )
            .into());
        }
        // COS allows 5 GiB, but a body is read into memory once (for its CRC-64 in browsers, for
        // the request itself in mini-programs), and a tab or a phone holds a few at a time.
        if let Some(p) = config.part_size {
            if !(MIN_PART_SIZE..=MAX_IN_MEMORY_BODY).contains(&p) {
                return Err(Error::invalid_input(
                    "partSize",
                    "must be between 1 MiB (the COS minimum) and 512 MiB (each part is held in memory once)",
                )
                .into());
            }
        }
        if config.multipart_threshold > MAX_IN_MEMORY_BODY {
            return Err(Error::invalid_input(
                "multipartThreshold",
                "must be at most 512 MiB (a simple upload is held in memory once)",
            )
            .into());
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
    /// newest first: not those running now in this client or in another tab (offering to
    /// continue an upload that is under way in another tab would start a second one there),
    /// nor those of clients that upload to another target ([`Checkpoints`]' scopes).
    pub async fn pending_uploads(&self) -> Vec<Pending> {
        let mut idle = self.unclaimed().await;
        let mut i = 0;
        while let Some(pending) = idle.get(i) {
            if record_held_elsewhere(&pending.key).await {
                idle.remove(i);
            } else {
                i += 1;
            }
        }
        idle
    }

    /// The records no upload of this client runs, newest first.
    fn unclaimed(&self) -> impl Future<Output = Vec<Pending>> + '_ {
        self.checkpoints.pending(self.timer.unix_ms())
    }

    /// Forgets the unfinished uploads to `path` (the object key for COS; all when `None`) after
    /// `cancel` cancelled each on the server; returns how many.
    pub(crate) async fn discard_pending<'a>(
        &self,
        path: Option<&str>,
        cancel: &dyn Fn(&Record) -> LocalBoxFuture<'a, ()>,
    ) -> usize {
        let mut count = 0;
        for pending in self.unclaimed().await {
            if path.is_some_and(|p| trim_start(p, b'/') != pending.path) {
                continue;
            }
            // An upload of another client or tab continues it now: not ours to cancel.
            let Some(_hold) = hold_record(&pending.key).await else { continue };
            if let Some(record) = self.checkpoints.read(&pending.key).await {
                cancel(&record).await;
            }
            self.checkpoints.remove(&pending.key).await;
            count += 1;
        }
        self.discard_pruned(cancel).await;
        count
    }

    /// Cancels the server uploads of the records pruned since the last call (best effort: one
    /// cancel each, bounded as every request is), each while holding its record.
    pub(crate) async fn discard_pruned<'a>(&self, cancel: &dyn Fn(&Record) -> LocalBoxFuture<'a, ()>) {
        for (key, record) in self.checkpoints.take_pruned() {
            // An upload continues it now (one of the page's, or another tab's): not ours to cancel.
            let Some(_hold) = hold_record(&key).await else { continue };
            cancel(&record).await;
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
        assert_eq!(validate_base_url(" HTTP://[::1]:9000/p//").unwrap(), "HTTP://[::1]:9000/p");
        assert!(validate_base_url("https://[2001:db8::1]").is_ok());
        for bad in [
            "http://smh.tencentcs.com",
            "ftp://x",
            "smh.tencentcs.com",
            "https://",
            "https://a/b?x=1",
            "https://u@h",
            "https://[::1",
            "https://:443",
            "https:///x",
            "http://[::1/]",
            "http://127.0.0.1.example.com",
        ] {
            assert!(matches!(validate_base_url(bad).map_err(|e| *e), Err(Error::InvalidInput { .. })), "{bad}");
        }
    }
}
