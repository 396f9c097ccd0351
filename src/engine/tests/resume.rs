//! Resumable records: continuing from the parts the server holds, or starting cleanly.

use super::*;

#[test]
fn an_interrupted_multipart_upload_resumes_from_the_parts_the_server_holds() {
    const MIB: usize = 1 << 20;
    let data = pattern(3 * MIB + 5);
    let whole = crate::checksum::crc64::checksum(&data);
    let store: Rc<dyn CheckpointStore> = Rc::new(MemoryCheckpoints::default());
    let source = Rc::new(MemorySource { bytes: Rc::from(data.clone()), name: "f".into() });
    let opts = UploadOptions {
        path: LibraryPath::parse("a.bin").unwrap(),
        conflict: Conflict::Rename,
        quick_upload: false,
        create_parents: false,
    };

    // First page: parts 1 and 2 go through, then the network is gone.
    let script = Rc::new(Script::default());
    script
        .expect(Method::Post, "/a.bin?multipart", |_| multipart_auth_reply())
        .expect(Method::Put, "partNumber=1&uploadId=u1", cos_ok(crate::checksum::crc64::checksum(&data[..MIB])))
        .expect(Method::Put, "partNumber=2&uploadId=u1", cos_ok(crate::checksum::crc64::checksum(&data[MIB..2 * MIB])));
    for _ in 0..2 {
        script.expect(Method::Put, "partNumber=3&uploadId=u1", |_| {
            Err(Error::Network { message: "offline".into() }.into())
        });
    }
    let uploader = multipart_uploader(script.clone(), store.clone());
    let result = futures::executor::block_on(run(
        uploader.clone(),
        source.clone(),
        opts.clone(),
        Control::new(),
        Rc::new(States::default()),
    ));
    assert_eq!(result.unwrap_err().code(), "Network");
    assert!(script.steps.borrow().is_empty(), "no cancel: the upload stays resumable");
    let pending = futures::executor::block_on(uploader.pending_uploads());
    assert_eq!(pending.len(), 1);
    assert_eq!(
        (pending[0].path.as_str(), pending[0].loaded, pending[0].size),
        ("a.bin", 2 * MIB as u64, data.len() as u64)
    );
    let record = futures::executor::block_on(store.get(&pending[0].key)).unwrap();
    assert!(!record.contains("SECRETSIG") && !record.contains("access_token"), "no secret in the record: {record}");

    // After a reload (a new client over the same store): the server's list of parts is the
    // truth — part 2 was lost there, so it is sent again with 3 and 4; part 1 is not.
    let script = Rc::new(Script::default());
    script
        .expect(Method::Get, "/ck1?upload", |_| json(200, serde_json::json!({"confirmed": false, "uploadId": "u1", "parts": [{"PartNumber": 1, "Size": 1048576, "ETag": "\"x\""}]})))
        .expect(Method::Post, "/ck1?renew", |_| multipart_auth_reply())
        .expect(Method::Put, "partNumber=2&uploadId=u1", cos_ok(crate::checksum::crc64::checksum(&data[MIB..2 * MIB])))
        .expect(Method::Put, "partNumber=3&uploadId=u1", cos_ok(crate::checksum::crc64::checksum(&data[2 * MIB..3 * MIB])))
        .expect(Method::Put, "partNumber=4&uploadId=u1", cos_ok(crate::checksum::crc64::checksum(&data[3 * MIB..])))
        .expect(Method::Post, "/ck1?confirm", move |req| {
            let body: serde_json::Value = serde_json::from_slice(req.body.as_ref().and_then(|b| b.bytes()).unwrap()).unwrap();
            assert_eq!(body["crc64"], whole.to_string(), "the confirm carries the whole file's CRC");
            json(200, serde_json::json!({"path": ["a.bin"], "size": (3 * MIB + 5).to_string(), "crc64": whole.to_string()}))
        });
    let uploader = multipart_uploader(script.clone(), store.clone());
    let loaded = Rc::new(Loaded::default());
    let result = futures::executor::block_on(run(uploader.clone(), source, opts, Control::new(), loaded.clone()));
    assert_eq!(result.unwrap().crc64, whole.to_string());
    assert!(script.steps.borrow().is_empty(), "{:?}", script.seen.borrow());
    assert_eq!(loaded.0.borrow().first(), Some(&(MIB as u64)), "progress starts from the resumed bytes");
    assert!(futures::executor::block_on(uploader.pending_uploads()).is_empty(), "the record is removed when done");
}

