//! Every document the repository cites is in the repository: [`check_doc_citations`] reads each
//! file and fails on
//! - a Markdown path (`docs/smh-api.md`, `design.md`, `spec/cos-api.md`) that is neither a file
//!   under the root nor next to the citing file — a document outside the repository, or gone;
//! - a section (`docs/smh-api.md §5.6`, `§2.10/§2.11`, `§1.3, §4.1`) with no heading of that
//!   number in the cited document;
//! - an anchor (`docs/devserver-fidelity.md#smh-cors`) the document neither defines
//!   (`<a id="…">`) nor has a heading for.
//!
//! Build outputs (`target/…`, `pkg/…`) and quoted file names in code (`dir.join("report.md")`)
//! are not citations; URLs are not checked.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Component, Path, PathBuf};

use crate::util::{cmd, output, Result};

/// This file: its examples and tests cite, on purpose, documents and sections that do not exist.
const EXAMPLES: &str = "xtask/src/citations.rs";

/// Directories builds write into: a path under one names an output, not a document.
const GENERATED: &[&str] = &["target/", "pkg/", "node_modules/"];

/// Checks every file of the repository under `root` (see the module doc). The error lists each
/// bad citation as `file:line: …`.
pub fn check_doc_citations(root: &Path) -> Result<()> {
    let mut documents = Documents::default();
    let mut problems = Vec::new();
    for file in repo_files(root)? {
        if file == EXAMPLES {
            continue;
        }
        // Binary files and files that vanished since the listing cite nothing.
        let Ok(text) = fs::read_to_string(root.join(&file)) else { continue };
        problems.extend(check_text(root, &file, &text, &mut documents));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{} bad citation(s):\n  {}", problems.len(), problems.join("\n  ")))
    }
}

/// The files of the repository, relative to `root` with `/` separators: what git tracks plus new
/// files it does not ignore.
fn repo_files(root: &Path) -> Result<Vec<String>> {
    let listing = output(cmd("git").current_dir(root).args(["ls-files", "--cached", "--others", "--exclude-standard"]))
        .ok_or("citations: `git ls-files` failed (the check needs a git checkout)")?;
    Ok(listing.lines().filter(|l| !l.is_empty()).map(str::to_string).collect())
}

/// The bad citations in `text`, the contents of `file`.
fn check_text(root: &Path, file: &str, text: &str, documents: &mut Documents) -> Vec<String> {
    let dir = Path::new(file).parent().unwrap_or(Path::new(""));
    let mut problems = Vec::new();
    for (index, line) in text.lines().enumerate() {
        for (start, end) in markdown_paths(line) {
            let path = &line[start..end];
            let quoted = line[..start].ends_with('"') && line[end..].starts_with('"');
            let relative = path.trim_start_matches("./");
            if path.starts_with("//") || quoted || GENERATED.iter().any(|g| relative.starts_with(g)) {
                continue;
            }
            let at = format!("{file}:{}", index + 1);
            let Some(cited) = [normalise(Path::new(relative)), normalise(&dir.join(path))]
                .into_iter()
                .flatten()
                .find(|candidate| root.join(candidate).is_file())
            else {
                problems.push(format!("{at}: cites `{path}`, which is not in the repository"));
                continue;
            };
            let document = documents.get(root, &cited);
            let mut rest = &line[end..];
            if let Some(after_hash) = rest.strip_prefix('#') {
                let len = after_hash.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'));
                let anchor = &after_hash[..len.unwrap_or(after_hash.len())];
                if !anchor.is_empty() && !document.anchors.contains(anchor) {
                    problems.push(format!("{at}: cites `{path}#{anchor}`, an anchor {path} does not have"));
                }
                rest = &after_hash[anchor.len()..];
            }
            for section in cited_sections(rest) {
                if !document.sections.contains(&section) {
                    problems.push(format!("{at}: cites `{path} §{section}`, a section {path} does not have"));
                }
            }
        }
    }
    problems
}

/// Byte ranges of the path-like words of `line` that end in `.md` (`docs/x.md`, `../y.md`);
/// a `//` at the start marks a URL's tail.
fn markdown_paths(line: &str) -> Vec<(usize, usize)> {
    let bytes = line.as_bytes();
    let is_path_byte = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/' | b'~');
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(offset) = line[from..].find(".md") {
        let end = from + offset + 3;
        from = end;
        if bytes.get(end).is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'_') {
            continue; // `.mdx`, `.md5`: another extension
        }
        let mut start = end - 3;
        while start > 0 && is_path_byte(bytes[start - 1]) {
            start -= 1;
        }
        if start < end - 3 {
            found.push((start, end));
        }
    }
    found
}

