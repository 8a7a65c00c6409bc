"""The HTTP side of session tracking: what a request tells ``session_track``, and when."""

from django.http import HttpRequest

from core.middleware import client_ip

from .services import session_track
from .services.sessions import session_needs_refresh

# Where the session remembers when its row was last written (a Unix time).
SEEN_KEY = "_accounts_seen"


def track_session(request: HttpRequest, user, *, previous_key: str | None = None) -> None:
    """Write the row of ``request``'s session for ``user`` (sign-in, password change)."""
    key = request.session.session_key
    if not key:
        return
    request.session[SEEN_KEY] = session_track(
        actor=user,
        session_key=key,
        ip=client_ip(request),
        user_agent=request.headers.get("User-Agent", ""),
        previous_key=previous_key,
    )


def track_if_stale(request: HttpRequest, user) -> None:
    """Refresh the row at most once a minute (``LAST_SEEN_RESOLUTION``)."""
    if session_needs_refresh(request.session.get(SEEN_KEY, 0)):
        track_session(request, user)
