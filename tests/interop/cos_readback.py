"""Read objects back from smh-devserver's bucket with Tencent's unmodified cos-python-sdk-v5 and
report what a third party sees: size, the server's CRC-64 header, a CRC-64 and an MD5 computed
here over the body, ETag, Content-Type and user metadata. The browser tests compare these with
what smh-upload's CosUploader reported and with the local file (tests/e2e/cos-uploader.test.mjs).

CLI:  target/pyenv/bin/python tests/interop/cos_readback.py KEY [KEY ...]
      with the devserver's READY JSON in SMH_DEVSERVER_READY_JSON (or --ready JSON).
Prints one JSON array: [{key, size, crc64Header, crc64Body, md5, etag, contentType, meta}],
numbers as decimal strings; exits 1 (JSON {error} on stdout) if a key cannot be read.
"""

import argparse
import hashlib
import json
import os
import sys

import crcmod
from qcloud_cos import CosConfig, CosS3Client
from qcloud_cos.cos_exception import CosException

# CRC-64/XZ (ECMA-182, reflected) exactly as cos-python-sdk-v5's resumable downloader builds its
# check (qcloud_cos/resumable_downloader.py); independent of the devserver's Rust code.
crc64_ecma = crcmod.mkCrcFun(0x142F0E1EBA9EA3693, initCrc=0, xorOut=0xFFFFFFFFFFFFFFFF, rev=True)

CHUNK = 1024 * 1024
META_PREFIX = "x-cos-meta-"


def client_for(ready):
    """A CosS3Client signing with the bucket owner's permanent key, to the devserver's cos origin
    (bucket in the Host header, CosConfig IP=/Port= mode)."""
    host, port = ready["cos"].rsplit(":", 1)
    config = CosConfig(Region=ready["region"], SecretId=ready["secretId"], SecretKey=ready["secretKey"],
                       Scheme="http", IP=host, Port=int(port))
    return CosS3Client(config, retry=1)


def read_back(ready, keys):
    """One report per key: a GET streamed through CRC-64 and MD5 (never held whole)."""
    client = client_for(ready)
    reports = []
    for key in keys:
        response = client.get_object(Bucket=ready["bucket"], Key=key)
        stream = response["Body"].get_raw_stream()
        crc, md5, size = 0, hashlib.md5(), 0
        while True:
            chunk = stream.read(CHUNK)
            if not chunk:
                break
            crc = crc64_ecma(chunk, crc)
            md5.update(chunk)
            size += len(chunk)
        reports.append({
            "key": key,
            "size": size,
            "contentLength": int(response["Content-Length"]),
            "crc64Header": response.get("x-cos-hash-crc64ecma"),
            "crc64Body": str(crc),
            "md5": md5.hexdigest(),
            "etag": response.get("ETag"),
            "contentType": response.get("Content-Type"),
            "meta": {name[len(META_PREFIX):]: value for name, value in response.items()
                     if name.lower().startswith(META_PREFIX)},
        })
    return reports


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("keys", nargs="+", help="object keys to read back")
    parser.add_argument("--ready", help="the devserver READY JSON (default: $SMH_DEVSERVER_READY_JSON)")
    args = parser.parse_args(argv)
    ready_json = args.ready or os.environ.get("SMH_DEVSERVER_READY_JSON")
    if not ready_json:
        parser.error("give --ready JSON or set SMH_DEVSERVER_READY_JSON")
    try:
        print(json.dumps(read_back(json.loads(ready_json), args.keys)))
    except CosException as e:
        # The SDK's message names the COS error; it never contains the signing key.
        print(json.dumps({"error": type(e).__name__, "message": str(e)[:500]}))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
