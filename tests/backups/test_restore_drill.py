"""The restore drill, as a test: a workspace with users, documents and audit events is
backed up, damaged (rows and objects deleted), restored, and everything is back and
its audit chain verifies. On files, and on S3 (moto) for documents and backups.

The workspace is committed once per module (pg_dump reads with its own connection);
each test's own changes are rolled back."""

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.db import connection
from django_tenants.utils import schema_context

from audit.models import AuditEvent
from audit.services import verify_chain
from backups import selectors, services
from backups.models import Backup
from core.principal import SYSTEM
from tenants import routing, schemas
from tests.backups.conftest import read_object
from uploads import storage as object_storage
from uploads.models import Document


def state_of(schema: str) -> dict:
    with schema_context(schema):
        users = sorted(get_user_model().objects.values_list("email", "role", "is_active"))
        docs = sorted(Document.objects.values_list("id", "name", "sha256", "storage_key"))
    return {"users": users, "documents": docs}


def test_backup_damage_restore_and_everything_is_back(
    any_storages, workspace, settings, django_capture_on_commit_callbacks
):
    tenant = workspace["tenant"]
    schema = tenant.schema_name
    before = state_of(schema)
    contents = workspace["contents"]
    assert len(before["users"]) == 3 and len(before["documents"]) == 3

    backup = services.backup_create(actor=SYSTEM, tenant=tenant)
    assert backup.status == Backup.Status.OK
    manifest = services.read_manifest(schema, backup.backup_id)
    assert not manifest["objects_missing"], manifest
    assert backup.object_count == 3 and backup.objects_copied == 3
    assert selectors.last_backup_age_seconds(tenant) < 60

    # Damage: members and every document row deleted, two objects deleted.
    with schema_context(schema):
        get_user_model().objects.filter(email__startswith="member").delete()
        Document.objects.all().delete()
    with connection.cursor() as cursor:  # run the deferred FK checks now, as a commit would
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    documents = object_storage.documents_storage()
    for key in list(contents)[:2]:
        documents.delete(key)
    assert state_of(schema)["documents"] == []

    host = f"{tenant.slug}.{settings.BASE_DOMAIN}"
    assert routing.resolve_host(host).schema_name == schema  # cached now
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = services.backup_restore(actor=SYSTEM, tenant=tenant, swap=True)

    assert callbacks and caches["routing"].get(host) is None  # the route was forgotten
    assert result.swapped and result.backup_id == backup.backup_id
    assert result.objects_restored == 2 and result.objects_checked == 3
    assert state_of(schema) == before
    assert {key: read_object(key) for key in contents} == contents
    # The previous (damaged) schema is kept aside until discarded.
    assert schemas.schema_exists(result.previous_schema)
    assert services.aside_schemas(tenant) == [result.previous_schema]
    services.restore_discard(actor=SYSTEM, tenant=tenant, schema_name=result.previous_schema)
    assert not schemas.schema_exists(result.previous_schema)

    chain = verify_chain(chain=schema)
    assert chain.ok, chain.first_bad
    actions = list(AuditEvent.objects.filter(chain=schema).values_list("action", flat=True))
    assert actions[-3:] == ["tenant.backup_created", "tenant.restored", "tenant.restore_discarded"]
    assert "document.renamed" in actions


def test_keep_aside_leaves_the_live_workspace_alone(fs_storages, workspace):
    tenant = workspace["tenant"]
    schema = tenant.schema_name
    services.backup_create(actor=SYSTEM, tenant=tenant)
    with schema_context(schema):
        Document.objects.filter(name="report-1.txt").delete()
    live = state_of(schema)

    result = services.backup_restore(actor=SYSTEM, tenant=tenant, swap=False)

    assert not result.swapped
    assert state_of(schema) == live  # untouched
    assert len(state_of(result.restored_schema)["documents"]) == 3  # the backup's data
    with connection.cursor() as cursor:  # the restored copy reads its own tables
        cursor.execute(f'SELECT count(*) FROM "{result.restored_schema}".accounts_user')
        assert cursor.fetchone()[0] == 3
    services.restore_discard(actor=SYSTEM, tenant=tenant, schema_name=result.restored_schema)
    assert services.aside_schemas(tenant) == []
    assert verify_chain(chain=schema).ok


def test_a_restore_that_does_not_match_its_manifest_is_refused(fs_storages, workspace):
    """A manifest whose row checksum disagrees with the dump (here: edited, re-sealed
    with the key) fails verification; the restored copy is dropped, nothing swapped."""
    from backups import store
    from backups.crypto import backup_key

    tenant = workspace["tenant"]
    schema = tenant.schema_name
    backup = services.backup_create(actor=SYSTEM, tenant=tenant)
    manifest = services.read_manifest(schema, backup.backup_id)
    manifest["tables"]["accounts_user"]["rows"] += 1
    name = store.set_prefix(schema, backup.backup_id) + "manifest.json.enc"
    store.put_json(store.backup_storage(), name, manifest, backup_key())
    before = state_of(schema)

    with pytest.raises(services.RestoreVerificationError, match="accounts_user"):
        services.backup_restore(actor=SYSTEM, tenant=tenant, swap=True)

    assert state_of(schema) == before
    assert services.aside_schemas(tenant) == []


