//! The WeChat mini-program build: `pkg/miniprogram/`, the folder package.json's `miniprogram`
//! field names and WeChat DevTools' "build npm" copies to `miniprogram_npm/smh-upload/`.
//!
//! What it holds (checked here, exercised by tests/miniprogram/):
//! - `index.js` (from pkg-template/miniprogram/): CommonJS entry; `init()` loads the wasm with
//!   `WXWebAssembly.instantiate(path, imports)` — the logic layer has no `WebAssembly`.
//! - `utf8.js` (from pkg-template/miniprogram/): the glue's TextEncoder / TextDecoder, private to
//!   the package (the logic layer has neither; no global is defined).
//! - `smh_upload_bg.js`: wasm-bindgen's `bundler` glue (pure functions, no loading code) turned
//!   into CommonJS by [`commonjs_glue`].
//! - `smh_upload_bg.wasm.br`: the wasm after `wasm-opt -Oz` (one-caller inlining limited as the
//!   web build's, [`crate::pkg::WASM_OPT_ONE_CALLER`]), with no exported Globals (iOS
//!   refuses them) and short names on its boundary with the glue ([`NAMES`]), brotli-compressed (`WXWebAssembly` accepts `.wasm.br` since base library 2.14).
//! - `index.d.ts`: the web build's declarations plus `init` and the mini-program file shape.
//!
//! **One engine, two builds.** The mini-program wasm is the same crate built with the cargo
//! feature `miniprogram`, which only switches the bindings to the `wx.*` adapters. The other
//! choice, one wasm for both platforms, would save this second release build (about a minute
//! of CI) but ship both platforms' adapters in each package and make the bindings guess the
//! platform at run time — and a guess is fragile: WeChat's JS-SDK defines a `wx` in web pages,
//! and mini-program frameworks (Taro, uni-app) add an `XMLHttpRequest` to the logic layer. The
//! feature makes the choice at build time, and each wasm holds only the imports its platform
//! has, which [`check_glue`] verifies (no `XMLHttpRequest`, `Blob` or `localStorage` here).
//!
//! **No exported Globals.** wasm-bindgen's runtime declares `__abort_handler` and
//! `__instance_terminated` as `#[no_mangle]` statics, which the linker exports as wasm Globals;
//! its glue reads them only for `panic=unwind` or `--force-enable-abort-handler`, neither of
//! which we use (release builds abort on panic). So every Global export is removed with
//! binaryen's `--remove-exports` (one run per name: the pass takes one wildcard), and the
//! result is checked to export none and to import only from the glue.

use std::fs;
use std::path::{Path, PathBuf};

use crate::util::{cmd, find_tool, output, root, run_cmd, target_dir, Result};

/// The build's folder inside `pkg/`.
pub const DIR: &str = "miniprogram";
/// The file stem wasm-bindgen writes (the crate's name).
const OUT_NAME: &str = "smh_upload";
/// The cargo feature that selects the mini-program adapters.
const FEATURE: &str = "miniprogram";
/// The module name the bundler-target wasm imports its JS functions from; index.js passes the
/// glue under this name to `WXWebAssembly.instantiate`.
const GLUE_MODULE: &str = "./smh_upload_bg.js";
/// The short names on the wasm/glue boundary (xtask/src/wasm_names.rs): index.js passes the
/// glue under [`GLUE_MODULE`] and calls `__wbindgen_start` by name, and it makes public every
/// export of the glue whose name does not start with `__`, which the imports' new names do.
const NAMES: crate::wasm_names::Plan<'static> = crate::wasm_names::Plan {
    glue_module: GLUE_MODULE,
    modules: false,
    import_prefix: "__",
    keep: &["__wbindgen_start"],
};
/// WeChat's limit for one code package (main or sub-package): the build must stay far below.
const PACKAGE_LIMIT_BYTES: u64 = 2 * 1024 * 1024;
/// Names that must not appear in the logic-layer JS: the logic layer lacks them (or, for the
/// browser APIs, the build would carry the wrong adapters). `WebAssembly` is checked apart,
/// since `WXWebAssembly` contains it.
const FORBIDDEN_IN_JS: &[&str] =
    &["import.meta", "fetch(", "new URL(", "document.", "window.", "XMLHttpRequest", "localStorage", "Blob"];

