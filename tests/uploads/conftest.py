"""Fixtures of the documents tests: the scanner settings for the suite's clamd and the
two storage set-ups the pipeline runs on (the servers themselves: tests/servers.py)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from config.settings.base import uploads_storages
from tests.accounts.helpers import make_user
from tests.conftest import client_for, sign_in
from tests.servers import BUCKET, CLAMD_STREAM_MAX

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


@pytest.fixture(autouse=True)
def _scanner_settings(settings, clamd_server):
    settings.CLAMD_HOST = "127.0.0.1"
    settings.CLAMD_PORT = clamd_server.port
    settings.CLAMD_SOCKET = ""
    settings.CLAMD_TIMEOUT = 10
    settings.UPLOADS_SCANNER_MAX_BYTES = CLAMD_STREAM_MAX
    if not clamd_server.ping():  # a test that stopped it failed before restarting it
        clamd_server.start()


def _use_storages(settings, entries: dict) -> None:
    # Django's setting_changed handler drops the storage backends built before.
    settings.STORAGES = {**settings.STORAGES, **entries}


@pytest.fixture
def fs_storage(settings, tmp_path):
    _use_storages(settings, uploads_storages(bucket="", root=tmp_path))
    return {"kind": "fs", "root": tmp_path}


@pytest.fixture
def s3_storage(settings, s3_server, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    entries = uploads_storages(bucket=BUCKET, endpoint_url=s3_server["endpoint"])
    for entry in entries.values():
        entry["OPTIONS"].update(access_key="testing", secret_key="testing")
    _use_storages(settings, entries)
    return {"kind": "s3", "client": s3_server["client"], "endpoint": s3_server["endpoint"]}


@pytest.fixture(params=["fs", "s3"])
def any_storage(request):
    """Runs a test on the filesystem storage and on S3 (moto on loopback)."""
    return request.getfixturevalue(f"{request.param}_storage")


def stored_bytes(storage_info: dict, kind: str, key: str) -> bytes | None:
    """The bytes at ``key`` in the quarantine or documents storage, read directly."""
    if storage_info["kind"] == "fs":
        path = Path(storage_info["root"]) / kind / key
        return path.read_bytes() if path.exists() else None
    full_key = f"quarantine/{key}" if kind == "quarantine" else key
    try:
        return storage_info["client"].get_object(Bucket=BUCKET, Key=full_key)["Body"].read()
    except storage_info["client"].exceptions.NoSuchKey:
        return None


@pytest.fixture
def member_a(tenant_a):
    return make_user(tenant_a, "member@alpha.test", "member")


@pytest.fixture
def member_client_a(tenant_a, member_a):
    client = client_for(tenant_a)
    assert sign_in(client, member_a.email)
    return client


def zipped(name: str, content: bytes, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    return zipped_many([(name, content)], method)


def zipped_many(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, content in members:
            archive.writestr(name, content)
    return buffer.getvalue()
