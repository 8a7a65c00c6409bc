"""Fixed-window rate limits in the shared cache (Redis), per client ip and workspace.

The default cache's key function prefixes every key with the current schema, so
one workspace's counters never limit another's. Limits are in
``settings.ACCOUNTS_RATE_LIMITS`` as ``scope: (attempts, window seconds)``. The
client ip is the one the audit log records (``AUDIT_CLIENT_IP_HEADER`` behind a proxy).
"""

from django.conf import settings
from django.http import HttpRequest

from core import ratelimit
from core.middleware import client_ip


def _key(scope: str, request: HttpRequest) -> str:
    return f"accounts:rate:{scope}:{client_ip(request) or ''}"


def hit(scope: str, request: HttpRequest) -> bool:
    """Count one attempt; False once the window's limit is exceeded.

    With Redis unreachable nothing can be counted: the attempt is let through (logged),
    so a cache outage does not lock people out of password reset and invitations; the
    signed, single-use tokens and sign-in's lockout (in PostgreSQL) still hold."""
    limit, window = settings.ACCOUNTS_RATE_LIMITS[scope]
    return ratelimit.hit(_key(scope, request), limit=limit, window=window)
