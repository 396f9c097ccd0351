//! `cargo xtask bench`: runs every registered benchmark and writes `target/bench/report.md`.
//!
//! A benchmark is a [`Bench`] in [`BENCHES`]: a name, one line saying what it measures, and a
//! function returning a Markdown table (printed and appended to the report).
//!
//! `cargo xtask bench --only hash,upload` runs only those [`SECTIONS`] (one section of the
//! 20-minute run takes a few minutes) and writes `target/bench/only/report.md`, leaving the
//! whole run's `target/bench/report.md` alone.
//!
//! `cargo xtask bench --baseline REV` also builds the package of commit `REV` (by its own
//! `cargo xtask pkg`: [`crate::bench_baseline`]) and runs it beside ours in the same page,
//! interleaved, and adds "ours vs baseline" rows; its report goes to
//! `target/bench/baseline/report.md`.

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
    pub run: fn(&Options, &Path) -> Result<String>,
}

impl Bench {
    /// Whether any section this bench measures is selected.
    fn covers(&self, selection: &Selection) -> bool {
        self.sections.iter().any(|s| selection.has(s))
    }
}

/// The task's arguments: the sections, and the commit to compare against, if any.
#[derive(Debug)]
pub struct Options {
    pub selection: Selection,
    /// `--baseline REV`: a git revision whose package runs beside ours.
    pub baseline: Option<String>,
}

impl Options {
    /// Parses `[--only NAME[,NAME…]] [--baseline REV]`, in either order, each at most once.
    pub fn parse(args: &[String]) -> Result<Options> {
        let usage = || {
            format!(
                "usage: cargo xtask bench [--only SECTION[,SECTION…]] [--baseline GIT-REV] (sections: {})",
                SECTIONS.join(", ")
            )
        };
        let (mut selection, mut baseline) = (None, None);
        let mut rest = args.iter();
        while let Some(flag) = rest.next() {
            let value = rest.next().filter(|v| !v.starts_with("--"));
            match (flag.as_str(), value) {
                ("--only", Some(list)) if selection.is_none() => {
                    selection = Some(Selection::from_list(list).map_err(|e| format!("{e}; {}", usage()))?)
                }
                ("--baseline", Some(rev)) if baseline.is_none() && !rev.trim().is_empty() => {
                    baseline = Some(rev.trim().to_string())
                }
                _ => return Err(usage()),
            }
        }
        Ok(Options { selection: selection.unwrap_or_else(Selection::all), baseline })
    }
}

/// Sections of the bench that `--only` can name (bench/README.md describes each).
pub const SECTIONS: &[&str] = &["upload", "hash", "crc", "memory", "sweep", "size", "phone", "startup"];

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

    /// The sections `--only` names: `NAME[,NAME…]`.
    fn from_list(list: &str) -> Result<Selection> {
        let mut names = Vec::new();
        for wanted in list.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            let name =
                SECTIONS.iter().copied().find(|s| *s == wanted).ok_or_else(|| format!("unknown section `{wanted}`"))?;
            if !names.contains(&name) {
                names.push(name);
            }
        }
        if names.is_empty() {
            return Err("--only names no section".into());
        }
        Ok(Selection { names, partial: true })
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
    Bench {
        name: "startup",
        about: "a cold page load (empty cache) to `init()` resolved and to the first part PUT on the wire, each entry with and without the README's preload lines, Chromium direct, under Playwright and on a throttled link — smh-upload vs cos-js-sdk-v5",
        sections: &["startup"],
        run: crate::bench_startup::run,
    },
];

/// `cargo xtask pkg`'s package build, once per run of the bench (each benchmark needs `pkg/`,
/// and a build takes minutes).
pub fn package() -> Result<()> {
    static BUILT: std::sync::OnceLock<std::result::Result<(), String>> = std::sync::OnceLock::new();
    BUILT.get_or_init(crate::pkg::run).clone()
}

