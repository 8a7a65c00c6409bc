"""The documents module's write API. Each function checks permission, makes its change
and records the audit event in one ``transaction.atomic()``; views, the API and tasks
call these, with plain values (ids, file paths, strings) and the acting principal.

Who may do what: ``uploads.permissions``. The scan pipeline: ``uploads.pipeline``
(its ``document_scan`` and ``documents_requeue_stale`` are part of this face).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _

import audit.services as audit
from billing.selectors import plan_for
from core.principal import Principal, write_service
from core.workspace import current as current_workspace
from tenants.selectors import current_tenant

from . import sniffing
from . import storage as store
from .limits import over_quota_message, too_large_message
from .models import Document
from .permissions import can_manage, can_restore, require_member, require_writer
from .pipeline import (
    Requeued,
    ScanOutcome,
    _discard,
    _locked,
    _queue_scan,
    document_scan,
    documents_requeue_overdue,
    documents_requeue_stale,
    scan_backoff,
    scan_lease_left,
)
from .selectors import limits_of, max_file_bytes, recently_deleted

__all__ = [
    "DocumentNotAvailable",
    "DownloadTicket",
    "Requeued",
    "ScanOutcome",
    "StorageUnavailable",
    "UploadRejected",
    "document_delete",
    "document_download",
    "document_purge",
    "document_rename",
    "document_restore",
    "document_scan",
    "document_upload",
    "documents_purge_expired",
    "documents_requeue_overdue",
    "documents_requeue_stale",
    "download_url_expiry",
    "scan_backoff",
    "scan_lease_left",
]

log = logging.getLogger(__name__)
State = Document.State


class DocumentNotAvailable(Exception):
    """The document exists but cannot be downloaded (not scanned clean, or deleted)."""


class UploadRejected(ValidationError):
    """Over the per-file limit or the tenant's quota."""


class StorageUnavailable(Exception):
    """Storage could not take or give the file (disk full, S3 unreachable): nothing
    was kept or recorded; the client may try again later."""


# --- upload ---------------------------------------------------------------------


def _sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


@write_service
def document_upload(
    *,
    actor: Principal,
    name: str,
    path: str,
    size: int,
    sha256: str = "",
    client_content_type: str = "",
) -> Document:
    """Put the file at ``path`` (received on local disk) in quarantine and queue its scan.
    Never the final place. ``sha256`` when the receiver computed it on the way in
    (else it is computed here); ``client_content_type`` is kept for the audit only."""
    uploader = require_writer(actor)
    plan = plan_for(current_tenant())  # once; the used bytes are summed under the lock
    file_limit = max_file_bytes(plan)
    if size > file_limit:
        raise UploadRejected(too_large_message(name, file_limit))
    document = Document(
        name=sniffing.sanitize_filename(name),
        size=size,
        content_type=sniffing.sniff_content_type(path),
        sha256=sha256 or _sha256_of(path),
        state=State.QUARANTINED,
        uploaded_by=uploader,
    )
    schema = current_workspace().schema_name
    document.quarantine_key = store.quarantine_key(schema, document.id)
    quarantine = store.quarantine_storage()
    # The bytes go to quarantine before the row exists; on any failure (a full disk
    # mid-write included) they are removed again, so no object is left without its row.
    try:
        store.save_path(quarantine, document.quarantine_key, path)
    except Exception as exc:
        _discard(quarantine, document.quarantine_key)
        if store.is_storage_error(exc):
            log.warning("quarantine storage refused an upload: %s", exc)
            raise StorageUnavailable(str(exc)) from exc
        raise
    try:
        with transaction.atomic():
            # One upload at a time per tenant past this point, so two concurrent
            # uploads cannot both fit in the same remaining quota.
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"quota:{schema}"])
            # The quota is summed only here, under the lock, where it is exact.
            if size > limits_of(plan).quota_left_bytes:
                raise UploadRejected(over_quota_message(name))
            document.save(force_insert=True)
            audit.record(
                "document.uploaded",
                actor=actor,
                target=document,
                changes={
                    "name": document.name,
                    "size": size,
                    "content_type": document.content_type,
                    "client_content_type": client_content_type,
                    "sha256": document.sha256,
                },
            )
            transaction.on_commit(lambda: _queue_scan(schema, document.id))
    except BaseException:
        _discard(quarantine, document.quarantine_key)
        raise
    return document


# --- everyday changes -----------------------------------------------------------


def _locked_for_change(actor: Principal, document_id, refusal: str) -> Document:
    """The live document, locked, if ``actor`` may change it (call inside a transaction)."""
    document = _locked(document_id)
    if document.state == State.DELETED:
        raise Document.DoesNotExist
    if not can_manage(actor, document):
        raise PermissionDenied(refusal)
    return document


@write_service
def document_rename(*, actor: Principal, document_id, name: str) -> Document:
    """Give a document a new (sanitised) name."""
    require_writer(actor)
    with transaction.atomic():
        document = _locked_for_change(
            actor, document_id, _("Only the uploader or an admin can rename this document.")
        )
        new_name = sniffing.sanitize_filename(name)
        if new_name == document.name:
            return document
        before = document.name
        document.name = new_name
        document.save(update_fields=["name", "updated_at"])
        audit.record(
            "document.renamed",
            actor=actor,
            target=document,
            changes={"name": {"before": before, "after": new_name}},
        )
    return document


