//! Store round trips on a temporary data directory.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::*;

fn open_temp() -> (Store, PathBuf) {
    let dir = std::env::temp_dir().join(format!("smh-store-test-{}", random_hex(8)));
    std::fs::create_dir_all(&dir).unwrap();
    let store = Store::open(Db::open(&dir).unwrap(), &dir).unwrap();
    (store, dir)
}

fn body(chunks: Vec<&'static [u8]>) -> BodyStream {
    Box::pin(futures_util::stream::iter(chunks.into_iter().map(|c| Ok(Bytes::from_static(c)))))
}

#[tokio::test]
async fn put_head_list_delete() {
    let (store, dir) = open_temp();
    let meta = store
        .put_object("a/b.txt", "text/plain", BTreeMap::new(), body(vec![b"hello ", b"world\n"]), 12, None)
        .await
        .unwrap();
    assert_eq!(meta.etag, "\"6f5902ac237024bdd0c176cb93063dc4\"");
    assert_eq!(meta.crc64, 14969823782951187105);
    assert_eq!(store.head("a/b.txt").unwrap().unwrap().size, 12);
    assert_eq!(store.list_objects("a/", "", 10).unwrap().len(), 1);
    assert!(store.list_objects("b", "", 10).unwrap().is_empty());
    // Short body: nothing stored, nothing left in tmp.
    let short = store.put_object("short", "x", BTreeMap::new(), body(vec![b"abc"]), 4, None).await;
    assert!(matches!(short, Err(StoreError::IncompleteBody)));
    assert!(store.head("short").unwrap().is_none());
    assert_eq!(std::fs::read_dir(store.tmp_dir()).unwrap().count(), 0);
    let bad = store.put_object("bad", "x", BTreeMap::new(), body(vec![b"abc"]), 3, Some([0; 16])).await;
    assert!(matches!(bad, Err(StoreError::BadDigest)));
    assert!(store.delete_object("a/b.txt").unwrap());
    assert!(!store.delete_object("a/b.txt").unwrap());
    assert_eq!(std::fs::read_dir(store.objects_dir()).unwrap().count(), 0);
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn multipart_complete_checks_crc_and_consumes() {
    let (store, dir) = open_temp();
    let id = store.initiate_multipart("m.bin", "application/x-test", BTreeMap::new()).unwrap();
    assert_eq!(id.len(), 64);
    let p2 = store.put_part(&id, 2, body(vec![b"world\n"]), 6, None).await.unwrap();
    let p1 = store.put_part(&id, 1, body(vec![b"hello "]), 6, None).await.unwrap();
    let parts = vec![(1, Some(p1.etag.clone())), (2, Some(p2.etag.clone()))];
    assert!(matches!(store.complete_multipart(&id, parts.clone(), 7, None).await, Err(StoreError::EntityTooSmall(1))));
    assert!(matches!(
        store.complete_multipart(&id, vec![(2, None), (1, None)], 1, None).await,
        Err(StoreError::InvalidPartOrder)
    ));
    assert!(matches!(
        store.complete_multipart(&id, vec![(1, None), (3, None)], 1, None).await,
        Err(StoreError::InvalidPart(3))
    ));
    match store.complete_multipart(&id, parts.clone(), 1, Some(1)).await {
        Err(StoreError::BadCrc64 { actual }) => assert_eq!(actual, 14969823782951187105),
        other => panic!("expected BadCrc64, got {other:?}"),
    }
    assert!(store.head("m.bin").unwrap().is_none());
    let meta = store.complete_multipart(&id, parts, 1, Some(14969823782951187105)).await.unwrap();
    assert_eq!(meta.size, 12);
    assert!(meta.etag.ends_with("-2\""));
    assert_eq!(meta.content_type, "application/x-test");
    assert!(store.list_parts(&id).unwrap().is_none());
    let (_, object) = store.open_object("m.bin").unwrap().unwrap();
    let mut bytes = String::new();
    std::io::Read::read_to_string(&mut object.into_reader(), &mut bytes).unwrap();
    assert_eq!(bytes, "hello world\n");
    assert!(matches!(store.put_part(&id, 1, body(vec![b"x"]), 1, None).await, Err(StoreError::NoSuchUpload)));
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn credentials_scope_and_revocation() {
    let (store, dir) = open_temp();
    let scope = CredentialScope { key: "k".into(), upload_id: None, owner: "o".into() };
    let c = store.mint_credential(scope.clone(), 600).unwrap();
    assert!(c.secret_id.starts_with("AKIDtmp"));
    let got = store.credential(&c.secret_id).unwrap().unwrap();
    assert_eq!(got.scope, scope);
    assert_eq!(got.token, c.token);
    store.revoke_credentials("o").unwrap();
    assert!(store.credential(&c.secret_id).unwrap().unwrap().expires < now_ms() / 1000);
    std::fs::remove_dir_all(dir).unwrap();
}
