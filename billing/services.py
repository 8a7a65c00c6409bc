"""Billing's write API. Every change to a billing account happens here, under a lock on
its row (``select_for_update``), with its audit event in the same transaction.

Stripe is reached only through ``billing.gateway`` (plain data in, plain data out).
Handlers never trust a webhook's payload for state: it only says *which* customer
changed; the current subscription is fetched from Stripe and applied under the row
lock, so events in any order, twice, or missed (the hourly reconciliation) all end in
Stripe's state.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context

import audit.services as audit
from core import queue
from core.access import BILLING_REASONS
from core.outbox import send_after_commit
from core.principal import Principal, require_vendor_role, system, write_service
from tenants import selectors as tenant_selectors
from tenants import services as tenant_services

from . import dispatch_flag, gateway
from .gateway import CardDeclined, GatewayError, SignatureError
from .models import BillingAccount, Plan, Price, SeatLedgerEntry, WebhookEvent
from .selectors import notice_key

logger = logging.getLogger(__name__)


__all__ = [
    "BILLING_REASONS",
    "CardDeclined",
    "GatewayError",
    "WebhookRefused",
    "account_ensure",
    "account_sync",
    "card_change",
    "card_setup_begin",
    "deadlines_enforce",
    "plan_change",
    "plan_comp",
    "plans_sync",
    "reconcile_all",
    "register_owner_recipients",
    "register_usage",
    "seats_push",
    "seats_record",
    "subscription_cancel",
    "subscription_resume",
    "subscription_start",
    "trial_extend",
    "webhook_process",
    "webhook_receive",
]

Status = BillingAccount.Status
# Setting and lifting read-only is billing's own bookkeeping, allowed in a read-only
# workspace (an owner paying lifts it in the same request): done as the system, while
# the owner's own action is in billing's event.
BOOKKEEPING = system("billing")
STRIPE = "stripe"  # how the audit log names the payment provider's webhooks


class WebhookRefused(Exception):
    """A webhook request that changes nothing: ``str()`` says why (for the 400 body)."""


# --- Usage (what a downgrade must fit) ------------------------------------------------

# name -> (reads the current workspace's use, the plan field that limits it). Packages
# above billing register theirs (config.apps: uploads' storage), so billing imports none.
_usage: dict[str, tuple[Callable[[], int], str]] = {}


def register_usage(name: str, read: Callable[[], int], plan_field: str) -> None:
    """Let ``plan_change`` refuse a plan whose ``plan_field`` is below ``read()``."""
    _usage[name] = (read, plan_field)


# Reads the current workspace's owners as ``(email, language)``: accounts registers it
# (config.apps), as above, so that billing's emails reach every owner in their language.
_owners: list[Callable[[], list[tuple[str, str]]]] = []


def register_owner_recipients(read: Callable[[], list[tuple[str, str]]]) -> None:
    """Let billing's emails (dunning) go to every active owner of the workspace."""
    _owners[:] = [read]


def _owner_recipients(tenant) -> list[tuple[str, str]]:
    """Every active owner of ``tenant``, else the address it signed up with."""
    if _owners:
        with schema_context(tenant.schema_name):
            owners = _owners[0]()
        if owners:
            return owners
    return [(tenant.owner_email, "")]


# --- Helpers --------------------------------------------------------------------------


def _now() -> datetime:
    return timezone.now()


def _tenant_model():
    return BillingAccount._meta.get_field("tenant").related_model


def _trial_plan() -> Plan:
    return Plan.objects.filter(is_default=True).first() or Plan.objects.get(code="trial")


def account_ensure(*, tenant_id: int) -> BillingAccount:
    """The workspace's billing account, made on first use: a trial of
    ``BILLING_TRIAL_DAYS`` from now. Signup makes it with the workspace; the minute sweep
    makes it for any workspace without one (those that existed before billing get a
    whole trial rather than being locked at once). Not audited (no decision)."""
    account = BillingAccount.objects.filter(tenant_id=tenant_id).first()
    if account is not None:
        return account
    tenant = _tenant_model().objects.filter(pk=tenant_id).select_related("plan").first()
    if tenant is None:
        raise ValidationError(_("Unknown workspace."), code="unknown_tenant")
    created = _now()
    try:
        with transaction.atomic():
            return BillingAccount.objects.create(
                tenant_id=tenant_id,
                plan=tenant.plan or _trial_plan(),
                status=Status.TRIALING,
                trial_ends_at=created + timedelta(days=settings.BILLING_TRIAL_DAYS),
            )
    except IntegrityError:  # made by a concurrent first use
        return BillingAccount.objects.get(tenant_id=tenant_id)


def _set_plan(account: BillingAccount, plan: Plan, actor: Principal) -> None:
    """The account's plan, and the workspace's (``Tenant.plan``, what ``plan_for`` and
    every limit read), kept equal. The workspace's is tenants' to change: billing's
    bookkeeping, as for read-only, with ``actor``'s name in the note."""
    account.plan = plan
    tenant_services.tenant_plan_set(
        actor=BOOKKEEPING, tenant_id=account.tenant_id, plan_id=plan.pk, note=_note(actor)
    )


