"""The audit actions that accounts records: sign-in security, staff, profiles, policies."""

from typing import Any

from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _

from audit.registry import declare

from .models import User


def _display(key: str, value: Any) -> str:
    """Roles by their names, booleans as yes/no: what a person reads."""
    if key == "role" and value in User.Role.values:
        return str(User.Role(value).label)
    if isinstance(value, bool):
        return _g("yes") if value else _g("no")
    return "—" if value in (None, "") else str(value)


def _user(name: str, description, sentence, target: str = "accounts.user") -> None:
    declare(name, target=target, description=description, sentence=sentence, display=_display)


_user("auth.login", _("Someone signed in."), _("%(actor)s signed in"))
_user("auth.logout", _("Someone signed out."), _("%(actor)s signed out"))
_user(
    "auth.login_failed",
    _("A sign-in failed (wrong password or unknown address)."),
    _("A sign-in as %(target)s failed"),
)
_user(
    "auth.password_reset_requested",
    _("A password reset link was requested."),
    _("A password reset was requested for %(email)s"),
)
_user(
    "auth.password_reset_done",
    _("A password was set with a reset link."),
    _("%(actor)s set a new password with a reset link"),
)
_user(
    "auth.lockout",
    _("Sign-in was paused after too many failed attempts."),
    _("Sign-in as %(username)s was paused after too many failed attempts"),
)
_user(
    "auth.unlocked",
    _("An admin lifted a sign-in lockout."),
    _("%(actor)s unlocked sign-in for %(target)s"),
)
_user(
    "session.revoked",
    _("A signed-in session was ended."),
    _("%(actor)s ended a signed-in session of %(target)s"),
)
_user(
    "staff.invited",
    _("Someone was invited to the workspace."),
    _("%(actor)s invited %(email)s as %(role)s"),
    target="accounts.invitation",
)
_user(
    "staff.invitation_resent",
    _("An invitation was sent again."),
    _("%(actor)s resent the invitation to %(target)s"),
    target="accounts.invitation",
)
_user(
    "staff.invitation_revoked",
    _("A pending invitation was withdrawn."),
    _("%(actor)s revoked the invitation to %(email)s"),
    target="accounts.invitation",
)
_user(
    "staff.invitation_accepted",
    _("An invitation was accepted and the account created."),
    _("%(actor)s accepted the invitation and joined as %(role)s"),
)
_user(
    "staff.role_changed",
    _("A staff member's role was changed."),
    _("%(actor)s changed %(target)s's role from %(role_before)s to %(role_after)s"),
)
_user(
    "staff.deactivated",
    _("A staff member was deactivated and signed out everywhere."),
    _("%(actor)s deactivated %(target)s"),
)
_user(
    "staff.reactivated",
    _("A deactivated staff member was reactivated."),
    _("%(actor)s reactivated %(target)s"),
)
_user(
    "user.profile_updated",
    _("Someone changed their name, language or time zone."),
    _("%(actor)s updated their profile"),
)
_user(
    "user.password_changed",
    _("Someone changed their password."),
    _("%(actor)s changed their password"),
)
_user(
    "user.email_change_requested",
    _("Someone asked to change their email address (confirmation sent)."),
    _("%(actor)s asked to change their email address to %(new_email)s"),
)
_user(
    "user.email_changed",
    _("An email address change was confirmed."),
    _("%(actor)s changed their email address from %(email_before)s to %(email_after)s"),
)
_user(
    "user.2fa_enabled",
    _("Two-factor authentication was turned on."),
    _("%(actor)s turned on two-factor authentication"),
)
_user(
    "user.2fa_disabled",
    _("Two-factor authentication was turned off or reset."),
    _("%(actor)s turned off two-factor authentication for %(target)s"),
)
_user(
    "user.recovery_codes_regenerated",
    _("New recovery codes were made; the old ones stopped working."),
    _("%(actor)s made new recovery codes"),
)
_user(
    "user.recovery_code_used",
    _("A recovery code was used to sign in."),
    _("%(actor)s signed in with a recovery code (%(codes_left)s left)"),
)
_user(
    "workspace.policy_changed",
    _("The workspace's security policy was changed."),
    _(
        "%(actor)s changed “two-factor authentication required” "
        "from %(require_2fa_before)s to %(require_2fa_after)s"
    ),
    target="accounts.workspacepolicy",
)
_user(
    "vendor_staff.created",
    _("A vendor staff account was created."),
    _("%(actor)s created the vendor staff account %(target)s"),
)
