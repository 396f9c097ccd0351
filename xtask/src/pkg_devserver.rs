//! The npm package `smh-devserver` (`target/pkg/smh-devserver-<version>.tgz`): the devserver as
//! JavaScript test suites install it, with no Rust toolchain (devserver/npm/README.md).
//!
//! 1. [`build_static`]: `cargo build --release --target x86_64-unknown-linux-musl -p
//!    smh-devserver` (the release profile of the root Cargo.toml), checked to be statically
//!    linked with `file` and `ldd`, so it runs on any Linux x86-64 CI image whatever its libc.
//!    The C it links (SQLite, ring, MD5's assembly) is compiled by Debian's `musl-gcc`; `cargo
//!    xtask setup` installs it and the Rust target. It has its own target directory,
//!    [`MUSL_TARGET_DIR`], so that cargo reuses it while nothing changed (see there).
//! 2. `devserver/npm/` (package.json with the devserver crate's version, the JS launcher, its
//!    types, the bin script, README) and the root's LICENSE files are laid out in
//!    `target/pkg/smh-devserver/`, the binary at `bin/linux-x64/smh-devserver`.
//! 3. `npm pack`, its file list checked against [`PACKED_FILES`], and `tar tzvf` printed.
//!
//! Linux arm64 and Windows x64 are not built: their C would need cross compilers this machine
//! lacks and their binaries could not be run here to check them. On those platforms the bin
//! and the API name `cargo install` instead (devserver/npm/index.js, `binaryPath`).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::pkg::{file_size, kib, manifest_version, package_json_versioned};
use crate::util::{self, cargo, cmd, find_tool, output, root, run_cmd, target_dir, Result};

/// The Rust target of the packed binary.
pub const MUSL_TARGET: &str = "x86_64-unknown-linux-musl";
/// The C compiler for [`MUSL_TARGET`] (Debian's `musl-tools`).
pub const MUSL_GCC: &str = "/usr/bin/musl-gcc";
/// The musl build's own target directory, under the target directory. Sharing `target/` would
/// rebuild it, and the release wasm after it, on every `cargo xtask pkg`: both compile their
/// proc macros and build scripts into `target/release/`, and the wasm builds set
/// `RUSTC_BOOTSTRAP=1` (xtask/src/pkg.rs), which build scripts such as proc-macro2's watch.
const MUSL_TARGET_DIR: &str = "musl";
/// Where the binary goes in the package (devserver/npm/index.js, `BINARIES`).
const BINARY_IN_PACKAGE: &str = "bin/linux-x64/smh-devserver";
/// Every file of the tarball besides `package.json`.
const PACKED_FILES: &[&str] = &[
    "index.js",
    "index.d.ts",
    "bin/smh-devserver.js",
    BINARY_IN_PACKAGE,
    "README.md",
    "LICENSE-MIT",
    "LICENSE-APACHE",
];

/// The tarball `target/pkg/smh-devserver-<version>.tgz` (it exists after [`build`]).
pub fn tarball_path() -> Result<PathBuf> {
    Ok(target_dir().join("pkg").join(format!("smh-devserver-{}.tgz", manifest_version("devserver/Cargo.toml")?)))
}

/// The statically linked release binary (after [`build_static`]).
pub fn static_binary() -> PathBuf {
    target_dir().join(MUSL_TARGET_DIR).join(MUSL_TARGET).join("release/smh-devserver")
}

/// Builds the binary and packs the package; returns the tarball's path.
pub fn build() -> Result<PathBuf> {
    let binary = build_static()?;
    let staging = target_dir().join("pkg/smh-devserver");
    lay_out(&staging, &binary)?;
    let tarball = pack(&staging)?;
    let listing = output(cmd("tar").arg("tzvf").arg(&tarball)).ok_or("tar tzvf of the devserver tarball failed")?;
    for line in listing.lines() {
        println!("pkg: {line}");
    }
    let name = tarball.strip_prefix(root()).unwrap_or(&tarball).display().to_string();
    println!("pkg: {name} {}", kib(file_size(&tarball)?));
    Ok(tarball)
}

