"""An upload handler that spools each file to disk as it arrives and enforces the
limits on the way: the per-file maximum and the tenant's remaining quota. A body
over a limit is refused when the limit is crossed, without reading the rest."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.core.files.uploadhandler import (
    FileUploadHandler,
    StopUpload,
    TemporaryFileUploadHandler,
)

from .limits import over_quota_message, too_large_message
from .sniffing import multipart_filename

log = logging.getLogger(__name__)

# The client's declared type is kept for the audit record only; it is never trusted.
MAX_CLIENT_CONTENT_TYPE = 100


class SpooledUpload(TemporaryUploadedFile):
    """A received file on local disk, with its SHA-256 computed while it arrived."""

    sha256: str = ""


class QuarantineUploadHandler(TemporaryFileUploadHandler):
    """Django's temporary-file handler (spool, size, cleanup on interruption) with
    the limits checked and the SHA-256 computed as each chunk arrives."""

    chunk_size = 256 * 1024

    def __init__(self, request, *, max_file_bytes: int, quota_left_bytes: int) -> None:
        super().__init__(request)
        self.max_file_bytes = max_file_bytes
        self.quota_left_bytes = quota_left_bytes
        self.received_total = 0
        self._hash = None
        self._size = 0

    def new_file(self, *args, **kwargs) -> None:
        # The base handler's bookkeeping, then our file class where Django's
        # TemporaryFileUploadHandler.new_file would make a plain TemporaryUploadedFile.
        FileUploadHandler.new_file(self, *args, **kwargs)
        self.file_name = multipart_filename(self.file_name)
        try:
            self.file = SpooledUpload(
                self.file_name,
                (self.content_type or "")[:MAX_CLIENT_CONTENT_TYPE],
                0,
                self.charset,
                self.content_type_extra,
            )
        except OSError as exc:
            self._spool_failed(exc)
        self._hash = hashlib.sha256()
        self._size = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self._size += len(raw_data)
        self.received_total += len(raw_data)
        if self._size > self.max_file_bytes:
            self._reject(too_large_message(self.file_name, self.max_file_bytes))
        if self.received_total > self.quota_left_bytes:
            self._reject(over_quota_message(self.file_name))
        try:
            super().receive_data_chunk(raw_data, start)
        except OSError as exc:  # the spool folder is full (or gone)
            self._spool_failed(exc)
        self._hash.update(raw_data)

    def file_complete(self, file_size: int) -> SpooledUpload:
        try:
            upload = super().file_complete(file_size)  # flushes the last buffered bytes
        except OSError as exc:
            self._spool_failed(exc)
        upload.sha256 = self._hash.hexdigest()
        return upload

    def upload_interrupted(self) -> None:
        """Close and remove the partial spool file, even when closing it fails (a flush
        on a full disk): an open deleted file would keep the disk full."""
        file = getattr(self, "file", None)
        if file is None:
            return
        path = file.temporary_file_path()
        with contextlib.suppress(OSError):
            file.close()
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)

    def _spool_failed(self, exc: OSError) -> None:
        log.warning("upload spool failed (%s): %s", settings.FILE_UPLOAD_TEMP_DIR, exc)
        self.request.upload_storage_error = True
        self.upload_interrupted()
        raise StopUpload(connection_reset=True)

    def _reject(self, message: str) -> None:
        self.request.upload_rejection = message
        self.upload_interrupted()  # closes and removes the spooled file
        # Stop reading the body: nothing past the limit is ever received or stored.
        raise StopUpload(connection_reset=True)
