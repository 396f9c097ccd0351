//! `cargo xtask pkg`: builds the npm package into `pkg/` and packs it into
//! `target/pkg/smh-upload-<version>.tgz`.
//!
//! Steps, each a function below:
//! 1. [`build_web`]: for each of the browser [`ENTRIES`], `cargo build --release --target
//!    wasm32-unknown-unknown` with the size flags of [`wasm_release_build`] and the entry's
//!    features, `wasm-bindgen --target web`, the JS layer appended to the glue and the snippets
//!    inlined into it ([`with_js_layer`], xtask/src/snippets.rs), `wasm-opt -Oz` in place, the
//!    names on the wasm/glue boundary shortened ([`shorten_boundary_names`]), and the `.d.ts` made
//!    to compile under a common `lib: ["es2022", "dom"]` ([`make_dts_portable`]).
//! 2. (the mini-program build, writing `pkg/miniprogram/`, slots in after the web build)
//! 3. [`copy_template`]: `pkg-template/*` (package.json with the crate's version, README, LICENSE
//!    files, the upload Worker) copied over; [`minify_browser_js`] then minifies the JS a page
//!    loads.
//! 4. [`pack`]: `npm pack` into `target/pkg/`, its file list checked against [`PACKED_FILES`].
//! 5. [`report_sizes`]: raw, `gzip -9` and brotli (quality 11) sizes of every packed file.
//!
//! `cargo xtask pkg` ([`run_all`]) then packs the second package, `smh-devserver` (a static
//! binary and its JS launcher), beside the first: [`crate::pkg_devserver::build`].

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::util::{self, cargo, cmd, find_tool, output, root, run_cmd, target_dir, Result};
use crate::{snippets, wasm_names};

/// The package directory, relative to the root.
pub const PKG_DIR: &str = "pkg";
/// The file name stem of the main entry's JS, .d.ts and .wasm.
const OUT_NAME: &str = "smh_upload";

/// One browser entry of the package: its own wasm and glue (`{stem}.js`, `{stem}_bg.wasm`,
/// `{stem}.d.ts`), built with `features` (and without the crate's default features when
/// `features` is not empty). All entries share the upload Worker.
pub(crate) struct Entry {
    /// What `import` names it: `smh-upload`, `smh-upload/smh`, `smh-upload/cos`.
    pub specifier: &'static str,
    pub stem: &'static str,
    pub features: &'static [&'static str],
    /// Its member of `size-budget.json` (xtask/src/size.rs).
    pub budget_key: &'static str,
}

/// The browser entries. `smh-upload` has both classes (the API contract, docs/design.md §3). A page
/// that needs one class imports its own entry and loads none of the other's code: `SmhClient`
/// without q-sign, SHA-1/HMAC, credentials, XML and the COS flow; `CosUploader` without the
/// SMH API, tokens and the SMH flow (`cargo xtask bench --only size` compares the entries).
pub(crate) const ENTRIES: &[Entry] = &[
    Entry { specifier: "smh-upload", stem: OUT_NAME, features: &[], budget_key: "browserPackageGzipBytes" },
    Entry {
        specifier: "smh-upload/smh",
        stem: "smh_client",
        features: &["smh-client"],
        budget_key: "smhEntryGzipBytes",
    },
    Entry {
        specifier: "smh-upload/cos",
        stem: "cos_uploader",
        features: &["cos-uploader"],
        budget_key: "cosEntryGzipBytes",
    },
];
/// Where `npm pack` writes the tarball, relative to the target directory.
const TARBALL_DIR: &str = "pkg";

/// What the tarball holds besides `package.json` (which npm always packs): every file it must
/// have, and nothing else but files under [`MINIPROGRAM_DIR`]. No sources, maps, tests,
/// wasm-bindgen's `*_bg.wasm.d.ts` (it types the raw exports, which users never import) or its
/// `snippets/` (each entry's glue has them inlined).
const PACKED_FILES: &[&str] = &[
    "smh_upload.js",
    "smh_upload.d.ts",
    "smh_upload_bg.wasm",
    "smh_client.js",
    "smh_client.d.ts",
    "smh_client_bg.wasm",
    "cos_uploader.js",
    "cos_uploader.d.ts",
    "cos_uploader_bg.wasm",
    "smh_upload_worker.js",
    "README.md",
    "LICENSE-MIT",
    "LICENSE-APACHE",
];
/// The upload Worker's script, at the package root (src/platform/browser/worker.rs).
const WORKER_SCRIPT: &str = "smh_upload_worker.js";
/// The page's snippet whose code the Worker's script starts with (SHA-256, the quick-upload chain).
const WORKER_SHARED_JS: &str = "src/platform/browser/sha256.js";
/// The mini-program build's folder (package.json's `miniprogram` field and `files` name it).
const MINIPROGRAM_DIR: &str = "miniprogram/";
/// Endings of build junk refused anywhere in the tarball, the mini-program folder included.
const JUNK_ENDINGS: &[&str] = &[".map", ".rs", ".tsbuildinfo", ".log", ".orig", ".swp", "~"];

