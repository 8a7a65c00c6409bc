"""Upload → quarantine → scan → documents storage, end to end through the views, on the
filesystem storage and on S3 (moto on loopback), with a real clamd."""

import urllib.request
from urllib.parse import parse_qs, urlparse

import pytest
from celery.exceptions import Retry
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_context

from audit.models import AuditEvent
from core.principal import SYSTEM
from tests.conftest import next_task
from tests.uploads.conftest import EICAR, stored_bytes, zipped
from uploads import services
from uploads.clamd_process import free_port
from uploads.models import Document
from uploads.tasks import scan_document

CLEAN = b"%PDF-1.4\n% a harmless document\n" + b"0123456789" * 5000


def post_upload(client, name, content, content_type="application/octet-stream"):
    return client.post(
        "/documents/upload/",
        {"files": SimpleUploadedFile(name, content, content_type=content_type)},
        HTTP_ACCEPT="application/json",
    )


def upload_and_scan(client, capture, name, content, content_type="application/octet-stream"):
    with capture(execute=True):
        response = post_upload(client, name, content, content_type)
    assert response.status_code == 200, response.content
    return response.json()["documents"][0]["id"]


def doc(tenant, document_id) -> Document:
    with schema_context(tenant.schema_name):
        return Document.objects.get(pk=document_id)


def actions_for(document_id) -> list[str]:
    return list(
        AuditEvent.objects.filter(target_id=str(document_id))
        .order_by("id")
        .values_list("action", flat=True)
    )


def test_clean_file_stored_at_tenant_key_and_downloadable(
    any_storage, owner_client_a, tenant_a, django_capture_on_commit_callbacks
):
    document_id = upload_and_scan(
        owner_client_a, django_capture_on_commit_callbacks, "../../Report Q3.pdf", CLEAN
    )
    document = doc(tenant_a, document_id)
    key = f"tenants/{tenant_a.schema_name}/documents/{document_id}"
    assert document.state == Document.State.AVAILABLE
    assert document.storage_key == key
    assert document.name == "Report Q3.pdf"  # no path from the client survives
    assert document.content_type == "application/pdf"  # from the bytes
    assert stored_bytes(any_storage, "documents", key) == CLEAN
    assert stored_bytes(any_storage, "quarantine", f"{tenant_a.schema_name}/{document_id}") is None
    assert actions_for(document_id) == ["document.uploaded", "document.scanned_clean"]

    response = owner_client_a.get(f"/documents/{document_id}/download/")
    if any_storage["kind"] == "fs":
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == CLEAN
        assert response["Content-Disposition"].startswith("attachment;")
        assert response["X-Content-Type-Options"] == "nosniff"
    else:
        assert response.status_code == 302
        url = response["Location"]
        assert url.startswith(any_storage["endpoint"])
        query = parse_qs(urlparse(url).query)
        assert query["X-Amz-Expires"] == ["60"]
        assert query["response-content-disposition"][0].startswith("attachment;")
        with urllib.request.urlopen(url, timeout=10) as fetched:  # noqa: S310 - loopback moto
            assert fetched.read() == CLEAN
    assert actions_for(document_id)[-1] == "document.downloaded"


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("eicar.com", EICAR, "application/octet-stream"),
        ("archive.zip", zipped("notes.txt", EICAR), "application/zip"),
        ("invoice.pdf", EICAR, "application/pdf"),  # misleading name and type
        ("photo.jpg", b"\xff\xd8\xff\xe0" + EICAR + b"\x00" * 100, "image/jpeg"),
    ],
    ids=["plain", "zipped", "misnamed", "embedded"],
)
def test_eicar_blocked_removed_and_never_reachable(
    any_storage,
    owner_client_a,
    tenant_a,
    owner_a,
    django_capture_on_commit_callbacks,
    name,
    content,
    content_type,
):
    document_id = upload_and_scan(
        owner_client_a, django_capture_on_commit_callbacks, name, content, content_type
    )
    document = doc(tenant_a, document_id)
    assert document.state == Document.State.BLOCKED
    assert "EICAR" in document.signature
    assert document.storage_key == "" and document.quarantine_key == ""
    schema = tenant_a.schema_name
    assert stored_bytes(any_storage, "quarantine", f"{schema}/{document_id}") is None
    assert (
        stored_bytes(any_storage, "documents", f"tenants/{schema}/documents/{document_id}") is None
    )
    assert owner_client_a.get(f"/documents/{document_id}/download/").status_code == 409
    assert owner_client_a.get(f"/documents/{document_id}/download/?inline=1").status_code == 409
    assert actions_for(document_id) == ["document.uploaded", "document.blocked"]
    # Admins are told: by email and on the documents page.
    assert len(mail.outbox) == 1 and owner_a.email in mail.outbox[0].to
    assert name in mail.outbox[0].body and document.signature in mail.outbox[0].body
    page = owner_client_a.get("/documents/").content.decode()
    assert "Blocked uploads" in page and document.signature in page


