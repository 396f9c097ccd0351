//! Hostile and broken replies: every parser of what a server sends — SMH JSON bodies (begin,
//! renew, confirm, info, query and error replies), COS ListParts, CompleteMultipartUpload and
//! error XML replies (through the real COS client), header values, ISO-8601 dates
//! and numbers — is fed generated input from a fixed seed: random bytes, every truncation,
//! multi-byte characters and invalid UTF-8 at every position, deep nesting, huge, negative and
//! fractional numbers, and every field swapped for a value of the wrong type or an absurd one.
//!
//! The properties: nothing panics; a 2xx reply the protocol does not allow is a typed
//! `InvalidResponse` (never `Ok` with absurd values, never another kind); an error reply is the
//! server's typed error or `InvalidResponse`; no message repeats the access token or a header
//! value. Each test prints how many cases it ran.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::time::Duration;

use futures::executor::block_on;
use smh_upload::cos::api::{Completed, CosApi, CosTarget};
use smh_upload::cos::credentials::{CredentialCache, CredentialProvider};
use smh_upload::cos::domain::AllowList;
use smh_upload::cos::put::check_put_reply;
use smh_upload::date::parse_iso8601_ms;
use smh_upload::engine::RetryConfig;
use smh_upload::json::{self, Value};
use smh_upload::platform::{Http, HttpRequest, HttpResponse, LocalBoxFuture, Timer};
use smh_upload::smh::types::MAX_SIZE;
use smh_upload::smh::{Begin, Conflict, LibraryPath, SmhApi, SmhTarget, Tokens, UploadKind};
use smh_upload::Error;

/// The access token of every call; it must never appear in an error message.
const TOKEN: &str = "tok-SECRET-4f1c";

// ---- a deterministic generator --------------------------------------------------------------

/// splitmix64: small, fast, and the same sequence on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn bytes(&mut self, max_len: usize) -> Vec<u8> {
        let len = self.below(max_len + 1);
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// Pieces inserted at every position of a valid reply: multi-byte characters, a BOM, invalid
/// UTF-8 (a lone lead byte, a lone continuation byte, an encoded surrogate, an overlong form),
/// and JSON/XML syntax characters.
const INSERTS: &[&[u8]] = &[
    "é".as_bytes(),
    "中".as_bytes(),
    "😀".as_bytes(),
    "\u{feff}".as_bytes(),
    b"\xff",
    b"\xc3",
    b"\x80",
    b"\xed\xa0\x80",
    b"\xc0\xaf",
    b"\0",
    b"\"",
    b"\\",
    b"{",
    b"]",
    b"<",
    b"&",
];

