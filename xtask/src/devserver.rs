//! Starts `smh-devserver`, waits for its `SMH_DEVSERVER_READY {json}` line, kills it on drop.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::util::{self, Result};

/// How long a devserver may take to print its READY line (a cold start on a busy machine).
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a graceful shutdown (SIGINT) may take before SIGKILL.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A running devserver; dropping it stops the process (and removes a temporary data dir).
pub struct Devserver {
    child: Child,
    /// The JSON after `SMH_DEVSERVER_READY `.
    pub ready_json: String,
    remove_data: Option<PathBuf>,
}

impl Devserver {
    /// Starts `bin` with `args` (which must include `--data`). Its stdout after the READY line
    /// is echoed; stderr is inherited. `remove_data` is deleted when the guard drops.
    pub fn start(bin: &Path, args: &[&std::ffi::OsStr], remove_data: Option<PathBuf>) -> Result<Devserver> {
        if !bin.exists() {
            return Err(format!("{} does not exist; build it first", bin.display()));
        }
        let mut command = Command::new(bin);
        command.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit());
        util::die_with_parent(&mut command);
        let mut child = command.spawn().map_err(|e| format!("start {}: {e}", bin.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout pipe")?;
        let mut server = Devserver { child, ready_json: String::new(), remove_data };

        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let mut sent = false;
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                match line.trim_end().strip_prefix("SMH_DEVSERVER_READY ") {
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

    /// A string field of the READY JSON (`app`, `smh`, `libraryId`, …), without a JSON parser:
    /// the values are plain URLs and identifiers.
    pub fn field(&self, name: &str) -> Option<String> {
        json_string_field(&self.ready_json, name)
    }

    /// Waits for the process to exit by itself; returns early (false) if a stop was requested.
    pub fn wait_until_stopped(&mut self) -> bool {
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            if util::stop_requested() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// SIGINT, then SIGKILL after [`SHUTDOWN_GRACE`].
    pub fn stop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        util::interrupt(self.child.id());
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        util::force_kill(self.child.id());
        let _ = self.child.wait();
    }
}

impl Drop for Devserver {
    fn drop(&mut self) {
        self.stop();
        if let Some(dir) = self.remove_data.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A string field of READY-shaped JSON (plain URLs and identifiers, no escapes).
pub fn json_string_field(json: &str, name: &str) -> Option<String> {
    let key = format!("\"{name}\"");
    let after = &json[json.find(&key)? + key.len()..];
    let after = after.trim_start().strip_prefix(':')?.trim_start().strip_prefix('"')?;
    Some(after[..after.find('"')?].to_string())
}

/// A fresh, empty directory under the system temp dir.
pub fn temp_data_dir(tag: &str) -> Result<PathBuf> {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("smh-xtask-{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    Ok(dir)
}
