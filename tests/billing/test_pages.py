"""The owners' billing and card pages, and the public pricing page."""

import pytest
from django_tenants.utils import schema_context

from billing.models import BillingAccount
from tests.accounts.helpers import make_user
from tests.conftest import client_for, sign_in

from .helpers import account, subscribe


def test_pricing_page_lists_the_plans_on_sale_with_prices(public_client, plans):
    page = public_client.get("/pricing/").content.decode()
    assert "Team" in page and "Business" in page
    assert "8.00 €" in page and "150.00 €" in page
    assert '<th scope="row">Trial</th>' not in page


def test_billing_page_shows_the_trial_to_owners(owner_client_a, tenant_a, plans):
    page = owner_client_a.get("/settings/billing/").content.decode()
    assert "14 days left" in page or "13 days left" in page
    assert "Subscribe to Team" in page


@pytest.mark.parametrize("role", ["admin", "member"])
def test_billing_pages_are_for_owners_only(tenant_a, role):
    make_user(tenant_a, f"{role}@alpha.test", role=role)
    client = client_for(tenant_a)
    assert sign_in(client, f"{role}@alpha.test")
    assert client.get("/settings/billing/").status_code == 403
    assert client.get("/settings/billing/card/").status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(client_a):
    response = client_a.get("/settings/billing/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_card_page_loads_stripe_js_from_the_emulator_in_tests(owner_client_a, plans, settings):
    page = owner_client_a.get("/settings/billing/card/?plan=business&interval=year")
    html = page.content.decode()
    assert f'src="{settings.STRIPE_API_BASE}/js.stripe.com/v3/"' in html
    assert 'data-client-secret="seti_' in html
    assert '<option value="business" selected>' in html


def test_production_loads_stripe_js_from_stripe():
    import subprocess
    import sys

    code = (
        "import os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings.base';"
        "os.environ['DJANGO_DEBUG']='0';os.environ['DJANGO_SECRET_KEY']='x';"
        "os.environ['AUDIT_HMAC_KEY']='x';os.environ.pop('STRIPE_JS_URL', None);"
        "os.environ.pop('STRIPE_API_BASE', None);os.environ['STRIPE_SECRET_KEY']='sk_live_x';"
        "from django.conf import settings; print(settings.STRIPE_JS_URL, settings.STRIPE_API_BASE)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        cwd=str(__import__("django.conf").conf.settings.BASE_DIR),
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ".:platform"},
    ).stdout.split()  # fmt: skip
    assert out == ["https://js.stripe.com/v3/"]


def test_billing_page_shows_the_subscription_and_changes_plan(
    owner_client_a, tenant_a, owner_a, plans
):
    subscribe(owner_a, tenant_a)
    page = owner_client_a.get("/settings/billing/").content.decode()
    assert "Active" in page and "•••• 4242" in page
    assert "1 in use, 1 billed" in page
    assert "Next invoice" in page
    response = owner_client_a.post(
        "/settings/billing/", {"action": "change_plan", "plan": "business", "interval": "year"}
    )
    assert response.status_code == 302
    assert (account(tenant_a).plan.code, account(tenant_a).interval) == ("business", "year")
    owner_client_a.post("/settings/billing/", {"action": "cancel"})
    assert account(tenant_a).cancel_at_period_end
    page = owner_client_a.get("/settings/billing/").content.decode()
    assert "Resume the subscription" in page


def test_a_refused_downgrade_shows_its_reason(owner_client_a, tenant_a, owner_a, plans):
    subscribe(owner_a, tenant_a, plan="business")
    BillingAccount.objects.filter(tenant_id=tenant_a.pk).update(seats_in_use=30)
    with schema_context(tenant_a.schema_name):
        for n in range(29):
            make_user(tenant_a, f"u{n}@alpha.test")
    response = owner_client_a.post(
        "/settings/billing/", {"action": "change_plan", "plan": "team", "interval": "month"},
        follow=True,
    )  # fmt: skip
    assert "too small" in response.content.decode()
    assert account(tenant_a).plan.code == "business"


def test_the_banner_costs_no_query_on_a_cache_hit(owner_client_a, tenant_a):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    page = owner_client_a.get("/").content.decode()
    assert "Trial: 1" in page  # 13 or 14 days left
    with CaptureQueriesContext(connection) as queries:
        owner_client_a.get("/")
    assert not [q for q in queries if "billing_billingaccount" in q["sql"]]
