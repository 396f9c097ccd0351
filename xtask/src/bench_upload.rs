//! Benchmark `upload-256mib`: one 256 MiB disk-backed `File` uploaded to the devserver by
//! smh-upload and by cos-js-sdk-v5, side by side in one Chromium run.
//!
//! Chromium is started directly, not through Playwright: with the DevTools protocol's network
//! tracking on, Chromium copies every request body and uploads crawl at a few MB/s (measured by
//! the e2e suite, tests/e2e/FINDINGS.md §5). The page (`bench/upload/`) writes the file to the
//! Origin Private File System, so it is read from disk like a user's file, and prints one
//! `BENCH {json}` console line per upload; Chromium's `--enable-logging=stderr` carries them here.

use std::fs;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::devserver::{temp_data_dir, Devserver};
use crate::util::{self, cargo, root, run_cmd, target_dir, Result};

/// The Chromium flags of this machine kind (design.md §6), headless.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--enable-logging=stderr", "--v=0",
];
/// Upper bound of the whole page run (8 uploads of 256 MiB plus writing the file).
const PAGE_TIMEOUT: Duration = Duration::from_secs(600);
const SIZE: u64 = 256 * 1024 * 1024;

pub fn run() -> Result<String> {
    run_cmd(cargo().args(["build", "--release", "-p", "smh-devserver"]), "cargo build --release -p smh-devserver")?;
    crate::pkg::run()?;
    let www = target_dir().join("bench/upload-www");
    let _ = fs::remove_dir_all(&www);
    fs::create_dir_all(&www).map_err(|e| format!("create {}: {e}", www.display()))?;
    for (from, to) in [
        (root().join("bench/upload/index.html"), "index.html"),
        (root().join("bench/upload/bench.js"), "bench.js"),
        (root().join("node_modules/cos-js-sdk-v5/dist/cos-js-sdk-v5.min.js"), "cos-js-sdk-v5.min.js"),
    ] {
        fs::copy(&from, www.join(to)).map_err(|e| format!("copy {}: {e} (run `cargo xtask setup`)", from.display()))?;
    }
    let data = temp_data_dir("bench")?;
    let bin = target_dir().join("release/smh-devserver");
    let args: Vec<std::ffi::OsString> =
        vec!["--data".into(), data.clone().into(), "--www".into(), www.into(), "--pkg".into(), root().join("pkg").into()];
    let arg_refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let server = Devserver::start(&bin, &arg_refs, Some(data))?;
    let field = |name: &str| server.field(name).unwrap_or_default();
    let mut url = format!("{}/?size={SIZE}&rounds=2", field("app"));
    for name in ["smh", "cos", "libraryId", "spaceId", "secretId", "secretKey", "bucket", "region"] {
        url.push_str(&format!("&{name}={}", encode(&field(name))));
    }

    let profile = target_dir().join("bench/chromium-profile");
    let _ = fs::remove_dir_all(&profile);
    let mut command = Command::new("/usr/bin/chromium");
    command
        .args(CHROMIUM_FLAGS)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    util::die_with_parent(&mut command);
    let mut chromium = command.spawn().map_err(|e| format!("start chromium: {e} (run `cargo xtask setup`)"))?;
    let stderr = chromium.stderr.take().ok_or("no stderr pipe")?;
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(|l| l.ok()) {
            if let Some(at) = line.find("BENCH {") {
                // Chromium quotes the message: `"BENCH {...}", source: …`.
                let json = &line[at + 6..];
                let json = json.rsplit_once("\", source:").map_or(json, |(j, _)| j);
                let _ = tx.send(json.replace("\\\"", "\""));
            }
        }
    });
    let deadline = Instant::now() + PAGE_TIMEOUT;
    let mut rows = Vec::new();
    let outcome: Result<()> = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(json) if json.contains("\"done\":true") => break Ok(()),
            Ok(json) if json.contains("\"error\"") => break Err(format!("the page failed: {json}")),
            Ok(json) if json.contains("\"client\"") => {
                println!("bench: {json}");
                rows.push(json);
            }
            Ok(_) => {}
            Err(_) => break Err(format!("no result within {} s", PAGE_TIMEOUT.as_secs())),
        }
    };
    let _ = chromium.kill();
    let _ = chromium.wait();
    drop(server);
    outcome?;

    let mut table = String::from("| client | configuration | seconds | MB/s |\n| --- | --- | ---: | ---: |\n");
    for row in &rows {
        let get = |key: &str| -> String {
            let k = format!("\"{key}\":");
            row.find(&k).map(|at| {
                let rest = &row[at + k.len()..];
                match rest.strip_prefix('"') {
                    Some(text) => text[..text.find('"').unwrap_or(text.len())].to_string(),
                    None => rest[..rest.find([',', '}']).unwrap_or(rest.len())].to_string(),
                }
            }).unwrap_or_default()
        };
        let seconds: f64 = get("seconds").parse().unwrap_or(f64::NAN);
        table.push_str(&format!("| {} | {} | {:.2} | {:.1} |\n", get("client"), get("config"), seconds, SIZE as f64 / 1e6 / seconds));
    }
    table.push_str(&format!("\n256 MiB file from OPFS (disk-backed), devserver on loopback (bytes fsync'ed to disk), \
        headless Chromium {} started directly; rows alternate, two rounds.\n", chromium_version()));
    Ok(table)
}

fn chromium_version() -> String {
    util::output(Command::new("/usr/bin/chromium").arg("--version")).map(|v| v.trim().to_string()).unwrap_or_default()
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    value.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}
