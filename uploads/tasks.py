"""Background work of the documents module. Each task that works inside a tenant
carries the schema name and runs inside it, as the system (``core.principal.SYSTEM``).
Tasks are
idempotent and acknowledged late: a worker killed mid-scan leaves the message to be
delivered again, and the document still in quarantine."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django_tenants.utils import schema_context

from core.principal import SYSTEM
from tenants.selectors import schemas_holding_data

from . import services

log = logging.getLogger(__name__)


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,  # fail closed, lose nothing: wait for the scanner however long
    ignore_result=True,
)
def scan_document(self, schema_name: str, document_id: str) -> str:
    with schema_context(schema_name):
        outcome = services.document_scan(actor=SYSTEM, document_id=document_id)
        lease_left = 0.0
        if outcome is services.ScanOutcome.BUSY:
            lease_left = services.scan_lease_left(document_id)
    if outcome in (services.ScanOutcome.RETRY, services.ScanOutcome.BUSY):
        if self.request.is_eager:
            # Eager mode (tests, no worker) has no broker to hold a delayed retry, and
            # Celery would retry at once, forever; watch_scans queues it again.
            return outcome.value
        if outcome is services.ScanOutcome.BUSY:
            # Another claim is live (a redelivered task, or a duplicate): look again
            # when it lapses unless renewed, so a dead worker's scan is taken over at once.
            countdown = int(lease_left) + 1
        else:
            countdown = services.scan_backoff(self.request.retries + 1)
        raise self.retry(countdown=countdown)
    return outcome.value


@shared_task(acks_late=True, ignore_result=True)
def watch_scans(everything: bool = False) -> dict:
    """Every minute (and, with ``everything``, whenever a worker connects to the
    broker): queue again the scans that are overdue, and say how many documents have
    waited too long. The recovery path for lost messages, dead workers and a broker
    that was down; ``sweep_stale_quarantine`` is only the last resort."""
    queued = stuck = 0
    for schema in schemas_holding_data():
        with schema_context(schema):
            found = services.documents_requeue_overdue(actor=SYSTEM, everything=everything)
        queued += found.queued
        stuck += found.waiting_too_long
    if queued:
        log.warning("queued %d overdue scan(s) again", queued)
    if stuck:
        # The signal operations alert on (a metric once operations' metrics exist).
        log.warning(
            "uploads_waiting_too_long=%d document(s) waiting for a scan over %d s",
            stuck,
            settings.UPLOADS_STUCK_SECONDS,
        )
    return {"queued": queued, "waiting_too_long": stuck}


@shared_task(acks_late=True, ignore_result=True)
def purge_deleted_documents() -> int:
    """Periodic: remove documents deleted longer ago than the restore window."""
    total = 0
    for schema in schemas_holding_data():
        with schema_context(schema):
            total += services.documents_purge_expired(actor=SYSTEM)
    return total


@shared_task(acks_late=True, ignore_result=True)
def sweep_stale_quarantine() -> int:
    """Periodic: queue the scan again for documents waiting too long."""
    total = 0
    for schema in schemas_holding_data():
        with schema_context(schema):
            total += services.documents_requeue_stale(actor=SYSTEM)
    return total
