"""Accounts: users and roles, staff management, invitations, 2FA, sessions, lockouts.

Public face: ``accounts.services`` (writes), ``accounts.selectors`` (reads),
``accounts.permissions`` (who may do what), and the ``User`` model via
``get_user_model()``. See ``platform/accounts/README.md``.
"""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from . import audit_actions, auth, auth_events  # noqa: F401 - declares actions

        auth_events.connect()
