//! `cargo xtask test`: setup, then every stage in order, stopping at the first failure, then a
//! summary of `N passed, M failed` per stage. A stage whose tests do not exist yet is skipped.
//!
//! Stages:
//! - `lint`: the declared `rust-version` covers the locked dependencies, `cargo fmt --check`, and
//!   `cargo clippy -D warnings` for the native targets and each wasm build (xtask/src/lint.rs).
//! - `native`: `cargo test --workspace` (SDK unit tests, devserver integration tests).
//! - `pkg`: `cargo xtask pkg`.
//! - `miniprogram`: `node --test tests/miniprogram/` — the mini-program build in a Node imitation of
//!   WeChat's logic layer, against a devserver (tests/miniprogram/README.md).
//! - `consumers`: `node --test tests/consumers/` — the packed tarball installed into fresh
//!   projects as users do (Vite, webpack 5 and esbuild apps, a plain ESM page, strict TypeScript,
//!   a mini-program in tests/miniprogram's imitated logic layer), built, run in headless
//!   Chromium against a devserver, type-checked.
//! - `browser`: `tests/web*.rs` with wasm-bindgen-test in headless Chromium, against ONE
//!   devserver whose READY JSON reaches the tests as `SMH_DEVSERVER_READY_JSON` (`env!`).
//! - `interop`: pytest and `node --test` in `tests/interop/` (each suite starts its devservers).
//! - `devserver-npm`: `node --test tests/devserver-npm/` — the npm package smh-devserver: its JS
//!   launcher from source, the packed tarball installed into a fresh project with no Rust on its
//!   PATH (`npx smh-devserver`, the README's Playwright fixture in Debian's Chromium), and the
//!   contract between the binary's flags, READY fields and version and the READMEs and types.
//! - `e2e`: `node --test tests/e2e/` (Playwright over Debian's Chromium, the built `pkg/`), then
//!   the bench's smoke run (`bench_upload::smoke`: every bench section with tiny files).
//! - `engines`: `node --test tests/engines/` in Firefox ESR, then WebKitGTK (xtask/src/engines.rs).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::util::{self, cargo, cmd, find_tool, root, run_cmd, run_tee, target_dir, Result};
use smh_devserver_launch::Devserver;

const STAGES: &[&str] =
    &["lint", "native", "pkg", "miniprogram", "consumers", "devserver-npm", "browser", "interop", "e2e", "engines"];

/// Chromium flags for tests: as root on a machine with a closed network, Chromium needs no
/// sandbox and must not try to reach Google's services. wasm-bindgen-test-runner adds
/// `headless`, `no-sandbox` and `disable-dev-shm-usage` itself.
pub(crate) const CHROMIUM_ARGS: &[&str] = &[
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

enum Outcome {
    Passed,
    Failed(String),
    Skipped(String),
}

struct StageReport {
    name: &'static str,
    outcome: Outcome,
    counts: Counts,
    elapsed: Duration,
}

/// Tests counted from the runners' own summary lines.
#[derive(Default, Clone, Copy)]
pub(crate) struct Counts {
    passed: u64,
    failed: u64,
    seen: bool,
}

pub fn run(args: &[String]) -> Result<()> {
    let only = parse_args(args)?;
    crate::setup::run()?;

    let mut reports: Vec<StageReport> = Vec::new();
    let mut failed = false;
    for &name in STAGES {
        if only.is_some_and(|o| o != name) {
            continue;
        }
        if failed {
            reports.push(StageReport {
                name,
                outcome: Outcome::Skipped("not run".into()),
                counts: Counts::default(),
                elapsed: Duration::ZERO,
            });
            continue;
        }
        println!("\n==== test stage `{name}` ====");
        let started = Instant::now();
        let mut counts = Counts::default();
        let outcome = match stage(name, only.is_some(), &mut counts) {
            Ok(None) => Outcome::Passed,
            Ok(Some(reason)) => Outcome::Skipped(reason),
            Err(e) => Outcome::Failed(e),
        };
        if let Outcome::Skipped(reason) = &outcome {
            println!("test stage `{name}` skipped: {reason}");
        }
        failed = matches!(outcome, Outcome::Failed(_));
        reports.push(StageReport { name, outcome, counts, elapsed: started.elapsed() });
    }

    println!("\n==== test summary ====");
    for report in &reports {
        let (status, detail) = match &report.outcome {
            Outcome::Passed => ("ok", String::new()),
            Outcome::Failed(e) => ("FAILED", e.clone()),
            Outcome::Skipped(reason) => ("skipped", reason.clone()),
        };
        let counts = if report.counts.seen {
            format!("{} passed, {} failed", report.counts.passed, report.counts.failed)
        } else {
            String::new()
        };
        let time = if report.elapsed.is_zero() { String::new() } else { util::secs(report.elapsed) };
        println!("  {:<13} {:<8} {:<24} {:>7}  {}", report.name, status, counts, time, detail);
    }
    if failed {
        Err("a test stage failed (see the summary above)".into())
    } else {
        Ok(())
    }
}

fn parse_args(args: &[String]) -> Result<Option<&'static str>> {
    match args {
        [] => Ok(None),
        [flag, stage] if flag == "--only" => STAGES
            .iter()
            .copied()
            .find(|s| s == stage)
            .map(Some)
            .ok_or_else(|| format!("unknown stage `{stage}`; one of: {}", STAGES.join(", "))),
        _ => Err(format!("usage: cargo xtask test [--only {}]", STAGES.join("|"))),
    }
}

