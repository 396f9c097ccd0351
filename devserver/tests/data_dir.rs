//! `--data DIR` is the devserver's own: it refuses a directory it did not make, and touches
//! nothing in it; it marks the directories it makes and adopts an older devserver's.

mod common;
mod cos_client;
mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{bin, temp_dir, Devserver};
use cos_client::Cos;

const MARKER: &str = ".smh-devserver-data";

/// Runs the binary on `data` and returns (exit success, stderr) once it exits; a devserver still
/// running after 20 s (it accepted the directory) is killed and reported as a success.
fn run_on(data: &Path) -> (bool, String) {
    let mut child = Command::new(bin())
        .arg("--data")
        .arg(data)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return (true, String::new());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// Every file under `dir` with its content, sorted.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(tree(&path));
        } else {
            out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    out.sort();
    out
}

#[test]
fn a_project_directory_is_refused_and_left_alone() {
    // `--data .` in a project that has its own uploads/, objects/ and tmp/.
    let dir = temp_dir("project");
    for (file, text) in
        [("uploads/photo.jpg", "mine"), ("objects/a", "mine too"), ("tmp/draft", "and this"), ("README", "x")]
    {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let before = tree(&dir);
    let (ok, stderr) = run_on(&dir);
    assert!(!ok, "the devserver must refuse the directory");
    assert!(stderr.contains(&dir.display().to_string()), "names the directory: {stderr}");
    assert!(stderr.contains("not an smh-devserver data directory"), "says why: {stderr}");
    assert_eq!(tree(&dir), before, "nothing was touched, nothing added");

    // Even a lone file makes a directory not ours.
    let lone = temp_dir("lone");
    std::fs::write(lone.join("notes.txt"), "x").unwrap();
    assert!(!run_on(&lone).0);
    assert_eq!(std::fs::read_dir(&lone).unwrap().count(), 1);
    for d in [dir, lone] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[tokio::test]
async fn a_new_or_empty_directory_is_marked_and_reused() {
    let parent = temp_dir("parent");
    let dir = parent.join("new/data");
    let server = Devserver::start_on(&dir, &[]);
    assert!(dir.join(MARKER).is_file(), "a directory it made is marked");
    let cos = Cos::owner(&server);
    assert_eq!(cos.put("kept.txt", b"kept".to_vec()).await.status(), 200);
    drop(server);

    let server = Devserver::start_on(&dir, &[]);
    let r = Cos::owner(&server).get("kept.txt").await;
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"kept", "restarts on its own directory");
    drop(server);
    std::fs::remove_dir_all(parent).unwrap();
}

#[tokio::test]
async fn an_older_devservers_directory_is_adopted() {
    let dir = temp_dir("older");
    let mut server = Devserver::start_on(&dir, &[]);
    assert_eq!(Cos::owner(&server).put("old.txt", b"old".to_vec()).await.status(), 200);
    server.kill();
    // What a devserver from before the marker leaves: its database, objects/, uploads/, tmp/.
    std::fs::remove_file(dir.join(MARKER)).unwrap();

    let server = Devserver::start_on(&dir, &[]);
    assert!(dir.join(MARKER).is_file(), "adopted and marked");
    let r = Cos::owner(&server).get("old.txt").await;
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"old", "its library is kept");
    drop(server);
    std::fs::remove_dir_all(dir).unwrap();
}
