"""The backup storage (``STORAGES['backups']``): encrypted files in, decrypted streams out.

Layout, per workspace schema::

    workspaces/<schema>/sets/<backup_id>/manifest.json.enc   (written last)
    workspaces/<schema>/sets/<backup_id>/schema.dump.enc     (pg_dump -Fc -n <schema>)
    workspaces/<schema>/sets/<backup_id>/audit.jsonl.enc     (the workspace's audit chain)
    workspaces/<schema>/objects/<keyed digest of sha256>     (documents, one copy each)

Every file is encrypted (``backups.crypto``) on local disk first, then uploaded from
the file (S3: multipart, one part in flight), so memory stays flat.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, storages

from uploads import storage as object_storage

from .crypto import decrypt_stream, encrypt_stream


def backup_storage() -> Storage:
    return storages["backups"]


def workspace_prefix(schema: str) -> str:
    return f"workspaces/{schema}/"


def set_prefix(schema: str, backup_id: str) -> str:
    return f"workspaces/{schema}/sets/{backup_id}/"


def object_name(schema: str, digest: str) -> str:
    return f"workspaces/{schema}/objects/{digest}"


def temp_dir() -> str:
    path = Path(settings.FILE_UPLOAD_TEMP_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


def upload_file(storage: Storage, name: str, path: str) -> None:
    """Store the file at ``path`` as ``name`` (replacing any file of that name): S3
    multipart from the file, one part in flight; on disk a hard link when it can."""
    if object_storage.is_s3(storage):
        storage.bucket.Object(storage._normalize_name(name)).upload_file(
            path, Config=storage.transfer_config
        )
        return
    if storage.exists(name):
        storage.delete(name)
    if isinstance(storage, FileSystemStorage):
        # A hard link of the finished temporary file: no second copy of the bytes.
        target = Path(storage.path(name))
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, target)
        except OSError:  # another filesystem (or no links): copy
            pass
        else:
            if storage.file_permissions_mode is not None:
                os.chmod(target, storage.file_permissions_mode)
            return
    with open(path, "rb") as handle:
        saved = storage.save(name, File(handle))
    if saved != name:
        raise FileExistsError(name)


def put_encrypted(storage: Storage, name: str, src: BinaryIO, key: bytes) -> tuple[int, str, int]:
    """Encrypt ``src`` to ``name``; returns plaintext size, plaintext sha256, stored size."""
    with tempfile.NamedTemporaryFile(dir=temp_dir(), suffix=".enc") as sealed:
        size, digest = encrypt_stream(src, sealed, key)
        sealed.flush()
        stored = sealed.tell()
        upload_file(storage, name, sealed.name)
    return size, digest, stored


def put_encrypted_path(storage: Storage, name: str, path: str, key: bytes) -> tuple[int, str, int]:
    with open(path, "rb") as src:
        return put_encrypted(storage, name, src, key)


def get_decrypted(storage: Storage, name: str, dst: BinaryIO, key: bytes) -> tuple[int, str]:
    """Decrypt ``name`` into ``dst`` (streamed); returns plaintext size and sha256."""
    with object_storage.open_stream(storage, name) as src:
        return decrypt_stream(src, dst, key)


def put_json(storage: Storage, name: str, data: dict, key: bytes) -> None:
    with tempfile.TemporaryFile(dir=temp_dir()) as plain:
        plain.write(json.dumps(data, sort_keys=True).encode())
        plain.seek(0)
        put_encrypted(storage, name, plain, key)


def get_json(storage: Storage, name: str, key: bytes) -> dict:
    with tempfile.TemporaryFile(dir=temp_dir()) as plain:
        get_decrypted(storage, name, plain, key)
        plain.seek(0)
        return json.loads(plain.read())


def exists(storage: Storage, name: str) -> bool:
    return storage.exists(name)


def delete(storage: Storage, name: str) -> None:
    storage.delete(name)


def list_sizes(storage: Storage, prefix: str) -> dict[str, int]:
    """``{name: size}`` of every file under ``prefix`` (recursively), names relative to
    the storage: one LIST per 1,000 objects on S3 rather than a HEAD per object."""
    if object_storage.is_s3(storage):
        location = storage.location.strip("/")
        cut = len(location) + 1 if location else 0
        full = f"{location}/{prefix}" if location else prefix
        return {obj.key[cut:]: obj.size for obj in storage.bucket.objects.filter(Prefix=full)}
    if isinstance(storage, FileSystemStorage):
        root = Path(storage.location)
        base = root / prefix
        if not base.exists():
            return {}
        return {str(p.relative_to(root)): p.stat().st_size for p in base.rglob("*") if p.is_file()}
    raise TypeError(f"unsupported storage {type(storage).__name__}")


def list_names(storage: Storage, prefix: str) -> list[str]:
    """Every file name under ``prefix`` (recursively), relative to the storage."""
    return sorted(list_sizes(storage, prefix))


class Listing:
    """Sizes of the objects of one storage, listed once per folder on first use."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._folders: dict[str, dict[str, int]] = {}

    def size(self, key: str) -> int | None:
        folder = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
        if folder not in self._folders:
            self._folders[folder] = list_sizes(self.storage, folder)
        return self._folders[folder].get(key)

    def add(self, key: str, size: int) -> None:
        self.size(key)
        self._folders[key.rsplit("/", 1)[0] + "/" if "/" in key else ""][key] = size


def delete_prefix(storage: Storage, prefix: str) -> int:
    names = list_names(storage, prefix)
    for name in names:
        storage.delete(name)
    return len(names)
