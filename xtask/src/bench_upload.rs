//! Benchmark `speed`: issue 10's report — uploads, hashing, CRC-64, main-thread long tasks,
//! memory, time to the first byte and package size, smh-upload against its peers, ONE run: one
//! devserver, the same bytes, one Chromium started directly and one driven by Playwright.
//!
//! The page (`bench/upload/bench.js`) writes its files to the Origin Private File System (so
//! they are read from disk like a user's file), measures, and prints one `BENCH {json}` console
//! line per result. Chromium started directly (no DevTools protocol) passes them on through
//! `--enable-logging=stderr`; under Playwright, `bench/upload/playwright.mjs` prints them on
//! stdout. [`report`] turns the lines into Markdown tables — every row ours, the peer's and
//! the ratio — and [`svg_chart`] into a bar chart of the ratios.
//!
//! With `--baseline REV` ([`crate::bench_baseline`]) the page also loads that commit's package
//! and alternates the two, round by round, in the SmhClient and CosUploader uploads, the
//! quick-upload hash, the CRC-64 kernel and the memory rows; [`ab_table`] puts them side by side,
//! and the size row gets the baseline's entries.
//!
//! [`smoke`] runs the same machinery with tiny files inside `cargo xtask test` (e2e stage), so
//! the bench cannot rot; the full run is `cargo xtask bench` only. The smoke's baseline is our
//! own package ([`Baseline::ours_as_stand_in`]): building another commit would cost a second
//! full wasm build.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::bench::{Options, Selection};
use crate::bench_baseline::{self, Baseline};
use crate::util::{self, cargo, cmd, root, run_cmd, target_dir, Result};
use smh_devserver_launch::Devserver;

const MIB: u64 = 1024 * 1024;

/// What the page's instruments need beyond the browser tests' flags ([`crate::test::CHROMIUM_ARGS`]:
/// no GPU, no QUIC, no sandbox): headless, precise `performance.memory`, `gc()` before each
/// baseline, and Chromium's log on stderr.
const BENCH_CHROMIUM_FLAGS: &[&str] =
    &["--headless", "--enable-precise-memory-info", "--js-flags=--expose-gc", "--enable-logging=stderr", "--v=0"];

/// How big one run is.
struct Scale {
    /// Upload file sizes (the last one is the first-byte row's file).
    sizes: [u64; 2],
    /// The memory row: a small and a large file (memory must not grow with the size).
    mem_sizes: [u64; 2],
    /// Bytes hashed by the CRC-64 and quick-upload-hash rows.
    crypto: u64,
    /// Upper bound of each browser's run.
    timeout: Duration,
    /// Rounds of each "ours vs baseline" row (even, so each package goes first equally often).
    ab_rounds: u32,
}

const FULL: Scale = Scale {
    sizes: [256 * MIB, 1024 * MIB],
    mem_sizes: [256 * MIB, 2048 * MIB],
    crypto: 256 * MIB,
    timeout: Duration::from_secs(2400),
    ab_rounds: 4,
};
const SMOKE: Scale = Scale {
    sizes: [9 * MIB, 17 * MIB],
    mem_sizes: [9 * MIB, 33 * MIB],
    crypto: 9 * MIB,
    timeout: Duration::from_secs(240),
    ab_rounds: 2,
};

/// `cargo xtask bench`: the full-size run of the selected sections; returns the report's
/// Markdown (the SVG chart is written to `dir`, next to the report).
pub fn run(options: &Options, dir: &Path) -> Result<String> {
    let selection = &options.selection;
    run_cmd(cargo().args(["build", "--release", "-p", "smh-devserver"]), "cargo build --release -p smh-devserver")?;
    let baseline = options.baseline.as_deref().map(bench_baseline::prepare).transpose()?;
    crate::bench::package()?;
    let baseline = baseline.as_ref();
    let lines = measure(&FULL, selection, baseline, &target_dir().join("release/smh-devserver"), dir)?;
    let (markdown, svg) = report(&FULL, selection, baseline, &lines)?;
    let chart = dir.join("speed.svg");
    fs::write(&chart, svg).map_err(|e| format!("write {}: {e}", chart.display()))?;
    Ok(format!("{markdown}\nChart of the ratios: `target/bench/speed.svg`.\n"))
}

/// The bench with tiny files, for `cargo xtask test`: the page must run every section in both
/// browsers, the Worker must be used, every "ours vs baseline" row must be measured for both
/// (our own package standing in for the baseline), and the report must build. Prints a
/// `test result:` line.
pub fn smoke(devserver: &Path) -> Result<()> {
    smoke_sections(devserver, &Selection::all(), Some(&Baseline::ours_as_stand_in()))
}

/// [`smoke`] of the selected sections (`SMH_BENCH_SCALE=smoke cargo xtask bench [--only …]
/// [--baseline REV]`).
pub fn smoke_sections(devserver: &Path, selection: &Selection, baseline: Option<&Baseline>) -> Result<()> {
    let dir = target_dir().join("bench-smoke");
    let started = Instant::now();
    let outcome = measure(&SMOKE, selection, baseline, devserver, &dir).and_then(|lines| {
        let (mut markdown, svg) = report(&SMOKE, selection, baseline, &lines)?;
        if let Some(l) = lines.iter().find(|l| l.contains_key("failed")) {
            return Err(format!("a bench row failed: {l:?}"));
        }
        if baseline.is_some() {
            let missing = ab_missing(&SMOKE, selection, &lines);
            if !missing.is_empty() {
                return Err(format!("ours vs baseline: rows not measured: {}", missing.join("; ")));
            }
        }
        let hashes =
            selection.has("upload") || selection.has("hash") || selection.has("memory") || selection.has("sweep");
        if hashes
            && !lines.iter().any(|l| {
                l.get("kind").map(String::as_str) == Some("worker")
                    && l.get("loaded").map(String::as_str) == Some("true")
            })
        {
            return Err("the upload Worker's script was never loaded: uploads hashed on the main thread".into());
        }
        // The baseline uploads in the upload, hash and memory rows.
        let baseline_uploads = selection.has("upload") || selection.has("hash") || selection.has("memory");
        if baseline.is_some()
            && baseline_uploads
            && !lines.iter().any(|l| l.get("baselineLoaded").map(String::as_str) == Some("true"))
        {
            return Err("the baseline's upload Worker was never loaded: its uploads hashed on the main thread".into());
        }
        if selection.has("startup") {
            markdown.push_str(&crate::bench_startup::smoke(devserver, &dir)?);
        }
        fs::write(dir.join("report.md"), &markdown).map_err(|e| format!("write report: {e}"))?;
        fs::write(dir.join("speed.svg"), svg).map_err(|e| format!("write chart: {e}"))?;
        Ok(())
    });
    match &outcome {
        Ok(()) => println!(
            "bench smoke: report in {} ({})\ntest result: ok. 1 passed; 0 failed",
            dir.join("report.md").display(),
            util::secs(started.elapsed())
        ),
        Err(e) => println!("bench smoke: {e}\ntest result: FAILED. 0 passed; 1 failed"),
    }
    outcome
}

