"""Background work of the tenants module."""

from celery import shared_task
from django.conf import settings

from core import outbox

from . import pool
from .selectors import public_url, workspace_url, workspaces_for_email


@shared_task(acks_late=True, ignore_result=True)
def refill_spare_pool() -> int:
    """Keep the pool of pre-migrated spare schemas topped up. Idempotent."""
    return pool.refill()


@shared_task(**outbox.TASK_OPTIONS)
def email_workspace_links(self, email: str, language: str = "") -> int:
    """Mail ``email`` the links of its workspaces ("find my workspace"), in ``language``
    (the asking visitor's); nothing when it has none. The lookup runs here, not in the
    request, so the page answers the same way, in the same time, for any address; a
    temporary mail failure runs it again later (``core.outbox``)."""
    workspaces = workspaces_for_email(email)
    if not workspaces:
        return 0
    outbox.deliver(
        self,
        to=email,
        template="public/find_workspace_email",
        context={
            "workspaces": [(t.name, workspace_url(t.slug)) for t in workspaces],
            "public_url": public_url(),
        },
        language=language or settings.LANGUAGE_CODE,
    )
    return len(workspaces)