def test_admins_are_emailed_from_the_worker_with_only_the_schema_name(
    fs_storage, owner_client_a, tenant_a, owner_a, django_capture_on_commit_callbacks
):
    # In a worker the block's on-commit email runs inside schema_context, where the
    # connection holds django-tenants' FakeTenant (no name, no slug), not the request's.
    with django_capture_on_commit_callbacks(execute=False):  # upload only, scan below
        response = post_upload(owner_client_a, "payload.exe", EICAR)
    document_id = response.json()["documents"][0]["id"]
    mail.outbox.clear()
    with schema_context(tenant_a.schema_name), django_capture_on_commit_callbacks(execute=True):
        outcome = services.document_scan(actor=SYSTEM, document_id=document_id)
    assert outcome is services.ScanOutcome.BLOCKED
    [message] = mail.outbox
    assert tenant_a.name in message.subject
    assert f"{tenant_a.slug}." in message.body  # the workspace's documents link


def test_each_admin_is_mailed_through_the_outbox_in_their_language(
    fs_storage, owner_client_a, tenant_a, owner_a, real_broker, django_capture_on_commit_callbacks
):
    from accounts.models import User
    from tests.accounts.helpers import make_user
    from tests.core.helpers import run_as_worker

    admin = make_user(tenant_a, "admin@alpha.test", role="admin", language="en")
    make_user(tenant_a, "member@alpha.test", role="member")  # not told
    with schema_context(tenant_a.schema_name):
        User.objects.filter(pk=owner_a.pk).update(language="de")
    with django_capture_on_commit_callbacks(execute=False):
        response = post_upload(owner_client_a, 'Q&A <"v2"> o\'clock.exe', EICAR)
    document_id = response.json()["documents"][0]["id"]
    with schema_context(tenant_a.schema_name), django_capture_on_commit_callbacks(execute=True):
        assert (
            services.document_scan(actor=SYSTEM, document_id=document_id)
            is services.ScanOutcome.BLOCKED
        )
    messages = [next_task(real_broker), next_task(real_broker)]
    assert {m.name for m in messages} == {"core.tasks.send_email"}
    assert {(m.kwargs["to"], m.kwargs["language"]) for m in messages} == {
        (owner_a.email, "de"),
        (admin.email, "en"),
    }
    assert mail.outbox == []  # sent by the worker, not by the scan
    for message in messages:
        run_as_worker(message)
        message.ack()
    sent = {m.to[0]: m for m in mail.outbox}
    assert sent[owner_a.email].subject.startswith("Atrium hat einen infizierten Upload")
    assert sent[admin.email].subject.startswith("Atrium blocked an infected upload")
    name = doc(tenant_a, document_id).name
    assert "&" in name and "'" in name
    assert all(name in m.body and "&amp;" not in m.body for m in mail.outbox)  # text: unescaped


