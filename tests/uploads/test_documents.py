"""Limits, permissions, tenancy and the document lifecycle (rename, delete, restore, purge)."""

import struct
import zlib
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts import permissions
from audit.models import AuditEvent
from billing.models import Plan
from core.principal import SYSTEM
from tests.accounts.helpers import make_user
from tests.conftest import client_for, sign_in
from tests.servers import MIB
from tests.uploads.test_pipeline import doc, post_upload, upload_and_scan
from uploads import services, sniffing
from uploads.models import Document
from uploads.permissions import can_manage
from uploads.tasks import purge_deleted_documents


@pytest.fixture
def small_plan(tenant_a):
    plan = Plan.objects.create(
        code="tiny", name="Tiny", max_staff=5, storage_quota_bytes=3 * MIB, max_upload_bytes=2 * MIB
    )
    tenant_a.plan = plan
    tenant_a.save(update_fields=["plan"])
    return plan


def stored_quarantine_files(fs_storage) -> list:
    root = fs_storage["root"] / "quarantine"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


# --- limits -----------------------------------------------------------------------


def test_file_over_plan_limit_is_refused_before_it_is_stored(
    fs_storage, owner_client_a, tenant_a, small_plan
):
    response = post_upload(owner_client_a, "big.bin", b"x" * (2 * MIB + 1))
    assert response.status_code == 413
    assert "larger than the limit of 2.0\xa0MB per file" in response.json()["errors"][0]
    with schema_context(tenant_a.schema_name):
        assert not Document.objects.exists()
    assert stored_quarantine_files(fs_storage) == []


def test_upload_over_quota_is_refused_with_a_clear_error(
    fs_storage, owner_client_a, tenant_a, small_plan, django_capture_on_commit_callbacks
):
    upload_and_scan(owner_client_a, django_capture_on_commit_callbacks, "one.bin", b"1" * (2 * MIB))
    response = post_upload(owner_client_a, "two.bin", b"2" * (2 * MIB))
    assert response.status_code == 413
    assert "storage quota" in response.json()["errors"][0]
    with schema_context(tenant_a.schema_name):
        assert Document.objects.count() == 1
    assert stored_quarantine_files(fs_storage) == []  # the first one moved on, nothing left


def test_scanner_limit_caps_the_plan_limit(fs_storage, owner_client_a, settings):
    settings.UPLOADS_SCANNER_MAX_BYTES = MIB  # the trial plan allows 100 MB
    response = post_upload(owner_client_a, "big.bin", b"x" * (MIB + 1))
    assert response.status_code == 413


def test_service_rechecks_quota_under_lock(fs_storage, tenant_a, owner_a, small_plan, tmp_path):
    """The handler's early check can race another upload; the service's check cannot."""
    received = tmp_path / "f.bin"
    received.write_bytes(b"z" * 2 * MIB)

    def upload():
        return services.document_upload(
            actor=owner_a, name="f.bin", path=str(received), size=2 * MIB, sha256="0" * 64
        )

    with schema_context(tenant_a.schema_name):
        upload()
        with pytest.raises(services.UploadRejected):
            upload()
        assert Document.objects.count() == 1
    assert len(stored_quarantine_files(fs_storage)) == 1


