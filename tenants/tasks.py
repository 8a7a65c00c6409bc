"""Background work of the tenants module."""

from celery import shared_task

from . import pool


@shared_task(acks_late=True, ignore_result=True)
def refill_spare_pool() -> int:
    """Keep the pool of pre-migrated spare schemas topped up. Idempotent."""
    return pool.refill()


@shared_task(acks_late=True, ignore_result=True)
def email_workspace_links(email: str) -> int:
    """Mail ``email`` the links of its workspaces; nothing when it has none."""
    from .notifications import send_workspace_links

    return send_workspace_links(email)
