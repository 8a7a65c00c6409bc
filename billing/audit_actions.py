"""The audit actions of billing: plans, subscriptions, seats, cards, webhooks, trials."""

from django.utils.translation import gettext_lazy as _

from audit.registry import declare

declare(
    "billing.plans_synced",
    target="",
    description=_("The plans and their prices were created or updated in Stripe."),
    sentence=_("%(actor)s synced %(prices)s prices of the plans to Stripe"),
)
declare(
    "billing.customer_created",
    target="tenants.tenant",
    description=_("The workspace became a customer of the payment provider."),
    sentence=_("%(actor)s registered the workspace with the payment provider"),
)
declare(
    "billing.subscription_started",
    target="tenants.tenant",
    description=_("A paid subscription started."),
    sentence=_("%(actor)s subscribed to %(plan)s (%(interval)s) for %(seats)s seats"),
)
declare(
    "billing.plan_changed",
    target="tenants.tenant",
    description=_("The workspace's plan or billing period changed."),
    sentence=_("%(actor)s changed the plan from %(plan_before)s to %(plan_after)s"),
)
declare(
    "billing.cancel_scheduled",
    target="tenants.tenant",
    description=_("The subscription was set to end with the current billing period."),
    sentence=_("%(actor)s canceled the subscription at the end of the billing period"),
)
declare(
    "billing.cancel_withdrawn",
    target="tenants.tenant",
    description=_("A cancellation at the end of the period was withdrawn."),
    sentence=_("%(actor)s resumed the subscription"),
)
declare(
    "billing.card_changed",
    target="tenants.tenant",
    description=_("The card on file changed (brand and last four digits only)."),
    sentence=_("%(actor)s changed the card on file to %(brand)s ending in %(last4)s"),
)
declare(
    "billing.status_changed",
    target="tenants.tenant",
    description=_("The subscription's state changed (as the payment provider reports it)."),
    sentence=_("The billing state changed from %(status_before)s to %(status_after)s"),
)
declare(
    "billing.payment_failed",
    target="tenants.tenant",
    description=_("A renewal payment failed: the owners were emailed, the grace period began."),
    sentence=_("A payment failed; the workspace becomes read-only after %(grace_days)s days"),
)
declare(
    "billing.seats_pushed",
    target="tenants.tenant",
    description=_("The subscription's quantity was brought to the seats in use."),
    sentence=_("Seats billed changed from %(billed_before)s to %(billed_after)s"),
)
declare(
    "billing.webhook_processed",
    target="",
    description=_("A payment provider event was applied (the current state was fetched)."),
    sentence=_("%(actor)s processed the payment provider event %(type)s"),
)
declare(
    "billing.webhook_refused",
    target="",
    description=_("A webhook request was refused: bad signature, stale or malformed."),
    sentence=_("A webhook request was refused: %(why)s"),
)
declare(
    "billing.webhook_unmatched",
    target="",
    description=_("A payment provider event named a customer we do not know: stored, flagged."),
    sentence=_("The event %(type)s names an unknown customer; it was stored and flagged"),
)
declare(
    "billing.reconciled",
    target="",
    description=_("Every live subscription was synced from the payment provider."),
    sentence=_("%(actor)s reconciled %(accounts)s billing accounts (%(drift)s drifted)"),
)
declare(
    "billing.trial_extended",
    target="tenants.tenant",
    description=_("The vendor extended the workspace's trial."),
    sentence=_("%(actor)s extended the trial until %(until)s: %(reason)s"),
)
declare(
    "billing.plan_comped",
    target="tenants.tenant",
    description=_("The vendor gave the workspace a plan free of charge until a date."),
    sentence=_("%(actor)s gave the plan %(plan)s free until %(until)s: %(reason)s"),
)
