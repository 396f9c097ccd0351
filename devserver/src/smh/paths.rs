//! Resource paths `/api/v1/{resource}/{LibraryId}/{SpaceId}/{Path}`: decoding, name rules,
//! the rename pattern, and file types by extension.
//!
//! The path tail is percent-decoded as a whole, so both `/` and `%2F` separate segments
//! (docs/smh-api.md §9.6: the new JS SDK encodes the whole path with `encodeURIComponent`).

use super::error::{SmhError, SmhResult};

/// Longest file or directory name, in characters (docs/smh-api.md §4.1, §5.1).
pub const MAX_NAME_CHARS: usize = 255;
/// Characters SMH refuses in names (docs/smh-api.md §5.1 IllegalFileName), besides `/` and controls.
const ILLEGAL_NAME_CHARS: &[char] = &['\\', ':', '*', '?', '"', '<', '>', '|'];

/// A resource URL split into its parts; `tail` is the decoded path after the space.
#[derive(Debug, Clone)]
pub struct Target {
    pub library_id: String,
    pub space_id: String,
    pub tail: String,
}

/// Splits `/api/v1/{resource}/{lib}/{space}/{tail}` (the raw, still-encoded URI path).
pub fn parse_target(raw_path: &str, resource: &str) -> SmhResult<Target> {
    let prefix = format!("/api/v1/{resource}/");
    let rest = raw_path.strip_prefix(&prefix).ok_or(SmhError::ApiNotFound)?;
    let mut parts = rest.splitn(3, '/');
    let library_id = decode(parts.next().unwrap_or(""))?;
    let space_id = decode(parts.next().unwrap_or(""))?;
    if library_id.is_empty() || space_id.is_empty() {
        return Err(SmhError::ApiNotFound);
    }
    let tail = decode(parts.next().unwrap_or(""))?;
    Ok(Target { library_id, space_id, tail })
}

fn decode(raw: &str) -> SmhResult<String> {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| SmhError::IllegalFileName("path is not valid UTF-8".to_string()))
}

/// Segments of a directory path; `""` and a single trailing `/` are allowed (root = `[]`).
pub fn directory_segments(tail: &str) -> SmhResult<Vec<String>> {
    let tail = tail.strip_suffix('/').unwrap_or(tail);
    if tail.is_empty() {
        return Ok(Vec::new());
    }
    let segments: Vec<String> = tail.split('/').map(String::from).collect();
    for segment in &segments {
        check_name(segment, SmhError::DirectoryNameLengthExceed)?;
    }
    Ok(segments)
}

/// Segments of a file path: at least one, the last one the file name.
pub fn file_segments(tail: &str) -> SmhResult<Vec<String>> {
    if tail.is_empty() {
        return Err(SmhError::EmptyPath);
    }
    let segments: Vec<String> = tail.split('/').map(String::from).collect();
    let last = segments.len() - 1;
    for (i, segment) in segments.iter().enumerate() {
        let too_long = if i == last { SmhError::FileNameLengthExceed } else { SmhError::DirectoryNameLengthExceed };
        check_name(segment, too_long)?;
    }
    Ok(segments)
}

/// Name rules (docs/smh-api.md §4.1, §5.1); an empty segment is EmptyFileName, and `.`/`..` are
/// IllegalFileName. Unconfirmed: docs/devserver-fidelity.md#smh-name-rules
fn check_name(name: &str, too_long: SmhError) -> SmhResult<()> {
    if name.is_empty() {
        return Err(SmhError::EmptyFileName);
    }
    if name == "." || name == ".." {
        return Err(SmhError::IllegalFileName(format!("{name:?} is not a name")));
    }
    if let Some(c) = name.chars().find(|c| c.is_control() || ILLEGAL_NAME_CHARS.contains(c)) {
        return Err(SmhError::IllegalFileName(format!("character {c:?} is not allowed")));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(too_long);
    }
    Ok(())
}

/// `a/b/c` from segments.
pub fn join(segments: &[String]) -> String {
    segments.join("/")
}

/// The parent path of `path` (`""` for top-level entries).
pub fn parent_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(parent, _)| parent)
}

/// The last segment of `path`.
pub fn name_of(path: &str) -> &str {
    path.rsplit_once('/').map_or(path, |(_, name)| name)
}

