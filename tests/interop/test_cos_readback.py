"""The read-back cross-check (cos_readback.py) that the browser tests use: its CLI against a
devserver, on objects uploaded here with cos-python-sdk-v5 — a known CRC-64 vector, an empty
object, and a multipart object with type and metadata — compared with values computed here.

Run: SMH_DEVSERVER_BIN=target/debug/smh-devserver target/pyenv/bin/pytest tests/interop/test_cos_readback.py
"""

import hashlib
import json
import os
import subprocess
import sys

from cos_readback import client_for

MIB = 1024 * 1024
SCRIPT = os.path.join(os.path.dirname(__file__), "cos_readback.py")


def run_readback(ready, *keys):
    """The CLI as the browser tests run it: READY JSON in the environment, JSON on stdout."""
    env = dict(os.environ, SMH_DEVSERVER_READY_JSON=json.dumps(ready))
    done = subprocess.run([sys.executable, SCRIPT, *keys], env=env, capture_output=True, text=True, timeout=120)
    return done.returncode, json.loads(done.stdout)


def test_reports_size_crc64_md5_type_and_meta(devserver, tmp_path):
    client, bucket = client_for(devserver), devserver["bucket"]
    client.put_object(Bucket=bucket, Key="vector/check.txt", Body=b"123456789")
    client.put_object(Bucket=bucket, Key="vector/empty", Body=b"")
    content = os.urandom(2 * MIB + 12345)
    path = tmp_path / "big.bin"
    path.write_bytes(content)
    client.upload_file(Bucket=bucket, Key="big/读回.mp4", LocalFilePath=str(path), PartSize=1, MAXThread=2,
                       ContentType="video/mp4", Metadata={"x-cos-meta-title": "three parts"})

    status, reports = run_readback(devserver, "vector/check.txt", "vector/empty", "big/读回.mp4")
    assert status == 0, reports
    check, empty, big = reports
    # CRC-64/XZ's check value (the catalogue's 0x995dc9bbdf1939fa), both from the body and the server.
    assert check["crc64Body"] == check["crc64Header"] == str(0x995DC9BBDF1939FA)
    assert check["md5"] == hashlib.md5(b"123456789").hexdigest() and check["size"] == 9
    assert empty["size"] == 0 and empty["crc64Body"] == empty["crc64Header"] == "0"
    assert empty["md5"] == "d41d8cd98f00b204e9800998ecf8427e"
    assert big["key"] == "big/读回.mp4"
    assert big["size"] == big["contentLength"] == len(content)
    assert big["md5"] == hashlib.md5(content).hexdigest()
    assert big["crc64Body"] == big["crc64Header"]
    assert big["etag"].endswith('-3"'), big["etag"]
    assert big["contentType"] == "video/mp4"
    assert big["meta"] == {"title": "three parts"}


def test_a_missing_key_fails_with_the_cos_error(devserver):
    status, report = run_readback(devserver, "no/such/key")
    assert status == 1
    assert report["error"] == "CosServiceError" and "NoSuchKey" in report["message"]
    assert devserver["secretKey"] not in report["message"]
