"""The scan pipeline: quarantine → clamd → documents storage, or blocked.

A Celery task per document (``uploads.tasks.scan_document``) calls
``document_scan`` in the tenant's schema, as the system. Clean files move to
``tenants/<schema>/documents/<uuid>`` and become available; infected ones are
deleted and blocked, and the admins told; when the scanner (or quarantine
storage) is unavailable the document waits in quarantine and the task retries.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from enum import StrEnum

from django.conf import settings
from django.db import transaction
from django.utils import timezone

import audit.services as audit
from core.principal import Principal, write_service
from core.queue import task
from core.workspace import current as current_workspace

from . import scanning
from . import storage as store
from .models import Document

log = logging.getLogger(__name__)
State = Document.State


def _locked(document_id) -> Document:
    return Document.objects.select_for_update().get(pk=document_id)


def _queue_scan(schema_name: str, document_id, countdown: int | None = None) -> None:
    scan = task("uploads.tasks.scan_document")
    scan.apply_async(args=[schema_name, str(document_id)], countdown=countdown)


class ScanOutcome(StrEnum):
    AVAILABLE = "available"
    BLOCKED = "blocked"
    RETRY = "retry"  # scanner unavailable: still in quarantine
    SKIPPED = "skipped"  # nothing to do (already decided, deleted, or being scanned)


def scan_backoff(attempt: int) -> int:
    """Seconds before scan attempt ``attempt + 1``: exponential, capped."""
    base, cap = settings.UPLOADS_SCAN_RETRY_BASE, settings.UPLOADS_SCAN_RETRY_MAX
    return min(cap, base * 2 ** max(0, attempt - 1))


def _claim_for_scan(document_id) -> Document | None:
    with transaction.atomic():
        try:
            document = _locked(document_id)
        except Document.DoesNotExist:
            return None
        if document.state == State.SCANNING:
            # Another worker may be on it; a scan older than the timeout was lost
            # with its worker (late ack redelivered the task) and is taken over.
            lease = timedelta(seconds=settings.CLAMD_TIMEOUT * 2)
            if document.updated_at > timezone.now() - lease:
                return None
        elif document.state != State.QUARANTINED:
            return None
        document.state = State.SCANNING
        document.scan_attempts += 1
        document.save(update_fields=["state", "scan_attempts", "updated_at"])
        return document


@write_service
def document_scan(
    *, actor: Principal, document_id, scanner: scanning.Scanner | None = None
) -> ScanOutcome:
    """Scan a quarantined document and record the verdict. Idempotent: a document that
    is not waiting for a scan is left alone. Runs in the tenant's schema."""
    document = _claim_for_scan(document_id)
    if document is None:
        return ScanOutcome.SKIPPED
    quarantine, documents = store.quarantine_storage(), store.documents_storage()
    final_key = store.document_key(current_workspace().schema_name, document.id)
    if not store.exists(quarantine, document.quarantine_key):
        if store.exists(documents, final_key):
            # Scanned clean and moved by an earlier run that died before recording it.
            return _record_clean(actor, document.id, final_key)
        return _record_scan_failure(
            document.id, scanning.ScanResult.unavailable("quarantined file is missing")
        )
    scanner = scanner or scanning.get_scanner()
    started = time.monotonic()
    try:
        with store.open_stream(quarantine, document.quarantine_key) as stream:
            result = scanner.scan(stream)
    except OSError as exc:  # storage unreachable: same as scanner down, try again later
        result = scanning.ScanResult.unavailable(f"quarantine storage: {exc}")
    scan_s = time.monotonic() - started
    log.info(
        "scanned document %s: %s, %d bytes in %.3fs (%.1f MB/s)",
        document.id,
        result.verdict,
        document.size,
        scan_s,
        document.size / 1048576 / max(scan_s, 1e-6),
    )
    if result.is_clean:
        started = time.monotonic()
        store.move(quarantine, document.quarantine_key, documents, final_key)
        log.info("stored document %s in %.3fs", document.id, time.monotonic() - started)
        return _record_clean(actor, document.id, final_key)
    if result.retryable:
        return _record_scan_failure(document.id, result)
    return _record_blocked(actor, document.id, result)


def _record_clean(actor: Principal, document_id, final_key: str) -> ScanOutcome:
    with transaction.atomic():
        document = _locked(document_id)
        document.state = State.AVAILABLE
        document.storage_key = final_key
        document.quarantine_key = ""
        document.last_scan_error = ""
        document.scanned_at = timezone.now()
        document.save()
        audit.record(
            "document.scanned_clean",
            actor=actor,
            target=document,
            changes={"state": {"before": State.SCANNING, "after": State.AVAILABLE}},
        )
    return ScanOutcome.AVAILABLE


def _record_blocked(actor: Principal, document_id, result: scanning.ScanResult) -> ScanOutcome:
    quarantine = store.quarantine_storage()
    with transaction.atomic():
        document = _locked(document_id)
        key = document.quarantine_key
        document.state = State.BLOCKED
        document.signature = (result.signature or result.detail or "scan error")[:255]
        document.quarantine_key = ""
        document.scanned_at = timezone.now()
        document.save()
        audit.record(
            "document.blocked",
            actor=actor,
            target=document,
            changes={
                "state": {"before": State.SCANNING, "after": State.BLOCKED},
                "signature": document.signature,
                "sha256": document.sha256,
            },
        )
        transaction.on_commit(lambda: _after_block(document_id))
    # Infected bytes leave quarantine once the verdict is recorded.
    store.delete(quarantine, key)
    return ScanOutcome.BLOCKED


def _after_block(document_id) -> None:
    from .notifications import email_admins_about_blocked

    try:
        email_admins_about_blocked(Document.objects.get(pk=document_id))
    except Exception:  # the block stands even if the email fails; it is on the page
        log.exception("could not email admins about blocked document %s", document_id)


def _record_scan_failure(document_id, result: scanning.ScanResult) -> ScanOutcome:
    with transaction.atomic():
        document = _locked(document_id)
        document.state = State.QUARANTINED
        document.last_scan_error = result.detail[:255]
        document.save(update_fields=["state", "last_scan_error", "updated_at"])
    log.warning("scan of %s postponed: %s", document_id, result.detail)
    return ScanOutcome.RETRY


@write_service
def documents_requeue_stale(*, actor: Principal, older_than: timedelta | None = None) -> int:
    """Queue the scan again for documents left waiting (lost task, long outage)."""
    age = older_than or timedelta(seconds=settings.UPLOADS_STALE_QUARANTINE_SECONDS)
    cutoff = timezone.now() - age
    stale = Document.objects.filter(
        state__in=[State.QUARANTINED, State.SCANNING], updated_at__lt=cutoff
    ).values_list("pk", flat=True)
    schema = current_workspace().schema_name
    count = 0
    for document_id in stale:
        _queue_scan(schema, document_id)
        count += 1
    return count
