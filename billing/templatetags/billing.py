"""Template helpers of the billing pages: amounts in cents, Stripe's timestamps."""

from datetime import UTC, datetime

from django import template
from django.utils.formats import number_format

register = template.Library()

SYMBOLS = {"eur": "€", "usd": "$", "gbp": "£"}


@register.simple_tag
def money(cents: int | None, currency: str = "eur") -> str:
    """``1500, "eur"`` → ``15.00 €`` (the number in the active language's format)."""
    amount = number_format((cents or 0) / 100, decimal_pos=2, use_l10n=True)
    return f"{amount} {SYMBOLS.get((currency or '').lower(), (currency or '').upper())}"


@register.simple_tag
def price_of(plan, interval: str) -> str:
    for price in plan.prices.all():
        if price.interval == interval:
            return money(price.unit_amount, price.currency)
    return "-"


@register.filter
def from_timestamp(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if value else None
