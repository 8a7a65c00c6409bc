"""Quarantine and documents storages (``STORAGES['uploads_quarantine']`` and
``['uploads_documents']``) and the few operations the pipeline needs, streamed.

S3 paths use boto3 directly where django-storages would buffer: reading streams the
object body, promotion is a server-side copy, and uploads are multipart with a
bounded transfer config.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import BinaryIO

from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, storages

READ_BUFFER = 1024 * 1024


def quarantine_storage() -> Storage:
    return storages["uploads_quarantine"]


def documents_storage() -> Storage:
    return storages["uploads_documents"]


def is_s3(storage: Storage) -> bool:
    return hasattr(storage, "bucket") and hasattr(storage, "_normalize_name")


def quarantine_key(schema_name: str, document_id) -> str:
    return f"{schema_name}/{document_id}"


def document_key(schema_name: str, document_id) -> str:
    return f"tenants/{schema_name}/documents/{document_id}"


def save_stream(storage: Storage, key: str, stream: BinaryIO) -> None:
    """Store ``stream`` at exactly ``key`` (keys are ours and unique), in chunks."""
    stream.seek(0)
    if is_s3(storage):
        path = getattr(stream, "temporary_file_path", None)
        if path:
            save_path(storage, key, path())
            return
        obj = storage.bucket.Object(storage._normalize_name(key))
        obj.upload_fileobj(stream, Config=storage.transfer_config)
        return
    saved = storage.save(key, File(stream))
    if saved != key:  # FileSystemStorage renames on collision; ours never collide
        storage.delete(saved)
        raise FileExistsError(key)


def save_path(storage: Storage, key: str, path: str) -> None:
    """Store the local file at ``path`` at exactly ``key``, in chunks (never whole in memory)."""
    if is_s3(storage):
        # From a path, s3transfer reads each part from disk when it sends it; from a
        # file object it may read many parts ahead into memory.
        obj = storage.bucket.Object(storage._normalize_name(key))
        obj.upload_file(path, Config=storage.transfer_config)
        return
    with open(path, "rb") as stream:
        save_stream(storage, key, stream)


def open_stream(storage: Storage, key: str) -> BinaryIO:
    """A buffered, streaming reader of the object (never the whole object in memory)."""
    if is_s3(storage):
        body = storage.bucket.Object(storage._normalize_name(key)).get()["Body"]
        return io.BufferedReader(_RawBody(body), buffer_size=READ_BUFFER)
    return storage.open(key, "rb")


class _RawBody(io.RawIOBase):
    def __init__(self, body) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._body.close()
        super().close()


def is_storage_error(exc: BaseException) -> bool:
    """Whether ``exc`` means the storage itself failed (disk full, read-only, S3 or its
    network down), as opposed to a bug: ``OSError`` and botocore's, boto3's and
    s3transfer's errors (matched by module, so the filesystem path never imports them)."""
    if isinstance(exc, OSError):
        return True
    return any(
        cls.__module__.split(".")[0] in {"botocore", "boto3", "s3transfer"}
        for cls in type(exc).__mro__
    )


def move(source: Storage, source_key: str, target: Storage, target_key: str) -> None:
    """Move an object between storages: a server-side copy on S3, a rename on disk.
    A move that fails leaves the source in place and no partial copy at the target."""
    try:
        _move(source, source_key, target, target_key)
    except Exception:
        try:
            if exists(source, source_key):
                delete(target, target_key)
        except Exception:  # noqa: S110 - a storage is down; the next attempt cleans up
            pass
        raise


def _move(source: Storage, source_key: str, target: Storage, target_key: str) -> None:
    if is_s3(source) and is_s3(target):
        target.bucket.Object(target._normalize_name(target_key)).copy(
            {"Bucket": source.bucket.name, "Key": source._normalize_name(source_key)},
            Config=target.transfer_config,
        )
        source.delete(source_key)
        return
    if isinstance(source, FileSystemStorage) and isinstance(target, FileSystemStorage):
        destination = Path(target.path(target_key))
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(source.path(source_key), destination)
        return
    with open_stream(source, source_key) as stream:
        save_stream(target, target_key, stream)
    source.delete(source_key)


def exists(storage: Storage, key: str) -> bool:
    return bool(key) and storage.exists(key)


def delete(storage: Storage, key: str) -> None:
    if key:
        storage.delete(key)


def presigned_url(
    storage: Storage, key: str, *, expires_in: int, filename_header: str, content_type: str
) -> str:
    """A GET URL valid for ``expires_in`` seconds, with the response headers forced."""
    return storage.url(
        key,
        parameters={
            "ResponseContentDisposition": filename_header,
            "ResponseContentType": content_type,
        },
        expire=expires_in,
    )