/// One parsed `BENCH` line: its flat JSON fields as text, plus `browser`.
pub(crate) type Line = BTreeMap<String, String>;

/// The page's sections (`size` is measured here, from the package files).
const PAGE_SECTIONS: &[&str] = &["upload", "hash", "crc", "memory", "sweep"];

/// Starts the devserver, runs the page's selected sections (Chromium direct, with the baseline's
/// package beside ours when there is one; the upload section also under Playwright, ours only),
/// returns every result line.
fn measure(
    scale: &Scale,
    selection: &Selection,
    baseline: Option<&Baseline>,
    devserver: &Path,
    dir: &Path,
) -> Result<Vec<Line>> {
    let sections: Vec<&str> = PAGE_SECTIONS.iter().copied().filter(|s| selection.has(s)).collect();
    if sections.is_empty() {
        return Ok(Vec::new());
    }
    let www = dir.join("upload-www");
    let _ = fs::remove_dir_all(&www);
    fs::create_dir_all(&www).map_err(|e| format!("create {}: {e}", www.display()))?;
    for (from, to) in [
        (root().join("bench/upload/index.html"), "index.html"),
        (root().join("bench/upload/bench.js"), "bench.js"),
        (root().join("node_modules/cos-js-sdk-v5/dist/cos-js-sdk-v5.min.js"), "cos-js-sdk-v5.min.js"),
        (root().join("node_modules/hash-wasm/dist/index.esm.js"), "hash-wasm.esm.js"),
    ] {
        fs::copy(&from, www.join(to)).map_err(|e| format!("copy {}: {e} (run `cargo xtask setup`)", from.display()))?;
    }
    // A private copy of the package: pkg/ is rebuilt by other work while a long bench runs, and a
    // request landing mid-rebuild would get a 404 (the Worker script, say) and skew the run.
    let pkg = dir.join("pkg");
    let _ = fs::remove_dir_all(&pkg);
    copy_dir(&root().join("pkg"), &pkg)?;
    if let Some(baseline) = baseline {
        copy_dir(&baseline.pkg, &pkg.join("baseline"))?;
    }
    let args: Vec<std::ffi::OsString> = vec!["--www".into(), www.into(), "--pkg".into(), pkg.into()];
    let server = Devserver::start(devserver, &args)?;
    let field = |name: &str| server.field(name).unwrap_or_default();
    let join = |v: &[u64]| v.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
    let mut url = format!(
        "{}/?sizes={}&memSizes={}&cryptoSize={}",
        field("app"),
        join(&scale.sizes),
        join(&scale.mem_sizes),
        scale.crypto
    );
    for name in ["smh", "cos", "libraryId", "spaceId", "secretId", "secretKey", "bucket", "region"] {
        url.push_str(&format!("&{name}={}", encode(&field(name))));
    }

    let mut direct = format!("{url}&sections={}", sections.join(","));
    if baseline.is_some() {
        direct.push_str(&format!("&baseline=1&abRounds={}", scale.ab_rounds));
    }
    let mut lines = run_direct(&direct, dir, scale.timeout)?;
    if selection.has("upload") {
        lines.extend(run_playwright(&format!("{url}&sections=upload"), scale.timeout)?);
    }
    drop(server);
    Ok(lines)
}

/// Copies the directory `from` to `to`, recursively.
pub(crate) fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).map_err(|e| format!("create {}: {e}", to.display()))?;
    for entry in
        fs::read_dir(from).map_err(|e| format!("read {}: {e} (run `cargo xtask pkg`)", from.display()))?.flatten()
    {
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        if source.is_dir() {
            copy_dir(&source, &target)?;
        } else {
            fs::copy(&source, &target).map_err(|e| format!("copy {}: {e}", source.display()))?;
        }
    }
    Ok(())
}

/// Chromium started directly; lines come from its stderr log.
pub(crate) fn run_direct(url: &str, dir: &Path, timeout: Duration) -> Result<Vec<Line>> {
    let profile = dir.join("chromium-profile");
    let _ = fs::remove_dir_all(&profile);
    let mut command = Command::new("/usr/bin/chromium");
    command
        .args(BENCH_CHROMIUM_FLAGS)
        .args(crate::test::CHROMIUM_ARGS)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url);
    command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    smh_devserver_launch::die_with_parent(&mut command);
    let mut chromium = command.spawn().map_err(|e| format!("start chromium: {e} (run `cargo xtask setup`)"))?;
    let stderr = chromium.stderr.take().ok_or("no stderr pipe")?;
    let lines = collect("direct", stderr, timeout, |line| {
        // Chromium quotes the message: `"BENCH {...}", source: …`.
        let json = &line[line.find("BENCH {")? + 6..];
        let json = json.rsplit_once("\", source:").map_or(json, |(j, _)| j);
        Some(json.replace("\\\"", "\""))
    });
    let _ = chromium.kill();
    let _ = chromium.wait();
    let _ = fs::remove_dir_all(&profile); // the OPFS files (GiBs)
    lines
}

/// Chromium driven by Playwright (`bench/upload/playwright.mjs`); lines come on stdout.
fn run_playwright(url: &str, timeout: Duration) -> Result<Vec<Line>> {
    let mut command = cmd("node");
    command.arg(root().join("bench/upload/playwright.mjs")).arg(url).arg(timeout.as_millis().to_string());
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit());
    smh_devserver_launch::die_with_parent(&mut command);
    let mut node = command.spawn().map_err(|e| format!("start node: {e}"))?;
    let stdout = node.stdout.take().ok_or("no stdout pipe")?;
    let lines = collect("playwright", stdout, timeout + Duration::from_secs(30), |line| {
        line.strip_prefix("BENCH ").map(str::to_string)
    });
    let _ = node.kill();
    let _ = node.wait();
    lines
}

