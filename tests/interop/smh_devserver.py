"""The one Python launcher of smh-devserver for tests: starts the binary on a fresh data directory,
waits for its `SMH_DEVSERVER_READY {json}` line, and on exit kills it and removes the directory.

    with start_devserver() as ready:      # the READY JSON as a dict
        ...

The binary is `binary` or $SMH_DEVSERVER_BIN (e.g. target/debug/smh-devserver).
"""

import contextlib
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading

READY_PREFIX = "SMH_DEVSERVER_READY "
# A cold start on a busy machine.
READY_TIMEOUT_S = 60


@contextlib.contextmanager
def start_devserver(*flags, binary=None):
    binary = binary or os.environ.get("SMH_DEVSERVER_BIN")
    if not binary:
        raise RuntimeError("SMH_DEVSERVER_BIN is not set: point it at the smh-devserver binary "
                           "(e.g. target/debug/smh-devserver after `cargo build -p smh-devserver`)")
    data = tempfile.mkdtemp(prefix="smh-devserver-py-")
    proc = subprocess.Popen([binary, "--data", data, *flags], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, text=True)
    try:
        yield _wait_ready(proc)
    finally:
        proc.kill()
        proc.wait(timeout=10)
        shutil.rmtree(data, ignore_errors=True)


def _wait_ready(proc):
    """The READY JSON; stdout is read to its end on a thread, so the server never blocks on it."""
    lines = queue.Queue()

    def read():
        for line in proc.stdout:
            if line.startswith(READY_PREFIX):
                lines.put(line[len(READY_PREFIX):])
            else:
                print(line, end="")
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    try:
        line = lines.get(timeout=READY_TIMEOUT_S)
    except queue.Empty:
        raise RuntimeError(f"smh-devserver printed no READY line within {READY_TIMEOUT_S} s") from None
    if line is None:
        raise RuntimeError(f"smh-devserver exited before its READY line ({proc.wait()})")
    return json.loads(line)
