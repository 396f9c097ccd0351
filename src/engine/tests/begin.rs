//! Begin, cancel and confirm around the calls a cancel waits for, and reads of the file.

use super::*;

#[test]
fn begin_is_retried_once_after_a_lost_reply_but_not_twice() {
    // Retried once: one lost reply costs at most one orphaned (empty, unconfirmed) task.
    let crc = crate::checksum::crc64::checksum(b"abc");
    let script = Rc::new(Script::default());
    script
        .expect(Method::Put, "/a.bin", |_| Err(Error::Network { message: "reply lost".into() }.into()))
        .expect(Method::Put, "/a.bin", |_| auth_reply())
        .expect(Method::Put, "/lib/-/obj", cos_ok(crc))
        .expect(Method::Post, "/ck1?confirm", move |_| {
            json(200, serde_json::json!({"path": ["a.bin"], "size": "3", "crc64": crc.to_string()}))
        });
    assert!(upload(script.clone(), b"abc").0.is_ok());
    assert!(script.steps.borrow().is_empty());
    // A second lost reply is final: the SDK does not open a third upload it cannot name.
    let script = Rc::new(Script::default());
    script.expect(Method::Put, "/a.bin", |_| Err(Error::Timeout { message: "reply lost".into() }.into())).expect(
        Method::Put,
        "/a.bin",
        |_| Err(Error::Network { message: "reply lost".into() }.into()),
    );
    let (result, _) = upload(script.clone(), b"abc");
    assert_eq!(result.unwrap_err().code(), "Network");
    assert!(script.steps.borrow().is_empty());
}

#[test]
fn cancel_while_begin_is_in_flight_cancels_the_upload_smh_opened() {
    let control = Control::new();
    let script = Rc::new(Script::default());
    let c = control.clone();
    script
        .expect(Method::Put, "/a.bin", move |_| {
            c.cancel(); // the user cancels while SMH is still answering
            auth_reply()
        })
        .expect(Method::Delete, "/ck1?upload", |_| raw(204, ""));
    let uploader = Rc::new(
        SmhUploader::new(
            config(),
            script.clone(),
            Rc::new(FakeTimer::default()),
            Tokens::fixed("t".into()),
            Rc::new(NoCheckpoints),
        )
        .unwrap(),
    );
    let states = Rc::new(States::default());
    let source = Rc::new(MemorySource { bytes: Rc::from(b"abc".to_vec()), name: "f".into() });
    let opts = UploadOptions {
        path: LibraryPath::parse("a.bin").unwrap(),
        conflict: Conflict::Rename,
        quick_upload: false,
        create_parents: false,
    };
    let result = futures::executor::block_on(run(uploader, source, opts, control, states.clone()));
    assert_eq!(result.unwrap_err().code(), "Aborted");
    assert!(script.steps.borrow().is_empty(), "the upload SMH opened was cancelled: {:?}", script.seen.borrow());
    assert_eq!(states.0.borrow().last(), Some(&UploadState::Cancelled));
}

