"""The Citus lane (``make test-citus``): these tests need the test database on a Citus
coordinator with workers; on plain PostgreSQL they are skipped."""

import pytest


@pytest.fixture
def on_citus(django_db_blocker):
    from tenants import citus

    with django_db_blocker.unblock():
        enabled = citus.citus_enabled()
    if not enabled:
        pytest.skip("needs a Citus coordinator: run `make test-citus`")


@pytest.fixture
def committed(on_citus, django_db_blocker):
    """Database access in autocommit, without the flush and baseline rebuild that end a
    ``transactional_db`` test (slow on a cluster): a test using it undoes its own changes."""
    with django_db_blocker.unblock():
        yield
