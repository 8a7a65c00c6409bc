"""Two admins take the last seat at the same moment: one wins, the limit holds, and the
ledger and the subscription's quantity agree with what is in use."""

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts import services as staff
from billing import gateway, services
from billing.models import BillingAccount, SeatLedgerEntry
from core.principal import SYSTEM
from tests.accounts.helpers import make_user
from tests.accounts.live import committed_workspace, reset_staff

from .helpers import subscribe


@pytest.mark.django_db(transaction=True)
def test_two_admins_cannot_overshoot_the_seat_limit(plans):
    tenant = committed_workspace("seatrace", "Seat Race")
    reset_staff(tenant)
    owner = make_user(tenant, "o2@seatrace.test", role="owner")
    admin = make_user(tenant, "admin@seatrace.test", role="admin")
    subscribe(owner, tenant, plan="team")  # 25 seats
    for n in range(21):
        make_user(tenant, f"m{n}@seatrace.test")
    with schema_context(tenant.schema_name):
        staff.staff_invite(actor=owner, emails=["warmup@seatrace.test"], role="member")
    # 3 + 21 + 1 pending = 25 in use: the limit. One revocation frees exactly one seat.
    with schema_context(tenant.schema_name):
        from accounts.models import Invitation

        staff.invitation_revoke(actor=owner, invitation=Invitation.objects.get())
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def invite(actor, email) -> None:
        try:
            with schema_context(tenant.schema_name):
                barrier.wait(timeout=5)
                staff.staff_invite(actor=actor, emails=[email], role="member")
            outcomes.append("invited")
        except ValidationError:
            outcomes.append("refused")
        except Exception as error:  # reported by the assertion below
            outcomes.append(repr(error))
        finally:
            connection.close()

    threads = [
        threading.Thread(target=invite, args=(owner, "x@seatrace.test")),
        threading.Thread(target=invite, args=(admin, "y@seatrace.test")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["invited", "refused"]
    account = BillingAccount.objects.get(tenant_id=tenant.pk)
    assert account.seats_in_use == 25
    last = SeatLedgerEntry.objects.filter(account=account).latest("pk")
    assert (last.seats_before, last.seats_after) == (24, 25)
    BillingAccount.objects.filter(pk=account.pk).update(
        seats_push_due_at=timezone.now() - timedelta(seconds=1)
    )
    services.deadlines_enforce(actor=SYSTEM)
    sub = gateway.subscription_get(subscription_id=account.stripe_subscription_id)
    assert sub["quantity"] == 25
    reset_staff(tenant)