@write_service
def document_delete(*, actor: Principal, document_id) -> Document:
    """Soft delete: hidden at once, restorable by admins for UPLOADS_RESTORE_DAYS."""
    user = require_writer(actor)
    with transaction.atomic():
        document = _locked_for_change(
            actor, document_id, _("Only the uploader or an admin can delete this document.")
        )
        before = document.state
        document.state_before_delete = State.QUARANTINED if document.is_waiting else before
        document.state = State.DELETED
        document.deleted_at = timezone.now()
        document.deleted_by = user
        document.save()
        audit.record(
            "document.deleted",
            actor=actor,
            target=document,
            changes={"state": {"before": before, "after": State.DELETED}},
        )
    return document


@write_service
def document_restore(*, actor: Principal, document_id) -> Document:
    """Bring back a soft-deleted document within the restore window (owners, admins)."""
    require_writer(actor)
    if not can_restore(actor):
        raise PermissionDenied(_("Only owners and admins can restore deleted documents."))
    with transaction.atomic():
        document = _locked(document_id)
        if document.state != State.DELETED:
            raise ValidationError(_("This document is not deleted: there is nothing to restore."))
        if not recently_deleted().filter(pk=document.pk).exists():
            raise Document.DoesNotExist  # past the restore window: the purge takes it
        restored = document.state_before_delete or State.AVAILABLE
        document.state = restored
        document.deleted_at = None
        document.deleted_by = None
        document.state_before_delete = ""
        document.save()
        audit.record(
            "document.restored",
            actor=actor,
            target=document,
            changes={"state": {"before": State.DELETED, "after": restored}},
        )
        if restored == State.QUARANTINED:
            schema = current_workspace().schema_name
            transaction.on_commit(lambda: _queue_scan(schema, document.id))
    return document


@write_service
def document_purge(*, actor: Principal, document_id) -> None:
    """Remove a deleted document for good: its bytes, then its row (the audit log keeps
    the trail). Called by the periodic purge once the restore window has passed."""
    with transaction.atomic():
        document = _locked(document_id)
        if document.state != State.DELETED:
            return
        keys = [
            (store.documents_storage(), document.storage_key),
            (store.quarantine_storage(), document.quarantine_key),
        ]
        audit.record(
            "document.purged",
            actor=actor,
            target=document,
            changes={"deleted_at": document.deleted_at.isoformat() if document.deleted_at else ""},
        )
        document.delete()
        for storage, key in keys:
            # Inside the transaction: if a delete fails, the row stays for the next purge.
            store.delete(storage, key)


@write_service
def documents_purge_expired(*, actor: Principal, now: datetime | None = None) -> int:
    """Purge every document deleted longer ago than ``UPLOADS_RESTORE_DAYS``."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.UPLOADS_RESTORE_DAYS)
    expired = Document.objects.filter(state=State.DELETED, deleted_at__lt=cutoff)
    count = 0
    for document_id in expired.values_list("pk", flat=True):
        document_purge(actor=actor, document_id=document_id)
        count += 1
    return count


# --- download -------------------------------------------------------------------


@dataclass(frozen=True)
class DownloadTicket:
    """How to hand a document out: a presigned URL (S3) or a stream (filesystem)."""

    document: Document
    disposition: str  # the Content-Disposition header value
    url: str = ""
    expires_at: datetime | None = None
    stream: BinaryIO | None = None  # opened by the service, before the audit event

    def open(self) -> BinaryIO:
        if self.stream is not None:
            return self.stream
        return store.open_stream(store.documents_storage(), self.document.storage_key)


def download_url_expiry(now: datetime, ttl_seconds: int | None = None) -> tuple[int, datetime]:
    """The presigned URL's lifetime in seconds and the moment it stops working."""
    ttl = settings.UPLOADS_DOWNLOAD_URL_TTL if ttl_seconds is None else ttl_seconds
    ttl = max(1, min(int(ttl), 3600))  # short-lived by construction, never open-ended
    return ttl, now + timedelta(seconds=ttl)


def document_download(*, actor: Principal, document_id, inline: bool = False) -> DownloadTicket:
    """Permission first; then only a document scanned clean, and audited."""
    require_member(actor)
    with transaction.atomic():
        document = Document.objects.get(pk=document_id)
        if document.state != State.AVAILABLE or not document.storage_key:
            raise DocumentNotAvailable(document.get_state_display())
        as_inline = inline and sniffing.may_be_inline(document.content_type)
        disposition = content_disposition_header(not as_inline, document.name)
        documents = store.documents_storage()
        url, expires_at = "", None
        if store.is_s3(documents):
            ttl, expires_at = download_url_expiry(timezone.now())
            url = store.presigned_url(
                documents,
                document.storage_key,
                expires_in=ttl,
                filename_header=disposition,
                content_type=document.content_type,
            )
            stream = None
        else:
            # Opened before the event is recorded: a storage that is down is a 503 with
            # no "downloaded" event for a download that never happened.
            try:
                stream = store.open_stream(documents, document.storage_key)
            except Exception as exc:
                if not store.is_storage_error(exc):
                    raise
                raise StorageUnavailable(str(exc)) from exc
        try:
            audit.record(
                "document.downloaded",
                actor=actor,
                target=document,
                changes={"inline": as_inline, "via": "presigned_url" if url else "stream"},
            )
        except BaseException:
            if stream is not None:
                stream.close()
            raise
    return DownloadTicket(
        document=document,
        disposition=disposition,
        url=url,
        expires_at=expires_at,
        stream=stream,
    )