/// WebAssembly features rustc 1.95 uses by default for wasm32-unknown-unknown (LLVM's
/// `generic` CPU; `wasm-opt --print-features` on our module lists exactly these). Binaryen
/// also reads them from the module's `target_features` section, but that section is optional,
/// so they are stated here. The browsers pkg-template/README.md names (Chrome and Edge 96+,
/// Firefox 79+, Safari 15+) and WeChat have them all.
const WASM_OPT_FEATURES: &[&str] = &[
    "--enable-bulk-memory",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-mutable-globals",
    "--enable-reference-types",
    "--enable-multivalue",
];

/// wasm-opt's passes: the code flattened and its control flow rebuilt by binaryen's Relooper
/// (`--flatten --rereloop`: smaller than LLVM's after `-Oz`, for this crate), then optimised
/// (`-Os -Oz`: `-Os` first compresses ~0.4 % better than `-Oz` alone), the whole done twice and
/// then until it stops shrinking, and the `producers` and
/// `target_features` sections dropped (the features are stated by [`WASM_OPT_FEATURES`]; no
/// engine reads either section): each only makes the wasm smaller (the pkg build prints the
/// size before and after). The CRC-64 kernel is as fast after them (`cargo xtask bench --only crc`).
/// [`WASM_OPT_ONE_CALLER`] applies to all of them.
const WASM_OPT_PASSES: &[&str] = &[
    "--flatten",
    "--rereloop",
    "-Os",
    "-Oz",
    "--flatten",
    "--rereloop",
    "-Os",
    "-Oz",
    "--converge",
    WASM_OPT_ONE_CALLER,
    "--strip-producers",
    "--strip-target-features",
];

/// wasm-opt's inlining of a function that has one caller only when the function is tiny
/// (binaryen's default inlines it at any size; both packages use this). The raw wasm grows by
/// ~2 % but compresses ~2.5 % smaller, gzip and brotli alike: a call repeats byte for byte
/// where an inlined body was specialised to its caller. 20 is in the flat part of the curve
/// (10–30 give the same size within 0.1 %).
pub const WASM_OPT_ONE_CALLER: &str = "--one-caller-inline-max-function-size=20";

/// Cargo's unstable flags for the release wasm (both packages): the standard library rebuilt
/// with the crate's profile (`opt-level = "z"`, LTO with the crate, `panic = "abort"`) and std's
/// `optimize_for_size` feature (smaller sorts, formatting and collections), instead of the
/// prebuilt one that was optimised for speed and carries its unwinding-era panic machinery.
const WASM_BUILD_STD: &[&str] = &["-Zbuild-std=std,panic_abort", "-Zbuild-std-features=optimize_for_size"];

/// rustc's flags for the release wasm: a panic is a trap at once (`panic=immediate-abort`: no
/// panic message is formatted, so `core::fmt` leaves the wasm; the JS layer notices the trap and
/// rejects every running task, see `smh$guard` in src/bindings/js/api.js) and carries no
/// file/line (`location-detail=none`), `{:?}` prints nothing
/// (`fmt-debug=none`; the package formats no user-facing text with Debug), and symbols use the
/// legacy mangling, which stable rustc uses but a rustc with `RUSTC_BOOTSTRAP=1` does not (v0
/// names spell out whole types in wasm-bindgen's exports and so lengthen the JS glue).
const WASM_RUSTFLAGS: &[&str] = &[
    "-Zunstable-options",
    "-Cpanic=immediate-abort",
    "-Zlocation-detail=none",
    "-Zfmt-debug=none",
    "-Csymbol-mangling-version=legacy",
];

/// `cargo build --release --target wasm32-unknown-unknown -p smh-upload --lib` plus
/// `--features` (with `--no-default-features` unless `default_features`) and the size flags
/// above; returns the path of the built `.wasm`.
///
/// The `-Z` flags are unstable: the machine's one stable toolchain accepts them with
/// `RUSTC_BOOTSTRAP=1` (as the Linux kernel builds its Rust), and `-Zbuild-std` needs the
/// toolchain's `rust-src` component (`cargo xtask setup` adds it). No second (nightly)
/// toolchain: none can be installed on every machine this project builds on. Only these
/// release wasm builds get the flags (`CARGO_ENCODED_RUSTFLAGS`, which also overrides any
/// `RUSTFLAGS` of the caller, so the package is the same whoever builds it); native builds,
/// tests and the devserver are untouched. The package's size with them is what size-budget.json
/// holds and `cargo xtask bench --only size` reports.
pub(crate) fn wasm_release_build(features: &[&str], default_features: bool) -> Result<PathBuf> {
    let mut build = cargo();
    build
        .args(["build", "--release", "--target", "wasm32-unknown-unknown", "-p", "smh-upload", "--lib"])
        .args(WASM_BUILD_STD)
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_ENCODED_RUSTFLAGS", WASM_RUSTFLAGS.join("\u{1f}"))
        .env_remove("RUSTFLAGS");
    let mut shown = String::new();
    if !default_features {
        build.arg("--no-default-features");
        shown.push_str(" --no-default-features");
    }
    if !features.is_empty() {
        build.args(["--features", &features.join(",")]);
        shown.push_str(&format!(" --features {}", features.join(",")));
    }
    println!("pkg: cargo build --release --target wasm32-unknown-unknown -p smh-upload --lib{shown} {} (RUSTC_BOOTSTRAP=1, rustflags {})", WASM_BUILD_STD.join(" "), WASM_RUSTFLAGS.join(" "));
    run_cmd(&mut build, &format!("cargo build (wasm32, release{shown})"))?;
    Ok(target_dir().join("wasm32-unknown-unknown/release").join(format!("{OUT_NAME}.wasm")))
}

