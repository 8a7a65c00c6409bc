"""Exports: a complete, checksummed archive, streamed to storage, audited, downloadable by
vendor staff and the workspace's owners, never from a support session."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import urllib.request
import zipfile

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django_tenants.utils import schema_context

from audit.models import AuditEvent
from core.principal import SYSTEM, SupportSession, user_actor
from offboarding import services
from offboarding.models import Export
from offboarding.storage import exports_storage
from tests.conftest import client_for, sign_in
from uploads import storage as object_storage

from .conftest import OWNER, put_document


def build(export: Export) -> Export:
    """What the queued task does (the test transaction never commits, so on_commit
    never queues it): the build, as the system."""
    with contextlib.suppress(Exception):  # recorded on the export, asserted by the caller
        services.export_build(actor=SYSTEM, export_id=str(export.pk))
    export.refresh_from_db()
    return export


def read_archive(export: Export) -> zipfile.ZipFile:
    with object_storage.open_stream(exports_storage(), export.storage_key) as stream:
        data = stream.read()
    assert hashlib.sha256(data).hexdigest() == export.sha256
    assert len(data) == export.size
    return zipfile.ZipFile(io.BytesIO(data))


def jsonl(zf: zipfile.ZipFile, name: str) -> list[dict]:
    return [json.loads(line) for line in zf.read(name).decode().splitlines()]


def events(chain: str, action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(chain=chain, action=action).order_by("id"))


def test_export_is_complete_checksummed_and_audited(any_storages, workspace, support_vendor):
    tenant, owner = workspace["tenant"], workspace["owner"]
    files = {
        "report.txt": b"quarterly figures\n" * 1000,
        "notes.txt": "Grüße aus Köln".encode() * 50,
    }
    docs = {name: put_document(tenant, owner, content, name) for name, content in files.items()}
    blocked = put_document(tenant, owner, b"x", "bad.exe", state="blocked", quarantine=True)

    export = services.export_request(
        actor=support_vendor, tenant_id=tenant.pk, reason="Ticket 4711: customer leaves"
    )
    export = build(export)
    assert export.status == Export.Status.DONE, export.error
    zf = read_archive(export)

    manifest = json.loads(zf.read("manifest.json"))
    assert manifest["format"] == "atrium-workspace-export" and manifest["version"] == 1
    names = set(zf.namelist())
    for entry in manifest["files"]:  # every member is listed with its checksum
        assert hashlib.sha256(zf.read(entry["path"])).hexdigest() == entry["sha256"]
        assert zf.getinfo(entry["path"]).file_size == entry["size"]
    assert names == {e["path"] for e in manifest["files"]} | {"manifest.json"}

    users = {u["email"]: u for u in jsonl(zf, "users.jsonl")}
    assert set(users) == {OWNER, "second-owner@leaving.test", "member@leaving.test"}
    assert users[OWNER]["role"] == "owner"
    raw = zf.read("users.jsonl").decode()
    assert "password" not in raw and "md5$" not in raw  # credentials never leave
    invitations = jsonl(zf, "invitations.jsonl")
    assert [i["email"] for i in invitations] == ["invited@leaving.test"]
    assert "token" not in zf.read("invitations.jsonl").decode()
    assert {r["role"] for r in json.loads(zf.read("roles.json"))} >= {"owner", "admin", "member"}
    workspace_json = json.loads(zf.read("workspace.json"))
    assert workspace_json["slug"] == "leaving" and "require_2fa" in workspace_json["settings"]

    documents = {d["name"]: d for d in jsonl(zf, "documents.jsonl")}
    assert set(documents) == {"report.txt", "notes.txt", "bad.exe"}
    for name, content in files.items():
        assert documents[name]["id"] == str(docs[name].pk)
        assert zf.read(documents[name]["file"]) == content
    assert documents["bad.exe"]["file"] is None and str(blocked.pk) not in "".join(names)
    assert manifest["documents"] == {"count": 2, "bytes": sum(map(len, files.values())),
                                     "missing": []}  # fmt: skip

    verification = json.loads(zf.read("audit/verification.json"))
    assert verification["ok"] is True and verification["events"] > 0
    chain_events = jsonl(zf, "audit/events.jsonl")
    assert {e["chain"] for e in chain_events} == {tenant.schema_name}
    assert "tenant.created" in {e["action"] for e in chain_events}
    assert all(e["content_hash"] for e in chain_events)
    links = jsonl(zf, "audit/links.jsonl")
    assert [link["seq"] for link in links] == list(range(1, len(links) + 1))
    assert len(jsonl(zf, "audit/log.jsonl")) == len(chain_events)
    assert all("sentence" in e for e in jsonl(zf, "audit/log.jsonl"))

    for chain in (tenant.schema_name, ""):  # the workspace's chain and the platform's
        requested = events(chain, "workspace.export_requested")
        assert len(requested) == 1 and requested[0].actor_display == "support@vendor.test"
        assert requested[0].changes["reason"] == "Ticket 4711: customer leaves"
        completed = events(chain, "workspace.export_completed")
        assert completed[0].changes["sha256"] == export.sha256


def test_every_document_is_streamed_not_loaded(fs_storages, workspace, support_vendor):
    """Files larger than a part, several parts each: bytes identical, ZIP valid."""
    tenant, owner = workspace["tenant"], workspace["owner"]
    big = bytes(range(256)) * (9 * 4096)  # 9 MiB: more than one 8 MiB part
    put_document(tenant, owner, big, "big.bin")
    export = services.export_request(actor=support_vendor, tenant_id=tenant.pk, reason="r")
    export = build(export)
    zf = read_archive(export)
    (doc,) = jsonl(zf, "documents.jsonl")
    assert zf.read(doc["file"]) == big
    assert zf.testzip() is None


def test_s3_export_is_a_multipart_upload(s3_storages, workspace, support_vendor, monkeypatch):
    from offboarding import storage

    monkeypatch.setattr(storage, "PART_BYTES", 5 * 1024 * 1024)
    tenant, owner = workspace["tenant"], workspace["owner"]
    import os

    put_document(tenant, owner, os.urandom(12 * 1024 * 1024), "random.bin")
    export = services.export_request(actor=support_vendor, tenant_id=tenant.pk, reason="r")
    export = build(export)
    head = s3_storages["client"].head_object(Bucket="atrium-exports-test",
                                             Key=export.storage_key)  # fmt: skip
    assert head["ETag"].strip('"').endswith("-3")  # three parts: 5 + 5 + the rest
    assert read_archive(export).testzip() is None


def test_failed_export_leaves_nothing_and_is_audited(s3_storages, workspace, support_vendor,
                                                     monkeypatch):  # fmt: skip
    tenant, owner = workspace["tenant"], workspace["owner"]
    put_document(tenant, owner, b"abc", "a.txt")

    def broken(*args, **kwargs):
        raise OSError("storage went away")

    monkeypatch.setattr(object_storage, "open_stream", broken)
    export = services.export_request(actor=support_vendor, tenant_id=tenant.pk, reason="r")
    export = build(export)
    assert export.status == Export.Status.FAILED and export.error == "OSError"
    client = s3_storages["client"]
    listed = client.list_objects_v2(Bucket="atrium-exports-test", Prefix=export.storage_key)
    assert listed.get("KeyCount", 0) == 0
    uploads = client.list_multipart_uploads(Bucket="atrium-exports-test").get("Uploads", [])
    assert export.storage_key not in {u["Key"] for u in uploads}  # aborted
    assert events(tenant.schema_name, "workspace.export_failed")
    assert events("", "workspace.export_failed")


def test_export_refusals(fs_storages, workspace, viewer_vendor, support_vendor):
    tenant, owner = workspace["tenant"], workspace["owner"]
    with pytest.raises(ValidationError):  # a reason is required
        services.export_request(actor=support_vendor, tenant_id=tenant.pk, reason="  ")
    with pytest.raises(PermissionDenied):  # viewer < support
        services.export_request(actor=viewer_vendor, tenant_id=tenant.pk, reason="r")
    with schema_context(tenant.schema_name):
        from django.contrib.auth import get_user_model

        member = get_user_model().objects.get(email="member@leaving.test")
        with pytest.raises(PermissionDenied):  # a member is not an owner
            services.export_request(actor=member, tenant_id=tenant.pk, reason="r")
        for mode in ("read_only", "read_write"):  # a support session never exports
            session = SupportSession(user=owner, vendor=user_actor(support_vendor, "vendor"),
                                     mode=mode)  # fmt: skip
            with pytest.raises(PermissionDenied):
                services.export_request(actor=session, tenant_id=tenant.pk, reason="r")
    assert not Export.objects.filter(tenant=tenant).exists()
    export = services.export_request(actor=support_vendor, tenant_id=tenant.pk, reason="r")
    with schema_context(tenant.schema_name):
        session = SupportSession(user=owner, vendor=user_actor(support_vendor, "vendor"),
                                 mode="read_write")  # fmt: skip
        with pytest.raises(PermissionDenied):
            services.export_download(actor=session, export_id=str(export.pk))
    with pytest.raises(PermissionDenied):
        services.export_download(actor=viewer_vendor, export_id=str(export.pk))
    assert not events(tenant.schema_name, "workspace.export_downloaded")


def test_owner_exports_and_downloads_from_settings(
    fs_storages, workspace, django_capture_on_commit_callbacks
):
    tenant = workspace["tenant"]
    put_document(tenant, workspace["owner"], b"owner's file", "mine.txt")
    client = client_for(tenant)
    assert sign_in(client, OWNER)
    page = client.get("/settings/exports/")
    assert page.status_code == 200
    assert client.post("/settings/exports/", {"reason": ""}).status_code == 200  # form error
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/settings/exports/", {"reason": "moving on"}).status_code == 302
    export = Export.objects.get(tenant=tenant)
    assert export.status == Export.Status.DONE
    assert client.get("/settings/exports/").content.count(b"Download") == 1
    response = client.post(f"/settings/exports/{export.pk}/download/")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    data = b"".join(response.streaming_content)
    assert hashlib.sha256(data).hexdigest() == export.sha256
    for chain in (tenant.schema_name, ""):
        (event,) = events(chain, "workspace.export_downloaded")
        assert event.actor_display == OWNER

    member = client_for(tenant)
    assert sign_in(member, "member@leaving.test")
    assert member.get("/settings/exports/").status_code == 403
    assert member.post(f"/settings/exports/{export.pk}/download/").status_code == 403


def test_s3_download_is_a_short_lived_presigned_link(s3_storages, workspace, support_vendor,
                                                     settings):  # fmt: skip
    settings.OFFBOARDING_EXPORT_URL_TTL = 60
    tenant = workspace["tenant"]
    export = services.export_request(actor=support_vendor, tenant_id=tenant.pk, reason="r")
    export = build(export)
    link = services.export_download(actor=support_vendor, export_id=str(export.pk))
    assert "X-Amz-Expires=60" in link.url and "X-Amz-Signature=" in link.url
    with urllib.request.urlopen(link.url, timeout=10) as answer:  # noqa: S310 - loopback moto
        data = answer.read()
        assert "attachment" in answer.headers["Content-Disposition"]
    assert hashlib.sha256(data).hexdigest() == export.sha256
    assert len(events("", "workspace.export_downloaded")) == 1


def test_lost_exports_are_queued_again(fs_storages, workspace, support_vendor, real_broker):
    from datetime import timedelta

    from django.utils import timezone

    from tests.conftest import next_task

    tenant = workspace["tenant"]
    export = services.export_request(actor=support_vendor, tenant_id=tenant.pk, reason="r")
    # Its message never left (the test transaction never commits): the sweep finds it.
    assert services.exports_requeue_stale(actor=SYSTEM) == 0  # too recent
    later = timezone.now() + timedelta(minutes=6)
    assert services.exports_requeue_stale(actor=SYSTEM, now=later) == 1
    message = next_task(real_broker)
    assert message.name == "offboarding.tasks.build_export"
    assert message.args == [str(export.pk)]
    message.ack()
    build(export)
    assert services.exports_requeue_stale(actor=SYSTEM, now=later) == 0  # done


def test_owners_can_take_their_data_out_of_a_read_only_workspace(fs_storages, workspace):
    from django_tenants.utils import tenant_context

    from tenants.services import tenant_restrict

    tenant, owner = workspace["tenant"], workspace["owner"]
    tenant_restrict(actor=SYSTEM, tenant_id=tenant.pk, reason="payment_overdue")
    tenant.refresh_from_db()
    with tenant_context(tenant):
        export = services.export_request(actor=owner, tenant_id=tenant.pk, reason="leaving")
    assert build(export).status == Export.Status.DONE


def test_archives_are_deleted_after_their_retention(any_storages, workspace, support_vendor,
                                                    settings):  # fmt: skip
    from datetime import timedelta

    from django.utils import timezone

    settings.OFFBOARDING_EXPORT_KEEP_DAYS = 7
    tenant = workspace["tenant"]
    export = build(services.export_request(actor=support_vendor, tenant_id=tenant.pk, reason="r"))
    target = exports_storage()
    assert target.exists(export.storage_key)
    assert services.exports_expire(actor=SYSTEM, now=timezone.now() + timedelta(days=6)) == 0
    assert services.exports_expire(actor=SYSTEM, now=timezone.now() + timedelta(days=8)) == 1
    export.refresh_from_db()
    assert export.status == Export.Status.PURGED and not target.exists(export.storage_key)
    for chain in (tenant.schema_name, ""):
        assert len(events(chain, "workspace.export_expired")) == 1
    with pytest.raises(ValidationError):  # gone: no link any more
        services.export_download(actor=support_vendor, export_id=str(export.pk))
