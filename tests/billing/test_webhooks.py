"""POST /billing/webhook/: signed, fresh, stored once, processed after commit, in any order."""

import json
import threading
import time

import pytest
from django.db import connection
from django.test import Client

from audit.models import AuditEvent
from billing import gateway
from billing.models import WebhookEvent
from tests.conftest import client_for

from .helpers import account, event_body, sign, subscribe

URL = "/billing/webhook/"


def post(client: Client, body: bytes, signature: str):
    return client.post(URL, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature)


def test_forged_signature_is_refused_and_changes_nothing(public_client):
    body = event_body(
        "customer.subscription.deleted", {"object": "subscription", "customer": "cus_x"}
    )
    response = post(public_client, body, sign(body, secret="whsec_forged"))
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()
    refused = AuditEvent.objects.filter(action="billing.webhook_refused").latest("pk")
    assert refused.changes["why"] == "signature"
    assert "whsec" not in json.dumps(refused.changes)  # the secret never lands in the log


def test_stale_signature_is_refused_even_when_genuine(public_client):
    body = event_body("invoice.payment_failed", {"object": "invoice", "customer": "cus_x"})
    response = post(public_client, body, sign(body, timestamp=int(time.time()) - 301))
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()
    assert AuditEvent.objects.filter(action="billing.webhook_refused").latest("pk").changes == {
        "why": "stale"
    }


def test_tampered_body_and_missing_header_are_refused(public_client):
    body = event_body("invoice.paid", {"object": "invoice", "customer": "cus_x"})
    signature = sign(body)
    assert post(public_client, body.replace(b"cus_x", b"cus_y"), signature).status_code == 400
    assert public_client.post(URL, body, content_type="application/json").status_code == 400
    assert not WebhookEvent.objects.exists()


def test_malformed_json_with_a_valid_signature_is_refused(public_client):
    body = b'{"id": "evt_1", "type": '
    assert post(public_client, body, sign(body)).status_code == 400
    assert not WebhookEvent.objects.exists()


def test_get_is_not_allowed(public_client):
    assert public_client.get(URL).status_code == 405


def test_the_webhook_lives_on_the_public_site_only(client_a):
    body = event_body("invoice.paid", {"object": "invoice", "customer": "cus_x"})
    assert post(client_a, body, sign(body)).status_code == 404


def test_unknown_customer_is_stored_and_flagged_not_crashed_on(
    public_client, django_capture_on_commit_callbacks
):
    body = event_body("invoice.payment_failed", {"object": "invoice", "customer": "cus_nobody"})
    with django_capture_on_commit_callbacks(execute=True):
        assert post(public_client, body, sign(body)).status_code == 200
    event = WebhookEvent.objects.get()
    assert (event.status, event.flagged, event.customer_id) == ("unmatched", True, "cus_nobody")
    assert AuditEvent.objects.filter(action="billing.webhook_unmatched").exists()


def test_unknown_event_type_without_customer_is_ignored(
    public_client, django_capture_on_commit_callbacks
):
    body = event_body("balance.available", {"object": "balance"})
    with django_capture_on_commit_callbacks(execute=True):
        assert post(public_client, body, sign(body)).status_code == 200
    assert WebhookEvent.objects.get().status == "ignored"


def test_processing_is_queued_after_commit_only(public_client, django_capture_on_commit_callbacks):
    body = event_body("invoice.paid", {"object": "invoice", "customer": "cus_later"})
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert post(public_client, body, sign(body)).status_code == 200
    assert WebhookEvent.objects.get().status == "received"  # nothing ran inside the request
    assert len(callbacks) == 1


def test_a_duplicate_delivery_is_acknowledged_and_does_nothing(
    public_client, django_capture_on_commit_callbacks
):
    body = event_body("invoice.paid", {"object": "invoice", "customer": "cus_twice"})
    with django_capture_on_commit_callbacks(execute=False) as first:
        assert post(public_client, body, sign(body)).status_code == 200
    with django_capture_on_commit_callbacks(execute=False) as second:
        assert post(public_client, body, sign(body)).status_code == 200
    assert WebhookEvent.objects.count() == 1
    assert (len(first), len(second)) == (1, 0)


