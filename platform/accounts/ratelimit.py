"""Fixed-window rate limits in the shared cache (Redis), per client ip and workspace.

The default cache's key function prefixes every key with the current schema, so
one workspace's counters never limit another's. Limits are in
``settings.ACCOUNTS_RATE_LIMITS`` as ``scope: (attempts, window seconds)``. The
client ip is the one the audit log records (``AUDIT_CLIENT_IP_HEADER`` behind a proxy).
"""

import logging

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from redis.exceptions import ConnectionError as RedisConnectionError

from core.middleware import client_ip

log = logging.getLogger(__name__)


def _key(scope: str, request: HttpRequest) -> str:
    return f"accounts:rate:{scope}:{client_ip(request) or ''}"


def hit(scope: str, request: HttpRequest) -> bool:
    """Count one attempt; False once the window's limit is exceeded.

    With Redis unreachable nothing can be counted: the attempt is let through (logged),
    so a cache outage does not lock people out of password reset and invitations; the
    signed, single-use tokens and sign-in's lockout (in PostgreSQL) still hold."""
    limit, window = settings.ACCOUNTS_RATE_LIMITS[scope]
    key = _key(scope, request)
    try:
        cache.add(key, 0, timeout=window)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=window)
            count = 1
    except RedisConnectionError:
        log.warning("rate limit %s not counted: the cache is unreachable", scope)
        return True
    return count <= limit
