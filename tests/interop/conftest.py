"""Shared pytest fixtures of tests/interop: a smh-devserver of its own per test module."""

import json
import os
import shutil
import subprocess
import tempfile

import pytest


@pytest.fixture(scope="module")
def devserver():
    binary = os.environ.get("SMH_DEVSERVER_BIN")
    if not binary:
        pytest.fail("SMH_DEVSERVER_BIN is not set: point it at the smh-devserver binary "
                    "(e.g. target/debug/smh-devserver after `cargo build -p smh-devserver`)")
    data = tempfile.mkdtemp(prefix="smh-interop-py-")
    proc = subprocess.Popen([binary, "--data", data], stdout=subprocess.PIPE, text=True)
    try:
        ready = None
        for line in proc.stdout:
            if line.startswith("SMH_DEVSERVER_READY "):
                ready = json.loads(line[len("SMH_DEVSERVER_READY "):])
                break
        assert ready is not None, "smh-devserver exited without a READY line"
        yield ready
    finally:
        proc.kill()
        proc.wait(timeout=10)
        shutil.rmtree(data, ignore_errors=True)