@pytest.mark.django_db(transaction=True)
def test_the_same_event_delivered_twice_concurrently_is_processed_once(plans, tenant_a, owner_a):
    subscribe(owner_a, tenant_a)
    customer = account(tenant_a).stripe_customer_id
    body = event_body("invoice.payment_succeeded", {"object": "invoice", "customer": customer})
    signature = sign(body)
    barrier = threading.Barrier(4)
    statuses = []

    def deliver():
        try:
            client = client_for(None)
            barrier.wait(timeout=10)
            statuses.append(post(client, body, signature).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert statuses == [200] * 4
    event = WebhookEvent.objects.get()
    assert (event.status, event.attempts) == ("processed", 1)
    # (Audit rows outlive tests that commit: count this event's only.)
    processed = AuditEvent.objects.filter(
        action="billing.webhook_processed", changes__event=event.event_id
    )
    assert processed.count() == 1


def test_events_replayed_in_reverse_order_end_in_stripes_state(
    plans, tenant_a, owner_a, public_client, django_capture_on_commit_callbacks
):
    """Real events from the emulator (subscription created, quantity changed, canceled at
    period end, deleted), delivered newest first: the account ends as Stripe has it."""
    since = int(time.time()) - 1
    subscribe(owner_a, tenant_a)
    acc = account(tenant_a)
    sub = gateway.subscription_get(subscription_id=acc.stripe_subscription_id)
    gateway.subscription_update(subscription_id=sub["id"], item_id=sub["item_id"], quantity=4)
    gateway.subscription_cancel_now(subscription_id=sub["id"])
    events = [
        e for e in gateway.events_list(since=since)
        if _customer(e) == acc.stripe_customer_id
    ]  # fmt: skip
    assert len(events) >= 3
    # The emulator lists them in the order they happened: deliver them the other way round.
    for event in reversed(events):
        body = json.dumps(event).encode()
        with django_capture_on_commit_callbacks(execute=True):
            assert post(public_client, body, sign(body)).status_code == 200
    final = account(tenant_a)
    stripe_now = gateway.subscription_get(subscription_id=sub["id"])
    assert final.status == "canceled" and stripe_now["status"] == "canceled"
    assert final.seats_billed == stripe_now["quantity"] == 4
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}


def _customer(event: dict) -> str:
    obj = event["data"]["object"]
    return obj["id"] if obj.get("object") == "customer" else (obj.get("customer") or "")


def test_stripe_down_while_processing_keeps_the_event_for_the_retry(
    plans, tenant_a, owner_a, public_client, settings, django_capture_on_commit_callbacks
):
    from billing import services
    from billing.gateway import GatewayError
    from core.principal import SYSTEM

    subscribe(owner_a, tenant_a)
    customer = account(tenant_a).stripe_customer_id
    body = event_body("invoice.payment_failed", {"object": "invoice", "customer": customer})
    with django_capture_on_commit_callbacks(execute=False):
        assert post(public_client, body, sign(body)).status_code == 200
    event_id = json.loads(body)["id"]
    up, settings.STRIPE_API_BASE = settings.STRIPE_API_BASE, "http://127.0.0.1:9"
    with pytest.raises(GatewayError):
        services.webhook_process(actor=SYSTEM, event_id=event_id)
    event = WebhookEvent.objects.get(event_id=event_id)
    assert (event.status, event.attempts) == ("failed", 1)
    assert "cannot be reached" in event.last_error
    settings.STRIPE_API_BASE = up
    assert services.webhook_process(actor=SYSTEM, event_id=event_id) == "processed"
    event.refresh_from_db()
    assert (event.status, event.attempts, event.last_error) == ("processed", 2, "")
    # Once processed, a redelivered task does nothing.
    assert services.webhook_process(actor=SYSTEM, event_id=event_id) == "processed"
    event.refresh_from_db()
    assert event.attempts == 2


def test_the_task_retries_with_backoff():
    from billing.tasks import MAX_RETRIES, _backoff, process_webhook_event

    assert [_backoff(n) for n in range(8)] == [10, 20, 40, 80, 160, 320, 600, 600]
    assert process_webhook_event.acks_late and process_webhook_event.max_retries == MAX_RETRIES
