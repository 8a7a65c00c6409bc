"""Suite-wide fixtures: a real PostgreSQL test database with a spare-schema pool and
two workspaces (alpha, beta) made once per session, and clients bound to their hosts."""

import importlib
from typing import NamedTuple

import pytest
from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context
from pytest_django.plugin import blocking_manager_key

from tenants import pool, routing
from tenants.models import Tenant
from tenants.services import provision_tenant

PASSWORD = "Correct-horse-battery-9"

WORKSPACES = {
    "alpha": {"name": "Alpha Partners", "owner_email": "owner@alpha.test"},
    "beta": {"name": "Beta Partners", "owner_email": "owner@beta.test"},
}


def ensure_baseline() -> None:
    """Plans, the two workspaces and a full spare pool, (re)made where missing.

    Tests that need real commits (``transactional_db``, ``live_server``) end
    with Django flushing every public table, which also removes the plans of a
    data migration and the rows of the session's workspaces; this puts them back.
    """
    from django.apps import apps as django_apps

    from billing.models import Plan
    from tenants import schemas
    from tenants.models import SpareSchema

    connection.set_schema_to_public()
    if not Plan.objects.exists():
        importlib.import_module("billing.migrations.0002_default_plans").create_plans(
            django_apps, None
        )
    # Spare and tenant schemas whose rows were flushed are orphans: drop them.
    known = set(SpareSchema.objects.values_list("schema_name", flat=True))
    known |= set(Tenant.objects.values_list("schema_name", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'spare\\_%%' "
            "OR nspname LIKE 't\\_%%'"
        )
        orphans = [row[0] for row in cursor.fetchall() if row[0] not in known]
    for name in orphans:
        schemas.drop_schema(name)
    pool.refill(settings.TENANT_SPARE_POOL_SIZE)
    for slug, data in WORKSPACES.items():
        if not Tenant.objects.filter(slug=slug).exists():
            schemas.drop_schema(f"t_{slug}")
            provision_tenant(
                slug=slug,
                name=data["name"],
                owner_email=data["owner_email"],
                owner_password=PASSWORD,
                owner_name=f"{data['name']} Owner",
            )
    # The suite's own signups come from this pool; keep it full.
    pool.refill(settings.TENANT_SPARE_POOL_SIZE)


@pytest.fixture(scope="session", autouse=True)
def _flush_spares_the_audit_log():
    """Django ends a test that committed for real with a flush (TRUNCATE of every
    table). The audit tables refuse TRUNCATE by design, so the flush leaves them
    out; their rows stay, as they would in production."""
    from django.core.management.commands import flush

    def sql_flush(style, connection, reset_sequences=True, allow_cascade=False):
        tables = connection.introspection.django_table_names(
            only_existing=True, include_views=False
        )
        tables = [t for t in tables if not t.startswith("audit_")]
        return connection.ops.sql_flush(
            style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
        )

    patcher = pytest.MonkeyPatch()
    patcher.setattr(flush, "sql_flush", sql_flush)
    yield
    patcher.undo()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        ensure_baseline()


@pytest.fixture(autouse=True)
def _isolated_state():
    """Every test starts on the public schema with empty routing caches."""
    routing.clear_local()
    caches["routing"].clear()
    connection.set_schema_to_public()
    yield
    connection.set_schema_to_public()
    routing.clear_local()


def _committed_for_real(item: pytest.Item) -> bool:
    marker = item.get_closest_marker("django_db")
    transactional = bool(marker and marker.kwargs.get("transaction"))
    return transactional or bool({"transactional_db", "live_server"} & set(item.fixturenames))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    """After a test that committed for real, and after Django's flush that ends
    it, restore the baseline (a hook, because fixture teardown runs before the flush)."""
    yield
    # After the session's last test the test database is already destroyed (and the
    # connection points at the development database): nothing to restore.
    if _committed_for_real(item) and nextitem is not None:
        with item.config.stash[blocking_manager_key].unblock():
            ensure_baseline()


@pytest.fixture
def tenant_a(db) -> Tenant:
    return Tenant.objects.get(slug="alpha")


@pytest.fixture
def tenant_b(db) -> Tenant:
    return Tenant.objects.get(slug="beta")


def host_of(tenant: Tenant) -> str:
    return f"{tenant.slug}.{settings.BASE_DOMAIN}"


def client_for(tenant: Tenant | None) -> Client:
    """A test client whose requests go to ``tenant``'s host (the public site for None)."""
    return Client(HTTP_HOST=host_of(tenant) if tenant else settings.BASE_DOMAIN)


@pytest.fixture
def public_client(db) -> Client:
    return client_for(None)


@pytest.fixture
def client_a(tenant_a) -> Client:
    return client_for(tenant_a)


@pytest.fixture
def client_b(tenant_b) -> Client:
    return client_for(tenant_b)


def user_of(tenant: Tenant, email: str):
    from django.contrib.auth import get_user_model

    with schema_context(tenant.schema_name):
        return get_user_model().objects.get(email=email)


@pytest.fixture
def owner_a(tenant_a):
    return user_of(tenant_a, WORKSPACES["alpha"]["owner_email"])


@pytest.fixture
def owner_client_a(tenant_a, owner_a) -> Client:
    client = client_for(tenant_a)
    assert sign_in(client, owner_a.email)
    return client


def sign_in(client: Client, email: str, password: str = PASSWORD) -> bool:
    """Sign in through the real login form on the client's host."""
    response = client.post("/accounts/login/", {"username": email, "password": password})
    return response.status_code == 302


@pytest.fixture
def real_broker():
    """Tasks published to the test Redis instead of run eagerly; the queue starts empty."""
    from config.celery import app as celery_app

    celery_app.conf.task_always_eager = False
    with celery_app.connection_for_write() as conn:
        queue = conn.SimpleQueue("celery")
        queue.clear()
        yield queue
        queue.clear()
        queue.close()
    celery_app.conf.task_always_eager = True


class TaskMessage(NamedTuple):
    name: str
    args: list
    kwargs: dict
    headers: dict
    raw: object  # kombu's message

    def ack(self) -> None:
        self.raw.ack()


def next_task(queue, timeout: float = 5) -> TaskMessage:
    """The next task message on the broker, decoded as a worker decodes it."""
    message = queue.get(timeout=timeout)
    args, kwargs, _embed = message.payload  # kombu's JSON: datetimes come back as such
    return TaskMessage(message.headers["task"], args, kwargs, message.headers, message)