/// Runs one stage: `Ok(None)` passed, `Ok(Some(reason))` skipped.
fn stage(name: &str, alone: bool, counts: &mut Counts) -> Result<Option<String>> {
    match name {
        "lint" => crate::lint::run().map(|()| None),
        "native" => native(counts),
        "pkg" => crate::pkg::run_all().and_then(|()| crate::size::check()).map(|()| None),
        "miniprogram" => miniprogram(alone, counts),
        "consumers" => consumers(alone, counts),
        "devserver-npm" => devserver_npm(alone, counts),
        "browser" => browser(counts),
        "interop" => interop(counts),
        "e2e" => e2e(alone, counts),
        "engines" => crate::engines::stage(alone, counts),
        _ => unreachable!("stage names come from STAGES"),
    }
}

fn devserver_bin() -> PathBuf {
    target_dir().join("debug/smh-devserver")
}

pub(crate) fn build_devserver() -> Result<PathBuf> {
    run_cmd(cargo().args(["build", "-p", "smh-devserver"]), "cargo build -p smh-devserver")?;
    Ok(devserver_bin())
}

fn native(counts: &mut Counts) -> Result<Option<String>> {
    let bin = build_devserver()?;
    let mut command = cargo();
    command.args(["test", "--workspace", "--no-fail-fast"]).env("SMH_DEVSERVER_BIN", &bin);
    run_counted(&mut command, "cargo test --workspace", counts)?;
    Ok(None)
}

fn browser(counts: &mut Counts) -> Result<Option<String>> {
    let suites = files_in(&root().join("tests"), |name| name.starts_with("web") && name.ends_with(".rs"));
    if suites.is_empty() {
        return Ok(Some("no tests/web*.rs".into()));
    }
    check_snippet_modules()?;
    let runner =
        find_tool("wasm-bindgen-test-runner").ok_or("wasm-bindgen-test-runner not found; run `cargo xtask setup`")?;
    let webdriver_json = write_webdriver_json()?;
    let bin = build_devserver()?;
    let server = Devserver::start(&bin, &[] as &[&str])?;
    println!("browser: devserver up: {}", server.ready_json());
    for suite in suites {
        let stem = suite.trim_end_matches(".rs");
        let mut command = cargo();
        command
            .args(["test", "-p", "smh-upload", "--target", "wasm32-unknown-unknown", "--test", stem])
            .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER", &runner)
            .env("CHROMEDRIVER", CHROMEDRIVER)
            .env("WASM_BINDGEN_TEST_WEBDRIVER_JSON", &webdriver_json)
            .env("WASM_BINDGEN_TEST_TIMEOUT", "120")
            // chromedriver's own start-up; the runner's 5 s default is tight on a busy 2-core machine.
            .env("WASM_BINDGEN_TEST_DRIVER_TIMEOUT", "30")
            // Production pages are not cross-origin isolated; test under the same conditions.
            .env("WASM_BINDGEN_TEST_NO_ORIGIN_ISOLATION", "1")
            .env("SMH_DEVSERVER_READY_JSON", server.ready_json());
        let what = format!("browser tests `{stem}`");
        if !run_suite_page(&mut command, &what, counts)? {
            // A page that never loads, with no test started, is run once more: the runner's server
            // has starved a connection before (see `check_snippet_modules`). A suite whose
            // tests ran and failed is not run again.
            println!("browser: {what}: the test page never loaded (no test started); running the suite again");
            if !run_suite_page(&mut command, &what, counts)? {
                return Err(format!("{what}: the test page never loaded, twice"));
            }
        }
    }
    drop(server);
    Ok(None)
}