/// Reads result lines from `from` until `done`, an error or `timeout`.
pub(crate) fn collect(
    browser: &str,
    from: impl Read + Send + 'static,
    timeout: Duration,
    pick: fn(&str) -> Option<String>,
) -> Result<Vec<Line>> {
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines().map_while(|l| l.ok()) {
            if let Some(json) = pick(&line) {
                let _ = tx.send(json);
            }
        }
    });
    let deadline = Instant::now() + timeout;
    let mut lines = Vec::new();
    loop {
        let json = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .map_err(|_| format!("{browser}: no result within {} s", timeout.as_secs()))?;
        let mut line = parse_flat_json(&json).ok_or_else(|| format!("{browser}: unreadable line {json}"))?;
        if let Some(error) = line.get("error") {
            return Err(format!("{browser}: the page failed: {error}"));
        }
        if line.contains_key("done") {
            return Ok(lines);
        }
        println!("bench: {browser}: {json}");
        line.insert("browser".into(), browser.into());
        lines.push(line);
    }
}

/// Parses a flat JSON object (string, number, boolean and null values) into text fields.
pub(crate) fn parse_flat_json(json: &str) -> Option<Line> {
    let body = json.trim().strip_prefix('{')?.strip_suffix('}')?;
    let mut fields = Line::new();
    let mut rest = body.trim();
    while !rest.is_empty() {
        let after_key = rest.strip_prefix('"')?;
        let end = after_key.find('"')?;
        let key = after_key[..end].to_string();
        rest = after_key[end + 1..].trim_start().strip_prefix(':')?.trim_start();
        let (value, tail) = if let Some(text) = rest.strip_prefix('"') {
            let mut end = 0;
            let bytes = text.as_bytes();
            while end < bytes.len() && !(bytes[end] == b'"' && (end == 0 || bytes[end - 1] != b'\\')) {
                end += 1;
            }
            (text.get(..end)?.replace("\\\"", "\""), text.get(end + 1..)?)
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            (rest[..end].trim().to_string(), &rest[end..])
        };
        fields.insert(key, value);
        rest = tail.trim_start().strip_prefix(',').unwrap_or(tail).trim_start();
    }
    Some(fields)
}

/// A ratio "ours / peer" as text (higher is better when `higher_better`).
pub(crate) fn ratio(ours: f64, peer: f64) -> String {
    if ours.is_finite() && peer.is_finite() && peer > 0.0 {
        format!("{:.2}×", ours / peer)
    } else {
        "–".into()
    }
}

fn mb_s(bytes: f64, seconds: f64) -> f64 {
    bytes / 1e6 / seconds
}

fn human(bytes: u64) -> String {
    if bytes >= 1024 * MIB {
        format!("{} GiB", bytes / (1024 * MIB))
    } else {
        format!("{} MiB", bytes / MIB)
    }
}

