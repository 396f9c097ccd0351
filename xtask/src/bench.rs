//! `cargo xtask bench`: runs every registered benchmark and writes `target/bench/report.md`.
//!
//! A benchmark is a [`Bench`] in [`BENCHES`]: a name, one line saying what it measures, and a
//! function returning a Markdown table (printed and appended to the report).

use std::fs;
use std::time::Instant;

use crate::util::{self, target_dir, Result};

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
    name: "upload-256mib",
    about: "one 256 MiB disk-backed File uploaded to the devserver: smh-upload vs cos-js-sdk-v5, same Chromium run",
    run: crate::bench_upload::run,
}];

pub fn run() -> Result<()> {
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
