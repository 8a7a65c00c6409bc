"""The scanner interface against a real clamd with the repository's signature database."""

import io
from pathlib import Path

import pytest

from tests.uploads.conftest import CLAMD_FILE_MAX, CLAMD_STREAM_MAX, EICAR, MIB, zipped
from uploads.clamd_process import free_port
from uploads.scanning import ClamdScanner, Verdict, scan

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


def test_file_over_clamd_file_limit_is_not_clean():
    # AlertExceedsMax: clamd did not fully scan it, so it reports it instead of OK.
    result = scan(io.BytesIO(b"\x00" * (CLAMD_FILE_MAX + MIB)))
    assert result.verdict is Verdict.INFECTED
    assert result.signature.startswith("Heuristics.Limits.Exceeded")


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


def test_stream_is_read_in_chunks_not_whole():
    reads = []

    class Recording(io.BytesIO):
        def read(self, size=-1):
            reads.append(size)
            return super().read(size)

    assert scan(Recording(b"x" * 300_000)).is_clean
    assert reads and all(0 < size <= 64 * 1024 for size in reads)
