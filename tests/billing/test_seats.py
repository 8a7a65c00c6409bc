"""Seats follow staff: a ledger entry per change, one Stripe update per burst, serialised
per workspace, and kept while Stripe is away."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.services import staff_deactivate, staff_invite, staff_reactivate
from billing import gateway, services
from billing.models import AppendOnlyError, BillingAccount, SeatLedgerEntry
from core.principal import SYSTEM
from tests.accounts.helpers import make_user

from .helpers import account, subscribe


def _due_now(tenant) -> None:
    BillingAccount.objects.filter(tenant_id=tenant.pk).update(
        seats_push_due_at=timezone.now() - timedelta(seconds=1)
    )


def _stripe_quantity(tenant) -> int:
    return gateway.subscription_get(subscription_id=account(tenant).stripe_subscription_id)[
        "quantity"
    ]


def test_staff_changes_are_in_the_ledger_and_a_burst_is_one_stripe_update(
    plans, tenant_a, owner_a, monkeypatch
):
    member = make_user(tenant_a, "d@alpha.test")
    subscribe(owner_a, tenant_a)
    assert _stripe_quantity(tenant_a) == 2
    updates = []
    real_update = gateway.subscription_update
    monkeypatch.setattr(
        gateway, "subscription_update", lambda **kw: updates.append(kw) or real_update(**kw)
    )
    with schema_context(tenant_a.schema_name):
        staff_invite(actor=owner_a, emails=["a@alpha.test", "b@alpha.test"], role="member")
        staff_invite(actor=owner_a, emails=["c@alpha.test"], role="member")
        staff_deactivate(actor=owner_a, user=member)
        # Inside the debounce window nothing is pushed.
        assert services.seats_push(actor=SYSTEM, tenant_id=tenant_a.pk) is False
    assert updates == []
    ledger = list(SeatLedgerEntry.objects.filter(account__tenant_id=tenant_a.pk))
    assert [(e.seats_before, e.seats_after) for e in ledger][-3:] == [(2, 4), (4, 5), (5, 4)]
    assert ledger[-1].actor == owner_a.email and ledger[-1].reason == "staff.deactivated"
    _due_now(tenant_a)
    assert services.deadlines_enforce(actor=SYSTEM)["seats_pushed"] == 1
    assert len(updates) == 1 and _stripe_quantity(tenant_a) == 4
    acc = account(tenant_a)
    assert (acc.seats_billed, acc.seats_in_use, acc.seats_push_due_at) == (4, 4, None)
    # Nothing left to do: no second update.
    assert services.deadlines_enforce(actor=SYSTEM)["seats_pushed"] == 0
    assert len(updates) == 1


def test_reactivating_staff_follows_too(plans, tenant_a, owner_a):
    member = make_user(tenant_a, "m@alpha.test")
    subscribe(owner_a, tenant_a)
    with schema_context(tenant_a.schema_name):
        staff_deactivate(actor=owner_a, user=member)
        staff_reactivate(actor=owner_a, user=member)
    assert account(tenant_a).seats_in_use == 2
    _due_now(tenant_a)
    # 2 -> 1 -> 2: the same as billed, so no update is needed at all.
    assert services.seats_push(actor=SYSTEM, tenant_id=tenant_a.pk) is False
    assert _stripe_quantity(tenant_a) == 2


def test_the_ledger_is_append_only(plans, tenant_a, owner_a):
    with schema_context(tenant_a.schema_name):
        staff_invite(actor=owner_a, emails=["a@alpha.test"], role="member")
    entry = SeatLedgerEntry.objects.filter(account__tenant_id=tenant_a.pk).latest("pk")
    entry.seats_after = 99
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()


def test_seat_changes_while_stripe_is_down_are_kept_and_pushed_when_it_is_back(
    plans, tenant_a, owner_a, settings
):
    subscribe(owner_a, tenant_a)
    with schema_context(tenant_a.schema_name):
        staff_invite(actor=owner_a, emails=["a@alpha.test", "b@alpha.test"], role="member")
    _due_now(tenant_a)
    up = settings.STRIPE_API_BASE
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    with pytest.raises(gateway.GatewayError):
        services.seats_push(actor=SYSTEM, tenant_id=tenant_a.pk)
    assert services.deadlines_enforce(actor=SYSTEM)["seats_failed"] == 1
    acc = account(tenant_a)
    assert (acc.seats_in_use, acc.seats_billed, acc.seats_push_attempts) == (3, 1, 2)
    assert acc.seats_push_due_at is not None
    settings.STRIPE_API_BASE = up
    assert services.deadlines_enforce(actor=SYSTEM)["seats_pushed"] == 1
    assert _stripe_quantity(tenant_a) == 3


def test_trial_workspaces_keep_a_ledger_but_push_nothing(plans, tenant_a, owner_a):
    with schema_context(tenant_a.schema_name):
        staff_invite(actor=owner_a, emails=["a@alpha.test"], role="member")
    _due_now(tenant_a)
    assert services.seats_push(actor=SYSTEM, tenant_id=tenant_a.pk) is False
    acc = account(tenant_a)
    assert acc.seats_in_use == 2 and acc.seats_push_due_at is None
