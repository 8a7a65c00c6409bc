"""Rules for workspace addresses (slugs)."""

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,38}[a-z0-9])$")

# Names a workspace may not take: our own hosts, and ones that invite phishing.
RESERVED_SLUGS = frozenset(
    {
        "www", "admin", "api", "app", "apps", "support", "static", "media", "mail", "email",
        "smtp", "imap", "pop", "public", "help", "status", "docs", "blog", "billing", "login",
        "signup", "auth", "oauth", "sso", "account", "accounts", "console", "dashboard",
        "cdn", "assets", "ftp", "ns1", "ns2", "dev", "staging", "test", "security", "root",
        "atrium", "vendor", "internal", "system",
    }
)  # fmt: skip


def configured_host_labels() -> frozenset[str]:
    """Every label of the hosts we serve (``BASE_DOMAIN``, ``ALLOWED_HOSTS``): a workspace
    called ``localhost`` would live at ``localhost.localhost`` and read like the site itself."""
    hosts = [settings.BASE_DOMAIN, *settings.ALLOWED_HOSTS]
    return frozenset(label for host in hosts for label in host.lower().split(".") if label)


def validate_slug(value: str) -> None:
    """Raise ValidationError unless ``value`` can be a workspace address."""
    if not SLUG_RE.match(value):
        raise ValidationError(
            _(
                "Use 3 to 40 lowercase letters, digits and hyphens, "
                "starting and ending with a letter or digit."
            ),
            code="malformed",
        )
    if "--" in value:
        raise ValidationError(_("Hyphens may not follow each other."), code="malformed")
    if value in RESERVED_SLUGS or value.startswith("spare") or value in configured_host_labels():
        raise ValidationError(_("This address is reserved. Please pick another."), code="reserved")


def schema_name_for(slug: str) -> str:
    """Tenant schema names are derived from the slug, so they never collide."""
    return "t_" + slug.replace("-", "_")
