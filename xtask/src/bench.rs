//! `cargo xtask bench`: runs every registered benchmark and writes `target/bench/report.md`.
//!
//! A benchmark is a [`Bench`] in [`BENCHES`]: a name, one line saying what it measures, and a
//! function returning a Markdown table (printed and appended to the report).
//!
//! `cargo xtask bench --only hash,upload` runs only those [`SECTIONS`] (one section of the
//! 20-minute run takes a few minutes) and writes `target/bench/only/report.md`, leaving the
//! whole run's `target/bench/report.md` alone.

use std::fs;
use std::path::Path;
use std::time::Instant;

use crate::util::{self, run_cmd, target_dir, Result};

/// One benchmark.
pub struct Bench {
    /// Short, unique, kebab-case.
    pub name: &'static str,
    /// What is measured, against what, in one line.
    pub about: &'static str,
    /// The [`SECTIONS`] it measures.
    pub sections: &'static [&'static str],
    /// Runs the selected sections, writing any extra files (the chart) into the directory given;
    /// returns the results as Markdown.
    pub run: fn(&Selection, &Path) -> Result<String>,
}

impl Bench {
    /// Whether any section this bench measures is selected.
    fn covers(&self, selection: &Selection) -> bool {
        self.sections.iter().any(|s| selection.has(s))
    }
}

/// Sections of the bench that `--only` can name (bench/README.md describes each).
pub const SECTIONS: &[&str] = &["upload", "hash", "crc", "memory", "sweep", "size", "phone"];

/// The sections one run measures: every one by default, or those `--only` names.
#[derive(Debug)]
pub struct Selection {
    names: Vec<&'static str>,
    partial: bool,
}

impl Selection {
    /// Every section.
    pub fn all() -> Selection {
        Selection { names: SECTIONS.to_vec(), partial: false }
    }

    /// Parses the task's arguments: none, or `--only NAME[,NAME…]`.
    pub fn parse(args: &[String]) -> Result<Selection> {
        let usage =
            || format!("usage: cargo xtask bench [--only SECTION[,SECTION…]] (sections: {})", SECTIONS.join(", "));
        match args {
            [] => Ok(Selection::all()),
            [flag, list] if flag == "--only" => {
                let mut names = Vec::new();
                for wanted in list.split(',').map(str::trim).filter(|w| !w.is_empty()) {
                    let name = SECTIONS
                        .iter()
                        .copied()
                        .find(|s| *s == wanted)
                        .ok_or_else(|| format!("unknown section `{wanted}`; {}", usage()))?;
                    if !names.contains(&name) {
                        names.push(name);
                    }
                }
                if names.is_empty() {
                    return Err(usage());
                }
                Ok(Selection { names, partial: true })
            }
            _ => Err(usage()),
        }
    }

    /// Whether `section` is measured.
    pub fn has(&self, section: &str) -> bool {
        self.names.contains(&section)
    }

    /// The selected sections, comma-separated.
    pub fn list(&self) -> String {
        self.names.join(",")
    }
}

/// The registry. Real benchmarks (SDK vs. cos-js-sdk-v5 uploads in headless Chromium, hashing
/// throughput, part-size × concurrency sweeps) are added here.
pub const BENCHES: &[Bench] = &[
    Bench {
        name: "speed",
        about: "upload rate (256 MiB and 1 GiB, Chromium direct and under Playwright), quick-upload hash, CRC-64, long tasks, memory, first byte, size — smh-upload vs cos-js-sdk-v5, hash-wasm, WebCrypto and a raw fetch loop, one run",
        sections: &["upload", "hash", "crc", "memory", "sweep", "size"],
        run: crate::bench_upload::run,
    },
    Bench {
        name: "phone",
        about: "the CRC-64 and SHA-256 kernels in JavaScriptCore without a JIT (as WeChat on iOS runs wasm) beside node, CPU time, and the longest synchronous call",
        sections: &["phone"],
        run: crate::bench_phone::run,
    },
];

pub fn run(args: &[String]) -> Result<()> {
    let selection = Selection::parse(args)?;
    // `SMH_BENCH_SCALE=smoke cargo xtask bench`: the tiny run `cargo xtask test` makes (report in
    // target/bench-smoke/), for working on the bench itself.
    if std::env::var("SMH_BENCH_SCALE").as_deref() == Ok("smoke") {
        run_cmd(crate::util::cargo().args(["build", "-p", "smh-devserver"]), "cargo build -p smh-devserver")?;
        crate::pkg::run()?;
        return crate::bench_upload::smoke_sections(&target_dir().join("debug/smh-devserver"), &selection);
    }
    // A partial run must not overwrite the whole run's report.
    let dir = if selection.partial { target_dir().join("bench/only") } else { target_dir().join("bench") };
    fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let mut report = String::from("# smh-upload benchmarks\n\n");
    let command = if selection.partial {
        format!("cargo xtask bench --only {}", selection.list())
    } else {
        "cargo xtask bench".to_string()
    };
    report.push_str(&format!("Machine: {} cores. Command: `{command}`.\n\n", cores()));

    if BENCHES.is_empty() {
        println!("bench: no benchmarks registered yet (xtask/src/bench.rs, BENCHES)");
        report.push_str("No benchmarks registered yet.\n");
    }
    for bench in BENCHES {
        if !bench.covers(&selection) {
            continue;
        }
        println!("bench: {} — {}", bench.name, bench.about);
        let started = Instant::now();
        let table = (bench.run)(&selection, &dir).map_err(|e| format!("benchmark `{}`: {e}", bench.name))?;
        println!("{table}");
        report.push_str(&format!(
            "## {}\n\n{}\n\n{table}\n\n_took {}_\n\n",
            bench.name,
            bench.about,
            util::secs(started.elapsed())
        ));
    }

    let path = dir.join("report.md");
    fs::write(&path, report).map_err(|e| format!("write {}: {e}", path.display()))?;
    println!("bench: wrote {}", path.display());
    Ok(())
}

fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_section_belongs_to_one_bench() {
        for section in SECTIONS {
            assert_eq!(BENCHES.iter().filter(|b| b.sections.contains(section)).count(), 1, "{section}");
        }
    }

    #[test]
    fn only_selects_named_sections() {
        let all = Selection::parse(&[]).unwrap();
        assert!(SECTIONS.iter().all(|s| all.has(s)) && !all.partial);
        let some = Selection::parse(&args(&["--only", "hash, upload,hash"])).unwrap();
        assert!(some.has("hash") && some.has("upload") && !some.has("memory") && some.partial);
        assert_eq!(some.list(), "hash,upload");
        assert!(Selection::parse(&args(&["--only", "hashes"])).unwrap_err().contains("unknown section `hashes`"));
        assert!(Selection::parse(&args(&["--only", ","])).is_err());
        assert!(Selection::parse(&args(&["--fast"])).is_err());
    }
}
