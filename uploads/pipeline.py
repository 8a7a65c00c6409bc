"""The scan pipeline: quarantine → clamd → documents storage, or blocked.

A Celery task per document (``uploads.tasks.scan_document``) calls
``document_scan`` in the tenant's schema, as the system. Clean files move to
``tenants/<schema>/documents/<uuid>`` and become available; infected ones are
deleted and blocked, and the admins told; when the scanner (or storage) is
unavailable the document waits in quarantine and the task retries. The claim is
a lease renewed while the scan runs, so a dead worker's scan is taken over.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
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


def _discard(storage, key: str) -> None:
    """Remove a (possibly partial) object; a storage that is down keeps it for now."""
    try:
        store.delete(storage, key)
    except Exception as exc:
        if not store.is_storage_error(exc):
            raise
        log.error("could not remove %s from quarantine: %s", key, exc)


def _queue_scan(schema_name: str, document_id, countdown: int | None = None) -> bool:
    """Publish the scan task; False when the broker is unreachable. Nothing is lost
    then: the document waits in quarantine and ``documents_requeue_overdue`` queues it
    again when a worker (re)connects to the broker, or within minutes otherwise."""
    from kombu.exceptions import OperationalError

    try:
        # No publish retries: a request must not wait on a dead broker.
        task("uploads.tasks.scan_document").apply_async(
            args=[schema_name, str(document_id)], countdown=countdown, retry=False
        )
    except (OperationalError, OSError) as exc:
        log.warning("broker unreachable, scan of %s queued later: %s", document_id, exc)
        return False
    return True


class ScanOutcome(StrEnum):
    AVAILABLE = "available"
    BLOCKED = "blocked"
    RETRY = "retry"  # scanner or storage unavailable: still in quarantine
    BUSY = "busy"  # another worker holds a live claim: try again when it may have lapsed
    SKIPPED = "skipped"  # nothing to do (already decided, deleted, or taken over)


def scan_backoff(attempt: int) -> int:
    """Seconds before scan attempt ``attempt + 1``: exponential, capped."""
    base, cap = settings.UPLOADS_SCAN_RETRY_BASE, settings.UPLOADS_SCAN_RETRY_MAX
    return min(cap, base * 2 ** max(0, attempt - 1))


def scan_lease_seconds() -> int:
    """How long a scan's claim lives without being renewed (see ``_ScanLease``)."""
    return settings.UPLOADS_SCAN_LEASE_SECONDS


def scan_lease_left(document_id) -> float:
    """Seconds until the current scan claim of ``document_id`` lapses unless renewed
    (0 when there is no live claim): when a waiting task should look again."""
    updated = (
        Document.objects.filter(pk=document_id, state=State.SCANNING)
        .values_list("updated_at", flat=True)
        .first()
    )
    if updated is None:
        return 0.0
    left = updated + timedelta(seconds=scan_lease_seconds()) - timezone.now()
    return max(0.0, left.total_seconds())


def _lease_expired(document: Document, now: datetime) -> bool:
    return document.updated_at <= now - timedelta(seconds=scan_lease_seconds())


@dataclass(frozen=True)
class _Claim:
    document: Document | None
    busy: bool = False


def _claim_for_scan(document_id) -> _Claim:
    with transaction.atomic():
        try:
            document = _locked(document_id)
        except Document.DoesNotExist:
            return _Claim(None)
        if document.state == State.SCANNING:
            # The claim is a lease renewed while the scan runs: a live one belongs to a
            # running scan; one not renewed for a lease period lost its worker and is
            # taken over.
            if not _lease_expired(document, timezone.now()):
                return _Claim(None, busy=True)
            log.warning("taking over the scan of %s (its worker is gone)", document.id)
        elif document.state != State.QUARANTINED:
            return _Claim(None)
        document.state = State.SCANNING
        document.scan_attempts += 1
        document.save(update_fields=["state", "scan_attempts", "updated_at"])
        return _Claim(document)


