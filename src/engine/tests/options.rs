//! What the clients' constructors accept and refuse (the JS layer checks types and ranges
//! first; these are the checks only the engine makes).

use super::*;
use crate::cos::credentials::CredentialProvider;
use crate::engine::{CosConfig, DirectCosUploader};
use crate::json::Value;

/// `libraryId` and `spaceId` are each one segment of SMH's paths: blank ones (by Rust's
/// whitespace, which counts U+0085 and the JS layer's `trim` does not) and ones with `/`, `?`
/// or `#` are refused.
#[test]
fn ids_that_are_not_one_path_segment_are_invalid_input() {
    let new = |library_id: &str, space_id: &str| {
        let mut config = config();
        config.target.library_id = library_id.into();
        config.target.space_id = space_id.into();
        let store = Rc::new(NoCheckpoints);
        SmhUploader::new(
            config,
            Rc::new(Script::default()),
            Rc::new(FakeTimer::default()),
            Tokens::fixed("t".into()),
            store,
        )
    };
    for (library_id, space_id, option) in [
        (" \u{85}", "-", "libraryId"),
        ("a/b", "-", "libraryId"),
        ("a?", "-", "libraryId"),
        ("lib", "", "spaceId"),
        ("lib", "s#1", "spaceId"),
    ] {
        match new(library_id, space_id).map_err(|e| *e) {
            Err(Error::InvalidInput { option: o, .. }) => assert_eq!(o, option, "{library_id:?} {space_id:?}"),
            _ => panic!("{library_id:?} {space_id:?}: not refused"),
        }
    }
    assert!(new("lib-1", "space_2").is_ok());
}

/// Never asked: constructing an uploader sends nothing.
struct NoCredentials;
impl CredentialProvider for NoCredentials {
    fn fetch(&self) -> LocalBoxFuture<'static, Result<Value>> {
        panic!("credentials fetched by the constructor")
    }
}

fn cos_uploader(
    bucket: &str,
    region: &str,
    domain: Option<&str>,
    allowed: Option<&[&str]>,
) -> Result<DirectCosUploader> {
    let cos = CosConfig { bucket: bucket.into(), region: region.into(), domain: domain.map(String::from) };
    let mut config = config();
    config.allowed_domains = allowed.map(|list| list.iter().map(|d| d.to_string()).collect());
    let (http, timer) = (Rc::new(Script::default()), Rc::new(FakeTimer::default()));
    DirectCosUploader::new(cos, config, http, timer, Rc::new(NoCredentials), Rc::new(NoCheckpoints))
}

/// A bucket is `name-appid` and a region a name: letters, digits and `-`; the domain (the
/// bucket's official one unless given) must be one `allowedDomains` allows.
#[test]
fn cos_bucket_region_and_domain() {
    let origin = |u: DirectCosUploader| u.api.target.origin.base();
    let official = cos_uploader("B-1250000000", "ap-guangzhou", None, None).unwrap();
    assert_eq!(origin(official), "https://b-1250000000.cos.ap-guangzhou.myqcloud.com");
    let own = cos_uploader("b-1", "r", Some(" Cos.Example.com:8443 "), None).unwrap();
    assert_eq!(origin(own), "https://cos.example.com:8443");
    for (bucket, region, option) in [
        ("", "ap-guangzhou", "bucket"),
        (" b-1", "ap-guangzhou", "bucket"),
        ("b_1", "ap-guangzhou", "bucket"),
        ("b-1", "", "region"),
        ("b-1", "ap guangzhou", "region"),
        ("b-1", "\u{e9}", "region"),
    ] {
        match cos_uploader(bucket, region, None, None).map_err(|e| *e) {
            Err(Error::InvalidInput { option: o, .. }) => assert_eq!(o, option, "{bucket:?} {region:?}"),
            _ => panic!("{bucket:?} {region:?}: not refused"),
        }
    }
    let elsewhere = cos_uploader("b-1", "r", Some("cos.example.com"), Some(&["*.myqcloud.com"]));
    assert!(matches!(elsewhere.map_err(|e| *e), Err(Error::DomainNotAllowed { .. })));
    let not_a_host = cos_uploader("b-1", "r", Some("a.example.com/x"), Some(&["*.example.com"]));
    assert!(matches!(not_a_host.map_err(|e| *e), Err(Error::DomainNotAllowed { .. })));
    // Without allowedDomains, a domain that is no host is the domain option's error.
    for bad in ["a/b", "https://cos.example.com", "cos.example.com:x", ""] {
        match cos_uploader("b-1", "r", Some(bad), None).map_err(|e| *e) {
            Err(Error::InvalidInput { option, .. }) => assert_eq!(option, "domain", "{bad:?}"),
            _ => panic!("{bad:?}: not refused"),
        }
    }
}
