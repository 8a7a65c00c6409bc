from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OffboardingConfig(AppConfig):
    name = "offboarding"
    verbose_name = _("Offboarding")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import audit_actions  # noqa: F401 - declares the actions