/// `cargo xtask pkg` (and the test stage `pkg`): both packages. The demo and the bench, which
/// need only `pkg/`, call [`run`].
pub fn run_all() -> Result<()> {
    run()?;
    crate::pkg_devserver::build().map(|_| ())
}

/// The smh-upload package: `pkg/` and its tarball.
pub fn run() -> Result<()> {
    let started = Instant::now();
    let pkg = root().join(PKG_DIR);
    build_web(&pkg)?;
    let miniprogram_size = crate::pkg_miniprogram::build(&pkg)?;
    copy_template(&root().join("pkg-template"), &pkg, &[(MINIPROGRAM_SIZE, &miniprogram_size)])?;
    minify_browser_js(&pkg)?;
    let tarball = pack(&pkg)?;
    report_sizes(&pkg, &tarball)?;
    println!("pkg: built in {}", util::secs(started.elapsed()));
    Ok(())
}

/// The packed tarball `target/pkg/smh-upload-<version>.tgz` (it exists after [`run`]).
pub fn tarball_path() -> Result<PathBuf> {
    Ok(target_dir().join(TARBALL_DIR).join(format!("smh-upload-{}.tgz", crate_version()?)))
}

/// The browser build: every entry's wasm, JS glue and `.d.ts`, in a fresh `pkg/`.
fn build_web(pkg: &Path) -> Result<()> {
    if pkg.exists() {
        fs::remove_dir_all(pkg).map_err(|e| format!("remove old {}: {e}", pkg.display()))?;
    }
    for entry in ENTRIES {
        build_entry(pkg, entry)?;
    }
    // Every entry has the snippets inlined (xtask/src/snippets.rs): wasm-bindgen's copies ship
    // in no package.
    for entry in ENTRIES {
        let glue = pkg.join(format!("{}.js", entry.stem));
        let text = fs::read_to_string(&glue).map_err(|e| format!("read {}: {e}", glue.display()))?;
        if text.contains("\"./snippets/") || text.contains("'./snippets/") {
            return Err(format!("{} still names a snippet file", glue.display()));
        }
    }
    let snippets = pkg.join("snippets");
    if snippets.exists() {
        fs::remove_dir_all(&snippets).map_err(|e| format!("remove {}: {e}", snippets.display()))?;
    }
    Ok(())
}

/// One browser entry, into `pkg/` (wasm-bindgen adds its files to those already there).
fn build_entry(pkg: &Path, entry: &Entry) -> Result<()> {
    let wasm_bindgen = find_tool("wasm-bindgen").ok_or("wasm-bindgen not found; run `cargo xtask setup`")?;
    // binaryen from npm (package-lock.json pins it), not Debian's: Debian's binaryen 108 rewrites
    // the `__wbindgen_externrefs` export to the funcref table, and the package then fails to
    // load (`WebAssembly.Table.set(): Argument 1 is invalid`). Found by tests/e2e.
    let wasm_opt = root().join("node_modules/.bin/wasm-opt");
    if !wasm_opt.exists() {
        return Err("node_modules/.bin/wasm-opt not found; run `cargo xtask setup`".into());
    }

    let raw_wasm = wasm_release_build(entry.features, entry.features.is_empty())?;

    let stem = entry.stem;
    println!("pkg: wasm-bindgen --target web --out-dir {PKG_DIR} --out-name {stem} ({})", entry.specifier);
    run_cmd(
        cmd(wasm_bindgen).args(["--target", "web", "--out-name", stem, "--out-dir"]).arg(pkg).arg(&raw_wasm),
        "wasm-bindgen",
    )?;

    let glue = pkg.join(format!("{stem}.js"));
    let text = fs::read_to_string(&glue).map_err(|e| format!("read {}: {e}", glue.display()))?;
    fs::write(&glue, snippets::inline(&with_js_layer(&text, entry.features, true)?, pkg)?)
        .map_err(|e| format!("write {}: {e}", glue.display()))?;

    let wasm = pkg.join(format!("{stem}_bg.wasm"));
    let before = file_size(&wasm)?;
    // Before any wasm-opt run, which drops the names it goes by.
    crate::wasm_invokes::stub_uncalled_file(&wasm)?;
    let globals = remove_global_exports(&wasm_opt, &wasm, None)?;
    if let Some(name) = globals.iter().find(|name| text.contains(name.as_str())) {
        return Err(format!("the glue reads the export {name}, which was removed"));
    }
    run_cmd(cmd(&wasm_opt).args(WASM_OPT_PASSES).args(WASM_OPT_FEATURES).arg(&wasm).arg("-o").arg(&wasm), "wasm-opt")?;
    println!("pkg: wasm-opt {}: {} → {}", WASM_OPT_PASSES.join(" "), kib(before), kib(file_size(&wasm)?));
    let before = file_size(&wasm)?;
    crate::wasm_order::reorder_file(&wasm)?;
    println!("pkg: functions laid out for compression: {} → {}", kib(before), kib(file_size(&wasm)?));
    let dts = pkg.join(format!("{stem}.d.ts"));
    shorten_boundary_names(&wasm, &format!("./{stem}_bg.js"), &glue, &dts)?;
    make_dts_portable(&dts)
}