#[test]
fn a_record_whose_upload_the_server_forgot_is_discarded_and_the_upload_restarts() {
    const MIB: usize = 1 << 20;
    let data = pattern(2 * MIB);
    let store: Rc<dyn CheckpointStore> = Rc::new(MemoryCheckpoints::default());
    let source = Rc::new(MemorySource { bytes: Rc::from(data.clone()), name: "f".into() });
    let opts = UploadOptions {
        path: LibraryPath::parse("a.bin").unwrap(),
        conflict: Conflict::Rename,
        quick_upload: false,
        create_parents: false,
    };
    let script = Rc::new(Script::default());
    script.expect(Method::Post, "/a.bin?multipart", |_| multipart_auth_reply());
    for _ in 0..2 {
        script.expect(Method::Put, "partNumber=1&uploadId=u1", |_| {
            Err(Error::Network { message: "offline".into() }.into())
        });
    }
    let uploader = multipart_uploader(script.clone(), store.clone());
    // Nothing was acknowledged: nothing to resume, so the upload is cancelled on the server.
    script.expect(Method::Delete, "/ck1?upload", |_| raw(204, ""));
    let result = futures::executor::block_on(run(
        uploader.clone(),
        source.clone(),
        opts.clone(),
        Control::new(),
        Rc::new(States::default()),
    ));
    assert_eq!(result.unwrap_err().code(), "Network");
    assert!(script.steps.borrow().is_empty());
    assert!(futures::executor::block_on(uploader.pending_uploads()).is_empty());

    // A record whose task SMH no longer knows.
    let mut record =
        crate::engine::checkpoint::Record::new("a.bin", "f", data.len() as u64, MIB as u64, 1_800_000_000_000.0);
    (record.confirm_key, record.upload_id) = (Some("ck-old".into()), Some("u-old".into()));
    record.parts.insert(1, crate::engine::plan::PartDone { number: 1, len: MIB as u64, crc64: 7, etag: None });
    let key = {
        let beginning = crate::checksum::beginning_hash(&data[..MIB]);
        crate::engine::checkpoint::Identity {
            library_id: "lib",
            space_id: "-",
            path: "a.bin",
            size: data.len() as u64,
            fingerprint: "mem:f:2097152",
            beginning_hash: &beginning,
        }
        .key()
    };
    futures::executor::block_on(
        crate::engine::checkpoint::Checkpoints::new(store.clone(), "smh:lib/-").save(&key, &record),
    );
    let script = Rc::new(Script::default());
    let crc1 = crate::checksum::crc64::checksum(&data[..MIB]);
    let crc2 = crate::checksum::crc64::checksum(&data[MIB..]);
    script
        .expect(Method::Get, "/ck-old?upload", |_| {
            json(404, serde_json::json!({"code": "UploadNotFound", "message": "gone", "requestId": "r"}))
        })
        .expect(Method::Delete, "/ck-old?upload", |_| {
            json(404, serde_json::json!({"code": "UploadNotFound", "message": "gone", "requestId": "r"}))
        })
        .expect(Method::Post, "/a.bin?multipart", |_| multipart_auth_reply())
        .expect(Method::Put, "partNumber=1&uploadId=u1", cos_ok(crc1))
        .expect(Method::Put, "partNumber=2&uploadId=u1", cos_ok(crc2))
        .expect(Method::Post, "/ck1?confirm", |_| json(200, serde_json::json!({"path": ["a.bin"], "size": "2097152"})));
    let uploader = multipart_uploader(script.clone(), store.clone());
    futures::executor::block_on(run(uploader.clone(), source, opts, Control::new(), Rc::new(States::default())))
        .expect("a clean restart");
    assert!(script.steps.borrow().is_empty(), "{:?}", script.seen.borrow());
    assert!(futures::executor::block_on(uploader.pending_uploads()).is_empty());
}

