"""Billing's background work: webhook processing, seat pushes, deadlines, reconciliation.

Every task acknowledges late (a worker that dies mid-task leaves it on the queue) and
is idempotent: the services apply Stripe's current state under the account's row lock.
"""

from celery import shared_task

from core.principal import system

from . import services
from .gateway import GatewayError

# 10 s, doubling, at most 10 minutes (below the broker's visibility timeout).
RETRY_FIRST_S = 10
RETRY_MAX_S = 600
MAX_RETRIES = 12

STRIPE = system("stripe webhook")
BILLING = system("billing")


def _backoff(retries: int) -> int:
    return min(RETRY_MAX_S, RETRY_FIRST_S * 2**retries)


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=MAX_RETRIES)
def process_webhook_event(self, event_id: str) -> str:
    """Apply one stored Stripe event; retried with backoff while Stripe is away (the row
    knows when the retry is due, so a lost retry message is queued again)."""
    retries = self.request.retries
    retry_in = _backoff(retries) if retries < self.max_retries else None
    try:
        return services.webhook_process(actor=STRIPE, event_id=event_id, retry_in=retry_in)
    except GatewayError as error:
        if retry_in is None:
            raise
        raise self.retry(exc=error, countdown=retry_in) from error


@shared_task(acks_late=True, ignore_result=True)
def dispatch_webhook_events() -> int:
    """Queue the processing of stored deliveries (woken by the intake; every minute by
    the beat as a sweep)."""
    return services.webhook_dispatch(actor=STRIPE)


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=MAX_RETRIES)
def push_seats(self, tenant_id: int) -> bool:
    """Send the seats in use to Stripe once the debounce window has passed."""
    try:
        return services.seats_push(actor=BILLING, tenant_id=tenant_id)
    except GatewayError as error:
        raise self.retry(exc=error, countdown=_backoff(self.request.retries)) from error


@shared_task(acks_late=True, ignore_result=True)
def enforce_deadlines() -> dict:
    """Trials and grace periods that ended, comps that ran out, due seat pushes."""
    return services.deadlines_enforce(actor=BILLING)


@shared_task(acks_late=True, ignore_result=True)
def reconcile() -> dict:
    """Hourly: sync every live subscription from Stripe and report the drift."""
    return services.reconcile_all(actor=BILLING)