/// Hostile values put in place of each value of a valid JSON reply (as raw JSON text).
fn hostile_values() -> Vec<String> {
    let mut values: Vec<String> = [
        "null",
        "true",
        "0",
        "-1",
        "\"-1\"",
        "1.5",
        "\"1.5\"",
        "1e3",
        "1e999999",
        "-0",
        "9007199254740991",
        "9007199254740992",
        "\"9007199254740992\"",
        "18446744073709551615",
        "18446744073709551616",
        "\"18446744073709551616\"",
        "123456789012345678901234567890123456789",
        "\"\"",
        "\" 12\"",
        "\"+12\"",
        "[]",
        "{}",
        "[1,2]",
        "{\"a\":1}",
        "\"\\ud800\"",
        "\"\\udc00\\ud800\"",
        "\"\\u0000\"",
        "\"a\\r\\nb\"",
        "\"é中😀\"",
        "\"\\u00ff\\u0100\"",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    values.push("[".repeat(json::MAX_DEPTH + 1) + &"]".repeat(json::MAX_DEPTH + 1));
    values.push("[".repeat(10_000));
    values.push(format!("\"{}\"", "x".repeat(100_000)));
    values.push("9".repeat(5_000));
    values
}

/// Every way of damaging `seed`: each truncation, each [`INSERTS`] piece at each position,
/// `random` single-byte replacements and splices, and (for JSON) each value replaced by each
/// of [`hostile_values`] and each member dropped.
fn mutants(seed: &str, rng: &mut Rng, random: usize) -> Vec<Vec<u8>> {
    let bytes = seed.as_bytes();
    let mut out = Vec::new();
    for i in 0..bytes.len() {
        out.push(bytes[..i].to_vec());
        for insert in INSERTS {
            let mut m = bytes[..i].to_vec();
            m.extend_from_slice(insert);
            m.extend_from_slice(&bytes[i..]);
            out.push(m);
        }
    }
    for _ in 0..random {
        let mut m = bytes.to_vec();
        let i = rng.below(m.len());
        if rng.below(2) == 0 {
            m[i] = rng.next() as u8;
        } else {
            let j = rng.below(m.len());
            let (a, b) = (i.min(j), i.max(j));
            let piece = m[a..b].to_vec();
            let at = rng.below(m.len());
            m.splice(at..at, piece);
        }
        out.push(m);
    }
    if let Ok(tree) = json::parse(bytes) {
        let holes = count_values(&tree);
        for hole in 0..holes {
            for value in hostile_values() {
                out.push(replace_value(&tree, hole, Some(&value)).into_bytes());
            }
            out.push(replace_value(&tree, hole, None).into_bytes());
        }
    }
    out
}

fn count_values(v: &Value) -> usize {
    1 + match v {
        Value::Array(items) => items.iter().map(count_values).sum(),
        Value::Object(members) => members.iter().map(|(_, v)| count_values(v)).sum(),
        _ => 0,
    }
}

/// `tree` written as JSON with its `hole`-th value (pre-order, the root is 0) replaced by the
/// raw text `with`, or dropped (a member or an item) when `with` is `None`.
fn replace_value(tree: &Value, hole: usize, with: Option<&str>) -> String {
    const MARK: &str = "\u{1}HOLE\u{1}";
    fn walk(v: &Value, hole: usize, n: &mut usize, drop: bool) -> Option<Value> {
        let here = *n;
        *n += 1;
        if here == hole {
            return if drop { None } else { Some(Value::from(MARK)) };
        }
        Some(match v {
            Value::Array(items) => Value::Array(items.iter().filter_map(|i| walk(i, hole, n, drop)).collect()),
            Value::Object(members) => {
                Value::Object(members.iter().filter_map(|(k, v)| Some((k.clone(), walk(v, hole, n, drop)?))).collect())
            }
            other => other.clone(),
        })
    }
    let replaced = walk(tree, hole, &mut 0, with.is_none()).unwrap_or(Value::Null);
    replaced.to_json().replace(&Value::from(MARK).to_json(), with.unwrap_or("null"))
}

/// Runs `check` on every input, catching panics; fails listing the first offenders.
fn run_cases(what: &str, inputs: &[Vec<u8>], mut check: impl FnMut(&[u8]) -> Result<(), String>) -> usize {
    let mut failures = Vec::new();
    for input in inputs {
        match catch_unwind(AssertUnwindSafe(|| check(input))) {
            Ok(Ok(())) => {}
            Ok(Err(why)) => failures.push(format!("{why}: {:?}", show(input))),
            Err(_) => failures.push(format!("PANIC on {:?}", show(input))),
        }
    }
    assert!(
        failures.is_empty(),
        "{what}: {} of {} cases failed, e.g.:\n{}",
        failures.len(),
        inputs.len(),
        failures[..failures.len().min(10)].join("\n")
    );
    println!("{what}: {} cases, no panic", inputs.len());
    inputs.len()
}

fn show(input: &[u8]) -> String {
    let text = String::from_utf8_lossy(input);
    if text.chars().count() > 200 {
        text.chars().take(200).collect::<String>() + "…"
    } else {
        text.into_owned()
    }
}

// ---- SMH replies through the real API client ------------------------------------------------

/// Answers every request with one canned reply.
struct Canned(RefCell<Option<HttpResponse>>);

impl Http for Canned {
    fn send(&self, _request: HttpRequest) -> LocalBoxFuture<'_, smh_upload::Result<HttpResponse>> {
        let reply = self.0.borrow().clone();
        Box::pin(async move { reply.ok_or_else(|| Error::Network { message: "no reply".into() }.into()) })
    }
}

