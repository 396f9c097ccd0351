//! `cargo xtask demo`: setup, pkg, then the release devserver serving `www/` and `pkg/` on its
//! app origin, until Ctrl-C (or SIGTERM), which is passed on to the devserver.

use crate::devserver::Devserver;
use crate::util::{self, cargo, root, run_cmd, target_dir, Result};

/// Kept between runs, so uploads survive a restart of the demo.
const DATA_DIR: &str = "target/demo-data";

pub fn run() -> Result<()> {
    crate::setup::run()?;
    crate::pkg::run()?;
    println!("demo: cargo build --release -p smh-devserver");
    run_cmd(cargo().args(["build", "--release", "-p", "smh-devserver"]), "cargo build --release -p smh-devserver")?;

    // From here on Ctrl-C reaches both us and the devserver (same process group); we wait
    // for it to shut down instead of dying first. SIGTERM to us alone is forwarded.
    util::catch_stop_signals();
    let root = root();
    let bin = target_dir().join("release/smh-devserver");
    let (www, pkg, data) = (root.join("www"), root.join(crate::pkg::PKG_DIR), root.join(DATA_DIR));
    std::fs::create_dir_all(&data).map_err(|e| format!("create {}: {e}", data.display()))?;
    let args = ["--www".as_ref(), www.as_os_str(), "--pkg".as_ref(), pkg.as_os_str(), "--data".as_ref(), data.as_os_str()];
    let mut server = Devserver::start(&bin, &args, None)?;

    let app = server.field("app").ok_or("the READY line has no `app` URL")?;
    // The page asks GET /_dev/ready where SMH is; the query is its fallback.
    let query: Vec<String> = ["smh", "libraryId", "spaceId"]
        .iter()
        .filter_map(|&name| server.field(name).map(|value| format!("{name}={}", query_escape(&value))))
        .collect();
    println!();
    println!("demo: open {app}/?{}", query.join("&"));
    println!("demo: SMH_DEVSERVER_READY {}", server.ready_json);
    println!("demo: data in {DATA_DIR}; Ctrl-C to stop");

    // Ctrl-C in the terminal reaches the devserver too, which may exit before we look.
    if server.wait_until_stopped() && !util::stop_requested() {
        return Err("smh-devserver exited".into());
    }
    println!("\ndemo: stopping");
    server.stop();
    Ok(())
}

/// Percent-encodes what may not stand in a query value as is.
fn query_escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
