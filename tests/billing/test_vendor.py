"""What the vendor console calls: trial extension and comps (vendor role ``billing``,
reason required, audited) and the fleet's billing summaries."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from audit.models import AuditEvent
from billing import selectors, services


def vendor(role: str):
    return get_user_model().objects.create_user(
        f"{role}@vendor.test", "x", is_staff=True, vendor_role=role
    )


@pytest.mark.parametrize("role", ["viewer", "support"])
def test_only_billing_vendors_extend_trials_or_comp_plans(tenant_a, owner_a, role):
    mark = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    until = timezone.now() + timedelta(days=30)
    for actor in (vendor(role), owner_a):
        with pytest.raises(PermissionDenied):
            services.trial_extend(actor=actor, tenant_id=tenant_a.pk, until=until, reason="x")
        with pytest.raises(PermissionDenied):
            services.plan_comp(
                actor=actor, tenant_id=tenant_a.pk, plan_code="team", until=until, reason="x"
            )
    refused = ["billing.trial_extended", "billing.plan_comped"]
    assert not AuditEvent.objects.filter(pk__gt=mark, action__in=refused).exists()


def test_a_billing_vendor_extends_and_comps_with_a_reason(tenant_a):
    staff = vendor("billing")
    until = timezone.now() + timedelta(days=40)
    services.trial_extend(actor=staff, tenant_id=tenant_a.pk, until=until, reason="pilot")
    services.plan_comp(
        actor=staff, tenant_id=tenant_a.pk, plan_code="business", until=until, reason="partner"
    )
    summary = selectors.billing_summary(tenant_a.pk)
    assert (summary.plan_code, summary.status, summary.trial_ends_at) == (
        "business", "trialing", until,
    )  # fmt: skip
    assert summary.comp_until == until
    event = AuditEvent.objects.filter(action="billing.plan_comped").latest("pk")
    assert (event.actor_type, event.changes["reason"]) == ("vendor", "partner")


def test_fleet_summaries_in_one_query(tenant_a, tenant_b, django_assert_num_queries):
    services.account_ensure(tenant_id=tenant_a.pk)
    services.account_ensure(tenant_id=tenant_b.pk)
    with django_assert_num_queries(1):
        summaries = selectors.billing_summaries([tenant_a.pk, tenant_b.pk])
    assert set(summaries) == {tenant_a.pk, tenant_b.pk}
    assert summaries[tenant_a.pk].seats_in_use >= 0 and summaries[tenant_a.pk].customer_id == ""
