//! What each kind of reply leads to: the protocol of a simple upload, hostile and failed replies.

use super::*;

#[test]
fn happy_simple_upload_protocol() {
    let data = b"hello world\n";
    let crc = crate::checksum::crc64::checksum(data);
    let script = Rc::new(Script::default());
    script
        .expect(
            Method::Put,
            "/api/v1/file/lib/-/a.bin?conflict_resolution_strategy=rename&filesize=12&access_token=",
            |_| auth_reply(),
        )
        .expect(Method::Put, "https://b-1250000000.cos.ap-guangzhou.myqcloud.com/lib/-/obj", cos_ok(crc))
        .expect(Method::Post, "/api/v1/file/lib/-/ck1?confirm&conflict_resolution_strategy=rename", move |req| {
            let body: serde_json::Value =
                serde_json::from_slice(req.body.as_ref().and_then(|b| b.bytes()).unwrap()).unwrap();
            assert_eq!(body["crc64"], "14969823782951187105", "whole-file CRC sent on confirm");
            json(
                200,
                serde_json::json!({"path": ["a.bin"], "name": "a.bin", "size": "12", "crc64": "14969823782951187105"}),
            )
        });
    let (result, states) = upload(script.clone(), data);
    let result = result.unwrap();
    assert_eq!((result.file.path.as_str(), result.crc64.as_str()), ("a.bin", "14969823782951187105"));
    // Every state is reported, the first one included, and `uploading` only after begin.
    assert_eq!(
        states.0.borrow().as_slice(),
        &[UploadState::Preparing, UploadState::Uploading, UploadState::Confirming, UploadState::Done]
    );
    assert!(script.steps.borrow().is_empty());
}

#[test]
fn non_json_begin_reply_is_invalid_response_without_secrets() {
    let script = Rc::new(Script::default());
    // A proxy's login page that quotes the request, token and all.
    script.expect(Method::Put, "/a.bin", |req| raw(201, &format!("<html>proxy login for {}</html>", req.url)));
    let (result, states) = upload(script, b"x");
    let e = result.unwrap_err();
    assert_eq!((e.code(), e.status(), e.retryable()), ("InvalidResponse", 201, false));
    assert_no_secret(&e);
    assert_eq!(states.0.borrow().last(), Some(&UploadState::Failed));
}

#[test]
fn truncated_confirm_reply_fails_and_cancels_the_upload() {
    let data = b"abc";
    let crc = crate::checksum::crc64::checksum(data);
    let script = Rc::new(Script::default());
    script
        .expect(Method::Put, "/a.bin", |_| auth_reply())
        .expect(Method::Put, "/lib/-/obj", cos_ok(crc))
        .expect(Method::Post, "/ck1?confirm", |_| raw(200, "{\"path\": [\"a.b"))
        .expect(Method::Delete, "/ck1?upload", |_| raw(204, ""));
    let (result, _) = upload(script.clone(), data);
    let e = result.unwrap_err();
    assert_eq!(e.code(), "InvalidResponse");
    assert!(script.steps.borrow().is_empty(), "the upload was cancelled on the server");
}

#[test]
fn bare_5xx_is_retried_and_an_smh_4xx_is_final() {
    let script = Rc::new(Script::default());
    script
        .expect(Method::Put, "/a.bin", |_| raw(502, "Bad Gateway"))
        .expect(Method::Put, "/a.bin", |_| {
            json(503, serde_json::json!({"code": "ServerOverloaded", "message": "busy", "requestId": "r1"}))
        })
        .expect(Method::Put, "/a.bin", |_| {
            json(404, serde_json::json!({"code": "DirectoryNotFound", "message": "no dir", "requestId": "r2"}))
        });
    let (result, _) = upload(script.clone(), b"x");
    let e = result.unwrap_err();
    assert_eq!((e.code(), e.status(), e.request_id(), e.retryable()), ("DirectoryNotFound", 404, Some("r2"), false));
    assert!(script.steps.borrow().is_empty());
}

