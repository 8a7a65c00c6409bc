"""Telling a tenant's admins that an upload was blocked (the in-app notice is the
blocked list on the documents page; this queues the emails, through the outbox)."""

from __future__ import annotations

from django.conf import settings

from accounts.selectors import admin_recipients
from core import outbox
from tenants.selectors import current_tenant, workspace_link

from .models import Document


def email_admins_about_blocked(document: Document) -> int:
    """Queue one email per admin, each in the admin's language; the number queued.
    Call after the block committed."""
    recipients = admin_recipients()
    if not recipients:
        return 0
    tenant = current_tenant()  # in the scan task: read by schema, not the FakeTenant
    context = {
        "workspace": tenant.name,
        "name": document.name,
        "uploader": document.uploaded_by.email if document.uploaded_by else "",
        "signature": document.signature,
        "url": workspace_link(tenant.slug, "uploads:list"),
    }
    for email, language in recipients:
        outbox.send_email(
            to=email,
            template="uploads/email/blocked",
            context=context,
            language=language or settings.LANGUAGE_CODE,
        )
    return len(recipients)
