"""The virus scanner interface: ``scan(stream) -> ScanResult``.

Everything else in the project talks to this module only; it is implemented with
``clamav-client`` (INSTREAM over TCP or a unix socket, streamed in bounded chunks,
never the whole file in memory). It replaced the ``clamd`` package, a fork of which
it is: that one has had no release since 2014 and imports ``pkg_resources`` for its
version string, which cost every web and worker process about 7.5 MB RSS
(``bench/uploads.py``). Changing the client means rewriting ``_Clamd`` and
``ClamdScanner`` here and nothing else.

clamd answers OK for some content it did not fully scan. Its size limits are
covered by the clamd configuration (``AlertExceedsMax`` with ``MaxFileSize`` above
``MaxScanSize``, see ``deploy/clamav/clamd.conf.template``); what configuration
cannot cover is recognised here while the bytes stream past (``_StreamInspector``):
ZIP members compressed with a method libclamav cannot decode, and RAR archives
(Debian's clamd has no unrar). Such a file is blocked, never passed as clean.
"""

from __future__ import annotations

import enum
import socket
import struct
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from clamav_client import clamd
from django.conf import settings

# clamd reports a stream over its limit (with AlertExceedsMax) like this.
STREAM_LIMIT_SIGNATURE = "Heuristics.Limits.Exceeded.StreamMaxLength"
# Our own verdicts for content clamd would skip silently.
UNSCANNABLE_PREFIX = "Atrium.Unscannable"

# INSTREAM chunk: large enough that Python's per-chunk cost is negligible, small
# enough to keep memory flat. clamd accepts any chunk up to StreamMaxLength.
CHUNK_BYTES = 256 * 1024


class Verdict(enum.StrEnum):
    CLEAN = "clean"
    INFECTED = "infected"
    ERROR = "error"


@dataclass(frozen=True)
class ScanResult:
    """The outcome of one scan.

    ``retryable`` errors (scanner down, timed out, transient failure) keep the file in
    quarantine to be scanned again; every other non-clean outcome blocks the file.
    """

    verdict: Verdict
    signature: str = ""
    detail: str = ""
    retryable: bool = False

    @property
    def is_clean(self) -> bool:
        return self.verdict is Verdict.CLEAN

    @classmethod
    def clean(cls) -> ScanResult:
        return cls(Verdict.CLEAN)

    @classmethod
    def infected(cls, signature: str) -> ScanResult:
        return cls(Verdict.INFECTED, signature=signature)

    @classmethod
    def unavailable(cls, detail: str) -> ScanResult:
        return cls(Verdict.ERROR, detail=detail, retryable=True)


class Scanner(Protocol):
    def scan(self, stream: BinaryIO) -> ScanResult: ...


# ZIP compression methods libclamav extracts (unzip.c): stored, implode, deflate,
# deflate64, bzip2. Members with any other method (LZMA 14, zstd 93, xz 95, PPMd 98,
# AES 99...) are skipped without a word, so their content is never scanned.
ZIP_METHODS_SCANNED = frozenset({0, 6, 8, 9, 12})
_ZIP_LOCAL_HEADER = b"PK\x03\x04"
_ZIP_HEADER_LEN = 30
_RAR_MARKER = b"Rar!\x1a\x07"
_OVERLAP = _ZIP_HEADER_LEN - 1


class _StreamInspector:
    """Counts the bytes sent to clamd and looks, on the way, for structures clamd
    would not scan: ZIP local headers (at any offset, like clamd's own embedded-ZIP
    detection) with an unsupported method, and RAR markers.

    A local header is only believed when its version and name/extra lengths are
    plausible, so random binary data (which holds ``PK\\3\\4`` about once every
    4 GiB) does not trip it."""

    def __init__(self) -> None:
        self.count = 0
        self.unscannable = ""
        self._tail = b""

    def feed(self, data: bytes | bytearray, start: int = 0, end: int | None = None) -> None:
        """Inspect ``data[start:end]`` (searched in place: no copy of the chunk)."""
        end = len(data) if end is None else end
        self.count += end - start
        if self.unscannable:
            return
        # A header or marker cut by the chunk boundary: the small seam only.
        seam = self._tail + bytes(data[start : min(end, start + _OVERLAP)])
        self._check(seam, 0, len(seam))
        if not self.unscannable:
            self._check(data, start, end)
        self._tail = bytes(data[max(start, end - _OVERLAP) : end])

    def _check(self, data, start: int, end: int) -> None:
        if data.find(_RAR_MARKER, start, end) != -1:
            self.unscannable = f"{UNSCANNABLE_PREFIX}.RAR"
            return
        at = data.find(_ZIP_LOCAL_HEADER, start, end)
        while at != -1:
            if at + _ZIP_HEADER_LEN > end:
                # Cut by the boundary: seen whole in the next seam. A short header at
                # the very end of the stream is not a member clamd could extract.
                return
            version, _flags, method = struct.unpack_from("<HHH", data, at + 4)
            name_len, extra_len = struct.unpack_from("<HH", data, at + 26)
            plausible = version <= 100 and 0 < name_len <= 1024 and extra_len <= 4096
            if plausible and method not in ZIP_METHODS_SCANNED:
                self.unscannable = f"{UNSCANNABLE_PREFIX}.ZipMethod{method}"
                return
            at = data.find(_ZIP_LOCAL_HEADER, at + 1, end)


