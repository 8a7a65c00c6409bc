"""In a real browser: the card page confirms a SetupIntent with Stripe.js (the emulator's
copy); a declined card shows Stripe's message and changes nothing, a good one subscribes."""

import pytest

from billing import services
from billing.models import BillingAccount
from core.principal import SYSTEM
from tests.accounts.live import committed_workspace, reset_staff
from tests.billing.conftest import stripe_emulator  # noqa: F401 - the fixture
from tests.browser.helpers import signed_in_page

pytestmark = pytest.mark.browser


def _fill_card(page, number: str) -> None:
    page.fill("#card-element input[placeholder=number]", number)
    page.fill("#card-element input[placeholder=exp_month]", "12")
    page.fill("#card-element input[placeholder=exp_year]", "35")
    page.fill("#card-element input[placeholder=cvc]", "123")
    page.fill("#card-element input[placeholder=postal_code]", "10115")


def test_card_page_declined_then_subscribed(
    live_base,
    chromium_browser,
    django_db_blocker,
    stripe_emulator,  # noqa: F811
):
    with django_db_blocker.unblock():
        tenant = committed_workspace("cardco", "Card Co")
        reset_staff(tenant)
        services.plans_sync(actor=SYSTEM)
    base = f"http://{tenant.slug}.localhost:{live_base}"
    errors: list[str] = []
    page = signed_in_page(chromium_browser, base, f"owner@{tenant.slug}.test", errors)

    page.goto(f"{base}/settings/billing/card/?plan=team&interval=month")
    page.wait_for_selector("#card-element input[placeholder=number]")
    _fill_card(page, "4000000000000002")
    page.click("#card-submit")
    page.wait_for_function("document.getElementById('card-errors').textContent.length > 0")
    assert "declined" in page.inner_text("#card-errors")
    with django_db_blocker.unblock():
        account = BillingAccount.objects.get(tenant_id=tenant.pk)
        assert (account.status, account.stripe_subscription_id) == ("trialing", "")

    page.goto(f"{base}/settings/billing/card/?plan=team&interval=month")
    page.wait_for_selector("#card-element input[placeholder=number]")
    _fill_card(page, "4242424242424242")
    page.click("#card-submit")
    page.wait_for_url(f"{base}/settings/billing/")
    assert "Active" in page.inner_text("#billing-status")
    assert "4242" in page.inner_text("#card")
    with django_db_blocker.unblock():
        account = BillingAccount.objects.get(tenant_id=tenant.pk)
        assert (account.status, account.plan.code) == ("active", "team")
    # The emulator's Stripe.js logs to the console; the declined card's 402 is expected.
    assert [e for e in errors if "402" not in e and "Payment Required" not in e] == []