/// A clock whose timers never fire (no call here waits: retries are off).
struct Frozen;

impl Timer for Frozen {
    fn sleep(&self, _duration: Duration) -> LocalBoxFuture<'static, ()> {
        Box::pin(futures::future::pending())
    }
    fn now_ms(&self) -> f64 {
        0.0
    }
    fn unix_ms(&self) -> f64 {
        1_700_000_000_000.0
    }
}

fn api(http: Rc<Canned>) -> SmhApi {
    let retry = RetryConfig { max_retries: 0, ..RetryConfig::default() };
    SmhApi {
        http,
        timer: Rc::new(Frozen),
        tokens: Tokens::fixed(TOKEN.to_string()),
        target: SmhTarget {
            base_url: "https://smh.test".into(),
            library_id: "lib".into(),
            space_id: "-".into(),
            user_id: None,
        },
        retry,
    }
}

/// The SMH calls whose replies are parsed.
#[derive(Clone, Copy, Debug)]
enum Call {
    Begin,
    Renew,
    Confirm,
    Info,
    Query,
    Cancel,
}

/// What one call made of one reply: `Ok(description)` or the error.
fn call(call: Call, status: u16, body: &[u8]) -> smh_upload::Result<String> {
    let http = Rc::new(Canned(RefCell::new(Some(HttpResponse {
        status,
        headers: vec![("x-request-id".into(), "hdr-id".into())],
        body: body.to_vec(),
    }))));
    let api = api(http);
    let path = LibraryPath::parse("dir/a.bin")?;
    block_on(async {
        Ok(match call {
            Call::Begin => match api.begin(&path, UploadKind::Multipart, 12, Conflict::Rename, None, None).await? {
                Begin::Upload(auth) => {
                    check_auth(&auth)?;
                    "upload".to_string()
                }
                Begin::QuickCandidate => "candidate".to_string(),
                Begin::Instant(file) => check_size(file.size)?,
            },
            Call::Renew => {
                check_auth(&*api.renew("ck").await?)?;
                "renewed".to_string()
            }
            Call::Confirm => {
                check_size(api.confirm("ck", 7, Conflict::Rename, std::time::Duration::from_secs(30)).await?.size)?
            }
            Call::Info => check_size(api.info(&path).await?.size)?,
            Call::Query => api.query("ck").await?.to_json(),
            Call::Cancel => api.cancel("ck").await.map(|()| "cancelled".to_string())?,
        })
    })
}

/// An accepted file size must be one a JS number holds exactly.
fn check_size(size: Option<u64>) -> smh_upload::Result<String> {
    match size {
        Some(n) if n > MAX_SIZE => Err(Error::Network { message: format!("ACCEPTED absurd size {n}") }.into()),
        _ => Ok("file".into()),
    }
}

/// Accepted upload headers must be sendable: no control characters, nothing beyond Latin-1.
fn check_auth(auth: &smh_upload::smh::UploadAuth) -> smh_upload::Result<()> {
    let bad = auth.headers.values().any(|v| v.chars().any(|c| (c < ' ' && c != '\t') || c == '\u{7f}' || c > '\u{ff}'));
    if bad {
        return Err(Error::Network { message: "ACCEPTED an unsendable header value".into() }.into());
    }
    Ok(())
}