/// Builds `pkg/miniprogram/` and prints its files and sizes (called by `cargo xtask pkg` after
/// the web build; `copy_template` later copies the same template files again, unchanged).
/// Returns the sizes as the npm README states them ([`size_sentence`]).
pub fn build(pkg: &Path) -> Result<String> {
    let wasm_bindgen = find_tool("wasm-bindgen").ok_or("wasm-bindgen not found; run `cargo xtask setup`")?;
    let wasm_opt = root().join("node_modules/.bin/wasm-opt");
    if !wasm_opt.exists() {
        return Err("node_modules/.bin/wasm-opt not found; run `cargo xtask setup`".into());
    }
    let raw_wasm = crate::pkg::wasm_release_build(&[FEATURE], true)?;

    let work = target_dir().join("pkg-miniprogram");
    if work.exists() {
        fs::remove_dir_all(&work).map_err(|e| format!("remove {}: {e}", work.display()))?;
    }
    println!("pkg: wasm-bindgen --target bundler (mini-program glue)");
    run_cmd(
        cmd(wasm_bindgen).args(["--target", "bundler", "--out-name", OUT_NAME, "--out-dir"]).arg(&work).arg(&raw_wasm),
        "wasm-bindgen (miniprogram)",
    )?;

    let wasm = work.join(format!("{OUT_NAME}_bg.wasm"));
    crate::wasm_invokes::stub_uncalled_file(&wasm)?;
    run_cmd(
        cmd(&wasm_opt).args(["-Oz", crate::pkg::WASM_OPT_ONE_CALLER]).arg(&wasm).arg("-o").arg(&wasm),
        "wasm-opt (miniprogram)",
    )?;
    let globals = crate::pkg::remove_global_exports(&wasm_opt, &wasm, Some(GLUE_MODULE))?;
    crate::wasm_order::reorder_file(&wasm)?;
    println!("pkg: mini-program wasm: removed Global exports {globals:?}; it imports only from {GLUE_MODULE}");
    let renamed = crate::wasm_names::minify_file(&wasm, &NAMES)?;

    let out = pkg.join(DIR);
    fs::create_dir_all(&out).map_err(|e| format!("create {}: {e}", out.display()))?;
    let glue = read(&work.join(format!("{OUT_NAME}_bg.js")))?;
    for name in &globals {
        if glue.contains(name.as_str()) {
            return Err(format!("the glue uses the removed export {name}"));
        }
    }
    let glue = crate::wasm_names::rename_in_glue(&glue, &renamed)?;
    let glue = commonjs_glue(&crate::pkg::with_js_layer(&glue, &[], false)?)?;
    check_glue(&glue)?;
    write(&out.join(format!("{OUT_NAME}_bg.js")), &glue)?;
    write(&out.join("index.d.ts"), &declarations(&read(&work.join(format!("{OUT_NAME}.d.ts")))?))?;
    brotli(&wasm, &out.join(format!("{OUT_NAME}_bg.wasm.br")))?;
    let template = root().join("pkg-template").join(DIR);
    for entry in fs::read_dir(&template).map_err(|e| format!("read {}: {e}", template.display()))?.flatten() {
        fs::copy(entry.path(), out.join(entry.file_name()))
            .map_err(|e| format!("copy {}: {e}", entry.path().display()))?;
    }
    report(pkg)
}

