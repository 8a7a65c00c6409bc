"""The storages of tests that write documents and one more kind of object (backups,
offboarding exports): on files under the test's ``tmp_path``, or on S3 (moto's server on
loopback) with a bucket of their own for that kind.

A test package imports the fixtures into its conftest and says what its extra storage
is by overriding ``extra_storage``::

    from tests.storages import ExtraStorage, any_storages, fs_storages, s3_storages

    @pytest.fixture
    def extra_storage() -> ExtraStorage:
        return ExtraStorage(alias="backups", bucket="atrium-backup-test")
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from config.settings.base import backups_storage, uploads_storages
from tests.servers import BUCKET


@dataclass(frozen=True)
class ExtraStorage:
    alias: str  # the STORAGES entry, e.g. "backups"
    bucket: str  # its bucket on S3 (emptied after each test)
    # Prefixes in the documents' bucket whose objects are removed after each test
    # (rolled-back tests leave their objects in the session's buckets).
    cleanup: tuple[str, ...] = ()


@pytest.fixture
def extra_storage() -> ExtraStorage:
    raise NotImplementedError("override extra_storage in the package's conftest")


@pytest.fixture
def fs_storages(settings, tmp_path, extra_storage):
    settings.STORAGES = {
        **settings.STORAGES,
        **uploads_storages(bucket="", root=tmp_path / "media"),
        extra_storage.alias: backups_storage(bucket="", root=tmp_path / extra_storage.alias),
    }
    return {"kind": "fs", "root": tmp_path}


@pytest.fixture
def s3_storages(settings, s3_server, monkeypatch, extra_storage):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = s3_server["client"]
    if extra_storage.bucket not in {b["Name"] for b in client.list_buckets()["Buckets"]}:
        client.create_bucket(Bucket=extra_storage.bucket)
    entries = uploads_storages(bucket=BUCKET, endpoint_url=s3_server["endpoint"])
    entries[extra_storage.alias] = backups_storage(
        bucket=extra_storage.bucket, endpoint_url=s3_server["endpoint"]
    )
    for entry in entries.values():
        entry["OPTIONS"].update(access_key="testing", secret_key="testing")
    settings.STORAGES = {**settings.STORAGES, **entries}
    yield {"kind": "s3", "client": client}
    places = [(BUCKET, prefix) for prefix in extra_storage.cleanup]
    for bucket, prefix in [*places, (extra_storage.bucket, "")]:
        listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        for obj in listed:
            client.delete_object(Bucket=bucket, Key=obj["Key"])


@pytest.fixture(params=["fs", "s3"])
def any_storages(request):
    """Runs a test on files and on S3 (moto on loopback)."""
    return request.getfixturevalue(f"{request.param}_storages")
