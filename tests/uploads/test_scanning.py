"""The scanner interface against a real clamd with the repository's signature database."""

import bz2
import gzip
import io
import lzma
import os
import socket
import struct
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

from tests.servers import CLAMD_SCAN_MAX, CLAMD_STREAM_MAX, MIB
from tests.uploads.conftest import EICAR, zipped, zipped_many
from uploads.clamd_process import check_limits, free_port
from uploads.scanning import CHUNK_BYTES, ClamdScanner, Verdict, _StreamInspector, scan

TESTFILES = Path("/usr/share/clamav-testfiles")


def test_clean_stream_is_clean():
    result = scan(io.BytesIO(b"quarterly figures, nothing to see\n" * 1000))
    assert result.verdict is Verdict.CLEAN and result.is_clean


@pytest.mark.parametrize(
    "payload",
    [EICAR, b"padding before " + EICAR + b" and after", zipped("invoice.pdf", EICAR)],
    ids=["plain", "embedded", "zipped"],
)
def test_eicar_found(payload):
    result = scan(io.BytesIO(payload))
    assert result.verdict is Verdict.INFECTED
    assert "EICAR" in result.signature
    assert not result.retryable


@pytest.mark.skipif(not TESTFILES.is_dir(), reason="Debian package clamav-testfiles missing")
@pytest.mark.parametrize("sample", ["clam.exe", "clam.zip", "clam.7z", "clam.tar.gz"])
def test_clamav_test_samples_found(sample):
    with open(TESTFILES / sample, "rb") as stream:
        result = scan(stream)
    assert result.verdict is Verdict.INFECTED
    assert result.signature.startswith("Atrium.Test.ClamAV-TestFile")


def test_plain_file_up_to_the_stream_limit_is_clean():
    # No false alarm at the app's own limit: MaxScanSize and MaxFileSize are above it.
    assert scan(io.BytesIO(os.urandom(CLAMD_STREAM_MAX - 1024))).is_clean


def _nested(content: bytes, depth: int) -> bytes:
    for level in range(depth):
        content = zipped(f"level{level}.zip" if level else "a.txt", content)
    return content