/// Removes every Global `wasm` exports (wasm-bindgen's `__abort_handler` and
/// `__instance_terminated`, which its glue reads only for `panic=unwind`; iOS WeChat refuses a
/// module that exports a Global, see xtask/src/pkg_miniprogram.rs) and checks that it imports
/// only from `glue_module` (when given); returns the names removed. Both builds do it:
/// unexported, the Globals are dropped by wasm-opt's passes.
pub(crate) fn remove_global_exports(wasm_opt: &Path, wasm: &Path, glue_module: Option<&str>) -> Result<Vec<String>> {
    let globals = wasm_globals(wasm, glue_module)?;
    for name in &globals {
        run_cmd(
            cmd(wasm_opt)
                .arg(wasm)
                .arg("--remove-exports")
                .arg(format!("--pass-arg=remove-exports@{name}"))
                .arg("-o")
                .arg(wasm),
            "wasm-opt --remove-exports",
        )?;
    }
    if !wasm_globals(wasm, glue_module)?.is_empty() {
        return Err(format!("{} still exports Globals after removing {globals:?}", wasm.display()));
    }
    Ok(globals)
}

/// The names of the Globals `wasm` exports (node's WebAssembly reads the module); fails when it
/// imports from anywhere but `glue_module` (when given).
fn wasm_globals(wasm: &Path, glue_module: Option<&str>) -> Result<Vec<String>> {
    let script = "const m = new WebAssembly.Module(require('fs').readFileSync(process.argv[1]));
const bad = WebAssembly.Module.imports(m).filter(i => i.module !== process.argv[2]);
if (process.argv[2] && bad.length) { console.error('imports from elsewhere: ' + JSON.stringify(bad)); process.exit(1); }
for (const e of WebAssembly.Module.exports(m)) if (e.kind === 'global') console.log(e.name);";
    let out =
        output(cmd("node").arg("-e").arg(script).arg(wasm).arg(glue_module.unwrap_or_default())).ok_or_else(|| {
            format!(
                "node could not read the exports of {} (or it imports from outside {glue_module:?})",
                wasm.display()
            )
        })?;
    Ok(out.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect())
}

/// The names the wasm imports and exports made short in the wasm, the glue and the `.d.ts`
/// alike (xtask/src/wasm_names.rs); `glue_module` is the module name the wasm imports the
/// glue's functions from. After wasm-opt, so that the names renamed are those of the wasm that
/// ships.
fn shorten_boundary_names(wasm: &Path, glue_module: &str, glue: &Path, dts: &Path) -> Result<()> {
    let read = |path: &Path| fs::read_to_string(path).map_err(|e| format!("read {}: {e}", path.display()));
    let write = |path: &Path, text: &[u8]| fs::write(path, text).map_err(|e| format!("write {}: {e}", path.display()));
    let renamed = wasm_names::minify_file(wasm, &wasm_names::Plan::web(glue_module))?;
    let glue_text =
        wasm_names::rename_in_glue(&read(glue)?, &renamed).map_err(|e| format!("{}: {e}", glue.display()))?;
    let dts_text = wasm_names::rename_in_dts(&read(dts)?, &renamed).map_err(|e| format!("{}: {e}", dts.display()))?;
    write(glue, glue_text.as_bytes())?;
    write(dts, dts_text.as_bytes())
}

/// The JS layer (src/bindings/js/, see api.js there): the public classes over the wasm's.
const JS_LAYER_DIR: &str = "src/bindings/js";
/// Its files after the common `api.js`, each with the cargo feature whose class it defines.
const JS_LAYER_CLASSES: &[(&str, &str)] = &[("smh.js", "smh-client"), ("cos.js", "cos-uploader")];
/// Its browser-only file: the `'local'` checkpoint store (the mini-program's is in the wasm).
const JS_LAYER_WEB: &str = "local.js";

