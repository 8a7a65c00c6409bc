"""An upload handler that spools each file to disk as it arrives and enforces the
limits on the way: the per-file maximum and the tenant's remaining quota. A body
over a limit is refused when the limit is crossed, without reading the rest."""

from __future__ import annotations

import hashlib

from django.core.files.uploadedfile import TemporaryUploadedFile
from django.core.files.uploadhandler import (
    FileUploadHandler,
    StopUpload,
    TemporaryFileUploadHandler,
)

from .limits import over_quota_message, too_large_message
from .sniffing import multipart_filename

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
        self.file = SpooledUpload(
            self.file_name,
            (self.content_type or "")[:MAX_CLIENT_CONTENT_TYPE],
            0,
            self.charset,
            self.content_type_extra,
        )
        self._hash = hashlib.sha256()
        self._size = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self._size += len(raw_data)
        self.received_total += len(raw_data)
        if self._size > self.max_file_bytes:
            self._reject(too_large_message(self.file_name, self.max_file_bytes))
        if self.received_total > self.quota_left_bytes:
            self._reject(over_quota_message(self.file_name))
        super().receive_data_chunk(raw_data, start)
        self._hash.update(raw_data)

    def file_complete(self, file_size: int) -> SpooledUpload:
        upload = super().file_complete(file_size)
        upload.sha256 = self._hash.hexdigest()
        return upload

    def _reject(self, message: str) -> None:
        self.request.upload_rejection = message
        self.upload_interrupted()  # closes and removes the spooled file
        # Stop reading the body: nothing past the limit is ever received or stored.
        raise StopUpload(connection_reset=True)