/// The report's Markdown and an SVG chart of its ratios.
fn report(
    scale: &Scale,
    selection: &Selection,
    baseline: Option<&Baseline>,
    lines: &[Line],
) -> Result<(String, String)> {
    let num = |l: &Line, k: &str| l.get(k).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
    let find = |kind: &str, pred: &dyn Fn(&Line) -> bool| {
        lines.iter().find(|l| l.get("kind").map(String::as_str) == Some(kind) && pred(l))
    };
    let mut md = String::new();
    let mut chart: Vec<(String, f64, f64)> = Vec::new(); // (row, ratio, target)

    if selection.has("upload") {
        md.push_str("### Upload rate (MB/s; disk-backed file, one devserver on loopback)\n\n");
        md.push_str("| file | Chromium | smh-upload defaults | cos-js-sdk-v5 defaults | ours / peer | cos-js-sdk-v5 at 8 MiB × 6 | ours / peer | raw `fetch` PUTs 8 MiB × 6 (ceiling) | ours / ceiling |\n");
        md.push_str("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        let mut tasks = String::from("### Main thread: long tasks (> 50 ms) during each upload\n\n| file | Chromium | smh-upload: count (longest ms) | cos-js-sdk-v5 defaults: count (longest ms) | raw fetch: count |\n| --- | --- | ---: | ---: | ---: |\n");
        for browser in ["direct", "playwright"] {
            for &size in &scale.sizes {
                let row = |client: &str, config: &str| {
                    find("upload", &|l: &Line| {
                        l.get("browser").map(String::as_str) == Some(browser)
                            && num(l, "bytes") == size as f64
                            && l.get("client").map(String::as_str) == Some(client)
                            && l.get("config").map(String::as_str) == Some(config)
                    })
                };
                let rate = |l: Option<&Line>| l.map_or(f64::NAN, |l| mb_s(num(l, "bytes"), num(l, "seconds")));
                let (ours, cos, cos_at, raw) = (
                    row("smh-upload", "defaults"),
                    row("cos-js-sdk-v5", "defaults"),
                    row("cos-js-sdk-v5", "at ours"),
                    row("raw fetch", "at ours"),
                );
                let (o, c, ca, r) = (rate(ours), rate(cos), rate(cos_at), rate(raw));
                md.push_str(&format!(
                    "| {} | {browser} | {o:.1} | {c:.1} | {} | {ca:.1} | {} | {r:.1} | {} |\n",
                    human(size),
                    ratio(o, c),
                    ratio(o, ca),
                    ratio(o, r)
                ));
                chart.push((format!("upload {} {browser}: vs cos-js-sdk-v5 defaults", human(size)), o / c, 2.0));
                chart.push((format!("upload {} {browser}: vs raw fetch ceiling", human(size)), o / r, 0.9));
                let count = |l: Option<&Line>| {
                    l.map_or("–".to_string(), |l| format!("{} ({})", num(l, "longTasks"), num(l, "longest")))
                };
                tasks.push_str(&format!(
                    "| {} | {browser} | {} | {} | {} |\n",
                    human(size),
                    count(ours),
                    count(cos),
                    raw.map_or("–".into(), |l| num(l, "longTasks").to_string())
                ));
            }
        }
        md.push_str(
            "\nours / peer > 1: smh-upload is faster. Targets: ≥ 2× cos-js-sdk-v5 defaults, ≥ 0.9× the ceiling.\n\n",
        );
        md.push_str(&parts_phase(scale, lines));
        md.push_str(&tasks);
        md.push_str("\nTarget: 0 for smh-upload.\n\n");

        let big = scale.sizes[1];
        let first = |client: &str| {
            find("upload", &|l: &Line| {
                l.get("browser").map(String::as_str) == Some("direct")
                    && num(l, "bytes") == big as f64
                    && l.get("client").map(String::as_str) == Some(client)
                    && l.get("config").map(String::as_str) == Some("defaults")
            })
            .map_or(f64::NAN, |l| num(l, "firstPutMs"))
        };
        let (fo, fc) = (first("smh-upload"), first("cos-js-sdk-v5"));
        md.push_str(&format!("### Time from `upload()` to the first part PUT ({} file, quick upload off, Chromium direct)\n\n| smh-upload ms | cos-js-sdk-v5 ms | ours / peer (lower is better) |\n| ---: | ---: | ---: |\n| {fo:.0} | {fc:.0} | {} |\n\nTarget: ≤ 50 ms. Measured as the `startTime` of the first request to the COS origin (Resource Timing) after the call.\n\n", human(big), ratio(fo, fc)));
        chart.push(("first part PUT: cos-js-sdk-v5 time / ours".into(), fc / fo, 1.0));
    }

    if let Some(h) = find("hash", &|_| true) {
        let bytes = num(h, "bytes");
        let (whole, o, w, s) = (
            mb_s(bytes, num(h, "ours")),
            mb_s(bytes, num(h, "oursHashing")),
            mb_s(bytes, num(h, "hashWasm")),
            mb_s(bytes, num(h, "webCrypto")),
        );
        md.push_str(&format!(
            "### Quick-upload full hash (chained SHA-256 per 1 MiB, {} disk-backed file, Chromium direct)\n\n",
            human(bytes as u64)
        ));
        md.push_str("| smh-upload hashing MB/s (call → the begin carrying the full hash) | whole quick upload that hits MB/s | hash-wasm sha256 MB/s (main thread) | ours / hash-wasm | bare WebCrypto loop MB/s (main thread) | ours / WebCrypto | long tasks: ours / hash-wasm / WebCrypto |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        md.push_str(&format!("| {o:.0} | {whole:.0} | {w:.0} | {} | {s:.0} | {} | {} / {} / {} |\n\nTarget: ≥ 1.0× the best bare loop, 0 long tasks. Ours hashes the beginning (1 MiB) and asks SMH once before the full hash; the whole quick upload adds the server creating the file, where the devserver copies the stored object (real SMH need not).\n\n", ratio(o, w), ratio(o, s), num(h, "oursLongTasks"), num(h, "hashWasmLongTasks"), num(h, "webCryptoLongTasks")));
        chart.push(("full hash: vs best bare loop".into(), o / w.max(s), 1.0));
    }
    if let Some(c) = find("crc", &|_| true) {
        let bytes = num(c, "bytes");
        let (o, p) = (mb_s(bytes, num(c, "ours")), mb_s(bytes, num(c, "peer")));
        md.push_str(&format!("### CRC-64 (same {} in memory, same page, best of 3)\n\n| smh-upload wasm kernel MB/s | hash-wasm crc64 MB/s | ours / peer |\n| ---: | ---: | ---: |\n| {o:.0} | {p:.0} | {} |\n\nTarget: ≥ 1.0×.\n\n", human(bytes as u64), ratio(o, p)));
        chart.push(("CRC-64: vs hash-wasm".into(), o / p, 1.0));
    }
    let mem = |size: u64| {
        find("memory", &|l: &Line| {
            num(l, "bytes") == size as f64 && l.get("impl").map(String::as_str) != Some("baseline")
        })
    };
    if let (Some(small), Some(large)) = (mem(scale.mem_sizes[0]), mem(scale.mem_sizes[1])) {
        // `performance.memory` moves in coarse steps: the heap is shown at its peak, absolute.
        let total = |l: &Line| num(l, "heapBase") + num(l, "heapGrowth") + num(l, "wasmBytes");
        let mib = |v: f64| v / MIB as f64;
        md.push_str("### Memory of the page while uploading with defaults (JS heap at its peak + wasm linear memory; the upload Worker adds at most two 4 MiB reads per part in flight)\n\n| file | JS heap MiB (growth during the upload) | wasm memory MiB | total MiB |\n| --- | ---: | ---: | ---: |\n");
        for (size, l) in [(scale.mem_sizes[0], small), (scale.mem_sizes[1], large)] {
            md.push_str(&format!(
                "| {} | {:.1} (+{:.1}) | {:.1} | {:.1} |\n",
                human(size),
                mib(num(l, "heapBase") + num(l, "heapGrowth")),
                mib(num(l, "heapGrowth")),
                mib(num(l, "wasmBytes")),
                mib(total(l))
            ));
        }
        md.push_str(&format!(
            "\n{} / {}: {} (flat = 1.00×). Target: flat, ≤ concurrency × partSize + 32 MiB = 80 MiB.\n\n",
            human(scale.mem_sizes[1]),
            human(scale.mem_sizes[0]),
            ratio(total(large), total(small))
        ));
        chart.push(("memory: small file / large file".into(), total(small) / total(large), 1.0));
    }

    let sweep: Vec<&Line> = lines.iter().filter(|l| l.get("kind").map(String::as_str) == Some("sweep")).collect();
    if !sweep.is_empty() {
        let rate = |l: &Line| mb_s(num(l, "bytes"), num(l, "seconds"));
        let ceiling = sweep
            .iter()
            .filter(|l| l.get("client").map(String::as_str) == Some("raw fetch"))
            .map(|l| rate(l))
            .fold(f64::NAN, f64::max);
        md.push_str(&format!(
            "### Part size × concurrency ({} file, Chromium direct): what the defaults are chosen from

| client | part size | in flight | MB/s | / best raw fetch | sending the parts MB/s |
| --- | ---: | ---: | ---: | ---: | ---: |
",
            human(scale.sizes[0])
        ));
        for l in sweep {
            let parts = mb_s(num(l, "bytes"), num(l, "partsSeconds"));
            md.push_str(&format!(
                "| {} | {} MiB | {} | {:.1} | {} | {parts:.1} |
",
                l.get("client").map_or("", String::as_str),
                num(l, "partMiB"),
                num(l, "concurrency"),
                rate(l),
                ratio(rate(l), ceiling)
            ));
        }
        md.push('\n');
    }

    if let Some(baseline) = baseline {
        md.push_str(&ab_table(scale, selection, &baseline.label, lines));
    }

    let failed: Vec<String> = lines
        .iter()
        .filter_map(|l| {
            l.get("failed").map(|why| {
                let field = |k: &str| l.get(k).map_or("", String::as_str);
                let what = ["kind", "client", "row", "config", "impl"].map(field).join(" ");
                format!("- {} ({}): {why}\n", what.split_whitespace().collect::<Vec<_>>().join(" "), field("browser"))
            })
        })
        .collect();
    if !failed.is_empty() {
        md.push_str("### Rows that failed (shown as NaN / – above)\n\n");
        md.extend(failed);
        md.push('\n');
    }

    if selection.has("size") {
        // What a page loads from each browser entry, as the size budget counts it.
        let peer_gz = gzip_size(&root().join("node_modules/cos-js-sdk-v5/dist/cos-js-sdk-v5.min.js"))?;
        md.push_str("### Size (gzip -9)\n\n| smh-upload entry (wasm + JS glue + Worker) | KB | cos-js-sdk-v5.min.js KB | ours / peer (lower is better) |");
        if let Some(baseline) = baseline {
            md.push_str(&format!(" baseline `{}` KB | ours / baseline (lower is better) |", baseline.label));
        }
        md.push_str(if baseline.is_some() {
            "\n| --- | ---: | ---: | ---: | ---: | ---: |\n"
        } else {
            "\n| --- | ---: | ---: | ---: |\n"
        });
        let entry_gz = |pkg: &Path, stem: &str| -> Result<u64> {
            crate::size::loaded_files(pkg, stem)?.iter().map(|p| gzip_size(p)).sum()
        };
        for entry in crate::pkg::ENTRIES {
            let ours_gz = entry_gz(&root().join("pkg"), entry.stem)?;
            md.push_str(&format!(
                "| `{}` | {:.1} | {:.1} | {} |",
                entry.specifier,
                ours_gz as f64 / 1000.0,
                peer_gz as f64 / 1000.0,
                ratio(ours_gz as f64, peer_gz as f64)
            ));
            if let Some(baseline) = baseline {
                // An entry the baseline does not have is shown as missing, not as an error.
                let theirs = entry_gz(&baseline.pkg, entry.stem).map_or(f64::NAN, |b| b as f64);
                md.push_str(&format!(" {:.1} | {} |", theirs / 1000.0, ratio(ours_gz as f64, theirs)));
            }
            md.push('\n');
            chart.push((
                format!("size {}: cos-js-sdk-v5 / ours", entry.specifier),
                peer_gz as f64 / ours_gz as f64,
                1.0,
            ));
        }
        // The mini-program's wasm ships brotli-compressed in the code package (its size counts
        // against WeChat's package limit as is): its own file size, no gzip.
        let mp_wasm = |pkg: &Path| fs::metadata(pkg.join("miniprogram/smh_upload_bg.wasm.br")).map(|m| m.len() as f64);
        let mp = mp_wasm(&root().join("pkg")).map_err(|e| format!("pkg/miniprogram/smh_upload_bg.wasm.br: {e}"))?;
        md.push_str(&format!(
            "| mini-program `smh_upload_bg.wasm.br` (brotli, as packed) | {:.1} | – | – |",
            mp / 1000.0
        ));
        if let Some(baseline) = baseline {
            let theirs = mp_wasm(&baseline.pkg).unwrap_or(f64::NAN);
            md.push_str(&format!(" {:.1} | {} |", theirs / 1000.0, ratio(mp, theirs)));
        }
        md.push_str("\n\nTargets: ≤ 64 KB for `smh-upload/smh` and `smh-upload/cos`, ≤ 80 KB for `smh-upload` (both classes).\n");
    }
    Ok((md, svg_chart(&chart)))
}

/// One side of an A/B row: the median of its rounds and their range.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spread {
    pub median: f64,
    min: f64,
    max: f64,
    rounds: usize,
}

impl Spread {
    /// The finite values' median and range; `None` when there is none.
    pub fn of(mut values: Vec<f64>) -> Option<Spread> {
        values.retain(|v| v.is_finite());
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let median = match n {
            0 => return None,
            _ if n % 2 == 1 => values[n / 2],
            _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
        };
        Some(Spread { median, min: values[0], max: values[n - 1], rounds: n })
    }

    pub fn cell(spread: Option<Spread>) -> String {
        match spread {
            Some(s) if s.rounds > 1 => format!("{:.1} [{:.1}–{:.1}]", s.median, s.min, s.max),
            Some(s) => format!("{:.1}", s.median),
            None => "–".into(),
        }
    }
}

/// Whether ours differs from the baseline beyond this run's noise: "within noise" when the two
/// ranges of rounds overlap, else which side is better.
fn verdict(ours: Option<Spread>, theirs: Option<Spread>, higher_is_better: bool) -> &'static str {
    match (ours, theirs) {
        (Some(o), Some(t)) if o.rounds > 1 && t.rounds > 1 => {
            if o.min <= t.max && t.min <= o.max {
                "within noise"
            } else if (o.median > t.median) == higher_is_better {
                "ours better"
            } else {
                "ours worse"
            }
        }
        (Some(_), Some(_)) => "one sample each",
        _ => "–",
    }
}

