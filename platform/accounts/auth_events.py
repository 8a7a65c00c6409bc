"""Authentication events, recorded from Django's auth signals: sign-in, sign-out and
failed sign-in (password reset and lockout are recorded by the services that do them).

Here in accounts, not in audit: the audit log is a leaf that knows no user model."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction

import audit.services as audit
from core.principal import ANONYMOUS

from .models import User


def _user_target(user) -> tuple[str, str, str]:
    return ("accounts.user", str(user.pk), user.email)


def _on_login(sender, request, user, **kwargs) -> None:
    with transaction.atomic():
        audit.record("auth.login", actor=user, target=_user_target(user))


def _on_logout(sender, request, user, **kwargs) -> None:
    if user is None:
        return
    with transaction.atomic():
        audit.record("auth.logout", actor=user, target=_user_target(user))


def _on_login_failed(sender, credentials, request=None, **kwargs) -> None:
    user_model = User
    username = str(credentials.get(user_model.USERNAME_FIELD) or credentials.get("username") or "")
    username = username.strip().lower()[:255]
    user_id = (
        user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username})
        .values_list("pk", flat=True)
        .first()
        if username
        else None
    )
    # An unknown name is kept as typed (it may be a typo of a real one), never the password.
    target = ("accounts.user", "" if user_id is None else str(user_id), username)
    with transaction.atomic():
        audit.record(
            "auth.login_failed", actor=ANONYMOUS, target=target, changes={"username": username}
        )


def connect() -> None:
    user_logged_in.connect(_on_login, dispatch_uid="accounts.audit_login")
    user_logged_out.connect(_on_logout, dispatch_uid="accounts.audit_logout")
    user_login_failed.connect(_on_login_failed, dispatch_uid="accounts.audit_login_failed")