#[test]
fn a_renewal_that_changes_the_upload_id_is_refused() {
    let data = pattern(2 << 20);
    let script = Rc::new(Script::default());
    script
        .expect(Method::Post, "/a.bin?multipart", |_| multipart_auth_reply())
        .expect(Method::Put, "partNumber=1&uploadId=u1", |_| {
            raw(403, "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>")
        })
        .expect(Method::Post, "/ck1?renew", |_| {
            json(
                200,
                serde_json::json!({
                    "domain": "b-1250000000.cos.ap-guangzhou.myqcloud.com", "path": "/lib/-/obj", "uploadId": "u-other",
                    "headers": {"Authorization": "x"}, "confirmKey": "ck1", "expiration": "2030-01-01T00:00:00Z"
                }),
            )
        })
        .expect(Method::Delete, "/ck1?upload", |_| raw(204, ""));
    let uploader = multipart_uploader(script.clone(), Rc::new(NoCheckpoints));
    let opts = UploadOptions {
        path: LibraryPath::parse("a.bin").unwrap(),
        conflict: Conflict::Rename,
        quick_upload: false,
        create_parents: false,
    };
    let source = Rc::new(MemorySource { bytes: Rc::from(data), name: "f".into() });
    let result = futures::executor::block_on(run(uploader, source, opts, Control::new(), Rc::new(States::default())));
    assert_eq!(result.unwrap_err().code(), "InvalidResponse");
    assert!(script.steps.borrow().is_empty(), "{:?}", script.seen.borrow());
}

#[test]
fn resumed_parts_are_proven_by_the_file_not_taken_from_the_record() {
    const MIB: usize = 1 << 20;
    // Two files the record cannot tell apart (same name, size and first MiB): b differs in part 2.
    let a = pattern(3 * MIB + 5);
    let mut b = a.clone();
    b[MIB + 7] ^= 0xff;
    let crc = |bytes: &[u8]| crate::checksum::crc64::checksum(bytes);
    let (store, opts) = interrupted_after_two_parts(&a);

    // b finds a's record. The server holds parts 1-3 (3 stored after the record's last write):
    // part 1 reads back as recorded and is kept; part 2 differs and is sent again, and so is part
    // 3, which the record does not vouch for, now that the file is known not to be a.
    let whole = crc(&b);
    let script = Rc::new(Script::default());
    expect_resume_holding_parts_1_to_3(&script)
        .expect(Method::Put, "partNumber=2&uploadId=u1", cos_ok(crc(&b[MIB..2 * MIB])))
        .expect(Method::Put, "partNumber=3&uploadId=u1", cos_ok(crc(&b[2 * MIB..3 * MIB])))
        .expect(Method::Put, "partNumber=4&uploadId=u1", cos_ok(crc(&b[3 * MIB..])))
        .expect(Method::Post, "/ck1?confirm", move |req| {
            let body: serde_json::Value =
                serde_json::from_slice(req.body.as_ref().and_then(|b| b.bytes()).unwrap()).unwrap();
            assert_eq!(body["crc64"], whole.to_string(), "the confirm carries b's CRC");
            json(
                200,
                serde_json::json!({"path": ["a.bin"], "size": (3 * MIB + 5).to_string(), "crc64": whole.to_string()}),
            )
        });
    let source = Rc::new(MemorySource { bytes: Rc::from(b), name: "f".into() });
    let result = futures::executor::block_on(run(
        multipart_uploader(script.clone(), store),
        source,
        opts,
        Control::new(),
        Rc::new(States::default()),
    ));
    assert_eq!(result.unwrap().crc64, whole.to_string());
    assert!(script.steps.borrow().is_empty(), "{:?}", script.seen.borrow());
}