#[test]
fn cos_error_xml_is_typed_and_bad_crc_at_confirm_is_integrity_mismatch() {
    let data = b"abc";
    let crc = crate::checksum::crc64::checksum(data);
    let script = Rc::new(Script::default());
    script.expect(Method::Put, "/a.bin", |_| auth_reply()).expect(Method::Put, "/lib/-/obj", |_| {
        raw(400, "<Error><Code>BadDigest</Code><Message>md5</Message><RequestId>cosreq</RequestId></Error>")
    });
    script.expect(Method::Delete, "/ck1?upload", |_| raw(204, ""));
    let (result, _) = upload(script.clone(), data);
    let e = result.unwrap_err();
    assert_eq!((e.code(), e.status(), e.request_id()), ("BadDigest", 400, Some("cosreq")));
    assert_no_secret(&e);

    let script = Rc::new(Script::default());
    script
        .expect(Method::Put, "/a.bin", |_| auth_reply())
        .expect(Method::Put, "/lib/-/obj", cos_ok(crc))
        .expect(Method::Post, "/ck1?confirm", |_| {
            json(400, serde_json::json!({"code": "BadCrc64", "message": "crc", "requestId": "r"}))
        })
        .expect(Method::Delete, "/ck1?upload", |_| raw(204, ""));
    let (result, _) = upload(script.clone(), data);
    let e = result.unwrap_err();
    assert_eq!((e.code(), e.retryable()), ("IntegrityMismatch", false));
    assert!(script.steps.borrow().is_empty());
}

#[test]
fn wrong_crc_in_a_200_reply_resends_the_part_then_gives_up() {
    let data = b"abc";
    let script = Rc::new(Script::default());
    script.expect(Method::Put, "/a.bin", |_| auth_reply());
    for _ in 0..3 {
        script.expect(Method::Put, "/lib/-/obj", cos_ok(1));
    }
    script.expect(Method::Delete, "/ck1?upload", |_| raw(204, ""));
    let (result, _) = upload(script.clone(), data);
    assert_eq!(result.unwrap_err().code(), "IntegrityMismatch");
    assert!(script.steps.borrow().is_empty(), "1 try + 2 retries, then cancel");
}

#[test]
fn confirm_whose_reply_was_lost_is_recovered_from_the_task() {
    let data = b"abc";
    let crc = crate::checksum::crc64::checksum(data);
    let script = Rc::new(Script::default());
    script
        .expect(Method::Put, "/a.bin", |_| auth_reply())
        .expect(Method::Put, "/lib/-/obj", cos_ok(crc))
        .expect(Method::Post, "/ck1?confirm", |_| Err(Error::Network { message: "reset after commit".into() }.into()))
        .expect(Method::Post, "/ck1?confirm", |_| {
            json(409, serde_json::json!({"code": "UploadComplete", "message": "done", "requestId": "r"}))
        })
        .expect(Method::Get, "/ck1?upload", |_| {
            json(200, serde_json::json!({"confirmed": true, "path": ["a (1).bin"]}))
        })
        .expect(Method::Get, "/a%20%281%29.bin?info", move |_| {
            json(200, serde_json::json!({"path": ["a (1).bin"], "size": "3", "crc64": crc.to_string()}))
        });
    let (result, states) = upload(script.clone(), data);
    let result = result.unwrap();
    assert_eq!(result.file.path, "a (1).bin");
    assert_eq!(states.0.borrow().last(), Some(&UploadState::Done));
    assert!(script.steps.borrow().is_empty());
}

/// A source that only has a size (planning fails before any read).
struct Huge;
impl crate::platform::FileSource for Huge {
    fn size(&self) -> u64 {
        20_000 * 1024 * 1024 * 1024
    }
    fn read(&self, _: std::ops::Range<u64>) -> LocalBoxFuture<'_, Result<Vec<u8>>> {
        panic!("planning must fail before any read")
    }
    fn fingerprint(&self) -> String {
        "huge".into()
    }
}

#[test]
fn a_plan_error_is_reported_as_failed_without_any_request() {
    let mut config = config();
    config.part_size = Some(1024 * 1024);
    let uploader = Rc::new(
        SmhUploader::new(
            config,
            Rc::new(Script::default()),
            Rc::new(FakeTimer::default()),
            Tokens::fixed("t".into()),
            Rc::new(NoCheckpoints),
        )
        .unwrap(),
    );
    let states = Rc::new(States::default());
    let opts = UploadOptions {
        path: LibraryPath::parse("big.bin").unwrap(),
        conflict: Conflict::Rename,
        quick_upload: false,
        create_parents: false,
    };
    let result = futures::executor::block_on(run(uploader, Rc::new(Huge), opts, Control::new(), states.clone()));
    assert_eq!(result.unwrap_err().code(), "InvalidInput");
    assert_eq!(states.0.borrow().as_slice(), &[UploadState::Preparing, UploadState::Failed]);
}