#[test]
fn missing_parent_directories_are_created_then_begin_is_retried_once() {
    let crc = crate::checksum::crc64::checksum(b"abc");
    let script = Rc::new(Script::default());
    let not_found =
        || json(404, serde_json::json!({"code": "DirectoryNotFound", "message": "no dir", "requestId": "r"}));
    script
        .expect(Method::Put, "/api/v1/file/lib/-/x/y/a.bin?", move |_| not_found())
        .expect(Method::Put, "/api/v1/directory/lib/-/x/y?", |_| json(201, serde_json::json!({"path": ["x", "y"]})))
        .expect(Method::Put, "/api/v1/file/lib/-/x/y/a.bin?", |_| auth_reply())
        .expect(Method::Put, "/lib/-/obj", cos_ok(crc))
        .expect(Method::Post, "/ck1?confirm", move |_| {
            json(200, serde_json::json!({"path": ["x", "y", "a.bin"], "size": "3", "crc64": crc.to_string()}))
        });
    let uploader = Rc::new(
        SmhUploader::new(
            config(),
            script.clone(),
            Rc::new(FakeTimer::default()),
            Tokens::fixed("TOKEN123".into()),
            Rc::new(NoCheckpoints),
        )
        .unwrap(),
    );
    let source = Rc::new(MemorySource { bytes: Rc::from(b"abc".to_vec()), name: "f".into() });
    let opts = UploadOptions {
        path: LibraryPath::parse("x/y/a.bin").unwrap(),
        conflict: Conflict::Rename,
        quick_upload: false,
        create_parents: true,
    };
    let result = futures::executor::block_on(run(
        uploader.clone(),
        source.clone(),
        opts.clone(),
        Control::new(),
        Rc::new(States::default()),
    ));
    assert_eq!(result.unwrap().file.path, "x/y/a.bin");
    assert!(script.steps.borrow().is_empty());
    // Off: SMH's answer stands.
    script.expect(Method::Put, "/api/v1/file/lib/-/x/y/a.bin?", move |_| not_found());
    let opts = UploadOptions { create_parents: false, ..opts };
    let result = futures::executor::block_on(run(uploader, source, opts, Control::new(), Rc::new(States::default())));
    assert_eq!(result.unwrap_err().code(), "DirectoryNotFound");
}

#[test]
fn cancel_during_confirm_of_a_committed_file_reports_it_done() {
    // Decided: once SMH has committed the file, cancel() cannot undo it; the task says so.
    let control = Control::new();
    let c = control.clone();
    let crc = crate::checksum::crc64::checksum(b"abc");
    let script = Rc::new(Script::default());
    script.expect(Method::Put, "/a.bin", |_| auth_reply()).expect(Method::Put, "/lib/-/obj", cos_ok(crc)).expect(
        Method::Post,
        "/ck1?confirm",
        move |_| {
            c.cancel();
            json(200, serde_json::json!({"path": ["a.bin"], "size": "3", "crc64": crc.to_string()}))
        },
    );
    let uploader = Rc::new(
        SmhUploader::new(
            config(),
            script.clone(),
            Rc::new(FakeTimer::default()),
            Tokens::fixed("TOKEN123".into()),
            Rc::new(NoCheckpoints),
        )
        .unwrap(),
    );
    let states = Rc::new(States::default());
    let source = Rc::new(MemorySource { bytes: Rc::from(b"abc".to_vec()), name: "f".into() });
    let opts = UploadOptions {
        path: LibraryPath::parse("a.bin").unwrap(),
        conflict: Conflict::Rename,
        quick_upload: false,
        create_parents: false,
    };
    let result = futures::executor::block_on(run(uploader, source, opts, control, states.clone()));
    assert_eq!(result.unwrap().file.path, "a.bin");
    assert_eq!(states.0.borrow().last(), Some(&UploadState::Done));
    assert!(script.steps.borrow().is_empty(), "no cancel of a committed file: {:?}", script.seen.borrow());
}

/// A file whose reads fail `failures` times (a transient `NotReadableError`), then succeed.
struct Flaky {
    bytes: Vec<u8>,
    failures: Cell<u32>,
}

impl crate::platform::FileSource for Flaky {
    fn size(&self) -> u64 {
        self.bytes.len() as u64
    }
    fn read(&self, range: std::ops::Range<u64>) -> LocalBoxFuture<'_, Result<Vec<u8>>> {
        let out = if self.failures.get() > 0 {
            self.failures.set(self.failures.get() - 1);
            Err(Error::FileRead { message: "NotReadableError".into() }.into())
        } else {
            Ok(self.bytes[range.start as usize..range.end as usize].to_vec())
        };
        Box::pin(async move { out })
    }
    fn fingerprint(&self) -> String {
        "flaky".into()
    }
    fn part(&self, range: std::ops::Range<u64>) -> LocalBoxFuture<'_, Result<crate::platform::Part>> {
        // Like the browser: the body is a handle at once, the read behind the CRC may fail.
        let body = crate::platform::Body::from(self.bytes[range.start as usize..range.end as usize].to_vec());
        let read = self.read(range);
        Box::pin(async move {
            let outcome = read.await.map(|b| crate::checksum::crc64::checksum(&b));
            Ok(crate::platform::Part { body, crc64: Box::pin(async move { outcome }) })
        })
    }
}

