from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


def check_file_command(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Content sniffing runs libmagic's ``file`` command (``uploads.sniffing``)."""
    from .sniffing import FILE_COMMAND, file_command

    if file_command() is not None:
        return []
    return [
        checks.Error(
            f"The {FILE_COMMAND!r} command (libmagic) is not installed: uploads cannot "
            "be typed by their content.",
            hint="Install the distribution's 'file' package (Debian: apt-get install file).",
            id="uploads.E001",
        )
    ]


class UploadsConfig(AppConfig):
    name = "uploads"
    verbose_name = _("Documents")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import audit_actions  # noqa: F401 - declares the actions

        checks.register(check_file_command)