/// Most snippet files (`#[wasm_bindgen(module = "/…")]`) the crate may import.
///
/// wasm-bindgen-test-runner serves the test page from tiny_http 0.12, whose pool of connection
/// threads (four, then one more per connection that finds none idle) can queue a new connection
/// while its idle threads are still waking: the connection then waits behind kept-alive ones,
/// which Chromium keeps for 300 s, and its request is never answered. The page imports every
/// snippet file at once after the glue, on the glue's connection and one new connection per
/// further file; with more than four files some were starved (in CI, twice in a row, with
/// seven), the page never loaded, and chromedriver gave up after 300 s ("Timed out receiving
/// message from renderer"). Three files leave room for one more connection of the browser's.
const MAX_SNIPPET_MODULES: usize = 3;

/// Fails when the crate's sources import more than [`MAX_SNIPPET_MODULES`] snippet files.
fn check_snippet_modules() -> Result<()> {
    let mut modules: Vec<String> = Vec::new();
    for (path, _) in crate::pkg::walk(&root().join("src"))? {
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = fs::read_to_string(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
        modules.extend(snippet_modules(&text));
    }
    modules.sort();
    modules.dedup();
    if modules.len() > MAX_SNIPPET_MODULES {
        return Err(format!(
            "the crate imports {} snippet files ({}); at most {MAX_SNIPPET_MODULES} let the browser tests' page \
             load (the runner's server starves connections beyond that: see MAX_SNIPPET_MODULES in \
             xtask/src/test.rs). Put the new functions in an existing file, e.g. src/platform/browser/adapters.js",
            modules.len(),
            modules.join(", ")
        ));
    }
    Ok(())
}

/// The snippet paths `text` names in `module = "/…"` attributes.
fn snippet_modules(text: &str) -> Vec<String> {
    text.split("module = \"/").skip(1).filter_map(|rest| rest.split('"').next()).map(|p| format!("/{p}")).collect()
}

/// Runs one wasm-bindgen-test browser suite: `Ok(true)` when it passed, `Ok(false)` when it
/// failed before any test started (the runner's page did not load: no `running N tests` line),
/// an error when its tests ran and one failed.
fn run_suite_page(command: &mut Command, what: &str, counts: &mut Counts) -> Result<bool> {
    let mut started = false;
    let status = run_tee(command, |line| {
        started |= line.trim_start().starts_with("running ");
        count_line(line, counts);
    })
    .map_err(|e| format!("{what}: {e}"))?;
    match (status.success(), started) {
        (true, _) => Ok(true),
        (false, false) => Ok(false),
        (false, true) => Err(format!("{what} failed ({status})")),
    }
}

/// Capabilities for chromedriver, read by wasm-bindgen-test-runner from the file named by
/// `WASM_BINDGEN_TEST_WEBDRIVER_JSON` (default `webdriver.json` in the crate root).
fn write_webdriver_json() -> Result<PathBuf> {
    let args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| format!("\"{a}\"")).collect();
    let json = format!(
        "{{\n  \"goog:chromeOptions\": {{\n    \"binary\": \"{CHROMIUM}\",\n    \"args\": [{}]\n  }}\n}}\n",
        args.join(", ")
    );
    let path = target_dir().join("xtask/webdriver.json");
    fs::create_dir_all(path.parent().unwrap_or(&path)).map_err(|e| format!("create target/xtask: {e}"))?;
    fs::write(&path, json).map_err(|e| format!("write {}: {e}", path.display()))?;
    Ok(path)
}

fn interop(counts: &mut Counts) -> Result<Option<String>> {
    let dir = root().join("tests/interop");
    let python = files_in(&dir, |n| n.starts_with("test_") && n.ends_with(".py"));
    let node = files_in(&dir, |n| n.ends_with(".test.mjs"));
    if python.is_empty() && node.is_empty() {
        return Ok(Some("no tests/interop/test_*.py or *.test.mjs".into()));
    }
    let bin = build_devserver()?;
    if !python.is_empty() {
        let mut command = cmd(root().join(crate::setup::PYENV).join("bin/python"));
        command.args(["-m", "pytest", "-q", "tests/interop"]).env("SMH_DEVSERVER_BIN", &bin);
        run_counted(&mut command, "pytest tests/interop", counts)?;
    }
    if !node.is_empty() {
        let mut command = cmd("node");
        command.args(["--test", "--test-reporter=spec", "tests/interop/"]).env("SMH_DEVSERVER_BIN", &bin);
        run_counted(&mut command, "node --test tests/interop/", counts)?;
    }
    Ok(None)
}