/// `a/./b/../c` → `a/c`; `None` when it climbs above the root.
pub(crate) fn normalise(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::Normal(name) => out.push(name),
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// The section numbers cited at the start of `rest` (what follows a document's path):
/// ` §5.6`, ` §2.10/§2.11`, ` §1.3, §4.1`, ` §2 and §7`. Stops at anything else.
fn cited_sections(rest: &str) -> Vec<String> {
    let mut sections = Vec::new();
    let mut s = rest.trim_start();
    while let Some(after) = s.strip_prefix('§') {
        let Some(number) = section_number(after) else { break };
        sections.push(number.to_string());
        let t = after[number.len()..].trim_start();
        let next = [",", "/", ";", "and ", "or "].iter().find_map(|sep| t.strip_prefix(sep));
        match next {
            Some(next) if next.trim_start().starts_with('§') => s = next.trim_start(),
            _ => break,
        }
    }
    sections
}

/// The section number at the start of `s`: `5`, `5.6`, `10.14`, `1a` (digits, an optional
/// lowercase letter, then `.digits` parts). A trailing `.` is punctuation, not part of it.
fn section_number(s: &str) -> Option<&str> {
    let bytes = s.as_bytes();
    let digits = |from: usize| from + bytes[from..].iter().take_while(|b| b.is_ascii_digit()).count();
    let mut end = digits(0);
    if end == 0 {
        return None;
    }
    if bytes.get(end).is_some_and(|b| b.is_ascii_lowercase())
        && !bytes.get(end + 1).is_some_and(|b| b.is_ascii_alphabetic())
    {
        end += 1;
    }
    while bytes.get(end) == Some(&b'.') && bytes.get(end + 1).is_some_and(|b| b.is_ascii_digit()) {
        end = digits(end + 1);
    }
    Some(&s[..end])
}

/// The section numbers and anchors of one Markdown document.
#[derive(Default)]
struct DocumentIndex {
    /// Numbers of headings that start with one (`## 5. Upload APIs`, `### 5.6 Confirm`).
    sections: BTreeSet<String>,
    /// `<a id="…">` anchors and GitHub's heading slugs.
    anchors: BTreeSet<String>,
}

impl DocumentIndex {
    fn parse(text: &str) -> DocumentIndex {
        let mut index = DocumentIndex::default();
        for line in text.lines() {
            let mut rest = line;
            while let Some(at) = rest.find("id=\"") {
                rest = &rest[at + 4..];
                if let Some(end) = rest.find('"') {
                    index.anchors.insert(rest[..end].to_string());
                }
            }
            let Some(heading) = line.strip_prefix('#') else { continue };
            let heading = heading.trim_start_matches('#').trim();
            if let Some(number) = section_number(heading) {
                let follows = heading[number.len()..].chars().next();
                if matches!(follows, None | Some('.' | ' ')) {
                    index.sections.insert(number.to_string());
                }
            }
            index.anchors.insert(slug(heading));
        }
        index
    }
}

/// GitHub's anchor for a heading: lower-case, spaces to `-`, other punctuation dropped.
fn slug(heading: &str) -> String {
    heading
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

/// Cited documents, each read and indexed once.
#[derive(Default)]
struct Documents(BTreeMap<PathBuf, DocumentIndex>);

impl Documents {
    fn get(&mut self, root: &Path, document: &Path) -> &DocumentIndex {
        self.0
            .entry(document.to_path_buf())
            .or_insert_with(|| DocumentIndex::parse(&fs::read_to_string(root.join(document)).unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The repository itself: every citation resolves.
    #[test]
    fn every_citation_in_the_repository_resolves() {
        if let Err(problems) = check_doc_citations(&crate::util::root()) {
            panic!("{problems}");
        }
    }

    /// A throwaway repository with one document and files citing it well and badly.
    fn check_files(files: &[(&str, &str)]) -> Vec<String> {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let root = std::env::temp_dir().join(format!("xtask-citations-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let doc = "# Doc\n\n## 1. One\n### 1.2 Two\n### 1a. Hosts\n| <a id=\"row-x\"></a>`row-x` | … |\n";
        let mut documents = Documents::default();
        let mut problems = Vec::new();
        fs::create_dir_all(root.join("docs")).unwrap();
        fs::write(root.join("docs/doc.md"), doc).unwrap();
        for (name, text) in files {
            problems.extend(check_text(&root, name, text, &mut documents));
        }
        let _ = fs::remove_dir_all(&root);
        problems
    }

    #[test]
    fn good_citations_pass() {
        let text = "// docs/doc.md §1, docs/doc.md §1.2/§1a and §1.2; docs/doc.md#row-x, docs/doc.md#1-one\n\
                    // (docs/doc.md §1.2.) and `docs/doc.md` §5 (not attached), see https://x.test/a/spec/x.md\n\
                    let path = dir.join(\"report.md\"); // target/bench/report.md is written by the bench";
        assert_eq!(check_files(&[("src/a.rs", text), ("docs/other.md", "[doc](doc.md) §1.2")]), Vec::<String>::new());
    }

    #[test]
    fn missing_documents_sections_and_anchors_fail() {
        let problems = check_files(&[
            ("src/a.rs", "// spec/doc.md §1\n// docs/doc.md §3\n// docs/doc.md §1.2, §1.3\n"),
            ("src/b.rs", "// docs/doc.md#row-y and design.md §1"),
        ]);
        assert_eq!(
            problems,
            [
                "src/a.rs:1: cites `spec/doc.md`, which is not in the repository",
                "src/a.rs:2: cites `docs/doc.md §3`, a section docs/doc.md does not have",
                "src/a.rs:3: cites `docs/doc.md §1.3`, a section docs/doc.md does not have",
                "src/b.rs:1: cites `docs/doc.md#row-y`, an anchor docs/doc.md does not have",
                "src/b.rs:1: cites `design.md`, which is not in the repository",
            ]
        );
    }

    #[test]
    fn section_numbers() {
        assert_eq!(cited_sections(" §5.6 Confirm"), ["5.6"]);
        assert_eq!(cited_sections(" §2.10/§2.11)."), ["2.10", "2.11"]);
        assert_eq!(cited_sections(" §1.4 item 3; §9"), ["1.4"]);
        assert_eq!(cited_sections(" §1a. Hosts"), ["1a"]);
        assert_eq!(cited_sections(" §10.9 best guess"), ["10.9"]);
        assert_eq!(cited_sections(" §1.3, §4.1)"), ["1.3", "4.1"]);
        assert_eq!(cited_sections(" (§4)"), Vec::<String>::new());
        assert_eq!(cited_sections(" §4.2."), ["4.2"]);
    }
}
