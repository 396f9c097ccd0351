//! `cargo xtask pkg`: builds the npm package into `pkg/`.
//!
//! `cargo build --release --target wasm32-unknown-unknown -p smh-upload --lib`, then
//! `wasm-bindgen --target web`, then `wasm-opt -Oz` in place, then `pkg-template/*` copied over
//! (its package.json gets the crate's version), then a size report.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::util::{self, cargo, cmd, find_tool, output, root, run_cmd, target_dir, Result};

/// The package directory, relative to the root.
pub const PKG_DIR: &str = "pkg";
/// The file name stem of the generated JS, .d.ts and .wasm.
const OUT_NAME: &str = "smh_upload";

/// WebAssembly features rustc 1.95 uses by default for wasm32-unknown-unknown (LLVM's
/// `generic` CPU; `wasm-opt --print-features` on our module lists exactly these). Binaryen
/// also reads them from the module's `target_features` section, but that section is optional,
/// so they are stated here. Chrome 91+, Safari 15+ and WeChat have them all.
const WASM_OPT_FEATURES: &[&str] = &[
    "--enable-bulk-memory",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-mutable-globals",
    "--enable-reference-types",
    "--enable-multivalue",
];

pub fn run() -> Result<()> {
    let started = Instant::now();
    let pkg = root().join(PKG_DIR);
    let wasm_bindgen = find_tool("wasm-bindgen").ok_or("wasm-bindgen not found; run `cargo xtask setup`")?;
    // binaryen from npm (package-lock.json pins it), not Debian's: Debian's binaryen 108 rewrites
    // the `__wbindgen_externrefs` export to the funcref table, and the package then fails to
    // load (`WebAssembly.Table.set(): Argument 1 is invalid`). Found by tests/e2e.
    let wasm_opt = root().join("node_modules/.bin/wasm-opt");
    if !wasm_opt.exists() {
        return Err("node_modules/.bin/wasm-opt not found; run `cargo xtask setup`".into());
    }

    println!("pkg: cargo build --release --target wasm32-unknown-unknown -p smh-upload --lib");
    run_cmd(
        cargo().args(["build", "--release", "--target", "wasm32-unknown-unknown", "-p", "smh-upload", "--lib"]),
        "cargo build (wasm32, release)",
    )?;
    let raw_wasm = target_dir().join("wasm32-unknown-unknown/release").join(format!("{OUT_NAME}.wasm"));

    if pkg.exists() {
        fs::remove_dir_all(&pkg).map_err(|e| format!("remove old {}: {e}", pkg.display()))?;
    }
    println!("pkg: wasm-bindgen --target web --out-dir {PKG_DIR} --out-name {OUT_NAME}");
    run_cmd(
        cmd(wasm_bindgen)
            .args(["--target", "web", "--out-dir", PKG_DIR, "--out-name", OUT_NAME])
            .arg(&raw_wasm),
        "wasm-bindgen",
    )?;

    let wasm = pkg.join(format!("{OUT_NAME}_bg.wasm"));
    let before = file_size(&wasm)?;
    println!("pkg: wasm-opt -Oz");
    run_cmd(
        cmd(wasm_opt).arg("-Oz").args(WASM_OPT_FEATURES).arg(&wasm).arg("-o").arg(&wasm),
        "wasm-opt",
    )?;

    copy_template(&root().join("pkg-template"), &pkg)?;

    let after = file_size(&wasm)?;
    let gzip = output(cmd("sh").arg("-c").arg("gzip -9 -c \"$1\" | wc -c").arg("sh").arg(&wasm))
        .and_then(|n| n.trim().parse::<u64>().ok());
    println!(
        "pkg: {PKG_DIR}/{OUT_NAME}_bg.wasm {} (before wasm-opt {}), gzip -9 {} — built in {}",
        kib(after),
        kib(before),
        gzip.map(kib).unwrap_or_else(|| "?".into()),
        util::secs(started.elapsed()),
    );
    Ok(())
}

fn file_size(path: &Path) -> Result<u64> {
    fs::metadata(path).map(|m| m.len()).map_err(|e| format!("{}: {e}", path.display()))
}

fn kib(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

/// Copies `template/` recursively into `pkg/`; `package.json` gets the crate's version.
fn copy_template(template: &Path, pkg: &Path) -> Result<()> {
    if !template.is_dir() {
        return Ok(());
    }
    let version = crate_version()?;
    for (from, relative) in walk(template)? {
        let to = pkg.join(&relative);
        if let Some(dir) = to.parent() {
            fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        }
        if relative == Path::new("package.json") {
            let text = fs::read_to_string(&from).map_err(|e| format!("read {}: {e}", from.display()))?;
            let text = set_json_version(&text, &version);
            fs::write(&to, text).map_err(|e| format!("write {}: {e}", to.display()))?;
        } else {
            fs::copy(&from, &to).map_err(|e| format!("copy {} → {}: {e}", from.display(), to.display()))?;
        }
    }
    Ok(())
}

/// Files under `dir`, as (absolute path, path relative to `dir`).
fn walk(dir: &Path) -> Result<Vec<(PathBuf, PathBuf)>> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let entries = fs::read_dir(&current).map_err(|e| format!("read {}: {e}", current.display()))?;
        for entry in entries {
            let path = entry.map_err(|e| format!("read {}: {e}", current.display()))?.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(relative) = path.strip_prefix(dir) {
                files.push((path.clone(), relative.to_path_buf()));
            }
        }
    }
    Ok(files)
}

/// The `version` of the root package in Cargo.toml.
fn crate_version() -> Result<String> {
    let manifest = fs::read_to_string(root().join("Cargo.toml")).map_err(|e| format!("read Cargo.toml: {e}"))?;
    let mut in_package = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package {
            if let Some(value) = line.strip_prefix("version") {
                let value = value.trim_start().trim_start_matches('=').trim();
                return Ok(value.trim_matches('"').to_string());
            }
        }
    }
    Err("Cargo.toml has no [package] version".into())
}

/// Replaces the value of the first `"version"` key (the template's top-level one).
fn set_json_version(json: &str, version: &str) -> String {
    let key = "\"version\"";
    let Some(after_key) = json.find(key).map(|k| k + key.len()) else { return json.to_string() };
    let Some(value_start) = json[after_key..].find('"').map(|q| after_key + q + 1) else { return json.to_string() };
    let Some(value_end) = json[value_start..].find('"').map(|q| value_start + q) else { return json.to_string() };
    format!("{}{version}{}", &json[..value_start], &json[value_end..])
}
