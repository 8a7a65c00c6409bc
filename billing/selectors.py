"""Billing's reads: plans, a workspace's billing summary, the owner's overview."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from . import gateway
from .gateway import GatewayError
from .models import BillingAccount, Plan, Price, SeatLedgerEntry, WebhookEvent

logger = logging.getLogger(__name__)


def default_plan() -> Plan:
    """The plan a new workspace starts on (the trial)."""
    return Plan.objects.get(is_default=True)


def plan_for(tenant) -> Plan:
    """The tenant's plan as the database has it now (the default plan when it has none).
    Billing keeps it equal to what the workspace pays for or was given.

    Read by the tenant's id, never from ``tenant.plan_id``: a request's tenant is
    built from the routing cache and carries no plan, and a plan change must
    apply to the very next request.
    """
    return Plan.objects.filter(tenants__pk=tenant.pk).first() or default_plan()


def public_plans() -> list[Plan]:
    """The plans on sale, each with its ``prices`` prefetched (pricing and billing pages)."""
    return list(Plan.objects.filter(is_public=True).prefetch_related("prices"))


def stripe_js_url() -> str:
    """Where the card page loads Stripe.js: js.stripe.com, or the emulator's copy."""
    return settings.STRIPE_JS_URL


def publishable_key() -> str:
    return settings.STRIPE_PUBLISHABLE_KEY


@dataclass(frozen=True)
class Summary:
    """What the vendor console's fleet list shows of a workspace's billing."""

    tenant_id: int
    plan_code: str
    plan_name: str
    status: str
    interval: str
    seats_in_use: int
    seats_billed: int
    trial_ends_at: datetime | None
    comp_until: datetime | None
    customer_id: str
    past_due_since: datetime | None
    cancel_at_period_end: bool


def _summary(account: BillingAccount) -> Summary:
    return Summary(
        tenant_id=account.tenant_id,
        plan_code=account.plan.code,
        plan_name=account.plan.name,
        status=account.status,
        interval=account.interval,
        seats_in_use=account.seats_in_use,
        seats_billed=account.seats_billed,
        trial_ends_at=account.trial_ends_at,
        comp_until=account.comp_until,
        customer_id=account.stripe_customer_id or "",
        past_due_since=account.past_due_since,
        cancel_at_period_end=account.cancel_at_period_end,
    )


def billing_summary(tenant_id: int) -> Summary | None:
    """One workspace's billing (None before its account exists: a trial from creation)."""
    account = BillingAccount.objects.select_related("plan").filter(tenant_id=tenant_id).first()
    return _summary(account) if account else None


def billing_summaries(tenant_ids: list[int] | None = None) -> dict[int, Summary]:
    """Many workspaces' billing in one query, by tenant id (the console's fleet list)."""
    accounts = BillingAccount.objects.select_related("plan")
    if tenant_ids is not None:
        accounts = accounts.filter(tenant_id__in=tenant_ids)
    return {a.tenant_id: _summary(a) for a in accounts}


BILLING_STATUSES = BillingAccount.Status.choices


def tenant_ids(
    *, status: str = "", trial_ends_before: datetime | None = None, customer_id: str = ""
):
    """The ids of the workspaces whose billing matches, as a subquery (``values``): the
    console's fleet filters on it in the same SQL statement."""
    accounts = BillingAccount.objects.all()
    if status:
        accounts = accounts.filter(status=status)
    if trial_ends_before is not None:
        accounts = accounts.filter(
            status=BillingAccount.Status.TRIALING, trial_ends_at__lt=trial_ends_before
        )
    if customer_id:
        accounts = accounts.filter(stripe_customer_id=customer_id)
    return accounts.values("tenant_id")


def account_of(tenant_id: int) -> BillingAccount | None:
    return BillingAccount.objects.select_related("plan").filter(tenant_id=tenant_id).first()


def seat_ledger(tenant_id: int, limit: int = 50) -> list[SeatLedgerEntry]:
    return list(
        SeatLedgerEntry.objects.filter(account__tenant_id=tenant_id).order_by("-pk")[:limit]
    )


def flagged_webhook_events(limit: int = 100) -> list[WebhookEvent]:
    """Events that need a human: unknown customer, or failed."""
    return list(WebhookEvent.objects.filter(flagged=True).order_by("-pk")[:limit])


@dataclass
class Overview:
    """The owner's billing page: our account plus what Stripe says now."""

    account: BillingAccount
    plans: list[Plan]
    invoices: list[dict] = field(default_factory=list)
    upcoming: dict | None = None
    stripe_error: str = ""

    @property
    def trial_days_left(self) -> int | None:
        ends = self.account.trial_ends_at
        if self.account.status != BillingAccount.Status.TRIALING or ends is None:
            return None
        return max(0, (ends - timezone.now()).days)


def overview(account: BillingAccount) -> Overview:
    """The billing page's data for ``account`` (the caller makes it first:
    ``services.account_ensure``). Stripe being away shows as ``stripe_error``, not a 500."""
    data = Overview(account=account, plans=public_plans())
    if account.stripe_customer_id:
        try:
            data.invoices = gateway.invoices_of(customer_id=account.stripe_customer_id)
            if account.stripe_subscription_id and account.status != account.Status.CANCELED:
                data.upcoming = gateway.invoice_preview(
                    customer_id=account.stripe_customer_id,
                    subscription_id=account.stripe_subscription_id,
                )
        except GatewayError as error:
            data.stripe_error = str(error)
    return data


NOTICE_TTL = 60


def notice_key(tenant_id: int) -> str:
    return f"billing:notice:{tenant_id}"


def notice(tenant_id: int) -> dict:
    """The banner's facts (trial days left, payment overdue), cached per workspace for
    ``NOTICE_TTL`` seconds and forgotten when the account changes: no query per page."""
    key = notice_key(tenant_id)
    try:
        cached = cache.get(key)
    except Exception:  # Redis away: read the row
        cached = None
    if cached is not None:
        return cached
    account = (
        BillingAccount.objects.filter(tenant_id=tenant_id)
        .only("status", "trial_ends_at", "past_due_since", "comp_until")
        .first()
    )
    facts: dict = {"trial_days_left": None, "past_due": False}
    if account is not None:
        now = timezone.now()
        if account.status == BillingAccount.Status.TRIALING and account.trial_ends_at:
            facts["trial_days_left"] = max(0, (account.trial_ends_at - now).days)
        if account.status == BillingAccount.Status.PAST_DUE:
            facts["past_due"] = True
    try:
        cache.set(key, facts, NOTICE_TTL)
    except Exception:
        logger.debug("billing notice not cached")
    return facts


__all__ = [
    "Overview",
    "Price",
    "Summary",
    "account_of",
    "billing_summaries",
    "billing_summary",
    "default_plan",
    "flagged_webhook_events",
    "notice",
    "overview",
    "plan_for",
    "public_plans",
    "publishable_key",
    "seat_ledger",
    "stripe_js_url",
]
