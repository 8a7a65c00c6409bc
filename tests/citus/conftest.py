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
