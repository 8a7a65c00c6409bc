"""Billing's rows, all in the public schema.

- ``Plan`` and ``Price``: what a workspace may do and what it costs (data, synced to
  Stripe by ``manage.py sync_plans``).
- ``BillingAccount``: one per workspace, the truth about its plan, subscription,
  trial and seats. Every change to it happens under ``select_for_update`` on its row.
- ``SeatLedgerEntry``: append-only history of seats in use (who, when, from, to).
- ``WebhookEvent``: each Stripe event once (unique event id), with its processing state.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Plan(models.Model):
    code = models.SlugField(unique=True)
    name = models.CharField(_("name"), max_length=100)
    max_staff = models.PositiveIntegerField(_("active staff (seats)"))
    storage_quota_bytes = models.BigIntegerField(_("storage quota in bytes"))
    max_upload_bytes = models.BigIntegerField(_("largest file in bytes"))
    # The integration API's rate limit for each OAuth2 grant of a workspace on this plan.
    api_requests_per_minute = models.PositiveIntegerField(
        _("API requests per minute"), default=600, db_default=600
    )
    is_default = models.BooleanField(default=False)
    # Sold on the pricing page and the billing page (the trial is not: it is where
    # every workspace starts).
    is_public = models.BooleanField(default=False)
    # Stripe's product for this plan (made by ``sync_plans``).
    stripe_product_id = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["max_staff"]

    def __str__(self) -> str:
        return self.name


class Price(models.Model):
    """A plan's price per seat for one billing period (a Stripe plan id once synced)."""

    class Interval(models.TextChoices):
        MONTH = "month", _("monthly")
        YEAR = "year", _("yearly")

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="prices")
    interval = models.CharField(max_length=5, choices=Interval.choices)
    unit_amount = models.PositiveIntegerField(_("price per seat in cents"))
    currency = models.CharField(max_length=3, default="eur")
    stripe_price_id = models.CharField(max_length=255, blank=True, db_index=True)

    class Meta:
        ordering = ["plan__max_staff", "interval"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "interval"], name="billing_price_per_interval")
        ]

    def __str__(self) -> str:
        return f"{self.plan.code}/{self.interval}"

    @property
    def lookup_key(self) -> str:
        """The id this price has in Stripe when we choose it (``sync_plans``)."""
        return f"atrium_{self.plan.code}_{self.interval}"


class BillingAccount(models.Model):
    """The billing state of one workspace. See billing/README.md for the state machine."""

    class Status(models.TextChoices):
        TRIALING = "trialing", _("Trial")
        ACTIVE = "active", _("Active")
        PAST_DUE = "past_due", _("Payment overdue")
        CANCELED = "canceled", _("Canceled")

    tenant = models.OneToOneField(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="billing_account"
    )
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="accounts")
    interval = models.CharField(max_length=5, choices=Price.Interval.choices, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.TRIALING)
    trial_ends_at = models.DateTimeField(null=True, blank=True)
    # A vendor's complimentary plan: full access on ``plan`` until then, no charge.
    comp_until = models.DateTimeField(null=True, blank=True)

    stripe_customer_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    stripe_subscription_id = models.CharField(max_length=255, blank=True)
    stripe_status = models.CharField(max_length=32, blank=True)  # Stripe's own word
    current_period_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    past_due_since = models.DateTimeField(null=True, blank=True)

    card_brand = models.CharField(max_length=32, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    card_exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    card_exp_year = models.PositiveSmallIntegerField(null=True, blank=True)

    # Seats: in use (ours, from the ledger) and billed (the subscription's quantity).
    seats_in_use = models.PositiveIntegerField(default=0)
    seats_billed = models.PositiveIntegerField(default=0)
    # Debounce: a change opens a window; the push after it sends one update.
    seats_push_due_at = models.DateTimeField(null=True, blank=True)
    seats_push_attempts = models.PositiveIntegerField(default=0)

    synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tenant_id"]

    def __str__(self) -> str:
        return f"billing of tenant {self.tenant_id}"


class AppendOnlyError(Exception):
    """A ledger row is never changed or deleted."""


class SeatLedgerEntry(models.Model):
    """One change of the seats a workspace uses (Zulip's LicenseLedger, in spirit)."""

    account = models.ForeignKey(BillingAccount, on_delete=models.CASCADE, related_name="ledger")
    at = models.DateTimeField(auto_now_add=True)
    actor = models.CharField(max_length=254)  # the audit actor's display
    reason = models.CharField(max_length=64)  # the audit action that caused it
    seats_before = models.PositiveIntegerField()
    seats_after = models.PositiveIntegerField()

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["account", "at"])]

    def __str__(self) -> str:
        return f"{self.seats_before} -> {self.seats_after} ({self.reason})"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise AppendOnlyError("seat ledger entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("seat ledger entries are append-only")


class WebhookEvent(models.Model):
    """A Stripe event as delivered, stored once (``event_id`` is unique)."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("received")
        QUEUED = "queued", _("queued")  # its processing task is on the broker
        PROCESSED = "processed", _("processed")
        IGNORED = "ignored", _("ignored")
        UNMATCHED = "unmatched", _("unknown customer")
        FAILED = "failed", _("failed")

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    stripe_created = models.BigIntegerField()
    customer_id = models.CharField(max_length=255, blank=True, db_index=True)
    payload = models.JSONField()
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.RECEIVED, db_index=True
    )
    flagged = models.BooleanField(default=False)  # needs a human (unknown customer)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # When its task was last queued, or (failed) when its retry is due; None: none coming.
    queued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"