def _lock(tenant_id: int) -> BillingAccount:
    """The account's row, locked until the caller's transaction ends; the banner's cache
    is forgotten when it commits."""
    account_ensure(tenant_id=tenant_id)
    transaction.on_commit(lambda: _forget_notice(tenant_id))
    return (
        BillingAccount.objects.select_for_update()
        .select_related("tenant", "plan")
        .get(tenant_id=tenant_id)
    )


def _forget_notice(tenant_id: int) -> None:
    try:
        cache.delete(notice_key(tenant_id))
    except Exception:  # Redis away: the entry expires by itself
        logger.debug("billing notice not forgotten")


def _target(account: BillingAccount) -> tuple[str, int, str]:
    return ("tenants.tenant", account.tenant_id, account.tenant.slug)


def _record(action: str, account: BillingAccount, actor: Principal, **changes: Any) -> None:
    """An event in the workspace's own chain (its owners see billing in their log)."""
    audit.record(
        action, actor=actor, target=_target(account), changes=changes, tenant=account.tenant
    )


def _current_tenant_id(actor: Principal) -> int:
    tenant_id = getattr(tenant_selectors.current_tenant(), "pk", None)
    if tenant_id is None:
        raise PermissionDenied
    return tenant_id


def _require_owner(actor: Principal) -> int:
    """Billing pages and actions are the owners' alone; returns the workspace's id."""
    user = getattr(actor, "acting_user", None)
    if not (
        user is not None
        and user.is_authenticated
        and user.is_active
        and getattr(user, "role", "") == "owner"
    ):
        raise PermissionDenied
    return _current_tenant_id(actor)


def _price(plan_code: str, interval: str) -> Price:
    price = (
        Price.objects.select_related("plan")
        .filter(plan__code=plan_code, plan__is_public=True, interval=interval)
        .first()
    )
    if price is None:
        raise ValidationError(_("Choose one of the plans offered."), code="unknown_plan")
    if not price.stripe_price_id:
        raise GatewayError(_("This plan is not available for purchase yet."), code="not_synced")
    return price


def _ensure_customer(account: BillingAccount, actor: Principal) -> str:
    if account.stripe_customer_id:
        return account.stripe_customer_id
    tenant = account.tenant
    account.stripe_customer_id = gateway.customer_create(
        email=tenant.owner_email, name=tenant.name, tenant_id=tenant.pk
    )
    account.save(update_fields=["stripe_customer_id", "updated_at"])
    _record("billing.customer_created", account, actor)
    return account.stripe_customer_id


def _card_changed(account: BillingAccount, card: dict, actor: Principal) -> None:
    account.card_brand = card["brand"]
    account.card_last4 = card["last4"]
    account.card_exp_month = card["exp_month"]
    account.card_exp_year = card["exp_year"]
    account.save(
        update_fields=["card_brand", "card_last4", "card_exp_month", "card_exp_year", "updated_at"]
    )
    _record("billing.card_changed", account, actor, brand=card["brand"], last4=card["last4"])


def _usable_setup_intent(account: BillingAccount, setup_intent_id: str) -> str:
    """The confirmed SetupIntent's payment method, if it is this customer's."""
    if not setup_intent_id or not setup_intent_id.startswith("seti_"):
        raise ValidationError(
            _("The card could not be saved. Please try again."), code="bad_intent"
        )
    intent = gateway.setup_intent_get(setup_intent_id=setup_intent_id)
    if intent["customer"] != account.stripe_customer_id:
        raise PermissionDenied
    if intent["status"] != "succeeded" or not intent["payment_method"]:
        raise ValidationError(
            _("The card was not confirmed. Please enter it again."), code="not_confirmed"
        )
    return intent["payment_method"]


# --- State from Stripe, and the access it implies ---------------------------------------

_STATUS_FROM_STRIPE = {
    "active": Status.ACTIVE,
    "trialing": Status.ACTIVE,
    "past_due": Status.PAST_DUE,
    "unpaid": Status.PAST_DUE,
    "canceled": Status.CANCELED,
    "incomplete_expired": Status.CANCELED,
}


def _pick(subscriptions: list[dict]) -> dict | None:
    """The subscription that speaks for the account: the newest live one, else the newest."""
    live = [s for s in subscriptions if s["status"] not in ("canceled", "incomplete_expired")]
    chosen = live or subscriptions
    return chosen[0] if chosen else None


