"""The one module that talks to Stripe: the only importer of the ``stripe`` SDK.

Every function returns plain data (dicts of str/int/bool, lists of them), so nothing
else depends on the SDK's object shapes or its version. Failures become
``GatewayError`` (a message fit for the owner, and whether trying again may help);
a declined card becomes ``CardDeclined`` with Stripe's own message.

In development and tests ``STRIPE_API_BASE`` points at the local emulator
(localstripe, run as a separate process by deploy/local/services.sh). What the
emulator lacks and was checked against Stripe's test mode only is listed in
billing/README.md. Two shapes differ between the emulator and recent Stripe API
versions, and both are read here: a subscription item's price is a legacy *plan*
(``items[0].plan``; we use plan ids as prices), and the billing period sits on the
subscription (older versions, the emulator) or on its item (API 2025-03-31 on).
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from django.conf import settings
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext as _

# The SDK and the HTTP clients it pulls in cost about 25 MB in every process that imports
# this module (and every web and worker process does, through the billing selectors).
# Loading it on the first call to Stripe keeps the processes that never talk to Stripe,
# such as the upload pipeline's, inside their memory line (bench/uploads.py).
stripe: Any = SimpleLazyObject(lambda: importlib.import_module("stripe"))

logger = logging.getLogger(__name__)


class GatewayError(Exception):
    """Stripe refused or could not be reached. ``str()`` is safe to show an owner."""

    def __init__(self, message: str, *, retryable: bool = False, code: str = "") -> None:
        super().__init__(message)
        self.retryable = retryable
        self.code = code


class CardDeclined(GatewayError):
    """The card was declined; the message is Stripe's."""


class SignatureError(Exception):
    """A webhook body whose signature is missing, forged or outside the tolerance."""


_configured_for: tuple[str, str] | None = None


def _configure() -> str:
    """Point the SDK at ``STRIPE_API_BASE`` (the emulator, or Stripe) and return the key."""
    global _configured_for
    key = settings.STRIPE_SECRET_KEY
    if not key:
        raise GatewayError(_("Billing is not configured on this server."), code="not_configured")
    base = settings.STRIPE_API_BASE or "https://api.stripe.com"
    if _configured_for != (base, key):
        stripe.api_base = base
        # Owner actions fail fast with a clear message; webhooks and the seat push
        # are retried by their Celery tasks instead of inside a request.
        stripe.max_network_retries = 0
        stripe.default_http_client = stripe.new_default_http_client(timeout=settings.STRIPE_TIMEOUT)
        stripe.enable_telemetry = False
        logging.getLogger("stripe").setLevel(logging.WARNING)  # one line per API call
        _configured_for = (base, key)
    return key


def _plain(obj: Any) -> Any:
    """A StripeObject (or anything inside one) as plain dicts and lists."""
    if isinstance(obj, stripe.StripeObject):
        return obj.to_dict(recursive=True)
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    return obj


def _call(func, *args, **kwargs) -> dict:
    """Call the SDK; translate its errors (never logging the key or a card)."""
    try:
        return _plain(func(*args, api_key=_configure(), **kwargs))
    except stripe.CardError as error:
        raise CardDeclined(
            error.user_message or _("Your card was declined."),
            code=getattr(error, "code", "") or "card_declined",
        ) from error
    except (stripe.APIConnectionError, stripe.RateLimitError) as error:
        logger.warning("stripe unreachable: %s", type(error).__name__)
        raise GatewayError(
            _(
                "The payment provider cannot be reached right now. Nothing was changed; "
                "please try again in a few minutes."
            ),
            retryable=True,
            code="unreachable",
        ) from error
    except stripe.InvalidRequestError as error:
        if error.http_status == 404:
            raise NotFound(str(error.user_message or "not found"), code="not_found") from error
        logger.warning("stripe refused a request: %s", error.user_message)
        raise GatewayError(
            _("The payment provider refused the request: %(message)s")
            % {"message": error.user_message or error.code or "?"},
            code=error.code or "invalid_request",
        ) from error
    except stripe.StripeError as error:
        retryable = (error.http_status or 500) >= 500
        logger.warning("stripe error %s (%s)", error.http_status, type(error).__name__)
        raise GatewayError(
            _(
                "The payment provider failed to answer. Nothing was changed; "
                "please try again in a few minutes."
            ),
            retryable=retryable,
            code="stripe_error",
        ) from error


class NotFound(GatewayError):
    """The object does not exist in Stripe."""


# --- Catalogue -------------------------------------------------------------------


def product_ensure(*, product_id: str, name: str) -> dict:
    """Create the product ``product_id`` or bring its name up to date (idempotent)."""
    try:
        current = _call(stripe.Product.retrieve, product_id)
    except NotFound:
        return _call(stripe.Product.create, id=product_id, name=name)
    if current.get("name") != name:
        return _call(stripe.Product.modify, product_id, name=name)
    return current


