"""What a file is, from its bytes; what it may be called; how it may be served."""

from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import PurePosixPath

import magic

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
# several converted copies: 14 MB more at the peak of every sniff, on top of a web
# process already holding the S3 client (bench/uploads.py). The first MiB decides
# every format we serve differently; past it only the JSON check (which must parse
# the whole document) changes, to text/plain, still an attachment-or-text type.
SNIFF_BYTES = 1024 * 1024


@functools.cache
def _mime_magic() -> magic.Magic:
    """One libmagic handle per process (python-magic serialises its calls with a lock)."""
    handle = magic.Magic(mime=True)
    handle.setparam(magic.MAGIC_PARAM_BYTES_MAX, SNIFF_BYTES)
    return handle


def sniff_content_type(path: str) -> str:
    """The MIME type libmagic reads from the file's first bytes (not the client's claim)."""
    try:
        detected = _mime_magic().from_file(path)
    except (magic.MagicException, OSError):
        detected = ""
    return detected or "application/octet-stream"


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
