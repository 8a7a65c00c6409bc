"""Streaming authenticated encryption of backup files: AES-256-GCM in 1 MiB records.

AES-GCM (``cryptography``) encrypts a whole message at once, so a file is cut into
records, each sealed on its own with a nonce made of a random per-file prefix and
the record's number, and with the file header, the number and a "last record"
flag as associated data. Reordering, dropping, truncating or changing any byte, or
the wrong key, fails decryption with ``BackupCryptoError``; memory stays at a
couple of records whatever the file size.

Layout: ``MAGIC (8) | key id (8) | nonce prefix (8)`` then records of
``length (4, big endian) | last (1) | ciphertext+tag (length)``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct
from typing import BinaryIO

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

MAGIC = b"ATRBAK01"
RECORD = 1024 * 1024
_TAG = 16
_HEAD = struct.Struct(">IB")


class BackupCryptoError(Exception):
    """A backup file that is not ours, was changed or cut short, or needs another key."""


def backup_key() -> bytes:
    """The 32-byte key from ``BACKUP_ENCRYPTION_KEY`` (base64).

    Without it, development (``DEBUG``) derives one from ``SECRET_KEY``; anything
    else refuses, with a message that never shows the value.
    """
    raw = getattr(settings, "BACKUP_ENCRYPTION_KEY", "") or ""
    if not raw:
        if settings.DEBUG:
            return hashlib.sha256(b"atrium-dev-backup-key:" + settings.SECRET_KEY.encode()).digest()
        raise ImproperlyConfigured("BACKUP_ENCRYPTION_KEY must be set to make or read backups.")
    try:
        key = base64.b64decode(raw.strip() + "=" * (-len(raw.strip()) % 4), altchars=b"-_")
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise ImproperlyConfigured(
            "BACKUP_ENCRYPTION_KEY must be 32 random bytes in base64 "
            "(e.g. python -c 'import os,base64;print(base64.b64encode(os.urandom(32)).decode())')."
        )
    return key


def key_id(key: bytes) -> bytes:
    """8 bytes naming the key (not revealing it), so a wrong key gets a clear error."""
    return hashlib.sha256(b"atrium-backup-key-id:" + key).digest()[:8]


def name_digest(key: bytes, text: str) -> str:
    """A keyed digest for object names in the backup storage: equal contents share a
    name (one copy per workspace), yet names do not reveal the contents' sha256."""
    import hmac

    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


# cryptography's primitives (its Rust bindings) are about 6 MB RSS: imported by the first
# backup or restore, not by every web process and worker that imports the backups
# services through the offboarding pages and tasks (bench/uploads.py measures both).
def _aead(key: bytes):
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


def _invalid_tag() -> type[Exception]:
    from cryptography.exceptions import InvalidTag

    return InvalidTag


def encrypt_stream(src: BinaryIO, dst: BinaryIO, key: bytes) -> tuple[int, str]:
    """Encrypt ``src`` into ``dst``; returns the plaintext's size and sha256."""
    aead = _aead(key)
    prefix = os.urandom(8)
    header = MAGIC + key_id(key) + prefix
    dst.write(header)
    digest = hashlib.sha256()
    size = 0
    number = 0
    chunk = src.read(RECORD)
    while True:
        following = src.read(RECORD) if chunk else b""
        last = not following
        digest.update(chunk)
        size += len(chunk)
        sealed = aead.encrypt(_nonce(prefix, number), chunk, _aad(header, number, last))
        dst.write(_HEAD.pack(len(sealed), int(last)))
        dst.write(sealed)
        if last:
            return size, digest.hexdigest()
        chunk = following
        number += 1


def decrypt_stream(src: BinaryIO, dst: BinaryIO, key: bytes) -> tuple[int, str]:
    """Decrypt ``src`` into ``dst``; returns the plaintext's size and sha256.

    Raises ``BackupCryptoError`` before writing a record that does not authenticate.
    """
    header = _read_exact(src, len(MAGIC) + 16, "header")
    if header[: len(MAGIC)] != MAGIC:
        raise BackupCryptoError("not an Atrium backup file")
    if header[len(MAGIC) : len(MAGIC) + 8] != key_id(key):
        raise BackupCryptoError("this backup was encrypted with another BACKUP_ENCRYPTION_KEY")
    prefix = header[len(MAGIC) + 8 :]
    aead = _aead(key)
    digest = hashlib.sha256()
    size = 0
    number = 0
    while True:
        length, last = _HEAD.unpack(_read_exact(src, _HEAD.size, "record header"))
        if length < _TAG or length > RECORD + _TAG or last not in (0, 1):
            raise BackupCryptoError("backup file is damaged (bad record header)")
        sealed = _read_exact(src, length, "record")
        try:
            chunk = aead.decrypt(_nonce(prefix, number), sealed, _aad(header, number, bool(last)))
        except _invalid_tag():
            raise BackupCryptoError(f"backup file is damaged (record {number})") from None
        dst.write(chunk)
        digest.update(chunk)
        size += len(chunk)
        if last:
            if src.read(1):
                raise BackupCryptoError("backup file has data after its last record")
            return size, digest.hexdigest()
        number += 1


def _nonce(prefix: bytes, number: int) -> bytes:
    return prefix + struct.pack(">I", number)


def _aad(header: bytes, number: int, last: bool) -> bytes:
    return header + struct.pack(">QB", number, int(last))


def _read_exact(src: BinaryIO, n: int, what: str) -> bytes:
    data = bytearray()
    while len(data) < n:
        part = src.read(n - len(data))
        if not part:
            raise BackupCryptoError(f"backup file is cut short (in a {what})")
        data += part
    return bytes(data)