/// Uploads `a` to a.bin until parts 1 and 2 are stored and recorded; then the network is gone.
/// Returns the store with the record and the upload's options.
fn interrupted_after_two_parts(a: &[u8]) -> (Rc<dyn CheckpointStore>, UploadOptions) {
    const MIB: usize = 1 << 20;
    let store: Rc<dyn CheckpointStore> = Rc::new(MemoryCheckpoints::default());
    let opts = UploadOptions {
        path: LibraryPath::parse("a.bin").unwrap(),
        conflict: Conflict::Rename,
        quick_upload: false,
        create_parents: false,
    };
    let crc = |bytes: &[u8]| crate::checksum::crc64::checksum(bytes);
    let script = Rc::new(Script::default());
    script
        .expect(Method::Post, "/a.bin?multipart", |_| multipart_auth_reply())
        .expect(Method::Put, "partNumber=1&uploadId=u1", cos_ok(crc(&a[..MIB])))
        .expect(Method::Put, "partNumber=2&uploadId=u1", cos_ok(crc(&a[MIB..2 * MIB])));
    for _ in 0..2 {
        script.expect(Method::Put, "partNumber=3&uploadId=u1", |_| {
            Err(Error::Network { message: "offline".into() }.into())
        });
    }
    let source = Rc::new(MemorySource { bytes: Rc::from(a.to_vec()), name: "f".into() });
    let result = futures::executor::block_on(run(
        multipart_uploader(script.clone(), store.clone()),
        source,
        opts.clone(),
        Control::new(),
        Rc::new(States::default()),
    ));
    assert_eq!(result.unwrap_err().code(), "Network");
    (store, opts)
}

#[test]
fn a_part_the_server_holds_but_the_record_does_not_vouch_for_is_sent_again() {
    const MIB: usize = 1 << 20;
    let a = pattern(3 * MIB + 5);
    let crc = |bytes: &[u8]| crate::checksum::crc64::checksum(bytes);
    let (store, opts) = interrupted_after_two_parts(&a);

    // The same file again; the server holds parts 1-3 (3 stored after the record's last write).
    // Parts 1 and 2 read back as recorded and are kept; part 3 is sent again: nothing proves this
    // file sent it, and another file that matched parts 1 and 2 would make a mixed object.
    let whole = crc(&a);
    let script = Rc::new(Script::default());
    expect_resume_holding_parts_1_to_3(&script)
        .expect(Method::Put, "partNumber=3&uploadId=u1", cos_ok(crc(&a[2 * MIB..3 * MIB])))
        .expect(Method::Put, "partNumber=4&uploadId=u1", cos_ok(crc(&a[3 * MIB..])))
        .expect(Method::Post, "/ck1?confirm", move |_| {
            json(
                200,
                serde_json::json!({"path": ["a.bin"], "size": (3 * MIB + 5).to_string(), "crc64": whole.to_string()}),
            )
        });
    let source = Rc::new(MemorySource { bytes: Rc::from(a), name: "f".into() });
    let loaded = Rc::new(Loaded::default());
    let result = futures::executor::block_on(run(
        multipart_uploader(script.clone(), store),
        source,
        opts,
        Control::new(),
        loaded.clone(),
    ));
    assert_eq!(result.unwrap().crc64, whole.to_string());
    assert!(script.steps.borrow().is_empty(), "{:?}", script.seen.borrow());
    assert_eq!(loaded.0.borrow().first(), Some(&(2 * MIB as u64)), "progress starts from the proven parts");
}

