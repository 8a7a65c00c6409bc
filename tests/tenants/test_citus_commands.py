"""The Citus commands on plain PostgreSQL: a clear refusal, nothing changed."""

import pytest
from django.core.management import CommandError, call_command

from tenants import citus


@pytest.fixture
def plain_postgres(db):
    if citus.citus_enabled():
        pytest.skip("runs on plain PostgreSQL")


def test_move_tenant_needs_a_citus_coordinator(plain_postgres, tenant_a):
    with pytest.raises(CommandError, match="not a Citus coordinator"):
        call_command("move_tenant", slug=tenant_a.slug)


def test_distribute_tenants_needs_a_citus_coordinator(plain_postgres):
    with pytest.raises(CommandError, match="not a Citus coordinator"):
        call_command("distribute_tenants")


@pytest.mark.parametrize("text", ["nohost", ":5432", "h:0", "h:port", "h:70000"])
def test_a_bad_node_is_refused_clearly(text):
    with pytest.raises(Exception, match="host:port"):
        citus.Node.parse(text)
