"""Where exports live (``STORAGES['offboarding_exports']``), the bounded-memory writer
that streams an archive into it, and prefix listing and deletion for the purge.

S3: the archive is sent as a multipart upload while it is being written, one
``PART_BYTES`` part buffered at a time (never the whole archive in memory or on
disk); a failed write aborts the upload. Filesystem: written to ``<key>.partial``
and renamed into place when complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path

from django.core.files.storage import FileSystemStorage, Storage, storages

from uploads import storage as object_storage

MIB = 1024 * 1024
# S3's minimum part is 5 MiB (except the last); 8 MiB keeps a 10 GB export at 1,250 parts.
PART_BYTES = 8 * MIB


def exports_storage() -> Storage:
    return storages["offboarding_exports"]


def export_key(schema_name: str, export_id) -> str:
    return f"exports/{schema_name}/{export_id}.zip"


def export_prefix(schema_name: str) -> str:
    return f"exports/{schema_name}/"


def is_s3(storage: Storage) -> bool:
    return object_storage.is_s3(storage)


class ArchiveWriter(io.RawIOBase):
    """A write-only, non-seekable stream into ``storage`` at ``key``.

    Counts and hashes what passes (``size``, ``sha256``). ``commit()`` completes the
    object; ``abort()`` (or leaving the ``with`` block by an exception) leaves nothing.
    """

    def __init__(self, storage: Storage, key: str) -> None:
        super().__init__()
        self.storage = storage
        self.key = key
        self.size = 0
        self._digest = hashlib.sha256()
        self._done = False
        if is_s3(storage):
            self._client = storage.bucket.meta.client
            self._bucket = storage.bucket.name
            self._name = storage._normalize_name(key)
            self._upload_id = self._client.create_multipart_upload(
                Bucket=self._bucket, Key=self._name, ContentType="application/zip"
            )["UploadId"]
            self._parts: list[dict] = []
            self._buffer = bytearray()
            self._file = None
        else:
            path = Path(storage.path(key))
            path.parent.mkdir(parents=True, exist_ok=True)
            self._path = path
            self._partial = path.with_name(path.name + ".partial")
            self._file = open(self._partial, "wb")  # noqa: SIM115 - closed in commit/abort

    # io.RawIOBase
    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self.size

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        n = len(view)
        if not n:
            return 0
        self._digest.update(view)
        self.size += n
        if self._file is not None:
            self._file.write(view)
            return n
        self._buffer += view
        while len(self._buffer) >= PART_BYTES:
            # One copy of the part (bytes), then the buffer keeps only the remainder.
            with memoryview(self._buffer) as whole:
                part = bytes(whole[:PART_BYTES])
            del self._buffer[:PART_BYTES]
            self._send(part)
            del part
        return n

    def flush(self) -> None:
        if self._file is not None and not self._file.closed:
            self._file.flush()

    def _send(self, chunk: bytes) -> None:
        number = len(self._parts) + 1
        answer = self._client.upload_part(
            Bucket=self._bucket, Key=self._name, UploadId=self._upload_id,
            PartNumber=number, Body=chunk,
        )  # fmt: skip
        self._parts.append({"ETag": answer["ETag"], "PartNumber": number})

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def commit(self) -> None:
        """Complete the object (after the last write)."""
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            os.replace(self._partial, self._path)
        else:
            if self._buffer or not self._parts:
                self._send(bytes(self._buffer))
                self._buffer = bytearray()
            self._client.complete_multipart_upload(
                Bucket=self._bucket, Key=self._name, UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )  # fmt: skip
        self._done = True

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        if self._file is not None:
            self._file.close()
            self._partial.unlink(missing_ok=True)
        else:
            self._buffer = bytearray()
            # On failure, the bucket's lifecycle rule removes the incomplete upload later.
            with contextlib.suppress(Exception):
                self._client.abort_multipart_upload(
                    Bucket=self._bucket, Key=self._name, UploadId=self._upload_id
                )

    def close(self) -> None:
        if not self._done:
            self.abort()
        super().close()


def list_keys(storage: Storage, prefix: str) -> Iterator[str]:
    """Every object key under ``prefix`` (relative to the storage), listed lazily
    (S3: 1,000 per request)."""
    if is_s3(storage):
        location = storage.location.strip("/")
        cut = len(location) + 1 if location else 0
        full = f"{location}/{prefix}" if location else prefix
        for obj in storage.bucket.objects.filter(Prefix=full):
            yield obj.key[cut:]
        return
    if isinstance(storage, FileSystemStorage):
        root = Path(storage.location)
        base = root / prefix
        if not base.exists():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file():
                yield str(path.relative_to(root))
        return
    raise TypeError(f"unsupported storage {type(storage).__name__}")


def delete_object(storage: Storage, key: str) -> None:
    """Delete one object (the purge's storage edge; deleting a missing one is fine)."""
    storage.delete(key)


def remove_empty_dirs(storage: Storage, prefix: str) -> None:
    if isinstance(storage, FileSystemStorage):
        base = Path(storage.location) / prefix
        if not base.exists():
            return
        for path in [*sorted(base.rglob("*"), reverse=True), base]:
            if path.is_dir():
                with contextlib.suppress(OSError):  # not empty: something else lives there
                    path.rmdir()


def presigned_url(storage: Storage, key: str, *, expires_in: int, filename: str) -> str:
    return object_storage.presigned_url(
        storage, key, expires_in=expires_in,
        filename_header=f'attachment; filename="{filename}"', content_type="application/zip",
    )  # fmt: skip


def open_export(storage: Storage, key: str):
    return object_storage.open_stream(storage, key)
