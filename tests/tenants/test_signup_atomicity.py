"""Signup is all or nothing: a failure at any step leaves no schema, row or user behind.

These tests commit for real (``transactional_db``) so that the rollback under
test is the outermost one, as in production.
"""

import pytest
from django.db import connection

import signup.services
from core.principal import SYSTEM
from signup.services import tenant_provision
from tenants import creation
from tenants.models import Domain, SpareSchema, Tenant

pytestmark = pytest.mark.django_db(transaction=True)

SIGNUP = {
    "name": "Delta AG",
    "slug": "delta",
    "owner_email": "dora@delta.test",
    "owner_password": "Amber-window-castle-7",
    "owner_name": "Dora Delta",
}


class Boom(Exception):
    pass


def namespaces() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace")
        return {row[0] for row in cursor.fetchall()}


# Each step of signup, by the module that takes it.
STEPS = {"_make_schema": creation, "_add_domain": creation, "_create_owner": signup.services}


def fail_after(monkeypatch, name: str) -> None:
    """Let step ``name`` do its work, then fail, as a crash just after it would."""
    module = STEPS[name]
    original = getattr(module, name)

    def step(*args, **kwargs):
        original(*args, **kwargs)
        raise Boom(name)

    monkeypatch.setattr(module, name, step)


def assert_nothing_left(spares_before: set[str], schemas_before: set[str]) -> None:
    connection.set_schema_to_public()
    assert not Tenant.objects.filter(slug="delta").exists()
    assert not Domain.objects.filter(domain__startswith="delta.").exists()
    assert "t_delta" not in namespaces()
    # A claimed spare schema went back to the pool, under its own name.
    assert set(SpareSchema.objects.values_list("schema_name", flat=True)) == spares_before
    assert namespaces() == schemas_before


@pytest.mark.parametrize("step", ["_make_schema", "_add_domain", "_create_owner"])
def test_failure_after_each_step_leaves_nothing(monkeypatch, step):
    spares = set(SpareSchema.objects.values_list("schema_name", flat=True))
    assert spares, "the pool should hold spare schemas"
    before = namespaces()
    fail_after(monkeypatch, step)
    with pytest.raises(Boom):
        tenant_provision(actor=SYSTEM, **SIGNUP)
    assert_nothing_left(spares, before)


def test_failure_while_recording_the_event_leaves_nothing(monkeypatch):
    spares = set(SpareSchema.objects.values_list("schema_name", flat=True))
    before = namespaces()

    def broken_record(*args, **kwargs):
        raise Boom("audit")

    monkeypatch.setattr(creation.audit, "record", broken_record)
    with pytest.raises(Boom):
        tenant_provision(actor=SYSTEM, **SIGNUP)
    assert_nothing_left(spares, before)


@pytest.mark.slow
def test_failure_on_the_migrate_path_leaves_no_schema(monkeypatch):
    # An empty pool: the signup falls back to migrating a new schema.
    SpareSchema.objects.all().delete()
    before = namespaces()
    fail_after(monkeypatch, "_add_domain")
    with pytest.raises(Boom):
        tenant_provision(actor=SYSTEM, **SIGNUP)
    assert_nothing_left(set(), before)


@pytest.mark.slow
def test_signup_without_spares_still_works():
    SpareSchema.objects.all().delete()
    workspace = tenant_provision(actor=SYSTEM, **SIGNUP)
    assert workspace.path == "migrate"
    assert "t_delta" in namespaces()
    assert Tenant.objects.get(slug="delta").state == Tenant.State.ACTIVE


def test_signup_from_the_pool_uses_a_spare():
    spares = set(SpareSchema.objects.values_list("schema_name", flat=True))
    workspace = tenant_provision(actor=SYSTEM, **SIGNUP)
    assert workspace.path == "pool"
    left = set(SpareSchema.objects.values_list("schema_name", flat=True))
    assert len(spares - left) >= 1
    assert "t_delta" in namespaces()
