//! COS request signatures (`q-sign-algorithm=sha1`, docs/cos-api.md §1.1): the signer SMH uses for
//! the `Authorization` it hands out, and the pieces the cos origin verifies with.

use hmac::{Hmac, Mac};
use percent_encoding::{percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha1::{Digest as _, Sha1};

/// RFC 3986 unreserved characters stay; everything else (including `/`, space, `+`, `=`, `;`)
/// becomes `%XX` with uppercase hex (docs/cos-api.md §1.1 step 5).
const COS_ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// The COS URLEncode of docs/cos-api.md §1.1 step 5, over raw bytes (header values need not be UTF-8).
pub fn uri_encode(bytes: &[u8]) -> String {
    percent_encode(bytes, COS_ENCODE_SET).to_string()
}

/// `q-header-list`/`q-url-param-list` name of a header or query key: lowercase(URLEncode(name)).
pub fn list_name(name: &str) -> String {
    uri_encode(name.as_bytes()).to_lowercase()
}

/// Lowercase hex of HMAC-SHA1(`key`, `msg`).
pub fn hmac_sha1_hex(key: &[u8], msg: &[u8]) -> String {
    // HMAC accepts keys of any length, so this never fails.
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(msg);
    hex::encode(mac.finalize().into_bytes())
}

/// Canonical `(list, joined)` of already-encoded `(name', value')` pairs: sorted by name',
/// names joined with `;`, `name'=value'` joined with `&`.
pub fn canonical(mut pairs: Vec<(String, String)>) -> (String, String) {
    pairs.sort();
    let list = pairs.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(";");
    let joined = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    (list, joined)
}

/// The HttpString of docs/cos-api.md §1.1 step 6. `path` is the raw (decoded) key path with its leading `/`.
pub fn http_string(method: &str, path: &str, params: &str, headers: &str) -> String {
    format!("{}\n{path}\n{params}\n{headers}\n", method.to_ascii_lowercase())
}

/// The `q-signature` of `http_string` (docs/cos-api.md §1.1 steps 2, 7, 8): SignKey = hex(HMAC-SHA1(SecretKey,
/// key_time)), then hex(HMAC-SHA1(SignKey as hex text, StringToSign)).
pub fn signature(secret_key: &str, key_time: &str, sign_time: &str, http_string: &str) -> String {
    let sign_key = hmac_sha1_hex(secret_key.as_bytes(), key_time.as_bytes());
    let string_to_sign = format!("sha1\n{sign_time}\n{}\n", hex::encode(Sha1::digest(http_string.as_bytes())));
    hmac_sha1_hex(sign_key.as_bytes(), string_to_sign.as_bytes())
}

/// Encodes raw `(name, value)` pairs for the canonical lists.
fn encode_pairs(pairs: &[(String, String)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (list_name(k), uri_encode(v.as_bytes()))).collect()
}

/// A COS `Authorization` value (docs/cos-api.md §1.1 step 9) valid from `start` to `end` (Unix seconds).
///
/// `path` is the raw key path with its leading `/` (not percent-encoded); `params` and
/// `headers` are raw name/value pairs to sign (either may be empty: an `Authorization` signed
/// with both empty is valid for any query and headers of that method and path).
#[allow(clippy::too_many_arguments)]
pub fn sign_authorization(
    secret_id: &str,
    secret_key: &str,
    start: i64,
    end: i64,
    method: &str,
    path: &str,
    params: &[(String, String)],
    headers: &[(String, String)],
) -> String {
    let key_time = format!("{start};{end}");
    let (param_list, params) = canonical(encode_pairs(params));
    let (header_list, headers) = canonical(encode_pairs(headers));
    let sig = signature(secret_key, &key_time, &key_time, &http_string(method, path, &params, &headers));
    format!(
        "q-sign-algorithm=sha1&q-ak={secret_id}&q-sign-time={key_time}&q-key-time={key_time}\
         &q-header-list={header_list}&q-url-param-list={param_list}&q-signature={sig}"
    )
}

#[cfg(test)]
mod tests {
    //! Vectors V1–V4 and V2b of docs/cos-api.md §1.5, produced there by running cos-python-sdk-v5,
    //! cos-nodejs-sdk-v5 and cos-js-sdk-v5 (Tencent doc: https://cloud.tencent.com/document/product/436/7778).
    use super::*;

    pub(crate) const AK: &str = "AKIDEXAMPLEEXAMPLEEXAMPLEEXAMPLE1";
    pub(crate) const SK: &str = "SecretKeyEXAMPLEEXAMPLEEXAMPLE12";
    pub(crate) const HOST: &str = "examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com";
    const UPLOAD_ID: &str = "1585130821cbb7df1d11846c073ad648e8f33b087cec2381df437acdc833cf654b9ecc6361";

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn auth(ak_sig_lists: (&str, &str, &str)) -> String {
        let (headers, params, sig) = ak_sig_lists;
        format!(
            "q-sign-algorithm=sha1&q-ak={AK}&q-sign-time=1699999940;1700003600&q-key-time=1699999940;1700003600\
             &q-header-list={headers}&q-url-param-list={params}&q-signature={sig}"
        )
    }

    #[test]
    fn sign_key_matches_spec() {
        assert_eq!(hmac_sha1_hex(SK.as_bytes(), b"1699999940;1700003600"), "4ce90e7572701d7a444dc7ffd294e874513dc6bc");
    }

    #[test]
    fn v1_upload_part() {
        let got = sign_authorization(
            AK,
            SK,
            1699999940,
            1700003600,
            "PUT",
            "/exampleobject.bin",
            &pairs(&[("partNumber", "1"), ("uploadId", UPLOAD_ID)]),
            &pairs(&[("Content-Length", "1048576"), ("Content-MD5", "u6JYGzVH0AfAqKW8aXW8cQ=="), ("Host", HOST)]),
        );
        assert_eq!(
            got,
            auth((
                "content-length;content-md5;host",
                "partnumber;uploadid",
                "97ce389e65891290669a9e3df20240de680e7130"
            ))
        );
    }

    #[test]
    fn v2_put_object_utf8_key_meta_token() {
        let headers = [
            ("Content-Length", "13"),
            ("Content-Type", "text/plain"),
            ("x-cos-meta-author", "Jane Doe"),
            ("x-cos-security-token", "TOKEN/abc+def=="),
            ("Host", HOST),
        ];
        let http = http_string("put", "/dir/中文 a.txt", "", &canonical(encode_pairs(&pairs(&headers))).1);
        assert_eq!(hex::encode(Sha1::digest(http.as_bytes())), "7a5e9f5bee71b948a23c8350dd98ab476aa7fb70");
        let got = sign_authorization(AK, SK, 1699999940, 1700003600, "PUT", "/dir/中文 a.txt", &[], &pairs(&headers));
        assert_eq!(
            got,
            auth((
                "content-length;content-type;host;x-cos-meta-author;x-cos-security-token",
                "",
                "8761e909c046304d8daf5cf70169fc4e5018f038"
            ))
        );
        // V2b: cos-js-sdk-v5 leaves content-type out.
        let js: Vec<_> = headers.iter().copied().filter(|(k, _)| *k != "Content-Type").collect();
        let got = sign_authorization(AK, SK, 1699999940, 1700003600, "put", "/dir/中文 a.txt", &[], &pairs(&js));
        assert_eq!(
            got,
            auth((
                "content-length;host;x-cos-meta-author;x-cos-security-token",
                "",
                "d75a29df2a5e66fcdb64b67d4680b283e4709d3a"
            ))
        );
    }

    #[test]
    fn v3_initiate_multipart() {
        let got = sign_authorization(
            AK,
            SK,
            1699999940,
            1700003600,
            "POST",
            "/exampleobject.bin",
            &pairs(&[("uploads", "")]),
            &pairs(&[("Content-Length", "0"), ("Host", HOST)]),
        );
        assert_eq!(got, auth(("content-length;host", "uploads", "a92305d3bcb91e3b95a40edf218cf93e38381ca0")));
    }

    #[test]
    fn v4_get_bucket() {
        let params = pairs(&[("prefix", "a/b"), ("max-keys", "10")]);
        let http = http_string("get", "/", &canonical(encode_pairs(&params)).1, &format!("host={HOST}"));
        assert_eq!(hex::encode(Sha1::digest(http.as_bytes())), "28970335f7c9bdd549311664fee4e0668f7f46be");
        let got = sign_authorization(AK, SK, 1699999940, 1700003600, "GET", "/", &params, &pairs(&[("Host", HOST)]));
        assert_eq!(got, auth(("host", "max-keys;prefix", "1fc1b0a7767aee383cf921ba3794be4102325fb6")));
    }
}