/// A numeric field of a line (NaN when absent or not a number).
fn field_f64(l: &Line, k: &str) -> f64 {
    l.get(k).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN)
}

/// One A/B row of the table: the page's `row` of `kind: 'ab'` lines, how the table names it,
/// the value of one round, and whether higher is better.
struct AbRow {
    row: &'static str,
    label: &'static str,
    value: fn(&Line) -> f64,
    higher_is_better: bool,
}

fn total_rate(l: &Line) -> f64 {
    mb_s(field_f64(l, "bytes"), field_f64(l, "seconds"))
}

fn parts_rate(l: &Line) -> f64 {
    mb_s(field_f64(l, "bytes"), field_f64(l, "partsSeconds"))
}

fn long_tasks(l: &Line) -> f64 {
    field_f64(l, "longTasks")
}

const fn ab(row: &'static str, label: &'static str, value: fn(&Line) -> f64, higher_is_better: bool) -> AbRow {
    AbRow { row, label, value, higher_is_better }
}

/// The upload section's A/B rows.
const UPLOAD_AB_ROWS: &[AbRow] = &[
    ab("SmhClient upload", "SmhClient MB/s (the call → done)", total_rate, true),
    ab("SmhClient upload", "SmhClient MB/s sending the parts", parts_rate, true),
    ab("SmhClient upload", "SmhClient long tasks > 50 ms", long_tasks, false),
    ab("CosUploader upload", "CosUploader MB/s (the call → done)", total_rate, true),
    ab("CosUploader upload", "CosUploader MB/s sending the parts", parts_rate, true),
    ab("CosUploader upload", "CosUploader long tasks > 50 ms", long_tasks, false),
];

