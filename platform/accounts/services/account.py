"""A user's own account: profile, password, email address, and password reset."""

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext as _

import audit.services as audit
from core.outbox import send_after_commit
from core.principal import Principal, write_service
from core.workspace import current as current_workspace
from tenants.selectors import current_tenant, workspace_link

from .. import selectors, tokens
from ..models import User
from ..permissions import acting_user, credential_owner
from .sessions import end_all_sessions


@write_service
def profile_update(*, actor: Principal, full_name: str, language: str, time_zone: str) -> User:
    """Change the actor's own name, language and time zone."""
    user = acting_user(actor)
    full_name = full_name.strip()
    if not full_name:
        raise ValidationError({"full_name": [_("Please enter your name.")]})
    if language and language not in dict(settings.LANGUAGES):
        raise ValidationError({"language": [_("Choose one of the offered languages.")]})
    if time_zone and time_zone not in selectors.time_zone_names():
        raise ValidationError({"time_zone": [_("Choose a time zone from the list.")]})
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        new = {"full_name": full_name, "language": language, "time_zone": time_zone}
        changes = {k: [getattr(user, k), v] for k, v in new.items() if getattr(user, k) != v}
        if not changes:
            return user
        for name, (_before, after) in changes.items():
            setattr(user, name, after)
        user.save(update_fields=list(changes))
        audit.record("user.profile_updated", actor=actor, target=user, changes=changes)
    return user


@write_service(read_only_workspace_ok=True)
def password_change(
    *, actor: Principal, current_password: str, new_password: str, current_session_key: str | None
) -> User:
    """Set a new password (the current one is required) and end the user's other sessions.
    The caller keeps its own session with ``update_session_auth_hash``."""
    user = credential_owner(actor)
    if not user.check_password(current_password):
        raise ValidationError({"current_password": [_("Your current password is not correct.")]})
    try:
        validate_password(new_password, user=user)
    except ValidationError as error:
        raise ValidationError({"new_password1": error.messages}) from error
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        ended = end_all_sessions(user, except_key=current_session_key)
        audit.record(
            "user.password_changed",
            actor=actor,
            target=user,
            changes={"other_sessions_ended": ended},
        )
    return user


@write_service
def email_change_request(*, actor: Principal, new_email: str, password: str) -> None:
    """Mail a confirmation link to ``new_email``; the address changes when it is opened."""
    user = credential_owner(actor)
    new_email = new_email.strip().lower()
    try:
        validate_email(new_email)
    except ValidationError as error:
        raise ValidationError({"new_email": error.messages}) from error
    if not user.check_password(password):
        raise ValidationError({"password": [_("Your password is not correct.")]})
    if new_email == user.email:
        raise ValidationError({"new_email": [_("This is already your address.")]})
    if User.objects.filter(email=new_email).exists():
        raise ValidationError({"new_email": [_("Another account in this workspace uses it.")]})
    token = tokens.make_email_change_token(
        user_id=user.pk, old_email=user.email, new_email=new_email
    )
    tenant = current_tenant()
    with transaction.atomic():
        audit.record(
            "user.email_change_requested",
            actor=actor,
            target=user,
            changes={"new_email": new_email},
        )
        send_after_commit(
            to=new_email,
            template="accounts/email/email_change",
            language=user.language,
            context={
                "link": workspace_link(tenant.slug, "accounts:email_change_confirm", token),
                "hours": settings.ACCOUNTS_EMAIL_CHANGE_HOURS,
                "workspace": tenant.name,
            },
        )


@write_service
def email_change_confirm(*, actor: Principal, token: str) -> User:
    """Apply the change that ``token`` confirms (single use, expires). Whoever holds the
    link may open it (``actor`` is who is signed in, or a visitor)."""
    data = tokens.read_email_change_token(
        token, max_age=settings.ACCOUNTS_EMAIL_CHANGE_HOURS * 3600
    )
    invalid = ValidationError(
        _("This confirmation link is invalid, expired or was already used. Ask for a new one.")
    )
    if data is None:
        raise invalid
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=data["u"], is_active=True).first()
        if user is None or user.email != data["o"]:
            raise invalid
        if User.objects.filter(email=data["n"]).exclude(pk=user.pk).exists():
            raise ValidationError(_("Another account in this workspace now uses that address."))
        old = user.email
        user.email = data["n"]
        user.save(update_fields=["email"])
        audit.record(
            "user.email_changed", actor=actor, target=user, changes={"email": [old, user.email]}
        )
        send_after_commit(
            to=old,
            template="accounts/email/email_changed",
            language=user.language,
            context={"new_email": user.email, "workspace": current_tenant().name},
        )
    return user


@write_service(read_only_workspace_ok=True)
def password_reset_request(*, actor: Principal, email: str) -> None:
    """Queue a reset link for ``email``. The caller answers the same either way, and
    the worker looks the account up and mails the link, so neither the answer nor the
    time it takes tells whether the address has an account."""
    from ..tasks import send_password_reset

    email = email.strip().lower()
    user = User.objects.filter(email=email, is_active=True).first()
    schema_name = current_workspace().schema_name
    with transaction.atomic():
        audit.record(
            "auth.password_reset_requested",
            actor=actor,
            target=user if user else ("accounts.user", "", email),
            changes={"email": email, "account_exists": user is not None},
        )
        transaction.on_commit(
            lambda: send_password_reset.delay(schema_name=schema_name, email=email)
        )


@write_service(read_only_workspace_ok=True)
def password_reset_complete(*, actor: User, new_password: str) -> User:
    """Set the password chosen through a valid reset link; end every session and clear
    any sign-in lockout of the account. ``actor`` is the account the link proved."""
    user = actor
    from axes.utils import reset as axes_reset

    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        ended = end_all_sessions(user)
        cleared = axes_reset(username=user.email)
        audit.record(
            "auth.password_reset_done",
            actor=actor,
            target=user,
            changes={"sessions_ended": ended, "lockouts_cleared": cleared},
        )
    return user
