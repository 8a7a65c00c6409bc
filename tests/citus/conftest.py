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
def committed(django_db_setup, on_citus, django_db_blocker):
    """Database access in autocommit, without the flush and baseline rebuild that end a
    ``transactional_db`` test (slow on a cluster): a test using it undoes its own changes.
    On the test database, never the development one: pytest-django sets it up only when
    some collected test is marked for the database, so run these with such tests (the
    lane does); alone they fail instead of writing elsewhere."""
    with django_db_blocker.unblock():
        yield
