"""Moving a workspace between worker nodes from the vendor console, on a real cluster:
the page shows where each workspace lives and offers the move to admins; the move runs
as a task (eager here), and both chains record it."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

import console.services as console
from audit.models import AuditEvent
from core.principal import SYSTEM
from tenants import citus
from tenants.models import Tenant
from tests.console.conftest import make_vendor
from tests.console_session import console_client


@pytest.fixture
def admin(committed):
    user = make_vendor("admin")
    yield user
    _delete_public_user(user.pk)


def _delete_public_user(pk: int) -> None:
    """Committed for real, so removed by hand: first the public rows that refer to the
    account (its second factor, its tracked sessions), then the account. Not the ORM's
    cascade, which would look for workspace tables (OAuth2 apps) in the public schema."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.conrelid::regclass::text, a.attname FROM pg_constraint c "
            "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
            "WHERE c.contype = 'f' AND c.confrelid = 'public.accounts_user'::regclass"
        )
        for table, column in cursor.fetchall():
            cursor.execute(f'DELETE FROM {table} WHERE "{column}" = %s', [pk])
        cursor.execute("DELETE FROM public.accounts_user WHERE id = %s", [pk])


def test_an_admin_moves_a_workspace_from_its_page(admin):
    tenant = Tenant.objects.get(slug="beta")
    source = citus.node_of(tenant.schema_name)
    target = next(node for node in citus.worker_nodes() if node != source)
    client = console_client(admin)
    page = client.get(f"/console/w/{tenant.pk}/")
    placement = page.context["cluster"]["placement"]
    assert placement.node == source and placement.other_nodes == [target]
    assert str(source).encode() in page.content and b"/move/" in page.content
    last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    response = client.post(
        f"/console/w/{tenant.pk}/move/", {"to": str(target), "reason": "node 1 is full"}
    )

    assert response.status_code == 302
    assert citus.node_of(tenant.schema_name) == target
    events = {e.action: e for e in AuditEvent.objects.filter(pk__gt=last)}
    requested = events["console.workspace_move_requested"]
    assert requested.actor_type == "vendor" and requested.actor_id == str(admin.pk)
    assert requested.changes["reason"] == "node 1 is full"
    assert (requested.changes["node_before"], requested.changes["node_after"]) == (
        str(source),
        str(target),
    )
    moved = events["tenant.moved"]
    assert moved.tenant_id == tenant.pk
    assert moved.changes["node"] == {"before": str(source), "after": str(target)}
    page = client.get(f"/console/w/{tenant.pk}/")
    assert page.context["cluster"]["placement"].node == target


def test_a_request_that_cannot_be_met_is_refused_before_anything_is_queued(admin):
    tenant = Tenant.objects.get(slug="beta")
    here = citus.node_of(tenant.schema_name)
    last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    for to, message in [(str(here), "already on"), ("127.0.0.1:9", "is not a worker node")]:
        with pytest.raises(ValidationError) as error:
            console.workspace_move_request(
                actor=admin, tenant_id=tenant.pk, to=to, reason="rebalance"
            )
        assert message in error.value.messages[0]
    assert citus.node_of(tenant.schema_name) == here
    assert not AuditEvent.objects.filter(pk__gt=last).exists()


def test_a_queued_move_that_can_no_longer_happen_is_recorded(committed):
    tenant = Tenant.objects.get(slug="beta")
    here = citus.node_of(tenant.schema_name)
    last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    with pytest.raises(ValidationError):
        console.workspace_move(actor=SYSTEM, tenant_id=tenant.pk, to=str(here))
    (failed,) = AuditEvent.objects.filter(pk__gt=last)
    assert failed.action == "console.workspace_move_failed"
    assert "already on" in failed.changes["reason"]
    assert citus.node_of(tenant.schema_name) == here
