"""The audit actions that support sessions record: consent, start, hand-off, every request,
and the end with its cause. Recorded in the workspace's chain (start and end in the
platform's chain too)."""

from typing import Any

from django.utils.translation import gettext_lazy as _

from audit.registry import declare

from .models import EndCause, Mode


def _display(key: str, value: Any) -> str:
    """Modes and end causes by their names, what a person reads."""
    if key == "mode" and value in Mode.values:
        return str(Mode(value).label)
    if key == "cause" and value in EndCause.values:
        return str(EndCause(value).label)
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    return "—" if value in (None, "") else str(value)


def _support(name: str, target: str, description, sentence) -> None:
    declare(name, target=target, description=description, sentence=sentence, display=_display)


_support(
    "support.consent_changed",
    "tenants.tenant",
    _("The workspace's consent to vendor support access was changed."),
    _("%(actor)s changed support access from %(mode_before)s to %(mode_after)s"),
)
_support(
    "support.session_started",
    "support.supportsession",
    _("A vendor support session was started in the console (reason and ticket given)."),
    _("%(actor)s started a support session (%(mode)s) as %(user)s: %(reason)s (%(ticket)s)"),
)
_support(
    "support.session_joined",
    "support.supportsession",
    _("The vendor opened the workspace in a support session (hand-off redeemed)."),
    _("%(impersonator)s opened a support session as %(actor)s"),
)
_support(
    "support.request_served",
    "support.supportsession",
    _("A request made in a support session."),
    _("%(impersonator)s, as %(actor)s: %(method)s %(path)s (%(status)s)"),
)
_support(
    "support.session_ended",
    "support.supportsession",
    _("A vendor support session ended (by the vendor, an admin, consent, a limit)."),
    _("The support session of %(vendor)s as %(user)s ended: %(cause)s"),
)
