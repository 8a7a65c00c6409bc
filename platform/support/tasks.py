"""Periodic work of support sessions (scheduled in ``CELERY_BEAT_SCHEDULE``)."""

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def expire_sessions() -> int:
    """End the running sessions past a limit or their consent (every minute)."""
    from core.principal import SYSTEM

    from .services import support_sessions_expire

    return support_sessions_expire(actor=SYSTEM)
