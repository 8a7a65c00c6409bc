"""The virus scanner interface: ``scan(stream) -> ScanResult``.

Everything else in the project talks to this module only; it is implemented with
the ``clamd`` package (INSTREAM over TCP, streamed in small chunks, never the
whole file in memory). Replacing it by ``clamav-client`` means rewriting
``ClamdScanner`` here and nothing else.
"""

from __future__ import annotations

import enum
import io
import socket
from dataclasses import dataclass
from typing import BinaryIO, Protocol

import clamd
from django.conf import settings

# clamd reports a stream or file over its limits (with AlertExceedsMax) like this.
LIMIT_SIGNATURE_PREFIX = "Heuristics.Limits.Exceeded"
STREAM_LIMIT_SIGNATURE = "Heuristics.Limits.Exceeded.StreamMaxLength"


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


class _CountingReader(io.RawIOBase):
    """Counts the bytes handed to the client, so a dropped connection after the
    scanner's stream limit is recognised as a limit overrun, not an outage."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.count = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.count += len(data)
        return data


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

    def _client(self) -> clamd.ClamdNetworkSocket:
        if self.unix_socket:
            return clamd.ClamdUnixSocket(path=self.unix_socket, timeout=self.timeout)
        return clamd.ClamdNetworkSocket(host=self.host, port=self.port, timeout=self.timeout)

    def scan(self, stream: BinaryIO) -> ScanResult:
        reader = _CountingReader(stream)
        try:
            answer = self._client().instream(reader)
        except clamd.BufferTooLongError as exc:
            return ScanResult(Verdict.ERROR, signature=STREAM_LIMIT_SIGNATURE, detail=str(exc))
        except (clamd.ConnectionError, OSError, clamd.ResponseError) as exc:
            # socket.timeout and BrokenPipeError are OSErrors; the clamd package raises
            # its own ConnectionError, which is not one.
            if self.stream_max_bytes and reader.count > self.stream_max_bytes:
                return ScanResult(Verdict.ERROR, signature=STREAM_LIMIT_SIGNATURE, detail=str(exc))
            kind = "timed out" if isinstance(exc, socket.timeout) else "unavailable"
            return ScanResult.unavailable(f"scanner {kind}: {exc}")
        status, signature = answer.get("stream", ("ERROR", "no answer"))
        if status == "OK":
            return ScanResult.clean()
        if status == "FOUND":
            return ScanResult.infected(signature or "unknown")
        return ScanResult.unavailable(f"scanner error: {signature}")

    def ping(self) -> bool:
        try:
            return self._client().ping() == "PONG"
        except (clamd.ClamdError, OSError):
            return False


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
