"""The vendor console: vendor staff sign-in (password + mandatory 2FA), the fleet, and
workspace lifecycle actions, at ``/console/`` on the public host. See README.md."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = _("Vendor console")

    def ready(self) -> None:
        from . import audit_actions, usage  # noqa: F401 - declares actions

        usage.connect()