def test_the_periodic_drill_records_a_metric_ready_result(fs_storages, workspace):
    from backups.tasks import backup_all, restore_drill

    tenant = workspace["tenant"]
    assert selectors.last_drill_result() is None
    assert backup_all() >= 1  # eager in tests: every workspace is backed up now
    assert selectors.last_backup_age_seconds() < 120

    assert restore_drill() is True

    result = selectors.last_drill_result()
    assert result["ok"] and result["error"] == ""
    assert result["workspace"] in {"alpha", "beta", "drill"}
    assert result["age_seconds"] < 60
    assert services.aside_schemas(tenant) == []
    assert AuditEvent.objects.filter(action="tenant.restore_drilled").count() == 1


def test_retention_removes_old_sets_and_the_objects_only_they_referred_to(
    fs_storages, workspace, settings
):
    from backups import crypto, store

    tenant = workspace["tenant"]
    schema = tenant.schema_name
    first = services.backup_create(actor=SYSTEM, tenant=tenant)
    second = services.backup_create(actor=SYSTEM, tenant=tenant)
    assert second.objects_copied == 0  # the objects are in the storage already
    storage = store.backup_storage()
    objects = store.workspace_prefix(schema) + "objects/"
    # An object only older, removed sets referred to (a document deleted since).
    stray = store.object_name(schema, "0" * 64)
    store.put_json(storage, stray, {"stands for": "an old document"}, crypto.backup_key())
    assert len(store.list_names(storage, objects)) == 4

    settings.BACKUP_KEEP_HOURS, settings.BACKUP_KEEP_DAILY = 0, 1
    assert services.backups_prune(actor=SYSTEM, tenant=tenant) == 1

    assert services.backup_ids_in_storage(schema) == [second.backup_id]
    assert not Backup.objects.filter(pk=first.pk).exists()
    assert sorted(store.list_names(storage, objects)) == sorted(
        entry["blob"] for entry in services.read_manifest(schema)["objects"]
    )
    event = AuditEvent.objects.filter(chain=schema).order_by("-id").first()
    assert event.action == "tenant.backups_pruned"
    assert event.changes == {"removed": [first.backup_id], "objects_removed": 1}


def test_the_commands_back_up_list_restore_and_discard(fs_storages, workspace):
    import json
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("backup_workspace", "--slug", "drill", "--json", stdout=out)
    [made] = json.loads(out.getvalue())
    assert made["slug"] == "drill" and made["objects"] == 3

    out = StringIO()
    call_command("restore_workspace", "--slug", "drill", "--keep-aside", "--json", stdout=out)
    restored = json.loads(out.getvalue())
    assert restored["backup_id"] == made["backup_id"] and not restored["swapped"]

    out = StringIO()
    call_command("restore_workspace", "--slug", "drill", "--list", "--json", stdout=out)
    assert json.loads(out.getvalue()) == {
        "backups": [made["backup_id"]],
        "aside": [restored["restored_schema"]],
    }
    call_command(
        "restore_workspace", "--slug", "drill", "--discard", restored["restored_schema"],
        stdout=StringIO(),
    )  # fmt: skip
    assert not schemas.schema_exists(restored["restored_schema"])


def test_purge_deletes_every_backup_of_the_workspace_and_finishes_after_a_crash(
    s3_storages, workspace, tenant_a, monkeypatch
):
    """Offboarding's purge step (``backups_purge``) on the S3 server: a crash at the
    storage edge leaves no restorable set (manifests go first), the next run finishes;
    another workspace's backups stay."""
    from backups import store

    tenant = workspace["tenant"]
    schema = tenant.schema_name
    storage = store.backup_storage()  # s3_storages empties its bucket after each test
    services.backup_create(actor=SYSTEM, tenant=tenant)
    services.backup_create(actor=SYSTEM, tenant=tenant)
    other = services.backup_create(actor=SYSTEM, tenant=tenant_a)
    other_files = store.list_names(storage, store.workspace_prefix(tenant_a.schema_name))
    aside = f"r_260101120000_{schema}"  # a copy a restore kept aside
    schemas.create_schema(aside)
    files = store.list_names(storage, store.workspace_prefix(schema))
    assert len(files) == 2 * 3 + 3  # two sets of three files, three document objects

    real_delete, calls = store.delete, {"n": 0}

    def flaky(storage, name):  # the storage edge fails after three files
        calls["n"] += 1
        if calls["n"] > 3:
            raise OSError("storage unreachable")
        real_delete(storage, name)

    monkeypatch.setattr(store, "delete", flaky)
    with pytest.raises(OSError):
        services.backups_purge(actor=SYSTEM, tenant=tenant)
    assert services.backup_ids_in_storage(schema) == []  # nothing looks restorable
    assert len(store.list_names(storage, store.workspace_prefix(schema))) == len(files) - 3

    monkeypatch.setattr(store, "delete", real_delete)
    assert services.backups_purge(actor=SYSTEM, tenant=tenant) == len(files) - 3
    assert store.list_names(storage, store.workspace_prefix(schema)) == []
    assert not Backup.objects.filter(tenant=tenant).exists()
    assert not schemas.schema_exists(aside)
    event = AuditEvent.objects.filter(chain=schema).order_by("-id").first()
    assert event.action == "tenant.backups_purged"
    assert event.changes == {"files": len(files) - 3, "backups": 2, "schemas": [aside]}
    # The other workspace's backup is untouched.
    assert store.list_names(storage, store.workspace_prefix(tenant_a.schema_name)) == other_files
    assert services.backup_ids_in_storage(tenant_a.schema_name) == [other.backup_id]
    assert Backup.objects.filter(pk=other.pk).exists()
    # Idempotent: nothing left, nothing recorded.
    assert services.backups_purge(actor=SYSTEM, tenant=tenant) == 0
    assert AuditEvent.objects.filter(chain=schema, action="tenant.backups_purged").count() == 1
