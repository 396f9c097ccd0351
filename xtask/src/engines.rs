//! The `engines` test stage: tests/engines/ (the public-API upload suite of the built package)
//! in Firefox ESR and WebKitGTK, one engine after the other, each against its own devserver.
//!
//! The engines are Debian's packages, installed by `cargo xtask setup` ([`DEBIAN_PACKAGES`]);
//! the stage prints their versions as installed, so a log says what was tested.

use crate::test::{build_devserver, run_counted, Counts};
use crate::util::{cmd, output, root, Result};

/// Debian packages and the executable each provides: Firefox ESR (driven over WebDriver BiDi,
/// which it serves itself), WebKitGTK's WebDriver (it starts the MiniBrowser) and the X server
/// the MiniBrowser draws on, having no headless mode.
pub const DEBIAN_PACKAGES: &[(&str, &str)] = &[
    ("firefox-esr", "/usr/bin/firefox-esr"),
    ("webkit2gtk-driver", "/usr/bin/WebKitWebDriver"),
    ("xvfb", "/usr/bin/Xvfb"),
];

/// Each engine: its name in tests/engines/drivers.mjs, what it is, and the Debian package that
/// carries its version (webkit2gtk-driver is built with the WebKitGTK library it drives).
const ENGINES: &[(&str, &str, &str)] =
    &[("firefox", "Firefox ESR", "firefox-esr"), ("webkit", "WebKitGTK", "webkit2gtk-driver")];

pub fn stage(alone: bool, counts: &mut Counts) -> Result<Option<String>> {
    if !root().join("tests/engines/upload.test.mjs").exists() {
        return Ok(Some("no tests/engines/upload.test.mjs".into()));
    }
    let pkg = root().join(crate::pkg::PKG_DIR);
    if alone && !pkg.join("smh_upload.js").exists() {
        crate::pkg::run()?;
    }
    let bin = build_devserver()?;
    let engines: Vec<(&str, String)> =
        ENGINES.iter().map(|&(engine, name, package)| (engine, format!("{name} {}", version(package)))).collect();
    println!("engines: {}", engines.iter().map(|(_, v)| v.as_str()).collect::<Vec<_>>().join(", "));
    for (engine, described) in &engines {
        println!("\n---- {described} ----");
        let mut command = cmd("node");
        command
            .args(["--test", "--test-reporter=spec", "tests/engines/"])
            .env("SMH_ENGINES", engine)
            .env("SMH_DEVSERVER_BIN", &bin)
            .env("SMH_PKG_DIR", &pkg);
        run_counted(&mut command, &format!("{described}: node --test tests/engines/"), counts)?;
    }
    Ok(None)
}

/// `153.8.0esr (firefox-esr 153.8.0esr-1~deb12u1)`: the upstream version and the package's.
fn version(package: &str) -> String {
    match output(cmd("dpkg-query").args(["-W", "-f=${Version}", package])) {
        Some(full) if !full.trim().is_empty() => format!("{} ({package} {})", upstream(full.trim()), full.trim()),
        _ => format!("(version unknown: `dpkg-query -W {package}` failed)"),
    }
}

/// A Debian version without its epoch and Debian revision: `2:21.1.7-3+deb12u13` → `21.1.7`.
fn upstream(version: &str) -> &str {
    let version = version.split_once(':').map_or(version, |(_, rest)| rest);
    version.rsplit_once('-').map_or(version, |(upstream, _)| upstream)
}

#[cfg(test)]
mod tests {
    use super::upstream;

    #[test]
    fn upstream_versions() {
        assert_eq!(upstream("153.8.0esr-1~deb12u1"), "153.8.0esr");
        assert_eq!(upstream("2.50.6-1~deb12u2"), "2.50.6");
        assert_eq!(upstream("2:21.1.7-3+deb12u13"), "21.1.7");
        assert_eq!(upstream("1.0"), "1.0");
    }
}