fn hashing_rate(l: &Line) -> f64 {
    mb_s(field_f64(l, "bytes"), field_f64(l, "hashingSeconds"))
}

/// The hash and crc sections' A/B rows.
const HASH_AB_ROW: AbRow =
    ab("hash", "quick-upload hashing MB/s (the call → the begin with the full hash)", hashing_rate, true);
const CRC_AB_ROW: AbRow = ab("crc", "CRC-64 kernel MB/s (in memory)", total_rate, true);

/// The selected sections' A/B rows (memory is apart: one upload per side, from `memory` lines).
fn ab_rows(selection: &Selection) -> Vec<&'static AbRow> {
    let mut rows: Vec<&AbRow> = Vec::new();
    if selection.has("upload") {
        rows.extend(UPLOAD_AB_ROWS);
    }
    if selection.has("hash") {
        rows.push(&HASH_AB_ROW);
    }
    if selection.has("crc") {
        rows.push(&CRC_AB_ROW);
    }
    rows
}

/// "ours vs baseline": each A/B row's median over its rounds on both sides, the range, the
/// ratio and whether the difference is beyond this run's noise.
fn ab_table(scale: &Scale, selection: &Selection, baseline: &str, lines: &[Line]) -> String {
    let num = field_f64;
    let field = |l: &Line, k: &str| l.get(k).cloned().unwrap_or_default();
    let mut md = format!(
        "### ours vs baseline `{baseline}` (one page, one devserver, the same files; the two packages alternate, the order flipped every round)\n\n\
         | row | file | ours: median [min–max] | baseline: median [min–max] | ours / baseline | |\n| --- | --- | ---: | ---: | ---: | --- |\n"
    );
    for &AbRow { row, label, value, higher_is_better: higher } in ab_rows(selection) {
        let sizes: Vec<u64> = match row {
            "hash" | "crc" => vec![scale.crypto],
            _ => scale.sizes.to_vec(),
        };
        for size in sizes {
            let side = |impl_: &str| {
                Spread::of(
                    lines
                        .iter()
                        .filter(|l| {
                            field(l, "kind") == "ab"
                                && field(l, "row") == row
                                && field(l, "impl") == impl_
                                && num(l, "bytes") == size as f64
                        })
                        .map(value)
                        .collect(),
                )
            };
            let (ours, theirs) = (side("ours"), side("baseline"));
            // A count of long tasks has no useful ratio (mostly 0 / 0).
            let shown_ratio = match (higher, ours, theirs) {
                (true, Some(o), Some(t)) => ratio(o.median, t.median),
                _ => "–".into(),
            };
            md.push_str(&format!(
                "| {label} | {} | {} | {} | {shown_ratio} | {} |\n",
                human(size),
                Spread::cell(ours),
                Spread::cell(theirs),
                verdict(ours, theirs, higher)
            ));
        }
    }
    if selection.has("memory") {
        // What the upload adds: the JS heap's growth and the wasm memory of the package that
        // uploads (the heap the upload starts from is the page's, both packages' alike).
        for &size in &scale.mem_sizes {
            let total = |impl_: &str| {
                Spread::of(
                    lines
                        .iter()
                        .filter(|l| {
                            field(l, "kind") == "memory" && field(l, "impl") == impl_ && num(l, "bytes") == size as f64
                        })
                        .map(|l| (num(l, "heapGrowth") + num(l, "wasmBytes")) / MIB as f64)
                        .collect(),
                )
            };
            let (ours, theirs) = (total("ours"), total("baseline"));
            md.push_str(&format!(
                "| SmhClient memory MiB: JS heap growth at the peak + wasm memory (lower is better) | {} | {} | {} | {} | {} |\n",
                human(size),
                Spread::cell(ours),
                Spread::cell(theirs),
                ratio(ours.map_or(f64::NAN, |s| s.median), theirs.map_or(f64::NAN, |s| s.median)),
                verdict(ours, theirs, false)
            ));
        }
    }
    // Two identical packages give ranges that do not overlap when one side's rounds all come
    // out below the other's: 2 of the C(2n, n) equally likely orders of 2n rounds.
    let n = u64::from(scale.ab_rounds);
    let orders = (1..=n).map(|k| (n + k) as f64 / k as f64).product::<f64>().round() as u64;
    md.push_str(&format!(
        "\n{n} rounds per side and row, after one unmeasured upload of each kind per package. ours / baseline > 1: \
         ours is faster (memory: uses more). \"within noise\": the ranges of the two sides' rounds overlap; two \
         identical packages would still show \"better\" or \"worse\" in about 1 row in {} by chance. Chromium \
         direct only; the sweep and phone sections measure ours alone.\n\n",
        orders / 2
    ));
    md
}

