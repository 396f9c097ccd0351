//! The COS request signature (`q-sign-algorithm=sha1`, docs/cos-api.md §1.1), made in the client
//! with temporary credentials for the direct-COS mode.
//!
//! `SignKey = hex(HMAC-SHA1(SecretKey, KeyTime))`; `HttpString = method\npath\nparams\nheaders\n`
//! (the path raw UTF-8, parameters and headers lower-cased, RFC 3986-encoded and sorted);
//! `Signature = hex(HMAC-SHA1(SignKey, "sha1\nKeyTime\nhex(SHA1(HttpString))\n"))`. The security
//! token of temporary credentials is signed when present (as cos-python-sdk-v5 does; COS accepts
//! it signed or not).

use sha1::{Digest, Sha1};

use crate::checksum::hex;
use crate::text::{fill, trim, Arg};
use crate::vecmap::sort_by;

pub use crate::net::percent_encode as uri_encode;

fn hmac_hex(key: &[u8], message: &[u8]) -> String {
    // HMAC (RFC 2104) over SHA-1's one-shot digest, whose code the request hash links anyway:
    // H((K ^ opad) || H((K ^ ipad) || message)), K the key zero-padded to the 64-byte block
    // (hashed first when longer).
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..20].copy_from_slice(&Sha1::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let padded = |pad: u8, rest: &[u8]| {
        let mut bytes = block.map(|b| b ^ pad).to_vec();
        bytes.extend_from_slice(rest);
        bytes
    };
    let inner = Sha1::digest(padded(0x36, message).as_slice());
    hex(&Sha1::digest(padded(0x5c, &inner).as_slice()))
}

/// `k1=v1&k2=v2` and `k1;k2` of `pairs`: names lower-cased, both encoded, sorted by name.
fn canonical(pairs: &[(String, String)]) -> (String, String) {
    let mut encoded: Vec<(String, String)> =
        pairs.iter().map(|(k, v)| (uri_encode(k).to_ascii_lowercase(), uri_encode(trim(v)))).collect();
    sort_by(&mut encoded, |a, b| a < b);
    let (mut joined, mut names) = (String::new(), String::new());
    for (i, (k, v)) in encoded.iter().enumerate() {
        if i > 0 {
            joined.push('&');
            names.push(';');
        }
        joined.push_str(k);
        joined.push('=');
        joined.push_str(v);
        names.push_str(k);
    }
    (joined, names)
}

/// What one request signs.
#[derive(Debug, Clone)]
pub struct SignRequest<'a> {
    /// `PUT`, `POST`, … (case does not matter).
    pub method: &'a str,
    /// `/` + the object key, raw (not percent-encoded); `/` for bucket operations.
    pub path: &'a str,
    /// Query parameters, decoded (`uploads` → `("uploads", "")`).
    pub query: &'a [(String, String)],
    /// Headers to sign, `host` among them.
    pub headers: &'a [(String, String)],
}