/// The resume check of upload u1 (task ck1): SMH holds parts 1-3; then the renewal.
fn expect_resume_holding_parts_1_to_3(script: &Script) -> &Script {
    let listed = |n: u32| serde_json::json!({"PartNumber": n, "Size": 1048576, "ETag": "\"x\""});
    let parts = [listed(1), listed(2), listed(3)];
    script
        .expect(Method::Get, "/ck1?upload", move |_| {
            json(200, serde_json::json!({"confirmed": false, "uploadId": "u1", "parts": parts}))
        })
        .expect(Method::Post, "/ck1?renew", |_| multipart_auth_reply())
}

/// A store that keeps the last record written (the index is written to it too).
#[derive(Default)]
struct LastRecord {
    store: MemoryCheckpoints,
    record: RefCell<String>,
}

impl CheckpointStore for LastRecord {
    fn get(&self, key: &str) -> LocalBoxFuture<'_, Option<String>> {
        self.store.get(key)
    }
    fn set(&self, key: &str, value: String) -> LocalBoxFuture<'_, ()> {
        if value.contains("\"partSize\"") {
            *self.record.borrow_mut() = value.clone();
        }
        self.store.set(key, value)
    }
    fn remove(&self, key: &str) -> LocalBoxFuture<'_, ()> {
        self.store.remove(key)
    }
}

/// Cancels on `paused`, keeping the record stored at that moment.
struct CancelWhenPaused {
    store: Rc<LastRecord>,
    control: Control,
    record_when_paused: RefCell<String>,
}

impl Observer for CancelWhenPaused {
    fn on_state(&self, state: UploadState) {
        if state == UploadState::Paused {
            *self.record_when_paused.borrow_mut() = self.store.record.borrow().clone();
            self.control.cancel();
        }
    }
    fn on_progress(&self, _: &Progress) {}
}

#[test]
fn a_pause_writes_the_record_with_the_parts_done_so_far() {
    const MIB: usize = 1 << 20;
    let data = pattern(3 * MIB + 5);
    let crc = |bytes: &[u8]| crate::checksum::crc64::checksum(bytes);
    let store = Rc::new(LastRecord::default());
    let control = Control::new();
    let pause = control.clone();
    // Parts 1 and 2 are stored (no record write is due yet: the clock stands still), then the
    // upload is paused while part 3 goes.
    let script = Rc::new(Script::default());
    script
        .expect(Method::Post, "/a.bin?multipart", |_| multipart_auth_reply())
        .expect(Method::Put, "partNumber=1&uploadId=u1", cos_ok(crc(&data[..MIB])))
        .expect(Method::Put, "partNumber=2&uploadId=u1", cos_ok(crc(&data[MIB..2 * MIB])))
        .expect(Method::Put, "partNumber=3&uploadId=u1", move |_| {
            pause.pause();
            Err(Error::Network { message: "dropped by the pause".into() }.into())
        })
        .expect(Method::Delete, "/ck1?upload", |_| raw(204, ""));
    let observer = Rc::new(CancelWhenPaused {
        store: store.clone(),
        control: control.clone(),
        record_when_paused: RefCell::default(),
    });
    let source = Rc::new(MemorySource { bytes: Rc::from(data), name: "f".into() });
    let opts = UploadOptions {
        path: LibraryPath::parse("a.bin").unwrap(),
        conflict: Conflict::Rename,
        quick_upload: false,
        create_parents: false,
    };
    let result = futures::executor::block_on(run(
        multipart_uploader(script.clone(), store),
        source,
        opts,
        control,
        observer.clone(),
    ));
    assert_eq!(result.unwrap_err().code(), "Aborted");
    assert!(script.steps.borrow().is_empty(), "{:?}", script.seen.borrow());
    let record: serde_json::Value = serde_json::from_str(&observer.record_when_paused.borrow()).unwrap();
    let parts: Vec<u64> = record["parts"].as_array().unwrap().iter().map(|p| p[0].as_u64().unwrap()).collect();
    assert_eq!(parts, [1, 2], "the record written on the pause: {record}");
}
