//! A completed multipart object is stored as its parts' own files (hard-linked in order, never
//! copied): Complete copies no byte — checked on the storage layout, where the object's files
//! are the part files themselves (same inodes) and no whole-object file exists — its CRC-64 is
//! combined from the part CRCs, and every read sees one byte string: GET whole and ranged across
//! part boundaries, HEAD, after a restart, after a replacement; Complete of a subset of parts.

mod common;
mod cos_client;
mod support;

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use cos_client::*;
use reqwest::Method;

use common::{temp_dir, Devserver};

const MIB: usize = 1024 * 1024;

/// (name, inode, size, is_dir) of the entries of `dir`, sorted by name.
fn entries(dir: &Path) -> Vec<(String, u64, u64, bool)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| {
                let e = e.unwrap();
                let meta = e.metadata().unwrap();
                (e.file_name().to_string_lossy().into_owned(), meta.ino(), meta.len(), meta.is_dir())
            })
            .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Uploads `parts` as parts 1..=N of a new upload of `key`; returns (upload id, ETags, and the
/// inode of each part's file under `uploads/{id}/`, by part number order).
async fn upload_parts(cos: &Cos, data: &Path, key: &str, parts: &[Vec<u8>]) -> (String, Vec<(u32, String)>, Vec<u64>) {
    let upload_id = cos.initiate(key).await;
    let mut etags = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let r = cos.put_part(key, &upload_id, i as u32 + 1, part.clone()).await;
        assert_eq!(r.status(), 200);
        etags.push((i as u32 + 1, header(&r, "etag")));
    }
    // Part files are named `{number:05}-{random}`: sorted by name = by part number.
    let inodes = entries(&data.join("uploads").join(&upload_id)).into_iter().map(|(_, ino, _, _)| ino).collect();
    (upload_id, etags, inodes)
}

async fn get_range(cos: &Cos, key: &str, range: &str) -> (u16, String, Vec<u8>) {
    let r = cos.signed(Method::GET, key, &[], &[]).header("Range", range).send().await.unwrap();
    let status = r.status().as_u16();
    let content_range = r.headers().get("content-range").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, content_range, r.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn complete_links_the_part_files_and_every_read_concatenates_them() {
    let dir = temp_dir("multipart-objects");
    let mut server = Devserver::start_on(&dir, &[]);
    let cos = Cos::owner(&server);
    let key = "video/clip.bin";
    let parts = [data(MIB + 3, 1), data(MIB, 2), data(777, 3)];
    let whole = parts.concat();
    let (upload_id, etags, part_inodes) = upload_parts(&cos, &dir, key, &parts).await;
    assert_eq!(part_inodes.len(), 3);

    let r = cos.complete(key, &upload_id, &etags).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-cos-hash-crc64ecma"), crc64(&whole).to_string(), "CRC-64 combined from the parts");

    // Layout: one object, a directory whose files ARE the part files (same inodes, in order);
    // no file of the whole object's size was written anywhere; the upload's directory is gone.
    let objects = entries(&dir.join("objects"));
    assert_eq!(objects.len(), 1, "{objects:?}");
    assert!(objects[0].3, "a multipart object is a directory of segments: {objects:?}");
    let segments = entries(&dir.join("objects").join(&objects[0].0));
    let inodes: Vec<u64> = segments.iter().map(|s| s.1).collect();
    let sizes: Vec<u64> = segments.iter().map(|s| s.2).collect();
    assert_eq!(inodes, part_inodes, "Complete linked the part files, it did not copy them");
    assert_eq!(sizes, [MIB as u64 + 3, MIB as u64, 777]);
    assert!(entries(&dir.join("uploads")).is_empty());
    assert!(entries(&dir.join("tmp")).is_empty());

    // Whole GET and HEAD.
    let r = cos.get(key).await;
    assert_eq!((r.status().as_u16(), header(&r, "content-length")), (200, whole.len().to_string()));
    assert_eq!(header(&r, "x-cos-hash-crc64ecma"), crc64(&whole).to_string());
    assert_eq!(r.bytes().await.unwrap().to_vec(), whole);
    let r = cos.head(key).await;
    assert_eq!(header(&r, "content-length"), whole.len().to_string());

    // Ranges inside one part, across one boundary, across all three parts, at a boundary, suffix.
    let (b1, b2) = (MIB + 3, 2 * MIB + 3);
    let n = whole.len();
    for (first, last) in [(10, 99), (b1 - 5, b1 + 4), (b1 - 1, b2), (b1, b1), (b2, b2 + 776), (0, n - 1)] {
        let (status, content_range, body) = get_range(&cos, key, &format!("bytes={first}-{last}")).await;
        assert_eq!((status, content_range), (206, format!("bytes {first}-{last}/{n}")));
        assert_eq!(body, whole[first..=last], "bytes {first}-{last}");
    }
    let (status, content_range, body) = get_range(&cos, key, "bytes=-1000").await;
    assert_eq!((status, content_range), (206, format!("bytes {}-{}/{n}", n - 1000, n - 1)));
    assert_eq!(body, whole[n - 1000..]);
    let (status, _, body) = get_range(&cos, key, &format!("bytes={}-", b2 - 2)).await;
    assert_eq!((status, body), (206, whole[b2 - 2..].to_vec()));

    // The same after a restart (start-up keeps the object's directory).
    server.kill();
    let server = Devserver::start_on(&dir, &[]);
    let cos = Cos::owner(&server);
    assert_eq!(cos.get(key).await.bytes().await.unwrap().to_vec(), whole);
    let (_, _, body) = get_range(&cos, key, &format!("bytes={}-{}", b1 - 2, b1 + 1)).await;
    assert_eq!(body, whole[b1 - 2..=b1 + 1]);

    // Complete of parts 1 and 3 only: the object is part 1 ‖ part 3, part 2 is dropped.
    let other = "video/subset.bin";
    let (upload_id, etags, _) = upload_parts(&cos, &dir, other, &parts).await;
    let r = cos.complete(other, &upload_id, &[etags[0].clone(), etags[2].clone()]).await;
    assert_eq!(r.status(), 200);
    let subset = [parts[0].clone(), parts[2].clone()].concat();
    assert_eq!(header(&r, "x-cos-hash-crc64ecma"), crc64(&subset).to_string());
    assert_eq!(cos.get(other).await.bytes().await.unwrap().to_vec(), subset);
    assert!(entries(&dir.join("uploads")).is_empty(), "the unused part went with the upload");

    // A simple PUT replaces the multipart object: its directory is removed; DELETE removes all.
    assert_eq!(cos.put(key, b"small now".to_vec()).await.status(), 200);
    assert_eq!(cos.get(key).await.bytes().await.unwrap().to_vec(), b"small now");
    let objects = entries(&dir.join("objects"));
    assert_eq!(objects.iter().filter(|o| o.3).count(), 1, "only the subset object is segmented: {objects:?}");
    assert_eq!(cos.signed(Method::DELETE, key, &[], &[]).send().await.unwrap().status(), 204);
    assert_eq!(cos.signed(Method::DELETE, other, &[], &[]).send().await.unwrap().status(), 204);
    assert!(entries(&dir.join("objects")).is_empty());
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