/// The properties of one SMH reply's outcome (see the module doc).
fn smh_property(what: Call, status: u16, body: &[u8]) -> Result<(), String> {
    let outcome = call(what, status, body);
    if let Err(e) = &outcome {
        let message = e.to_string();
        if message.contains(TOKEN) || message.contains("SIG-SECRET") {
            return Err(format!("secret in the message {message:?}"));
        }
    }
    match (status, outcome.map_err(|e| *e)) {
        (200..=299, Ok(_)) => Ok(()),
        (200..=299, Err(Error::InvalidResponse { status: s, .. })) if s == status => Ok(()),
        (400..=599, Err(Error::Smh { status: s, .. } | Error::InvalidResponse { status: s, .. })) if s == status => {
            Ok(())
        }
        (_, other) => Err(format!("{what:?} {status}: {other:?}")),
    }
}

const BEGIN_201: &str = r#"{"domain":"examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com","path":"/dir/a.bin","uploadId":"1585130821cbb7df1d11846c073ad648","headers":{"Authorization":"q-sign-algorithm=sha1&q-ak=AKID&q-sign-time=1;2&q-signature=SIG-SECRET-77","x-cos-security-token":"sectok"},"confirmKey":"ck1","expiration":"2026-01-01T00:00:00.000Z"}"#;
const FILE_200: &str = r#"{"path":["dir","a (1).bin"],"name":"a (1).bin","type":"file","creationTime":"2026-01-01T00:00:00+08:00","size":"12","crc64":"14969823782951187105","eTag":"\"5d41\"","isOverwritten":false}"#;
const QUERY_200: &str = r#"{"confirmed":false,"parts":[{"PartNumber":1,"Size":"1048576","ETag":"\"e1\""},{"PartNumber":"2","Size":5}],"expiration":"2026-01-01T00:00:00Z"}"#;
const ERROR_REPLY: &str =
    r#"{"code":"InvalidAccessToken","message":"access token tok-SECRET-4f1c expired","requestId":"NjA4YjNfMjQ4"}"#;