/// The A/B rows [`ab_table`] needs that the page did not measure on both sides (every round).
fn ab_missing(scale: &Scale, selection: &Selection, lines: &[Line]) -> Vec<String> {
    let field = |l: &Line, k: &str| l.get(k).cloned().unwrap_or_default();
    let count = |kind: &str, row: &str, impl_: &str| {
        lines
            .iter()
            .filter(|l| {
                field(l, "kind") == kind && field(l, "impl") == impl_ && (row.is_empty() || field(l, "row") == row)
            })
            .count()
    };
    let mut wanted: Vec<(&str, &str, usize)> = Vec::new();
    let rounds = scale.ab_rounds as usize;
    if selection.has("upload") {
        wanted.push(("ab", "SmhClient upload", rounds * scale.sizes.len()));
        wanted.push(("ab", "CosUploader upload", rounds * scale.sizes.len()));
    }
    if selection.has("hash") {
        wanted.push(("ab", "hash", rounds));
    }
    if selection.has("crc") {
        wanted.push(("ab", "crc", rounds));
    }
    if selection.has("memory") {
        wanted.push(("memory", "", rounds * scale.mem_sizes.len()));
    }
    let mut missing = Vec::new();
    for (kind, row, n) in wanted {
        for impl_ in ["ours", "baseline"] {
            let seen = count(kind, row, impl_);
            if seen != n {
                missing.push(format!("{kind} {row} {impl_}: {seen} of {n}"));
            }
        }
    }
    missing
}

/// The upload rows split in two: sending the parts (the call → the last part's reply, the
/// uploader's own work) and the server's completion after it (SMH's confirm, COS's
/// CompleteMultipartUpload: on the devserver both copy every part into one file and hash it, so
/// at these sizes they take seconds, and the raw loop, which aborts, has none).
fn parts_phase(scale: &Scale, lines: &[Line]) -> String {
    let num = |l: &Line, k: &str| l.get(k).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
    let mut md = String::from(
        "### Sending the parts (MB/s from the call to the last part's reply) and the completion after it (s)\n\n",
    );
    md.push_str("| file | Chromium | smh-upload defaults | cos-js-sdk-v5 defaults | ours / peer | cos-js-sdk-v5 at 8 MiB × 6 | ours / peer | raw `fetch` 8 MiB × 6 | ours / ceiling | completion s: smh-upload (confirm) / cos-js-sdk-v5 (Complete) |\n");
    md.push_str("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for browser in ["direct", "playwright"] {
        for &size in &scale.sizes {
            let row = |client: &str, config: &str| {
                lines.iter().find(|l| {
                    l.get("kind").map(String::as_str) == Some("upload")
                        && l.get("browser").map(String::as_str) == Some(browser)
                        && num(l, "bytes") == size as f64
                        && l.get("client").map(String::as_str) == Some(client)
                        && l.get("config").map(String::as_str) == Some(config)
                })
            };
            let rate = |l: Option<&Line>| l.map_or(f64::NAN, |l| mb_s(num(l, "bytes"), num(l, "partsSeconds")));
            let completion = |l: Option<&Line>| l.map_or(f64::NAN, |l| num(l, "seconds") - num(l, "partsSeconds"));
            let (ours, cos, cos_at, raw) = (
                row("smh-upload", "defaults"),
                row("cos-js-sdk-v5", "defaults"),
                row("cos-js-sdk-v5", "at ours"),
                row("raw fetch", "at ours"),
            );
            let (o, c, ca, r) = (rate(ours), rate(cos), rate(cos_at), rate(raw));
            md.push_str(&format!(
                "| {} | {browser} | {o:.1} | {c:.1} | {} | {ca:.1} | {} | {r:.1} | {} | {:.1} / {:.1} |\n",
                human(size),
                ratio(o, c),
                ratio(o, ca),
                ratio(o, r),
                completion(ours),
                completion(cos)
            ));
        }
    }
    md.push_str("\nThe devserver completes a multipart upload without copying or reading its bytes (the object is its part files; SMH's quick-upload hashes are computed after the confirm), as real COS does, so the totals are the sending plus a short completion.\n\n");
    md
}

/// `path`'s gzip -9 size as the size budget measures it (node's zlib, xtask/src/size.rs), so that
/// the size row and size-budget.json agree (GNU gzip writes a few hundred bytes less per entry).
fn gzip_size(path: &Path) -> Result<u64> {
    Ok(crate::pkg::compressed_sizes(&[path])?[0][1])
}

