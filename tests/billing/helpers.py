"""Helpers of the billing tests: signed webhook bodies, cards confirmed the way Stripe.js
confirms them, subscriptions made through the services."""

import hashlib
import hmac
import json
import secrets
import time

from django.conf import settings
from django_tenants.utils import schema_context

from billing import gateway, services
from billing.models import BillingAccount

GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"
# Succeeds when saved, then needs 3-D Secure on every payment (a failed renewal).
THREE_DS_CARD = "4000002760003184"


def sign(payload: bytes, *, secret: str | None = None, timestamp: int | None = None) -> str:
    """A Stripe-Signature header for ``payload``."""
    secret = settings.STRIPE_WEBHOOK_SECRET if secret is None else secret
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def event_body(event_type: str, obj: dict, *, event_id: str = "") -> bytes:
    return json.dumps(
        {
            "id": event_id or f"evt_{secrets.token_hex(8)}",
            "object": "event",
            "type": event_type,
            "created": int(time.time()),
            "data": {"object": obj},
        }
    ).encode()


def confirmed_intent(owner, tenant, card: str = GOOD_CARD) -> str:
    """A SetupIntent confirmed with ``card``, as the browser does with Stripe.js."""
    with schema_context(tenant.schema_name):
        intent = services.card_setup_begin(actor=owner)
    method = gateway.card_payment_method_create(number=card, exp_month=12, exp_year=2035, cvc="123")
    gateway.setup_intent_confirm(setup_intent_id=intent["id"], payment_method_id=method)
    return intent["id"]


def subscribe(owner, tenant, *, plan: str = "team", interval: str = "month",
              card: str = GOOD_CARD) -> BillingAccount:  # fmt: skip
    intent = confirmed_intent(owner, tenant, card)
    with schema_context(tenant.schema_name):
        return services.subscription_start(
            actor=owner, plan_code=plan, interval=interval, setup_intent_id=intent
        )


def account(tenant) -> BillingAccount:
    return BillingAccount.objects.select_related("plan").get(tenant_id=tenant.pk)
