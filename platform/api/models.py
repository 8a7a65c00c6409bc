"""What an Atrium OAuth2 app adds to django-oauth-toolkit's stock ``Application``
(stock models, never swapped: swapping breaks DOT's migration order). One row per app,
in the workspace's schema like the app itself."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AppProfile(models.Model):
    """The role and scopes a workspace admin gave an app.

    ``role`` applies to client credentials (the app acting alone): it acts with this
    role, never more than its creator's current one. ``scopes`` bounds what any of its
    tokens may be granted (space-separated, as OAuth2 writes them).
    """

    class Role(models.TextChoices):
        ADMIN = "admin", _("Admin")
        MEMBER = "member", _("Member")
        READONLY = "readonly", _("Read-only")

    application = models.OneToOneField(
        "oauth2_provider.Application", on_delete=models.CASCADE, related_name="atrium"
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.READONLY)
    scopes = models.CharField(_("scopes"), max_length=500)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    secret_rotated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.application.name

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()
