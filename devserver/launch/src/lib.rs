//! The one Rust launcher of `smh-devserver`, shared by `cargo xtask` (demo, test stages, bench)
//! and the test crates: starts the binary on a data directory, waits for its
//! `SMH_DEVSERVER_READY {json}` line, and stops it when dropped (removing a data directory it
//! made). Only std, so that depending on it builds nothing else.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The prefix of the line the devserver prints once its three origins listen.
pub const READY_PREFIX: &str = "SMH_DEVSERVER_READY ";
/// How long a devserver may take to print its READY line (a cold start on a busy machine).
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long [`Devserver::stop`] waits after SIGINT before SIGKILL.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A running devserver. Dropping it kills the process and removes the data directory if it was
/// made by [`Devserver::start`].
pub struct Devserver {
    child: Child,
    ready_json: String,
    data: PathBuf,
    remove_data: bool,
}

impl Devserver {
    /// Starts `bin` with `args` on a fresh data directory under the system temp dir, removed
    /// when the guard drops.
    pub fn start<A: AsRef<OsStr>>(bin: &Path, args: &[A]) -> Result<Devserver, String> {
        let data = temp_dir("data")?;
        match Devserver::launch(bin, &data, args, true) {
            Ok(server) => Ok(server),
            Err(error) => {
                let _ = std::fs::remove_dir_all(&data);
                Err(error)
            }
        }
    }

    /// Starts `bin` with `args` on the data directory `data` (created if missing), which is kept:
    /// to restart on the same library, or for a directory the caller owns.
    pub fn start_on<A: AsRef<OsStr>>(bin: &Path, data: &Path, args: &[A]) -> Result<Devserver, String> {
        Devserver::launch(bin, data, args, false)
    }

    fn launch<A: AsRef<OsStr>>(bin: &Path, data: &Path, args: &[A], remove_data: bool) -> Result<Devserver, String> {
        if !bin.exists() {
            return Err(format!("{} does not exist; build it first (`cargo build -p smh-devserver`)", bin.display()));
        }
        let mut command = Command::new(bin);
        command.arg("--data").arg(data).args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit());
        die_with_parent(&mut command);
        let mut child = command.spawn().map_err(|e| format!("start {}: {e}", bin.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout pipe")?;
        let mut server = Devserver { child, ready_json: String::new(), data: data.to_path_buf(), remove_data };
        let (tx, rx) = mpsc::channel();
        // Reads stdout to its end, so the devserver never blocks on a full pipe; any line but
        // the first READY is echoed.
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let mut sent = false;
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                match line.trim_end().strip_prefix(READY_PREFIX) {
                    Some(json) if !sent => {
                        let _ = tx.send(json.to_string());
                        sent = true;
                    }
                    _ => print!("{line}"),
                }
                line.clear();
            }
        });
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(json) => {
                    server.ready_json = json;
                    return Ok(server);
                }
                Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {
                    if let Ok(Some(status)) = server.child.try_wait() {
                        return Err(format!("smh-devserver exited before its READY line ({status})"));
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(format!("smh-devserver printed no READY line within {}s", READY_TIMEOUT.as_secs()))
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = server.child.wait().map(|s| s.to_string()).unwrap_or_default();
                    return Err(format!("smh-devserver closed stdout before its READY line ({status})"));
                }
            }
        }
    }

    /// The JSON after `SMH_DEVSERVER_READY `.
    pub fn ready_json(&self) -> &str {
        &self.ready_json
    }

    /// A string field of the READY JSON (`app`, `smh`, `cos`, `libraryId`, …).
    pub fn field(&self, name: &str) -> Option<String> {
        json_string_field(&self.ready_json, name)
    }

    /// The data directory.
    pub fn data(&self) -> &Path {
        &self.data
    }

    /// Whether the process has exited.
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// SIGINT (the devserver's graceful shutdown), then SIGKILL after [`SHUTDOWN_GRACE`].
    pub fn stop(&mut self) {
        if self.has_exited() {
            return;
        }
        send_signal(self.child.id(), SIGINT);
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        while Instant::now() < deadline {
            if self.has_exited() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill();
    }

    /// SIGKILL (as a crash would), keeping the data directory until the guard drops.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Devserver {
    fn drop(&mut self) {
        self.kill();
        if self.remove_data {
            let _ = std::fs::remove_dir_all(&self.data);
        }
    }
}

/// A string field of READY-shaped JSON: its values are plain URLs, names and identifiers (no
/// escapes), so no JSON parser is needed.
pub fn json_string_field(json: &str, name: &str) -> Option<String> {
    let key = format!("\"{name}\"");
    let after = &json[json.find(&key)? + key.len()..];
    let after = after.trim_start().strip_prefix(':')?.trim_start().strip_prefix('"')?;
    Some(after[..after.find('"')?].to_string())
}

/// A fresh, empty directory under the system temp dir, unique in this process and across runs.
pub fn temp_dir(tag: &str) -> Result<PathBuf, String> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("smh-devserver-{tag}-{}-{nanos}-{n}", std::process::id()));
    std::fs::create_dir(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    Ok(dir)
}

const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;

fn send_signal(pid: u32, signal: i32) {
    extern "C" {
        fn kill(pid: i32, sig: i32) -> i32;
    }
    // SAFETY: a plain syscall wrapper on a pid we spawned and have not reaped.
    unsafe {
        kill(pid as i32, signal);
    }
}

/// Makes the child receive SIGTERM when the thread that started it dies, so that a devserver
/// (or another helper process of a test run, such as xtask's browsers) never outlives a run
/// killed before its `Drop` guards could run.
pub fn die_with_parent(command: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        extern "C" {
            fn prctl(option: i32, arg2: u64, arg3: u64, arg4: u64, arg5: u64) -> i32;
        }
        const PR_SET_PDEATHSIG: i32 = 1;
        // SAFETY: prctl is async-signal-safe and touches only the child's own state.
        unsafe {
            command.pre_exec(|| {
                prctl(PR_SET_PDEATHSIG, SIGTERM as u64, 0, 0, 0);
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = command;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_of_a_ready_line() {
        let json = r#"{"app":"http://127.0.0.1:1","cos": "127.0.0.1:3","multiTenant":false}"#;
        assert_eq!(json_string_field(json, "app").as_deref(), Some("http://127.0.0.1:1"));
        assert_eq!(json_string_field(json, "cos").as_deref(), Some("127.0.0.1:3"));
        assert_eq!(json_string_field(json, "multiTenant"), None);
        assert_eq!(json_string_field(json, "smh"), None);
    }

    #[test]
    fn temp_dirs_are_fresh() {
        let (a, b) = (temp_dir("t").unwrap(), temp_dir("t").unwrap());
        assert_ne!(a, b);
        assert!(std::fs::read_dir(&a).unwrap().next().is_none());
        std::fs::remove_dir(a).unwrap();
        std::fs::remove_dir(b).unwrap();
    }
}
