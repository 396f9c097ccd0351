//! The browser package's size budget (issue 10): the `gzip -9` total of what a page loads — the
//! wasm, its JS glue, the JS snippets the wasm imports and the upload Worker's script — must stay
//! within `browserPackageGzipBytes` of `size-budget.json`. The `pkg` test stage runs [`check`]
//! after building the package, so `cargo xtask test` fails when the package grows past it.
//!
//! The number is the size reached, not a wish: lower it when the package shrinks; raise it only
//! in a commit that says what grew and why.

use std::fs;
use std::path::{Path, PathBuf};

use crate::pkg::{compressed_sizes, walk, PKG_DIR};
use crate::util::{root, Result};

/// The budget file, at the repository root.
const BUDGET_FILE: &str = "size-budget.json";
/// The member of [`BUDGET_FILE`] holding the budget in bytes.
const BUDGET_KEY: &str = "browserPackageGzipBytes";
/// Files of `pkg/` a page loads, besides everything under `snippets/`.
const LOADED_FILES: &[&str] = &["smh_upload_bg.wasm", "smh_upload.js", "smh_upload_worker.js"];

/// Fails when the browser package's `gzip -9` total exceeds the budget; prints both either way.
pub fn check() -> Result<()> {
    check_package(&root().join(PKG_DIR), &root().join(BUDGET_FILE))
}

/// [`check`] of the package in `pkg` against the budget in `budget_file`.
fn check_package(pkg: &Path, budget_file: &Path) -> Result<()> {
    let budget = read_budget(budget_file)?;
    let files = loaded_files(pkg)?;
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let total: u64 = compressed_sizes(&paths)?.iter().map(|size| size[1]).sum();
    let verdict = if total <= budget { "within" } else { "OVER" };
    println!("size: browser package ({} files: wasm, JS glue, snippets, Worker) {total} B gzip -9, {verdict} the budget of {budget} B ({BUDGET_FILE})", files.len());
    if total > budget {
        return Err(format!(
            "the browser package is {total} B gzip -9, over the {budget} B budget in {BUDGET_FILE} by {} B; \
             cut it (see src/json.rs and Cargo.toml's [profile.release] for what was cut before) or, if the growth is \
             worth it, raise the budget in a commit that says why",
            total - budget
        ));
    }
    Ok(())
}

/// The files of `pkg` a page loads; each of [`LOADED_FILES`] must exist.
fn loaded_files(pkg: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for name in LOADED_FILES {
        let path = pkg.join(name);
        if !path.is_file() {
            return Err(format!("size: {} is missing; run `cargo xtask pkg` first", path.display()));
        }
        files.push(path);
    }
    let snippets = pkg.join("snippets");
    if snippets.is_dir() {
        let mut js: Vec<PathBuf> = walk(&snippets)?.into_iter().map(|(path, _)| path).filter(|p| p.extension().is_some_and(|e| e == "js")).collect();
        js.sort();
        files.extend(js);
    }
    Ok(files)
}

/// Reads `{"browserPackageGzipBytes": N, …}` (the file's other members are notes for people).
fn read_budget(file: &Path) -> Result<u64> {
    let text = fs::read_to_string(file).map_err(|e| format!("read {}: {e}", file.display()))?;
    let after_key = text
        .split_once(&format!("\"{BUDGET_KEY}\""))
        .map(|(_, rest)| rest.trim_start())
        .and_then(|rest| rest.strip_prefix(':'))
        .map(str::trim_start)
        .ok_or_else(|| format!("{}: no \"{BUDGET_KEY}\" member", file.display()))?;
    let digits: String = after_key.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().map_err(|_| format!("{}: \"{BUDGET_KEY}\" is not a whole number of bytes", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_budget_member() {
        let dir = std::env::temp_dir().join(format!("xtask-size-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("b.json");
        fs::write(&file, "{\n  \"note\": \"x\",\n  \"browserPackageGzipBytes\" : 12345,\n  \"why\": \"y\"\n}\n").unwrap();
        assert_eq!(read_budget(&file), Ok(12345));
        fs::write(&file, "{\"browserPackageGzipBytes\": \"big\"}").unwrap();
        assert!(read_budget(&file).is_err());
        fs::write(&file, "{}").unwrap();
        assert!(read_budget(&file).is_err());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn fails_over_the_budget_only() {
        let dir = std::env::temp_dir().join(format!("xtask-size-pkg-{}", std::process::id()));
        fs::create_dir_all(dir.join("snippets/x")).unwrap();
        // Bytes that do not compress: gzip keeps about 4000 of them, plus headers.
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let noise: Vec<u8> = (0..4000).map(|_| { state ^= state << 13; state ^= state >> 7; state ^= state << 17; state as u8 }).collect();
        for name in LOADED_FILES {
            fs::write(dir.join(name), &noise).unwrap();
        }
        fs::write(dir.join("snippets/x/a.js"), &noise).unwrap();
        let budget = dir.join("budget.json");
        fs::write(&budget, "{\"browserPackageGzipBytes\": 17000}").unwrap();
        assert!(check_package(&dir, &budget).is_ok(), "4 × ~4 KB is within 17000 B");
        fs::write(&budget, "{\"browserPackageGzipBytes\": 15000}").unwrap();
        let err = check_package(&dir, &budget).unwrap_err();
        assert!(err.contains("over the 15000 B budget"), "{err}");
        fs::remove_file(dir.join("smh_upload_worker.js")).unwrap();
        assert!(check_package(&dir, &budget).unwrap_err().contains("missing"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
