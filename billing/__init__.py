"""Billing: plans (limits now, Stripe prices later), subscriptions, webhooks, seat sync.

Public face: ``billing.selectors.plan_for(tenant)`` and ``billing.selectors.default_plan()``.
"""
