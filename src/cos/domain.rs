//! The upload-domain allow-list and the scheme rule.
//!
//! SMH returns the COS `domain` to PUT bytes to; the SDK sends bytes there only when the domain
//! matches `allowedDomains`, and only over https — plain http only for loopback hosts, the
//! browsers' own secure-context rule.

use crate::error::{Error, Result};
use crate::json::parse_u64;
use crate::text::{concat, fill, has_control, split, split_last, trim};

/// Official COS upload domains (docs/cos-api.md §5.1): `{bucket}.cos.{region}.myqcloud.com`,
/// the `.tencentcos.cn` aliases, acceleration and internal endpoints.
pub const DEFAULT_ALLOWED: &[&str] = &["*.myqcloud.com", "*.tencentcos.cn"];

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    /// Lowercase host, or the suffix after `*.` (without the dot).
    host: String,
    wildcard: bool,
    port: Option<u16>,
}

impl Pattern {
    /// One `allowedDomains` entry.
    fn parse(raw: &str) -> Result<Pattern> {
        Pattern::read(raw).ok_or_else(|| {
            Error::invalid_input("allowedDomains", fill("'{}' is not a host or *.suffix pattern", &[raw.into()]))
        })
    }

    /// [`Pattern::parse`]'s pattern, `None` where `raw` is not one.
    fn read(raw: &str) -> Option<Pattern> {
        let (host, port) = split_authority(raw)?;
        let (host, wildcard) = match host.strip_prefix("*.") {
            Some(suffix) => (suffix.to_string(), true),
            None => (host, false),
        };
        // `*.com` would allow any domain of a TLD; refuse it.
        let valid = !has(&host, b'*') && !host.is_empty() && (!wildcard || has(&host, b'.') || host == "localhost");
        valid.then_some(Pattern { host, wildcard, port })
    }
}

/// A parsed `allowedDomains` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowList {
    patterns: Vec<Pattern>,
}

/// A checked upload origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `https`, or `http` for loopback hosts.
    pub scheme: &'static str,
    /// `host[:port]` as SMH gave it (lowercased).
    pub authority: String,
}

impl Origin {
    /// `scheme://authority`.
    pub fn base(&self) -> String {
        concat(&[self.scheme, "://", &self.authority])
    }
}

fn port_number(text: &str) -> Option<u16> {
    parse_u64(text).and_then(|n| u16::try_from(n).ok())
}

/// Splits `host[:port]` (IPv6 in brackets), the host lowercased; rejects anything else (paths,
/// userinfo, spaces, control characters).
fn split_authority(authority: &str) -> Option<(String, Option<u16>)> {
    let a = trim(authority);
    let b = a.as_bytes();
    // Control characters (C0, DEL and C1: `has_control`), and what more than a host and port has.
    let refused = |c: &u8| matches!(c, b'/' | b'@' | b'?' | b'#' | b'\\' | b' ' | b'%');
    if a.is_empty() || has_control(a) || b.iter().any(refused) {
        return None;
    }
    let (host, port) = if b[0] == b'[' {
        let end = b.iter().position(|&c| c == b']')?;
        match &a[end + 1..] {
            "" => (a, None),
            p => (&a[..=end], Some(port_number(p.strip_prefix(":")?)?)),
        }
    } else {
        match split_last(a, b':') {
            Some((h, p)) => (h, Some(port_number(p)?)),
            None => (a, None),
        }
    };
    (b[0] == b'[' || is_name(host)).then(|| (host.to_ascii_lowercase(), port))
}

/// Whether `s` holds the ASCII character `c`.
fn has(s: &str, c: u8) -> bool {
    s.as_bytes().contains(&c)
}

/// `s` cut after its first `n` characters.
fn first_chars(s: &str, n: usize) -> &str {
    let mut count = 0;
    // Each character starts with a byte that does not continue one (0x80–0xBF do).
    let end = s.bytes().position(|b| {
        count += usize::from((b as i8) >= -0x40);
        count > n
    });
    &s[..end.unwrap_or(s.len())]
}

/// Whether `host` is labels of letters, digits, `-` and `*` joined by single dots.
fn is_name(host: &str) -> bool {
    // Starting as if after a dot refuses an empty host and a leading dot.
    let mut previous = b'.';
    for &c in host.as_bytes() {
        if !(c.is_ascii_alphanumeric() || c == b'-' || c == b'*' || (c == b'.' && previous != b'.')) {
            return false;
        }
        previous = c;
    }
    previous != b'.'
}

