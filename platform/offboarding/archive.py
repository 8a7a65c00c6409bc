"""Writing a workspace's export archive: a ZIP of JSON Lines and files, streamed.

The format is documented in ``README.md`` ("Export format"). Everything is read in
one REPEATABLE READ transaction of the workspace's schema (one consistent picture),
rows through server-side cursors, files one 1 MiB chunk at a time, and written into
an ``ArchiveWriter`` (never the whole archive in memory or on disk). The manifest,
written last, lists every member with its size and sha256.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

import accounts.selectors as people
import audit.selectors as audit_selectors
import uploads.selectors as documents
from uploads import storage as object_storage

FORMAT = "atrium-workspace-export"
FORMAT_VERSION = 1
CHUNK = 1024 * 1024
ZIP64_FROM = 1 << 30  # files this large get ZIP64 headers up front (unknown final size)

USER_FIELDS = (
    "id", "email", "full_name", "role", "is_active", "date_joined", "last_login",
    "language", "time_zone", "deactivated_at",
)  # fmt: skip
INVITATION_FIELDS = (
    "id", "email", "role", "invited_by_id", "created_at", "sent_at", "expires_at",
    "accepted_at", "accepted_user_id", "revoked_at",
)  # fmt: skip
DOCUMENT_FIELDS = (
    "id", "name", "size", "content_type", "sha256", "state", "state_before_delete",
    "signature", "uploaded_by_id", "created_at", "updated_at", "scanned_at", "deleted_at",
    "deleted_by_id",
)  # fmt: skip
# The audit tables' rows, as stored (so the chain can be recomputed from the archive).
AUDIT_TABLES = (
    ("audit/events.jsonl", "audit_auditevent", "id"),
    ("audit/links.jsonl", "audit_auditchainlink", "seq"),
    ("audit/checkpoints.jsonl", "audit_auditcheckpoint", "seq, id"),
)

_encoder = DjangoJSONEncoder(ensure_ascii=False, sort_keys=True)


@dataclass
class ArchiveSummary:
    files: list[dict[str, Any]] = field(default_factory=list)
    documents: int = 0
    document_bytes: int = 0
    missing_files: list[str] = field(default_factory=list)


class _Member:
    """A file being written into the ZIP: counts, hashes and (for JSON Lines) records."""

    def __init__(self, zf: zipfile.ZipFile, path: str, *, stored: bool, large: bool) -> None:
        info = zipfile.ZipInfo(path, date_time=timezone.now().timetuple()[:6])
        info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        self.path = path
        self.handle = zf.open(info, "w", force_zip64=large)
        self.digest = hashlib.sha256()
        self.size = 0
        self.records = 0

    def write(self, data: bytes) -> None:
        self.digest.update(data)
        self.size += len(data)
        self.handle.write(data)

    def line(self, obj: Any) -> None:
        self.write(_encoder.encode(obj).encode() + b"\n")
        self.records += 1

    def close(self, summary: ArchiveSummary, *, records: bool = True) -> dict[str, Any]:
        self.handle.close()
        entry = {"path": self.path, "size": self.size, "sha256": self.digest.hexdigest()}
        if records:
            entry["records"] = self.records
        summary.files.append(entry)
        return entry


def document_path(doc_id, name: str) -> str:
    """Where a document's bytes sit in the archive (names are already free of slashes)."""
    return f"documents/{doc_id}/{name.replace('/', '_') or 'unnamed'}"


def _rows(rows: QuerySet) -> Iterator[dict]:
    return rows.iterator(chunk_size=500)


def _jsonl(zf, summary: ArchiveSummary, path: str, rows: Iterator[Any]) -> None:
    member = _Member(zf, path, stored=False, large=False)
    with contextlib.closing(rows):  # see _documents
        for row in rows:
            member.line(row)
    member.close(summary)


def _json(zf, summary: ArchiveSummary, path: str, data: Any) -> None:
    member = _Member(zf, path, stored=False, large=False)
    member.write(json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2,
                            sort_keys=True).encode() + b"\n")  # fmt: skip
    member.close(summary, records=False)


def _raw_lines(query: str, params: list) -> Iterator[str]:
    """Rows of ``query`` (one json text column) through a server-side cursor."""
    with connection.chunked_cursor() as cursor:
        cursor.execute(query, params)
        while True:
            rows = cursor.fetchmany(2000)
            if not rows:
                return
            for (text,) in rows:
                yield text


