"""Signed-in sessions: tracked per browser, listed to their user, ended on demand.

A ``UserSession`` row describes one of Django's sessions (key, ip, user agent,
last seen); ending it deletes the session from the session store, so the
browser is signed out on its next request.
"""

import time
from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

import audit.services as audit
from core.principal import Principal, write_service

from ..models import User, UserSession
from ..permissions import acting_user

# How stale "last seen" may get before a request refreshes it (one write a minute at most).
LAST_SEEN_RESOLUTION = timedelta(minutes=1)


def _store():
    return import_module(settings.SESSION_ENGINE).SessionStore()


@write_service(read_only_workspace_ok=True)
def session_track(
    *,
    actor: Principal,
    session_key: str,
    ip: str | None,
    user_agent: str,
    previous_key: str | None = None,
) -> float:
    """Record (or refresh) the row of the actor's session ``session_key``. ``previous_key``:
    the key this session had before it was cycled (sign-in, password change). Returns
    when it was written (a Unix time) for the caller to remember in the session."""
    user = acting_user(actor)
    now = timezone.now()
    if previous_key and previous_key != session_key:
        UserSession.objects.filter(session_key=previous_key, user=user).update(
            session_key=session_key
        )
    UserSession.objects.update_or_create(
        session_key=session_key,
        defaults={"user": user, "last_seen": now, "ip": ip, "user_agent": user_agent[:512]},
    )
    return now.timestamp()


def session_needs_refresh(last_written: float) -> bool:
    """Whether a session row written at ``last_written`` (a Unix time) is older than the
    resolution (sign-in and password change write it themselves)."""
    return time.time() - last_written >= LAST_SEEN_RESOLUTION.total_seconds()


@write_service(read_only_workspace_ok=True)
def session_forget(*, actor: Principal, session_key: str | None) -> None:
    """Drop the row of a session that signed out."""
    if session_key:
        UserSession.objects.filter(session_key=session_key).delete()


def end_all_sessions(user: User, *, except_key: str | None = None) -> int:
    """End every session of ``user`` (but ``except_key``); the caller audits. Returns how many."""
    rows = UserSession.objects.filter(user=user)
    if except_key:
        rows = rows.exclude(session_key=except_key)
    keys = list(rows.values_list("session_key", flat=True))
    store = _store()
    for key in keys:
        store.delete(key)
    rows.delete()
    return len(keys)


@write_service(read_only_workspace_ok=True)
def session_revoke(*, actor: Principal, session_id: int, current_key: str | None) -> UserSession:
    """Sign the actor out of one of their other sessions."""
    user = acting_user(actor)
    with transaction.atomic():
        row = UserSession.objects.select_for_update().get(pk=session_id, user=user)
        if row.session_key == current_key:
            raise ValidationError(_("This is the session you are using; sign out instead."))
        _store().delete(row.session_key)
        row.delete()
        audit.record(
            "session.revoked",
            actor=actor,
            target=user,
            changes={"session": row.pk, "ip": row.ip, "user_agent": row.user_agent},
        )
    return row


@write_service(read_only_workspace_ok=True)
def sessions_revoke_others(*, actor: Principal, current_key: str | None) -> int:
    """Sign the actor out everywhere but the current session."""
    user = acting_user(actor)
    with transaction.atomic():
        ended = end_all_sessions(user, except_key=current_key)
        if ended:
            audit.record(
                "session.revoked",
                actor=actor,
                target=user,
                changes={"others": True, "count": ended},
            )
    return ended
