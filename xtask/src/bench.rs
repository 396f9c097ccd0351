//! `cargo xtask bench`: runs every registered benchmark and writes `target/bench/report.md`.
//!
//! A benchmark is a [`Bench`] in [`BENCHES`]: a name, one line saying what it measures, and a
//! function returning a Markdown table (printed and appended to the report).

use std::fs;
use std::time::Instant;

use crate::util::{self, run_cmd, target_dir, Result};

/// One benchmark.
pub struct Bench {
    /// Short, unique, kebab-case.
    pub name: &'static str,
    /// What is measured, against what, in one line.
    pub about: &'static str,
    /// Runs the benchmark and returns its results as a Markdown table.
    pub run: fn() -> Result<String>,
}

/// The registry. Real benchmarks (SDK vs. cos-js-sdk-v5 uploads in headless Chromium, hashing
/// throughput, part-size × concurrency sweeps) are added here.
pub const BENCHES: &[Bench] = &[Bench {
    name: "speed",
    about: "issue 10: upload rate (256 MiB and 1 GiB, Chromium direct and under Playwright), quick-upload hash, CRC-64, long tasks, memory, first byte, size — smh-upload vs cos-js-sdk-v5, hash-wasm, WebCrypto and a raw fetch loop, one run",
    run: crate::bench_upload::run,
}];

pub fn run() -> Result<()> {
    // `SMH_BENCH_SCALE=smoke cargo xtask bench`: the tiny run `cargo xtask test` makes (report in
    // target/bench-smoke/), for working on the bench itself.
    if std::env::var("SMH_BENCH_SCALE").as_deref() == Ok("smoke") {
        run_cmd(crate::util::cargo().args(["build", "-p", "smh-devserver"]), "cargo build -p smh-devserver")?;
        crate::pkg::run()?;
        return crate::bench_upload::smoke(&target_dir().join("debug/smh-devserver"));
    }
    let dir = target_dir().join("bench");
    fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let mut report = String::from("# smh-upload benchmarks\n\n");
    report.push_str(&format!("Machine: {} cores. Command: `cargo xtask bench`.\n\n", cores()));

    if BENCHES.is_empty() {
        println!("bench: no benchmarks registered yet (xtask/src/bench.rs, BENCHES)");
        report.push_str("No benchmarks registered yet.\n");
    }
    for bench in BENCHES {
        println!("bench: {} — {}", bench.name, bench.about);
        let started = Instant::now();
        let table = (bench.run)().map_err(|e| format!("benchmark `{}`: {e}", bench.name))?;
        println!("{table}");
        report.push_str(&format!("## {}\n\n{}\n\n{table}\n\n_took {}_\n\n", bench.name, bench.about, util::secs(started.elapsed())));
    }

    let path = dir.join("report.md");
    fs::write(&path, report).map_err(|e| format!("write {}: {e}", path.display()))?;
    println!("bench: wrote {}", path.display());
    Ok(())
}

fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}