pub fn run(args: &[String]) -> Result<()> {
    let options = Options::parse(args)?;
    let selection = &options.selection;
    // `SMH_BENCH_SCALE=smoke cargo xtask bench`: the tiny run `cargo xtask test` makes (report in
    // target/bench-smoke/), for working on the bench itself; its baseline is our own package
    // unless `--baseline` names a commit.
    if std::env::var("SMH_BENCH_SCALE").as_deref() == Ok("smoke") {
        run_cmd(crate::util::cargo().args(["build", "-p", "smh-devserver"]), "cargo build -p smh-devserver")?;
        let baseline = match options.baseline.as_deref() {
            Some(rev) => crate::bench_baseline::prepare(rev)?,
            None => crate::bench_baseline::Baseline::ours_as_stand_in(),
        };
        crate::pkg::run()?;
        return crate::bench_upload::smoke_sections(
            &target_dir().join("debug/smh-devserver"),
            selection,
            Some(&baseline),
        );
    }
    // A partial run, or one against a baseline, must not overwrite the whole run's report.
    let dir = if options.baseline.is_some() {
        target_dir().join("bench/baseline")
    } else if selection.partial {
        target_dir().join("bench/only")
    } else {
        target_dir().join("bench")
    };
    fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let mut report = String::from("# smh-upload benchmarks\n\n");
    let mut command = String::from("cargo xtask bench");
    if let Some(rev) = &options.baseline {
        command.push_str(&format!(" --baseline {rev}"));
    }
    if selection.partial {
        command.push_str(&format!(" --only {}", selection.list()));
    }
    let head = util::output(util::cmd("git").args(["rev-parse", "--short=12", "HEAD"]))
        .map(|h| {
            format!(" Ours: `{}`{}.", h.trim(), if worktree_is_clean() { "" } else { " with uncommitted changes" })
        })
        .unwrap_or_default();
    report.push_str(&format!("Machine: {} cores. Command: `{command}`.{head}\n\n", cores()));

    if BENCHES.is_empty() {
        println!("bench: no benchmarks registered yet (xtask/src/bench.rs, BENCHES)");
        report.push_str("No benchmarks registered yet.\n");
    }
    for bench in BENCHES {
        if !bench.covers(selection) {
            continue;
        }
        println!("bench: {} — {}", bench.name, bench.about);
        let started = Instant::now();
        let table = (bench.run)(&options, &dir).map_err(|e| format!("benchmark `{}`: {e}", bench.name))?;
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

/// Whether `git status` shows no change to tracked files (the report says which code "ours" is).
fn worktree_is_clean() -> bool {
    util::output(util::cmd("git").args(["status", "--porcelain", "--untracked-files=no"]))
        .is_some_and(|s| s.trim().is_empty())
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
        let all = Options::parse(&[]).unwrap();
        assert!(SECTIONS.iter().all(|s| all.selection.has(s)) && !all.selection.partial && all.baseline.is_none());
        let some = Options::parse(&args(&["--only", "hash, upload,hash"])).unwrap().selection;
        assert!(some.has("hash") && some.has("upload") && !some.has("memory") && some.partial);
        assert_eq!(some.list(), "hash,upload");
        assert!(Options::parse(&args(&["--only", "hashes"])).unwrap_err().contains("unknown section `hashes`"));
        assert!(Options::parse(&args(&["--only", ","])).is_err());
        assert!(Options::parse(&args(&["--fast"])).is_err());
    }

    #[test]
    fn baseline_takes_a_revision_beside_only_in_either_order() {
        let both = Options::parse(&args(&["--baseline", "964eb99", "--only", "upload,size"])).unwrap();
        assert_eq!(both.baseline.as_deref(), Some("964eb99"));
        assert_eq!(both.selection.list(), "upload,size");
        let swapped = Options::parse(&args(&["--only", "size", "--baseline", "main~3"])).unwrap();
        assert_eq!((swapped.baseline.as_deref(), swapped.selection.list().as_str()), (Some("main~3"), "size"));
        let alone = Options::parse(&args(&["--baseline", "HEAD"])).unwrap();
        assert!(alone.baseline.is_some() && !alone.selection.partial);
        // A missing revision, a flag taken for one, a blank one, or a second --baseline / --only.
        for bad in [
            &["--baseline"][..],
            &["--baseline", "--only", "size"],
            &["--baseline", " "],
            &["--baseline", "a", "--baseline", "b"],
            &["--only", "size", "--only", "hash"],
            &["--only", "size", "964eb99"],
        ] {
            assert!(Options::parse(&args(bad)).unwrap_err().contains("usage"), "{bad:?}");
        }
    }
}
