"""Fixtures of the offboarding tests: a workspace of their own (made in the test's
transaction, so rolled back), a vendor staff member per role, and the storages
(files, or S3 on moto's server on loopback) for documents, quarantine and exports."""

from __future__ import annotations

import hashlib
import io
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django_tenants.utils import schema_context

from core.principal import SYSTEM
from signup.services import tenant_provision
from tests.accounts.helpers import make_user
from tests.conftest import PASSWORD
from tests.storages import (  # noqa: F401 - fixtures
    ExtraStorage,
    any_storages,
    fs_storages,
    s3_storages,
)
from uploads import storage as object_storage

EXPORT_BUCKET = "atrium-exports-test"
SLUG = "leaving"
OWNER = "owner@leaving.test"


@pytest.fixture
def extra_storage() -> ExtraStorage:
    """The exports' storage; the ``leaving`` workspace's objects are removed after a test."""
    return ExtraStorage(
        alias="offboarding_exports", bucket=EXPORT_BUCKET,
        cleanup=(f"tenants/t_{SLUG}", f"quarantine/t_{SLUG}"),
    )  # fmt: skip


def vendor(email: str, role: str):
    """A vendor staff member (a public-schema user with ``is_staff``) with ``role``."""
    connection.set_schema_to_public()
    user = get_user_model().objects.create_user(
        email=email, password=PASSWORD, full_name=email, is_staff=True, vendor_role=role
    )
    return get_user_model().objects.get(pk=user.pk)  # read back on public: a vendor


@pytest.fixture
def admin_vendor(db):
    return vendor("admin@vendor.test", "admin")


@pytest.fixture
def support_vendor(db):
    return vendor("support@vendor.test", "support")


@pytest.fixture
def viewer_vendor(db):
    return vendor("viewer@vendor.test", "viewer")


def put_document(tenant, owner, content: bytes, name: str, *, state="available", quarantine=False):
    from django.apps import apps

    Document = apps.get_model("uploads", "Document")
    doc_id = uuid.uuid4()
    fields = {}
    if quarantine:
        key = object_storage.quarantine_key(tenant.schema_name, doc_id)
        object_storage.save_stream(object_storage.quarantine_storage(), key, io.BytesIO(content))
        fields["quarantine_key"] = key
    else:
        key = object_storage.document_key(tenant.schema_name, doc_id)
        object_storage.save_stream(object_storage.documents_storage(), key, io.BytesIO(content))
        fields["storage_key"] = key
    with schema_context(tenant.schema_name):
        return Document.objects.create(
            id=doc_id, name=name, size=len(content), content_type="text/plain",
            sha256=hashlib.sha256(content).hexdigest(), state=state, uploaded_by=owner,
            **fields,
        )  # fmt: skip


@pytest.fixture
def workspace(db):
    """The ``leaving`` workspace: an owner, a second owner, a member, an invitation."""
    from accounts.services import staff_invite

    provisioned = tenant_provision(
        actor=SYSTEM, slug=SLUG, name="Leaving Ltd", owner_email=OWNER,
        owner_password=PASSWORD, owner_name="Leaving Owner",
    )  # fmt: skip
    tenant = provisioned.tenant
    make_user(tenant, "second-owner@leaving.test", role="owner")
    make_user(tenant, "member@leaving.test")
    with schema_context(tenant.schema_name):
        owner = get_user_model().objects.get(email=OWNER)
        staff_invite(actor=owner, emails=["invited@leaving.test"], role="member")
    connection.set_schema_to_public()
    return {"tenant": tenant, "owner": owner}
