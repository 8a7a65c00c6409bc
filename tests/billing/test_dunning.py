"""Trial expiry, a failed renewal, the grace period and cancellation make a workspace
read-only; paying lifts it at once. Data is always kept."""

import json
import urllib.parse
import urllib.request
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from accounts.services import staff_invite
from audit.models import AuditEvent
from billing import gateway, services
from billing.models import BillingAccount
from core.access import WorkspaceReadOnlyError
from core.principal import SYSTEM
from tenants.models import Tenant

from .helpers import GOOD_CARD, THREE_DS_CARD, account, confirmed_intent, subscribe


def _emulator(method: str, path: str, data: dict | None = None) -> dict:
    body = urllib.parse.urlencode(data or {}).encode() if method == "POST" else None
    request = urllib.request.Request(  # noqa: S310 - the emulator on loopback
        f"{settings.STRIPE_API_BASE}{path}",
        data=body,
        method=method,
        headers={"Authorization": f"Bearer {settings.STRIPE_SECRET_KEY}"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
        return json.loads(response.read())


def fail_renewal(tenant) -> str:
    """A renewal invoice charged to a card that needs 3-D Secure, the authentication
    failed: Stripe puts the subscription past_due. Returns the invoice id."""
    acc = account(tenant)
    method = gateway.card_payment_method_create(
        number=THREE_DS_CARD, exp_month=12, exp_year=2035, cvc="123"
    )
    gateway.payment_method_make_default(
        customer_id=acc.stripe_customer_id, payment_method_id=method
    )
    invoice = gateway.invoice_create_and_pay(
        customer_id=acc.stripe_customer_id, subscription_id=acc.stripe_subscription_id
    )
    intent = _emulator("GET", f"/v1/payment_intents/{invoice['payment_intent']}")
    _emulator(
        "POST",
        f"/v1/payment_intents/{intent['id']}/_authenticate",
        {"client_secret": intent["client_secret"], "success": "false"},
    )
    assert gateway.subscription_get(subscription_id=acc.stripe_subscription_id)["status"] == (
        "past_due"
    )
    return invoice["id"]


def reasons(tenant) -> list[str]:
    return list(Tenant.objects.get(pk=tenant.pk).read_only_reasons)


def test_trial_expiry_makes_the_workspace_read_only_and_keeps_its_data(tenant_a, owner_a):
    services.account_ensure(tenant_id=tenant_a.pk)
    services.deadlines_enforce(actor=SYSTEM)
    assert reasons(tenant_a) == []
    BillingAccount.objects.filter(tenant_id=tenant_a.pk).update(
        trial_ends_at=timezone.now() - timedelta(minutes=1)
    )
    services.deadlines_enforce(actor=SYSTEM)
    assert reasons(tenant_a) == ["trial_ended"]
    fresh = Tenant.objects.get(pk=tenant_a.pk)
    with tenant_context(fresh), pytest.raises(WorkspaceReadOnlyError) as refused:
        staff_invite(actor=owner_a, emails=["new@alpha.test"], role="member")
    assert "free trial has ended" in str(refused.value)
    # The owner can still reach billing and start paying.
    with tenant_context(fresh):
        assert services.card_setup_begin(actor=owner_a)["client_secret"]
    assert AuditEvent.objects.filter(action="tenant.access_restricted").exists()


def test_trial_extension_by_the_vendor_lifts_trial_ended(tenant_a):
    services.account_ensure(tenant_id=tenant_a.pk)
    BillingAccount.objects.filter(tenant_id=tenant_a.pk).update(
        trial_ends_at=timezone.now() - timedelta(minutes=1)
    )
    services.deadlines_enforce(actor=SYSTEM)
    assert reasons(tenant_a) == ["trial_ended"]
    with pytest.raises(Exception) as no_reason:
        services.trial_extend(
            actor=SYSTEM, tenant_id=tenant_a.pk, until=timezone.now() + timedelta(days=7),
            reason=" ",
        )  # fmt: skip
    assert "reason" in str(no_reason.value).lower()
    services.trial_extend(
        actor=SYSTEM, tenant_id=tenant_a.pk, until=timezone.now() + timedelta(days=7),
        reason="sales call on Monday",
    )  # fmt: skip
    assert reasons(tenant_a) == []
    event = AuditEvent.objects.filter(action="billing.trial_extended").latest("pk")
    assert event.changes["reason"] == "sales call on Monday"


def test_subscribing_after_the_trial_ended_lifts_read_only_at_once(plans, tenant_a, owner_a):
    services.account_ensure(tenant_id=tenant_a.pk)
    BillingAccount.objects.filter(tenant_id=tenant_a.pk).update(
        trial_ends_at=timezone.now() - timedelta(minutes=1)
    )
    services.deadlines_enforce(actor=SYSTEM)
    assert reasons(tenant_a) == ["trial_ended"]
    subscribe(owner_a, tenant_a)  # owners can always reach billing
    assert reasons(tenant_a) == []


def test_dunning_emails_owners_then_read_only_after_grace_and_paying_restores(
    plans, tenant_a, owner_a, django_capture_on_commit_callbacks
):
    subscribe(owner_a, tenant_a)
    fail_renewal(tenant_a)
    with schema_context(tenant_a.schema_name):  # every owner is told, in their language
        get_user_model().objects.create_user(
            "second-owner@alpha.test", "Pw-second-owner-1", role="owner", language="de"
        )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.account_sync(actor=SYSTEM, tenant_id=tenant_a.pk)
    acc = account(tenant_a)
    assert acc.status == "past_due" and acc.past_due_since is not None
    assert reasons(tenant_a) == []  # the grace period runs
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [owner_a.email, "second-owner@alpha.test"]
    )
    english, german = sorted(mail.outbox, key=lambda m: m.to[0] != owner_a.email)
    assert "/settings/billing/" in english.body and english.subject != german.subject
    BillingAccount.objects.filter(tenant_id=tenant_a.pk).update(
        past_due_since=timezone.now() - timedelta(days=settings.BILLING_GRACE_DAYS, minutes=1)
    )
    services.deadlines_enforce(actor=SYSTEM)
    assert reasons(tenant_a) == ["payment_overdue"]
    # The owner fixes the card: the open invoice is paid and access returns at once.
    intent = confirmed_intent(owner_a, tenant_a, GOOD_CARD)
    with schema_context(tenant_a.schema_name):
        services.card_change(actor=owner_a, setup_intent_id=intent)
    acc = account(tenant_a)
    assert (acc.status, acc.past_due_since) == ("active", None)
    assert reasons(tenant_a) == []
    actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert "billing.payment_failed" in actions and "tenant.access_restored" in actions


def test_cancel_makes_the_workspace_read_only_with_data_kept(plans, tenant_a, owner_a):
    from tests.accounts.helpers import make_user

    make_user(tenant_a, "kept@alpha.test")
    subscribe(owner_a, tenant_a)
    gateway.subscription_cancel_now(subscription_id=account(tenant_a).stripe_subscription_id)
    services.account_sync(actor=SYSTEM, tenant_id=tenant_a.pk)
    assert account(tenant_a).status == "canceled"
    assert reasons(tenant_a) == ["subscription_canceled"]
    from django.contrib.auth import get_user_model

    with schema_context(tenant_a.schema_name):
        assert get_user_model().objects.filter(email="kept@alpha.test").exists()


def test_a_comp_gives_full_access_until_it_ends(tenant_a):
    services.account_ensure(tenant_id=tenant_a.pk)
    BillingAccount.objects.filter(tenant_id=tenant_a.pk).update(
        trial_ends_at=timezone.now() - timedelta(minutes=1)
    )
    services.plan_comp(
        actor=SYSTEM, tenant_id=tenant_a.pk, plan_code="business",
        until=timezone.now() + timedelta(days=30), reason="partner programme",
    )  # fmt: skip
    services.deadlines_enforce(actor=SYSTEM)
    assert reasons(tenant_a) == [] and account(tenant_a).plan.code == "business"
    BillingAccount.objects.filter(tenant_id=tenant_a.pk).update(
        comp_until=timezone.now() - timedelta(minutes=1)
    )
    services.deadlines_enforce(actor=SYSTEM)
    assert reasons(tenant_a) == ["trial_ended"] and account(tenant_a).plan.code == "trial"


def test_reconciliation_repairs_a_missed_webhook_and_reports_drift(plans, tenant_a, owner_a):
    subscribe(owner_a, tenant_a)
    acc = account(tenant_a)
    sub = gateway.subscription_get(subscription_id=acc.stripe_subscription_id)
    gateway.subscription_update(subscription_id=sub["id"], item_id=sub["item_id"], quantity=7)
    result = services.reconcile_all(actor=SYSTEM)
    assert result["drift"] >= 1 and result["errors"] == 0
    assert account(tenant_a).seats_billed == 7
    # Our ledger is the truth about seats: the next sweep pushes it back.
    assert services.deadlines_enforce(actor=SYSTEM)["seats_pushed"] == 1
    assert gateway.subscription_get(subscription_id=sub["id"])["quantity"] == 1
    assert services.reconcile_all(actor=SYSTEM)["drift"] == 0