def _apply_subscription(account: BillingAccount, sub: dict | None, actor: Principal) -> bool:
    """Bring the account to Stripe's ``sub``; True when anything drifted."""
    before = {
        "status": account.status,
        "plan": account.plan_id,
        "interval": account.interval,
        "seats_billed": account.seats_billed,
        "sub": account.stripe_subscription_id,
        "cancel": account.cancel_at_period_end,
        "period_end": account.current_period_end,
    }
    if sub is None:
        return False
    status = _STATUS_FROM_STRIPE.get(sub["status"])
    account.stripe_subscription_id = sub["id"]
    account.stripe_status = sub["status"]
    account.seats_billed = sub["quantity"]
    account.cancel_at_period_end = sub["cancel_at_period_end"]
    account.current_period_end = (
        datetime.fromtimestamp(sub["current_period_end"], tz=UTC)
        if sub["current_period_end"]
        else None
    )
    price = Price.objects.select_related("plan").filter(stripe_price_id=sub["price_id"]).first()
    if price is not None and status != Status.CANCELED:
        _set_plan(account, price.plan, actor)
        account.interval = price.interval
    if status is not None and status != account.status:
        if status == Status.PAST_DUE:
            account.past_due_since = account.past_due_since or _now()
            _dunning_started(account, actor)
        elif account.status == Status.PAST_DUE:
            account.past_due_since = None
        _record(
            "billing.status_changed",
            account,
            actor,
            status_before=account.status,
            status_after=status,
            stripe_status=sub["status"],
        )
        account.status = status
    account.synced_at = _now()
    account.save()
    after = {
        "status": account.status,
        "plan": account.plan_id,
        "interval": account.interval,
        "seats_billed": account.seats_billed,
        "sub": account.stripe_subscription_id,
        "cancel": account.cancel_at_period_end,
        "period_end": account.current_period_end,
    }
    if before["plan"] != after["plan"]:
        _record(
            "billing.plan_changed",
            account,
            actor,
            plan_before=before["plan"],
            plan_after=account.plan.code,
        )
    return before != after


def _dunning_started(account: BillingAccount, actor: Principal) -> None:
    grace = settings.BILLING_GRACE_DAYS
    _record("billing.payment_failed", account, actor, grace_days=grace)
    tenant = account.tenant
    for email, language in _owner_recipients(tenant):
        send_after_commit(
            to=email,
            template="billing/payment_failed",
            context={
                "workspace": tenant.name,
                "grace_days": grace,
                "billing_url": tenant_selectors.workspace_url(tenant.slug, "/settings/billing/"),
            },
            language=language,
        )


def _desired_reasons(account: BillingAccount, now: datetime) -> set[str]:
    if account.comp_until and account.comp_until > now:
        return set()
    if account.status == Status.TRIALING:
        ended = account.trial_ends_at is not None and account.trial_ends_at <= now
        return {"trial_ended"} if ended else set()
    if account.status == Status.PAST_DUE:
        since = account.past_due_since or now
        overdue = since + timedelta(days=settings.BILLING_GRACE_DAYS) <= now
        return {"payment_overdue"} if overdue else set()
    if account.status == Status.CANCELED:
        return {"subscription_canceled"}
    return set()


def _note(actor: Principal) -> str:
    who = actor.audit_actor
    return f"billing, for {who.display or who.type}"


def _apply_access(account: BillingAccount, actor: Principal) -> None:
    """Set and lift billing's read-only reasons to match the account (idempotent)."""
    tenant = _tenant_model().objects.get(pk=account.tenant_id)
    current = set(getattr(tenant, "read_only_reasons", None) or ()) & set(BILLING_REASONS)
    desired = _desired_reasons(account, _now())
    for reason in sorted(desired - current):
        tenant_services.tenant_restrict(
            actor=BOOKKEEPING, tenant_id=account.tenant_id, reason=reason, note=_note(actor)
        )
    for reason in sorted(current - desired):
        tenant_services.tenant_unrestrict(
            actor=BOOKKEEPING, tenant_id=account.tenant_id, reason=reason, note=_note(actor)
        )


def _sync_locked(account: BillingAccount, actor: Principal) -> bool:
    """Fetch the customer's subscriptions and card from Stripe and apply them."""
    if not account.stripe_customer_id:
        _apply_access(account, actor)
        return False
    sub = _pick(gateway.subscriptions_of(customer_id=account.stripe_customer_id))
    drifted = _apply_subscription(account, sub, actor)
    live = sub is not None and account.status != Status.CANCELED
    stale_seats = account.seats_billed != max(1, account.seats_in_use)
    if live and stale_seats and account.seats_push_due_at is None:
        # Stripe bills other seats than are in use (a change it missed): push ours.
        account.seats_push_due_at = _now()
        account.save(update_fields=["seats_push_due_at"])
    card = gateway.default_card(customer_id=account.stripe_customer_id)
    if card["last4"] and (card["last4"], card["brand"]) != (account.card_last4, account.card_brand):
        _card_changed(account, card, actor)
    _apply_access(account, actor)
    return drifted


@write_service
def account_sync(*, actor: Principal, tenant_id: int) -> bool:
    """Bring the workspace's billing to Stripe's current state; True when it drifted."""
    with transaction.atomic():
        return _sync_locked(_lock(tenant_id), actor)


# --- Plans ---------------------------------------------------------------------------------


