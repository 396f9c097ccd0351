//! `cargo xtask setup`: installs, idempotently, whatever the other tasks need and is missing.
//!
//! Each step checks first (quickly) and installs only when needed, printing one line per
//! install; install output goes to `target/xtask/setup-<step>.log` and is shown on failure.
//! Nothing downloads a browser or a prebuilt binary: Chromium comes from Debian, the wasm
//! tools from crates.io (built here) and Debian, JS tools from the npm registry.

use std::fs;
use std::path::Path;
use std::time::Instant;

use crate::util::{
    self, cmd, content_hash, find_tool, output, root, run_logged, stamp_matches, target_dir, write_stamp, Result,
};

/// Debian packages and the executable each provides: the browser and its driver for the tests,
/// `jsc` (JavaScriptCore's shell) that runs the SDK's kernels without a JIT, as WeChat on iOS runs
/// wasm (`cargo xtask bench --only phone`), `musl-gcc` for the C in the static devserver of the
/// npm package (xtask/src/pkg_devserver.rs) and `file`, which checks that it is static.
const DEBIAN_PACKAGES: &[(&str, &str)] = &[
    ("chromium", "/usr/bin/chromium"),
    ("chromium-driver", "/usr/bin/chromedriver"),
    ("libjavascriptcoregtk-4.0-bin", "/usr/bin/jsc"),
    ("musl-tools", crate::pkg_devserver::MUSL_GCC),
    ("file", "/usr/bin/file"),
];

/// Where the Python venv for the interop tests lives.
pub const PYENV: &str = "target/pyenv";
/// The interop tests' Python requirements.
pub const PY_REQUIREMENTS: &str = "tests/interop/requirements.txt";

/// One thing setup installs when missing: its name, and the check-and-install (true: installed).
type Step = (&'static str, fn() -> Result<bool>);

pub fn run() -> Result<()> {
    let started = Instant::now();
    let steps: &[Step] = &[
        ("wasm32 target", || rust_target("wasm32-unknown-unknown")),
        ("musl target", || rust_target(crate::pkg_devserver::MUSL_TARGET)),
        ("rust-src", rust_src),
        ("wasm-bindgen-cli", wasm_bindgen_cli),
        ("debian packages", debian_packages),
        ("node_modules", node_modules),
        ("python venv", python_venv),
    ];
    let mut installed = 0;
    for (name, step) in steps {
        let did_install = step().map_err(|e| format!("step `{name}`: {e}"))?;
        installed += usize::from(did_install);
    }
    if installed == 0 {
        println!("setup: everything present ({})", util::secs(started.elapsed()));
    } else {
        println!("setup: done, {installed} step(s) installed ({})", util::secs(started.elapsed()));
    }
    Ok(())
}

fn log(step: &str) -> std::path::PathBuf {
    target_dir().join("xtask").join(format!("setup-{step}.log"))
}

/// `rustup target add TARGET` unless installed: wasm32-unknown-unknown for the SDK, the musl
/// target for the npm package's static devserver.
fn rust_target(target: &str) -> Result<bool> {
    let installed = output(cmd("rustup").args(["target", "list", "--installed"]))
        .ok_or("`rustup target list --installed` failed; is rustup installed?")?;
    if installed.lines().any(|l| l.trim() == target) {
        return Ok(false);
    }
    println!("setup: rustup target add {target}");
    run_logged(cmd("rustup").args(["target", "add", target]), "rustup target add", &log("rustup"))?;
    Ok(true)
}

/// `rustup component add rust-src` unless the toolchain's library sources are there: the
/// release wasm rebuilds the standard library for size (`-Zbuild-std`, see xtask/src/pkg.rs,
/// `wasm_release_build`). A component of the toolchain already in use, like the wasm32 target.
fn rust_src() -> Result<bool> {
    let sysroot = output(cmd("rustc").args(["--print", "sysroot"]).current_dir(root()))
        .ok_or("`rustc --print sysroot` failed; is rustup installed?")?;
    let library = Path::new(sysroot.trim()).join("lib/rustlib/src/rust/library/Cargo.lock");
    if library.is_file() {
        return Ok(false);
    }
    println!("setup: rustup component add rust-src");
    run_logged(
        cmd("rustup").args(["component", "add", "rust-src"]).current_dir(root()),
        "rustup component add",
        &log("rustup"),
    )?;
    Ok(true)
}

/// The `wasm-bindgen` version pinned in Cargo.lock (the CLI must match it exactly).
pub fn locked_wasm_bindgen_version() -> Result<String> {
    let lock_path = root().join("Cargo.lock");
    let lock = fs::read_to_string(&lock_path).map_err(|e| format!("read {}: {e}", lock_path.display()))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"wasm-bindgen\"" {
            if let Some(version) = lines.next().and_then(|l| l.trim().strip_prefix("version = \"")) {
                return Ok(version.trim_end_matches('"').to_string());
            }
        }
    }
    Err("Cargo.lock has no `wasm-bindgen` package; run `cargo generate-lockfile`".into())
}