def _audit_members(zf, summary: ArchiveSummary, chain: str) -> None:
    for path, table, order in AUDIT_TABLES:
        member = _Member(zf, path, stored=False, large=False)
        query = (
            f'SELECT row_to_json(r)::text FROM public."{table}" r '  # noqa: S608 - constants
            f"WHERE chain = %s ORDER BY {order}"
        )
        with contextlib.closing(_raw_lines(query, [chain])) as lines:
            for text in lines:
                member.write(text.encode() + b"\n")
                member.records += 1
        member.close(summary)
    # The same events as people read them, with each one's sentence.
    events = audit_selectors.events_in_order(chain=chain)
    member = _Member(zf, "audit/log.jsonl", stored=False, large=False)
    for chunk in audit_selectors.export_jsonl(events):
        member.write(chunk.encode())
        member.records += chunk.count("\n")
    member.close(summary)


def _documents(zf, summary: ArchiveSummary) -> None:
    storage = object_storage.documents_storage()
    meta = _Member(zf, "documents.jsonl", stored=False, large=False)
    for row in _rows(documents.document_rows((*DOCUMENT_FIELDS, "storage_key"))):
        key = row.pop("storage_key")
        row["file"] = document_path(row["id"], row["name"]) if key else None
        meta.line(row)
    meta.close(summary)
    # A second pass over the same snapshot, rather than a list of every document.
    files = _rows(
        documents.document_rows(("id", "name", "size", "sha256", "storage_key"), stored_only=True)
    )
    # Closed explicitly, so a failure closes the server-side cursor while its savepoint
    # still exists (a cursor closed later, by the garbage collector, fails the transaction).
    with contextlib.closing(files):
        _document_files(zf, summary, storage, files)


def _document_files(zf, summary: ArchiveSummary, storage, files: Iterator[dict]) -> None:
    for row in files:
        doc_id, key, size, sha = str(row["id"]), row["storage_key"], row["size"], row["sha256"]
        path = document_path(row["id"], row["name"])
        summary.documents += 1
        try:
            source = object_storage.open_stream(storage, key)
        except FileNotFoundError:
            summary.missing_files.append(doc_id)
            continue
        except Exception as exc:
            if _is_missing(exc):
                summary.missing_files.append(doc_id)
                continue
            raise
        member = _Member(zf, path, stored=True, large=size >= ZIP64_FROM)
        with source:
            while chunk := source.read(CHUNK):
                member.write(chunk)
        entry = member.close(summary, records=False)
        entry["document_id"] = doc_id
        entry["matches_upload"] = entry["sha256"] == sha
        summary.document_bytes += entry["size"]


def _is_missing(exc: BaseException) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    return code in {"NoSuchKey", "404"}


def write_archive(
    out, *, tenant, export_id: str, requested_by: str, verification: dict, settings_: dict
) -> dict:
    """Write the whole archive of ``tenant`` into ``out`` (the connection must be on the
    workspace's schema); returns the manifest (also the archive's last member)."""
    summary = ArchiveSummary()
    started = timezone.now()
    outermost = not connection.in_atomic_block
    # Closed only on success: closing after a failure would write a central directory
    # (or fail on the open member and hide the first error); the caller aborts ``out``.
    zf = zipfile.ZipFile(out, "w", allowZip64=True)
    with transaction.atomic():
        if outermost:  # one consistent picture of every row (a task: always)
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        _json(zf, summary, "workspace.json", settings_)
        _json(zf, summary, "roles.json", [
            {"role": value, "label": str(label)} for value, label in people.role_choices()
        ])  # fmt: skip
        _jsonl(zf, summary, "users.jsonl", _rows(people.people_rows(USER_FIELDS)))
        _jsonl(zf, summary, "invitations.jsonl", _rows(people.invitation_rows(INVITATION_FIELDS)))
        _documents(zf, summary)
        _audit_members(zf, summary, tenant.schema_name)
        _json(zf, summary, "audit/verification.json", verification)
    manifest = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "export_id": export_id,
        "workspace": {
            "name": tenant.name,
            "slug": tenant.slug,
            "schema": tenant.schema_name,
        },
        "requested_by": requested_by,
        "started_at": started,
        "finished_at": timezone.now(),
        "documents": {
            "count": summary.documents,
            "bytes": summary.document_bytes,
            "missing": summary.missing_files,
        },
        "audit": {"ok": verification.get("ok"), "events": verification.get("events")},
        "files": summary.files,
    }
    info = zipfile.ZipInfo("manifest.json", date_time=timezone.now().timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    with zf.open(info, "w") as handle:
        handle.write(json.dumps(manifest, cls=DjangoJSONEncoder, ensure_ascii=False,
                                indent=2).encode() + b"\n")  # fmt: skip
    zf.close()
    return manifest
