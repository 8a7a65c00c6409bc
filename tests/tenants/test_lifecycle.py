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