@write_service
def plans_sync(*, actor: Principal) -> int:
    """Create or update every public plan's product and prices in Stripe (idempotent:
    the ids are ours); returns how many prices were synced."""
    require_vendor_role(actor, "billing")
    count = 0
    with transaction.atomic():
        for plan in Plan.objects.filter(is_public=True).prefetch_related("prices"):
            product_id = f"atrium_{plan.code}"
            gateway.product_ensure(product_id=product_id, name=f"Atrium {plan.name}")
            if plan.stripe_product_id != product_id:
                plan.stripe_product_id = product_id
                plan.save(update_fields=["stripe_product_id"])
            for price in plan.prices.all():
                price_id = f"{price.lookup_key}_{price.unit_amount}{price.currency}"
                gateway.price_ensure(
                    price_id=price_id,
                    product_id=product_id,
                    unit_amount=price.unit_amount,
                    currency=price.currency,
                    interval=price.interval,
                )
                if price.stripe_price_id != price_id:
                    price.stripe_price_id = price_id
                    price.save(update_fields=["stripe_price_id"])
                count += 1
        audit.record("billing.plans_synced", actor=actor, changes={"prices": count})
    return count


# --- Owner actions (allowed in a read-only workspace: they are how payment gets fixed) ------


@write_service(read_only_workspace_ok=True)
def card_setup_begin(*, actor: Principal) -> dict:
    """Start entering a card: the Stripe customer (made on first use) and a SetupIntent
    for Stripe.js. Returns ``{"client_secret", "id"}``; the card never reaches us."""
    tenant_id = _require_owner(actor)
    with transaction.atomic():
        account = _lock(tenant_id)
        customer_id = _ensure_customer(account, actor)
    return gateway.setup_intent_create(customer_id=customer_id)


@write_service(read_only_workspace_ok=True)
def subscription_start(
    *, actor: Principal, plan_code: str, interval: str, setup_intent_id: str
) -> BillingAccount:
    """Subscribe with the card of a confirmed SetupIntent: quantity = seats in use. The
    workspace is on the new plan at once; a declined card raises ``CardDeclined`` and
    changes nothing here."""
    tenant_id = _require_owner(actor)
    price = _price(plan_code, interval)
    with transaction.atomic():
        account = _lock(tenant_id)
        if account.stripe_subscription_id and account.status in (Status.ACTIVE, Status.PAST_DUE):
            raise ValidationError(
                _("This workspace already has a subscription: change its plan instead."),
                code="already_subscribed",
            )
        _refresh_seats(account, actor)
        _check_fits(account, price.plan)
        customer_id = _ensure_customer(account, actor)
        method = _usable_setup_intent(account, setup_intent_id)
        card = gateway.payment_method_make_default(
            customer_id=customer_id, payment_method_id=method
        )
        sub = gateway.subscription_create(
            customer_id=customer_id,
            price_id=price.stripe_price_id,
            quantity=max(1, account.seats_in_use),
        )
        _card_changed(account, card, actor)
        _apply_subscription(account, sub, actor)
        account.seats_push_due_at = None
        account.save(update_fields=["seats_push_due_at"])
        _record(
            "billing.subscription_started",
            account,
            actor,
            plan=price.plan.code,
            interval=interval,
            seats=sub["quantity"],
        )
        _apply_access(account, actor)
    return account


@write_service(read_only_workspace_ok=True)
def card_change(*, actor: Principal, setup_intent_id: str) -> BillingAccount:
    """Make the card of a confirmed SetupIntent the default; when a payment is overdue,
    pay the open invoices with it at once (a paid invoice lifts read-only at once)."""
    tenant_id = _require_owner(actor)
    with transaction.atomic():
        account = _lock(tenant_id)
        if not account.stripe_customer_id:
            raise ValidationError(_("Start a subscription first."), code="no_customer")
        method = _usable_setup_intent(account, setup_intent_id)
        card = gateway.payment_method_make_default(
            customer_id=account.stripe_customer_id, payment_method_id=method
        )
        _card_changed(account, card, actor)
        if account.status == Status.PAST_DUE:
            for invoice in gateway.open_invoices_of(customer_id=account.stripe_customer_id):
                gateway.invoice_pay(invoice_id=invoice["id"])
        _sync_locked(account, actor)
    return account


def _refresh_seats(account: BillingAccount, actor: Principal) -> None:
    """Count the seats in use now (the registered reader) before billing for them."""
    if "seats" not in _usage:
        return
    in_use = _usage["seats"][0]()
    if in_use != account.seats_in_use:
        SeatLedgerEntry.objects.create(
            account=account,
            actor=actor.audit_actor.display or actor.audit_actor.type,
            reason="billing.counted",
            seats_before=account.seats_in_use,
            seats_after=in_use,
        )
        account.seats_in_use = in_use
        account.save(update_fields=["seats_in_use", "updated_at"])


