"""The suite's own reset: after a test that committed, the baseline's rows come back
from a snapshot, without dropping or migrating a schema (tests/conftest.py)."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django_tenants.utils import schema_context

from billing.models import Plan
from tenants.models import SpareSchema, Tenant
from tests.conftest import BASELINE, PASSWORD, WORKSPACES

pytestmark = pytest.mark.django_db(transaction=True)


def namespaces() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace")
        return {row[0] for row in cursor.fetchall()}


def test_restore_puts_back_public_and_workspace_rows_and_keeps_the_schemas():
    schemas_before = namespaces()
    spares_before = set(SpareSchema.objects.values_list("schema_name", flat=True))
    plans_before = set(Plan.objects.values_list("pk", "name"))
    alpha = Tenant.objects.get(slug="alpha")
    with schema_context(alpha.schema_name):
        users_before = set(get_user_model().objects.values_list("email", flat=True))
        get_user_model().objects.create_user("extra@alpha.test", PASSWORD)  # committed
    Tenant.objects.filter(pk=alpha.pk).update(name="Renamed")
    SpareSchema.objects.all().delete()

    assert BASELINE.restore()

    assert Tenant.objects.get(pk=alpha.pk).name == WORKSPACES["alpha"]["name"]
    with schema_context(alpha.schema_name):
        assert set(get_user_model().objects.values_list("email", flat=True)) == users_before
    assert set(SpareSchema.objects.values_list("schema_name", flat=True)) == spares_before
    assert set(Plan.objects.values_list("pk", "name")) == plans_before
    assert namespaces() == schemas_before  # nothing dropped, nothing migrated