/// A stable inode-like id for `with_inode=1` (SMH's are opaque strings).
pub fn inode_of(space: &str, path: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, format!("{space}\0{path}").as_bytes());
    hex::encode(&digest.as_ref()[..12])
}

/// The extension after the last `.` (not a leading one), lowercase.
pub fn extension(name: &str) -> Option<String> {
    match name.rfind('.') {
        Some(i) if i > 0 && i + 1 < name.len() => Some(name[i + 1..].to_ascii_lowercase()),
        _ => None,
    }
}

/// The `n`-th rename candidate: `name (n).ext` for files, `name (n)` for directories.
/// Unconfirmed: docs/devserver-fidelity.md#smh-rename-pattern
pub fn renamed(name: &str, n: u32, is_dir: bool) -> String {
    match name.rfind('.') {
        Some(i) if !is_dir && i > 0 => format!("{} ({n}){}", &name[..i], &name[i..]),
        _ => format!("{name} ({n})"),
    }
}

/// Content types by extension, with the media kind SMH reports (`image`, `video` or `file`).
const TYPES: &[(&str, &str, &str)] = &[
    ("jpg", "image/jpeg", "image"),
    ("jpeg", "image/jpeg", "image"),
    ("png", "image/png", "image"),
    ("gif", "image/gif", "image"),
    ("bmp", "image/bmp", "image"),
    ("webp", "image/webp", "image"),
    ("heic", "image/heic", "image"),
    ("heif", "image/heif", "image"),
    ("tif", "image/tiff", "image"),
    ("tiff", "image/tiff", "image"),
    ("svg", "image/svg+xml", "image"),
    ("mp4", "video/mp4", "video"),
    ("m4v", "video/mp4", "video"),
    ("mov", "video/quicktime", "video"),
    ("avi", "video/x-msvideo", "video"),
    ("mkv", "video/x-matroska", "video"),
    ("webm", "video/webm", "video"),
    ("flv", "video/x-flv", "video"),
    ("wmv", "video/x-ms-wmv", "video"),
    ("3gp", "video/3gpp", "video"),
    ("txt", "text/plain", "file"),
    ("html", "text/html", "file"),
    ("json", "application/json", "file"),
    ("pdf", "application/pdf", "file"),
    ("zip", "application/zip", "file"),
    ("mp3", "audio/mpeg", "file"),
];

/// `(content type, media kind)` for a file name.
pub fn content_type_of(name: &str) -> (&'static str, &'static str) {
    extension(name)
        .and_then(|ext| TYPES.iter().find(|(e, _, _)| *e == ext))
        .map_or(("application/octet-stream", "file"), |(_, ct, kind)| (*ct, *kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_separators_and_decoding() {
        let t = parse_target("/api/v1/file/lib/-/a%2Fb/c%20d.txt", "file").unwrap();
        assert_eq!(file_segments(&t.tail).unwrap(), ["a", "b", "c d.txt"]);
    }

    #[test]
    fn name_rules() {
        assert!(matches!(file_segments("a//b"), Err(SmhError::EmptyFileName)));
        assert!(matches!(file_segments("a/../b"), Err(SmhError::IllegalFileName(_))));
        assert!(matches!(file_segments("a\u{1}b"), Err(SmhError::IllegalFileName(_))));
        assert!(matches!(file_segments("a:b"), Err(SmhError::IllegalFileName(_))));
        assert!(matches!(file_segments(&"x".repeat(256)), Err(SmhError::FileNameLengthExceed)));
        assert!(matches!(file_segments(&format!("{}/a", "x".repeat(256))), Err(SmhError::DirectoryNameLengthExceed)));
        assert!(file_segments(&"é".repeat(255)).is_ok());
        assert_eq!(directory_segments("a/b/").unwrap(), ["a", "b"]);
        assert!(directory_segments("").unwrap().is_empty());
    }

    #[test]
    fn rename_pattern() {
        assert_eq!(renamed("a.tar.gz", 1, false), "a.tar (1).gz");
        assert_eq!(renamed("photo.jpg", 2, false), "photo (2).jpg");
        assert_eq!(renamed(".hidden", 1, false), ".hidden (1)");
        assert_eq!(renamed("dir.v1", 1, true), "dir.v1 (1)");
    }
}
