"""``tenants.services.tenant_plan_set``: the only writer of ``Tenant.plan``; billing
decides the plan and sets it through it, audited."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from audit.models import AuditEvent
from billing import services as billing_services
from billing.models import Plan
from core.principal import SYSTEM
from tenants import services
from tenants.models import Tenant


def _plan_events(tenant):
    return AuditEvent.objects.filter(action="tenant.plan_changed", target_id=str(tenant.pk))


def test_the_system_sets_the_plan_once_and_it_is_audited(tenant_a):
    team = Plan.objects.get(code="team")
    services.tenant_plan_set(actor=SYSTEM, tenant_id=tenant_a.pk, plan_id=team.pk, note="why")
    assert Tenant.objects.get(pk=tenant_a.pk).plan_id == team.pk
    event = _plan_events(tenant_a).latest("pk")
    assert event.changes["plan_after"] == "team" and event.changes["note"] == "why"
    count = _plan_events(tenant_a).count()
    # Already on it: nothing changes, nothing recorded.
    services.tenant_plan_set(actor=SYSTEM, tenant_id=tenant_a.pk, plan_id=team.pk)
    assert _plan_events(tenant_a).count() == count


def test_a_workspace_user_cannot_set_the_plan_nor_an_unknown_one(tenant_a, owner_a):
    before = Tenant.objects.get(pk=tenant_a.pk).plan_id
    business = Plan.objects.get(code="business")
    with pytest.raises(PermissionDenied):
        services.tenant_plan_set(actor=owner_a, tenant_id=tenant_a.pk, plan_id=business.pk)
    with pytest.raises(ValidationError):
        services.tenant_plan_set(actor=SYSTEM, tenant_id=tenant_a.pk, plan_id=-1)
    assert Tenant.objects.get(pk=tenant_a.pk).plan_id == before


def test_billing_changes_the_plan_through_tenants(tenant_a):
    staff = get_user_model().objects.create_user(
        "billing@vendor.test", "x", is_staff=True, vendor_role="billing"
    )
    until = timezone.now() + timedelta(days=10)
    billing_services.plan_comp(
        actor=staff, tenant_id=tenant_a.pk, plan_code="business", until=until,
        reason="partner",
    )  # fmt: skip
    assert Tenant.objects.get(pk=tenant_a.pk).plan.code == "business"
    event = _plan_events(tenant_a).latest("pk")
    assert event.changes["plan_after"] == "business"
    assert event.actor_type == "system" and event.changes["note"].startswith("billing, for")
