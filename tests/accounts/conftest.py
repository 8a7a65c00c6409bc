import pytest
from django.core.cache import caches

from tests.conftest import client_for, sign_in

from .helpers import make_user


@pytest.fixture(autouse=True)
def _clean_default_cache():
    """Rate-limit counters and the cached workspace policy live in Redis, which the
    database rollback does not reset."""
    caches["default"].clear()
    yield
    caches["default"].clear()


@pytest.fixture
def admin_a(tenant_a):
    return make_user(tenant_a, "admin@alpha.test", role="admin")


@pytest.fixture
def member_a(tenant_a):
    return make_user(tenant_a, "member@alpha.test", role="member")


@pytest.fixture
def admin_client_a(tenant_a, admin_a):
    client = client_for(tenant_a)
    assert sign_in(client, admin_a.email)
    return client


@pytest.fixture
def member_client_a(tenant_a, member_a):
    client = client_for(tenant_a)
    assert sign_in(client, member_a.email)
    return client


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Run on-commit callbacks (emails, cache invalidation) of the wrapped requests."""
    return lambda: django_capture_on_commit_callbacks(execute=True)
