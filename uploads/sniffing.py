"""What a file is, from its bytes; what it may be called; how it may be served."""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import unicodedata
from pathlib import PurePosixPath

log = logging.getLogger(__name__)

MAX_NAME_LENGTH = 200
FALLBACK_NAME = "document"

# Served inline only when asked and only these; everything else is an attachment.
INLINE_SAFE_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"}
)

# Control characters and path separators; quotes and other punctuation are kept (the
# storage key is the document's id, never its name; headers quote it with RFC 6266).
_UNSAFE_CHARS = re.compile(r"[\x00-\x1f\x7f/\\]")
# What browsers escape in a multipart part's filename (HTML's form-data encoding).
_MULTIPART_ESCAPES = {"%22": '"', "%0A": "\n", "%0D": "\r"}
_MULTIPART_ESCAPE = re.compile("|".join(_MULTIPART_ESCAPES), re.IGNORECASE)

# libmagic reads up to 7 MiB of a file by default and, for its text checks, keeps
# several converted copies: 14 MB more at the peak of every sniff (bench/uploads.py).
# The first MiB decides every format we serve differently; past it only the JSON check
# (which must parse the whole document) changes, to text/plain, still an
# attachment-or-text type.
SNIFF_BYTES = 1024 * 1024
FALLBACK_TYPE = "application/octet-stream"

# libmagic runs as the ``file`` command (its own front end, Debian's ``file`` package),
# one short process per upload, not in the web process: its database is an 8 MB file
# mapping (6 MB resident after a sniff) that a web worker would otherwise carry for
# good next to the S3 client, the largest part of what an upload added to its peak
# (bench/uploads.py). It also keeps a parser of untrusted bytes out of the web
# process (``file`` runs it in a seccomp sandbox): a crash or a hang there costs a
# child process and a timeout, not the worker. The child costs about 5-10 ms.
FILE_COMMAND = "file"
SNIFF_TIMEOUT_SECONDS = 10


def file_command() -> str | None:
    """The path of the ``file`` command, or None when it is not installed."""
    return shutil.which(FILE_COMMAND)


def sniff_content_type(path: str) -> str:
    """The MIME type libmagic reads from the file's first bytes (not the client's claim);
    ``application/octet-stream`` (always an attachment) when it cannot tell."""
    executable = file_command()
    if executable is None:
        log.error("content sniffing needs the %r command (libmagic): not found", FILE_COMMAND)
        return FALLBACK_TYPE
    command = [executable, "--brief", "--mime-type", "-E"]
    command += ["--parameter", f"bytes={SNIFF_BYTES}", "--", path]
    try:
        done = subprocess.run(  # noqa: S603 - a fixed command; the path is one argument
            command, capture_output=True, timeout=SNIFF_TIMEOUT_SECONDS, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("content sniffing failed: %s", exc)
        return FALLBACK_TYPE
    detected = done.stdout.decode("ascii", "replace").strip() if done.returncode == 0 else ""
    if not _MIME_TYPE.fullmatch(detected):
        return FALLBACK_TYPE
    return detected


# type "/" subtype, as libmagic writes them (RFC 6838 characters).
_MIME_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*")


def multipart_filename(raw: str) -> str:
    """The name the user gave the file: browsers send ``"`` as ``%22`` (and CR, LF as
    ``%0D``, ``%0A``) in a multipart filename, and Django passes that on as it came."""
    return _MULTIPART_ESCAPE.sub(lambda m: _MULTIPART_ESCAPES[m.group(0).upper()], raw or "")


def sanitize_filename(raw: str) -> str:
    """A display/download name as the user wrote it (quotes, unicode), with no path
    and no control characters."""
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]  # browsers may send a full path
    name = _UNSAFE_CHARS.sub("_", name)
    name = re.sub(r"\s+", " ", name).strip(" .")
    if not name:
        return FALLBACK_NAME
    if len(name) > MAX_NAME_LENGTH:
        suffix = PurePosixPath(name).suffix[:16]
        name = name[: MAX_NAME_LENGTH - len(suffix)] + suffix
    return name


def may_be_inline(content_type: str) -> bool:
    return content_type in INLINE_SAFE_TYPES
