//! `cargo xtask demo [--port N] [--data DIR]`: setup, pkg, then smh-devserver serving `www/` and
//! `pkg/` on its app origin, until Ctrl-C (or SIGTERM), which is passed on to the devserver.
//!
//! The page is at `http://127.0.0.1:N/` (N = 8780 by default; SMH and COS listen on N+1 and
//! N+2), a fixed origin so that the page's saved options and upload checkpoints (localStorage)
//! survive a restart, as the library does under `--data` (default `target/demo-data`). The
//! page finds SMH itself (`GET /_dev/ready`), so the URL alone is enough.
//!
//! A second run while one serves the same data directory or port says where the running one is
//! instead of failing on a locked database or a taken port.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::util::{self, cargo, root, run_cmd, target_dir, Result};
use smh_devserver_launch::{json_string_field, Devserver};

/// Kept between runs, so uploads survive a restart of the demo.
const DEFAULT_DATA_DIR: &str = "target/demo-data";
/// The page's port unless `--port` says otherwise.
const DEFAULT_PORT: u16 = 8780;
/// Written into the data directory while a demo serves it: the page URL.
const URL_FILE: &str = "demo-url.txt";
/// How long a probe of a possibly running demo may take.
const PROBE_TIMEOUT: Duration = Duration::from_millis(1500);

/// What `cargo xtask demo` was asked for.
#[derive(Debug, PartialEq)]
struct Options {
    /// `None`: [`DEFAULT_PORT`], or free ports if it is taken.
    port: Option<u16>,
    data: PathBuf,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut options = Options { port: None, data: root().join(DEFAULT_DATA_DIR) };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (arg.as_str(), None),
        };
        let mut value = || inline.clone().or_else(|| args.next().cloned()).ok_or(format!("{name} needs a value"));
        match name {
            "--port" => {
                let text = value()?;
                let port: u16 = text.parse().map_err(|_| format!("--port {text}: not a port number"))?;
                if !(1024..=65533).contains(&port) {
                    return Err(format!("--port {port}: use 1024–65533 (SMH and COS take the next two ports)"));
                }
                options.port = Some(port);
            }
            "--data" => {
                let dir = PathBuf::from(value()?);
                options.data =
                    if dir.is_absolute() { dir } else { std::env::current_dir().map_err(|e| e.to_string())?.join(dir) };
            }
            other => return Err(format!("unexpected argument `{other}` (demo takes --port N and --data DIR)")),
        }
    }
    Ok(options)
}

pub fn run(args: &[String]) -> Result<()> {
    let started = Instant::now();
    let options = parse(args)?;
    // Before any build: is a demo already serving this data directory, or the port?
    if let Some(url) = running_demo_on_data(&options.data) {
        println!("demo: already running at {url} (data in {}); open that, or stop it (Ctrl-C in its terminal) to start another", shown(&options.data));
        return Ok(());
    }
    let ports = choose_ports(options.port)?;

    crate::setup::run()?;
    if package_is_fresh() {
        println!("demo: pkg/ is newer than everything it is built from; not rebuilt (`cargo xtask pkg` forces it)");
    } else {
        println!("demo: building the npm package (cargo xtask pkg)");
        crate::pkg::run()?;
    }
    // The dev profile optimises the devserver (Cargo.toml) and is what `cargo xtask test`
    // builds too, so a tested checkout starts at once; release would add a long LTO link.
    println!("demo: building smh-devserver (cargo build -p smh-devserver; the first time takes a few minutes)");
    run_cmd(cargo().args(["build", "-p", "smh-devserver"]), "cargo build -p smh-devserver")?;

    // From here on Ctrl-C reaches both us and the devserver (same process group); we wait
    // for it to shut down instead of dying first. SIGTERM to us alone is forwarded.
    util::catch_stop_signals();
    let bin = target_dir().join("debug/smh-devserver");
    let (www, pkg) = (root().join("www"), root().join(crate::pkg::PKG_DIR));
    let data = &options.data;
    std::fs::create_dir_all(data).map_err(|e| format!("create {}: {e}", data.display()))?;
    let mut args: Vec<std::ffi::OsString> = vec!["--www".into(), www.into(), "--pkg".into(), pkg.into()];
    if let Some(app) = ports {
        for (flag, port) in [("--app-port", app), ("--smh-port", app + 1), ("--cos-port", app + 2)] {
            args.extend([flag.into(), port.to_string().into()]);
        }
    }
    let mut server = Devserver::start_on(&bin, data, &args)?;

    let app = server.field("app").ok_or("the READY line has no `app` URL")?;
    let url = format!("{app}/");
    let url_file = data.join(URL_FILE);
    std::fs::write(&url_file, &url).map_err(|e| format!("write {}: {e}", url_file.display()))?;
    println!();
    println!(
        "demo: open {url}   (ready in {}; data in {}; Ctrl-C to stop)",
        util::secs(started.elapsed()),
        shown(data)
    );

    // Ctrl-C in the terminal reaches the devserver too, which may exit before we look.
    while !server.has_exited() && !util::stop_requested() {
        std::thread::sleep(Duration::from_millis(200));
    }
    let exited_alone = !util::stop_requested();
    println!("\ndemo: stopping");
    server.stop();
    let _ = std::fs::remove_file(&url_file);
    if exited_alone {
        return Err("smh-devserver exited by itself (its messages are above)".into());
    }
    println!("demo: stopped; the library is kept in {}", shown(data));
    Ok(())
}