/// wasm-bindgen's glue `glue` with the JS layer appended for a build with `features` (none: the
/// default features, both classes), for browsers when `web`. The wasm's own classes (`__Smh`,
/// `__Cos`, `__Task`) stay private to the module: the JS layer is their only user. Also used by
/// the mini-program build.
pub(crate) fn with_js_layer(glue: &str, features: &[&str], web: bool) -> Result<String> {
    let dir = root().join(JS_LAYER_DIR);
    let read = |name: &str| fs::read_to_string(dir.join(name)).map_err(|e| format!("read {JS_LAYER_DIR}/{name}: {e}"));
    let mut text = glue.replace("\nexport class __", "\nclass __");
    if text.contains("export class __") {
        return Err("the glue exports a wasm class the JS layer should keep private".into());
    }
    // Every call into the wasm goes through the exports the glue keeps in `wasm`: guarded there,
    // a trap (a panic) anywhere is noticed (`smh$guard`, api.js). Web glue sets them in
    // `__wbg_finalize_init`, bundler glue (the mini-program's) in `__wbg_set_wasm`.
    let guarded = ["wasm = instance.exports;", "wasm = val;"]
        .iter()
        .find(|set| text.matches(*set).count() == 1)
        .ok_or("the glue sets its `wasm` exports in a way the JS layer's guard does not know")?;
    text = text.replace(guarded, &guarded.replace("= ", "= smh$guard(").replace(';', ");"));
    text.push_str(&read("api.js")?);
    for (file, feature) in JS_LAYER_CLASSES {
        if features.is_empty() || features.contains(feature) {
            text.push_str(&read(file)?);
        }
    }
    if web {
        text.push_str(&read(JS_LAYER_WEB)?);
    }
    Ok(text)
}

/// esbuild's whitespace and syntax minification of the JS a page loads: the glue (with the
/// snippets inlined) and the upload Worker, whose comments and layout would otherwise be a large part of the
/// JS a page loads (`cargo xtask bench --only size`), and whose module-local identifiers are
/// shortened (about 1.5 KB gzip per entry): what a module exports keeps its name (the public
/// classes), only internals read differently in a
/// stack trace, and the Worker's `new Worker(new URL(…, import.meta.url))` stays as bundlers
/// look for it. `--target=es2022` keeps esbuild from writing newer syntax than the package's
/// browsers (Safari 15) have. The `.d.ts` is left as it is: it is documentation, and pages do
/// not load it.
fn minify_browser_js(pkg: &Path) -> Result<()> {
    let esbuild = root().join("node_modules/.bin/esbuild");
    if !esbuild.exists() {
        return Err("node_modules/.bin/esbuild not found; run `cargo xtask setup`".into());
    }
    let mut files: Vec<PathBuf> = ENTRIES.iter().map(|entry| pkg.join(format!("{}.js", entry.stem))).collect();
    files.push(pkg.join(WORKER_SCRIPT));
    let (mut before, mut after) = (0, 0);
    for file in &files {
        before += file_size(file)?;
        run_cmd(
            cmd(&esbuild)
                .arg(file)
                .args([
                    "--minify-whitespace",
                    "--minify-syntax",
                    "--minify-identifiers",
                    "--target=es2022",
                    "--log-level=warning",
                    "--allow-overwrite",
                ])
                .arg(format!("--outfile={}", file.display())),
            "esbuild (minify)",
        )?;
        after += file_size(file)?;
    }
    println!(
        "pkg: esbuild --minify-whitespace --minify-syntax --minify-identifiers on {} JS file(s): {} → {}",
        files.len(),
        kib(before),
        kib(after)
    );
    Ok(())
}

/// Two edits that make wasm-bindgen 0.2.130's `.d.ts` what a TypeScript user can take as is
/// (tests/consumers/ts compiles the shipped file with `tsc --strict`, lib es2022 + dom, no
/// `skipLibCheck`, and checks it for `any`):
///
/// - It declares `[Symbol.dispose](): void;` on every class. `Symbol.dispose` is typed only by
///   TypeScript's `esnext.disposable` lib, so with a common `lib: ["es2022", "dom"]` the
///   package's own `.d.ts` fails to compile (TS2550 "Property 'dispose' does not exist on type
///   'SymbolConstructor'. Do you need to change your target library?") unless users turn on
///   `skipLibCheck`. The declaration is dropped:
///   users lose only the typing of `using client = …`; `free()` stays declared, and the JS still
///   installs `[Symbol.dispose]` where the runtime has it. Declaring `SymbolConstructor.dispose`
///   ourselves instead would clash with the esnext lib for users who have it (TS2717).
/// - `InitOutput` (what `init()` resolves with: the raw wasm exports) types the exports'
///   externref arguments and results as `any`; they become `unknown`, so nothing the package
///   declares is `any`. Nobody calls these exports; the change only keeps `any` out of users'
///   code through inference.
fn make_dts_portable(dts: &Path) -> Result<()> {
    let text = fs::read_to_string(dts).map_err(|e| format!("read {}: {e}", dts.display()))?;
    let mut lines = Vec::new();
    let mut in_init_output = false;
    let (mut dropped, mut retyped) = (0, 0);
    for line in text.lines() {
        if line.trim() == "[Symbol.dispose](): void;" {
            dropped += 1;
            continue;
        }
        if line.starts_with("export interface InitOutput") {
            in_init_output = true;
        } else if in_init_output && line.starts_with('}') {
            in_init_output = false;
        }
        if in_init_output && contains_word(line, "any") {
            retyped += 1;
            lines.push(replace_word(line, "any", "unknown"));
        } else {
            lines.push(line.to_string());
        }
    }
    fs::write(dts, lines.join("\n") + "\n").map_err(|e| format!("write {}: {e}", dts.display()))?;
    println!("pkg: {}: dropped {dropped} `[Symbol.dispose]` (needs lib esnext); `any` → `unknown` on {retyped} InitOutput line(s)", dts.file_name().unwrap_or_default().to_string_lossy());
    Ok(())
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$'
}