def _tar_gz(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


# Content past the scan budget, hidden behind compression: EICAR sits after 30 MiB of
# zeros, beyond the point where libclamav stops extracting. Each of these answered OK
# before MaxFileSize was put above MaxScanSize.
BEYOND = b"\x00" * (CLAMD_SCAN_MAX + 10 * MIB) + EICAR
BOMBS = {
    "zip-deflate": lambda: zipped("zeros.bin", BEYOND),
    "zip-random-tail": lambda: zipped("a.bin", b"\x00" * CLAMD_SCAN_MAX + os.urandom(MIB)),
    "zip-bzip2": lambda: zipped("zeros.bin", BEYOND, zipfile.ZIP_BZIP2),
    "zip-nested": lambda: zipped("inner.zip", zipped("zeros.bin", BEYOND)),
    "zip-many-members": lambda: zipped_many(
        [(f"part{i}.bin", bytes([i + 1]) * 7 * MIB) for i in range(4)]
    ),
    "jpeg-with-zip-appended": lambda: b"\xff\xd8\xff\xe0" + b"\x00" * 1000 + zipped("z", BEYOND),
    "gzip": lambda: gzip.compress(BEYOND, compresslevel=1),
    "bzip2": lambda: bz2.compress(BEYOND),
    "xz": lambda: lzma.compress(BEYOND),
    "tar-gz": lambda: _tar_gz("zeros.bin", BEYOND),
    "recursion": lambda: _nested(b"harmless", 20),
    "many-files": lambda: zipped_many([(f"f{i}", b"x") for i in range(10_001)]),
}


@pytest.mark.parametrize("make", BOMBS.values(), ids=BOMBS.keys())
def test_archive_over_scanner_limits_is_blocked_never_clean(make):
    payload = make()
    assert len(payload) < CLAMD_STREAM_MAX  # small on the wire, big inside
    result = scan(io.BytesIO(payload))
    assert not result.is_clean
    assert not result.retryable  # blocked, never "try again until it passes"
    assert result.signature.startswith("Heuristics.Limits.Exceeded."), result


def test_archive_within_limits_is_scanned_to_the_end():
    payload = zipped("report.bin", b"\x00" * (5 * MIB) + EICAR)
    assert "EICAR" in scan(io.BytesIO(payload)).signature
    assert scan(io.BytesIO(zipped("report.txt", b"figures\n" * 100_000))).is_clean


@pytest.mark.parametrize("content", [b"harmless", EICAR], ids=["clean", "eicar"])
def test_zip_member_clamd_cannot_decompress_is_blocked(content):
    # libclamav skips LZMA members silently: EICAR inside one came back OK.
    result = scan(io.BytesIO(zipped("notes.txt", content, zipfile.ZIP_LZMA)))
    assert not result.is_clean and not result.retryable
    assert result.signature in {"Atrium.Unscannable.ZipMethod14", "Atrium.Test.EICAR.UNOFFICIAL"}


def test_encrypted_zip_is_blocked():
    data = bytearray(zipped("secret.txt", os.urandom(212), zipfile.ZIP_STORED))
    # Mark the member encrypted (flag bit 0) in its local and central headers, as
    # ``zip -e`` does; zipfile cannot write encrypted archives.
    data[6] |= 0x1
    data[data.find(b"PK\x01\x02") + 8] |= 0x1
    result = scan(io.BytesIO(bytes(data)))
    assert not result.is_clean and not result.retryable
    assert "Encrypted" in result.signature


def test_rar_is_blocked_as_unscannable():
    # Debian's clamd has no unrar: a RAR archive would pass unopened.
    result = scan(io.BytesIO(b"Rar!\x1a\x07\x01\x00" + os.urandom(4096)))
    assert not result.is_clean
    assert result.signature == "Atrium.Unscannable.RAR"


def _local_header(method: int, name: bytes = b"a.txt", version: int = 20) -> bytes:
    return (
        b"PK\x03\x04"
        + struct.pack("<HHHHHIIIHH", version, 0, method, 0, 0, 0, 0, 0, len(name), 0)
        + name
    )


def test_inspector_sees_a_header_cut_by_a_chunk_boundary():
    data = b"x" * 1000 + _local_header(14) + b"payload"
    for cut in range(995, 1031):
        inspector = _StreamInspector()
        inspector.feed(data[:cut])
        inspector.feed(bytearray(b".." + data[cut:]), 2)
        assert inspector.unscannable == "Atrium.Unscannable.ZipMethod14", cut
        assert inspector.count == len(data)


def test_inspector_ignores_supported_methods_and_random_signatures():
    inspector = _StreamInspector()
    inspector.feed(_local_header(8) + _local_header(0) + _local_header(12))
    # "PK\3\4" followed by nonsense, as random binary data sometimes holds.
    inspector.feed(b"PK\x03\x04" + b"\xff" * 40)
    assert inspector.unscannable == ""


def test_clamd_limits_in_an_unsafe_order_are_refused():
    check_limits(stream_max="10M", scan_max="20M", file_max="21M")
    with pytest.raises(ValueError, match="MaxScanSize < MaxFileSize"):
        check_limits(stream_max="300M", scan_max="1200M", file_max="300M")  # the old order
    with pytest.raises(ValueError):
        check_limits(stream_max="30M", scan_max="20M", file_max="40M")


def test_dev_clamd_config_is_rendered_with_the_same_check(tmp_path, capsys):
    # deploy/local/services.sh renders the long-running dev clamd's config this way.
    from uploads.clamd_process import main

    args = ["render", "--port", "3399", "--run-dir", str(tmp_path), "--foreground"]
    assert main([*args, "--stream-max", "1100M", "--scan-max", "2000M", "--file-max", "2047M"]) == 0
    config = capsys.readouterr().out
    assert "TCPSocket 3399" in config and "AlertExceedsMax yes" in config
    assert "StreamMaxLength 1100M" in config and "Foreground yes" in config
    with pytest.raises(SystemExit) as refused:
        main([*args, "--stream-max", "1100M", "--scan-max", "2047M", "--file-max", "2000M"])
    assert refused.value.code == 2
    assert "MaxScanSize < MaxFileSize" in capsys.readouterr().err


def test_stream_over_clamd_stream_limit_is_an_error_not_retried():
    result = scan(io.BytesIO(b"a" * (CLAMD_STREAM_MAX + MIB)))
    assert result.verdict is Verdict.ERROR
    assert not result.is_clean
    assert not result.retryable  # blocked, never "try again until it passes"
    assert result.signature.startswith("Heuristics.Limits.Exceeded")


def test_scanner_down_is_a_retryable_error():
    scanner = ClamdScanner(host="127.0.0.1", port=free_port(), timeout=2)
    result = scanner.scan(io.BytesIO(EICAR))
    assert result.verdict is Verdict.ERROR
    assert result.retryable
    assert "unavailable" in result.detail


def test_scanner_that_never_answers_is_a_retryable_timeout():
    # A listener that takes the whole stream and never answers (a hung clamd).
    with socket.create_server(("127.0.0.1", free_port())) as server:
        stop = threading.Event()

        def swallow():
            conn, _ = server.accept()
            with conn:
                conn.settimeout(0.1)
                while not stop.is_set():
                    try:
                        if not conn.recv(65536):
                            return
                    except TimeoutError:
                        continue

        thread = threading.Thread(target=swallow, daemon=True)
        thread.start()
        scanner = ClamdScanner(host="127.0.0.1", port=server.getsockname()[1], timeout=0.5)
        result = scanner.scan(io.BytesIO(b"x" * 1000))
        stop.set()
        thread.join(timeout=5)
    assert result.verdict is Verdict.ERROR
    assert result.retryable
    assert "timed out" in result.detail


def test_stream_is_read_in_chunks_not_whole():
    reads = []

    class Recording(io.BytesIO):
        def read(self, size=-1):
            reads.append(size)
            return super().read(size)

        def readinto(self, buffer):
            reads.append(len(buffer))
            return super().readinto(buffer)

    assert scan(Recording(b"x" * 300_000)).is_clean
    assert reads and all(0 < size <= CHUNK_BYTES for size in reads)
