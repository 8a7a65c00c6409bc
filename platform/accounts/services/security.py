"""Two-factor authentication (TOTP + recovery codes), the workspace policy, lockouts.

Wrong codes never raise inside the transaction: django-otp's throttling counter
and the TOTP replay guard must be saved even when the code is refused.
"""

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django_otp import devices_for_user
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

import audit.services as audit
from core.principal import Principal, write_service

from .. import permissions, selectors
from ..models import User, WorkspacePolicy
from .sessions import end_all_sessions

RECOVERY_CODE_COUNT = 10
TOTP_NAME = "authenticator"
RECOVERY_NAME = "recovery codes"


def lock_workspace_policy() -> WorkspacePolicy:
    """The workspace's policy row, locked: serialises staff and policy changes."""
    policy, _created = WorkspacePolicy.objects.select_for_update().get_or_create(pk=1)
    return policy


def remove_second_factors(user: User) -> int:
    """Delete every TOTP and recovery-code device of ``user``; how many there were."""
    removed = 0
    for device in devices_for_user(user, confirmed=None):
        device.delete()
        removed += 1
    return removed


def _normalise(token: str) -> str:
    return "".join(token.split()).lower()


@write_service(read_only_workspace_ok=True)
def totp_device_setup(*, actor: Principal) -> TOTPDevice:
    """The unconfirmed authenticator being set up (made on first call, reused after)."""
    user = permissions.credential_owner(actor)
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        raise ValidationError(_("Two-factor authentication is already on."))
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)
    return device


def _new_recovery_codes(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=c) for c in codes])
    return codes


@write_service(read_only_workspace_ok=True)
def totp_enable(
    *, actor: Principal, token: str, current_session_key: str | None
) -> list[str] | None:
    """Confirm the authenticator with a code from it. Returns the new recovery codes (shown
    once), or None when the code is wrong. Other sessions of the user are ended."""
    user = permissions.credential_owner(actor)
    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update()
            .filter(user=user, confirmed=False)
            .order_by("pk")
            .first()
        )
        if device is None or not device.verify_token(_normalise(token)):
            return None
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        codes = _new_recovery_codes(user)
        ended = end_all_sessions(user, except_key=current_session_key)
        audit.record(
            "user.2fa_enabled",
            actor=actor,
            target=user,
            changes={"method": "totp", "recovery_codes": len(codes), "other_sessions_ended": ended},
        )
    return codes


@write_service(read_only_workspace_ok=True)
def two_factor_disable(*, actor: Principal, password: str) -> None:
    """Turn the actor's own second factor off (the password is required)."""
    user = permissions.credential_owner(actor)
    if not user.check_password(password):
        raise ValidationError({"password": [_("Your password is not correct.")]})
    if selectors.workspace_policy().require_2fa:
        raise ValidationError(
            _("Your workspace requires two-factor authentication, so it cannot be turned off.")
        )
    with transaction.atomic():
        if remove_second_factors(user):
            audit.record("user.2fa_disabled", actor=actor, target=user, changes={"by_admin": False})


@write_service(read_only_workspace_ok=True)
def recovery_codes_regenerate(*, actor: Principal, password_or_code: str) -> list[str]:
    """Replace the recovery codes (the old ones stop working). A live session is not
    enough: ``password_or_code`` must be the actor's password or a current code from
    their authenticator (spent by this use, like a sign-in code)."""
    user = permissions.credential_owner(actor)
    devices = TOTPDevice.objects.filter(user=user, confirmed=True)
    if not devices.exists():
        raise ValidationError(_("Turn on two-factor authentication first."))
    # Checked outside the transaction: a wrong code's throttling must be saved.
    secret = password_or_code.strip()
    confirmed = bool(secret) and (
        user.check_password(password_or_code)
        or any(device.verify_token(_normalise(secret)) for device in devices)
    )
    if not confirmed:
        raise ValidationError(
            {
                "password_or_code": [
                    _("That is neither your password nor a current code from your app.")
                ]
            }
        )
    with transaction.atomic():
        codes = _new_recovery_codes(user)
        audit.record(
            "user.recovery_codes_regenerated",
            actor=actor,
            target=user,
            changes={"count": len(codes)},
        )
    return codes


@write_service(read_only_workspace_ok=True)
def second_factor_verify(*, actor: User, token: str):
    """The device that accepts ``token`` (authenticator code or unused recovery code), or
    None. A recovery code is spent by its use. ``actor``: the user signing in, whose
    password was right."""
    user = actor
    token = _normalise(token)
    if not token:
        return None
    with transaction.atomic():
        for device in devices_for_user(user, confirmed=True, for_verify=True):
            if device.verify_token(token):
                if isinstance(device, StaticDevice):
                    left = StaticToken.objects.filter(device=device).count()
                    audit.record(
                        "user.recovery_code_used",
                        actor=actor,
                        target=user,
                        changes={"codes_left": left},
                    )
                return device
    return None


@write_service
def workspace_policy_update(*, actor: Principal, require_2fa: bool) -> WorkspacePolicy:
    permissions.require(permissions.can_manage_staff(actor))
    with transaction.atomic():
        policy = lock_workspace_policy()
        if policy.require_2fa == require_2fa:
            return policy
        before = policy.require_2fa
        policy.require_2fa = require_2fa
        policy.save(update_fields=["require_2fa", "updated_at"])
        audit.record(
            "workspace.policy_changed",
            actor=actor,
            target=("accounts.workspacepolicy", policy.pk, "workspace policy"),
            changes={"require_2fa": [before, require_2fa]},
        )
        transaction.on_commit(lambda: cache.delete(selectors.POLICY_CACHE_KEY))
    return policy


@write_service(read_only_workspace_ok=True)
def lockout_record(*, actor: Principal, username: str, ip: str | None) -> None:
    """Audit a django-axes lockout of ``username`` from ``ip``."""
    user = User.objects.filter(email=(username or "").lower()).first()
    with transaction.atomic():
        audit.record(
            "auth.lockout",
            actor=actor,
            target=user if user else ("accounts.user", "", username or ""),
            changes={"username": username, "ip": ip},
        )
