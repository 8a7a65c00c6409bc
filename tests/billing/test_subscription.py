"""Subscribing, changing plan and card, canceling and resuming against the emulator."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django_tenants.utils import schema_context

from audit.models import AuditEvent
from billing import gateway, services
from billing.gateway import CardDeclined
from billing.models import BillingAccount, Price
from billing.selectors import plan_for
from tests.accounts.helpers import make_user

from .helpers import DECLINED_CARD, GOOD_CARD, account, confirmed_intent, subscribe


def test_sync_plans_is_idempotent_and_creates_every_price_in_stripe(plans):
    first = dict(Price.objects.values_list("pk", "stripe_price_id"))
    assert all(first.values()) and len(first) == 4
    services.plans_sync(actor=__import__("core.principal").principal.SYSTEM)
    assert dict(Price.objects.values_list("pk", "stripe_price_id")) == first
    for price in Price.objects.select_related("plan"):
        stripe_price = gateway.price_ensure(
            price_id=price.stripe_price_id,
            product_id=price.plan.stripe_product_id,
            unit_amount=1,  # ignored: the price exists
            currency=price.currency,
            interval=price.interval,
        )
        assert stripe_price["amount"] == price.unit_amount


def test_a_new_workspace_is_on_a_trial_of_14_days(tenant_a):
    acc = services.account_ensure(tenant_id=tenant_a.pk)
    assert acc.status == "trialing" and acc.plan.code == "trial"
    assert (acc.trial_ends_at - tenant_a.created_at).days == 14


def test_subscribe_with_a_good_card_is_active_with_quantity_equal_to_seats(
    plans, tenant_a, owner_a
):
    make_user(tenant_a, "member@alpha.test")
    acc = subscribe(owner_a, tenant_a, plan="team", interval="year")
    assert (acc.status, acc.plan.code, acc.interval) == ("active", "team", "year")
    assert acc.seats_in_use == 2
    stripe_sub = gateway.subscription_get(subscription_id=acc.stripe_subscription_id)
    assert (stripe_sub["status"], stripe_sub["quantity"]) == ("active", 2)
    assert (acc.card_brand, acc.card_last4) == ("visa", GOOD_CARD[-4:])
    assert plan_for(tenant_a).code == "team"  # the limits apply at once
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"billing.customer_created", "billing.subscription_started",
            "billing.card_changed"} <= actions  # fmt: skip


def test_a_declined_card_changes_nothing(plans, tenant_a, owner_a):
    with pytest.raises(CardDeclined) as declined:
        confirmed_intent(owner_a, tenant_a, DECLINED_CARD)
    assert "declined" in str(declined.value)
    acc = account(tenant_a)
    assert (acc.status, acc.plan.code, acc.stripe_subscription_id) == ("trialing", "trial", "")
    assert gateway.subscriptions_of(customer_id=acc.stripe_customer_id) == []


def test_an_unconfirmed_setup_intent_subscribes_nobody(plans, tenant_a, owner_a):
    with schema_context(tenant_a.schema_name):
        intent = services.card_setup_begin(actor=owner_a)
        with pytest.raises(ValidationError):
            services.subscription_start(
                actor=owner_a, plan_code="team", interval="month", setup_intent_id=intent["id"]
            )
    assert account(tenant_a).stripe_subscription_id == ""


def test_another_workspaces_setup_intent_is_refused(plans, tenant_a, owner_a, tenant_b):
    from tests.conftest import user_of

    owner_b = user_of(tenant_b, "owner@beta.test")
    theirs = confirmed_intent(owner_b, tenant_b)
    with schema_context(tenant_a.schema_name), pytest.raises(PermissionDenied):
        services.card_setup_begin(actor=owner_a)
        services.subscription_start(
            actor=owner_a, plan_code="team", interval="month", setup_intent_id=theirs
        )


def test_only_owners_manage_billing(plans, tenant_a):
    admin = make_user(tenant_a, "admin@alpha.test", role="admin")
    with schema_context(tenant_a.schema_name), pytest.raises(PermissionDenied):
        services.card_setup_begin(actor=admin)


def test_unknown_plan_is_refused_clearly(plans, tenant_a, owner_a):
    intent = confirmed_intent(owner_a, tenant_a)
    with schema_context(tenant_a.schema_name), pytest.raises(ValidationError) as refused:
        services.subscription_start(
            actor=owner_a, plan_code="trial", interval="month", setup_intent_id=intent
        )
    assert "plans offered" in str(refused.value)


def test_change_plan_up_and_down_and_refusal_below_usage(plans, tenant_a, owner_a):
    for n in range(5):
        make_user(tenant_a, f"m{n}@alpha.test")
    subscribe(owner_a, tenant_a, plan="business")
    with schema_context(tenant_a.schema_name):
        acc = services.plan_change(actor=owner_a, plan_code="team", interval="year")
        assert (acc.plan.code, acc.interval) == ("team", "year")
        stripe_sub = gateway.subscription_get(subscription_id=acc.stripe_subscription_id)
        assert (
            stripe_sub["price_id"]
            == Price.objects.get(plan__code="team", interval="year").stripe_price_id
        )
        # Team allows 25 seats: 26 in use refuses the downgrade with the numbers.
        for n in range(20):
            make_user(tenant_a, f"x{n}@alpha.test")
        services.plan_change(actor=owner_a, plan_code="business", interval="month")
        with pytest.raises(ValidationError) as refused:
            services.plan_change(actor=owner_a, plan_code="team", interval="month")
    assert "26 seats are in use" in str(refused.value)
    assert account(tenant_a).plan.code == "business"


def test_cancel_at_period_end_and_resume(plans, tenant_a, owner_a):
    subscribe(owner_a, tenant_a)
    with schema_context(tenant_a.schema_name):
        acc = services.subscription_cancel(actor=owner_a)
        assert acc.cancel_at_period_end and acc.status == "active"
        assert gateway.subscription_get(subscription_id=acc.stripe_subscription_id)[
            "cancel_at_period_end"
        ]
        acc = services.subscription_resume(actor=owner_a)
    assert not acc.cancel_at_period_end
    assert not gateway.subscription_get(subscription_id=acc.stripe_subscription_id)[
        "cancel_at_period_end"
    ]


def test_change_the_card(plans, tenant_a, owner_a):
    subscribe(owner_a, tenant_a)
    intent = confirmed_intent(owner_a, tenant_a, "5555555555554444")
    with schema_context(tenant_a.schema_name):
        acc = services.card_change(actor=owner_a, setup_intent_id=intent)
    assert acc.card_last4 == "4444"  # the emulator calls every card a visa
    assert gateway.default_card(customer_id=acc.stripe_customer_id)["last4"] == "4444"


def test_stripe_down_fails_with_a_clear_message_and_changes_nothing(
    plans, tenant_a, owner_a, settings
):
    mark = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens on the discard port
    with schema_context(tenant_a.schema_name), pytest.raises(gateway.GatewayError) as down:
        services.card_setup_begin(actor=owner_a)
    assert "cannot be reached" in str(down.value)
    assert (
        not BillingAccount.objects.filter(tenant_id=tenant_a.pk)
        .exclude(stripe_customer_id=None)
        .exists()
    )
    assert not AuditEvent.objects.filter(pk__gt=mark, action="billing.customer_created").exists()


def test_sync_plans_command(stripe_emulator, db):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("sync_plans", stdout=out)
    assert out.getvalue().strip() == "4 prices in sync with Stripe"
    assert AuditEvent.objects.filter(action="billing.plans_synced").exists()
