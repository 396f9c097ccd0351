//! The real `smh-devserver` binary on free loopback ports, through the workspace's one launcher
//! (`smh-devserver-launch`); killed on drop.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::Value;

/// A running devserver process and the JSON of its READY line.
pub struct Devserver {
    process: smh_devserver_launch::Devserver,
    pub ready: Value,
    pub data: PathBuf,
}

/// The binary under test.
pub fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_smh-devserver"))
}

/// A fresh, empty directory under the system temp dir (the caller removes it).
pub fn temp_dir(tag: &str) -> PathBuf {
    smh_devserver_launch::temp_dir(tag).expect("create temp dir")
}

impl Devserver {
    /// Starts with a fresh data directory (removed on drop) and extra flags (e.g. `["--multi-tenant"]`).
    pub fn start(flags: &[&str]) -> Devserver {
        Devserver::wrap(smh_devserver_launch::Devserver::start(bin(), flags))
    }

    /// Starts on an existing data directory (restart tests); the directory is kept on drop.
    pub fn start_on(data: &Path, flags: &[&str]) -> Devserver {
        Devserver::wrap(smh_devserver_launch::Devserver::start_on(bin(), data, flags))
    }

    fn wrap(started: Result<smh_devserver_launch::Devserver, String>) -> Devserver {
        let process = started.unwrap_or_else(|e| panic!("{e}"));
        let ready = serde_json::from_str(process.ready_json()).expect("READY line is JSON");
        let data = process.data().to_path_buf();
        Devserver { process, ready, data }
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
        self.process.kill();
    }
}
