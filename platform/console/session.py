"""Console sessions: 30 minutes idle, 12 hours overall, whatever the cookie says.

The clock is ``now()`` (a Unix time), so tests can move it.
"""

import time

from django.conf import settings
from django.http import HttpRequest

STARTED_KEY = "_console_started"
SEEN_KEY = "_console_seen"
# When the tracked session row (accounts.UserSession) was last written.
TRACKED_KEY = "_console_tracked"


def now() -> float:
    return time.time()


def idle_limit() -> int:
    return int(settings.CONSOLE_SESSION_IDLE_SECONDS)


def absolute_limit() -> int:
    return int(settings.CONSOLE_SESSION_MAX_SECONDS)


def start(request: HttpRequest) -> None:
    """A console session begins (after password and second factor)."""
    moment = now()
    request.session[STARTED_KEY] = moment
    request.session[SEEN_KEY] = moment
    # The cookie dies with the absolute limit at the latest.
    request.session.set_expiry(absolute_limit())


def ended_because(request: HttpRequest) -> str | None:
    """``"idle"`` or ``"absolute"`` when the session is over, else None."""
    started = request.session.get(STARTED_KEY)
    seen = request.session.get(SEEN_KEY)
    if started is None or seen is None:
        return "absolute"
    moment = now()
    if moment - started >= absolute_limit():
        return "absolute"
    if moment - seen >= idle_limit():
        return "idle"
    return None


# "Last seen" is written at most this often (a session write per request otherwise):
# an idle session may thus end up to this much before 30 minutes after its last request.
SEEN_RESOLUTION = 60


def touch(request: HttpRequest) -> None:
    moment = now()
    if moment - request.session.get(SEEN_KEY, 0) >= SEEN_RESOLUTION:
        request.session[SEEN_KEY] = moment