def _check_fits(account: BillingAccount, plan: Plan) -> None:
    """Refuse a plan below what the workspace uses (seats, and what others registered)."""
    problems = []
    if account.seats_in_use > plan.max_staff:
        problems.append(
            _("%(used)d seats are in use and %(plan)s allows %(limit)d")
            % {"used": account.seats_in_use, "plan": plan.name, "limit": plan.max_staff}
        )
    for name, (read, field) in sorted(_usage.items()):
        if name == "seats":
            continue
        used, limit = read(), getattr(plan, field)
        if used > limit:
            shown = filesizeformat if field.endswith("_bytes") else str
            problems.append(
                _("%(name)s in use (%(used)s) is above what %(plan)s allows (%(limit)s)")
                % {
                    "name": {"storage": _("Storage")}.get(name, name),
                    "used": shown(used),
                    "plan": plan.name,
                    "limit": shown(limit),
                }
            )
    if problems:
        raise ValidationError(
            _(
                "This plan is too small for what the workspace uses: %(problems)s. "
                "Deactivate staff or remove documents first."
            )
            % {"problems": "; ".join(problems)},
            code="plan_too_small",
        )


@write_service(read_only_workspace_ok=True)
def plan_change(*, actor: Principal, plan_code: str, interval: str) -> BillingAccount:
    """Move the subscription to another plan or period (up or down). A plan below what
    is in use (seats, storage) is refused with a clear message."""
    tenant_id = _require_owner(actor)
    price = _price(plan_code, interval)
    with transaction.atomic():
        account = _lock(tenant_id)
        if not account.stripe_subscription_id or account.status == Status.CANCELED:
            raise ValidationError(_("Start a subscription first."), code="no_subscription")
        if account.plan_id == price.plan_id and account.interval == interval:
            return account
        _refresh_seats(account, actor)
        _check_fits(account, price.plan)
        current = gateway.subscription_get(subscription_id=account.stripe_subscription_id)
        sub = gateway.subscription_update(
            subscription_id=current["id"],
            item_id=current["item_id"],
            price_id=price.stripe_price_id,
            quantity=max(1, account.seats_in_use),
        )
        _apply_subscription(account, sub, actor)
        _apply_access(account, actor)
    return account


@write_service(read_only_workspace_ok=True)
def subscription_cancel(*, actor: Principal) -> BillingAccount:
    """Cancel at the end of the paid period (resumable until then)."""
    return _set_cancel(actor, True)


@write_service(read_only_workspace_ok=True)
def subscription_resume(*, actor: Principal) -> BillingAccount:
    """Withdraw a cancellation at the end of the period."""
    return _set_cancel(actor, False)


def _set_cancel(actor: Principal, cancel: bool) -> BillingAccount:
    tenant_id = _require_owner(actor)
    with transaction.atomic():
        account = _lock(tenant_id)
        if not account.stripe_subscription_id or account.status == Status.CANCELED:
            raise ValidationError(_("There is no subscription to change."), code="no_subscription")
        if account.cancel_at_period_end == cancel:
            return account
        sub = gateway.subscription_update(
            subscription_id=account.stripe_subscription_id, cancel_at_period_end=cancel
        )
        _apply_subscription(account, sub, actor)
        _record(
            "billing.cancel_scheduled" if cancel else "billing.cancel_withdrawn", account, actor
        )
    return account


# --- Seats ------------------------------------------------------------------------------------


@write_service(read_only_workspace_ok=True)
def seats_record(*, actor: Principal, tenant_id: int, in_use: int, reason: str) -> None:
    """The workspace now uses ``in_use`` seats (called by accounts' staff services inside
    their transaction). Appends to the ledger, and opens a debounce window: the
    subscription's quantity follows once, ``BILLING_SEAT_DEBOUNCE_SECONDS`` after the
    first change of a burst. The row lock serialises concurrent staff changes."""
    account = _lock(tenant_id)
    if account.seats_in_use == in_use:
        return
    before = account.seats_in_use
    SeatLedgerEntry.objects.create(
        account=account,
        actor=actor.audit_actor.display or actor.audit_actor.type,
        reason=reason[:64],
        seats_before=before,
        seats_after=in_use,
    )
    account.seats_in_use = in_use
    opened = account.seats_push_due_at is None
    if opened:
        account.seats_push_due_at = _now() + timedelta(
            seconds=settings.BILLING_SEAT_DEBOUNCE_SECONDS
        )
    account.save(update_fields=["seats_in_use", "seats_push_due_at", "updated_at"])
    # Not an audit event of its own: the staff change that caused it is one, and the
    # ledger entry records its effect; Stripe's quantity changing is billing.seats_pushed.
    if opened and account.stripe_subscription_id:
        task = queue.task("billing.tasks.push_seats")
        countdown = settings.BILLING_SEAT_DEBOUNCE_SECONDS
        transaction.on_commit(lambda: _publish(task, tenant_id, countdown))