#[test]
fn valid_smh_replies_are_read() {
    assert_eq!(call(Call::Begin, 201, BEGIN_201.as_bytes()).unwrap(), "upload");
    assert_eq!(call(Call::Begin, 202, b"").unwrap(), "candidate");
    assert_eq!(call(Call::Begin, 200, FILE_200.as_bytes()).unwrap(), "file");
    assert_eq!(call(Call::Renew, 200, BEGIN_201.as_bytes()).unwrap(), "renewed");
    assert_eq!(call(Call::Confirm, 200, FILE_200.as_bytes()).unwrap(), "file");
    assert_eq!(call(Call::Info, 200, FILE_200.as_bytes()).unwrap(), "file");
    assert!(call(Call::Query, 200, QUERY_200.as_bytes()).unwrap().contains("\"PartNumber\":1"));
    match call(Call::Confirm, 403, ERROR_REPLY.as_bytes()).map_err(|e| *e) {
        Err(Error::Smh { status: 403, code, message, request_id }) => {
            assert_eq!((code.as_str(), request_id.as_deref()), ("InvalidAccessToken", Some("NjA4YjNfMjQ4")));
            assert!(!message.contains(TOKEN), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn mutated_smh_replies_are_typed_errors_never_panics() {
    let mut rng = Rng(0x5EED_0001);
    let mut total = 0;
    let cases: [(Call, &[u16], &str); 7] = [
        (Call::Begin, &[201], BEGIN_201),
        (Call::Begin, &[200], FILE_200),
        (Call::Renew, &[200], BEGIN_201),
        (Call::Confirm, &[200], FILE_200),
        (Call::Info, &[200], FILE_200),
        (Call::Query, &[200], QUERY_200),
        (Call::Cancel, &[400, 403, 404, 409, 429, 500, 503], ERROR_REPLY),
    ];
    for (what, statuses, seed) in cases {
        let inputs = mutants(seed, &mut rng, 2_000);
        total +=
            run_cases(&format!("SMH {what:?} reply"), &inputs, |body| smh_property(what, *rng.pick(statuses), body));
    }
    // Error replies of the other calls, and the 2xx calls answered with garbage.
    let mut garbage: Vec<Vec<u8>> = (0..3_000).map(|_| rng.bytes(64)).collect();
    garbage.extend(
        ["", "null", "[]", "\"x\"", "{\"code\":5}", "{\"code\":\"\"}", "<html>502</html>"]
            .map(|s| s.as_bytes().to_vec()),
    );
    for what in [Call::Begin, Call::Renew, Call::Confirm, Call::Info, Call::Query, Call::Cancel] {
        total += run_cases(&format!("SMH {what:?} random bytes"), &garbage, |body| {
            let status = *rng.pick(&[200, 201, 202, 204, 400, 403, 404, 409, 500, 502, 503]);
            smh_property(what, status, body)
        });
    }
    println!("SMH replies: {total} cases in all");
}

// ---- the JSON reader itself ------------------------------------------------------------------

#[test]
fn json_reader_round_trips_or_refuses() {
    let mut rng = Rng(0x5EED_0002);
    let mut inputs: Vec<Vec<u8>> = (0..20_000).map(|_| rng.bytes(48)).collect();
    // Random bytes rarely form JSON: also random sequences of JSON tokens.
    const TOKENS: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"a\"",
        "\"\\u00e9\"",
        "\"\\ud83d\\ude00\"",
        "1",
        "-0.5e-3",
        "true",
        "null",
        " ",
        "\"",
        "\\",
    ];
    for _ in 0..20_000 {
        let n = rng.below(12);
        inputs.push((0..n).map(|_| *rng.pick(TOKENS)).collect::<String>().into_bytes());
    }
    for seed in [BEGIN_201, FILE_200, QUERY_200, ERROR_REPLY] {
        inputs.extend(mutants(seed, &mut rng, 500));
    }
    run_cases("JSON reader", &inputs, |input| match json::parse(input) {
        Err(e) if e.offset.is_some_and(|at| at <= input.len()) || e.reason == "input too large" => Ok(()),
        Err(e) => Err(format!("offset {:?} beyond the input", e.offset)),
        Ok(v) => {
            // What was read is written back as JSON that reads as the same value.
            let again = json::parse(v.to_json().as_bytes()).map_err(|e| format!("rewritten text unreadable: {e:?}"))?;
            (again == v).then_some(()).ok_or_else(|| "round trip changed the value".to_string())
        }
    });
}

#[test]
fn json_integers_are_exact_and_bounded() {
    let mut rng = Rng(0x5EED_0003);
    let mut cases = 0;
    for _ in 0..20_000 {
        let n = rng.next() >> rng.below(64);
        let text = n.to_string();
        assert_eq!(json::parse(text.as_bytes()).unwrap().as_u64(), Some(n));
        assert_eq!(json::parse(format!("\"{text}\"").as_bytes()).unwrap().to_u64(), Some(n));
        assert_eq!(json::u64_to_string(n), text);
        // Past u64, negative, fractional or exponent forms are not integers.
        let over = (u128::from(n) + (1u128 << 64)).to_string();
        for not in [over, format!("-{text}"), format!("{text}.0"), format!("{text}e0")] {
            let v = json::parse(not.as_bytes()).unwrap();
            assert_eq!(v.as_u64(), None, "{not}");
        }
        cases += 1;
    }
    println!("JSON integers: {cases} cases");
}

// ---- COS replies through the real API client ------------------------------------------------

/// The session token the COS client signs with; no error message may quote it.
const COS_TOKEN: &str = "sessionTOKENx9f3a7c1e5b2d8406f1a3c5e7";

/// Temporary keys that never expire (the frozen clock is at 1.7e12 ms).
struct Keys;

impl CredentialProvider for Keys {
    fn fetch(&self) -> LocalBoxFuture<'static, smh_upload::Result<Value>> {
        let keys = format!(
            r#"{{"tmpSecretId":"AKIDtest","tmpSecretKey":"SECRETkey","sessionToken":"{COS_TOKEN}","expiredTime":4000000000}}"#
        );
        Box::pin(async move { Ok(json::parse(keys.as_bytes()).expect("valid keys")) })
    }
}

/// A COS client whose every request gets `reply`, with no retries.
fn cos_api(reply: HttpResponse) -> CosApi {
    let origin = AllowList::parse(&["*.myqcloud.com"])
        .unwrap()
        .check("examplebucket-1250000000.cos.ap-beijing.myqcloud.com")
        .unwrap();
    CosApi {
        http: Rc::new(Canned(RefCell::new(Some(reply)))),
        timer: Rc::new(Frozen),
        target: CosTarget { bucket: "examplebucket-1250000000".into(), region: "ap-beijing".into(), origin },
        credentials: CredentialCache::new(Rc::new(Keys)),
        retry: RetryConfig { max_retries: 0, ..RetryConfig::default() },
    }
}

fn cos_reply(status: u16, body: &[u8]) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![("x-cos-request-id".into(), "hdr".into()), ("x-cos-hash-crc64ecma".into(), "42".into())],
        body: body.to_vec(),
    }
}

