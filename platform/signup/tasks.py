"""Background work of signup: "find my workspace"."""

from celery import shared_task
from django.conf import settings

from accounts.selectors import schemas_with_active_account
from core import outbox
from tenants.selectors import Tenant, active_tenants, public_url, workspace_url


def workspaces_for_email(email: str) -> list[Tenant]:
    """Active workspaces where ``email`` has an active account, by name."""
    tenants = {t.schema_name: t for t in active_tenants()}
    found = schemas_with_active_account(email, list(tenants))
    return sorted((tenants[s] for s in found), key=lambda t: t.name.lower())


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
