"""Billing in the console: the fleet filters and searches on billing, and a billing vendor
extends a trial or gives a plan free of charge, through billing's services, recorded in
the platform's chain and in the workspace's."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

import console.services as console
from billing.models import BillingAccount
from billing.services import account_ensure
from tests.audit.helpers import capture_audit

from .conftest import make_vendor


@pytest.fixture
def trial_a(tenant_a):
    return account_ensure(tenant_id=tenant_a.pk)


def test_a_billing_vendor_extends_a_trial_from_the_workspace_page(
    vendor_factory, tenant_a, trial_a
):
    _user, client = vendor_factory("billing")
    page = client.get(f"/console/w/{tenant_a.pk}/")
    assert page.status_code == 200 and b"Set the trial" in page.content
    until = (timezone.now() + timedelta(days=40)).date()
    with capture_audit() as events:
        response = client.post(
            f"/console/w/{tenant_a.pk}/billing/trial/",
            {"trial-until": until.isoformat(), "trial-reason": "Pilot, ticket 77"},
        )
    assert response.status_code == 302
    account = BillingAccount.objects.get(tenant_id=tenant_a.pk)
    assert account.trial_ends_at.date() == until
    recorded = {(e.action, e.chain) for e in events}
    assert ("billing.trial_extended", tenant_a.schema_name) in recorded
    assert ("console.trial_extended", "") in recorded


def test_a_comp_puts_the_workspace_on_the_plan_until_the_date(vendor_factory, tenant_a, trial_a):
    _user, client = vendor_factory("billing")
    until = (timezone.now() + timedelta(days=90)).date()
    client.post(
        f"/console/w/{tenant_a.pk}/billing/comp/",
        {"comp-plan": "business", "comp-until": until.isoformat(), "comp-reason": "Partner"},
    )
    account = BillingAccount.objects.select_related("plan").get(tenant_id=tenant_a.pk)
    assert account.plan.code == "business" and account.comp_until.date() == until
    tenant_a.refresh_from_db()
    assert tenant_a.plan.code == "business"


def test_billing_actions_need_the_billing_role_in_the_service_and_a_reason(tenant_a, trial_a):
    support = make_vendor("support")
    until = timezone.now() + timedelta(days=30)
    before = BillingAccount.objects.get(tenant_id=tenant_a.pk).trial_ends_at
    with pytest.raises(PermissionDenied):
        console.workspace_trial_extend(
            actor=support, tenant_id=tenant_a.pk, until=until, reason="because"
        )
    billing_vendor = make_vendor("billing")
    with pytest.raises(Exception, match="reason"):
        console.workspace_plan_comp(
            actor=billing_vendor, tenant_id=tenant_a.pk, plan_code="team", until=until, reason=" "
        )
    assert BillingAccount.objects.get(tenant_id=tenant_a.pk).trial_ends_at == before


def test_a_support_vendor_sees_no_billing_actions(vendor_factory, tenant_a, trial_a):
    _user, client = vendor_factory("support")
    page = client.get(f"/console/w/{tenant_a.pk}/")
    assert b"Set the trial" not in page.content
    refused = client.post(
        f"/console/w/{tenant_a.pk}/billing/trial/",
        {"trial-until": "2030-01-01", "trial-reason": "x"},
    )
    assert refused.status_code == 403


def test_the_fleet_filters_on_billing_and_finds_a_stripe_customer(
    vendor_factory, tenant_a, tenant_b, trial_a
):
    account_ensure(tenant_id=tenant_b.pk)
    BillingAccount.objects.filter(tenant_id=tenant_b.pk).update(
        status=BillingAccount.Status.PAST_DUE, stripe_customer_id="cus_beta123"
    )
    _user, client = vendor_factory("viewer")
    overdue = client.get("/console/", {"billing_status": "past_due"}).content.decode()
    assert "beta" in overdue and "alpha" not in overdue
    found = client.get("/console/", {"q": "cus_beta123"}).content.decode()
    assert "beta" in found and "alpha" not in found
    BillingAccount.objects.filter(tenant_id=tenant_a.pk).update(
        trial_ends_at=timezone.now() + timedelta(days=2)
    )
    ending = client.get("/console/", {"trial_ending": "on"}).content.decode()
    assert "alpha" in ending and "beta" not in ending
