//! Benchmark `startup`: how long the first upload of a freshly loaded page waits for the package
//! (issue 20, item 3). Each sample is one page load on an empty cache — navigation start →
//! `init()` resolved → the first part PUT of a 2 MiB upload on the wire (the `startTime` of the
//! first `partNumber=` request to the COS origin, Resource Timing) — for every browser entry
//! (`smh-upload/smh` and `smh-upload` with `SmhClient`, `smh-upload/cos` with `CosUploader`)
//! without and with the npm README's preload lines (taken from pkg-template/README.md, so the
//! bench measures what the README recommends), and for cos-js-sdk-v5 `sliceUploadFile`.
//!
//! The page (`bench/upload/startup.js`, one HTML page per [`Variant`] written here) prints one
//! `BENCH {json}` line. Three conditions, the variants interleaved round by round: Chromium
//! started directly (a new process and profile per load, no DevTools protocol), under Playwright
//! (`bench/upload/startup-playwright.mjs`: a new browser context per load), and under Playwright
//! on a throttled link ([`THROTTLE`]), where the size of what is downloaded shows.
//!
//! The smoke (`cargo xtask test`, e2e stage, through `bench_upload::smoke_sections`) loads every
//! variant once directly and two on the throttled link, and fails when a page fails, a time is
//! missing or the wasm was requested more than once (a preload line that `init()` cannot use).

use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::bench::Options;
use crate::bench_upload::{collect, copy_dir, encode, ratio, run_direct, Line, Spread};
use crate::util::{self, cargo, cmd, root, run_cmd, target_dir, Result};
use smh_devserver_launch::Devserver;

/// One page of the bench: an entry of the package (its file stem and the class it uploads with),
/// with or without the README's preload lines, or the peer (`stem: None`).
struct Variant {
    /// Its name in the page's URL and result line.
    name: &'static str,
    stem: Option<&'static str>,
    class: &'static str,
    preload: bool,
}

const fn ours(name: &'static str, stem: &'static str, class: &'static str, preload: bool) -> Variant {
    Variant { name, stem: Some(stem), class, preload }
}

const PEER: &str = "cos-js-sdk-v5";

const VARIANTS: &[Variant] = &[
    ours("smh", "smh_client", "SmhClient", false),
    ours("smh-preload", "smh_client", "SmhClient", true),
    ours("full", "smh_upload", "SmhClient", false),
    ours("full-preload", "smh_upload", "SmhClient", true),
    ours("cos", "cos_uploader", "CosUploader", false),
    ours("cos-preload", "cos_uploader", "CosUploader", true),
    Variant { name: PEER, stem: None, class: "COS", preload: false },
];

/// The throttled link: 10 Mbit/s each way and 40 ms added to every request
/// (`Network.emulateNetworkConditions`' fields).
const THROTTLE: &str = r#"{"latency":40,"downloadThroughput":1250000,"uploadThroughput":1250000}"#;

/// How each set of loads is made: the `browser` of its result lines and the table's title.
const CONDITIONS: &[(&str, &str)] = &[
    ("direct", "Chromium started directly, a new process and profile per load"),
    ("playwright", "under Playwright, a new browser context per load"),
    (
        "throttled",
        "under Playwright, 10 Mbit/s each way + 40 ms per request (DevTools `Network.emulateNetworkConditions`)",
    ),
];

struct Scale {
    /// Loads of each variant in each condition.
    rounds: u32,
    /// The conditions run, and for each the variants (`None`: all).
    conditions: &'static [(&'static str, Option<&'static [&'static str]>)],
    /// Upper bound of one page load.
    load_timeout: Duration,
}

const FULL: Scale = Scale {
    rounds: 5,
    conditions: &[("direct", None), ("playwright", None), ("throttled", None)],
    load_timeout: Duration::from_secs(60),
};
const SMOKE: Scale = Scale {
    rounds: 1,
    conditions: &[("direct", None), ("throttled", Some(&["smh-preload", PEER]))],
    load_timeout: Duration::from_secs(60),
};

/// `cargo xtask bench --only startup`: the full run; returns the report's Markdown.
pub fn run(options: &Options, dir: &Path) -> Result<String> {
    if !options.selection.has("startup") {
        return Ok(String::new());
    }
    run_cmd(cargo().args(["build", "--release", "-p", "smh-devserver"]), "cargo build --release -p smh-devserver")?;
    crate::bench::package()?;
    let lines = measure(&FULL, &target_dir().join("release/smh-devserver"), dir)?;
    Ok(report(&FULL, &lines))
}

/// The smoke run (see the module's doc); returns its Markdown.
pub fn smoke(devserver: &Path, dir: &Path) -> Result<String> {
    let started = Instant::now();
    let lines = measure(&SMOKE, devserver, dir)?;
    let problems = smoke_problems(&SMOKE, &lines);
    if !problems.is_empty() {
        return Err(format!("startup: {}", problems.join("; ")));
    }
    println!("bench: startup smoke: {} page loads in {}", lines.len(), util::secs(started.elapsed()));
    Ok(report(&SMOKE, &lines))
}

