"""Background work of the documents module. Each task that works inside a tenant
carries the schema name and runs inside it, as the system (``core.principal.SYSTEM``).
Tasks are
idempotent and acknowledged late: a worker killed mid-scan leaves the message to be
delivered again, and the document still in quarantine."""

from __future__ import annotations

from celery import shared_task
from django_tenants.utils import schema_context

from core.principal import SYSTEM
from tenants.selectors import schemas_holding_data

from . import services


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
    if outcome is services.ScanOutcome.RETRY:
        if self.request.is_eager:
            # Eager mode (tests, no worker) has no broker to hold a delayed retry, and
            # Celery would retry at once, forever; sweep_stale_quarantine queues it again.
            return outcome.value
        raise self.retry(countdown=services.scan_backoff(self.request.retries + 1))
    return outcome.value


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
