"""The memory bounds of the S3 storages (issue 5): settings never import boto3, the two
uploads storages share one boto3 session per thread, and transfers run without a thread
pool, one part at a time, keeping checksums that validate on read. Also: the clamd a
benchmark starts can run without its clean-file cache, so it times scans, not hits."""

import json
import os
import subprocess
import sys
import threading

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import TemporaryUploadedFile

from tests.servers import BUCKET, MIB
from uploads import s3
from uploads import storage as store
from uploads.clamd_process import render_config


def run_with_s3_configured(code: str, tmp_path) -> str:
    """Run ``code`` in a fresh interpreter with S3 storages configured; its stdout."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DJANGO_DEBUG": "1",
        "DJANGO_SECRET_KEY": "test-only",
        "S3_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_STORAGE_BUCKET_NAME": BUCKET,
        "FILE_UPLOAD_TEMP_DIR": str(tmp_path),
    }
    root = django_settings.BASE_DIR
    env["PYTHONPATH"] = f"{root}{os.pathsep}{root / 'platform'}"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_settings_do_not_import_boto3_even_with_s3_configured(tmp_path):
    code = (
        "import sys, django; django.setup(); "
        "from django.conf import settings; "
        "assert settings.STORAGES['uploads_quarantine']['BACKEND'] == 'uploads.s3.S3Storage'; "
        "print(sorted(m for m in ('boto3', 'botocore', 's3transfer') if m in sys.modules))"
    )
    assert run_with_s3_configured(code, tmp_path) == "[]"


def test_s3_storages_do_not_load_cryptography_unless_already_loaded(tmp_path):
    use_storages = (
        "from uploads.storage import quarantine_storage; "
        "quarantine_storage().connection.meta.client; "
        "from storages.backends import s3; "
    )
    code = (
        "import sys, django; django.setup(); " + use_storages + "loaded = 'cryptography.hazmat' "
        "in sys.modules; import cryptography.hazmat.primitives.hashes; print(s3.__name__, loaded)"
    )
    # cryptography itself still imports afterwards; storages just did not load it.
    assert run_with_s3_configured(code, tmp_path) == "storages.backends.s3 False"
    code = (
        "import sys, django; django.setup(); "
        "from cryptography.hazmat.primitives import hashes; " + use_storages + "print("
        "s3._cloud_front_signer_from_pem.__qualname__)"
    )
    # Already loaded by someone else: storages gets its real CloudFront signer.
    assert run_with_s3_configured(code, tmp_path) == (
        "_use_cryptography_signer.<locals>._cloud_front_signer_from_pem"
    )


def test_both_storages_share_one_session_per_thread(s3_storage):
    quarantine, documents = store.quarantine_storage(), store.documents_storage()
    assert isinstance(quarantine, s3.S3Storage)
    assert quarantine is not documents
    session = quarantine._create_session()
    assert documents._create_session() is session
    assert quarantine.connection.meta.client is not None  # builds on the shared session
    other: list = []
    thread = threading.Thread(target=lambda: other.append(quarantine._create_session()))
    thread.start()
    thread.join()
    assert other[0] is not session  # boto3 sessions are not thread-safe


def test_s3_only_endpoint_table_resolves_s3_exactly_like_botocores_own():
    import botocore.session

    full = botocore.session.get_session()._get_internal_component("endpoint_resolver")
    trimmed_session = s3.s3_botocore_session()
    trimmed = trimmed_session._get_internal_component("endpoint_resolver")
    assert trimmed.uses_builtin_data  # still botocore's own data, so the same rules apply
    partitions = full.get_available_partitions()
    assert trimmed.get_available_partitions() == partitions
    assert len(partitions) > 1
    for partition in partitions:
        regions = full.get_available_endpoints("s3", partition)
        assert trimmed.get_available_endpoints("s3", partition) == regions
        for region in regions:
            for fips in (False, True):
                expected = full.construct_endpoint("s3", region, use_fips_endpoint=fips)
                assert trimmed.construct_endpoint("s3", region, use_fips_endpoint=fips) == (
                    expected
                )
    assert full.get_available_endpoints("ec2")  # the other services are what was left out
    assert trimmed.get_available_endpoints("ec2") == []
    # Clients built on it pick the same endpoints and signing regions.
    for region in ("us-east-1", "eu-central-1", "us-gov-west-1", "cn-north-1"):
        kwargs = {"region_name": region, "aws_access_key_id": "k", "aws_secret_access_key": "s"}
        ours = trimmed_session.create_client("s3", **kwargs)
        stock = botocore.session.get_session().create_client("s3", **kwargs)
        assert ours.meta.endpoint_url == stock.meta.endpoint_url
        assert ours.meta.region_name == stock.meta.region_name
        assert ours.meta.partition == stock.meta.partition


def _botocore_data(name: str) -> str:
    import botocore

    return os.path.join(os.path.dirname(botocore.__file__), "data", name)


def test_endpoint_table_read_member_by_member_equals_the_whole_table_trimmed():
    with open(_botocore_data("endpoints.json"), encoding="utf-8") as fp:
        text = fp.read()
    whole = json.loads(text)
    for partition in whole["partitions"]:
        partition["services"] = {k: v for k, v in partition["services"].items() if k == "s3"}
    assert s3.s3_endpoint_table(text) == whole
    assert all(list(p["services"]) == ["s3"] for p in whole["partitions"])
    spaced = ' { "partitions" : [ { "services" : { "ec2" : {} , "s3" : { "a" : [1] } } } ] } \n'
    assert s3.s3_endpoint_table(spaced) == {"partitions": [{"services": {"s3": {"a": [1]}}}]}
    for broken in ('{"partitions": [', '{"partitions": []} x', "[]", '{"a" 1}'):
        with pytest.raises(ValueError):
            s3.s3_endpoint_table(broken)


def test_s3_model_is_botocores_own_as_plain_dicts_without_its_documentation_text():
    from botocore.loaders import JSONFileLoader

    path = _botocore_data("s3/2006-03-01/service-2")
    stock, ours = JSONFileLoader().load_file(path), s3.S3DataFileLoader().load_file(path)
    blanked = []

    def blank(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "documentation" and isinstance(value, str):
                    blanked.append(len(value))
                    node[key] = ""
                else:
                    blank(value)
        elif isinstance(node, list):
            for value in node:
                blank(value)

    blank(stock)
    assert ours == stock  # every operation, shape and key; only the text is gone
    assert list(ours["shapes"]) == list(stock["shapes"])  # plain dicts, same order
    assert type(ours["shapes"]) is dict
    assert sum(blanked) > 900_000  # most of the model's 1.4 MB


def test_transfers_are_single_part_in_flight_without_threads(s3_storage):
    config = store.quarantine_storage().transfer_config
    assert config.use_threads is False
    assert config.max_concurrency == 1
    assert config.multipart_chunksize == s3.PART_BYTES
    assert store.documents_storage().transfer_config.use_threads is False


def test_multipart_upload_and_copy_round_trip_with_valid_checksums(s3_storage):
    content = os.urandom(2 * s3.PART_BYTES + MIB)  # three parts
    upload = TemporaryUploadedFile("big.bin", "application/octet-stream", len(content), None)
    upload.write(content)
    upload.flush()
    quarantine, documents = store.quarantine_storage(), store.documents_storage()
    threads_before = threading.active_count()
    store.save_stream(quarantine, "t/multipart", upload)
    store.move(quarantine, "t/multipart", documents, "tenants/t/documents/multipart")
    assert threading.active_count() == threads_before
    upload.close()
    client = s3_storage["client"]
    head = client.head_object(Bucket=BUCKET, Key="tenants/t/documents/multipart", PartNumber=1)
    assert head["PartsCount"] == 3
    assert not store.exists(quarantine, "t/multipart")
    # botocore validates the stored checksum while reading: a copy that left a
    # mismatching checksum (as a single CopyObject of a multipart object did) fails here.
    with store.open_stream(documents, "tenants/t/documents/multipart") as stream:
        assert stream.read() == content
    documents.delete("tenants/t/documents/multipart")


@pytest.mark.parametrize("cache", [True, False])
def test_clamd_cache_can_be_disabled_for_benchmarks(tmp_path, cache):
    config = render_config(
        port=3310, run_dir=tmp_path, stream_max="10M", scan_max="20M", file_max="21M", cache=cache
    )
    assert ("DisableCache yes" in config.splitlines()) is not cache