def test_unscanned_document_is_not_downloadable(
    any_storage, owner_client_a, tenant_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post_upload(owner_client_a, "waiting.txt", b"not scanned yet")
    # The scan is queued only once the row is committed (the other callback seals the audit chain).
    queued = [cb for cb in callbacks if cb.__qualname__.startswith("document_upload")]
    assert len(queued) == 1
    document_id = response.json()["documents"][0]["id"]
    document = doc(tenant_a, document_id)
    assert document.state == Document.State.QUARANTINED
    assert stored_bytes(any_storage, "quarantine", document.quarantine_key) == b"not scanned yet"
    assert owner_client_a.get(f"/documents/{document_id}/download/").status_code == 409
    key = f"tenants/{tenant_a.schema_name}/documents/{document_id}"
    assert stored_bytes(any_storage, "documents", key) is None
    # The storage is not served by any URL of ours.
    for path in (f"/media/quarantine/{document.quarantine_key}", f"/media/documents/{key}"):
        assert owner_client_a.get(path).status_code == 404
    assert "Waiting for scan" in owner_client_a.get("/documents/").content.decode()


def test_clamd_stopped_midway_keeps_file_and_scans_it_later(
    fs_storage, owner_client_a, tenant_a, clamd_server, django_capture_on_commit_callbacks
):
    clamd_server.stop()
    try:
        # Eager mode: the task runs in the request's wake and leaves the file waiting.
        document_id = upload_and_scan(
            owner_client_a, django_capture_on_commit_callbacks, "minutes.txt", b"minutes"
        )
        document = doc(tenant_a, document_id)
        assert document.state == Document.State.QUARANTINED
        assert "unavailable" in document.last_scan_error
        assert stored_bytes(fs_storage, "quarantine", document.quarantine_key) == b"minutes"
        assert owner_client_a.get(f"/documents/{document_id}/download/").status_code == 409
    finally:
        clamd_server.start()
    with schema_context(tenant_a.schema_name):
        Document.objects.filter(pk=document_id).update(
            updated_at=document.updated_at.replace(year=2000)
        )
    with django_capture_on_commit_callbacks(execute=True):
        from uploads.tasks import sweep_stale_quarantine

        assert sweep_stale_quarantine.delay().get() >= 1  # the backlog drains
    assert doc(tenant_a, document_id).state == Document.State.AVAILABLE


def run_as_worker(message_args, retries=0):
    """Run the task the way a worker does (not eagerly), so retries are published."""
    scan_document.push_request(
        args=list(message_args),
        kwargs={},
        retries=retries,
        is_eager=False,
        called_directly=False,
        id="scan-task-under-test",
    )
    try:
        return scan_document.run(*message_args)
    finally:
        scan_document.pop_request()


def test_scanner_down_schedules_retry_with_backoff_then_backlog_drains(
    fs_storage,
    owner_client_a,
    tenant_a,
    settings,
    clamd_server,
    real_broker,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=False):
        response = post_upload(owner_client_a, "plan.txt", b"the plan")
    document_id = response.json()["documents"][0]["id"]
    live_port = settings.CLAMD_PORT
    settings.CLAMD_PORT = free_port()  # nothing listens there
    args = [tenant_a.schema_name, document_id]
    with pytest.raises(Retry) as retry:
        run_as_worker(args, retries=2)
    assert retry.value.when == services.scan_backoff(3) == 40
    document = doc(tenant_a, document_id)
    assert document.state == Document.State.QUARANTINED
    assert document.scan_attempts == 1
    assert stored_bytes(fs_storage, "quarantine", document.quarantine_key) == b"the plan"

    message = next_task(real_broker)  # the retry really is on the broker
    assert message.name == "uploads.tasks.scan_document"
    assert message.headers["retries"] == 3
    assert message.headers["eta"]
    queued_args = message.args
    assert queued_args == args

    settings.CLAMD_PORT = live_port  # clamd is back: drain the backlog
    assert run_as_worker(queued_args, retries=3) == "available"
    message.ack()
    assert doc(tenant_a, document_id).state == Document.State.AVAILABLE


def test_scan_task_is_acked_late_and_idempotent(
    fs_storage, owner_client_a, tenant_a, django_capture_on_commit_callbacks
):
    assert scan_document.acks_late and scan_document.reject_on_worker_lost
    document_id = upload_and_scan(
        owner_client_a, django_capture_on_commit_callbacks, "a.txt", b"alpha"
    )
    assert scan_document.apply(args=[tenant_a.schema_name, document_id]).get() == "skipped"
    assert actions_for(document_id).count("document.scanned_clean") == 1


def test_worker_killed_mid_scan_is_taken_over(
    fs_storage, owner_client_a, tenant_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        response = post_upload(owner_client_a, "b.txt", b"bravo")
    document_id = response.json()["documents"][0]["id"]
    with schema_context(tenant_a.schema_name):
        # As left by a worker that died while scanning: redelivered by late ack.
        Document.objects.filter(pk=document_id).update(state=Document.State.SCANNING)
        assert (
            services.document_scan(actor=SYSTEM, document_id=document_id)
            == services.ScanOutcome.SKIPPED
        )
        stale = Document.objects.get(pk=document_id).updated_at.replace(year=2000)
        Document.objects.filter(pk=document_id).update(updated_at=stale)
        assert (
            services.document_scan(actor=SYSTEM, document_id=document_id)
            == services.ScanOutcome.AVAILABLE
        )


def test_zip_bomb_upload_is_blocked_and_removed(
    fs_storage, owner_client_a, tenant_a, owner_a, django_capture_on_commit_callbacks
):
    # 30 KB on the wire, 30 MiB of zeros then EICAR inside: over clamd's scan budget.
    bomb = zipped("zeros.bin", b"\x00" * (30 * 1024 * 1024) + EICAR)
    document_id = upload_and_scan(
        owner_client_a, django_capture_on_commit_callbacks, "figures.zip", bomb, "application/zip"
    )
    document = doc(tenant_a, document_id)
    assert document.state == Document.State.BLOCKED
    assert document.signature.startswith("Heuristics.Limits.Exceeded.")
    assert stored_bytes(fs_storage, "quarantine", f"{tenant_a.schema_name}/{document_id}") is None
    assert owner_client_a.get(f"/documents/{document_id}/download/").status_code == 409
    assert actions_for(document_id) == ["document.uploaded", "document.blocked"]
    assert len(mail.outbox) == 1 and owner_a.email in mail.outbox[0].to
