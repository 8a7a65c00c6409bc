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
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

import audit.services as audit
from audit.middleware import client_ip

from ..models import User, UserSession

# How stale "last seen" may get before a request refreshes it (one write a minute at most).
LAST_SEEN_RESOLUTION = timedelta(minutes=1)
# Where the session remembers when its row was last written (a Unix time).
SEEN_KEY = "_accounts_seen"


def _store():
    return import_module(settings.SESSION_ENGINE).SessionStore()


def _describe(request: HttpRequest) -> dict:
    return {
        "ip": client_ip(request),
        "user_agent": request.headers.get("User-Agent", "")[:512],
    }


def session_track(*, user: User, request: HttpRequest, previous_key: str | None = None) -> None:
    """Record (or refresh) the row of the request's session. ``previous_key``: the key
    this session had before it was cycled (sign-in, password change)."""
    key = request.session.session_key
    if not key:
        return
    now = timezone.now()
    if previous_key and previous_key != key:
        UserSession.objects.filter(session_key=previous_key, user=user).update(session_key=key)
    UserSession.objects.update_or_create(
        session_key=key, defaults={"user": user, "last_seen": now, **_describe(request)}
    )
    request.session[SEEN_KEY] = now.timestamp()


def session_needs_refresh(request: HttpRequest) -> bool:
    """Whether the request's session row was written longer ago than the resolution
    (sign-in and password change write it themselves, so their request does not)."""
    seen = request.session.get(SEEN_KEY, 0)
    return time.time() - seen >= LAST_SEEN_RESOLUTION.total_seconds()


def session_forget(*, session_key: str | None) -> None:
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


def session_revoke(*, user: User, session_id: int, current_key: str | None) -> UserSession:
    """Sign ``user`` out of one of their other sessions."""
    with transaction.atomic():
        row = UserSession.objects.select_for_update().get(pk=session_id, user=user)
        if row.session_key == current_key:
            raise ValidationError(_("This is the session you are using; sign out instead."))
        _store().delete(row.session_key)
        row.delete()
        audit.record(
            "session.revoked",
            target=user,
            changes={"session": row.pk, "ip": row.ip, "user_agent": row.user_agent},
        )
    return row


def sessions_revoke_others(*, user: User, current_key: str | None) -> int:
    """Sign ``user`` out everywhere but the current session."""
    with transaction.atomic():
        ended = end_all_sessions(user, except_key=current_key)
        if ended:
            audit.record("session.revoked", target=user, changes={"others": True, "count": ended})
    return ended
