//! `cargo xtask bench --baseline REV`: the npm package of another commit, for the bench page to
//! run beside ours (xtask/src/bench_upload.rs), so that a change is judged by one interleaved run
//! on one machine load instead of two runs minutes apart on a shared machine.
//!
//! The commit's tree is extracted with `git archive` into `target/bench-baseline/<commit>/` (no
//! `git worktree`: that would register a worktree in the shared repository) and built by its own
//! `cargo xtask pkg`, so the baseline is what that commit shipped, size flags and all. Its
//! `node_modules` is a link to ours (the build tools, wasm-opt and esbuild, come from there).
//!
//! The build gets its own target directory, `target/bench-baseline/target`, deleted afterwards
//! (it is a few hundred MB; the built package is kept, and a second run against the same commit
//! reuses it). Sharing ours would not be safe: a `cdylib` of a path package is written without a
//! hash in its file name (`wasm32-unknown-unknown/release/deps/smh_upload.wasm`), so two checkouts
//! would overwrite each other's wasm while cargo, comparing times, took each for up to date; and
//! the commit's xtask writes (and first empties) `target/pkg/` and rebuilds `target/debug/xtask`.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::util::{cargo, cmd, output, root, run_cmd, stamp_matches, target_dir, write_stamp, Result};

/// A built package of another commit.
pub struct Baseline {
    /// How the report names it: the commit, abbreviated, or what stands in for one.
    pub label: String,
    /// Its package directory (what `pkg/` is for ours).
    pub pkg: PathBuf,
}

impl Baseline {
    /// Our own package in the baseline's place: what the bench smoke runs, so the side-by-side
    /// page and report are exercised without building a second package. The ratios are then
    /// this machine's noise.
    pub fn ours_as_stand_in() -> Baseline {
        Baseline { label: "ours (stand-in)".into(), pkg: root().join(crate::pkg::PKG_DIR) }
    }
}

/// Builds the package of `rev` (a commit of this repository), or reuses the one built before.
pub fn prepare(rev: &str) -> Result<Baseline> {
    let commit = output(cmd("git").args(["rev-parse", "--verify", "--quiet", &format!("{rev}^{{commit}}")]))
        .map(|c| c.trim().to_string())
        .filter(|c| c.len() >= 12)
        .ok_or_else(|| format!("--baseline {rev}: not a commit of this repository"))?;
    let short = &commit[..12];
    let home = target_dir().join("bench-baseline");
    let tree = home.join(short);
    let baseline = Baseline { label: commit[..7].to_string(), pkg: tree.join(crate::pkg::PKG_DIR) };
    let stamp = home.join(format!("{short}.built"));
    if stamp_matches(&stamp, &commit) && baseline.pkg.join("smh_upload.js").is_file() {
        println!("bench: baseline {rev} = {short}: reusing the package built before ({})", baseline.pkg.display());
        return Ok(baseline);
    }

    let _ = fs::remove_file(&stamp);
    let _ = fs::remove_dir_all(&tree);
    fs::create_dir_all(&tree).map_err(|e| format!("create {}: {e}", tree.display()))?;
    println!("bench: baseline {rev} = {short}: git archive into {}", tree.display());
    extract(&commit, &tree)?;
    let node_modules = root().join("node_modules");
    std::os::unix::fs::symlink(&node_modules, tree.join("node_modules"))
        .map_err(|e| format!("link {}: {e}", node_modules.display()))?;

    let build_target = home.join("target");
    println!("bench: baseline {short}: its own `cargo xtask pkg` (CARGO_TARGET_DIR={})", build_target.display());
    let built = run_cmd(
        cargo().current_dir(&tree).args(["xtask", "pkg"]).env("CARGO_TARGET_DIR", &build_target),
        &format!("`cargo xtask pkg` of {short}"),
    );
    // Its build directory is large and of no further use: the package is what the bench needs.
    let _ = fs::remove_dir_all(&build_target);
    built?;
    if !baseline.pkg.join("smh_upload.js").is_file() {
        return Err(format!("`cargo xtask pkg` of {short} wrote no {}", baseline.pkg.join("smh_upload.js").display()));
    }
    write_stamp(&stamp, &commit)?;
    Ok(baseline)
}

/// `git archive COMMIT | tar -x -C into`.
fn extract(commit: &str, into: &std::path::Path) -> Result<()> {
    let mut git = cmd("git")
        .args(["archive", "--format=tar", commit])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("git archive: {e}"))?;
    let tar_input = git.stdout.take().ok_or("git archive: no stdout pipe")?;
    let untar = Command::new("tar").arg("-x").arg("-C").arg(into).stdin(tar_input).status();
    let archived = git.wait().map_err(|e| format!("git archive: {e}"))?;
    let untar = untar.map_err(|e| format!("tar: {e}"))?;
    if archived.success() && untar.success() {
        Ok(())
    } else {
        Err(format!("git archive {commit} | tar -x: {archived}, {untar}"))
    }
}
