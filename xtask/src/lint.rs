//! The `lint` stage of `cargo xtask test`, first because it is the fastest to fail:
//!
//! - every locked dependency builds with the workspace's declared `rust-version` (none of them
//!   declares a newer one), so the minimum Rust the README and Cargo.toml promise is true;
//! - every document (and `§` section or `#` anchor) a file cites exists in the repository
//!   (xtask/src/citations.rs);
//! - `cargo fmt --all --check` (the style of rustfmt.toml);
//! - `cargo clippy -D warnings` for each way the crates are built: the workspace's native
//!   targets (SDK, devserver, xtask, their tests), the browser tests (`tests/web*.rs`), and the
//!   SDK's wasm library in every feature set `cargo xtask pkg` builds — both classes (the main
//!   entry), the mini-program build, and each class alone (the `smh-upload/smh` and
//!   `smh-upload/cos` entries). Clippy's `incompatible_msrv`
//!   then also refuses standard-library items newer than the declared `rust-version`.

use crate::util::{cargo, output, run_cmd, Result};

/// `cargo clippy` arguments of each build to check (see the module doc).
const CLIPPY_RUNS: &[&[&str]] = &[
    &["--workspace", "--all-targets"],
    &["-p", "smh-upload", "--target", "wasm32-unknown-unknown", "--lib", "--tests"],
    &["-p", "smh-upload", "--target", "wasm32-unknown-unknown", "--lib", "--features", "miniprogram"],
    &[
        "-p",
        "smh-upload",
        "--target",
        "wasm32-unknown-unknown",
        "--lib",
        "--no-default-features",
        "--features",
        "smh-client",
    ],
    &[
        "-p",
        "smh-upload",
        "--target",
        "wasm32-unknown-unknown",
        "--lib",
        "--no-default-features",
        "--features",
        "cos-uploader",
    ],
];

pub fn run() -> Result<()> {
    check_rust_version()?;
    crate::citations::check_doc_citations(&crate::util::root())?;
    println!("lint: every document and section the code cites exists in the repository");
    run_cmd(cargo().args(["fmt", "--all", "--check"]), "cargo fmt --all --check (run `cargo fmt --all`)")?;
    for args in CLIPPY_RUNS {
        let what = format!("cargo clippy {} -- -D warnings", args.join(" "));
        println!("lint: {what}");
        run_cmd(cargo().arg("clippy").args(*args).args(["--", "-D", "warnings"]), &what)?;
    }
    Ok(())
}

/// Fails when a package in Cargo.lock declares a `rust-version` above the workspace's.
fn check_rust_version() -> Result<()> {
    let declared = crate::pkg::manifest_value("Cargo.toml", &["[workspace.package]"], "rust-version")?
        .ok_or("Cargo.toml has no [workspace.package] rust-version")?;
    let declared_v = version(&declared).ok_or_else(|| format!("Cargo.toml: unreadable rust-version {declared:?}"))?;
    let metadata = output(cargo().args(["metadata", "--format-version", "1", "--locked"]))
        .ok_or("`cargo metadata --locked` failed (is Cargo.lock up to date?)")?;
    let needs = package_rust_versions(&metadata);
    if needs.is_empty() {
        return Err("cargo metadata listed no package with a rust-version; its format changed?".into());
    }
    let mut newer: Vec<String> = needs
        .iter()
        .filter(|(_, v)| version(v).is_some_and(|v| v > declared_v))
        .map(|(package, v)| format!("{package} needs Rust {v}"))
        .collect();
    newer.sort();
    if !newer.is_empty() {
        return Err(format!(
            "Cargo.toml declares rust-version {declared}, but locked dependencies need more: {}; \
             raise rust-version (and the README's minimum) or pin older versions",
            newer.join(", ")
        ));
    }
    let highest = needs.iter().filter_map(|(_, v)| version(v)).max().unwrap_or_default();
    println!("lint: rust-version {declared}: no locked package needs more (the highest need: {highest:?})");
    Ok(())
}

/// `(name@version, rust_version)` of every package in `cargo metadata` JSON that declares one.
///
/// Read without a JSON parser (xtask has no dependencies): each package object opens with
/// `{"name":…,"version":…,"id":…`, and `rust_version` is a field of the package object only
/// (dependency and target objects have none), so each `"rust_version":"…"` belongs to the
/// package opened last.
fn package_rust_versions(metadata: &str) -> Vec<(String, String)> {
    const PACKAGE: &str = "{\"name\":\"";
    const RUST_VERSION: &str = "\"rust_version\":\"";
    let starts: Vec<usize> = metadata.match_indices(PACKAGE).map(|(i, _)| i).collect();
    let mut found = Vec::new();
    for (at, _) in metadata.match_indices(RUST_VERSION) {
        // The last object opened before this field that is a package (not a dependency).
        let package = starts[..starts.partition_point(|&s| s < at)].iter().rev().find_map(|&s| {
            let object = &metadata[s + 1..];
            let (name, ver) = (string_field(object, "name")?, string_field(object, "version")?);
            object
                .starts_with(&format!("\"name\":\"{name}\",\"version\":\"{ver}\",\"id\":"))
                .then(|| format!("{name}@{ver}"))
        });
        let value = &metadata[at + RUST_VERSION.len()..];
        let end = value.find('"').unwrap_or(value.len());
        found.push((package.unwrap_or_default(), value[..end].to_string()));
    }
    found
}

/// The value of the first `"field":"…"` in `object` (no escapes in names and versions).
fn string_field<'a>(object: &'a str, field: &str) -> Option<&'a str> {
    let key = format!("\"{field}\":\"");
    let start = object.find(&key)? + key.len();
    let len = object[start..].find('"')?;
    Some(&object[start..start + len])
}

/// `1.88` or `1.88.0` as (major, minor, patch).
fn version(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.trim().split('.').map(|p| p.parse::<u32>().ok());
    let major = parts.next()??;
    let minor = parts.next().unwrap_or(Some(0))?;
    let patch = parts.next().unwrap_or(Some(0))?;
    parts.next().is_none().then_some((major, minor, patch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_versions_belong_to_their_package() {
        let json = r#"{"packages":[{"name":"a","version":"1.0.0","id":"registry+a@1.0.0","dependencies":[{"name":"b","source":"x","req":"^2"}],"targets":[{"kind":["lib"],"name":"a"}],"rust_version":"1.70"},{"name":"b","version":"2.1.0","id":"registry+b@2.1.0","dependencies":[],"targets":[{"name":"b"}],"rust_version":null},{"name":"c","version":"0.3.55","id":"c","dependencies":[],"rust_version":"1.88.0"}]}"#;
        assert_eq!(
            package_rust_versions(json),
            vec![("a@1.0.0".to_string(), "1.70".to_string()), ("c@0.3.55".to_string(), "1.88.0".to_string())]
        );
    }

    #[test]
    fn versions_compare_by_number() {
        assert_eq!(version("1.88"), Some((1, 88, 0)));
        assert_eq!(version("1.88.1"), Some((1, 88, 1)));
        assert!(version("1.9").unwrap() < version("1.88").unwrap());
        assert_eq!(version("1.88-beta"), None);
        assert_eq!(version("1.2.3.4"), None);
    }
}