/// What a smoke run's lines lack: a load of each variant in each condition, with every time,
/// the code's size, one request for it, and the first PUT after `init()`.
fn smoke_problems(scale: &Scale, lines: &[Line]) -> Vec<String> {
    let mut problems = Vec::new();
    for &(browser, only) in scale.conditions {
        for v in VARIANTS.iter().filter(|v| only.is_none_or(|names| names.contains(&v.name))) {
            let what = format!("{} ({browser})", v.name);
            let Some(l) = lines.iter().find(|l| field(l, "browser") == browser && field(l, "variant") == v.name) else {
                problems.push(format!("{what}: no result"));
                continue;
            };
            let missing: Vec<&str> =
                ["pageMs", "readyMs", "callMs", "firstApiMs", "firstPutMs", "codeBytes", "codeEndMs"]
                    .into_iter()
                    .filter(|k| num(l, k).partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater))
                    .collect();
            if !missing.is_empty() {
                problems.push(format!("{what}: no {}", missing.join(", ")));
            }
            if num(l, "codeRequests") != 1.0 {
                problems.push(format!("{what}: its code was requested {} times", field(l, "codeRequests")));
            }
            if num(l, "firstPutMs").partial_cmp(&num(l, "callMs")).is_none_or(|o| o == std::cmp::Ordering::Less) {
                problems.push(format!("{what}: the first PUT before the upload was called"));
            }
        }
    }
    problems
}

fn field<'a>(l: &'a Line, k: &str) -> &'a str {
    l.get(k).map_or("", String::as_str)
}

fn num(l: &Line, k: &str) -> f64 {
    l.get(k).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN)
}

/// The README's preload lines (the ```html block that has `rel="preload"`), for `stem`'s entry,
/// with the package served at `/pkg/`.
fn preload_lines(stem: &str) -> Result<String> {
    let path = root().join("pkg-template/README.md");
    let readme = fs::read_to_string(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
    readme_preload_block(&readme)
        .map(|block| block.replace("/node_modules/smh-upload/", "/pkg/").replace("smh_upload", stem))
        .ok_or_else(|| format!("{}: no ```html block with the preload lines", path.display()))
}

fn readme_preload_block(readme: &str) -> Option<&str> {
    readme
        .split("```html\n")
        .skip(1)
        .filter_map(|rest| rest.split_once("```").map(|(block, _)| block))
        .find(|b| b.contains("rel=\"preload\"") && b.contains("rel=\"modulepreload\""))
}

/// The variant's page: the preload lines (if any) and the script that loads and measures.
fn page(v: &Variant) -> Result<String> {
    let mut html =
        String::from("<!doctype html>\n<meta charset=\"utf-8\">\n<title>smh-upload bench: cold start</title>\n");
    match v.stem {
        Some(stem) => {
            if v.preload {
                html.push_str(&preload_lines(stem)?);
            }
            let class = v.class;
            html.push_str(&format!(
                "<script type=\"module\">\nimport init, {{ {class} }} from '/pkg/{stem}.js';\nimport {{ ours }} from '/startup.js';\nours('{stem}_bg.wasm', init, {{ {class} }});\n</script>\n"
            ));
        }
        None => html.push_str(
            "<script src=\"/cos-js-sdk-v5.min.js\"></script>\n<script type=\"module\">\nimport { peer } from '/startup.js';\npeer();\n</script>\n",
        ),
    }
    Ok(html)
}

/// Starts a devserver serving the variants' pages and a private copy of `pkg/`, makes the
/// scale's loads, returns every result line (its `browser` the condition).
fn measure(scale: &Scale, devserver: &Path, dir: &Path) -> Result<Vec<Line>> {
    let www = dir.join("startup-www");
    let _ = fs::remove_dir_all(&www);
    fs::create_dir_all(&www).map_err(|e| format!("create {}: {e}", www.display()))?;
    for (from, to) in [
        (root().join("bench/upload/startup.js"), "startup.js"),
        (root().join("node_modules/cos-js-sdk-v5/dist/cos-js-sdk-v5.min.js"), "cos-js-sdk-v5.min.js"),
    ] {
        fs::copy(&from, www.join(to)).map_err(|e| format!("copy {}: {e} (run `cargo xtask setup`)", from.display()))?;
    }
    for v in VARIANTS {
        let path = www.join(format!("startup-{}.html", v.name));
        fs::write(&path, page(v)?).map_err(|e| format!("write {}: {e}", path.display()))?;
    }
    // A private copy: pkg/ may be rebuilt by other work while the bench runs.
    let pkg = dir.join("startup-pkg");
    let _ = fs::remove_dir_all(&pkg);
    copy_dir(&root().join("pkg"), &pkg)?;
    let args: Vec<std::ffi::OsString> = vec!["--www".into(), www.into(), "--pkg".into(), pkg.into()];
    let server = Devserver::start(devserver, &args)?;
    let mut query = String::new();
    for name in ["smh", "cos", "libraryId", "spaceId", "secretId", "secretKey", "bucket", "region"] {
        query.push_str(&format!("&{name}={}", encode(&server.field(name).unwrap_or_default())));
    }
    let app = server.field("app").unwrap_or_default();
    let url = |v: &Variant| format!("{app}/startup-{0}.html?variant={0}{query}", v.name);

    let mut lines = Vec::new();
    for &(browser, only) in scale.conditions {
        let variants: Vec<&Variant> =
            VARIANTS.iter().filter(|v| only.is_none_or(|names| names.contains(&v.name))).collect();
        let urls: Vec<String> = variants.iter().map(|v| url(v)).collect();
        match browser {
            "direct" => {
                // Round by round, the order rotated, so a change in the machine's load falls on all.
                for round in 0..scale.rounds as usize {
                    for i in 0..urls.len() {
                        let mut got = run_direct(&urls[(i + round) % urls.len()], dir, scale.load_timeout)?;
                        lines.append(&mut got);
                    }
                }
            }
            _ => lines.extend(run_playwright(browser, &urls, scale, browser == "throttled")?),
        }
    }
    drop(server);
    Ok(lines)
}

/// The loads of `urls` under Playwright (`bench/upload/startup-playwright.mjs`); the lines'
/// `browser` is `label`.
fn run_playwright(label: &str, urls: &[String], scale: &Scale, throttled: bool) -> Result<Vec<Line>> {
    let quoted: Vec<String> = urls.iter().map(|u| format!("\"{u}\"")).collect();
    let config = format!(
        "{{\"urls\":[{}],\"rounds\":{},\"throttle\":{},\"timeoutMs\":{}}}",
        quoted.join(","),
        scale.rounds,
        if throttled { THROTTLE } else { "null" },
        scale.load_timeout.as_millis()
    );
    let mut command = cmd("node");
    command.arg(root().join("bench/upload/startup-playwright.mjs")).arg(config);
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit());
    smh_devserver_launch::die_with_parent(&mut command);
    let mut node = command.spawn().map_err(|e| format!("start node: {e}"))?;
    let stdout = node.stdout.take().ok_or("no stdout pipe")?;
    let loads = scale.rounds * urls.len() as u32;
    let lines = collect(label, stdout, scale.load_timeout * loads + Duration::from_secs(60), |line| {
        line.strip_prefix("BENCH ").map(str::to_string)
    });
    let _ = node.kill();
    let _ = node.wait();
    lines
}

