"""Interop: Tencent's unmodified cos-python-sdk-v5 against smh-devserver's cos origin, with
signature checking on (the fidelity proof of the COS imitation, docs/cos-api.md §9.3).

Run: SMH_DEVSERVER_BIN=target/debug/smh-devserver target/pyenv/bin/pytest tests/interop/test_cos_python.py
The SDK talks to 127.0.0.1:P with the bucket in the Host header (CosConfig IP=/Port= mode).
"""

import hashlib
import os

import pytest
from qcloud_cos import CosConfig, CosS3Client
from qcloud_cos.cos_exception import CosServiceError

# CRC-64/XZ as cos-python-sdk-v5's own download checker builds it (docs/cos-api.md §3); independent
# of the server's Rust implementation.
from cos_readback import client_for, crc64_ecma as crc64

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def cos(devserver):
    return client_for(devserver), devserver["bucket"]


def read_body(response):
    return response["Body"].get_raw_stream().read()


def test_put_head_get_range_delete(cos):
    client, bucket = cos
    key = "dir/中文 a.txt"
    body = b"hello world\n"
    put = client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="text/plain",
                            Metadata={"x-cos-meta-author": "Jane Doe"}, EnableMD5=True)
    assert put["ETag"] == '"6f5902ac237024bdd0c176cb93063dc4"'
    assert put["x-cos-hash-crc64ecma"] == str(crc64(body)) == "14969823782951187105"

    head = client.head_object(Bucket=bucket, Key=key)
    assert head["Content-Length"] == "12"
    assert head["Content-Type"] == "text/plain"
    assert head["x-cos-meta-author"] == "Jane Doe"

    assert read_body(client.get_object(Bucket=bucket, Key=key)) == body
    ranged = client.get_object(Bucket=bucket, Key=key, Range="bytes=6-10")
    assert ranged["Content-Range"] == "bytes 6-10/12"
    assert ranged["x-cos-hash-crc64ecma"] == str(crc64(body))
    assert read_body(ranged) == b"world"

    client.delete_object(Bucket=bucket, Key=key)
    with pytest.raises(CosServiceError) as err:
        client.head_object(Bucket=bucket, Key=key)
    assert err.value.get_status_code() == 404
    with pytest.raises(CosServiceError) as err:
        client.get_object(Bucket=bucket, Key=key)
    assert err.value.get_error_code() == "NoSuchKey"


def test_upload_file_multipart_and_resume(cos, tmp_path):
    client, bucket = cos
    content = os.urandom(3 * MIB + MIB // 2 + 12345)
    path = tmp_path / "f.bin"
    path.write_bytes(content)

    result = client.upload_file(Bucket=bucket, Key="big/f.bin", LocalFilePath=str(path), PartSize=1, MAXThread=2)
    assert result["ETag"].strip('"').endswith("-4")
    head = client.head_object(Bucket=bucket, Key="big/f.bin")
    assert head["Content-Length"] == str(len(content))
    assert head["x-cos-hash-crc64ecma"] == str(crc64(content))
    got = read_body(client.get_object(Bucket=bucket, Key="big/f.bin"))
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(content).hexdigest()

    # Resume: an upload for the key already holds part 1; upload_file finds it through
    # ListMultipartUploads + ListParts and sends only the missing parts.
    key = "big/resumed.bin"
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    client.upload_part(Bucket=bucket, Key=key, Body=content[:MIB], PartNumber=1, UploadId=upload_id)
    client.upload_file(Bucket=bucket, Key=key, LocalFilePath=str(path), PartSize=1, MAXThread=2)
    head = client.head_object(Bucket=bucket, Key=key)
    assert head["x-cos-hash-crc64ecma"] == str(crc64(content))
    uploads = client.list_multipart_uploads(Bucket=bucket, Prefix=key)
    assert "Upload" not in uploads, "the resumed upload was completed, not a new one"

    listed = client.list_objects(Bucket=bucket, Prefix="big/")
    assert sorted(c["Key"] for c in listed["Contents"]) == ["big/f.bin", "big/resumed.bin"]
    assert listed["IsTruncated"] == "false"


def test_list_objects_delimiter_and_paging(cos):
    client, bucket = cos
    keys = ["l/a b.txt", "l/sub/1", "l/sub/2", "l/x%y", "l/ф"]
    for key in keys:
        client.put_object(Bucket=bucket, Key=key, Body=key.encode())
    page = client.list_objects(Bucket=bucket, Prefix="l/", Delimiter="/", MaxKeys=2)
    assert page["IsTruncated"] == "true"
    seen = [c["Key"] for c in page.get("Contents", [])] + [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    rest = client.list_objects(Bucket=bucket, Prefix="l/", Delimiter="/", Marker=page["NextMarker"])
    seen += [c["Key"] for c in rest.get("Contents", [])] + [p["Prefix"] for p in rest.get("CommonPrefixes", [])]
    assert sorted(seen) == sorted(["l/a b.txt", "l/sub/", "l/x%y", "l/ф"])


def test_list_and_abort_multipart_upload(cos):
    client, bucket = cos
    key = "m/aborted.bin"
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    part = client.upload_part(Bucket=bucket, Key=key, Body=b"x" * 1000, PartNumber=1, UploadId=upload_id)
    assert part["ETag"] == '"%s"' % hashlib.md5(b"x" * 1000).hexdigest()
    parts = client.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)
    assert [p["PartNumber"] for p in parts["Part"]] == ["1"]
    uploads = client.list_multipart_uploads(Bucket=bucket, Prefix="m/")
    listed = uploads["Upload"] if isinstance(uploads["Upload"], list) else [uploads["Upload"]]
    assert [(u["Key"], u["UploadId"]) for u in listed] == [(key, upload_id)]
    client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    assert "Upload" not in client.list_multipart_uploads(Bucket=bucket, Prefix="m/")
    with pytest.raises(CosServiceError) as err:
        client.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)
    assert err.value.get_error_code() == "NoSuchUpload"


def test_wrong_secret_is_rejected(devserver):
    host, port = devserver["cos"].rsplit(":", 1)
    config = CosConfig(Region=devserver["region"], SecretId=devserver["secretId"], SecretKey="wrong",
                       Scheme="http", IP=host, Port=int(port))
    client = CosS3Client(config, retry=1)
    with pytest.raises(CosServiceError) as err:
        client.put_object(Bucket=devserver["bucket"], Key="denied.txt", Body=b"x")
    assert err.value.get_error_code() == "SignatureDoesNotMatch"
    assert err.value.get_status_code() == 403