/// Prints the build's files with their raw and brotli sizes (the `.wasm.br` row: the wasm's
/// size before and after compression), and fails above WeChat's package limit; returns
/// [`size_sentence`] of them.
fn report(pkg: &Path) -> Result<String> {
    let dir = pkg.join(DIR);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .map_err(|e| format!("read {}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let script = "const fs = require('fs'), zlib = require('zlib');
for (const file of process.argv.slice(1)) {
  let bytes = fs.readFileSync(file);
  if (file.endsWith('.br')) { const br = bytes.length; bytes = zlib.brotliDecompressSync(bytes); console.log(bytes.length, br); continue; }
  console.log(bytes.length, zlib.brotliCompressSync(bytes, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length);
}";
    let out = output(cmd("node").arg("-e").arg(script).args(&files))
        .ok_or("node could not measure the mini-program files")?;
    let sizes: Vec<(u64, u64)> = out
        .lines()
        .filter_map(|l| {
            let mut n = l.split_whitespace().filter_map(|w| w.parse::<u64>().ok());
            Some((n.next()?, n.next()?))
        })
        .collect();
    if sizes.len() != files.len() {
        return Err("could not measure every mini-program file".into());
    }
    println!("pkg: mini-program build, {DIR}/ (what \"build npm\" copies to miniprogram_npm/smh-upload/):");
    println!("pkg:   {:<28} {:>11} {:>11} {:>11}", "file", "raw", "brotli", "on disk");
    let mut rows = Vec::new();
    for (file, (raw, br)) in files.iter().zip(&sizes) {
        let size = fs::metadata(file).map(|m| m.len()).unwrap_or(0);
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        println!("pkg:   {name:<28} {:>11} {:>11} {:>11}", kib(*raw), kib(*br), kib(size));
        rows.push((name, size, *raw));
    }
    let on_disk: u64 = rows.iter().map(|(_, size, _)| size).sum();
    println!("pkg:   {:<28} {:>11} {:>11} {:>11}", "(in the code package)", "", "", kib(on_disk));
    if on_disk > PACKAGE_LIMIT_BYTES {
        return Err(format!("the mini-program build is {} — over WeChat's 2 MB package limit", kib(on_disk)));
    }
    Ok(size_sentence(&rows))
}

/// `"155.1 KiB in your code package (`a.wasm.br` 107.0 KiB, 294.1 KiB of wasm once decoded;
/// `b.js` 26.0 KiB; …)"` from `(file name, bytes on disk, bytes decoded)`, largest first.
fn size_sentence(rows: &[(String, u64, u64)]) -> String {
    let mut rows: Vec<&(String, u64, u64)> = rows.iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let files: Vec<String> = rows
        .iter()
        .map(|(name, size, raw)| {
            if name.ends_with(".br") {
                format!("`{name}` {}, {} of wasm once decoded", kib(*size), kib(*raw))
            } else {
                format!("`{name}` {}", kib(*size))
            }
        })
        .collect();
    let total: u64 = rows.iter().map(|(_, size, _)| size).sum();
    format!("{} in your code package ({})", kib(total), files.join("; "))
}

/// wasm-bindgen's bundler glue (an ES module of functions and classes, with no loading code) as
/// a CommonJS module: `export` dropped from each top-level declaration, the names collected into
/// `module.exports`, and `TextEncoder` / `TextDecoder` bound to the private ./utf8.js. Fails on
/// any `import` (snippets) or `export` form it does not know, rather than guess.
fn commonjs_glue(esm: &str) -> Result<String> {
    let mut names = Vec::new();
    let mut body = String::with_capacity(esm.len() + 1024);
    for line in esm.lines() {
        if line.starts_with("import ") || line.starts_with("import{") {
            return Err(format!("the mini-program glue has an import the build cannot follow: {line}"));
        }
        let Some(rest) = line.strip_prefix("export ") else {
            body.push_str(line);
            body.push('\n');
            continue;
        };
        let name = ["function ", "class ", "const ", "let "]
            .iter()
            .find_map(|kind| rest.strip_prefix(kind))
            .map(|after| {
                after.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$')).next().unwrap_or_default()
            })
            .filter(|name| !name.is_empty())
            .ok_or_else(|| format!("unexpected export form in the glue: {line}"))?;
        names.push(name.to_string());
        body.push_str(rest);
        body.push('\n');
    }
    if names.is_empty() {
        return Err("the glue exports nothing".into());
    }
    Ok(format!(
        "// Generated by `cargo xtask pkg` (xtask/src/pkg_miniprogram.rs) from wasm-bindgen's bundler glue:\n\
         // the ES module turned into CommonJS, TextEncoder/TextDecoder taken from the private ./utf8.js.\n\
         'use strict';\n\
         const {{ TextEncoder, TextDecoder }} = require('./utf8.js');\n\n\
         {body}\n\
         module.exports = {{ {} }};\n",
        names.join(", ")
    ))
}

/// Refuses glue that names what the logic layer lacks (see [`FORBIDDEN_IN_JS`]) or uses
/// `WebAssembly` (only `WXWebAssembly` exists there). Comment lines are not code.
fn check_glue(glue: &str) -> Result<()> {
    for (number, line) in glue.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with("//") || code.starts_with('*') || code.starts_with("/*") {
            continue;
        }
        let bare_webassembly = code.match_indices("WebAssembly").any(|(at, _)| !code[..at].ends_with("WX"));
        if let Some(bad) = FORBIDDEN_IN_JS
            .iter()
            .find(|bad| code.contains(*bad))
            .copied()
            .or(bare_webassembly.then_some("WebAssembly"))
        {
            return Err(format!("the mini-program glue uses `{bad}` (line {}): {}", number + 1, line.trim()));
        }
    }
    Ok(())
}

/// index.d.ts: wasm-bindgen's declarations with the file argument typed as a mini-program file,
/// `signal` as `never` (mini-programs have no `AbortSignal`; a type from TypeScript's DOM lib,
/// which mini-program projects do not load, would not compile there), plus `init`.
fn declarations(dts: &str) -> String {
    let dts = dts
        .replace("upload(file: Blob,", "upload(file: MiniProgramFile,")
        .replace("(a `Blob` or `File`)", "(a `MiniProgramFile`)")
        .replace(
            "Aborting it cancels the upload like `task.cancel()`.",
            "Mini-programs have no `AbortSignal`: use `task.cancel()`.",
        )
        .replace("signal?: AbortSignal;", "signal?: never;");
    let kept: Vec<&str> = dts.lines().filter(|l| l.trim() != "[Symbol.dispose](): void;").collect();
    format!(
        "{}\n\n\
         /** A file picked with `wx.chooseMessageFile` (`tempFiles[i]`: `path`, `size`), `wx.chooseMedia`\n \
         * (`tempFiles[i]`: `tempFilePath`, `size`), or any local path with its size. */\n\
         export type MiniProgramFile =\n  \
         | {{ filePath: string; size: number }}\n  \
         | {{ path: string; size: number }}\n  \
         | {{ tempFilePath: string; size: number }};\n\n\
         /** Options of `init()`. */\n\
         export interface InitOptions {{\n  \
         /** Path of `smh_upload_bg.wasm.br` inside the code package; default\n   \
         * `/miniprogram_npm/smh-upload/smh_upload_bg.wasm.br` (where \"build npm\" puts it). */\n  \
         wasmPath?: string;\n\
         }}\n\n\
         /** Loads the wasm with `WXWebAssembly`; call (and await) once before anything else. */\n\
         export function init(options?: InitOptions): Promise<void>;\n\
         export default init;\n",
        kept.join("\n")
    )
}

/// Writes `to` = brotli (quality 11) of `from`, with node's zlib.
fn brotli(from: &Path, to: &Path) -> Result<()> {
    let script = "const fs = require('fs'), zlib = require('zlib');
const bytes = fs.readFileSync(process.argv[1]);
fs.writeFileSync(process.argv[2], zlib.brotliCompressSync(bytes, { params: {
  [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: bytes.length } }));";
    run_cmd(cmd("node").arg("-e").arg(script).arg(from).arg(to), "brotli (node zlib)")
}

fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|e| format!("read {}: {e}", path.display()))
}

fn write(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).map_err(|e| format!("write {}: {e}", path.display()))
}

