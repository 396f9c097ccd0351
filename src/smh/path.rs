//! Validation and encoding of library paths (`dir/sub/name.jpg`).

use crate::error::{Error, Result};
use crate::text::{has_control, join, split};

/// SMH's limit on one file or directory name (docs/smh-api.md §7: `FileNameLengthExceed`).
pub const MAX_NAME_LEN: usize = 255;

/// Characters SMH refuses in names (`IllegalFileName`, docs/smh-api.md §5.1).
const ILLEGAL: &[u8] = b"\\:*?\"<>|";

/// A validated path: non-empty segments without `.`/`..`, control or illegal characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibraryPath {
    segments: Vec<String>,
}

impl LibraryPath {
    /// Parses `path` (leading `/` allowed; `//`, trailing `/` are not).
    pub fn parse(path: &str) -> Result<LibraryPath> {
        let bad = |why: &str| Error::invalid_input("path", why.to_string());
        let trimmed = path.strip_prefix("/").unwrap_or(path);
        if trimmed.is_empty() {
            return Err(bad("is empty"));
        }
        let mut segments = Vec::new();
        for seg in split(trimmed, b'/') {
            if seg.is_empty() {
                return Err(bad("has an empty segment (`//` or a trailing `/`)"));
            }
            if seg == "." || seg == ".." {
                return Err(bad("may not contain `.` or `..` segments"));
            }
            if has_control(seg) {
                return Err(bad("contains a control character"));
            }
            let bytes = seg.as_bytes();
            if bytes.iter().any(|b| ILLEGAL.contains(b)) {
                return Err(bad("contains one of \\ : * ? \" < > |"));
            }
            // Characters: the bytes that do not continue one (0x80–0xBF do).
            if bytes.iter().filter(|&&b| (b as i8) >= -0x40).count() > MAX_NAME_LEN {
                return Err(bad("has a name longer than 255 characters"));
            }
            segments.push(seg.to_string());
        }
        Ok(LibraryPath { segments })
    }

    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// Percent-encoded for a URL: each segment RFC 3986-encoded, joined with `/`.
    pub fn encoded(&self) -> String {
        let mut encoded = String::new();
        for segment in &self.segments {
            // No segment is empty (parse), so text before means a segment before.
            if !encoded.is_empty() {
                encoded.push('/');
            }
            encoded.push_str(&encode_segment(segment));
        }
        encoded
    }

    /// The directory holding this path; `None` at the top level.
    pub fn parent(&self) -> Option<LibraryPath> {
        (self.segments.len() > 1).then(|| LibraryPath { segments: self.segments[..self.segments.len() - 1].to_vec() })
    }

    /// The last segment (the file name).
    pub fn name(&self) -> &str {
        self.segments.last().map_or("", String::as_str)
    }

    /// The path as given, normalised (`a/b/c`).
    pub fn joined(&self) -> String {
        join(&self.segments, "/")
    }
}

pub use crate::net::percent_encode as encode_segment;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::concat;

    #[test]
    fn valid_paths_encode_per_segment() {
        let p = LibraryPath::parse("/相册/my photo+1.jpg").unwrap();
        assert_eq!(p.joined(), "相册/my photo+1.jpg");
        assert_eq!(p.encoded(), "%E7%9B%B8%E5%86%8C/my%20photo%2B1.jpg");
    }

    #[test]
    fn invalid_paths() {
        let long = "a".repeat(256);
        for bad in ["", "/", "a//b", "a/", "../x", "a/./b", "a\u{1}b", "a\nb", "a*b", "a|b", long.as_str()] {
            assert!(matches!(LibraryPath::parse(bad).map_err(|e| *e), Err(Error::InvalidInput { .. })), "{bad:?}");
        }
        assert!(LibraryPath::parse(&"a".repeat(255)).is_ok());
    }

    #[test]
    fn byte_checks_agree_with_char_checks_for_every_char() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let expected = if c.is_control() {
                Err("contains a control character")
            } else if ['\\', ':', '*', '?', '"', '<', '>', '|'].contains(&c) {
                Err("contains one of \\ : * ? \" < > |")
            } else if c == '/' {
                Err("has an empty segment (`//` or a trailing `/`)")
            } else {
                Ok(())
            };
            let got = LibraryPath::parse(&concat(&["\u{e9}", c.encode_utf8(&mut [0; 4])]));
            let got = got.map(|_| ()).map_err(|e| match *e {
                Error::InvalidInput { message, .. } => message,
                other => panic!("{other:?}"),
            });
            assert_eq!(got.as_ref().map(|_| ()).map_err(String::as_str), expected, "{c:?}");
        }
        // Names are counted in characters, whatever their UTF-8 length.
        for c in ['a', '\u{e9}', '\u{a0}', '\u{4e2d}', '\u{1f600}'] {
            assert!(LibraryPath::parse(&String::from(c).repeat(255)).is_ok(), "{c:?}");
            assert!(LibraryPath::parse(&String::from(c).repeat(256)).is_err(), "{c:?}");
        }
    }
}