/// The `Authorization` header value for `request`, valid from `start` to `end` (Unix seconds).
pub fn authorization(secret_id: &str, secret_key: &str, start: u64, end: u64, request: &SignRequest<'_>) -> String {
    let key_time = fill("{};{}", &[start.into(), end.into()]);
    let sign_key = hmac_hex(secret_key.as_bytes(), key_time.as_bytes());
    let (params, param_list) = canonical(request.query);
    let (headers, header_list) = canonical(request.headers);
    let method = request.method.to_ascii_lowercase();
    let http_string =
        fill("{}\n{}\n{}\n{}\n", &[(&method).into(), request.path.into(), (&params).into(), (&headers).into()]);
    let http_hash = hex(&Sha1::digest(http_string.as_bytes()));
    let string_to_sign = fill("sha1\n{}\n{}\n", &[(&key_time).into(), (&http_hash).into()]);
    let signature = hmac_hex(sign_key.as_bytes(), string_to_sign.as_bytes());
    let key_time = Arg::from(&key_time);
    fill(
        "q-sign-algorithm=sha1&q-ak={}&q-sign-time={}&q-key-time={}&q-header-list={}&q-url-param-list={}&q-signature={}",
        &[secret_id.into(), key_time, key_time, (&header_list).into(), (&param_list).into(), (&signature).into()],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // docs/cos-api.md §1.5: vectors produced by cos-python-sdk-v5 and cross-checked with the JS SDKs.
    const ID: &str = "AKIDEXAMPLEEXAMPLEEXAMPLEEXAMPLE1";
    const KEY: &str = "SecretKeyEXAMPLEEXAMPLEEXAMPLE12";
    const HOST: &str = "examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com";

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn sign(method: &str, path: &str, query: &[(&str, &str)], headers: &[(&str, &str)]) -> String {
        let (query, headers) = (pairs(query), pairs(headers));
        authorization(ID, KEY, 1699999940, 1700003600, &SignRequest { method, path, query: &query, headers: &headers })
    }

    #[test]
    fn sign_key_vector() {
        assert_eq!(hmac_hex(KEY.as_bytes(), b"1699999940;1700003600"), "4ce90e7572701d7a444dc7ffd294e874513dc6bc");
    }

    /// RFC 2202's HMAC-SHA1 cases 1 and 6 (a key longer than the block, hashed first).
    #[test]
    fn hmac_rfc2202() {
        assert_eq!(hmac_hex(&[0x0b; 20], b"Hi There"), "b617318655057264e28bc0b6fb378c8ef146be00");
        assert_eq!(
            hmac_hex(&[0xaa; 80], b"Test Using Larger Than Block-Size Key - Hash Key First"),
            "aa4ae5e15272d00e95705637ce8a3b55ed402112"
        );
    }

    #[test]
    fn v1_upload_part() {
        let upload_id = "1585130821cbb7df1d11846c073ad648e8f33b087cec2381df437acdc833cf654b9ecc6361";
        let auth = sign(
            "PUT",
            "/exampleobject.bin",
            &[("partNumber", "1"), ("uploadId", upload_id)],
            &[("Content-Length", "1048576"), ("Content-MD5", "u6JYGzVH0AfAqKW8aXW8cQ=="), ("Host", HOST)],
        );
        assert_eq!(auth, "q-sign-algorithm=sha1&q-ak=AKIDEXAMPLEEXAMPLEEXAMPLEEXAMPLE1&q-sign-time=1699999940;1700003600&q-key-time=1699999940;1700003600&q-header-list=content-length;content-md5;host&q-url-param-list=partnumber;uploadid&q-signature=97ce389e65891290669a9e3df20240de680e7130");
    }

    #[test]
    fn v2_utf8_key_metadata_and_security_token() {
        let auth = sign(
            "PUT",
            "/dir/中文 a.txt",
            &[],
            &[
                ("Content-Length", "13"),
                ("Content-Type", "text/plain"),
                ("x-cos-meta-author", "Jane Doe"),
                ("x-cos-security-token", "TOKEN/abc+def=="),
                ("Host", HOST),
            ],
        );
        assert!(auth.ends_with("&q-header-list=content-length;content-type;host;x-cos-meta-author;x-cos-security-token&q-url-param-list=&q-signature=8761e909c046304d8daf5cf70169fc4e5018f038"), "{auth}");
    }

    #[test]
    fn v3_initiate_multipart() {
        let auth = sign("POST", "/exampleobject.bin", &[("uploads", "")], &[("Content-Length", "0"), ("Host", HOST)]);
        assert!(auth.ends_with("&q-header-list=content-length;host&q-url-param-list=uploads&q-signature=a92305d3bcb91e3b95a40edf218cf93e38381ca0"), "{auth}");
    }

    #[test]
    fn v4_get_bucket() {
        let auth = sign("GET", "/", &[("prefix", "a/b"), ("max-keys", "10")], &[("Host", HOST)]);
        assert!(auth.ends_with("&q-header-list=host&q-url-param-list=max-keys;prefix&q-signature=1fc1b0a7767aee383cf921ba3794be4102325fb6"), "{auth}");
    }
}