fn contains_word(line: &str, word: &str) -> bool {
    replace_word(line, word, "\u{0}") != line
}

/// `line` with every whole-word occurrence of `word` replaced by `with`.
fn replace_word(line: &str, word: &str, with: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find(word) {
        // At the start of `rest`, the character before is the last one written.
        let before = if at == 0 { out.chars().next_back() } else { rest[..at].chars().next_back() };
        let before_ok = !before.is_some_and(is_word_char);
        let after_ok = !rest[at + word.len()..].chars().next().is_some_and(is_word_char);
        out.push_str(&rest[..at]);
        out.push_str(if before_ok && after_ok { with } else { word });
        rest = &rest[at + word.len()..];
    }
    out.push_str(rest);
    out
}

/// `npm pack` of `pkg/` into `target/pkg/` (older smh-upload tarballs there removed first); refuses a
/// tarball that lacks a [`PACKED_FILES`] entry or holds anything else. Returns its path.
fn pack(pkg: &Path) -> Result<PathBuf> {
    let tarball = tarball_path()?;
    let dir = tarball.parent().ok_or("tarball path has no parent")?.to_path_buf();
    if dir.exists() {
        for entry in fs::read_dir(&dir).map_err(|e| format!("read {}: {e}", dir.display()))?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("smh-upload-") && name.ends_with(".tgz") {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    find_tool("npm").ok_or("npm not found; install Node.js 20+ with npm")?;
    println!("pkg: npm pack → {}", tarball.display());
    run_cmd(
        cmd("npm")
            .args(["pack", "--silent", "--pack-destination"])
            .arg(&dir)
            .current_dir(pkg)
            .stdout(std::process::Stdio::null()),
        "npm pack",
    )?;
    if !tarball.exists() {
        return Err(format!("npm pack did not write {}", tarball.display()));
    }
    let listing = output(cmd("tar").arg("tzf").arg(&tarball)).ok_or("tar tzf of the tarball failed")?;
    let packed: Vec<&str> =
        listing.lines().filter_map(|l| l.strip_prefix("package/")).filter(|p| !p.ends_with('/')).collect();
    let problems = tarball_problems(&packed);
    if !problems.is_empty() {
        let _ = fs::remove_file(&tarball);
        return Err(format!("the tarball is wrong: {}", problems.join("; ")));
    }
    Ok(tarball)
}

/// Why a tarball holding `packed` (paths under `package/`) must not ship; empty when it may.
fn tarball_problems(packed: &[&str]) -> Vec<String> {
    let mut problems: Vec<String> = PACKED_FILES
        .iter()
        .chain(&["package.json"])
        .filter(|want| !packed.contains(want))
        .map(|missing| format!("{missing} is missing"))
        .collect();
    for path in packed {
        let expected = *path == "package.json" || PACKED_FILES.contains(path) || path.starts_with(MINIPROGRAM_DIR);
        let junk = JUNK_ENDINGS.iter().any(|end| path.ends_with(end))
            || path.split('/').any(|segment| segment.starts_with('.') || segment == "node_modules");
        if !expected || junk {
            problems.push(format!("{path} does not belong in it"));
        }
    }
    problems
}

/// Prints, for every packed file and the tarball itself, its size raw, after `gzip -9` and
/// after brotli (quality 11) — what a CDN or a mini-program package would hold.
fn report_sizes(pkg: &Path, tarball: &Path) -> Result<()> {
    let mut files: Vec<(String, PathBuf)> = walk(pkg)?
        .into_iter()
        .map(|(path, relative)| (relative.to_string_lossy().into_owned(), path))
        .filter(|(name, _)| {
            name == "package.json" || PACKED_FILES.contains(&name.as_str()) || name.starts_with(MINIPROGRAM_DIR)
        })
        .collect();
    files.sort();
    let paths: Vec<&Path> = files.iter().map(|(_, p)| p.as_path()).collect();
    let sizes = compressed_sizes(&paths)?;
    let width = files.iter().map(|(name, _)| name.len()).max().unwrap_or(0).max(12);
    println!("pkg: {:<width$} {:>11} {:>11} {:>11}", "file", "raw", "gzip -9", "brotli");
    let mut totals = [0u64; 3];
    for ((name, _), size) in files.iter().zip(&sizes) {
        println!("pkg: {name:<width$} {:>11} {:>11} {:>11}", kib(size[0]), kib(size[1]), kib(size[2]));
        for (total, part) in totals.iter_mut().zip(size) {
            *total += part;
        }
    }
    println!("pkg: {:<width$} {:>11} {:>11} {:>11}", "(all files)", kib(totals[0]), kib(totals[1]), kib(totals[2]));
    let tgz = file_size(tarball)?;
    let name = tarball.strip_prefix(root()).unwrap_or(tarball).display().to_string();
    println!("pkg: {name} {} ({} files)", kib(tgz), files.len());
    Ok(())
}

/// `[raw, gzip -9, brotli quality 11]` sizes of each file, computed by node's zlib (no extra
/// tools: node is already needed for npm).
pub(crate) fn compressed_sizes(files: &[&Path]) -> Result<Vec<[u64; 3]>> {
    const SCRIPT: &str = "const fs = require('fs'), zlib = require('zlib');
for (const file of process.argv.slice(1)) {
  const bytes = fs.readFileSync(file);
  const gzip = zlib.gzipSync(bytes, { level: 9 }).length;
  const brotli = zlib.brotliCompressSync(bytes, { params: {
    [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: bytes.length } }).length;
  console.log(bytes.length, gzip, brotli);
}";
    let out =
        output(cmd("node").arg("-e").arg(SCRIPT).args(files)).ok_or("node could not compute the compressed sizes")?;
    let sizes: Vec<[u64; 3]> = out
        .lines()
        .filter_map(|line| {
            let n: Vec<u64> = line.split_whitespace().filter_map(|w| w.parse().ok()).collect();
            (n.len() == 3).then(|| [n[0], n[1], n[2]])
        })
        .collect();
    if sizes.len() != files.len() {
        return Err(format!("node printed {} size lines for {} files", sizes.len(), files.len()));
    }
    Ok(sizes)
}

pub(crate) fn file_size(path: &Path) -> Result<u64> {
    fs::metadata(path).map(|m| m.len()).map_err(|e| format!("{}: {e}", path.display()))
}

pub(crate) fn kib(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

/// Where the npm README states the mini-program build's sizes, filled in by [`copy_template`]
/// with what this build measured (so the README never states an older build's).
const MINIPROGRAM_SIZE: &str = "{{miniprogram-size}}";

/// Copies `template/` recursively into `pkg/`; `package.json` through [`package_json`], and
/// `README.md` with each `(placeholder, text)` of `readme` filled in (a placeholder missing from
/// the README is an error, so the two cannot drift apart).
fn copy_template(template: &Path, pkg: &Path, readme: &[(&str, &str)]) -> Result<()> {
    if !template.is_dir() {
        return Ok(());
    }
    for (from, relative) in walk(template)? {
        let to = pkg.join(&relative);
        if let Some(dir) = to.parent() {
            fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        }
        if relative == Path::new("package.json") {
            let text = fs::read_to_string(&from).map_err(|e| format!("read {}: {e}", from.display()))?;
            let text = package_json(&text)?;
            fs::write(&to, text).map_err(|e| format!("write {}: {e}", to.display()))?;
        } else if relative == Path::new("README.md") {
            let mut text = fs::read_to_string(&from).map_err(|e| format!("read {}: {e}", from.display()))?;
            for (placeholder, value) in readme {
                if !text.contains(placeholder) {
                    return Err(format!("{} has no {placeholder} to fill in", from.display()));
                }
                text = text.replace(placeholder, value);
            }
            fs::write(&to, text).map_err(|e| format!("write {}: {e}", to.display()))?;
        } else if relative == Path::new(WORKER_SCRIPT) {
            // The Worker's SHA-256 and chain code is the page's (one source, src/platform/browser/
            // sha256.js): put at the head of its script, which uses it (both are ES modules that
            // import nothing, so the two together are one).
            let shared = root().join(WORKER_SHARED_JS);
            let mut text = fs::read_to_string(&shared).map_err(|e| format!("read {}: {e}", shared.display()))?;
            text.push_str(&fs::read_to_string(&from).map_err(|e| format!("read {}: {e}", from.display()))?);
            fs::write(&to, text).map_err(|e| format!("write {}: {e}", to.display()))?;
        } else {
            fs::copy(&from, &to).map_err(|e| format!("copy {} → {}: {e}", from.display(), to.display()))?;
        }
    }
    Ok(())
}

/// Files under `dir`, as (absolute path, path relative to `dir`).
pub(crate) fn walk(dir: &Path) -> Result<Vec<(PathBuf, PathBuf)>> {
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
    manifest_version("Cargo.toml")
}

/// The `[package]` version of the manifest at `manifest` (relative to the root).
pub(crate) fn manifest_version(manifest: &str) -> Result<String> {
    manifest_value(manifest, &["[package]"], "version")?.ok_or_else(|| format!("{manifest} has no [package] version"))
}

/// The string value of `key` in the first of `sections` of `manifest` (relative to the root)
/// that has it.
pub(crate) fn manifest_value(manifest: &str, sections: &[&str], key: &str) -> Result<Option<String>> {
    let manifest = fs::read_to_string(root().join(manifest)).map_err(|e| format!("read {manifest}: {e}"))?;
    for wanted in sections {
        let mut inside = false;
        for line in manifest.lines() {
            let line = line.trim();
            if line.starts_with('[') {
                inside = line == *wanted;
            } else if inside {
                let Some((name, value)) = line.split_once('=') else { continue };
                if name.trim() == key && value.trim().starts_with('"') {
                    return Ok(Some(value.trim().trim_matches('"').to_string()));
                }
            }
        }
    }
    Ok(None)
}

/// package.json from the template: the crate's version, and the `repository` of Cargo.toml
/// (`[package]` or `[workspace.package]`). Without one, a warning: npm then publishes a package
/// page with no link to its source, and no URL is made up here.
fn package_json(template: &str) -> Result<String> {
    package_json_versioned(template, &crate_version()?)
}

/// [`package_json`] with the given `version` (the devserver's package has its crate's).
pub(crate) fn package_json_versioned(template: &str, version: &str) -> Result<String> {
    let repository = manifest_value("Cargo.toml", &["[package]", "[workspace.package]"], "repository")?;
    if repository.is_none() {
        println!(
            "pkg: warning: Cargo.toml has no `repository` (under [package] or [workspace.package]), so package.json has none; \
             add the real URL there before publishing"
        );
    }
    Ok(package_json_with(template, version, repository.as_deref()))
}

/// `template` with `version`, and with `"repository": {"type": "git", "url": "git+<url>.git"}`
/// (npm's normalized form) after the `"license"` line when a repository URL is given.
fn package_json_with(template: &str, version: &str, repository: Option<&str>) -> String {
    let json = set_json_version(template, version);
    let Some(url) = repository else { return json };
    let url = url.trim_end_matches('/');
    let prefix = if url.starts_with("git") { "" } else { "git+" };
    let suffix = if url.ends_with(".git") { "" } else { ".git" };
    let entry = format!("  \"repository\": {{ \"type\": \"git\", \"url\": \"{prefix}{url}{suffix}\" }},");
    let lines: Vec<String> = json
        .lines()
        .flat_map(|line| {
            let extra = line.trim_start().starts_with("\"license\"").then(|| entry.clone());
            std::iter::once(line.to_string()).chain(extra)
        })
        .collect();
    lines.join("\n") + "\n"
}

/// Replaces the value of the first `"version"` key (the template's top-level one).
fn set_json_version(json: &str, version: &str) -> String {
    let key = "\"version\"";
    let Some(after_key) = json.find(key).map(|k| k + key.len()) else { return json.to_string() };
    let Some(value_start) = json[after_key..].find('"').map(|q| after_key + q + 1) else { return json.to_string() };
    let Some(value_end) = json[value_start..].find('"').map(|q| value_start + q) else { return json.to_string() };
    format!("{}{version}{}", &json[..value_start], &json[value_end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tarball_contents_are_checked() {
        let mut good = vec!["package.json", "smh_upload_worker.js", "README.md", "LICENSE-MIT", "LICENSE-APACHE"];
        let entry_files: Vec<String> =
            ENTRIES.iter().flat_map(|e| [".js", ".d.ts", "_bg.wasm"].map(|end| format!("{}{end}", e.stem))).collect();
        good.extend(entry_files.iter().map(String::as_str));
        assert!(tarball_problems(&good).is_empty(), "{:?}", tarball_problems(&good));
        let mut with_miniprogram = good.to_vec();
        with_miniprogram.extend(["miniprogram/index.js", "miniprogram/smh_upload_bg.wasm.br"]);
        assert!(tarball_problems(&with_miniprogram).is_empty());
        let mut junk = good.to_vec();
        junk.extend([
            "smh_upload_bg.wasm.d.ts",
            "src/lib.rs",
            "miniprogram/index.js.map",
            "miniprogram/.DS_Store",
            "snippets/smh-upload-1/src/worker_client.js",
        ]);
        assert_eq!(tarball_problems(&junk).len(), 5, "{:?}", tarball_problems(&junk));
        assert_eq!(tarball_problems(&good[1..]), vec!["package.json is missing".to_string()]);
        assert_eq!(tarball_problems(&good[..good.len() - 1]), vec![format!("{} is missing", good[good.len() - 1])]);
    }

    #[test]
    fn package_json_gets_the_version_and_the_repository_when_cargo_has_one() {
        let template = "{\n  \"name\": \"smh-upload\",\n  \"version\": \"0.0.0\",\n  \"license\": \"MIT\",\n  \"type\": \"module\"\n}\n";
        let without = package_json_with(template, "1.2.3", None);
        assert_eq!(without, template.replace("0.0.0", "1.2.3"));
        let with = package_json_with(template, "1.2.3", Some("https://example.invalid/team/smh-upload"));
        assert!(
            with.contains("  \"license\": \"MIT\",\n  \"repository\": { \"type\": \"git\", \"url\": \"git+https://example.invalid/team/smh-upload.git\" },\n  \"type\""),
            "{with}"
        );
        let already = package_json_with(template, "1.2.3", Some("git+https://example.invalid/a/b.git"));
        assert!(already.contains("\"url\": \"git+https://example.invalid/a/b.git\""), "{already}");
    }

    #[test]
    fn whole_words_are_replaced() {
        assert_eq!(
            replace_word("readonly f: (a: any, many: any) => any;", "any", "unknown"),
            "readonly f: (a: unknown, many: unknown) => unknown;"
        );
        assert_eq!(replace_word("anyway company any_", "any", "unknown"), "anyway company any_");
        assert!(contains_word("(c: any)", "any") && !contains_word("company", "any"));
    }
}