def price_ensure(
    *, price_id: str, product_id: str, unit_amount: int, currency: str, interval: str
) -> dict:
    """Create the per-seat price ``price_id`` unless it exists (idempotent).

    A Stripe price's amount cannot change, so the id carries the amount: a new amount
    makes a new price and existing subscriptions keep theirs until moved. The emulator
    has no Prices API: a legacy *plan* with the same id serves as the price.
    """
    try:
        return _call(stripe.Plan.retrieve, price_id)
    except NotFound:
        return _call(
            stripe.Plan.create,
            id=price_id,
            product=product_id,
            amount=unit_amount,
            currency=currency,
            interval=interval,
            usage_type="licensed",
            billing_scheme="per_unit",
        )


# --- Customers, cards ----------------------------------------------------------------


def customer_create(*, email: str, name: str, tenant_id: int) -> str:
    """A new Stripe customer for a workspace; returns its id."""
    customer = _call(
        stripe.Customer.create,
        email=email,
        name=name,
        metadata={"atrium_tenant_id": str(tenant_id)},
    )
    return customer["id"]


def setup_intent_create(*, customer_id: str) -> dict:
    """A SetupIntent the browser confirms with Stripe.js: ``{"id", "client_secret"}``."""
    intent = _call(
        stripe.SetupIntent.create,
        customer=customer_id,
        usage="off_session",
        payment_method_types=["card"],
    )
    return {"id": intent["id"], "client_secret": intent["client_secret"]}


def setup_intent_get(*, setup_intent_id: str) -> dict:
    """``{"id", "status", "customer", "payment_method"}`` of a SetupIntent."""
    intent = _call(stripe.SetupIntent.retrieve, setup_intent_id)
    return {
        "id": intent["id"],
        "status": intent.get("status", ""),
        "customer": intent.get("customer") or "",
        "payment_method": intent.get("payment_method") or "",
    }


def setup_intent_confirm(*, setup_intent_id: str, payment_method_id: str) -> dict:
    """Confirm server-side (what Stripe.js does in the browser); tests and the benchmark."""
    intent = _call(stripe.SetupIntent.confirm, setup_intent_id, payment_method=payment_method_id)
    return {"id": intent["id"], "status": intent.get("status", "")}


def card_payment_method_create(*, number: str, exp_month: int, exp_year: int, cvc: str) -> str:
    """A card payment method from raw numbers: only the emulator and Stripe's test
    mode accept this (the browser's Stripe.js does it in production)."""
    method = _call(
        stripe.PaymentMethod.create,
        type="card",
        card={"number": number, "exp_month": exp_month, "exp_year": exp_year, "cvc": cvc},
    )
    return method["id"]


def payment_method_make_default(*, customer_id: str, payment_method_id: str) -> dict:
    """Attach the card to the customer and make it the default for invoices;
    returns the card's ``{"brand", "last4", "exp_month", "exp_year"}``."""
    method = _call(stripe.PaymentMethod.retrieve, payment_method_id)
    if method.get("customer") != customer_id:
        method = _call(stripe.PaymentMethod.attach, payment_method_id, customer=customer_id)
    _call(
        stripe.Customer.modify,
        customer_id,
        invoice_settings={"default_payment_method": payment_method_id},
    )
    return _card_of(method)


def _card_of(method: dict | None) -> dict:
    card = (method or {}).get("card") or {}
    return {
        "brand": card.get("brand") or "",
        "last4": card.get("last4") or "",
        "exp_month": card.get("exp_month"),
        "exp_year": card.get("exp_year"),
    }


def default_card(*, customer_id: str) -> dict:
    """The customer's default card (empty values when there is none)."""
    customer = _call(stripe.Customer.retrieve, customer_id)
    method_id = (customer.get("invoice_settings") or {}).get("default_payment_method")
    if not method_id:
        return _card_of(None)
    if isinstance(method_id, dict):
        return _card_of(method_id)
    return _card_of(_call(stripe.PaymentMethod.retrieve, method_id))


# --- Subscriptions -------------------------------------------------------------------


def _subscription(sub: dict) -> dict:
    """The fields we use of a subscription, whatever the API version."""
    items = ((sub.get("items") or {}).get("data")) or []
    item = items[0] if items else {}
    price = item.get("price") or item.get("plan") or {}
    period_end = sub.get("current_period_end") or item.get("current_period_end")
    return {
        "id": sub["id"],
        "customer": sub.get("customer") or "",
        "status": sub.get("status") or "",
        "quantity": int(item.get("quantity") or sub.get("quantity") or 0),
        "item_id": item.get("id") or "",
        "price_id": price.get("id") if isinstance(price, dict) else str(price),
        "current_period_end": int(period_end) if period_end else None,
        "cancel_at_period_end": bool(sub.get("cancel_at_period_end")),
        "latest_invoice": sub.get("latest_invoice") or "",
        "created": int(sub.get("created") or 0),
    }


