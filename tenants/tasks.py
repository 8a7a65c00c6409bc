"""Background work of the tenants module."""

from celery import shared_task

from core.principal import SYSTEM


@shared_task(acks_late=True, ignore_result=True)
def refill_spare_pool() -> int:
    """Keep the pool of pre-migrated spare schemas topped up. Idempotent."""
    from .services import spare_pool_refill

    return spare_pool_refill(actor=SYSTEM)