/// Whether `host` is a loopback address: 127.0.0.0/8, `localhost`, `[::1]`.
pub fn is_loopback(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") || host == "[::1]" {
        return true;
    }
    // `u8`'s parse: decimal digits after an optional `+`, at most 255.
    let octet = |o: &str| parse_u64(o.strip_prefix("+").unwrap_or(o)).is_some_and(|n| n <= 255);
    host.strip_prefix("127.").is_some_and(|rest| {
        let mut count = 0;
        for o in split(rest, b'.') {
            if !octet(o) {
                return false;
            }
            count += 1;
        }
        count == 3
    })
}

impl AllowList {
    /// Parses `allowedDomains` entries: exact hosts or `*.suffix`, each optionally with `:port`.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<AllowList> {
        let mut patterns = Vec::new();
        for entry in entries {
            patterns.push(Pattern::parse(entry.as_ref())?);
        }
        if patterns.is_empty() {
            return Err(Error::invalid_input("allowedDomains", "must list at least one domain"));
        }
        Ok(AllowList { patterns })
    }

    /// The default list: official COS domains only ([`DEFAULT_ALLOWED`], each `*.suffix`).
    pub fn official_cos() -> AllowList {
        let mut patterns = Vec::new();
        for pattern in DEFAULT_ALLOWED {
            patterns.push(Pattern { host: pattern[2..].to_string(), wildcard: true, port: None });
        }
        AllowList { patterns }
    }

    /// Checks a `domain` returned by SMH; the error names the domain (no secrets there). The
    /// scheme's default port (`:443` for https, `:80` for http) is dropped: a browser sends `Host`
    /// without it, and the signature must name the `Host` COS receives.
    pub fn check(&self, domain: &str) -> Result<Origin> {
        self.origin(domain)
            .ok_or_else(|| Error::DomainNotAllowed { domain: first_chars(domain, 256).to_string() }.into())
    }

    /// [`AllowList::check`]'s origin, `None` where it is not allowed.
    fn origin(&self, domain: &str) -> Option<Origin> {
        let (host, port) = split_authority(domain)?;
        if has(&host, b'*') {
            return None;
        }
        let scheme = if is_loopback(&host) { "http" } else { "https" };
        let default_port = if scheme == "https" { 443 } else { 80 };
        let port = port.filter(|&p| p != default_port);
        let allowed = self.patterns.iter().any(|p| {
            let host_ok = if p.wildcard {
                host.len() > p.host.len() + 1
                    && host.ends_with(&p.host)
                    && host.as_bytes()[host.len() - p.host.len() - 1] == b'.'
            } else {
                host == p.host
            };
            host_ok && p.port.is_none_or(|allowed| port.unwrap_or(default_port) == allowed)
        });
        if !allowed {
            return None;
        }
        let authority = match port {
            Some(p) => fill("{}:{}", &[(&host).into(), p.into()]),
            None => host,
        };
        Some(Origin { scheme, authority })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_allows_official_cos_only() {
        let list = AllowList::official_cos();
        let o = list.check("examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com").unwrap();
        assert_eq!(o.base(), "https://examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com");
        assert!(list.check("b-1.cos.ap-beijing.tencentcos.cn").is_ok());
        for bad in [
            "evil.com",
            "myqcloud.com.evil.com",
            "myqcloud.com",
            "127.0.0.1:9000",
            "x.myqcloud.com/path",
            "a@x.myqcloud.com",
            "",
            "*.myqcloud.com",
        ] {
            assert!(matches!(list.check(bad).map_err(|e| *e), Err(Error::DomainNotAllowed { .. })), "{bad}");
        }
    }

    #[test]
    fn ports_and_loopback_scheme() {
        let list = AllowList::parse(&["127.0.0.1:8080", "*.example.com"]).unwrap();
        assert_eq!(list.check("127.0.0.1:8080").unwrap().base(), "http://127.0.0.1:8080");
        assert!(list.check("127.0.0.1:8081").is_err());
        assert!(list.check("localhost:8080").is_err());
        assert_eq!(list.check("a.example.com:444").unwrap().base(), "https://a.example.com:444");
        assert!(list.check("example.com").is_err());
    }

    /// A browser sends `Host` without the scheme's default port, so the origin (whose authority
    /// is signed as `host`) names none: `b.example.com:443` is signed as `b.example.com`.
    #[test]
    fn default_ports_are_dropped_as_browsers_drop_them() {
        let list = AllowList::parse(&["*.example.com", "127.0.0.1", "localhost:443"]).unwrap();
        for (domain, base) in [
            ("b.example.com:443", "https://b.example.com"),
            ("B.Example.com:443", "https://b.example.com"),
            ("b.example.com:8443", "https://b.example.com:8443"),
            ("127.0.0.1:80", "http://127.0.0.1"),
            ("localhost:443", "http://localhost:443"),
        ] {
            let origin = list.check(domain).unwrap_or_else(|e| panic!("{domain}: {e}"));
            assert_eq!(origin.base(), base, "{domain}");
        }
        assert_eq!(list.check("b.example.com:443").unwrap().authority, "b.example.com");
        // A pattern naming the default port allows the domain with it or without it.
        let list = AllowList::parse(&["b.example.com:443"]).unwrap();
        assert_eq!(list.check("b.example.com").unwrap().authority, "b.example.com");
        assert_eq!(list.check("b.example.com:443").unwrap().authority, "b.example.com");
        assert!(list.check("b.example.com:444").is_err());
    }

    #[test]
    fn bad_patterns_are_invalid_input() {
        for bad in ["*.com", "a/b", "*", "x.*.com", "host:99999"] {
            assert!(matches!(AllowList::parse(&[bad]).map_err(|e| *e), Err(Error::InvalidInput { .. })), "{bad}");
        }
        assert!(AllowList::parse::<&str>(&[]).is_err());
        // A one-label suffix is a TLD, but for `localhost`.
        let local = AllowList::parse(&["*.localhost:9000"]).unwrap();
        assert_eq!(local.check("b.localhost:9000").unwrap().base(), "http://b.localhost:9000");
    }

    /// `host[:port]` as patterns and SMH's domains are read: the host lowercased, IPv6 in
    /// brackets; control characters refused, C1 ones (two bytes in UTF-8) too.
    #[test]
    fn authorities() {
        assert_eq!(split_authority(" A.Example.COM:8080 "), Some(("a.example.com".into(), Some(8080))));
        assert_eq!(split_authority("*.x-1.com"), Some(("*.x-1.com".into(), None)));
        assert_eq!(split_authority("[FE80::1]:9000"), Some(("[fe80::1]".into(), Some(9000))));
        assert_eq!(split_authority("[::1]"), Some(("[::1]".into(), None)));
        for bad in [
            "[::1]x",
            "[::1",
            "[::1]:",
            "a..b",
            ".a",
            "a.",
            "a_b",
            "\u{e9}.com",
            "[\u{85}::1]",
            "[::\u{9f}]",
            "a\u{7f}b",
            "a\tb",
            "a:",
            "a:65536",
            ":80",
            "a:+1",
            "a%2e",
            "a\\b",
        ] {
            assert_eq!(split_authority(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn first_chars_counts_characters() {
        for s in ["", "abc", "äöü中x", "a\u{10348}b"] {
            for n in 0..6 {
                assert_eq!(first_chars(s, n), s.chars().take(n).collect::<String>(), "{s:?} {n}");
            }
        }
    }

    #[test]
    fn loopback_detection() {
        assert!(
            is_loopback("127.0.0.1") && is_loopback("127.1.2.3") && is_loopback("localhost") && is_loopback("[::1]")
        );
        assert!(!is_loopback("128.0.0.1") && !is_loopback("127.0.0.1.evil.com"));
        // Octets as `u8` reads them: digits after an optional `+`, at most 255; exactly four.
        for host in ["127.0.0.255", "127.+0.0.1", "127.000.0.1"] {
            assert!(is_loopback(host), "{host}");
        }
        for host in
            ["127.0.0.256", "127.0.0", "127.0.0.1.", "127..0.1", "127.0.-0.1", "127.0.0.1.2", "+127.0.0.1", "127"]
        {
            assert!(!is_loopback(host), "{host}");
        }
    }

    /// The default list, built without parsing, is what parsing its patterns gives.
    #[test]
    fn official_cos_is_the_parsed_default() {
        assert_eq!(AllowList::official_cos(), AllowList::parse(DEFAULT_ALLOWED).unwrap());
    }
}
