from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class UploadsConfig(AppConfig):
    name = "uploads"
    verbose_name = _("Documents")
    default_auto_field = "django.db.models.BigAutoField"