def test_plain_form_post_without_javascript(fs_storage, owner_client_a, tenant_a, small_plan):
    response = owner_client_a.post(
        "/documents/upload/",
        {"files": [SimpleUploadedFile("a.txt", b"a"), SimpleUploadedFile("b.txt", b"b")]},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/documents/"
    assert "Uploaded 2 files" in response.content.decode()
    response = owner_client_a.post(
        "/documents/upload/", {"files": SimpleUploadedFile("c.bin", b"c" * (3 * MIB))}, follow=True
    )
    assert "larger than the limit" in response.content.decode()


def test_upload_needs_csrf_token_and_sign_in(fs_storage, tenant_a, owner_a):
    anonymous = client_for(tenant_a)
    response = post_upload(anonymous, "a.txt", b"a")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    strict = Client(HTTP_HOST=f"{tenant_a.slug}.localhost", enforce_csrf_checks=True)
    strict.force_login(owner_a)
    assert post_upload(strict, "a.txt", b"a").status_code == 403
    with schema_context(tenant_a.schema_name):
        assert not Document.objects.exists()


# --- tenancy and permissions -------------------------------------------------------


def test_cross_tenant_download_and_changes_refused(
    fs_storage, tenant_a, tenant_b, owner_client_a, django_capture_on_commit_callbacks
):
    client_b = client_for(tenant_b)
    assert sign_in(client_b, "owner@beta.test")
    foreign_id = upload_and_scan(client_b, django_capture_on_commit_callbacks, "b.txt", b"beta")
    assert client_b.get(f"/documents/{foreign_id}/download/").status_code == 200
    # Beta's id on Alpha's host, by Alpha's owner: it does not exist there.
    assert owner_client_a.get(f"/documents/{foreign_id}/download/").status_code == 404
    for action in ("rename", "delete", "restore"):
        response = owner_client_a.post(f"/documents/{foreign_id}/{action}/", {"name": "x"})
        assert response.status_code == 404
    # Alpha's session cookie is not valid on Beta's host.
    stolen = client_for(tenant_b)
    stolen.cookies = owner_client_a.cookies
    response = stolen.get(f"/documents/{foreign_id}/download/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert doc(tenant_b, foreign_id).name == "b.txt"
    assert not AuditEvent.objects.filter(
        action="document.downloaded", target_id=foreign_id, chain=tenant_a.schema_name
    ).exists()


def test_member_manages_own_documents_only_and_cannot_restore(
    fs_storage, tenant_a, owner_client_a, member_client_a, django_capture_on_commit_callbacks
):
    owners = upload_and_scan(owner_client_a, django_capture_on_commit_callbacks, "o.txt", b"o")
    mine = upload_and_scan(member_client_a, django_capture_on_commit_callbacks, "m.txt", b"m")
    assert member_client_a.get(f"/documents/{owners}/download/").status_code == 200
    assert member_client_a.post(f"/documents/{owners}/rename/", {"name": "x"}).status_code == 403
    assert member_client_a.post(f"/documents/{owners}/delete/").status_code == 403
    assert member_client_a.post(f"/documents/{mine}/rename/", {"name": "n.txt"}).status_code == 302
    assert member_client_a.post(f"/documents/{mine}/delete/").status_code == 302
    assert member_client_a.post(f"/documents/{mine}/restore/").status_code == 403
    assert doc(tenant_a, mine).state == Document.State.DELETED
    assert "Recently deleted" not in member_client_a.get("/documents/").content.decode()
    # The owner (an admin) may rename and delete anyone's, and restore.
    assert owner_client_a.post(f"/documents/{mine}/restore/").status_code == 302
    assert doc(tenant_a, mine).state == Document.State.AVAILABLE
    assert doc(tenant_a, mine).name == "n.txt"


def test_permissions_are_enforced_in_the_service(fs_storage, tenant_a, owner_a):
    member = make_user(tenant_a, "m2@alpha.test", "member")
    with schema_context(tenant_a.schema_name):
        document = Document.objects.create(
            name="x",
            size=1,
            content_type="text/plain",
            sha256="0",
            uploaded_by=owner_a,
            state=Document.State.AVAILABLE,
            storage_key="k",
        )
        with pytest.raises(PermissionDenied):
            services.document_delete(actor=member, document_id=document.pk)
        member.is_active = False
        with pytest.raises(PermissionDenied):
            services.document_download(actor=member, document_id=document.pk)


# --- lifecycle ----------------------------------------------------------------------


def test_rename_delete_restore_are_audited(
    fs_storage, tenant_a, owner_client_a, django_capture_on_commit_callbacks
):
    document_id = upload_and_scan(owner_client_a, django_capture_on_commit_callbacks, "a.txt", b"a")
    owner_client_a.post(f"/documents/{document_id}/rename/", {"name": "<script>b?.txt"})
    assert doc(tenant_a, document_id).name == "<script>b?.txt"  # kept as written
    owner_client_a.post(f"/documents/{document_id}/delete/")
    assert owner_client_a.get(f"/documents/{document_id}/download/").status_code == 409
    page = owner_client_a.get("/documents/").content.decode()
    assert "Recently deleted" in page and "&lt;script&gt;b?.txt" in page
    assert "<script>b" not in page  # shown escaped, never as markup
    owner_client_a.post(f"/documents/{document_id}/restore/")
    again = owner_client_a.post(f"/documents/{document_id}/restore/", follow=True)
    assert "This document is not deleted" in again.content.decode()  # and nothing recorded
    assert owner_client_a.get(f"/documents/{document_id}/download/").status_code == 200
    events = AuditEvent.objects.filter(target_id=document_id).order_by("id")
    assert [e.action for e in events] == [
        "document.uploaded",
        "document.scanned_clean",
        "document.renamed",
        "document.deleted",
        "document.restored",
        "document.downloaded",
    ]
    renamed = events.get(action="document.renamed")
    assert renamed.changes["name"] == {"before": "a.txt", "after": "<script>b?.txt"}
    assert renamed.actor_display == "owner@alpha.test"
    assert events.get(action="document.scanned_clean").actor_type == "system"


def test_purge_after_restore_window(
    fs_storage, tenant_a, owner_client_a, django_capture_on_commit_callbacks
):
    old = upload_and_scan(owner_client_a, django_capture_on_commit_callbacks, "old.txt", b"o")
    recent = upload_and_scan(owner_client_a, django_capture_on_commit_callbacks, "new.txt", b"n")
    for document_id in (old, recent):
        owner_client_a.post(f"/documents/{document_id}/delete/")
    key = doc(tenant_a, old).storage_key
    with schema_context(tenant_a.schema_name):
        Document.objects.filter(pk=old).update(deleted_at=timezone.now() - timedelta(days=31))
    assert owner_client_a.post(f"/documents/{old}/restore/").status_code == 404  # too late
    assert purge_deleted_documents.delay().get() == 1
    with schema_context(tenant_a.schema_name):
        assert not Document.objects.filter(pk=old).exists()
        assert Document.objects.filter(pk=recent).exists()
    assert not (fs_storage["root"] / "documents" / key).exists()
    assert AuditEvent.objects.filter(action="document.purged", target_id=old).count() == 1


def test_deleting_a_waiting_document_cancels_its_scan_until_restored(
    fs_storage, tenant_a, owner_client_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        document_id = post_upload(owner_client_a, "w.txt", b"w").json()["documents"][0]["id"]
    owner_client_a.post(f"/documents/{document_id}/delete/")
    with schema_context(tenant_a.schema_name):
        assert (
            services.document_scan(actor=SYSTEM, document_id=document_id)
            == services.ScanOutcome.SKIPPED
        )
    with django_capture_on_commit_callbacks(execute=True):
        owner_client_a.post(f"/documents/{document_id}/restore/")
    assert doc(tenant_a, document_id).state == Document.State.AVAILABLE


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


# --- names, types, URLs ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("C:\\Users\\eve\\report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("a\x00b\nc.txt", "a_b_c.txt"),
        ("...", "document"),
        ("x" * 300 + ".pdf", "x" * 196 + ".pdf"),
        ("Ångström résumé.docx", "Ångström résumé.docx"),
    ],
)
def test_sanitize_filename(raw, clean):
    assert sniffing.sanitize_filename(raw) == clean


def test_sniffing_reads_the_head_of_the_file_only(tmp_path):
    def sniff(name: str, content: bytes) -> str:
        path = tmp_path / name
        path.write_bytes(content)
        return sniffing.sniff_content_type(str(path))

    assert sniff("i.bin", tiny_png()) == "image/png"
    assert sniff("d.bin", b"%PDF-1.7\n" + b"0" * (3 * MIB)) == "application/pdf"
    small_json = b'{"rows": [' + b",".join(b"[1, 2, 3]" for _ in range(1000)) + b"]}"
    assert sniff("s.json", small_json) == "application/json"
    # libmagic's JSON check parses the whole document. It reads 7 MiB by default; we
    # let it read 1 MiB, so a 2 MiB JSON file is plain text (never HTML or a script).
    rows = (2 * MIB) // 10
    big_json = b'{"rows": [' + b",".join(b"[1, 2, 3]" for _ in range(rows)) + b"]}"
    assert sniff("b.json", big_json) == "text/plain"


def test_risky_types_are_always_attachments(
    fs_storage, owner_client_a, tenant_a, django_capture_on_commit_callbacks
):
    html = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
    document_id = upload_and_scan(
        owner_client_a, django_capture_on_commit_callbacks, "page.png", html, "image/png"
    )
    assert doc(tenant_a, document_id).content_type == "text/html"  # the bytes, not the claim
    uploaded = AuditEvent.objects.get(action="document.uploaded", target_id=document_id)
    assert uploaded.changes["content_type"] == "text/html"
    assert uploaded.changes["client_content_type"] == "image/png"  # the claim, on record
    response = owner_client_a.get(f"/documents/{document_id}/download/?inline=1")
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Type"] == "text/html"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    png = tiny_png()
    image_id = upload_and_scan(owner_client_a, django_capture_on_commit_callbacks, "i.png", png)
    response = owner_client_a.get(f"/documents/{image_id}/download/?inline=1")
    assert response["Content-Disposition"].startswith("inline;")


def test_presigned_url_expiry_is_computed_and_capped(s3_storage, settings, owner_a, tenant_a):
    now = timezone.now()
    assert services.download_url_expiry(now, 60) == (60, now + timedelta(seconds=60))
    assert services.download_url_expiry(now, 86400)[0] == 3600
    assert services.download_url_expiry(now, 0)[0] == 1
    settings.UPLOADS_DOWNLOAD_URL_TTL = 30
    with schema_context(tenant_a.schema_name):
        document = Document.objects.create(
            name="r.pdf",
            size=1,
            content_type="application/pdf",
            sha256="0",
            state=Document.State.AVAILABLE,
            storage_key="tenants/x/documents/y",
        )
        before = timezone.now()
        ticket = services.document_download(actor=owner_a, document_id=document.pk)
    assert "X-Amz-Expires=30" in ticket.url
    assert (
        before + timedelta(seconds=30)
        <= ticket.expires_at
        <= timezone.now() + timedelta(seconds=30)
    )


def test_documents_page_lists_states_and_nav_link(fs_storage, owner_client_a):
    page = owner_client_a.get("/documents/").content.decode()
    assert 'enctype="multipart/form-data"' in page and "multiple" in page
    assert "uploads/documents.js" in page
    assert 'href="/documents/"' in owner_client_a.get("/").content.decode()


# --- read-only role -------------------------------------------------------------------


@pytest.fixture
def reader_client_a(tenant_a):
    reader = make_user(tenant_a, "reader@alpha.test", "readonly")
    client = client_for(tenant_a)
    assert sign_in(client, reader.email)
    client.user = reader
    return client


def test_read_only_user_lists_and_downloads_but_changes_nothing(
    fs_storage, tenant_a, owner_client_a, reader_client_a, django_capture_on_commit_callbacks
):
    document_id = upload_and_scan(
        owner_client_a, django_capture_on_commit_callbacks, "plan.txt", b"plan"
    )
    page = reader_client_a.get("/documents/").content.decode()
    assert "plan.txt" in page and "read-only" in page
    # No upload form, no rename/delete controls.
    assert 'id="upload-form"' not in page
    assert f"/documents/{document_id}/delete/" not in page
    assert f"/documents/{document_id}/rename/" not in page
    download = reader_client_a.get(f"/documents/{document_id}/download/")
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"plan"

    assert post_upload(reader_client_a, "x.txt", b"x").status_code == 403
    assert (
        reader_client_a.post(f"/documents/{document_id}/rename/", {"name": "y"}).status_code == 403
    )
    assert reader_client_a.post(f"/documents/{document_id}/delete/").status_code == 403
    with schema_context(tenant_a.schema_name):
        assert Document.objects.count() == 1
    assert stored_quarantine_files(fs_storage) == []
    assert doc(tenant_a, document_id).name == "plan.txt"
    assert doc(tenant_a, document_id).state == Document.State.AVAILABLE


def test_read_only_is_enforced_in_the_services(fs_storage, tenant_a, owner_a, tmp_path):
    reader = make_user(tenant_a, "ro@alpha.test", "readonly")
    with schema_context(tenant_a.schema_name):
        # Uploaded while still a member, then made read-only: no more changes.
        document = Document.objects.create(
            name="mine.txt",
            size=1,
            content_type="text/plain",
            sha256="0",
            uploaded_by=reader,
            state=Document.State.DELETED,
            state_before_delete=Document.State.AVAILABLE,
            deleted_at=timezone.now(),
            storage_key="k",
        )
        assert not can_manage(reader, document)
        assert not permissions.can_write(reader)
        for call, kwargs in [
            (services.document_rename, {"name": "other.txt"}),
            (services.document_delete, {}),
            (services.document_restore, {}),
        ]:
            with pytest.raises(PermissionDenied):
                call(actor=reader, document_id=document.pk, **kwargs)
        received = tmp_path / "x.txt"
        received.write_bytes(b"x")
        with pytest.raises(PermissionDenied):
            services.document_upload(actor=reader, name="x.txt", path=str(received), size=1)
        assert not AuditEvent.objects.filter(target_id=str(document.pk)).exists()


# --- limits announced by Content-Length -------------------------------------------------


def test_oversize_upload_refused_from_content_length_before_the_body_is_read(
    fs_storage, owner_client_a, tenant_a, small_plan
):
    # The page announces one file; 2 MiB + 100 KiB cannot fit the 2 MiB per-file limit.
    response = owner_client_a.post(
        "/documents/upload/",
        {"files": SimpleUploadedFile("big.bin", b"x" * (2 * MIB + 100 * 1024))},
        HTTP_ACCEPT="application/json",
        HTTP_X_UPLOAD_FILES="1",
    )
    assert response.status_code == 413
    # No hop-by-hop header: WSGI forbids it, and the development server answers 500 to it.
    assert "Connection" not in response
    assert response["Content-Type"] == "application/problem+json"
    assert "larger than the limit of 2.0\xa0MB per file" in response.json()["errors"][0]
    assert response.json()["detail"] == response.json()["errors"][0]
    assert stored_quarantine_files(fs_storage) == []


def test_upload_over_quota_refused_from_content_length(
    fs_storage, owner_client_a, tenant_a, small_plan
):
    # No file count announced (a plain form): the quota alone decides, 3 MiB left.
    response = owner_client_a.post(
        "/documents/upload/",
        {
            "files": [
                SimpleUploadedFile("a.bin", b"a" * (2 * MIB)),
                SimpleUploadedFile("b.bin", b"b" * (2 * MIB)),
            ]
        },
    )
    assert response.status_code == 413
    assert "storage quota (3.0\xa0MB left)" in response.content.decode()
    with schema_context(tenant_a.schema_name):
        assert not Document.objects.exists()