/// ListParts (every page) of one upload, answered with `body`.
fn list_parts(status: u16, body: &[u8]) -> smh_upload::Result<Vec<(u32, u64, String)>> {
    let api = cos_api(cos_reply(status, body));
    let parts = block_on(api.list_parts("dir/a.bin", "up1"))?;
    Ok(parts.iter().map(|(n, p)| (*n, p.size, p.etag.clone())).collect())
}

/// CompleteMultipartUpload of two parts, answered with `body`.
fn complete(status: u16, body: &[u8]) -> smh_upload::Result<Completed> {
    let api = cos_api(cos_reply(status, body));
    block_on(api.complete("dir/a.bin", "up1", &[(1, "\"e1\"".into()), (2, "\"e2\"".into())], Duration::from_secs(30)))
}

/// What every COS reply must come to: a 2xx reply is read (only when it is the document the call
/// expects) or is `InvalidResponse`, or COS's error when the 200 carries an `<Error>` (COS does
/// that for CompleteMultipartUpload); an error reply is COS's error with its status; no message
/// quotes the session token.
fn cos_property<T: std::fmt::Debug>(
    status: u16,
    body: &[u8],
    document: &str,
    outcome: smh_upload::Result<T>,
) -> Result<(), String> {
    if let Err(e) = &outcome {
        let message = e.to_string();
        if message.contains(COS_TOKEN) || message.contains("SECRETkey") {
            return Err(format!("secret in the message {message:?}"));
        }
    }
    let text = String::from_utf8_lossy(body);
    match (status, outcome.map_err(|e| *e)) {
        (200..=299, Ok(_)) if text.contains(document) => Ok(()),
        (200..=299, Err(Error::InvalidResponse { status: s, .. })) if s == status => Ok(()),
        (200..=299, Err(Error::Cos { status: s, .. })) if s == status && text.contains("<Error>") => Ok(()),
        (400..=599, Err(Error::Cos { status: s, .. } | Error::InvalidResponse { status: s, .. })) if s == status => {
            Ok(())
        }
        (_, other) => Err(format!("{status}: {other:?}")),
    }
}