/// One table per condition: each variant's medians over its loads.
fn report(scale: &Scale, lines: &[Line]) -> String {
    let mut md = format!(
        "### Cold start: navigation → `init()` resolved → the first part PUT on the wire (ms since navigation start; median [min–max] of {} page load{} on an empty cache)\n\n",
        scale.rounds,
        if scale.rounds == 1 { "" } else { "s" }
    );
    md.push_str(
        "Each load: a page that imports the entry (cos-js-sdk-v5: loads its script), calls `init()` while it fetches its token (`CosUploader`: its keys), \
         then uploads a new 2 MiB file in 1 MiB parts at the client's defaults otherwise (quick upload on: its first-MiB hash and begin come before the first part). \
         \"+ preload\": the page's `<head>` has the two lines of the npm README (`modulepreload` of the glue, `preload` of the wasm). \
         \"Its first request\": the upload's first request to SMH or COS (SmhClient: SMH's begin; CosUploader and cos-js-sdk-v5: \
         a COS request that starts the multipart upload); before it, the client works alone. \
         The devserver serves the files uncompressed (transfer KB); a server that compresses them sends less (gzip -9: the size section).\n\n",
    );
    for &(browser, title) in CONDITIONS {
        if !lines.iter().any(|l| field(l, "browser") == browser) {
            continue;
        }
        md.push_str(&format!("#### {title}\n\n"));
        md.push_str("| page | HTML received ms | code transfer KB | code requested → fetched ms | `init()` resolved ms (cos-js-sdk-v5: its script ran) | `upload()` called ms | its first request ms (SMH or COS) | first part PUT ms | first PUT ours / cos-js-sdk-v5 (lower is better) |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        let spread = |variant: &str, k: &str| {
            Spread::of(
                lines
                    .iter()
                    .filter(|l| field(l, "browser") == browser && field(l, "variant") == variant)
                    .map(|l| num(l, k))
                    .collect(),
            )
        };
        let median = |variant: &str, k: &str| spread(variant, k).map_or(f64::NAN, |s| s.median);
        let peer_put = median(PEER, "firstPutMs");
        for v in VARIANTS {
            if spread(v.name, "firstPutMs").is_none() && spread(v.name, "readyMs").is_none() {
                continue;
            }
            let label = match v.stem {
                Some(stem) => {
                    let specifier = crate::pkg::ENTRIES.iter().find(|e| e.stem == stem).map_or(stem, |e| e.specifier);
                    format!("`{specifier}` {} ({stem}_bg.wasm){}", v.class, if v.preload { " + preload" } else { "" })
                }
                None => format!("{PEER} `sliceUploadFile` (cos-js-sdk-v5.min.js)"),
            };
            let ours_ratio =
                if v.stem.is_some() { ratio(median(v.name, "firstPutMs"), peer_put) } else { "–".into() };
            md.push_str(&format!(
                "| {label} | {:.0} | {:.1} | {:.0} → {:.0} | {} | {:.0} | {:.0} | {} | {ours_ratio} |\n",
                median(v.name, "pageMs"),
                median(v.name, "codeTransfer") / 1000.0,
                median(v.name, "codeStartMs"),
                median(v.name, "codeEndMs"),
                Spread::cell(spread(v.name, "readyMs")),
                median(v.name, "callMs"),
                median(v.name, "firstApiMs"),
                Spread::cell(spread(v.name, "firstPutMs")),
            ));
        }
        md.push('\n');
    }
    md.push_str(
        "On loopback (the first two tables) a download takes next to no time: what is measured is the browser's and the page's own start (\
         before the HTML is received: starting the renderer, most of it in a new Chromium process), the module graph, \
         compiling and instantiating the wasm, and the first upload's work before its first byte (IndexedDB for the checkpoints, the hashing Worker, \
         the first-MiB hash, SMH's begin); the preload lines have little latency to hide there. The throttled table adds what the size and the \
         round trips cost on a modest link (the upload Worker's own requests may escape the throttling). Compare the rows of one table: absolute \
         times move with the machine's load.\n\n",
    );
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_preload_lines_are_rewritten_for_each_entry() {
        let smh = preload_lines("smh_client").unwrap();
        assert!(smh.contains("<link rel=\"modulepreload\" href=\"/pkg/smh_client.js\">"), "{smh}");
        assert!(smh.contains("href=\"/pkg/smh_client_bg.wasm\" as=\"fetch\""), "{smh}");
        assert!(!smh.contains("smh_upload"), "{smh}");
        let page = page(&VARIANTS[1]).unwrap();
        assert!(
            page.contains("/pkg/smh_client_bg.wasm")
                && page.contains("import init, { SmhClient } from '/pkg/smh_client.js'")
        );
        assert!(!super::page(&VARIANTS[0]).unwrap().contains("preload"));
        assert_eq!(readme_preload_block("```html\n<p>\n```\n"), None);
    }

    #[test]
    fn smoke_checks_every_load_and_the_report_has_medians() {
        let line = |browser: &str, variant: &str, requests: u32, put: f64| {
            crate::bench_upload::parse_flat_json(&format!(
                r#"{{"browser":"{browser}","variant":"{variant}","pageMs":12,"readyMs":100,"callMs":110,"firstApiMs":130,"firstPutMs":{put},"codeBytes":200000,"codeTransfer":200300,"codeEndMs":60,"codeStartMs":20,"codeRequests":{requests}}}"#
            ))
            .unwrap()
        };
        let mut lines: Vec<Line> = VARIANTS.iter().map(|v| line("direct", v.name, 1, 150.0)).collect();
        lines.push(line("throttled", "smh-preload", 1, 600.0));
        assert_eq!(smoke_problems(&SMOKE, &lines), vec!["cos-js-sdk-v5 (throttled): no result".to_string()]);
        lines.push(line("throttled", PEER, 2, 300.0));
        lines[1] = line("direct", "smh-preload", 1, 105.0);
        assert_eq!(
            smoke_problems(&SMOKE, &lines),
            vec![
                "smh-preload (direct): the first PUT before the upload was called".to_string(),
                "cos-js-sdk-v5 (throttled): its code was requested 2 times".to_string()
            ]
        );
        let md = report(&SMOKE, &lines);
        assert!(md.contains("| `smh-upload/smh` SmhClient (smh_client_bg.wasm) | 12 | 200.3 | 20 → 60 | 100.0 | 110 | 130 | 150.0 | 1.00× |"), "{md}");
        assert!(md.contains("| `smh-upload/smh` SmhClient (smh_client_bg.wasm) + preload | 12 | 200.3 | 20 → 60 | 100.0 | 110 | 130 | 600.0 | 2.00× |"), "{md}");
        assert!(!md.contains("#### under Playwright, a new"), "{md}");
    }
}
