//! Starts the real `smh-devserver` binary on free loopback ports and kills it on drop.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running devserver process and the JSON of its READY line.
pub struct Devserver {
    pub child: Child,
    pub ready: Value,
    pub data: PathBuf,
    /// Removes `data` on drop when we created it.
    owns_data: bool,
}

/// A fresh temporary directory under the system temp dir.
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("smh-devserver-test-{tag}-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

fn rand_suffix() -> u64 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut h = RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish()
}

impl Devserver {
    /// Starts with a fresh data directory and extra flags (e.g. `["--multi-tenant"]`).
    pub fn start(flags: &[&str]) -> Devserver {
        let data = temp_dir("data");
        let mut server = Devserver::start_on(&data, flags);
        server.owns_data = true;
        server
    }

    /// Starts on an existing data directory (restart tests); the directory is kept on drop.
    pub fn start_on(data: &Path, flags: &[&str]) -> Devserver {
        let mut child = Command::new(env!("CARGO_BIN_EXE_smh-devserver"))
            .arg("--data")
            .arg(data)
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn smh-devserver");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                if let Some(json) = line.trim_end().strip_prefix("SMH_DEVSERVER_READY ") {
                    let _ = tx.send(json.to_string());
                }
                line.clear();
            }
        });
        let json = rx.recv_timeout(Duration::from_secs(30)).expect("smh-devserver printed no READY line within 30 s");
        let ready: Value = serde_json::from_str(&json).expect("READY line is JSON");
        Devserver { child, ready, data: data.to_path_buf(), owns_data: false }
    }

    pub fn get(&self, field: &str) -> String {
        self.ready[field].as_str().unwrap_or_else(|| panic!("READY has no {field}")).to_string()
    }
    /// `http://127.0.0.1:P` of the app origin.
    pub fn app(&self) -> String {
        self.get("app")
    }
    /// `http://127.0.0.1:P` of the smh origin.
    pub fn smh(&self) -> String {
        self.get("smh")
    }
    /// `http://127.0.0.1:P` of the cos origin.
    pub fn cos(&self) -> String {
        format!("http://{}", self.get("cos"))
    }
    pub fn library_id(&self) -> String {
        self.get("libraryId")
    }
    pub fn library_secret(&self) -> String {
        self.get("librarySecret")
    }
    pub fn space_id(&self) -> String {
        self.get("spaceId")
    }

    /// `kill -9`, keeping the data directory.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Devserver {
    fn drop(&mut self) {
        self.kill();
        if self.owns_data {
            let _ = std::fs::remove_dir_all(&self.data);
        }
    }
}