/// What `pkg/` is built from: when none of it changed since the last build, the demo reuses it.
const PACKAGE_INPUTS: &[&str] =
    &["src", "pkg-template", "Cargo.toml", "Cargo.lock", "xtask/src", "rust-toolchain.toml"];

/// Whether `pkg/` exists and was built after the last change to any of [`PACKAGE_INPUTS`].
fn package_is_fresh() -> bool {
    let built = root().join(crate::pkg::PKG_DIR).join("smh_upload_bg.wasm");
    let Ok(built) = std::fs::metadata(built).and_then(|m| m.modified()) else {
        return false;
    };
    PACKAGE_INPUTS.iter().all(|input| newest_change(&root().join(input)).is_some_and(|changed| changed <= built))
}

/// The latest modification time of `path` or anything under it; `None` if it cannot be read.
fn newest_change(path: &Path) -> Option<SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    let mut newest = meta.modified().ok()?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).ok()? {
            newest = newest.max(newest_change(&entry.ok()?.path())?);
        }
    }
    Some(newest)
}

/// `path` relative to the repository root when inside it, for shorter messages.
fn shown(path: &Path) -> String {
    path.strip_prefix(root()).unwrap_or(path).display().to_string()
}

/// The URL of a demo that serves `data` now (its URL file names a page that answers).
fn running_demo_on_data(data: &Path) -> Option<String> {
    let url = std::fs::read_to_string(data.join(URL_FILE)).ok()?;
    let port = url.trim().trim_end_matches('/').rsplit(':').next()?.parse().ok()?;
    probe_devserver(port).map(|_| url.trim().to_string())
}

/// The ports to ask for: `--port` (and the next two) if free; without `--port`, the default
/// ones if free, else `None` (the devserver picks free ports). A port held by another demo is
/// reported with that demo's URL.
fn choose_ports(asked: Option<u16>) -> Result<Option<u16>> {
    let app = asked.unwrap_or(DEFAULT_PORT);
    for port in [app, app + 1, app + 2] {
        if port_is_free(port) {
            continue;
        }
        if let Some(ready) = probe_devserver(port) {
            let other = json_string_field(&ready, "app").unwrap_or_else(|| format!("http://127.0.0.1:{port}"));
            let data = json_string_field(&ready, "data").unwrap_or_default();
            return Err(format!(
                "port {port} is taken by another running smh-devserver: its page is {other}/ (data in {data}); \
                 open that, stop it, or start this one with --port"
            ));
        }
        if asked.is_some() {
            return Err(format!(
                "port {port} is in use by another program; pick other ports with --port (it uses N, N+1, N+2)"
            ));
        }
        println!("demo: port {port} is in use by another program; the devserver picks free ports instead");
        return Ok(None);
    }
    Ok(Some(app))
}

fn port_is_free(port: u16) -> bool {
    TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).is_ok()
}

/// The `GET /_dev/ready` JSON of an smh-devserver app origin on `port`, if one answers there.
fn probe_devserver(port: u16) -> Option<String> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&address, PROBE_TIMEOUT).ok()?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT)).ok()?;
    stream.set_write_timeout(Some(PROBE_TIMEOUT)).ok()?;
    stream.write_all(b"GET /_dev/ready HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut reply = Vec::new();
    stream.take(64 * 1024).read_to_end(&mut reply).ok()?;
    let reply = String::from_utf8(reply).ok()?;
    let (head, body) = reply.split_once("\r\n\r\n")?;
    (head.starts_with("HTTP/1.") && head.contains(" 200 ") && body.contains("\"libraryId\"")).then(|| body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_port_and_data() {
        let o = parse(&args(&["--port", "9000", "--data=/tmp/x"])).unwrap();
        assert_eq!(o, Options { port: Some(9000), data: PathBuf::from("/tmp/x") });
        assert_eq!(parse(&[]).unwrap().port, None);
        assert!(parse(&args(&["--port"])).unwrap_err().contains("needs a value"));
        assert!(parse(&args(&["--port", "80"])).unwrap_err().contains("1024"));
        assert!(parse(&args(&["--port", "x"])).unwrap_err().contains("not a port"));
        assert!(parse(&args(&["--verbose"])).unwrap_err().contains("unexpected argument"));
    }

    #[test]
    fn newest_change_looks_inside_directories() {
        let dir = smh_devserver_launch::temp_dir("demo-mtime").unwrap();
        std::fs::write(dir.join("a"), "a").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/b"), "b").unwrap();
        let modified = |p: &str| std::fs::metadata(dir.join(p)).unwrap().modified().unwrap();
        let newest = newest_change(&dir).unwrap();
        assert!(newest >= modified("sub/b") && newest > modified("a"));
        assert_eq!(newest_change(&dir.join("missing")), None);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_silent_port_is_not_a_devserver() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = listener.accept() {
                let _ = s.write_all(b"HTTP/1.0 404 Not Found\r\n\r\nno");
            }
        });
        assert_eq!(probe_devserver(port), None);
    }
}