class _Clamd:
    """INSTREAM with 256 KiB chunks read into one reused buffer (the package's own
    ``instream`` reads and sends 1 KiB chunks) and inspected on the way, reusing the
    package's connection handling and answer parsing."""

    def instream(self, stream: BinaryIO, inspector: _StreamInspector) -> dict:
        try:
            self._init_socket()
            self._send_command("INSTREAM")
            sock = self.clamd_socket
            buffer = bytearray(CHUNK_BYTES + 4)
            view = memoryview(buffer)
            readinto = getattr(stream, "readinto", None)
            while True:
                if readinto is not None:
                    size = readinto(view[4:]) or 0
                else:
                    data = stream.read(CHUNK_BYTES)
                    size = len(data)
                    view[4 : 4 + size] = data
                if not size:
                    break
                inspector.feed(buffer, 4, 4 + size)
                struct.pack_into("!L", buffer, 0, size)
                sock.sendall(view[: 4 + size])
            sock.sendall(struct.pack("!L", 0))
            result = self._recv_response()
            if result == "INSTREAM size limit exceeded. ERROR":
                raise clamd.BufferTooLongError(result)
            filename, reason, status = self._parse_response(result)
            return {filename: (status, reason)}
        finally:
            self._close_socket()


class _ClamdNetwork(_Clamd, clamd.ClamdNetworkSocket):
    pass


class _ClamdUnix(_Clamd, clamd.ClamdUnixSocket):
    pass


class ClamdScanner:
    """clamd over TCP (``CLAMD_HOST``/``CLAMD_PORT``) or a unix socket (``CLAMD_SOCKET``)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 3310,
        unix_socket: str = "",
        timeout: float = 120.0,
        stream_max_bytes: int = 0,
    ) -> None:
        self.host, self.port, self.unix_socket = host, port, unix_socket
        self.timeout = timeout
        self.stream_max_bytes = stream_max_bytes

    def _client(self) -> _ClamdNetwork | _ClamdUnix:
        if self.unix_socket:
            return _ClamdUnix(path=self.unix_socket, timeout=self.timeout)
        return _ClamdNetwork(host=self.host, port=self.port, timeout=self.timeout)

    def ping(self, timeout: float = 2.0) -> None:
        """Raise ``OSError`` or ``clamd.ClamdError`` unless clamd answers PONG in time."""
        client = (
            _ClamdUnix(path=self.unix_socket, timeout=timeout)
            if self.unix_socket
            else _ClamdNetwork(host=self.host, port=self.port, timeout=timeout)
        )
        if client.ping() != "PONG":
            raise clamd.ClamdError("clamd did not answer PONG")

    def scan(self, stream: BinaryIO) -> ScanResult:
        reader = _StreamInspector()
        try:
            answer = self._client().instream(stream, reader)
        except clamd.BufferTooLongError as exc:
            return ScanResult(Verdict.ERROR, signature=STREAM_LIMIT_SIGNATURE, detail=str(exc))
        except (clamd.ClamdError, OSError) as exc:
            # socket.timeout and BrokenPipeError are OSErrors; the client wraps those it
            # meets connecting and reading the answer in its CommunicationError.
            if self.stream_max_bytes and reader.count > self.stream_max_bytes:
                return ScanResult(Verdict.ERROR, signature=STREAM_LIMIT_SIGNATURE, detail=str(exc))
            timed_out = isinstance(exc, socket.timeout) or isinstance(exc.__cause__, socket.timeout)
            kind = "timed out" if timed_out else "unavailable"
            return ScanResult.unavailable(f"scanner {kind}: {exc}")
        status, signature = answer.get("stream", ("ERROR", "no answer"))
        if status == "OK" and reader.unscannable:
            # clamd found nothing, but it skipped part of the content: never clean.
            return ScanResult(Verdict.ERROR, signature=reader.unscannable, detail="not scannable")
        if status == "OK":
            return ScanResult.clean()
        if status == "FOUND":
            return ScanResult.infected(signature or "unknown")
        return ScanResult.unavailable(f"scanner error: {signature}")


def get_scanner() -> Scanner:
    """The configured scanner (settings are read on each call, so tests may change them)."""
    return ClamdScanner(
        host=settings.CLAMD_HOST,
        port=settings.CLAMD_PORT,
        unix_socket=settings.CLAMD_SOCKET,
        timeout=settings.CLAMD_TIMEOUT,
        stream_max_bytes=settings.UPLOADS_SCANNER_MAX_BYTES,
    )


def scan(stream: BinaryIO) -> ScanResult:
    """Scan ``stream`` (read in chunks until EOF) with the configured scanner."""
    return get_scanner().scan(stream)