/// The release devserver for [`MUSL_TARGET`], checked to be statically linked.
fn build_static() -> Result<PathBuf> {
    if !Path::new(MUSL_GCC).exists() {
        return Err(format!("{MUSL_GCC} not found; run `cargo xtask setup` (Debian's musl-tools)"));
    }
    let started = Instant::now();
    println!("pkg: cargo build --release --target {MUSL_TARGET} -p smh-devserver (CC {MUSL_GCC}, target dir target/{MUSL_TARGET_DIR})");
    run_cmd(
        cargo()
            .args(["build", "--release", "--target", MUSL_TARGET, "-p", "smh-devserver"])
            .env("CARGO_TARGET_DIR", target_dir().join(MUSL_TARGET_DIR))
            .env(format!("CC_{}", MUSL_TARGET.replace('-', "_")), MUSL_GCC),
        "cargo build (smh-devserver, musl, release)",
    )?;
    println!("pkg: static smh-devserver built in {}", util::secs(started.elapsed()));
    let binary = static_binary();
    check_static(&binary)?;
    Ok(binary)
}

/// Refuses a binary that `file` does not call statically linked or that `ldd` finds libraries for.
fn check_static(binary: &Path) -> Result<()> {
    let file = output(cmd("file").arg("-b").arg(binary)).ok_or("`file` failed; run `cargo xtask setup`")?;
    // `ldd` exits non-zero on a static binary, so its output is read whatever its status.
    let ldd = cmd("ldd").arg(binary).output().map_err(|e| format!("ldd: {e}"))?;
    let ldd = format!("{}{}", String::from_utf8_lossy(&ldd.stdout), String::from_utf8_lossy(&ldd.stderr));
    let file_says_static = file.contains("statically linked") || file.contains("static-pie linked");
    let ldd_says_static = ldd.contains("statically linked") || ldd.contains("not a dynamic executable");
    if !file.contains("x86-64") || !file_says_static || !ldd_says_static {
        return Err(format!(
            "{} is not a static x86-64 binary:\n  file: {}\n  ldd: {}",
            binary.display(),
            file.trim(),
            ldd.trim()
        ));
    }
    println!("pkg: {} — {}; ldd: {}", binary.display(), file.trim(), ldd.trim());
    Ok(())
}

/// A fresh `staging/` holding the package's files.
fn lay_out(staging: &Path, binary: &Path) -> Result<()> {
    if staging.exists() {
        fs::remove_dir_all(staging).map_err(|e| format!("remove {}: {e}", staging.display()))?;
    }
    let template = root().join("devserver/npm");
    let version = manifest_version("devserver/Cargo.toml")?;
    let copies: Vec<(PathBuf, &str)> = vec![
        (template.join("index.js"), "index.js"),
        (template.join("index.d.ts"), "index.d.ts"),
        (template.join("bin/smh-devserver.js"), "bin/smh-devserver.js"),
        (template.join("README.md"), "README.md"),
        (root().join("pkg-template/LICENSE-MIT"), "LICENSE-MIT"),
        (root().join("pkg-template/LICENSE-APACHE"), "LICENSE-APACHE"),
        (binary.to_path_buf(), BINARY_IN_PACKAGE),
    ];
    for (from, to) in copies {
        let to = staging.join(to);
        fs::create_dir_all(to.parent().unwrap_or(staging)).map_err(|e| format!("create {}: {e}", to.display()))?;
        fs::copy(&from, &to).map_err(|e| format!("copy {} → {}: {e}", from.display(), to.display()))?;
    }
    let template_json = template.join("package.json");
    let json = fs::read_to_string(&template_json).map_err(|e| format!("read {}: {e}", template_json.display()))?;
    let json = package_json_versioned(&json, &version)?;
    fs::write(staging.join("package.json"), json).map_err(|e| format!("write package.json: {e}"))?;
    #[cfg(unix)]
    for executable in [BINARY_IN_PACKAGE, "bin/smh-devserver.js"] {
        use std::os::unix::fs::PermissionsExt;
        let path = staging.join(executable);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("chmod {}: {e}", path.display()))?;
    }
    Ok(())
}

