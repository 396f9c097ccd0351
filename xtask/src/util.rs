//! Paths, running commands, tool lookup, change stamps and signal plumbing shared by the tasks.

use std::ffi::OsStr;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Every task reports failure as one human-readable message.
pub type Result<T> = std::result::Result<T, String>;

/// The workspace root (the directory holding the root `Cargo.toml`).
///
/// `cargo run` (the `cargo xtask` alias) names the xtask package's directory in the environment;
/// that is preferred over the path compiled in, because a target directory copied from another
/// checkout may hold an xtask binary cargo considers fresh, whose compiled-in path is the other
/// checkout's.
pub fn root() -> PathBuf {
    let xtask_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .filter(|dir| dir.join("Cargo.toml").is_file())
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    xtask_dir.parent().map(Path::to_path_buf).unwrap_or(xtask_dir)
}

/// Cargo's target directory: `$CARGO_TARGET_DIR` if set (relative to the root), else `target/`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root().join(dir),
        _ => root().join("target"),
    }
}

/// A command that runs in the workspace root.
pub fn cmd(program: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new(program);
    command.current_dir(root());
    command
}

/// `cargo`, as the one that runs us (`$CARGO`), so that the toolchain matches.
pub fn cargo() -> Command {
    cmd(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Runs `command` with inherited output; a non-zero exit is an error naming `what`.
pub fn run_cmd(command: &mut Command, what: &str) -> Result<()> {
    let status = command.status().map_err(|e| format!("{what}: cannot start {:?}: {e}", command.get_program()))?;
    check(status, what)
}

/// Runs `command` with its output going to `log` (printed, last lines, only on failure).
pub fn run_logged(command: &mut Command, what: &str, log: &Path) -> Result<()> {
    if let Some(dir) = log.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("{what}: create {}: {e}", dir.display()))?;
    }
    let file = fs::File::create(log).map_err(|e| format!("{what}: create {}: {e}", log.display()))?;
    let file2 = file.try_clone().map_err(|e| format!("{what}: {e}"))?;
    let status = command
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(file2)
        .status()
        .map_err(|e| format!("{what}: cannot start {:?}: {e}", command.get_program()))?;
    if status.success() {
        return Ok(());
    }
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = &lines[lines.len().saturating_sub(40)..];
    eprintln!("---- last {} lines of {} ----", tail.len(), log.display());
    for line in tail {
        eprintln!("{line}");
    }
    eprintln!("----");
    check(status, what)
}

/// Runs `command` and returns its stdout, or `None` if it cannot start or fails.
pub fn output(command: &mut Command) -> Option<String> {
    let out = command.stdin(Stdio::null()).stderr(Stdio::null()).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn check(status: ExitStatus, what: &str) -> Result<()> {
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

/// Streams `command`'s stdout line by line to our stdout and hands every line to `on_line`
/// (used to read test runners' summary lines). Stderr is inherited.
pub fn run_tee(command: &mut Command, mut on_line: impl FnMut(&str)) -> Result<ExitStatus> {
    let mut child =
        command.stdout(Stdio::piped()).spawn().map_err(|e| format!("cannot start {:?}: {e}", command.get_program()))?;
    let stdout = child.stdout.take().ok_or("no stdout pipe")?;
    let mut reader = BufReader::new(stdout);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let line = String::from_utf8_lossy(&buf);
                print!("{line}");
                on_line(line.trim_end());
            }
        }
    }
    child.wait().map_err(|e| format!("wait: {e}"))
}

/// Finds an executable on `PATH`, then in cargo's bin directory (where `cargo install` puts it).
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|home| home.join("bin"));
    std::env::split_paths(&path).chain(cargo_bin).map(|dir| dir.join(name)).find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

/// A change stamp for a file's contents (FNV-1a, 64 bit: enough to notice an edit).
pub fn content_hash(path: &Path) -> Result<String> {
    let mut file = fs::File::open(path).map_err(|e| format!("read {}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(|e| format!("read {}: {e}", path.display()))?;
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    Ok(format!("{hash:016x}"))
}

/// True if the stamp file holds exactly `value`.
pub fn stamp_matches(stamp: &Path, value: &str) -> bool {
    fs::read_to_string(stamp).map(|s| s.trim() == value).unwrap_or(false)
}

pub fn write_stamp(stamp: &Path, value: &str) -> Result<()> {
    fs::write(stamp, format!("{value}\n")).map_err(|e| format!("write {}: {e}", stamp.display()))
}

/// Formats a duration as `12.3s`.
pub fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

// ---- signals (Linux) -----------------------------------------------------------------------

const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;

extern "C" {
    fn signal(signum: i32, handler: usize) -> usize;
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop_signal(_signum: i32) {
    STOP.store(true, Ordering::SeqCst);
}

/// From now on SIGINT and SIGTERM only set a flag ([`stop_requested`]) instead of killing us,
/// so that children can be shut down in order. Handlers reset to default in spawned children.
pub fn catch_stop_signals() {
    let handler = on_stop_signal as extern "C" fn(i32) as usize;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        signal(SIGINT, handler);
        signal(SIGTERM, handler);
    }
}

pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}
