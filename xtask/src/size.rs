//! The browser package's size budget (issue 10): for each browser entry of the package
//! (`smh-upload`, `smh-upload/smh`, `smh-upload/cos`: [`crate::pkg::ENTRIES`]), the `gzip -9`
//! total of what a page that imports it loads — the entry's wasm, its JS glue, the JS snippets
//! the glue imports and the upload Worker's script — must stay within the entry's member of
//! `size-budget.json`. The `pkg` test stage runs [`check`] after building the package, so
//! `cargo xtask test` fails when an entry grows past its budget.
//!
//! The numbers are the sizes reached, not wishes: lower them when the package shrinks; raise one
//! only in a commit that says what grew and why.

use std::fs;
use std::path::{Path, PathBuf};

use crate::pkg::{compressed_sizes, walk, ENTRIES, PKG_DIR};
use crate::util::{root, Result};

/// The budget file, at the repository root.
const BUDGET_FILE: &str = "size-budget.json";
/// The upload Worker's script, which every entry's page loads.
const WORKER_FILE: &str = "smh_upload_worker.js";

/// Fails when an entry's `gzip -9` total exceeds its budget; prints each either way.
pub fn check() -> Result<()> {
    let (pkg, budget_file) = (root().join(PKG_DIR), root().join(BUDGET_FILE));
    let mut failures = Vec::new();
    for entry in ENTRIES {
        if let Err(e) = check_entry(&pkg, entry.stem, entry.specifier, &budget_file, entry.budget_key) {
            failures.push(e);
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; "))
    }
}

/// [`check`] of one entry (`{stem}.js` in `pkg`) against the budget member `key` of `budget_file`.
fn check_entry(pkg: &Path, stem: &str, specifier: &str, budget_file: &Path, key: &str) -> Result<()> {
    let budget = read_budget(budget_file, key)?;
    let files = loaded_files(pkg, stem)?;
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let total: u64 = compressed_sizes(&paths)?.iter().map(|size| size[1]).sum();
    let verdict = if total <= budget { "within" } else { "OVER" };
    println!(
        "size: '{specifier}' ({} files: wasm, JS glue, Worker, any snippet files) {total} B gzip -9, {verdict} its budget of {budget} B ({BUDGET_FILE} {key})",
        files.len()
    );
    if total > budget {
        return Err(format!(
            "the browser entry '{specifier}' is {total} B gzip -9, over the {budget} B budget ({key} in {BUDGET_FILE}) by {} B; \
             cut it (see src/json.rs and Cargo.toml's [profile.release] for what was cut before) or, if the growth is \
             worth it, raise the budget in a commit that says why",
            total - budget
        ));
    }
    Ok(())
}

/// The files of `pkg` that a page importing `{stem}.js` loads: `{stem}_bg.wasm`, `{stem}.js`,
/// the Worker and the snippets the glue names (each must exist).
pub(crate) fn loaded_files(pkg: &Path, stem: &str) -> Result<Vec<PathBuf>> {
    let glue = pkg.join(format!("{stem}.js"));
    let mut files = Vec::new();
    for name in [format!("{stem}_bg.wasm"), format!("{stem}.js"), WORKER_FILE.to_string()] {
        let path = pkg.join(name);
        if !path.is_file() {
            return Err(format!("size: {} is missing; run `cargo xtask pkg` first", path.display()));
        }
        files.push(path);
    }
    let bytes = fs::read(&glue).map_err(|e| format!("read {}: {e}", glue.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    let snippets = pkg.join("snippets");
    if snippets.is_dir() {
        let mut js: Vec<PathBuf> = walk(&snippets)?
            .into_iter()
            .filter(|(path, relative)| {
                path.extension().is_some_and(|e| e == "js")
                    && text.contains(&format!("./snippets/{}", relative.to_string_lossy()))
            })
            .map(|(path, _)| path)
            .collect();
        js.sort();
        files.extend(js);
    }
    Ok(files)
}

/// Reads the whole number of member `key` of `{…, "key": N, …}` (the file's other members are
/// notes for people).
fn read_budget(file: &Path, key: &str) -> Result<u64> {
    let text = fs::read_to_string(file).map_err(|e| format!("read {}: {e}", file.display()))?;
    let after_key = text
        .split_once(&format!("\"{key}\""))
        .map(|(_, rest)| rest.trim_start())
        .and_then(|rest| rest.strip_prefix(':'))
        .map(str::trim_start)
        .ok_or_else(|| format!("{}: no \"{key}\" member", file.display()))?;
    let digits: String = after_key.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().map_err(|_| format!("{}: \"{key}\" is not a whole number of bytes", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "browserPackageGzipBytes";

    #[test]
    fn reads_the_budget_member() {
        let dir = std::env::temp_dir().join(format!("xtask-size-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("b.json");
        fs::write(
            &file,
            "{\n  \"note\": \"x\",\n  \"browserPackageGzipBytes\" : 12345,\n  \"smhEntryGzipBytes\": 678\n}\n",
        )
        .unwrap();
        assert_eq!(read_budget(&file, KEY), Ok(12345));
        assert_eq!(read_budget(&file, "smhEntryGzipBytes"), Ok(678));
        assert!(read_budget(&file, "cosEntryGzipBytes").is_err());
        fs::write(&file, "{\"browserPackageGzipBytes\": \"big\"}").unwrap();
        assert!(read_budget(&file, KEY).is_err());
        fs::write(&file, "{}").unwrap();
        assert!(read_budget(&file, KEY).is_err());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn fails_over_the_budget_only_counting_the_entry_s_own_files() {
        let dir = std::env::temp_dir().join(format!("xtask-size-pkg-{}", std::process::id()));
        fs::create_dir_all(dir.join("snippets/x")).unwrap();
        // Bytes that do not compress: gzip keeps about 4000 of them, plus headers.
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let noise: Vec<u8> = (0..4000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        fs::write(dir.join("a_bg.wasm"), &noise).unwrap();
        fs::write(dir.join(WORKER_FILE), &noise).unwrap();
        fs::write(dir.join("snippets/x/s.js"), &noise).unwrap();
        // The glue: noise, then an import of the snippet (another entry's wasm is not counted).
        let mut glue = noise.clone();
        glue.extend_from_slice(b"\nimport{f}from\"./snippets/x/s.js\";");
        fs::write(dir.join("a.js"), &glue).unwrap();
        fs::write(dir.join("b_bg.wasm"), &noise).unwrap();
        let budget = dir.join("budget.json");
        fs::write(&budget, "{\"browserPackageGzipBytes\": 17000}").unwrap();
        assert_eq!(loaded_files(&dir, "a").unwrap().len(), 4);
        assert!(check_entry(&dir, "a", "x", &budget, KEY).is_ok(), "4 × ~4 KB is within 17000 B");
        fs::write(&budget, "{\"browserPackageGzipBytes\": 15000}").unwrap();
        let err = check_entry(&dir, "a", "x", &budget, KEY).unwrap_err();
        assert!(err.contains("over the 15000 B budget"), "{err}");
        // Without the import, the snippet is not the entry's: 3 files, within 15000.
        fs::write(dir.join("a.js"), &noise).unwrap();
        assert!(check_entry(&dir, "a", "x", &budget, KEY).is_ok());
        fs::remove_file(dir.join(WORKER_FILE)).unwrap();
        assert!(check_entry(&dir, "a", "x", &budget, KEY).unwrap_err().contains("missing"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
