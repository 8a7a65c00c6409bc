"""A full disk, for real (a small tmpfs): the upload spool and the quarantine fill up
mid-upload, documents storage refuses a clean file. Nothing partial is left behind,
the client gets a clear 503, and the next upload succeeds once there is room."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_context

from audit.models import AuditEvent
from config.settings.base import uploads_storages
from core.principal import SYSTEM
from tests.faults.processes import Tmpfs
from uploads import pipeline, services
from uploads.models import Document

pytestmark = pytest.mark.skipif(not Tmpfs.available(), reason="mounting a tmpfs needs root")
KIB = 1024


@pytest.fixture
def small_disk():
    disk = Tmpfs(size_kib=512)
    yield disk
    disk.close()


def post(client, name: str, size: int, json: bool = True):
    content = b"%PDF-1.4\n" + b"z" * (size - 9)
    extra = {"HTTP_ACCEPT": "application/json"} if json else {}
    return client.post("/documents/upload/", {"files": SimpleUploadedFile(name, content)}, **extra)


def documents_in(tenant) -> int:
    with schema_context(tenant.schema_name):
        return Document.objects.count()


def test_full_spool_folder_answers_503_and_leaves_nothing_open(
    settings, small_disk, fs_storage, owner_client_a, tenant_a
):
    settings.FILE_UPLOAD_TEMP_DIR = str(small_disk.path)
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0  # always spooled to disk, as in production
    before = documents_in(tenant_a)
    response = post(owner_client_a, "too-big-for-the-disk.pdf", 800 * KIB)
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 503 and problem["errors"] == [problem["detail"]]
    assert response["Retry-After"]
    # No partial spool file, and none held open (statvfs counts open deleted files).
    assert small_disk.files() == []
    assert small_disk.used_bytes() < 64 * KIB
    assert documents_in(tenant_a) == before
    # Room again: the next upload goes through.
    assert post(owner_client_a, "small.pdf", 100 * KIB).status_code == 200


def test_full_quarantine_leaves_no_partial_object_row_or_audit_event(
    settings, small_disk, owner_client_a, tenant_a
):
    settings.STORAGES = {**settings.STORAGES, **uploads_storages(bucket="", root=small_disk.path)}
    mark = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    before = documents_in(tenant_a)
    response = post(owner_client_a, "report.pdf", 700 * KIB, json=False)
    assert response.status_code == 503
    assert b"Storage unavailable" in response.content  # the page, not a bare 500
    assert small_disk.files() == []  # the partial quarantine write was removed
    assert small_disk.used_bytes() < 64 * KIB
    assert documents_in(tenant_a) == before
    assert not AuditEvent.objects.filter(id__gt=mark, action="document.uploaded").exists()
    assert post(owner_client_a, "report.pdf", 100 * KIB).status_code == 200


def test_clean_file_that_cannot_be_stored_waits_in_quarantine_and_is_retried(
    settings, small_disk, tmp_path, owner_client_a, tenant_a, django_capture_on_commit_callbacks,
    monkeypatch,
):  # fmt: skip
    # Quarantine on the big disk, documents storage on the small one, already full.
    entries = uploads_storages(bucket="", root=tmp_path)
    documents_root = small_disk.path / "documents"
    entries["uploads_documents"]["OPTIONS"]["location"] = str(documents_root)
    settings.STORAGES = {**settings.STORAGES, **entries}
    documents_root.mkdir()
    filler = small_disk.path / "filler"
    with pytest.raises(OSError), filler.open("wb") as out:
        while True:
            out.write(b"\0" * 64 * KIB)
    monkeypatch.setattr(pipeline, "MOVE_BACKOFF", (0.01, 0.01))
    with django_capture_on_commit_callbacks(execute=False):
        response = post(owner_client_a, "clean.pdf", 200 * KIB)
    document_id = response.json()["documents"][0]["id"]
    with schema_context(tenant_a.schema_name):
        outcome = services.document_scan(actor=SYSTEM, document_id=document_id)
        document = Document.objects.get(pk=document_id)
    # Not stuck "scanning": back in quarantine, with the reason, for the task's retry.
    assert outcome is services.ScanOutcome.RETRY
    assert document.state == Document.State.QUARANTINED
    assert document.last_scan_error.startswith("documents storage:")
    assert not any(documents_root.rglob("*.*")) and not [
        p for p in documents_root.rglob("*") if p.is_file()
    ]  # no partial copy
    filler.unlink()
    with schema_context(tenant_a.schema_name):
        assert (
            services.document_scan(actor=SYSTEM, document_id=document_id)
            is services.ScanOutcome.AVAILABLE
        )
        assert Document.objects.get(pk=document_id).last_scan_error == ""


def test_a_blocked_document_keeps_no_stale_scanner_error(fs_storage, owner_client_a, tenant_a):
    from tests.uploads.conftest import EICAR

    response = owner_client_a.post(
        "/documents/upload/",
        {"files": SimpleUploadedFile("eicar.txt", EICAR)},
        HTTP_ACCEPT="application/json",
    )
    document_id = response.json()["documents"][0]["id"]
    with schema_context(tenant_a.schema_name):
        Document.objects.filter(pk=document_id).update(
            state=Document.State.QUARANTINED, last_scan_error="scanner unavailable: refused"
        )
        assert (
            services.document_scan(actor=SYSTEM, document_id=document_id)
            is services.ScanOutcome.BLOCKED
        )
        assert Document.objects.get(pk=document_id).last_scan_error == ""


def test_download_from_unavailable_storage_is_503_and_not_audited(
    fs_storage, owner_client_a, tenant_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(owner_client_a, "kept.pdf", 10 * KIB)
    document_id = response.json()["documents"][0]["id"]
    with schema_context(tenant_a.schema_name):
        document = Document.objects.get(pk=document_id)
    assert document.state == Document.State.AVAILABLE
    stored = fs_storage["root"] / "documents" / document.storage_key
    stored.rename(stored.with_suffix(".away"))  # the volume is gone for a moment
    mark = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    response = owner_client_a.get(f"/documents/{document_id}/download/")
    assert response.status_code == 503
    assert b"Storage unavailable" in response.content
    assert not AuditEvent.objects.filter(id__gt=mark, action="document.downloaded").exists()
    stored.with_suffix(".away").rename(stored)
    assert owner_client_a.get(f"/documents/{document_id}/download/").status_code == 200