def subscription_create(*, customer_id: str, price_id: str, quantity: int) -> dict:
    """Subscribe the customer (charged at once with its default card).

    ``error_if_incomplete``: a declined first payment raises ``CardDeclined`` and
    leaves no subscription behind.
    """
    sub = _call(
        stripe.Subscription.create,
        customer=customer_id,
        items=[{"plan": price_id, "quantity": max(1, quantity)}],
        payment_behavior="error_if_incomplete",
    )
    return _subscription(sub)


def subscription_get(*, subscription_id: str) -> dict:
    return _subscription(_call(stripe.Subscription.retrieve, subscription_id))


def subscriptions_of(*, customer_id: str) -> list[dict]:
    """Every subscription of the customer (canceled ones too), newest first."""
    listing = _call(stripe.Subscription.list, customer=customer_id, status="all", limit=100)
    subs = [_subscription(s) for s in listing.get("data", [])]
    return sorted(subs, key=lambda s: s["created"], reverse=True)


def subscription_update(
    *,
    subscription_id: str,
    item_id: str = "",
    quantity: int | None = None,
    price_id: str = "",
    cancel_at_period_end: bool | None = None,
) -> dict:
    """Change quantity, price or cancel-at-period-end. No ``proration_behavior``:
    Stripe's default (create prorations) applies, and the emulator refuses the key."""
    params: dict[str, Any] = {}
    if quantity is not None or price_id:
        item: dict[str, Any] = {"id": item_id}
        if quantity is not None:
            item["quantity"] = max(1, quantity)
        if price_id:
            item["plan"] = price_id
        params["items"] = [item]
    if cancel_at_period_end is not None:
        params["cancel_at_period_end"] = cancel_at_period_end
    return _subscription(_call(stripe.Subscription.modify, subscription_id, **params))


def subscription_cancel_now(*, subscription_id: str) -> dict:
    """End the subscription at once (the vendor's decision; owners cancel at period end)."""
    return _subscription(_call(stripe.Subscription.cancel, subscription_id))


# --- Invoices ----------------------------------------------------------------------------


def _invoice(inv: dict) -> dict:
    return {
        "id": inv.get("id") or "",
        "number": inv.get("number") or "",
        "status": inv.get("status") or "",
        "amount_due": int(inv.get("amount_due") or 0),
        "amount_paid": int(inv.get("amount_paid") or 0),
        "total": int(inv.get("total") or 0),
        "currency": inv.get("currency") or "",
        "created": int(inv.get("created") or inv.get("date") or 0),
        "hosted_invoice_url": inv.get("hosted_invoice_url") or "",
        "invoice_pdf": inv.get("invoice_pdf") or "",
        "subscription": inv.get("subscription") or "",
        "payment_intent": inv.get("payment_intent") or "",
    }


def invoices_of(*, customer_id: str, limit: int = 24) -> list[dict]:
    listing = _call(stripe.Invoice.list, customer=customer_id, limit=limit)
    return [_invoice(i) for i in listing.get("data", [])]


def invoice_preview(*, customer_id: str, subscription_id: str) -> dict | None:
    """The next invoice (amount, date) as Stripe previews it; None when there is none."""
    try:
        inv = _call(
            stripe.Invoice.create_preview, customer=customer_id, subscription=subscription_id
        )
    except NotFound:
        return None
    preview = _invoice(inv)
    preview["next_payment_attempt"] = int(
        inv.get("next_payment_attempt") or inv.get("period_end") or 0
    )
    return preview


def invoice_create_and_pay(*, customer_id: str, subscription_id: str) -> dict:
    """A renewal invoice, paid at once with the default card (tests: dunning)."""
    inv = _call(stripe.Invoice.create, customer=customer_id, subscription=subscription_id)
    return _invoice(_call(stripe.Invoice.pay, inv["id"]))


def invoice_pay(*, invoice_id: str) -> dict:
    return _invoice(_call(stripe.Invoice.pay, invoice_id))


def open_invoices_of(*, customer_id: str) -> list[dict]:
    return [i for i in invoices_of(customer_id=customer_id) if i["status"] == "open"]


# --- Webhooks ------------------------------------------------------------------------------


def webhook_verify(*, payload: bytes, signature: str, secret: str, tolerance: int) -> None:
    """Raise ``SignatureError`` unless ``signature`` (the Stripe-Signature header) signs
    ``payload`` with ``secret`` and its timestamp is within ``tolerance`` seconds."""
    if not secret:
        raise SignatureError("no webhook secret configured")
    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"), signature, secret, tolerance=tolerance
        )
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as error:
        raise SignatureError(str(error)) from error


def events_list(*, since: int, limit: int = 100) -> list[dict]:
    """Events created at or after ``since`` (a Unix time), as Stripe keeps them (tests and
    the benchmark replay them)."""
    return _call(stripe.Event.list, created={"gte": since}, limit=limit).get("data", [])
