"""Emails sent by signup: "find my workspace"."""

from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from accounts.selectors import schemas_with_active_account
from tenants.selectors import Tenant, active_tenants, public_url, workspace_url


def workspaces_for_email(email: str) -> list[Tenant]:
    """Active workspaces where ``email`` has an active account, by name."""
    tenants = {t.schema_name: t for t in active_tenants()}
    found = schemas_with_active_account(email, list(tenants))
    return sorted((tenants[s] for s in found), key=lambda t: t.name.lower())


def send_workspace_links(email: str) -> int:
    """Send the "find my workspace" email; returns the number of workspaces listed."""
    workspaces = workspaces_for_email(email)
    if not workspaces:
        return 0
    body = render_to_string(
        "public/find_workspace_email.txt",
        {
            "workspaces": [(t.name, workspace_url(t.slug)) for t in workspaces],
            "public_url": public_url(),
        },
    )
    send_mail(_("Your Atrium workspaces"), body, None, [email])
    return len(workspaces)
