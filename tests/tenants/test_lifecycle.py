"""The tenant state machine: only allowed transitions, only through services."""

import pytest
from django.core.exceptions import ValidationError

from core.principal import SYSTEM
from tenants.models import Tenant
from tenants.services import tenant_reactivate, tenant_suspend, tenant_transition

S = Tenant.State


def test_suspend_and_reactivate(tenant_a):
    tenant_suspend(actor=SYSTEM, tenant=tenant_a, reason="test")
    assert Tenant.objects.get(pk=tenant_a.pk).state == S.SUSPENDED
    tenant_reactivate(actor=SYSTEM, tenant=tenant_a, reason="test")
    assert Tenant.objects.get(pk=tenant_a.pk).state == S.ACTIVE


@pytest.mark.parametrize(
    ("start", "to"),
    [
        (S.ACTIVE, S.PROVISIONING),
        (S.ACTIVE, S.DELETED),
        (S.SUSPENDED, S.DELETED),
        (S.DELETED, S.ACTIVE),
        (S.PROVISIONING, S.SUSPENDED),
    ],
)
def test_forbidden_transitions_are_refused_and_change_nothing(tenant_a, start, to):
    Tenant.objects.filter(pk=tenant_a.pk).update(state=start)
    with pytest.raises(ValidationError, match="cannot go from"):
        tenant_transition(actor=SYSTEM, tenant=tenant_a, to=to, reason="test")
    assert Tenant.objects.get(pk=tenant_a.pk).state == start


def test_full_lifecycle_to_deleted(tenant_a):
    for state in (S.SUSPENDED, S.SCHEDULED_FOR_DELETION, S.DELETED):
        tenant_transition(actor=SYSTEM, tenant=tenant_a, to=state, reason="test")
        assert Tenant.objects.get(pk=tenant_a.pk).state == state


def test_only_a_deleted_workspace_gives_up_its_address_and_only_the_platform_does(tenant_a):
    from django.core.exceptions import PermissionDenied

    from core.principal import ANONYMOUS
    from tenants.models import Domain
    from tenants.services import tenant_address_release

    domains = sorted(Domain.objects.filter(tenant=tenant_a).values_list("domain", flat=True))
    with pytest.raises(ValidationError, match="Only a deleted"):
        tenant_address_release(actor=SYSTEM, tenant=tenant_a, slug="-deleted-x", reason="t")
    Tenant.objects.filter(pk=tenant_a.pk).update(state=S.DELETED)
    with pytest.raises(PermissionDenied):
        tenant_address_release(actor=ANONYMOUS, tenant=tenant_a, slug="-deleted-x", reason="t")
    with pytest.raises(ValidationError, match="reason"):
        tenant_address_release(actor=SYSTEM, tenant=tenant_a, slug="-deleted-x", reason=" ")
    tenant_a.refresh_from_db()
    assert tenant_a.slug == "alpha"
    assert sorted(Domain.objects.filter(tenant=tenant_a).values_list("domain", flat=True)) == (
        domains
    )


def test_a_released_address_routes_nowhere_and_is_audited(
    tenant_a, django_capture_on_commit_callbacks
):
    from audit.models import AuditEvent
    from tenants.models import Domain
    from tenants.routing import resolve_host
    from tenants.services import tenant_address_release

    hosts = sorted(Domain.objects.filter(tenant=tenant_a).values_list("domain", flat=True))
    assert hosts and all(resolve_host(host) is not None for host in hosts)  # now cached
    Tenant.objects.filter(pk=tenant_a.pk).update(state=S.DELETED)
    with django_capture_on_commit_callbacks(execute=True):
        old = tenant_address_release(
            actor=SYSTEM, tenant=tenant_a, slug="-deleted-1", reason="quarantine over"
        )
    assert old == "alpha" and tenant_a.slug == "-deleted-1"
    assert Tenant.objects.get(pk=tenant_a.pk).slug == "-deleted-1"
    assert not Domain.objects.filter(tenant=tenant_a).exists()
    assert all(resolve_host(host) is None for host in hosts)
    event = AuditEvent.objects.get(action="tenant.address_released", chain=tenant_a.schema_name)
    assert event.target_id == str(tenant_a.pk) and event.actor_type == "system"
    assert event.changes["slug"] == {"before": "alpha", "after": "-deleted-1"}
    assert sorted(event.changes["domains"]) == hosts
    assert event.changes["reason"] == "quarantine over"
