"""What a file is, from its bytes; what it may be called; how it may be served."""

from __future__ import annotations

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

_UNSAFE_CHARS = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')


def sniff_content_type(path: str) -> str:
    """The MIME type libmagic reads from the file's first bytes (not the client's claim)."""
    try:
        detected = magic.from_file(path, mime=True)
    except (magic.MagicException, OSError):
        detected = ""
    return detected or "application/octet-stream"


def sanitize_filename(raw: str) -> str:
    """A display/download name with no path, control or reserved characters."""
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