const LIST_PARTS_200: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListPartsResult><Bucket>examplebucket-1250000000</Bucket><Key>dir/a.bin</Key><UploadId>up1</UploadId><PartNumberMarker>0</PartNumberMarker><NextPartNumberMarker>2</NextPartNumberMarker><MaxParts>1000</MaxParts><IsTruncated>false</IsTruncated><Part><PartNumber>1</PartNumber><LastModified>2026-01-01T00:00:00.000Z</LastModified><ETag>&quot;e1&quot;</ETag><Size>1048576</Size></Part><Part><PartNumber>2</PartNumber><ETag>\"e2\"</ETag><Size>12</Size></Part></ListPartsResult>";
const COMPLETE_200: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUploadResult><Location>examplebucket-1250000000.cos.ap-beijing.myqcloud.com/dir/a.bin</Location><Bucket>examplebucket-1250000000</Bucket><Key>dir/a.bin</Key><ETag>&quot;3f2a-2&quot;</ETag></CompleteMultipartUploadResult>";
/// An error whose message quotes the session token, as a proxy might.
const COS_ERROR: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>\n  <Code>NoSuchUpload</Code>\n  <Message>The specified upload does not exist &amp; never did (token sessionTOKENx9f3a7c1e5b2d8406f1a3c5e7).</Message>\n  <Resource>examplebucket-1250000000.cos.ap-beijing.myqcloud.com/a.bin</Resource>\n  <RequestId>NTk0MzY4YjNf</RequestId>\n</Error>";