fn consumers(alone: bool, counts: &mut Counts) -> Result<Option<String>> {
    let dir = root().join("tests/consumers");
    if !has_files_recursive(&dir, &|n: &str| n.ends_with(".test.mjs")) {
        return Ok(Some("no tests/consumers/**/*.test.mjs".into()));
    }
    let tarball = crate::pkg::tarball_path()?;
    if alone && !tarball.exists() {
        crate::pkg::run()?;
    }
    let bin = build_devserver()?;
    let mut command = cmd("node");
    command
        .args(["--test", "--test-reporter=spec", "tests/consumers/"])
        .env("SMH_DEVSERVER_BIN", &bin)
        .env("SMH_PKG_TGZ", &tarball)
        .env("CHROMIUM", CHROMIUM);
    run_counted(&mut command, "node --test tests/consumers/", counts)?;
    Ok(None)
}

/// The npm package smh-devserver, against the static binary it carries (both tarballs come from
/// the `pkg` stage; run alone, the stage packs them when missing).
fn devserver_npm(alone: bool, counts: &mut Counts) -> Result<Option<String>> {
    let dir = root().join("tests/devserver-npm");
    if files_in(&dir, |n| n.ends_with(".test.mjs")).is_empty() {
        return Ok(Some("no tests/devserver-npm/*.test.mjs".into()));
    }
    let (devserver_tgz, pkg_tgz) = (crate::pkg_devserver::tarball_path()?, crate::pkg::tarball_path()?);
    if alone && !(devserver_tgz.exists() && pkg_tgz.exists()) {
        crate::pkg::run_all()?;
    }
    let mut command = cmd("node");
    command
        .args(["--test", "--test-reporter=spec", "tests/devserver-npm/"])
        .env("SMH_DEVSERVER_BIN", crate::pkg_devserver::static_binary())
        .env("SMH_DEVSERVER_TGZ", &devserver_tgz)
        .env("SMH_PKG_TGZ", &pkg_tgz)
        .env("CHROMIUM", CHROMIUM);
    run_counted(&mut command, "node --test tests/devserver-npm/", counts)?;
    Ok(None)
}

fn miniprogram(alone: bool, counts: &mut Counts) -> Result<Option<String>> {
    let pkg = root().join(crate::pkg::PKG_DIR);
    if alone && !pkg.join("miniprogram/index.js").exists() {
        crate::pkg::run()?;
    }
    let bin = build_devserver()?;
    let mut command = cmd("node");
    command
        .args(["--test", "--test-reporter=spec", "tests/miniprogram/"])
        .env("SMH_DEVSERVER_BIN", &bin)
        .env("SMH_PKG_DIR", &pkg);
    run_counted(&mut command, "node --test tests/miniprogram/", counts)?;
    Ok(None)
}

fn e2e(alone: bool, counts: &mut Counts) -> Result<Option<String>> {
    let dir = root().join("tests/e2e");
    let is_test = |n: &str| [".test.mjs", ".test.js", ".test.cjs"].iter().any(|ext| n.ends_with(ext));
    if !has_files_recursive(&dir, &is_test) {
        return Ok(Some("no tests/e2e/**/*.test.mjs".into()));
    }
    let pkg = root().join(crate::pkg::PKG_DIR);
    if alone && !pkg.join("smh_upload.js").exists() {
        crate::pkg::run()?;
    }
    let bin = build_devserver()?;
    let mut command = cmd("node");
    command
        .args(["--test", "--test-reporter=spec", "tests/e2e/"])
        .env("SMH_DEVSERVER_BIN", &bin)
        .env("SMH_PKG_DIR", &pkg)
        .env("CHROMIUM", CHROMIUM);
    run_counted(&mut command, "node --test tests/e2e/", counts)?;
    // `cargo xtask bench` with tiny files, so the bench keeps working (the full run is not a test).
    crate::bench_upload::smoke(&bin)?;
    counts.passed += 1;
    // The phone bench's kernels agree between node and JavaScriptCore without a JIT.
    crate::bench_phone::smoke()?;
    counts.passed += 1;
    Ok(None)
}

