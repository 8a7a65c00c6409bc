"""Content sniffing runs libmagic as the ``file`` command, in a child process: the web
process never maps libmagic's database (bench/uploads.py's memory target), and a
missing, hanging or confused ``file`` types the upload as binary (an attachment)."""

import os
import subprocess
import sys

import pytest
from django.conf import settings

from tests.uploads.test_documents import tiny_png
from uploads import sniffing
from uploads.apps import check_file_command


def test_libmagic_runs_in_a_child_process_and_never_in_this_one(tmp_path):
    png = tmp_path / "picture.bin"
    png.write_bytes(tiny_png())
    code = (
        "import sys; from uploads import sniffing; "
        "print(sniffing.sniff_content_type(sys.argv[1])); "
        "maps = open('/proc/self/maps').read(); "
        "print('magic.mgc' in maps, 'libmagic' in maps, 'magic' in sys.modules)"
    )
    root = settings.BASE_DIR
    out = subprocess.run(
        [sys.executable, "-c", code, str(png)],
        env={**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{root / 'platform'}"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split("\n")[:2] == ["image/png", "False False False"]


def test_a_name_starting_with_a_dash_is_a_file_not_an_option(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "-v").write_bytes(b"%PDF-1.7\n")
    assert sniffing.sniff_content_type("-v") == "application/pdf"


def test_unreadable_or_missing_files_are_binary(tmp_path):
    assert sniffing.sniff_content_type(str(tmp_path / "gone")) == "application/octet-stream"


def _stand_in_file_command(folder, script: str) -> None:
    """A ``file`` of our own first on PATH (the edge: the process we run)."""
    command = folder / "file"
    command.write_text(f"#!/bin/sh\n{script}\n")
    command.chmod(0o755)


@pytest.mark.parametrize(
    "script",
    [
        "echo 'text/html; charset=utf-8 <script>'",  # not a bare MIME type
        "echo 'image/png'; exit 1",  # failed: its answer is not trusted
        "exit 0",  # no answer
    ],
)
def test_an_answer_that_is_not_a_mime_type_is_binary(tmp_path, monkeypatch, script):
    _stand_in_file_command(tmp_path, script)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    sample = tmp_path / "sample.png"
    sample.write_bytes(tiny_png())
    assert sniffing.sniff_content_type(str(sample)) == "application/octet-stream"


def test_a_hanging_file_command_is_cut_short(tmp_path, monkeypatch, caplog):
    _stand_in_file_command(tmp_path, "exec sleep 30")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(sniffing, "SNIFF_TIMEOUT_SECONDS", 0.5)
    sample = tmp_path / "sample.png"
    sample.write_bytes(tiny_png())
    assert sniffing.sniff_content_type(str(sample)) == "application/octet-stream"
    assert "content sniffing failed" in caplog.text


def test_without_the_file_command_uploads_are_binary_and_the_check_says_why(
    tmp_path, monkeypatch, caplog
):
    assert check_file_command(None) == []
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no ``file``
    sample = tmp_path / "sample.png"
    sample.write_bytes(tiny_png())
    assert sniffing.sniff_content_type(str(sample)) == "application/octet-stream"
    assert "'file' command (libmagic): not found" in caplog.text
    assert [error.id for error in check_file_command(None)] == ["uploads.E001"]
