"""What the API promises beyond access: problem details, cursor pages, idempotent POSTs,
the grant's rate limit, the scan pipeline for uploads, the audit trail's actor."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_context

from api import limits
from audit.models import AuditEvent
from tests.conftest import client_for
from tests.servers import CLAMD_STREAM_MAX
from tests.uploads.conftest import EICAR

from .conftest import (
    ALL_SCOPES,
    bearer,
    client_token,
    code_token,
    make_user,
    register,
    stored_document,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def scanner(settings, clamd_server):
    settings.CLAMD_HOST = "127.0.0.1"
    settings.CLAMD_PORT = clamd_server.port
    settings.CLAMD_SOCKET = ""
    settings.CLAMD_TIMEOUT = 10
    settings.UPLOADS_SCANNER_MAX_BYTES = CLAMD_STREAM_MAX
    if not clamd_server.ping():
        clamd_server.start()


@pytest.fixture
def machine(tenant_a, owner_a):
    """An admin-role machine integration with every scope, and its token."""
    new = register(tenant_a, owner_a, role="admin")
    return new, client_token(tenant_a, new)


def test_problem_details_have_a_stable_type(tenant_a, machine):
    _new, token = machine
    client = client_for(tenant_a)
    missing = client.get("/api/v1/documents/00000000-0000-0000-0000-000000000000/", **bearer(token))
    assert missing.status_code == 404
    assert missing["Content-Type"] == "application/problem+json"
    body = missing.json()
    assert body["type"] == "urn:atrium:problem:not-found"
    assert body["status"] == 404 and body["title"] and body["detail"]
    invalid = client.post(
        "/api/v1/invitations/", {"emails": ["not-an-address"], "role": "member"},
        content_type="application/json", **bearer(token),
    )  # fmt: skip
    assert invalid.status_code == 400
    assert invalid.json()["type"] == "urn:atrium:problem:validation"
    assert any("emails" in line for line in invalid.json()["errors"])
    wrong_type = client.post(
        "/api/v1/invitations/", "x", content_type="text/plain", **bearer(token)
    )
    assert wrong_type.status_code == 415
    assert wrong_type.json()["type"] == "urn:atrium:problem:unsupported-media-type"


def test_cursor_pages_walk_every_row_once(tenant_a, owner_a, machine, fs_storage):
    _new, token = machine
    from uploads.models import Document

    with schema_context(tenant_a.schema_name):
        Document.objects.all().delete()  # only this test's documents (rolled back after)
    made = {str(stored_document(tenant_a, owner_a, name=f"d{i}.txt").pk) for i in range(7)}
    client = client_for(tenant_a)
    seen, url, pages = [], "/api/v1/documents/?page_size=3", 0
    while url:
        page = client.get(url, **bearer(token))
        assert page.status_code == 200, page.content
        body = page.json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
        pages += 1
    assert pages == 3
    assert len(seen) == len(set(seen)) == 7 and set(seen) == made


@pytest.mark.parametrize("query", ["page_size=0", "page_size=101", "page_size=ten"])
def test_a_bad_page_size_is_a_400(tenant_a, machine, query):
    _new, token = machine
    response = client_for(tenant_a).get(f"/api/v1/audit-events/?{query}", **bearer(token))
    assert response.status_code == 400
    assert response.json()["type"] == "urn:atrium:problem:validation"


def test_a_bad_or_foreign_cursor_is_a_400(tenant_a, owner_a, machine, fs_storage):
    _new, token = machine
    for i in range(3):
        stored_document(tenant_a, owner_a, name=f"c{i}.txt")
    client = client_for(tenant_a)
    first = client.get("/api/v1/documents/?page_size=1", **bearer(token)).json()
    cursor = first["next_cursor"]
    assert cursor
    for bad in ("garbage", cursor[:-2] + "xx"):
        response = client.get(f"/api/v1/documents/?cursor={bad}", **bearer(token))
        assert response.status_code == 400
        assert response.json()["type"] == "urn:atrium:problem:bad-cursor"
    # a cursor of the documents list means nothing to the audit list
    foreign = client.get(f"/api/v1/audit-events/?cursor={cursor}", **bearer(token))
    assert foreign.json()["type"] == "urn:atrium:problem:bad-cursor"


def test_an_idempotent_invitation_is_sent_once(tenant_a, machine, mailoutbox):
    _new, token = machine
    client = client_for(tenant_a)
    body = {"emails": ["once@alpha.test"], "role": "member"}

    def invite(payload):
        return client.post(
            "/api/v1/invitations/", payload, content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="invite-42", **bearer(token),
        )  # fmt: skip

    first = invite(body)
    assert first.status_code == 201, first.content
    again = invite(body)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    from accounts.models import Invitation

    with schema_context(tenant_a.schema_name):
        assert Invitation.objects.filter(email="once@alpha.test").count() == 1
    other = invite({"emails": ["twice@alpha.test"], "role": "member"})
    assert other.status_code == 409
    assert other.json()["type"] == "urn:atrium:problem:idempotency-key-reused"


def test_an_idempotent_upload_is_stored_once(tenant_a, machine, fs_storage):
    _new, token = machine
    client = client_for(tenant_a)

    def upload(content: bytes):
        return client.post(
            "/api/v1/documents/", {"file": SimpleUploadedFile("same.txt", content)},
            HTTP_IDEMPOTENCY_KEY="upload-1", **bearer(token),
        )  # fmt: skip

    first = upload(b"same bytes")
    assert first.status_code == 202, first.content
    again = upload(b"same bytes")
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
    from uploads.models import Document

    with schema_context(tenant_a.schema_name):
        assert Document.objects.filter(name="same.txt").count() == 1
    assert upload(b"other bytes").status_code == 409


def test_a_deleted_document_is_gone_until_restored(tenant_a, owner_a, machine, fs_storage):
    _new, token = machine
    client = client_for(tenant_a)
    url = f"/api/v1/documents/{stored_document(tenant_a, owner_a).pk}/"
    assert client.post(f"{url}restore", **bearer(token)).status_code == 409  # not deleted
    assert client.delete(url, **bearer(token)).json()["state"] == "deleted"
    for gone in (url, f"{url}download"):
        assert client.get(gone, **bearer(token)).status_code == 404
    assert client.delete(url, **bearer(token)).status_code == 404
    restored = client.post(f"{url}restore", **bearer(token))
    assert restored.status_code == 200 and restored.json()["state"] == "available"
    assert client.get(url, **bearer(token)).status_code == 200
    assert client.get(f"{url}download", **bearer(token)).status_code == 200
    again = client.post(f"{url}restore", **bearer(token))
    assert again.status_code == 409
    assert again.json()["type"] == "urn:atrium:problem:conflict"


def test_the_grant_rate_limit_answers_429_with_headers(tenant_a, machine, monkeypatch):
    _new, token = machine
    monkeypatch.setattr(limits, "per_minute", lambda tenant_id, load: 3)
    client = client_for(tenant_a)
    answers = [client.get("/api/v1/me", **bearer(token)) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0]["RateLimit-Limit"] == "3"
    assert answers[0]["RateLimit-Remaining"] == "2"
    limited = answers[3]
    assert limited.json()["type"] == "urn:atrium:problem:rate-limited"
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert limited["RateLimit-Remaining"] == "0"


def test_the_limit_is_per_grant(tenant_a, owner_a, monkeypatch):
    monkeypatch.setattr(limits, "per_minute", lambda tenant_id, load: 1)
    one = client_token(tenant_a, register(tenant_a, owner_a))
    two = client_token(tenant_a, register(tenant_a, owner_a))
    client = client_for(tenant_a)
    assert client.get("/api/v1/me", **bearer(one)).status_code == 200
    assert client.get("/api/v1/me", **bearer(one)).status_code == 429
    assert client.get("/api/v1/me", **bearer(two)).status_code == 200


def test_eicar_over_the_api_ends_blocked_and_never_downloadable(
    tenant_a, machine, fs_storage, scanner, django_capture_on_commit_callbacks
):
    _new, token = machine
    client = client_for(tenant_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/documents/", {"file": SimpleUploadedFile("eicar.com", EICAR)},
            **bearer(token),
        )  # fmt: skip
    assert response.status_code == 202, response.content
    assert response.json()["state"] in {"quarantined", "scanning"}
    document_id = response.json()["id"]
    assert response["Location"].endswith(f"/api/v1/documents/{document_id}/")
    after = client.get(f"/api/v1/documents/{document_id}/", **bearer(token)).json()
    assert after["state"] == "blocked"
    assert "EICAR" in after["signature"] or "Eicar" in after["signature"]
    assert after["download_url"] is None
    download = client.get(f"/api/v1/documents/{document_id}/download", **bearer(token))
    assert download.status_code == 409
    assert download.json()["type"] == "urn:atrium:problem:not-available"


def test_a_clean_upload_becomes_downloadable(
    tenant_a, machine, fs_storage, scanner, django_capture_on_commit_callbacks
):
    _new, token = machine
    client = client_for(tenant_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/documents/", {"file": SimpleUploadedFile("clean.txt", b"all good")},
            **bearer(token),
        )  # fmt: skip
    document = client.get(f"/api/v1/documents/{response.json()['id']}/", **bearer(token)).json()
    assert document["state"] == "available"
    download = client.get(document["download_url"], **bearer(token))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"all good"


def _last_event(tenant, action: str) -> AuditEvent:
    return AuditEvent.objects.filter(chain=tenant.schema_name, action=action).order_by("-id")[0]


def test_the_audit_log_names_the_app_and_the_user(tenant_a, owner_a, fs_storage):
    member = make_user(tenant_a, "ann@alpha.test", "member")
    new = register(tenant_a, owner_a, grant="authorization-code")
    token = code_token(tenant_a, new, member, scope="documents:write documents:read")
    response = client_for(tenant_a).post(
        "/api/v1/documents/", {"file": SimpleUploadedFile("by-app.txt", b"x")}, **bearer(token)
    )
    assert response.status_code == 202
    event = _last_event(tenant_a, "document.uploaded")
    assert (event.actor_type, event.actor_id) == ("user", str(member.pk))
    assert event.impersonator_display == new.application.name
    consent = _last_event(tenant_a, "api_app.authorized")
    assert consent.actor_id == str(member.pk)


def test_the_audit_log_names_an_app_acting_alone(tenant_a, machine):
    new, token = machine
    response = client_for(tenant_a).post(
        "/api/v1/invitations/", {"emails": ["bot@alpha.test"], "role": "member"},
        content_type="application/json", **bearer(token),
    )  # fmt: skip
    assert response.status_code == 201
    event = _last_event(tenant_a, "staff.invited")
    assert (event.actor_type, event.actor_id) == ("api", str(new.application.pk))
    assert event.actor_display == new.application.name
    # and the API's audit list shows it, as a sentence
    listed = (
        client_for(tenant_a)
        .get("/api/v1/audit-events/?action=staff.invited", **bearer(token))
        .json()["results"][0]
    )
    assert listed["actor"]["type"] == "api"
    assert new.application.name in listed["sentence"]


def test_the_audit_export_streams_json_lines(tenant_a, machine):
    _new, token = machine
    response = client_for(tenant_a).get("/api/v1/audit-events/export", **bearer(token))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/x-ndjson")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines and all(json.loads(line)["action"] for line in lines)
    assert _last_event(tenant_a, "audit.exported").actor_type == "api"


def test_a_read_only_token_role_cannot_write_even_with_the_scope(tenant_a, owner_a, fs_storage):
    new = register(tenant_a, owner_a, role="readonly", scopes=ALL_SCOPES)
    token = client_token(tenant_a, new)
    response = client_for(tenant_a).post(
        "/api/v1/documents/", {"file": SimpleUploadedFile("no.txt", b"no")}, **bearer(token)
    )
    assert response.status_code == 403


def test_an_app_never_gets_more_than_its_creators_role(tenant_a, owner_a):
    from django.core.exceptions import PermissionDenied

    member_admin = make_user(tenant_a, "lee@alpha.test", "admin")
    new = register(tenant_a, member_admin, role="admin")
    with schema_context(tenant_a.schema_name):
        member_admin.role = "member"
        member_admin.save(update_fields=["role"])
    me = client_for(tenant_a).get("/api/v1/me", **bearer(client_token(tenant_a, new))).json()
    assert me["role"] == "member"  # capped at the creator's current role
    with pytest.raises(PermissionDenied):
        register(tenant_a, make_user(tenant_a, "mo@alpha.test", "member"), role="admin")


def test_a_read_only_workspace_refuses_api_writes_but_serves_reads(
    tenant_a, machine, django_capture_on_commit_callbacks
):
    from core.principal import SYSTEM
    from tenants.services import tenant_restrict

    _new, token = machine
    with django_capture_on_commit_callbacks(execute=True):  # the cached route forgets
        tenant_restrict(actor=SYSTEM, tenant_id=tenant_a.pk, reason="payment_overdue")
    client = client_for(tenant_a)
    refused = client.post(
        "/api/v1/invitations/", {"emails": ["ro@alpha.test"], "role": "member"},
        content_type="application/json", **bearer(token),
    )  # fmt: skip
    assert refused.status_code == 403, refused.content
    assert refused.json()["type"] == "urn:atrium:problem:read-only"
    assert client.get("/api/v1/workspace", **bearer(token)).status_code == 200


def test_an_upload_over_the_file_limit_is_a_413_and_leaves_nothing(
    tenant_a, machine, fs_storage, settings
):
    settings.UPLOADS_SCANNER_MAX_BYTES = 1000  # the per-file limit is the smaller one
    _new, token = machine
    response = client_for(tenant_a).post(
        "/api/v1/documents/", {"file": SimpleUploadedFile("big.bin", b"x" * 5000)},
        **bearer(token),
    )  # fmt: skip
    assert response.status_code == 413, response.content
    assert response.json()["type"] == "urn:atrium:problem:too-large"
    from uploads.models import Document

    with schema_context(tenant_a.schema_name):
        assert not Document.objects.filter(name="big.bin").exists()
    assert not list(fs_storage["root"].rglob("*"))  # nothing reached quarantine


def test_the_fast_document_json_is_the_serializers_output(tenant_a, owner_a, fs_storage):
    from api.serializers import DocumentSerializer, document_json

    for state in ("available", "blocked"):
        document = stored_document(tenant_a, owner_a, state=state)
        with schema_context(tenant_a.schema_name):
            assert document_json(document) == DocumentSerializer(document).data


def test_a_nul_in_a_filter_is_a_400_not_a_server_error(tenant_a, machine):
    _new, token = machine
    for path in ("/api/v1/audit-events/export?action=a%00b", "/api/v1/staff/?q=%00"):
        response = client_for(tenant_a).get(path, **bearer(token))
        assert response.status_code == 400, response.content
        assert response.json()["type"] == "urn:atrium:problem:validation"