def _publish(task, tenant_id: int, countdown: int) -> None:
    try:
        task.apply_async(kwargs={"tenant_id": tenant_id}, countdown=countdown)
    except Exception:  # the broker is away: the periodic sweep pushes it
        logger.warning("billing: could not queue the seat push of tenant %s", tenant_id)


@write_service
def seats_push(*, actor: Principal, tenant_id: int, force: bool = False) -> bool:
    """Send the seats in use to Stripe as the subscription's quantity, once the debounce
    window has passed (``force``: now). True when Stripe was updated. When Stripe is
    away, the ledger keeps the change and ``GatewayError`` is raised after the attempt
    is counted: the task retries, the sweep tries again."""
    failure: GatewayError | None = None
    with transaction.atomic():
        account = _lock(tenant_id)
        due = account.seats_push_due_at
        if due is None or (due > _now() and not force):
            return False
        live = account.stripe_subscription_id and account.status != Status.CANCELED
        if not live or account.seats_billed == max(1, account.seats_in_use):
            account.seats_push_due_at = None
            account.seats_push_attempts = 0
            account.save(update_fields=["seats_push_due_at", "seats_push_attempts"])
            return False
        try:
            current = gateway.subscription_get(subscription_id=account.stripe_subscription_id)
            sub = gateway.subscription_update(
                subscription_id=current["id"],
                item_id=current["item_id"],
                quantity=max(1, account.seats_in_use),
            )
        except GatewayError as error:
            failure = error
            account.seats_push_attempts += 1
            account.save(update_fields=["seats_push_attempts"])
        else:
            billed_before = account.seats_billed
            account.seats_push_due_at = None
            account.seats_push_attempts = 0
            account.save(update_fields=["seats_push_due_at", "seats_push_attempts"])
            _apply_subscription(account, sub, actor)
            _record(
                "billing.seats_pushed",
                account,
                actor,
                billed_before=billed_before,
                billed_after=sub["quantity"],
            )
    if failure is not None:
        raise failure
    return True


# --- Vendor (the console calls these) -----------------------------------------------------------


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Give a reason."), code="reason_required")
    return reason


@write_service
def trial_extend(
    *, actor: Principal, tenant_id: int, until: datetime, reason: str
) -> BillingAccount:
    """Extend (or shorten) the workspace's trial to ``until``; lifts ``trial_ended`` when
    the new end is in the future. Vendor role ``billing``; reason required."""
    require_vendor_role(actor, "billing")
    reason = _reason(reason)
    with transaction.atomic():
        account = _lock(tenant_id)
        if account.status != Status.TRIALING:
            raise ValidationError(_("This workspace is not on a trial."), code="not_trialing")
        before = account.trial_ends_at
        account.trial_ends_at = until
        account.save(update_fields=["trial_ends_at", "updated_at"])
        _record(
            "billing.trial_extended",
            account,
            actor,
            trial_ends_at={
                "before": before.isoformat() if before else None,
                "after": until.isoformat(),
            },
            until=until.date().isoformat(),
            reason=reason,
        )
        _apply_access(account, actor)
    return account


@write_service
def plan_comp(
    *, actor: Principal, tenant_id: int, plan_code: str, until: datetime, reason: str
) -> BillingAccount:
    """Give the workspace ``plan_code`` free of charge until ``until`` (full access, the
    plan's limits). Vendor role ``billing``; reason required. When it ends the
    account follows its subscription, or its ended trial."""
    require_vendor_role(actor, "billing")
    reason = _reason(reason)
    plan = Plan.objects.filter(code=plan_code).first()
    if plan is None:
        raise ValidationError(_("Unknown plan."), code="unknown_plan")
    with transaction.atomic():
        account = _lock(tenant_id)
        before = account.plan.code
        _set_plan(account, plan, actor)
        account.comp_until = until
        account.save(update_fields=["plan", "comp_until", "updated_at"])
        _record(
            "billing.plan_comped",
            account,
            actor,
            plan=plan.code,
            plan_before=before,
            until=until.date().isoformat(),
            reason=reason,
        )
        _apply_access(account, actor)
    return account


# --- Webhooks -----------------------------------------------------------------------------------


def _refuse(actor: Principal, why: str) -> WebhookRefused:
    # Its own transaction: the refusal is kept whatever the request does next.
    with transaction.atomic():
        audit.record("billing.webhook_refused", actor=actor, changes={"why": why})
    return WebhookRefused(why)


def _customer_of(obj: dict) -> str:
    if obj.get("object") == "customer":
        return str(obj.get("id") or "")
    customer = obj.get("customer")
    if isinstance(customer, dict):
        customer = customer.get("id")
    return str(customer or "")


_INSERT_EVENT = (
    f"INSERT INTO {WebhookEvent._meta.db_table} "  # noqa: S608 - the model's table, not input
    "(event_id, type, stripe_created, customer_id, payload, "
    "status, flagged, attempts, last_error, received_at) "
    "VALUES (%s, %s, %s, %s, %s::jsonb, %s, false, 0, '', now()) "
    "ON CONFLICT (event_id) DO NOTHING RETURNING id"
)


