"""Workspace read-only mode (billing's dunning, the vendor's freeze): every write service
of every package's face refuses it, except the few a read-only workspace still needs,
and the reason travels with the routing cache to the pages."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context, tenant_context

from audit.models import AuditEvent
from core.access import WorkspaceReadOnlyError, read_only_reasons
from core.principal import SYSTEM
from tenants.models import Tenant
from tenants.services import tenant_restrict, tenant_unrestrict
from tests.audit.helpers import capture_audit
from tests.test_principal import WRITES

# The writes a read-only workspace still allows, and why: everyone can still sign in,
# keep their own account secure, and admins can lock a departed person out.
ALLOWED_IN_READ_ONLY = {
    "session_track": "signing in",
    "session_forget": "signing out",
    "session_revoke": "ending one's own session",
    "sessions_revoke_others": "ending one's own sessions",
    "second_factor_verify": "signing in",
    "lockout_record": "brute-force protection on sign-in",
    "password_reset_request": "signing in after a forgotten password",
    "password_reset_complete": "signing in after a forgotten password",
    "password_change": "one's own credentials",
    "totp_device_setup": "two-factor enrolment a policy may require to sign in",
    "totp_enable": "two-factor enrolment a policy may require to sign in",
    "recovery_codes_regenerate": "one's own credentials",
    "two_factor_disable": "one's own credentials",
    "staff_unlock": "letting a locked-out person sign in",
    "staff_reset_two_factor": "letting a person who lost their phone sign in",
    "staff_deactivate": "locking a departed person out",
    "support_policy_update": "withdrawing consent to vendor support access",
    "export_request": "an owner takes the workspace's data out (portability)",
    # Billing: an owner can always reach billing and fix the payment (billing/README.md).
    "card_setup_begin": "entering a card to pay",
    "subscription_start": "paying",
    "card_change": "fixing the payment",
    "plan_change": "choosing a plan that fits, to pay",
    "subscription_cancel": "deciding about the subscription",
    "subscription_resume": "deciding about the subscription",
    "seats_record": "the seat ledger following an allowed staff change (deactivation)",
    "app_revoke": "ending an integration's access",
    "authorization_revoke": "withdrawing an app's access to one's own account",
}

REFUSING = [
    param for param in WRITES if not getattr(param.values[0], "__read_only_workspace_ok__", False)
]


def _read_only(tenant: Tenant, reason: str = "payment_overdue") -> Tenant:
    tenant.read_only_reasons = [reason]
    return tenant


def test_the_writes_allowed_in_a_read_only_workspace_are_exactly_the_named_ones():
    allowed = {
        param.values[0].__name__
        for param in WRITES
        if getattr(param.values[0], "__read_only_workspace_ok__", False)
    }
    assert allowed == set(ALLOWED_IN_READ_ONLY)
    assert len(REFUSING) >= 25


@pytest.mark.parametrize("service", REFUSING)
def test_every_write_service_refuses_a_read_only_workspace(service, tenant_a, owner_a):
    before = AuditEvent.objects.count()
    with (
        tenant_context(_read_only(tenant_a)),
        capture_audit() as events,
        pytest.raises(WorkspaceReadOnlyError) as refused,
    ):
        service(actor=owner_a)
    assert "read-only" in str(refused.value) and "overdue" in str(refused.value)
    assert events == [] and AuditEvent.objects.count() == before


def test_the_system_still_works_in_a_read_only_workspace(tenant_a):
    # A scan finishing, a purge, billing's own bookkeeping: not the users' writes.
    from uploads.services import documents_purge_expired

    with tenant_context(_read_only(tenant_a)):
        assert read_only_reasons() == ("payment_overdue",)
        documents_purge_expired(actor=SYSTEM)


def test_only_the_platform_restricts_and_only_known_reasons(tenant_a, owner_a):
    with pytest.raises(PermissionDenied):
        tenant_restrict(actor=owner_a, tenant_id=tenant_a.pk, reason="vendor_freeze")
    with pytest.raises(ValidationError):
        tenant_restrict(actor=SYSTEM, tenant_id=tenant_a.pk, reason="because")
    tenant_a.refresh_from_db()
    assert tenant_a.read_only_reasons == []


def test_restrict_and_lift_are_audited_in_both_chains_and_reasons_stack(tenant_a):
    with capture_audit() as events:
        tenant_restrict(actor=SYSTEM, tenant_id=tenant_a.pk, reason="payment_overdue")
        tenant_restrict(actor=SYSTEM, tenant_id=tenant_a.pk, reason="vendor_freeze", note="T-1")
        tenant_restrict(actor=SYSTEM, tenant_id=tenant_a.pk, reason="vendor_freeze")  # no-op
        tenant_unrestrict(actor=SYSTEM, tenant_id=tenant_a.pk, reason="payment_overdue")
    tenant_a.refresh_from_db()
    assert tenant_a.read_only_reasons == ["vendor_freeze"]
    chains = [(e.action, e.chain) for e in events]
    assert chains == [
        ("tenant.access_restricted", tenant_a.schema_name),
        ("tenant.access_restricted", ""),
        ("tenant.access_restricted", tenant_a.schema_name),
        ("tenant.access_restricted", ""),
        ("tenant.access_restored", tenant_a.schema_name),
        ("tenant.access_restored", ""),
    ]
    assert events[2].changes["note"] == "T-1"
    assert events[4].changes["read_only_reasons"] == {
        "before": ["payment_overdue", "vendor_freeze"], "after": ["vendor_freeze"],
    }  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_pages_show_why_and_refuse_writes_and_the_check_costs_no_query(tenant_a, owner_client_a):
    from django.db import connection

    tenant_restrict(actor=SYSTEM, tenant_id=tenant_a.pk, reason="trial_ended")
    page = owner_client_a.get("/")
    assert page.status_code == 200
    assert "This workspace is read-only." in page.content.decode()
    assert "free trial has ended" in page.content.decode()

    refused = owner_client_a.post("/settings/security/", {"require_2fa": "on"})
    assert refused.status_code == 403
    assert "read-only" in refused.content.decode()
    with schema_context(tenant_a.schema_name):
        from accounts.selectors import workspace_policy

        assert workspace_policy().require_2fa is False

    # The reasons come with the cached route: a second request reads no tenant row.
    owner_client_a.get("/")
    with CaptureQueriesContext(connection) as queries:
        owner_client_a.get("/")
    routing_reads = ('FROM "tenants_domain"', 'FROM "tenants_tenant"')
    assert not [q for q in queries if any(r in q["sql"] for r in routing_reads)]

    tenant_unrestrict(actor=SYSTEM, tenant_id=tenant_a.pk, reason="trial_ended")
    assert "This workspace is read-only." not in owner_client_a.get("/").content.decode()
