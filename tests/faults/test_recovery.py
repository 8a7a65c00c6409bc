"""How waiting scans are found again (``watch_scans``, every minute and whenever a worker
connects to the broker), against the suite's real broker: overdue work is queued within
minutes, live claims are left alone, and documents waiting too long are reported."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_tenants.utils import schema_context

from core.principal import SYSTEM
from tests.conftest import waiting_tasks
from uploads import services
from uploads.models import Document
from uploads.tasks import watch_scans

State = Document.State


def upload(client) -> str:
    response = client.post(
        "/documents/upload/",
        {"files": SimpleUploadedFile("waiting.txt", b"waiting")},
        HTTP_ACCEPT="application/json",
    )
    return response.json()["documents"][0]["id"]


def age(tenant, document_id, *, state: str, seconds: int, created_seconds: int = 0) -> None:
    now = timezone.now()
    with schema_context(tenant.schema_name):
        Document.objects.filter(pk=document_id).update(
            state=state,
            updated_at=now - timedelta(seconds=seconds),
            created_at=now - timedelta(seconds=created_seconds or seconds),
        )


def queued(queue) -> list[list]:
    found = waiting_tasks(queue)
    for message in found:
        message.ack()
    return [message.args for message in found]


def test_overdue_scans_are_queued_again_and_live_ones_left_alone(
    settings, fs_storage, owner_client_a, tenant_a, real_broker, django_capture_on_commit_callbacks
):
    settings.UPLOADS_SCAN_LEASE_SECONDS = 30
    settings.UPLOADS_SCAN_GRACE_SECONDS = 60
    settings.UPLOADS_STUCK_SECONDS = 300
    with django_capture_on_commit_callbacks(execute=False):  # their messages were "lost"
        lost, fresh, dead_claim, live_claim = (upload(owner_client_a) for _ in range(4))
    age(tenant_a, lost, state=State.QUARANTINED, seconds=120)  # past retry time + grace
    age(tenant_a, fresh, state=State.QUARANTINED, seconds=5)  # its message may be on its way
    age(tenant_a, dead_claim, state=State.SCANNING, seconds=90, created_seconds=900)
    age(tenant_a, live_claim, state=State.SCANNING, seconds=5)

    result = watch_scans.apply().get()

    schema = tenant_a.schema_name
    assert sorted(queued(real_broker)) == sorted([[schema, lost], [schema, dead_claim]])
    assert result == {"queued": 2, "waiting_too_long": 1}  # dead_claim: 15 minutes old

    # A worker (re)connected: everything waiting is queued; the claim sorts out duplicates.
    assert watch_scans.apply(kwargs={"everything": True}).get()["queued"] == 4
    assert len(queued(real_broker)) == 4


def test_upload_while_the_broker_is_down_is_accepted_and_found_again(
    settings, fs_storage, owner_client_a, tenant_a, django_capture_on_commit_callbacks
):
    from config.celery import app

    broker, eager = app.conf.broker_url, app.conf.task_always_eager
    app.conf.broker_url, app.conf.task_always_eager = "redis://127.0.0.1:1/0", False
    app._pool = app.amqp._producer_pool = None
    try:
        started = time.monotonic()
        with django_capture_on_commit_callbacks(execute=True):
            document_id = upload(owner_client_a)  # publishing the scan fails: still 200
        first = time.monotonic() - started
        started = time.monotonic()
        with django_capture_on_commit_callbacks(execute=True):
            upload(owner_client_a)  # the breaker: the dead broker is not even tried
        second = time.monotonic() - started
        assert first < 2 and second < 1  # one attempt, no reconnect loop
        assert app._broker_down_until > time.monotonic()
    finally:
        app.conf.broker_url, app.conf.task_always_eager = broker, eager
        app._pool = app.amqp._producer_pool = None
        app._broker_down_until = 0.0
    with schema_context(tenant_a.schema_name):
        assert Document.objects.get(pk=document_id).state == State.QUARANTINED
        found = services.documents_requeue_overdue(
            actor=SYSTEM, everything=True
        )  # eager: scans now
        assert found.queued == 2
        assert Document.objects.get(pk=document_id).state == State.AVAILABLE


@pytest.mark.parametrize("attempts", [0, 3])
def test_a_document_in_backoff_is_not_overdue_before_its_retry_time(
    settings, fs_storage, owner_client_a, tenant_a, real_broker, attempts,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    settings.UPLOADS_SCAN_GRACE_SECONDS = 60
    with django_capture_on_commit_callbacks(execute=False):
        document_id = upload(owner_client_a)
    wait = services.scan_backoff(attempts)
    age(tenant_a, document_id, state=State.QUARANTINED, seconds=wait + 30)
    with schema_context(tenant_a.schema_name):
        Document.objects.filter(pk=document_id).update(scan_attempts=attempts)
        assert services.documents_requeue_overdue(actor=SYSTEM).queued == 0
    age(tenant_a, document_id, state=State.QUARANTINED, seconds=wait + 61)
    with schema_context(tenant_a.schema_name):
        assert services.documents_requeue_overdue(actor=SYSTEM).queued == 1
    assert queued(real_broker) == [[tenant_a.schema_name, document_id]]