/// `npm pack` of `staging/` into `target/pkg/`; refuses a tarball whose files are not exactly
/// [`PACKED_FILES`] and `package.json`, or whose binary lost its executable bit.
fn pack(staging: &Path) -> Result<PathBuf> {
    let tarball = tarball_path()?;
    let dir = tarball.parent().ok_or("tarball path has no parent")?;
    fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    for entry in fs::read_dir(dir).map_err(|e| format!("read {}: {e}", dir.display()))?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("smh-devserver-") && name.ends_with(".tgz") {
            let _ = fs::remove_file(entry.path());
        }
    }
    find_tool("npm").ok_or("npm not found; install Node.js 20+ with npm")?;
    println!("pkg: npm pack → {}", tarball.display());
    run_cmd(
        cmd("npm")
            .args(["pack", "--silent", "--pack-destination"])
            .arg(dir)
            .current_dir(staging)
            .stdout(std::process::Stdio::null()),
        "npm pack (smh-devserver)",
    )?;
    let listing = output(cmd("tar").arg("tzvf").arg(&tarball)).ok_or("tar tzvf of the devserver tarball failed")?;
    let problems = tarball_problems(&listing);
    if !problems.is_empty() {
        let _ = fs::remove_file(&tarball);
        return Err(format!("the smh-devserver tarball is wrong: {}", problems.join("; ")));
    }
    Ok(tarball)
}

/// Why a tarball whose `tar tzvf` listing is `listing` must not ship; empty when it may.
fn tarball_problems(listing: &str) -> Vec<String> {
    // `-rwxr-xr-x 0/0 1234 1985-10-26 08:15 package/bin/...`: mode first, path last.
    let files: Vec<(&str, &str)> = listing
        .lines()
        .filter_map(|line| {
            let mode = line.split_whitespace().next()?;
            let path = line.split_whitespace().last()?.strip_prefix("package/")?;
            Some((mode, path))
        })
        .filter(|(_, path)| !path.ends_with('/'))
        .collect();
    let mut problems: Vec<String> = PACKED_FILES
        .iter()
        .chain(&["package.json"])
        .filter(|want| !files.iter().any(|(_, path)| path == *want))
        .map(|missing| format!("{missing} is missing"))
        .collect();
    for (mode, path) in &files {
        if *path != "package.json" && !PACKED_FILES.contains(path) {
            problems.push(format!("{path} does not belong in it"));
        }
        if *path == BINARY_IN_PACKAGE && !mode.contains('x') {
            problems.push(format!("{path} is not executable ({mode})"));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tarball_holds_exactly_the_package_with_an_executable_binary() {
        let line = |mode: &str, path: &str| format!("{mode} 0/0 100 1985-10-26 08:15 package/{path}\n");
        let mut good = line("-rw-r--r--", "package.json");
        for path in PACKED_FILES {
            let mode = if *path == BINARY_IN_PACKAGE { "-rwxr-xr-x" } else { "-rw-r--r--" };
            good.push_str(&line(mode, path));
        }
        assert!(tarball_problems(&good).is_empty(), "{:?}", tarball_problems(&good));
        let not_executable = good.replace("-rwxr-xr-x", "-rw-r--r--");
        assert_eq!(
            tarball_problems(&not_executable),
            vec![format!("{BINARY_IN_PACKAGE} is not executable (-rw-r--r--)")]
        );
        let extra = format!("{good}{}", line("-rw-r--r--", "src/main.rs"));
        assert_eq!(tarball_problems(&extra), vec!["src/main.rs does not belong in it".to_string()]);
        let missing = good.replace("package/index.d.ts", "package/other.d.ts");
        assert_eq!(tarball_problems(&missing).len(), 2, "{:?}", tarball_problems(&missing));
    }
}
