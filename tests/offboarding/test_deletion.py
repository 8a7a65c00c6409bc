"""Scheduled deletion, restore within the grace period, the purge (idempotent and
resumable after a crash at the storage edge) and the address's quarantine."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from django_tenants.utils import schema_context

import audit.services as audit_services
from audit.models import AuditChainLink, AuditCheckpoint, AuditEvent
from core.principal import SYSTEM
from offboarding import services, storage
from offboarding.models import Deletion, Export
from signup.services import tenant_provision
from tenants import schemas
from tenants.models import Domain, Tenant
from tests.conftest import PASSWORD, client_for, sign_in
from uploads import storage as object_storage

from .conftest import OWNER, put_document
from .test_export import build


def actions(chain: str) -> list[str]:
    events = AuditEvent.objects.filter(chain=chain).order_by("id")
    return list(events.values_list("action", flat=True))


def schedule(admin, tenant, capture, **kwargs) -> Deletion:
    with capture(execute=True):
        return services.deletion_schedule(
            actor=admin, tenant_id=tenant.pk, reason="Contract ended (ticket 99)", **kwargs
        )


def test_schedule_makes_it_unavailable_emails_owners_and_restore_brings_it_back(
    fs_storages, workspace, admin_vendor, django_capture_on_commit_callbacks
):
    tenant = workspace["tenant"]
    client = client_for(tenant)
    assert sign_in(client, OWNER)
    deletion = schedule(admin_vendor, tenant, django_capture_on_commit_callbacks)

    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.SCHEDULED_FOR_DELETION
    assert deletion.previous_state == "active"
    days = (deletion.purge_after - deletion.scheduled_at).days
    assert days in (29, 30)  # OFFBOARDING_GRACE_DAYS
    owners_mailed = sorted(m.to[0] for m in mail.outbox)
    assert owners_mailed == [OWNER, "second-owner@leaving.test"]  # owners only
    assert "Contract ended" in mail.outbox[0].body
    page = client.get("/")
    assert page.status_code == 403
    assert b"scheduled for deletion" in page.content
    for chain in (tenant.schema_name, ""):
        (event,) = AuditEvent.objects.filter(chain=chain, action="workspace.deletion_scheduled")
        assert event.changes["reason"] == "Contract ended (ticket 99)"
        assert event.actor_display == "admin@vendor.test"
    assert "tenant.deletion_scheduled" in actions(tenant.schema_name)
    # Nothing is deleted during the grace period.
    assert schemas.schema_exists(tenant.schema_name)

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.deletion_restore(actor=admin_vendor, tenant_id=tenant.pk, reason="Renewed")
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.ACTIVE
    assert client.get("/").status_code == 200  # the same session still works: exactly back
    assert len(mail.outbox) == 2
    for chain in (tenant.schema_name, ""):
        assert AuditEvent.objects.filter(chain=chain, action="workspace.deletion_cancelled")
    deletion.refresh_from_db()
    assert deletion.restored_at is not None and deletion.restore_reason == "Renewed"
    with pytest.raises(ValidationError):  # restored: nothing left to purge
        services.deletion_purge(actor=SYSTEM, deletion_id=deletion.pk,
                                now=deletion.purge_after + timedelta(days=1))  # fmt: skip


def test_restore_returns_a_suspended_workspace_to_suspended(
    fs_storages, workspace, admin_vendor, django_capture_on_commit_callbacks
):
    from tenants.services import tenant_suspend

    tenant = workspace["tenant"]
    tenant_suspend(actor=admin_vendor, tenant=tenant, reason="unpaid")
    schedule(admin_vendor, tenant, django_capture_on_commit_callbacks, grace_days=3)
    services.deletion_restore(actor=admin_vendor, tenant_id=tenant.pk, reason="paid after all")
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.SUSPENDED


def test_refusals(fs_storages, workspace, support_vendor, admin_vendor,
                  django_capture_on_commit_callbacks):  # fmt: skip
    tenant, owner = workspace["tenant"], workspace["owner"]
    with pytest.raises(PermissionDenied):  # support < admin, refused in the service
        services.deletion_schedule(actor=support_vendor, tenant_id=tenant.pk, reason="r")
    with schema_context(tenant.schema_name), pytest.raises(PermissionDenied):
        services.deletion_schedule(actor=owner, tenant_id=tenant.pk, reason="r")
    with pytest.raises(ValidationError):
        services.deletion_schedule(actor=admin_vendor, tenant_id=tenant.pk, reason=" ")
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.ACTIVE
    with pytest.raises(ValidationError):  # not scheduled
        services.deletion_restore(actor=admin_vendor, tenant_id=tenant.pk, reason="r")
    deletion = schedule(admin_vendor, tenant, django_capture_on_commit_callbacks)
    with pytest.raises(ValidationError):  # scheduled already
        services.deletion_schedule(actor=admin_vendor, tenant_id=tenant.pk, reason="again")
    with pytest.raises(PermissionDenied):
        services.deletion_restore(actor=support_vendor, tenant_id=tenant.pk, reason="r")
    with pytest.raises(ValidationError):  # the grace period is not over
        services.deletion_purge(actor=SYSTEM, deletion_id=deletion.pk)
    with pytest.raises(ValidationError):  # a reason, again
        services.deletion_restore(actor=admin_vendor, tenant_id=tenant.pk, reason="")


def _objects(tenant) -> dict[str, list[str]]:
    schema = tenant.schema_name
    return {
        "documents": list(
            storage.list_keys(object_storage.documents_storage(), f"tenants/{schema}/")
        ),
        "quarantine": list(storage.list_keys(object_storage.quarantine_storage(), f"{schema}/")),
        "exports": list(storage.list_keys(storage.exports_storage(), f"exports/{schema}/")),
    }


def _fill(tenant, owner, support_vendor) -> None:
    for i in range(5):
        put_document(tenant, owner, b"document %d" % i, f"doc-{i}.txt")
    put_document(tenant, owner, b"waiting", "wait.txt", state="quarantined", quarantine=True)
    build(services.export_request(actor=support_vendor, tenant_id=tenant.pk, reason="before"))


def test_purge_removes_everything_but_the_audit_chain(
    any_storages, workspace, admin_vendor, support_vendor, django_capture_on_commit_callbacks
):
    tenant, owner = workspace["tenant"], workspace["owner"]
    other = Tenant.objects.get(slug="alpha")
    put_document(other, None, b"alpha keeps this", "alpha.txt")
    _fill(tenant, owner, support_vendor)
    before = _objects(tenant)
    assert [len(v) for v in before.values()] == [5, 1, 1]
    deletion = schedule(admin_vendor, tenant, django_capture_on_commit_callbacks, grace_days=30)

    later = deletion.purge_after + timedelta(minutes=1)
    assert services.deletions_purge_due(actor=SYSTEM, now=later - timedelta(days=1)) == {
        "purged": 0, "failed": 0, "released": 0}  # fmt: skip
    with pytest.raises(ValidationError), _frozen(later):  # restore after the grace: refused
        services.deletion_restore(actor=admin_vendor, tenant_id=tenant.pk, reason="late")
    result = services.deletions_purge_due(actor=SYSTEM, now=later)
    assert result["purged"] == 1 and result["failed"] == 0

    assert _objects(tenant) == {"documents": [], "quarantine": [], "exports": []}
    assert not schemas.schema_exists(tenant.schema_name)
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.DELETED and tenant.slug == "leaving"  # in quarantine
    deletion.refresh_from_db()
    assert deletion.steps_done == list(services.PURGE_STEPS)
    assert deletion.objects_deleted == 7
    assert Export.objects.get(tenant=tenant).status == Export.Status.PURGED
    # Another workspace's objects are untouched.
    assert len(list(storage.list_keys(object_storage.documents_storage(), "tenants/t_alpha/")))

    # The chain outlives the workspace, verifies, and ends with a signed checkpoint.
    chain = tenant.schema_name
    assert "tenant.deleted" in actions(chain) and actions(chain)[-1] == "workspace.purged"
    assert audit_services.verify_chain(chain=chain).ok
    last = AuditChainLink.objects.filter(chain=chain).order_by("-seq").first()
    final = AuditCheckpoint.objects.filter(chain=chain).order_by("-seq", "-id").first()
    assert final is not None and final.seq == last.seq and final.hash == last.hash
    assert AuditEvent.objects.filter(chain="", action="workspace.purged").exists()
    # Idempotent: a second run changes nothing.
    assert services.deletions_purge_due(actor=SYSTEM, now=later)["purged"] == 0
    services.deletion_purge(actor=SYSTEM, deletion_id=deletion.pk, now=later)
    assert actions(chain).count("workspace.purged") == 1


class _frozen:
    """``timezone.now`` fixed at ``moment`` (the controlled clock of the grace period)."""

    def __init__(self, moment) -> None:
        self.moment = moment

    def __enter__(self):
        from unittest import mock

        self.patch = mock.patch("django.utils.timezone.now", return_value=self.moment)
        self.patch.start()

    def __exit__(self, *exc) -> None:
        self.patch.stop()


def test_purge_crashed_mid_way_is_finished_by_the_next_run(
    any_storages,
    workspace,
    admin_vendor,
    support_vendor,
    django_capture_on_commit_callbacks,
    monkeypatch,
):
    tenant, owner = workspace["tenant"], workspace["owner"]
    _fill(tenant, owner, support_vendor)
    deletion = schedule(admin_vendor, tenant, django_capture_on_commit_callbacks, grace_days=0)
    real_delete = storage.delete_object
    calls = {"n": 0}

    def flaky(target, key):  # the storage edge fails after three objects
        calls["n"] += 1
        if calls["n"] > 3:
            raise OSError("storage unreachable")
        real_delete(target, key)

    monkeypatch.setattr(storage, "delete_object", flaky)
    later = timezone.now() + timedelta(seconds=1)
    result = services.deletions_purge_due(actor=SYSTEM, now=later)
    assert result == {"purged": 0, "failed": 1, "released": 0}
    deletion.refresh_from_db()
    assert deletion.purged_at is None and deletion.last_error == "OSError"
    assert "schema" not in deletion.steps_done and "state" in deletion.steps_done
    left = _objects(tenant)
    assert 0 < sum(map(len, left.values())) < 7  # some deleted, some left
    assert schemas.schema_exists(tenant.schema_name)

    monkeypatch.setattr(storage, "delete_object", real_delete)
    assert services.deletions_purge_due(actor=SYSTEM, now=later)["purged"] == 1
    deletion.refresh_from_db()
    assert deletion.purged_at is not None and deletion.objects_deleted == 7
    assert _objects(tenant) == {"documents": [], "quarantine": [], "exports": []}
    assert not schemas.schema_exists(tenant.schema_name)
    assert actions(tenant.schema_name).count("tenant.deleted") == 1
    assert audit_services.verify_chain(chain=tenant.schema_name).ok


def test_address_is_released_after_quarantine_and_a_new_workspace_gets_its_own_chain(
    fs_storages, workspace, admin_vendor, django_capture_on_commit_callbacks, settings
):
    settings.OFFBOARDING_SLUG_QUARANTINE_DAYS = 10
    tenant = workspace["tenant"]
    deletion = schedule(admin_vendor, tenant, django_capture_on_commit_callbacks, grace_days=0)
    now = timezone.now() + timedelta(seconds=1)
    services.deletions_purge_due(actor=SYSTEM, now=now)
    assert services.deletions_purge_due(actor=SYSTEM, now=now + timedelta(days=9))[
        "released"] == 0  # fmt: skip
    assert Domain.objects.filter(tenant=tenant).exists()
    result = services.deletions_purge_due(actor=SYSTEM, now=now + timedelta(days=10, seconds=1))
    assert result["released"] == 1
    tenant.refresh_from_db()
    assert tenant.slug == f"-deleted-{tenant.pk}" and tenant.schema_name == "t_leaving"
    assert not Domain.objects.filter(tenant=tenant).exists()
    deletion.refresh_from_db()
    assert deletion.slug_released_at is not None
    released = AuditEvent.objects.get(chain="t_leaving", action="tenant.address_released")
    assert released.changes["slug"] == {"before": "leaving", "after": tenant.slug}
    assert AuditEvent.objects.filter(chain="t_leaving", action="workspace.slug_released").exists()
    old_events = AuditEvent.objects.filter(chain="t_leaving").count()

    fresh = tenant_provision(
        actor=SYSTEM, slug="leaving", name="New Leaving", owner_email="new@leaving.test",
        owner_password=PASSWORD,
    ).tenant  # fmt: skip
    assert fresh.schema_name == "t_leaving_2"
    assert AuditEvent.objects.filter(chain="t_leaving").count() == old_events  # untouched
    assert AuditEvent.objects.filter(chain="t_leaving_2", action="tenant.created").exists()


def _fake_backup(tenant, backup_id: str) -> None:
    """A backup set of ``tenant`` in the backup storage, as ``backup_create`` lays it out
    (the test's workspace is not committed, so pg_dump could not read it), with its row."""
    from backups import crypto, store
    from backups.models import Backup

    storage, key = store.backup_storage(), crypto.backup_key()
    base = store.set_prefix(tenant.schema_name, backup_id)
    for name in ("schema.dump.enc", "audit.jsonl.enc", "manifest.json.enc"):
        store.put_json(storage, base + name, {"part": name}, key)
    store.put_json(storage, store.object_name(tenant.schema_name, backup_id[-6:] * 8), {}, key)
    Backup.objects.create(
        backup_id=backup_id, tenant=tenant, schema_name=tenant.schema_name,
        status=Backup.Status.OK, created_at=timezone.now(),
    )  # fmt: skip


def test_purge_deletes_the_workspace_backups_and_only_them(
    s3_storages, s3_server, workspace, admin_vendor, django_capture_on_commit_callbacks, settings
):
    from backups import store
    from backups.models import Backup
    from config.settings.base import backups_storage
    from tests.backups.conftest import BACKUP_BUCKET

    client = s3_storages["client"]
    if BACKUP_BUCKET not in {b["Name"] for b in client.list_buckets()["Buckets"]}:
        client.create_bucket(Bucket=BACKUP_BUCKET)
    entry = backups_storage(bucket=BACKUP_BUCKET, endpoint_url=s3_server["endpoint"])
    entry["OPTIONS"].update(access_key="testing", secret_key="testing")
    settings.STORAGES = {**settings.STORAGES, "backups": entry}
    tenant, other = workspace["tenant"], Tenant.objects.get(slug="alpha")
    storage = store.backup_storage()
    for name in (tenant.schema_name, other.schema_name):
        store.delete_prefix(storage, store.workspace_prefix(name))
    _fake_backup(tenant, "20260101T000000000Z-aaaaaa")
    _fake_backup(tenant, "20260102T000000000Z-bbbbbb")
    _fake_backup(other, "20260101T000000000Z-cccccc")
    others = store.list_names(storage, store.workspace_prefix(other.schema_name))
    assert len(store.list_names(storage, store.workspace_prefix(tenant.schema_name))) == 8

    deletion = schedule(admin_vendor, tenant, django_capture_on_commit_callbacks, grace_days=0)
    services.deletion_purge(actor=SYSTEM, deletion_id=deletion.pk,
                            now=timezone.now() + timedelta(seconds=1))  # fmt: skip

    assert store.list_names(storage, store.workspace_prefix(tenant.schema_name)) == []
    assert not Backup.objects.filter(tenant=tenant).exists()
    deletion.refresh_from_db()
    assert "backups" in deletion.steps_done and deletion.objects_deleted == 8
    chain = actions(tenant.schema_name)
    assert chain.index("tenant.backups_purged") < chain.index("workspace.purged")
    assert store.list_names(storage, store.workspace_prefix(other.schema_name)) == others
    assert Backup.objects.filter(tenant=other).count() == 1
    store.delete_prefix(storage, store.workspace_prefix(other.schema_name))