class _ScanLease:
    """Renews the claim (``updated_at``) every third of the lease while the scan runs,
    from a thread of its own (the scan may wait on clamd for minutes without reading).
    The claim is this scan's only while ``scan_attempts`` is the value it set."""

    def __init__(self, document: Document) -> None:
        self.schema = current_workspace().schema_name
        self.document_id, self.token = document.id, document.scan_attempts
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="scan-lease")

    def __enter__(self) -> _ScanLease:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        from django.db import connection as thread_connection
        from django_tenants.utils import schema_context

        interval = max(scan_lease_seconds() / 3, 0.2)
        try:
            while not self._stop.wait(interval):
                try:
                    with schema_context(self.schema), transaction.atomic():
                        with thread_connection.cursor() as cursor:
                            cursor.execute("SET LOCAL lock_timeout = '2s'")
                        renewed = Document.objects.filter(
                            pk=self.document_id, state=State.SCANNING, scan_attempts=self.token
                        ).update(updated_at=timezone.now())
                    if not renewed:
                        return
                except Exception:  # the scan goes on; a lapsed lease is only a duplicate
                    log.exception("could not renew the scan lease of %s", self.document_id)
        finally:
            thread_connection.close()


def _still_ours(document: Document, token: int | None) -> bool:
    return token is None or (document.state == State.SCANNING and document.scan_attempts == token)


# Moving a clean file into documents storage: attempts' pauses (seconds), then the scan
# task's own backoff takes over.
MOVE_BACKOFF = (0.5, 1.0, 2.0)


def _move_with_retries(quarantine, key: str, documents, final_key: str) -> None:
    for pause in (*MOVE_BACKOFF, None):
        try:
            store.move(quarantine, key, documents, final_key)
            return
        except Exception as exc:
            if pause is None or not store.is_storage_error(exc):
                raise
            log.warning("moving %s to documents storage failed, retrying: %s", key, exc)
            time.sleep(pause)


@write_service
def document_scan(
    *, actor: Principal, document_id, scanner: scanning.Scanner | None = None
) -> ScanOutcome:
    """Scan a quarantined document and record the verdict. Idempotent: a document that
    is not waiting for a scan is left alone. Runs in the tenant's schema."""
    claim = _claim_for_scan(document_id)
    if claim.document is None:
        return ScanOutcome.BUSY if claim.busy else ScanOutcome.SKIPPED
    document = claim.document
    token = document.scan_attempts
    with _ScanLease(document):
        return _scan_claimed(actor, document, token, scanner)


def _scan_claimed(actor: Principal, document: Document, token: int, scanner) -> ScanOutcome:
    quarantine, documents = store.quarantine_storage(), store.documents_storage()
    final_key = store.document_key(current_workspace().schema_name, document.id)
    try:
        in_quarantine = store.exists(quarantine, document.quarantine_key)
        if not in_quarantine and store.exists(documents, final_key):
            # Scanned clean and moved by an earlier run that died before recording it.
            return _record_clean(actor, document.id, final_key, token)
    except Exception as exc:
        if not store.is_storage_error(exc):
            raise
        return _record_scan_failure(
            document.id, scanning.ScanResult.unavailable(f"storage: {exc}"[:255]), token
        )
    if not in_quarantine:
        return _record_scan_failure(
            document.id, scanning.ScanResult.unavailable("quarantined file is missing"), token
        )
    scanner = scanner or scanning.get_scanner()
    started = time.monotonic()
    try:
        with store.open_stream(quarantine, document.quarantine_key) as stream:
            result = scanner.scan(stream)
    except Exception as exc:  # storage unreachable: same as scanner down, try again later
        if not store.is_storage_error(exc):
            raise
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
        if not _still_ours(_fresh(document.id), token):
            log.warning("scan of %s was taken over; leaving it to the new claim", document.id)
            return ScanOutcome.SKIPPED
        started = time.monotonic()
        try:
            _move_with_retries(quarantine, document.quarantine_key, documents, final_key)
        except Exception as exc:
            if not store.is_storage_error(exc):
                raise
            detail = f"documents storage: {exc}"[:255]
            return _record_scan_failure(document.id, scanning.ScanResult.unavailable(detail), token)
        log.info("stored document %s in %.3fs", document.id, time.monotonic() - started)
        return _record_clean(actor, document.id, final_key, token)
    if result.retryable:
        return _record_scan_failure(document.id, result, token)
    return _record_blocked(actor, document.id, result, token)


