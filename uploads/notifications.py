"""Telling a tenant's admins that an upload was blocked (the in-app notice is the
blocked list on the documents page; this sends the email)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.utils.translation import gettext as _

from accounts.selectors import STAFF_MANAGERS
from tenants.selectors import current_tenant, workspace_link

from .models import Document


def admin_emails() -> list[str]:
    User = get_user_model()
    admins = User.objects.filter(is_active=True, role__in=STAFF_MANAGERS)
    return list(admins.values_list("email", flat=True))


def email_admins_about_blocked(document: Document) -> int:
    recipients = admin_emails()
    if not recipients:
        return 0
    tenant = current_tenant()  # in the scan task: read by schema, not the FakeTenant
    uploader = document.uploaded_by.email if document.uploaded_by else _("unknown")
    subject = _("Atrium blocked an infected upload in %(workspace)s") % {"workspace": tenant.name}
    body = _(
        "The file “%(name)s”, uploaded by %(uploader)s, was blocked by the virus scanner "
        "(%(signature)s). It was removed and cannot be downloaded.\n\nDocuments: %(url)s\n"
    ) % {
        "name": document.name,
        "uploader": uploader,
        "signature": document.signature,
        "url": workspace_link(tenant.slug, "uploads:list"),
    }
    return send_mail(subject, body, None, recipients)