/// `cargo install wasm-bindgen-cli --version X` unless both binaries report version X.
fn wasm_bindgen_cli() -> Result<bool> {
    let version = locked_wasm_bindgen_version()?;
    let reports = |tool: &str| {
        find_tool(tool)
            .and_then(|path| output(cmd(path).arg("--version")))
            .is_some_and(|out| out.split_whitespace().nth(1) == Some(version.as_str()))
    };
    if reports("wasm-bindgen") && reports("wasm-bindgen-test-runner") {
        return Ok(false);
    }
    println!("setup: cargo install wasm-bindgen-cli --version {version} (builds from source, a few minutes)");
    // No `--locked`: the crate's own lock file does not resolve against this registry today.
    run_logged(
        util::cargo().args(["install", "wasm-bindgen-cli", "--version", &version]),
        "cargo install wasm-bindgen-cli",
        &log("wasm-bindgen-cli"),
    )?;
    Ok(true)
}

/// `apt-get install` of the missing ones among Chromium's and the other engines' packages.
fn debian_packages() -> Result<bool> {
    let missing: Vec<&str> = DEBIAN_PACKAGES
        .iter()
        .chain(crate::engines::DEBIAN_PACKAGES)
        .filter(|(package, binary)| !Path::new(binary).exists() || !dpkg_installed(package))
        .map(|(package, _)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(false);
    }
    println!("setup: apt-get install {}", missing.join(" "));
    let as_root = output(cmd("id").arg("-u")).is_some_and(|uid| uid.trim() == "0");
    let apt = |args: &[&str]| {
        let mut command = if as_root { cmd("apt-get") } else { cmd("sudo") };
        if !as_root {
            command.arg("apt-get");
        }
        command.env("DEBIAN_FRONTEND", "noninteractive").args(args);
        command
    };
    run_logged(&mut apt(&["update", "-q"]), "apt-get update", &log("apt-update"))?;
    let mut install = apt(&["install", "-y", "-q", "--no-install-recommends"]);
    install.args(&missing);
    run_logged(&mut install, "apt-get install", &log("apt-install"))?;
    Ok(true)
}

fn dpkg_installed(package: &str) -> bool {
    output(cmd("dpkg-query").args(["-W", "-f=${Status}", package]))
        .is_some_and(|status| status.trim_end().ends_with(" installed"))
}

/// `npm ci` from the committed package-lock.json, unless node_modules was made from this lock.
fn node_modules() -> Result<bool> {
    let lock = root().join("package-lock.json");
    let stamp = root().join("node_modules").join(".xtask-stamp");
    let hash = content_hash(&lock)?;
    if stamp_matches(&stamp, &hash) {
        return Ok(false);
    }
    find_tool("npm").ok_or("npm not found; install Node.js 20+ with npm")?;
    println!("setup: npm ci (binaryen, playwright-core, puppeteer-core, cos-nodejs-sdk-v5, cos-js-sdk-v5, hash-wasm, typescript; no browser download)");
    run_logged(
        cmd("npm").args(["ci", "--no-audit", "--no-fund"]).env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1"),
        "npm ci",
        &log("npm"),
    )?;
    write_stamp(&stamp, &hash)?;
    Ok(true)
}

/// A venv at target/pyenv with tests/interop/requirements.txt, rebuilt when the file changes.
fn python_venv() -> Result<bool> {
    let requirements = root().join(PY_REQUIREMENTS);
    if !requirements.exists() {
        return Ok(false);
    }
    let venv = root().join(PYENV);
    let stamp = venv.join(".xtask-stamp");
    let hash = content_hash(&requirements)?;
    if stamp_matches(&stamp, &hash) && venv.join("bin/python").exists() {
        return Ok(false);
    }
    println!("setup: python venv {PYENV} with {PY_REQUIREMENTS}");
    if !venv.join("bin/python").exists() {
        let python = find_tool("python3").ok_or("python3 not found")?;
        run_logged(cmd(python).args(["-m", "venv", PYENV]), "python3 -m venv", &log("venv"))?;
    }
    run_logged(
        cmd(venv.join("bin/python"))
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(&requirements),
        "pip install -r requirements.txt",
        &log("pip"),
    )?;
    write_stamp(&stamp, &hash)?;
    Ok(true)
}
