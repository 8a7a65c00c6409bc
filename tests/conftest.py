"""Suite-wide fixtures: a real PostgreSQL test database with a spare-schema pool and
two workspaces (alpha, beta) made once per session, and clients bound to their hosts."""

import pytest
from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from tenants import pool, routing
from tenants.models import Tenant
from tenants.services import provision_tenant

PASSWORD = "Correct-horse-battery-9"

WORKSPACES = {
    "alpha": {"name": "Alpha Partners", "owner_email": "owner@alpha.test"},
    "beta": {"name": "Beta Partners", "owner_email": "owner@beta.test"},
}


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        pool.refill(settings.TENANT_SPARE_POOL_SIZE)
        for slug, data in WORKSPACES.items():
            if not Tenant.objects.filter(slug=slug).exists():
                provision_tenant(
                    slug=slug,
                    name=data["name"],
                    owner_email=data["owner_email"],
                    owner_password=PASSWORD,
                    owner_name=f"{data['name']} Owner",
                )
        # The suite's own signups come from this pool; keep it full.
        pool.refill(settings.TENANT_SPARE_POOL_SIZE)


@pytest.fixture(autouse=True)
def _isolated_state():
    """Every test starts on the public schema with empty routing caches."""
    routing.clear_local()
    caches["routing"].clear()
    connection.set_schema_to_public()
    yield
    connection.set_schema_to_public()
    routing.clear_local()


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
def public_client() -> Client:
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