@write_service
def webhook_receive(*, actor: Principal, payload: bytes, signature: str) -> int | None:
    """Verify and store one delivery; wake the dispatch after commit. Returns the
    new event's id, or None for a duplicate (acknowledged, nothing done). Raises
    ``WebhookRefused`` (audited) for a forged, stale or malformed body."""
    try:
        gateway.webhook_verify(
            payload=payload,
            signature=signature,
            secret=settings.STRIPE_WEBHOOK_SECRET,
            tolerance=settings.BILLING_WEBHOOK_TOLERANCE,
        )
    except SignatureError as error:
        reason = "stale" if "tolerance" in str(error).lower() else "signature"
        raise _refuse(actor, reason) from None
    try:
        event = json.loads(payload)
        event_id, event_type = str(event["id"]), str(event["type"])
        obj = event["data"]["object"]
        created = int(event.get("created") or 0)
        if not event_id.startswith("evt_") or not isinstance(obj, dict):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise _refuse(actor, "malformed") from None
    # INSERT ... ON CONFLICT DO NOTHING: a concurrent duplicate waits for our commit,
    # then inserts nothing; only the delivery that inserted queues the processing. One
    # statement, so no transaction of its own: in autocommit it is committed when it
    # returns (one round trip, not BEGIN/INSERT/COMMIT) and on_commit runs at once;
    # inside a caller's transaction, the queueing waits for that commit.
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_EVENT,
            [
                event_id,
                event_type[:100],
                created,
                _customer_of(obj)[:255],
                payload.decode("utf-8"),
                WebhookEvent.Status.RECEIVED,
            ],
        )
        inserted = cursor.fetchone()
    if inserted is None:
        return None
    pk = inserted[0]
    transaction.on_commit(lambda: _wake_dispatch(pk))
    return pk  # not a model instance: the intake's caller needs none (bench/billing.py)


_DISPATCH_TASK = "billing.tasks.dispatch_webhook_events"


def _wake_dispatch(pk: int) -> None:
    """After the delivery's commit: make sure a dispatch looks for stored deliveries
    after it. Queued only when no dispatch is waiting (``dispatch_flag``). If the broker
    refuses, this delivery's row is removed again (still ``received``: nothing ran) and
    the error goes up: the delivery gets a 5xx, and Stripe's retry stores it afresh
    instead of being taken for a duplicate. Deliveries that relied on the refused
    dispatch meanwhile stay stored: the next delivery or the beat's sweep queues them."""
    if not dispatch_flag.claim():
        return
    try:
        queue.task(_DISPATCH_TASK).delay()
    except Exception:
        dispatch_flag.release()
        WebhookEvent.objects.filter(pk=pk, status=WebhookEvent.Status.RECEIVED).delete()
        raise


DISPATCH_BATCH = 500


@write_service
def webhook_dispatch(*, actor: Principal, batch: int = DISPATCH_BATCH) -> int:
    """Queue one processing task per stored delivery that has none yet (``received`` →
    ``queued``), and again for one whose task was queued, or whose retry after a failed
    attempt was due, ``BILLING_WEBHOOK_REQUEUE_AFTER`` seconds ago and never ran (its
    message lost; processing is idempotent, so a slow one run twice changes nothing);
    returns how many. Clears the wake-up flag first, so a delivery that commits after
    this looks queues the next dispatch. A full batch queues the next dispatch at once;
    deliveries whose task the broker refused go back to ``received`` (and the error goes
    up: the task or the beat's sweep runs this again). Queue bookkeeping, not a change
    to any account: no audit event (``webhook_process`` records what the event did)."""
    dispatch_flag.release()
    now = _now()
    lost = now - timedelta(seconds=settings.BILLING_WEBHOOK_REQUEUE_AFTER)
    with transaction.atomic():
        rows = list(
            WebhookEvent.objects.select_for_update(skip_locked=True)
            .filter(
                Q(status=WebhookEvent.Status.RECEIVED)
                # Queued, or failed with a retry due: that long ago, the message is lost.
                | Q(
                    status__in=[WebhookEvent.Status.QUEUED, WebhookEvent.Status.FAILED],
                    queued_at__lt=lost,
                )
            )
            .order_by("id")
            .values_list("pk", "event_id")[:batch]
        )
        WebhookEvent.objects.filter(pk__in=[pk for pk, _ in rows]).update(
            status=WebhookEvent.Status.QUEUED, queued_at=now
        )
    task = queue.task("billing.tasks.process_webhook_event")
    queued = 0
    try:
        for _pk, event_id in rows:
            task.delay(event_id=event_id)
            queued += 1
        if len(rows) == batch:
            queue.task(_DISPATCH_TASK).delay()
    finally:
        if queued < len(rows):
            WebhookEvent.objects.filter(
                pk__in=[pk for pk, _ in rows[queued:]], status=WebhookEvent.Status.QUEUED
            ).update(status=WebhookEvent.Status.RECEIVED, queued_at=None)
    return queued


