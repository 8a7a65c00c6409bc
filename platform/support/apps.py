"""Support sessions (impersonation with consent).

Public face: ``support.services`` (writes), ``support.selectors`` (reads). The
middleware (``support.middleware.SupportSessionMiddleware``), the context processor and
the views are wired by ``config``. See ``platform/support/README.md``.
"""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SupportConfig(AppConfig):
    name = "support"
    verbose_name = _("Support sessions")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import audit_actions  # noqa: F401 - declares the actions