#[test]
fn a_transient_read_failure_is_retried_and_a_lasting_one_is_file_read_error() {
    let crc = crate::checksum::crc64::checksum(b"abc");
    let script = Rc::new(Script::default());
    script
        .expect(Method::Put, "/a.bin", |_| auth_reply())
        .expect(Method::Put, "/lib/-/obj", cos_ok(crc)) // sent while the read failed: not counted
        .expect(Method::Put, "/lib/-/obj", cos_ok(crc))
        .expect(Method::Post, "/ck1?confirm", move |_| {
            json(200, serde_json::json!({"path": ["a.bin"], "size": "3", "crc64": crc.to_string()}))
        });
    let uploader = Rc::new(
        SmhUploader::new(
            config(),
            script.clone(),
            Rc::new(FakeTimer::default()),
            Tokens::fixed("TOKEN123".into()),
            Rc::new(NoCheckpoints),
        )
        .unwrap(),
    );
    let opts = UploadOptions {
        path: LibraryPath::parse("a.bin").unwrap(),
        conflict: Conflict::Rename,
        quick_upload: false,
        create_parents: false,
    };
    let source = Rc::new(Flaky { bytes: b"abc".to_vec(), failures: Cell::new(1) });
    let result = futures::executor::block_on(run(
        uploader.clone(),
        source,
        opts.clone(),
        Control::new(),
        Rc::new(States::default()),
    ));
    assert_eq!(result.unwrap().crc64, crc.to_string());
    assert!(script.steps.borrow().is_empty());
    // Three failed reads in a row: the file is gone; a typed FileReadError, the upload cancelled.
    script
        .expect(Method::Put, "/a.bin", |_| auth_reply())
        .expect(Method::Put, "/lib/-/obj", cos_ok(crc))
        .expect(Method::Put, "/lib/-/obj", cos_ok(crc))
        .expect(Method::Put, "/lib/-/obj", cos_ok(crc))
        .expect(Method::Delete, "/ck1?upload", |_| raw(204, ""));
    let source = Rc::new(Flaky { bytes: b"abc".to_vec(), failures: Cell::new(3) });
    let result = futures::executor::block_on(run(uploader, source, opts, Control::new(), Rc::new(States::default())));
    assert_eq!(result.unwrap_err().code(), "FileReadError");
    assert!(script.steps.borrow().is_empty(), "{:?}", script.seen.borrow());
}

/// The engine's own reads of the file (the beginning hash, a resumed part's CRC-64) are retried
/// as the reads behind parts are: [`crate::engine::session::READ_RETRIES`] times after a failed
/// read, then a typed `FileReadError`.
#[test]
fn the_engines_own_reads_are_retried() {
    use crate::engine::{client::Uploader, session::Session};
    use futures::executor::block_on;
    let timer = Rc::new(FakeTimer::default());
    let uploader = Uploader::new(config(), Rc::new(Script::default()), timer, Rc::new(NoCheckpoints), "s");
    let uploader = Rc::new(uploader.unwrap());
    let session = |failures| {
        let source = Rc::new(Flaky { bytes: b"abc".to_vec(), failures: Cell::new(failures) });
        Session::new(uploader.clone(), source, Control::new(), Rc::new(States::default())).unwrap()
    };
    let crc = crate::checksum::crc64::checksum(b"abc");
    assert_eq!(block_on(session(2).part_crc64(1)).unwrap(), crc);
    assert_eq!(block_on(session(3).part_crc64(1)).unwrap_err().code(), "FileReadError");
    let sha = crate::checksum::hex(&crate::platform::sha256(b"abc"));
    assert_eq!(block_on(session(2).beginning_hash()).unwrap(), sha);
    assert_eq!(block_on(session(3).beginning_hash()).unwrap_err().code(), "FileReadError");
}