/// Runs a test runner, echoing its stdout and adding up the counts in its summary lines.
pub(crate) fn run_counted(command: &mut Command, what: &str, counts: &mut Counts) -> Result<()> {
    let status = run_tee(command, |line| count_line(line, counts)).map_err(|e| format!("{what}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

/// Recognizes the summary lines of cargo test / wasm-bindgen-test (`test result: ok. 5 passed;
/// 0 failed; …`), pytest -q (`1 failed, 2 passed in 0.31s`) and node --test (`ℹ pass 5`).
fn count_line(line: &str, counts: &mut Counts) {
    let line = line.trim();
    if let Some(rest) = line.strip_prefix("test result: ") {
        counts.passed += number_before(rest, " passed").unwrap_or(0);
        counts.failed += number_before(rest, " failed").unwrap_or(0);
        counts.seen = true;
    } else if let Some(n) = line.strip_prefix("ℹ pass ").or_else(|| line.strip_prefix("# pass ")) {
        counts.passed += n.trim().parse().unwrap_or(0);
        counts.seen = true;
    } else if let Some(n) = line.strip_prefix("ℹ fail ").or_else(|| line.strip_prefix("# fail ")) {
        counts.failed += n.trim().parse().unwrap_or(0);
        counts.seen = true;
    } else if is_pytest_summary(line) {
        let line = line.trim_matches('=').trim();
        counts.passed += number_before(line, " passed").unwrap_or(0);
        counts.failed += number_before(line, " failed").unwrap_or(0) + number_before(line, " error").unwrap_or(0);
        counts.seen = true;
    }
}

fn is_pytest_summary(line: &str) -> bool {
    let line = line.trim_matches('=').trim();
    let words = ["passed", "failed", "error", "no tests ran"];
    line.contains(" in ")
        && line.ends_with('s')
        && words.iter().any(|w| line.contains(w))
        && line.chars().next().is_some_and(|c| c.is_ascii_digit() || c == 'n')
}

/// The number just before `word` in `text` (`"3 passed"` → 3).
fn number_before(text: &str, word: &str) -> Option<u64> {
    let head = &text[..text.find(word)?];
    let digits: String = head.chars().rev().take_while(|c| c.is_ascii_digit()).collect();
    digits.chars().rev().collect::<String>().parse().ok()
}

/// Names of the files directly in `dir` accepted by `keep`, sorted.
fn files_in(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.path().is_file())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| keep(n))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn has_files_recursive(dir: &Path, keep: &dyn Fn(&str) -> bool) -> bool {
    let Ok(entries) = fs::read_dir(dir) else { return false };
    entries.flatten().any(|e| {
        let path = e.path();
        if path.is_dir() {
            e.file_name() != "node_modules" && has_files_recursive(&path, keep)
        } else {
            e.file_name().to_str().is_some_and(keep)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_modules_are_read_from_the_attributes() {
        let text = "#[wasm_bindgen(module = \"/src/a.js\")]\nextern \"C\" {}\n#[wasm_bindgen(js_namespace = x, module = \"/src/b.js\")]\n";
        assert_eq!(snippet_modules(text), ["/src/a.js", "/src/b.js"]);
        assert!(snippet_modules("#[wasm_bindgen(js_name = module)]").is_empty());
    }

    #[test]
    fn the_crate_stays_within_the_snippet_file_limit() {
        check_snippet_modules().unwrap();
    }

    fn counted(lines: &[&str]) -> (u64, u64) {
        let mut counts = Counts::default();
        for line in lines {
            count_line(line, &mut counts);
        }
        (counts.passed, counts.failed)
    }

    #[test]
    fn counts_cargo_test_results() {
        let lines = [
            "test result: ok. 5 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s",
            "test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out",
        ];
        assert_eq!(counted(&lines), (7, 1));
    }

    #[test]
    fn counts_pytest_and_node() {
        assert_eq!(counted(&["1 failed, 12 passed in 3.21s"]), (12, 1));
        assert_eq!(counted(&["==== 4 passed in 0.50s ===="]), (4, 0));
        assert_eq!(counted(&["ℹ tests 3", "ℹ pass 2", "ℹ fail 1"]), (2, 1));
        assert_eq!(counted(&["test passed in module"]), (0, 0));
    }
}
