"""The S3 backend of the uploads storages (``STORAGES[...]['BACKEND']``).

django-storages' ``S3Storage`` with these memory bounds, measured with
``bench/uploads.py``:

* One boto3 session per thread and set of credentials, shared by every instance.
  django-storages builds a session per storage, and each session loads botocore's
  S3 model and endpoint data again (about 13 MB RSS each); the pipeline uses two
  storages (quarantine and documents).
* botocore's endpoint table (``endpoints.json``: every partition, region and AWS
  service, about 7 MB of Python objects kept for the life of the session) is read
  with the S3 entries only (one service at a time, so the whole table never exists:
  its 4 MB of objects would stay behind as free heap); the clients consult it for S3
  alone. The S3 model and endpoint rules are read as plain dicts, not botocore's
  ``OrderedDict``, and without their documentation strings (1 MB of the model's
  1.4 MB, kept by every client for docstrings nobody reads in a server). All in
  ``S3DataFileLoader``; together about 3 MB off the web's peak.
* django-storages is imported without cryptography's primitives
  (``_import_storages_s3``): at import it loads them, when installed, to be ready to
  sign CloudFront URLs, which we never do (downloads are presigned S3 URLs). That
  cost every process that touches S3 about 8.6 MB RSS. Once something else has
  loaded them, the import is plain.
* Transfers without a thread pool, one part in flight (``upload_transfer_config``);
  the server-side copy to the documents storage uses it too (part by part, so the
  copy keeps per-part checksums that match: a single CopyObject of a multipart
  object left a checksum that failed validation on read, with moto).

This module imports boto3; it is imported only when a storage is first used, so a
process that never touches S3 (or not yet) does not pay for boto3 (settings do not
import it).
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
import threading
from json.decoder import scanstring
from typing import Any

import boto3
import botocore.session
from boto3.s3.transfer import TransferConfig
from botocore.loaders import JSONFileLoader, create_loader

# What django-storages imports for CloudFront signing: the heavy part of cryptography
# (its Rust bindings); the top-level package is light, and redis-py imports it.
_CLOUDFRONT_CRYPTO = "cryptography.hazmat"


def _import_storages_s3():
    """``storages.backends.s3``, imported with cryptography's primitives hidden unless
    they are already loaded. The module then keeps its own fallback for CloudFront
    signing, which raises ``ImproperlyConfigured`` if a CloudFront key is ever set.
    (A ``None`` entry in ``sys.modules`` is the import system's documented way to make
    an import fail; it is removed again right after.) The entry is process-wide for
    that moment: it assumes no other thread imports cryptography's primitives for the
    first time while the first S3 storage of the process is made. That holds for
    gunicorn's sync workers and Celery's prefork and solo pools; nothing of ours
    imports them."""
    if _CLOUDFRONT_CRYPTO in sys.modules:
        return importlib.import_module("storages.backends.s3")
    sys.modules[_CLOUDFRONT_CRYPTO] = None
    try:
        return importlib.import_module("storages.backends.s3")
    finally:
        if sys.modules.get(_CLOUDFRONT_CRYPTO, 0) is None:
            del sys.modules[_CLOUDFRONT_CRYPTO]


s3 = _import_storages_s3()

MIB = 1024 * 1024
# Multipart parts: S3's minimum is 5 MiB; 8 MiB keeps a 1 GiB upload at 128 parts.
PART_BYTES = 8 * MIB

_sessions = threading.local()
# The services of the endpoint table an S3 client consults.
S3_ENDPOINT_SERVICES = frozenset({"s3"})


_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def _skip_space(text: str, index: int) -> int:
    return _WHITESPACE.match(text, index).end()


def _expect(text: str, index: int, char: str) -> None:
    if text[index : index + 1] != char:
        raise ValueError(f"expected {char!r} at {index} of the endpoint table")


def _read_value(text: str, index: int) -> tuple[Any, int]:
    return _DECODER.raw_decode(text, index)


def _read_object(text: str, index: int, read_member) -> tuple[dict, int]:
    """The JSON object at ``text[index]``, each member's value read by
    ``read_member(key, text, index)`` as ``(keep, value, end)``."""
    _expect(text, index, "{")
    result: dict = {}
    index = _skip_space(text, index + 1)
    if text[index : index + 1] == "}":
        return result, index + 1
    while True:
        _expect(text, index, '"')
        key, index = scanstring(text, index + 1)
        index = _skip_space(text, index)
        _expect(text, index, ":")
        keep, value, index = read_member(key, text, _skip_space(text, index + 1))
        if keep:
            result[key] = value
        index = _skip_space(text, index)
        if text[index : index + 1] == "}":
            return result, index + 1
        _expect(text, index, ",")
        index = _skip_space(text, index + 1)


def _read_array(text: str, index: int, read_item) -> tuple[list, int]:
    _expect(text, index, "[")
    result: list = []
    index = _skip_space(text, index + 1)
    if text[index : index + 1] == "]":
        return result, index + 1
    while True:
        item, index = read_item(text, index)
        result.append(item)
        index = _skip_space(text, index)
        if text[index : index + 1] == "]":
            return result, index + 1
        _expect(text, index, ",")
        index = _skip_space(text, index + 1)


def s3_endpoint_table(text: str) -> dict:
    """botocore's endpoint table (the text of ``endpoints.json``) with only the S3
    services of each partition. Read member by member: every other service is parsed
    and dropped at once, so the whole table (about 4 MB of objects at its peak, which
    then stay in the heap as free space) never exists."""

    def service(key: str, text: str, index: int) -> tuple[bool, Any, int]:
        value, end = _read_value(text, index)
        return key in S3_ENDPOINT_SERVICES, value, end

    def partition_member(key: str, text: str, index: int) -> tuple[bool, Any, int]:
        if key == "services":
            return (True, *_read_object(text, index, service))
        return (True, *_read_value(text, index))

    def partition(text: str, index: int) -> tuple[dict, int]:
        return _read_object(text, index, partition_member)

    def table_member(key: str, text: str, index: int) -> tuple[bool, Any, int]:
        if key == "partitions":
            return (True, *_read_array(text, index, partition))
        return (True, *_read_value(text, index))

    table, end = _read_object(text, _skip_space(text, 0), table_member)
    if _skip_space(text, end) != len(text):
        raise ValueError(f"unexpected data at {end} of the endpoint table")
    return table


def _without_documentation(pairs: list[tuple[str, Any]]) -> dict:
    """A JSON object of botocore's data as a plain dict (botocore makes an
    ``OrderedDict``, about twice the size; dicts keep their order, and botocore uses
    none of ``OrderedDict``'s own methods on its data), its documentation string
    emptied as it is parsed, so the text is never kept."""
    return {
        key: "" if key == "documentation" and isinstance(value, str) else value
        for key, value in pairs
    }


class S3DataFileLoader(JSONFileLoader):
    """botocore's data file loader, keeping of the endpoint table only the S3 entries
    of each partition (the partitions, regions and defaults stay whole), and of every
    other file all but the documentation strings (the keys stay, empty: botocore
    requires some of them, e.g. on client context parameters)."""

    def load_file(self, file_path: str):
        if os.path.basename(file_path) != "endpoints":
            return super().load_file(file_path)
        path = f"{file_path}.json"
        if not os.path.isfile(path):
            return None
        with open(path, encoding="utf-8") as fp:
            return s3_endpoint_table(fp.read())

    def _load_file(self, full_path: str, open_method):
        # botocore's own reading (utf-8, gzip or not), with our object hook.
        if not os.path.isfile(full_path):
            return None
        with open_method(full_path, "rb") as fp:
            payload = fp.read().decode("utf-8")
        return json.loads(payload, object_pairs_hook=_without_documentation)


def s3_botocore_session() -> botocore.session.Session:
    """A botocore session whose data loader reads the S3-only endpoint table and the
    models without their documentation."""
    session = botocore.session.get_session()
    loader = create_loader(session.get_config_variable("data_path"))
    loader.file_loader = S3DataFileLoader()
    session.register_component("data_loader", loader)
    return session


def upload_transfer_config() -> TransferConfig:
    """Multipart uploads read one part at a time from disk: no thread pool, one part
    in flight (memory stays at about one part whatever the file size)."""
    return TransferConfig(
        multipart_threshold=PART_BYTES,
        multipart_chunksize=PART_BYTES,
        max_concurrency=1,
        use_threads=False,
    )


def shared_session(
    *, profile: str | None, access_key: str | None, secret_key: str | None, token: str | None
) -> boto3.session.Session:
    """This thread's boto3 session for these credentials (sessions are not thread-safe;
    the clients they make are)."""
    cache = getattr(_sessions, "by_credentials", None)
    if cache is None:
        cache = _sessions.by_credentials = {}
    key = (profile, access_key, secret_key, token)
    session = cache.get(key)
    if session is None:
        if profile:
            session = boto3.session.Session(
                profile_name=profile, botocore_session=s3_botocore_session()
            )
        else:
            session = boto3.session.Session(
                aws_access_key_id=access_key,
                aws_secret_access_key=secret_key,
                aws_session_token=token,
                botocore_session=s3_botocore_session(),
            )
        cache[key] = session
    return session


class S3Storage(s3.S3Storage):
    """django-storages' S3 storage sharing sessions, with bounded transfers."""

    def __init__(self, **settings) -> None:
        if settings.get("transfer_config") is None:
            settings["transfer_config"] = upload_transfer_config()
        super().__init__(**settings)

    def _create_session(self) -> boto3.session.Session:
        return shared_session(
            profile=self.session_profile or None,
            access_key=self.access_key,
            secret_key=self.secret_key,
            token=self.security_token,
        )
