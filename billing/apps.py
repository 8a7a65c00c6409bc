"""Billing: plans and prices, trials, Stripe subscriptions, seats that follow staff,
exactly-once webhooks, dunning to read-only. See billing/README.md.

Public face: ``billing.services`` (writes) and ``billing.selectors`` (reads).
"""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Billing")

    def ready(self) -> None:
        from . import audit_actions  # noqa: F401 - declares the actions
