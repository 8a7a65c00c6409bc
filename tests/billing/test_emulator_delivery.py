"""The emulator's own deliveries, signed by it, reach the live server's webhook and are
applied: the real path from Stripe's side, end to end."""

import time
import urllib.parse
import urllib.request

import pytest
from django.conf import settings

from billing.models import WebhookEvent

from .helpers import account, subscribe


def _register(url: str) -> None:
    data = urllib.parse.urlencode({"url": url, "secret": settings.STRIPE_WEBHOOK_SECRET})
    request = urllib.request.Request(  # noqa: S310 - the emulator on loopback
        f"{settings.STRIPE_API_BASE}/_config/webhooks/tests", data=data.encode()
    )
    urllib.request.urlopen(request, timeout=5)  # noqa: S310 - the emulator on loopback


@pytest.fixture
def emulator_delivers_to(live_server, stripe_emulator):
    port = live_server.url.rsplit(":", 1)[1]
    _register(f"http://{settings.BASE_DOMAIN}:{port}/billing/webhook/")
    yield
    _register("http://127.0.0.1:9/")  # nothing listens there: later events go nowhere


@pytest.mark.django_db(transaction=True)
def test_events_the_emulator_delivers_are_stored_once_and_applied(
    emulator_delivers_to, plans, tenant_a, owner_a
):
    subscribe(owner_a, tenant_a)
    customer = account(tenant_a).stripe_customer_id
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        events = WebhookEvent.objects.filter(customer_id=customer)
        if events.filter(type="customer.subscription.created", status="processed").exists():
            break
        time.sleep(0.3)
    types = set(WebhookEvent.objects.filter(customer_id=customer).values_list("type", flat=True))
    assert "customer.subscription.created" in types
    assert set(
        WebhookEvent.objects.filter(customer_id=customer).values_list("status", flat=True)
    ) <= {"processed", "queued", "received"}
    assert account(tenant_a).status == "active"