/// A horizontal bar chart of "ours relative to the peer" ratios (1.0 = par), each row with its
/// target marked; bars that meet the target are green, the others red.
fn svg_chart(rows: &[(String, f64, f64)]) -> String {
    const LABEL: f64 = 430.0;
    const WIDTH: f64 = 360.0;
    const ROW: f64 = 26.0;
    let max = rows.iter().flat_map(|(_, r, t)| [*r, *t]).filter(|v| v.is_finite()).fold(2.0f64, f64::max);
    let x = |v: f64| LABEL + WIDTH * (v / max).clamp(0.0, 1.0);
    let height = 40.0 + ROW * rows.len() as f64;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <text x=\"8\" y=\"18\" font-weight=\"bold\">smh-upload relative to its peers (ratio, higher is better; | = target)</text>\n",
        LABEL + WIDTH + 60.0
    );
    svg.push_str(&format!(
        "<line x1=\"{0}\" y1=\"28\" x2=\"{0}\" y2=\"{1}\" stroke=\"#888\" stroke-dasharray=\"3,3\"/>\n",
        x(1.0),
        height - 4.0
    ));
    for (i, (label, value, target)) in rows.iter().enumerate() {
        let y = 30.0 + ROW * i as f64;
        let met = value.is_finite() && value >= target;
        let colour = if met { "#2a9d4b" } else { "#c8412c" };
        let shown = if value.is_finite() { format!("{value:.2}×") } else { "n/a".into() };
        svg.push_str(&format!("<text x=\"8\" y=\"{}\">{}</text>\n", y + 15.0, xml_escape(label)));
        svg.push_str(&format!(
            "<rect x=\"{LABEL}\" y=\"{}\" width=\"{:.1}\" height=\"18\" fill=\"{colour}\"/>\n",
            y + 2.0,
            x(if value.is_finite() { *value } else { 0.0 }) - LABEL
        ));
        svg.push_str(&format!(
            "<line x1=\"{0:.1}\" y1=\"{1}\" x2=\"{0:.1}\" y2=\"{2}\" stroke=\"#000\" stroke-width=\"2\"/>\n",
            x(*target),
            y,
            y + 22.0
        ));
        svg.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{}\">{shown}</text>\n",
            x(if value.is_finite() { *value } else { 0.0 }) + 6.0,
            y + 15.0
        ));
    }
    svg.push_str("</svg>\n");
    svg
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Percent-encodes a query value.
pub(crate) fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_pages_flat_json() {
        let line = parse_flat_json(r#"{"kind":"upload","bytes":268435456,"client":"cos-js-sdk-v5","config":"a \"b\"","seconds":2.5,"firstPutMs":null,"ok":true}"#).unwrap();
        assert_eq!(line["kind"], "upload");
        assert_eq!(line["bytes"], "268435456");
        assert_eq!(line["config"], "a \"b\"");
        assert_eq!(line["seconds"], "2.5");
        assert_eq!(line["firstPutMs"], "null");
        assert_eq!(line["ok"], "true");
        assert!(parse_flat_json("not json").is_none());
    }

    #[test]
    fn parts_phase_rates_and_completion() {
        let line = |client: &str, config: &str, seconds: &str, parts: &str| {
            parse_flat_json(&format!(r#"{{"kind":"upload","browser":"direct","bytes":{},"client":"{client}","config":"{config}","seconds":{seconds},"partsSeconds":{parts}}}"#, 9 * MIB)).unwrap()
        };
        let lines = vec![
            line("smh-upload", "defaults", "3", "1"),
            line("cos-js-sdk-v5", "defaults", "4", "2"),
            line("raw fetch", "at ours", "1.5", "1.25"),
        ];
        let md = parts_phase(&SMOKE, &lines);
        // 9 MiB in 1 s vs 2 s and 1.25 s; completions 2 s and 2 s.
        assert!(md.contains("| 9 MiB | direct | 9.4 | 4.7 | 2.00× | NaN | – | 7.5 | 1.25× | 2.0 / 2.0 |"), "{md}");
    }

    #[test]
    fn ab_table_puts_the_medians_side_by_side_with_the_noise() {
        let line = |row: &str, side: &str, seconds: f64| {
            parse_flat_json(&format!(r#"{{"kind":"ab","row":"{row}","impl":"{side}","bytes":{},"seconds":{seconds},"partsSeconds":{},"longTasks":0}}"#, 9 * MIB, seconds / 2.0)).unwrap()
        };
        let memory = |side: &str, bytes: u64, wasm: u64| {
            parse_flat_json(&format!(
                r#"{{"kind":"memory","impl":"{side}","bytes":{bytes},"heapBase":{},"heapGrowth":{},"wasmBytes":{}}}"#,
                9 * MIB,
                MIB,
                wasm * MIB
            ))
            .unwrap()
        };
        let lines = vec![
            // SmhClient: ours 1.0–1.2 s, the baseline 1.1–1.3 s: overlapping.
            line("SmhClient upload", "ours", 1.0),
            line("SmhClient upload", "ours", 1.2),
            line("SmhClient upload", "baseline", 1.3),
            line("SmhClient upload", "baseline", 1.1),
            // CosUploader: ours twice as fast, apart.
            line("CosUploader upload", "ours", 1.0),
            line("CosUploader upload", "ours", 1.0),
            line("CosUploader upload", "baseline", 2.0),
            line("CosUploader upload", "baseline", 2.2),
            memory("ours", SMOKE.mem_sizes[0], 3),
            memory("ours", SMOKE.mem_sizes[0], 3),
            memory("baseline", SMOKE.mem_sizes[0], 1),
            memory("baseline", SMOKE.mem_sizes[0], 1),
        ];
        let selection = crate::bench::Options::parse(&["--only".into(), "upload,memory".into()]).unwrap().selection;
        let md = ab_table(&SMOKE, &selection, "964eb99", &lines);
        // 9 MiB = 9.437 MB: 9.4 / 7.9 MB/s at 1.0 / 1.2 s (the median of the rates: 8.7), 7.3 / 8.6 (→ 7.9).
        assert!(
            md.contains(
                "| SmhClient MB/s (the call → done) | 9 MiB | 8.7 [7.9–9.4] | 7.9 [7.3–8.6] | 1.09× | within noise |"
            ),
            "{md}"
        );
        assert!(
            md.contains(
                "| CosUploader MB/s (the call → done) | 9 MiB | 9.4 [9.4–9.4] | 4.5 [4.3–4.7] | 2.10× | ours better |"
            ),
            "{md}"
        );
        assert!(
            md.contains(
                "| CosUploader long tasks > 50 ms | 9 MiB | 0.0 [0.0–0.0] | 0.0 [0.0–0.0] | – | within noise |"
            ),
            "{md}"
        );
        // Memory: 1 MiB of heap growth + 3 MiB of wasm against 1 + 1 (the heap the upload starts
        // from is not counted), lower is better.
        assert!(md.contains("| 9 MiB | 4.0 [4.0–4.0] | 2.0 [2.0–2.0] | 2.00× | ours worse |"), "{md}");
        // A side that was not measured is shown as such, and ab_missing names it.
        assert!(md.contains("| SmhClient MB/s (the call → done) | 17 MiB | – | – | – | – |"), "{md}");
        // 2 rounds a side: 2 of the C(4, 2) = 6 orders put one side's rounds all below.
        assert!(md.contains("about 1 row in 3 by chance"), "{md}");
        assert!(ab_table(&FULL, &selection, "x", &lines).contains("about 1 row in 35 by chance"));
        let missing = ab_missing(&SMOKE, &selection, &lines);
        assert!(missing.contains(&"ab SmhClient upload ours: 2 of 4".to_string()), "{missing:?}");
        assert!(missing.contains(&"memory  baseline: 2 of 4".to_string()), "{missing:?}");
        assert_eq!(
            Spread::of(vec![3.0, f64::NAN, 1.0, 2.0]).map(|s| (s.median, s.min, s.max, s.rounds)),
            Some((2.0, 1.0, 3.0, 3))
        );
        assert!(Spread::of(vec![f64::NAN]).is_none());
    }

    #[test]
    fn ratios_and_chart() {
        assert_eq!(ratio(3.0, 1.5), "2.00×");
        assert_eq!(ratio(1.0, 0.0), "–");
        let svg = svg_chart(&[("a < b".into(), 2.5, 2.0), ("c".into(), f64::NAN, 1.0)]);
        assert!(svg.contains("a &lt; b") && svg.contains("2.50×") && svg.contains("n/a"));
    }
}
