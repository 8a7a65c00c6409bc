from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from .lazy import defer_jwcrypto

# Before any app's models are imported (django-oauth-toolkit's import jwcrypto).
defer_jwcrypto()


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = _("Integration API")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # api.schema (drf-spectacular's hooks) is imported by DRF as DEFAULT_SCHEMA_CLASS
        # when a schema is generated, not here: drf-spectacular imports django.test.
        from . import audit_actions  # noqa: F401 - declares the actions