fn kib(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_sentence_lists_every_file_largest_first() {
        let rows = [
            ("index.js".to_string(), 3 * 1024, 3 * 1024),
            ("smh_upload_bg.wasm.br".to_string(), 107 * 1024, 294 * 1024),
            ("smh_upload_bg.js".to_string(), 26 * 1024, 26 * 1024),
        ];
        assert_eq!(
            size_sentence(&rows),
            "136.0 KiB in your code package (`smh_upload_bg.wasm.br` 107.0 KiB, 294.0 KiB of wasm once decoded; \
             `smh_upload_bg.js` 26.0 KiB; `index.js` 3.0 KiB)"
        );
    }

    #[test]
    fn glue_becomes_commonjs() {
        let esm = "export class A {\n}\nexport function b(x) {\n    return x;\n}\nlet wasm;\nexport function __wbg_set_wasm(val) {\n    wasm = val;\n}\n";
        let cjs = commonjs_glue(esm).unwrap();
        assert!(cjs.contains("class A {\n"));
        assert!(cjs.contains("function b(x)"));
        assert!(!cjs.contains("export "));
        assert!(cjs.contains("require('./utf8.js')"));
        assert!(cjs.trim_end().ends_with("module.exports = { A, b, __wbg_set_wasm };"));
        assert!(commonjs_glue("import * as x from './snippets/a.js';\nexport function f() {}\n").is_err());
        assert!(commonjs_glue("export { a as b };\n").is_err());
    }

    #[test]
    fn glue_check_refuses_what_the_logic_layer_lacks() {
        assert!(check_glue("WXWebAssembly.instantiate(p, i);\n// WebAssembly in a comment\n").is_ok());
        for bad in [
            "new WebAssembly.Memory({})",
            "x instanceof WebAssembly.Exception",
            "fetch(url)",
            "import.meta.url",
            "new XMLHttpRequest()",
            "a instanceof Blob",
        ] {
            assert!(check_glue(bad).is_err(), "{bad}");
        }
    }
}