def _fresh(document_id) -> Document:
    return Document.objects.get(pk=document_id)


def _record_clean(
    actor: Principal, document_id, final_key: str, token: int | None = None
) -> ScanOutcome:
    with transaction.atomic():
        document = _locked(document_id)
        if not _still_ours(document, token):
            return ScanOutcome.SKIPPED  # taken over: the new claim records the outcome
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


def _record_blocked(
    actor: Principal, document_id, result: scanning.ScanResult, token: int | None = None
) -> ScanOutcome:
    quarantine = store.quarantine_storage()
    with transaction.atomic():
        document = _locked(document_id)
        if not _still_ours(document, token):
            return ScanOutcome.SKIPPED
        key = document.quarantine_key
        document.state = State.BLOCKED
        document.signature = (result.signature or result.detail or "scan error")[:255]
        document.quarantine_key = ""
        document.last_scan_error = ""  # the verdict replaces any earlier "scanner down"
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
    # Infected bytes leave quarantine once the verdict is recorded (if the storage is
    # down now, the purge of blocked bytes is left to a later delete: logged).
    _discard(quarantine, key)
    return ScanOutcome.BLOCKED


def _after_block(document_id) -> None:
    from .notifications import email_admins_about_blocked

    try:
        email_admins_about_blocked(Document.objects.get(pk=document_id))
    except Exception:  # the block stands even if the email fails; it is on the page
        log.exception("could not email admins about blocked document %s", document_id)


def _record_scan_failure(
    document_id, result: scanning.ScanResult, token: int | None = None
) -> ScanOutcome:
    with transaction.atomic():
        document = _locked(document_id)
        if not _still_ours(document, token):
            return ScanOutcome.SKIPPED
        document.state = State.QUARANTINED
        document.last_scan_error = result.detail[:255]
        document.save(update_fields=["state", "last_scan_error", "updated_at"])
    log.warning("scan of %s postponed: %s", document_id, result.detail)
    return ScanOutcome.RETRY


@dataclass(frozen=True)
class Requeued:
    """What ``documents_requeue_overdue`` found in one schema."""

    queued: int  # scans queued again (lost message, dead worker, broker was down)
    waiting_too_long: int  # documents waiting longer than UPLOADS_STUCK_SECONDS


@write_service
def documents_requeue_overdue(*, actor: Principal, everything: bool = False) -> Requeued:
    """Queue the scan again for every document whose scan is overdue: a claim whose
    lease lapsed (its worker died), or a document in quarantine past its retry time plus
    ``UPLOADS_SCAN_GRACE_SECONDS`` (its message was lost, or never published while the
    broker was down). ``everything``: every waiting document (a worker has just
    (re)connected to the broker, which may have lost its queue); duplicates are harmless,
    the claim lets one scan through."""
    now = timezone.now()
    grace = timedelta(seconds=settings.UPLOADS_SCAN_GRACE_SECONDS)
    stuck_after = now - timedelta(seconds=settings.UPLOADS_STUCK_SECONDS)
    schema = current_workspace().schema_name
    queued = stuck = 0
    waiting = Document.objects.filter(state__in=[State.QUARANTINED, State.SCANNING]).only(
        "id", "state", "updated_at", "scan_attempts", "created_at"
    )
    for document in waiting:
        if document.created_at < stuck_after:
            stuck += 1
        if document.state == State.SCANNING:
            due = _lease_expired(document, now - grace / 2)
        else:
            retry_at = document.updated_at + timedelta(seconds=scan_backoff(document.scan_attempts))
            due = retry_at + grace <= now
        if (due or everything) and _queue_scan(schema, document.id):
            queued += 1
    return Requeued(queued=queued, waiting_too_long=stuck)


@write_service
def documents_requeue_stale(*, actor: Principal, older_than: timedelta | None = None) -> int:
    """Last resort: queue the scan again for documents untouched a long time."""
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
