"""Fixtures of the backup tests: a workspace of their own with users, documents and
audit events (committed for real, because pg_dump reads from its own connection),
and the storages a backup runs on: files, or S3 (moto's server on loopback) for
both the documents and the backup bucket."""

from __future__ import annotations

import hashlib
import io
import uuid

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from core.principal import SYSTEM
from signup.services import tenant_provision
from tenants.models import Tenant
from tests.accounts.helpers import make_user
from tests.conftest import PASSWORD
from tests.storages import (  # noqa: F401 - fixtures
    ExtraStorage,
    any_storages,
    fs_storages,
    s3_storages,
)
from uploads import storage as object_storage

BACKUP_BUCKET = "atrium-backup-test"
SLUG = "drill"


@pytest.fixture
def extra_storage() -> ExtraStorage:
    return ExtraStorage(alias="backups", bucket=BACKUP_BUCKET)


def drop_aside_schemas() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname ~ '^[ro]_[0-9]{12}_t_'")
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP SCHEMA "{name}" CASCADE')


def remove_workspace(slug: str) -> None:
    """Remove a workspace these tests made (rows, schema); its audit events stay."""
    from backups.models import Backup, RestoreDrill
    from tenants import schemas
    from tenants.models import Domain

    connection.set_schema_to_public()
    for tenant in Tenant.objects.filter(slug=slug):
        Backup.objects.filter(tenant=tenant).delete()
        RestoreDrill.objects.filter(tenant=tenant).delete()
        Domain.objects.filter(tenant=tenant).delete()
        schemas.drop_schema(tenant.schema_name)
        tenant.delete()


@pytest.fixture(scope="module")
def drill_data(django_db_setup, django_db_blocker):
    """The ``drill`` workspace, committed once per module (pg_dump reads with its own
    connection, so the data must be committed; each test's own changes, made in its
    test transaction, are rolled back): owner, two members, three documents, one
    renamed through the documents service so the audit chain holds more than signup.
    The documents' bytes are written per test, into that test's storage."""
    from django.contrib.auth import get_user_model

    from uploads.models import Document
    from uploads.services import document_rename

    with django_db_blocker.unblock():
        drop_aside_schemas()
        remove_workspace(SLUG)
        tenant = tenant_provision(
            actor=SYSTEM, slug=SLUG, name="Drill Ltd", owner_email="owner@drill.test",
            owner_password=PASSWORD, owner_name="Drill Owner",
        ).tenant  # fmt: skip
        for i in range(2):
            make_user(tenant, f"member{i}@drill.test")
        contents = {}
        with schema_context(tenant.schema_name):
            owner = get_user_model().objects.get(email="owner@drill.test")
            for i in range(3):
                content = b"%d" % i * 5000
                doc_id = uuid.uuid4()
                key = object_storage.document_key(tenant.schema_name, doc_id)
                Document.objects.create(
                    id=doc_id, name=f"report-{i}.txt", size=len(content),
                    content_type="text/plain", sha256=hashlib.sha256(content).hexdigest(),
                    state=Document.State.AVAILABLE, storage_key=key, uploaded_by=owner,
                )  # fmt: skip
                contents[key] = content
            document_rename(actor=owner, document_id=doc_id, name="renamed.txt")
        connection.set_schema_to_public()
    yield {"tenant": tenant, "contents": contents}
    with django_db_blocker.unblock():
        drop_aside_schemas()
        remove_workspace(SLUG)


@pytest.fixture
def _drop_aside_after_rollback(django_db_blocker):
    """Set up before ``db``, so torn down after its rollback: schemas pg_restore
    committed from its own connection are dropped for good."""
    yield
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        drop_aside_schemas()


@pytest.fixture
def workspace(_drop_aside_after_rollback, db, drill_data):
    """``drill_data`` with its documents' bytes in the current storages."""
    storage = object_storage.documents_storage()
    for key, content in drill_data["contents"].items():
        if storage.exists(key):
            storage.delete(key)
        object_storage.save_stream(storage, key, io.BytesIO(content))
    return drill_data


def read_object(key: str) -> bytes | None:
    storage = object_storage.documents_storage()
    if not storage.exists(key):
        return None
    with object_storage.open_stream(storage, key) as stream:
        return stream.read()
