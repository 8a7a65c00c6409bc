"""Emails sent by the tenants module."""

from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from .selectors import public_url, workspace_url, workspaces_for_email


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
