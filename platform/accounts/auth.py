"""Sign-in plumbing: the username django-axes counts, and the signal receivers that track
sessions and audit lockouts."""

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver
from django.http import HttpRequest

from core.principal import ANONYMOUS


def axes_username(request: HttpRequest, credentials: dict | None) -> str:
    """The sign-in name as stored: emails are lowercase, so "Ann@X" and "ann@x" count as one."""
    name = (credentials or {}).get("username")
    if name is None and request is not None:
        name = request.POST.get("username", "")
    return (name or "").strip().lower()


@receiver(user_logged_in, dispatch_uid="accounts.track_session")
def _track_session(sender, request, user, **kwargs) -> None:
    if request is None or not hasattr(request, "session"):
        return
    from .session_tracking import track_session

    track_session(request, user)


@receiver(user_logged_out, dispatch_uid="accounts.forget_session")
def _forget_session(sender, request, user, **kwargs) -> None:
    if request is None or not hasattr(request, "session"):
        return
    from .services import session_forget

    session_forget(actor=user or ANONYMOUS, session_key=request.session.session_key)


@receiver(user_locked_out, dispatch_uid="accounts.audit_lockout")
def _audit_lockout(sender, request, username, ip_address, **kwargs) -> None:
    from .services import lockout_record

    lockout_record(actor=ANONYMOUS, username=username, ip=ip_address)