@write_service
def webhook_process(*, actor: Principal, event_id: str, retry_in: int | None = None) -> str:
    """Apply one stored event (idempotent): the payload names the customer; its current
    state is fetched from Stripe and applied under the account's row lock. Returns the
    event's final status. A Stripe failure is recorded (``failed``) and raised: the
    caller's retry comes in ``retry_in`` seconds, kept as the row's ``queued_at`` so the
    dispatch's sweep queues it again if that retry never runs; None (no retry coming:
    the task's last attempt, or a direct call) leaves it to the reconciliation."""
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().filter(event_id=event_id).first()
        if event is None or event.status in (
            WebhookEvent.Status.PROCESSED,
            WebhookEvent.Status.IGNORED,
            WebhookEvent.Status.UNMATCHED,
        ):
            return event.status if event else "missing"
        event.attempts += 1
        if not event.customer_id:
            event.status = WebhookEvent.Status.IGNORED
            event.processed_at = _now()
            event.save(update_fields=["status", "attempts", "processed_at"])
            return event.status
        account = BillingAccount.objects.filter(stripe_customer_id=event.customer_id).first()
        if account is None:
            event.status = WebhookEvent.Status.UNMATCHED
            event.flagged = True
            event.processed_at = _now()
            event.save(update_fields=["status", "flagged", "attempts", "processed_at"])
            audit.record(
                "billing.webhook_unmatched",
                actor=actor,
                target=("billing.webhookevent", event.pk, event.event_id),
                changes={"type": event.type, "customer": event.customer_id},
            )
            return event.status
        try:
            with transaction.atomic():
                locked = _lock(account.tenant_id)
                _sync_locked(locked, actor)
                _record(
                    "billing.webhook_processed",
                    locked,
                    actor,
                    type=event.type,
                    event=event.event_id,
                )
        except GatewayError as error:
            event.status = WebhookEvent.Status.FAILED
            event.last_error = str(error)[:1000]
            event.queued_at = None if retry_in is None else _now() + timedelta(seconds=retry_in)
            event.save(update_fields=["status", "attempts", "last_error", "queued_at"])
            failure = error
        else:
            event.status = WebhookEvent.Status.PROCESSED
            event.processed_at = _now()
            event.last_error = ""
            event.save(update_fields=["status", "attempts", "processed_at", "last_error"])
            return event.status
    raise failure


# --- Periodic ------------------------------------------------------------------------------------


@write_service
def deadlines_enforce(*, actor: Principal) -> dict[str, int]:
    """What time alone changes: trials and grace periods that ended, comps that ran out,
    seat pushes that are due (also those Stripe refused while it was down). Makes the
    missing billing accounts first. Returns counts."""
    now = _now()
    for tenant in tenant_selectors.active_tenants().filter(billing_account__isnull=True):
        account_ensure(tenant_id=tenant.pk)
    counts = {"access_checked": 0, "seats_pushed": 0, "seats_failed": 0}
    # Only the accounts whose access may have to change: a trial that ended, a payment
    # overdue, a cancellation, a comp that ran out.
    candidates = BillingAccount.objects.filter(
        Q(status=Status.TRIALING, trial_ends_at__lte=now)
        | Q(status__in=[Status.PAST_DUE, Status.CANCELED])
        | Q(comp_until__lte=now)
    ).values_list("tenant_id", flat=True)
    for tenant_id in candidates:
        with transaction.atomic():
            account = _lock(tenant_id)
            if account.comp_until and account.comp_until <= now:
                account.comp_until = None
                if not account.stripe_subscription_id:
                    _set_plan(account, _trial_plan(), actor)
                account.save(update_fields=["comp_until", "plan", "updated_at"])
            _apply_access(account, actor)
        counts["access_checked"] += 1
    due = BillingAccount.objects.filter(seats_push_due_at__lte=now).values_list(
        "tenant_id", flat=True
    )
    for tenant_id in due:
        try:
            counts["seats_pushed"] += int(seats_push(actor=actor, tenant_id=tenant_id))
        except GatewayError:
            counts["seats_failed"] += 1
    return counts


@write_service
def reconcile_all(*, actor: Principal) -> dict[str, int]:
    """Sync every account that has a Stripe customer (the hourly repair of missed
    webhooks); returns ``{"accounts", "drift", "errors"}`` and logs the drift."""
    result = {"accounts": 0, "drift": 0, "errors": 0}
    ids = BillingAccount.objects.exclude(stripe_customer_id=None).values_list(
        "tenant_id", flat=True
    )
    for tenant_id in ids:
        result["accounts"] += 1
        try:
            with transaction.atomic():
                if _sync_locked(_lock(tenant_id), actor):
                    result["drift"] += 1
                    logger.warning("billing drift repaired for tenant %s", tenant_id)
        except GatewayError:
            result["errors"] += 1
    with transaction.atomic():
        audit.record("billing.reconciled", actor=actor, changes=result)
    return result
