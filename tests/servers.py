"""Servers the whole suite shares, one of each per xdist worker: a private clamd (real,
with the repository's signature database and small limits) and moto's S3 server.

Registered once, in ``tests/conftest.py``. A package that imported these fixtures into
its own conftest would get a server of its own: a session fixture is one instance per
place it is defined, and each of these costs a process start (moto about a second)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from uploads.clamd_process import ClamdProcess, free_port

MIB = 1024 * 1024
# clamd's limits in the suite: small, so the limit paths are cheap to exercise, in
# the only safe order (StreamMaxLength <= MaxScanSize < MaxFileSize, see clamd.conf).
CLAMD_STREAM_MAX = 10 * MIB
CLAMD_SCAN_MAX = 20 * MIB
CLAMD_FILE_MAX = 21 * MIB
BUCKET = "atrium-test"


@pytest.fixture(scope="session")
def clamd_server():
    """A test that stops or freezes it starts or resumes it again before it ends."""
    server = ClamdProcess(
        stream_max=f"{CLAMD_STREAM_MAX // MIB}M",
        scan_max=f"{CLAMD_SCAN_MAX // MIB}M",
        file_max=f"{CLAMD_FILE_MAX // MIB}M",
    )
    server.start()
    yield server
    server.close()


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 server on a free loopback port, with the documents' bucket."""
    import boto3

    port = free_port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("moto server did not start") from None
            time.sleep(0.1)
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=BUCKET)
    yield {"endpoint": endpoint, "client": client}
    process.terminate()
    process.wait(timeout=10)