#[test]
fn valid_cos_replies_are_read() {
    assert_eq!(
        list_parts(200, LIST_PARTS_200.as_bytes()).unwrap(),
        vec![(1, 1_048_576, "\"e1\"".to_string()), (2, 12, "\"e2\"".to_string())]
    );
    let done = complete(200, COMPLETE_200.as_bytes()).unwrap();
    assert_eq!((done.etag.as_deref(), done.crc64), (Some("\"3f2a-2\""), Some(42)));
    // COS's 200 that carries an error (after keeping the connection alive with whitespace).
    let late = format!("\n  \n{COS_ERROR}");
    assert!(
        matches!(complete(200, late.as_bytes()).map_err(|e| *e), Err(Error::Cos { code, .. }) if code == "NoSuchUpload")
    );
    match list_parts(404, COS_ERROR.as_bytes()).map_err(|e| *e) {
        Err(Error::Cos { status: 404, code, message, request_id: Some(id) }) => {
            assert_eq!((code.as_str(), id.as_str()), ("NoSuchUpload", "NTk0MzY4YjNf"));
            assert!(message.starts_with("The specified upload does not exist & never did"), "{message}");
            assert!(!message.contains(COS_TOKEN), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn mutated_cos_replies_are_typed_errors_never_panics() {
    let mut rng = Rng(0x5EED_0004);
    let mut total = 0;
    let list = mutants(LIST_PARTS_200, &mut rng, 2_000);
    total += run_cases("COS ListParts reply", &list, |body| {
        cos_property(200, body, "<ListPartsResult", list_parts(200, body))
    });
    let done = mutants(COMPLETE_200, &mut rng, 2_000);
    total += run_cases("COS CompleteMultipartUpload reply", &done, |body| {
        cos_property(200, body, "<CompleteMultipartUploadResult", complete(200, body))
    });
    // Error replies (and an error in a 200), damaged, and random bytes at every status.
    let mut errors = mutants(COS_ERROR, &mut rng, 2_000);
    errors.extend((0..3_000).map(|_| rng.bytes(64)));
    errors.extend(
        ["", "<Error>", "<Code>", "<Code></Code>", "</Code><Code>", "<Code>&amp;</Code>", "<Code>a<Code>b</Code>"]
            .map(|s| s.as_bytes().to_vec()),
    );
    errors.push(format!("<Error><Code>{}</Code></Error>", "<".repeat(50_000)).into_bytes());
    total += run_cases("COS error replies", &errors, |body| {
        let status = *rng.pick(&[200, 400, 403, 404, 409, 500, 503]);
        cos_property(status, body, "<ListPartsResult", list_parts(status, body))?;
        cos_property(status, body, "<CompleteMultipartUploadResult", complete(status, body))
    });
    println!("COS replies: {total} cases in all");
}

#[test]
fn cos_put_reply_headers_never_panic() {
    let mut rng = Rng(0x5EED_0005);
    let sent: u64 = 14_969_823_782_951_187_105;
    let mut values = mutants(&sent.to_string(), &mut rng, 3_000);
    values.extend((0..3_000).map(|_| rng.bytes(24)));
    values.extend(["", " ", "-1", "18446744073709551616", "1e3", "0x10"].map(|s| s.as_bytes().to_vec()));
    run_cases("COS PUT reply headers", &values, |value| {
        // Header values reach the engine as strings (the platform decodes them).
        let value = String::from_utf8_lossy(value).into_owned();
        let resp = HttpResponse {
            status: 200,
            headers: vec![("x-cos-hash-crc64ecma".into(), value.clone()), ("etag".into(), value.clone())],
            body: vec![],
        };
        let matches = value.trim().parse::<u64>() == Ok(sent);
        match check_put_reply(&resp, sent).map_err(|e| *e) {
            Ok(stored) if matches && stored.crc_checked => Ok(()),
            Err(Error::IntegrityMismatch { .. }) if !matches => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
}

// ---- ISO-8601 dates --------------------------------------------------------------------------

/// Unix milliseconds of a date and time at a UTC offset, counted the slow way (an independent
/// check of the parser's days-from-civil arithmetic).
fn reference_ms((y, mo, d): (i64, i64, i64), (h, mi, s, ms): (i64, i64, i64, i64), offset_min: i64) -> f64 {
    let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days =
        |y: i64, m: i64| [31, if leap(y) { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][(m - 1) as usize];
    let mut days = 0;
    for year in 1970..y {
        days += if leap(year) { 366 } else { 365 };
    }
    for m in 1..mo {
        days += month_days(y, m);
    }
    days += d - 1;
    (((days * 24 + h) * 60 + mi - offset_min) * 60 + s) as f64 * 1000.0 + ms as f64
}

#[test]
fn iso8601_dates_are_exact_or_refused() {
    let mut rng = Rng(0x5EED_0006);
    let mut cases = 0;
    for _ in 0..20_000 {
        let y = 1970 + rng.below(1030) as i64;
        let mo = 1 + rng.below(12) as i64;
        let d = 1 + rng.below(28) as i64;
        let (h, mi, s, ms) = (rng.below(24) as i64, rng.below(60) as i64, rng.below(60) as i64, rng.below(1000) as i64);
        let off = rng.below(24 * 60) as i64 * if rng.below(2) == 0 { 1 } else { -1 };
        let zone = match rng.below(4) {
            0 => (String::from("Z"), 0),
            1 => (format!("{}{:02}:{:02}", if off < 0 { '-' } else { '+' }, off.abs() / 60, off.abs() % 60), off),
            2 => (format!("{}{:02}{:02}", if off < 0 { '-' } else { '+' }, off.abs() / 60, off.abs() % 60), off),
            _ => (String::new(), 0),
        };
        let text = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}{}", zone.0);
        assert_eq!(parse_iso8601_ms(&text), Some(reference_ms((y, mo, d), (h, mi, s, ms), zone.1)), "{text}");
        cases += 1;
    }
    println!("ISO-8601 valid dates: {cases} cases");
    let mut inputs = Vec::new();
    for seed in ["2026-01-01T00:00:00+08:00", "2021-01-01T00:15:00.000Z", "2024-02-29T12:00:00.5-0330"] {
        inputs.extend(mutants(seed, &mut rng, 2_000));
    }
    inputs.extend((0..5_000).map(|_| rng.bytes(32)));
    inputs.push("2026-01-01T00:00:00+0é:00".as_bytes().to_vec());
    run_cases("ISO-8601 dates", &inputs, |input| {
        let text = String::from_utf8_lossy(input);
        match parse_iso8601_ms(&text) {
            Some(ms) if !ms.is_finite() || ms.fract() != 0.0 => Err(format!("not a whole number of ms: {ms}")),
            _ => Ok(()),
        }
    });
}
