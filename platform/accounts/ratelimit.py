"""Fixed-window rate limits in the shared cache (Redis), per client ip and workspace.

The default cache's key function prefixes every key with the current schema, so
one workspace's counters never limit another's. Limits are in
``settings.ACCOUNTS_RATE_LIMITS`` as ``scope: (attempts, window seconds)``.
"""

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def _key(scope: str, request: HttpRequest) -> str:
    return f"accounts:rate:{scope}:{request.META.get('REMOTE_ADDR', '')}"


def hit(scope: str, request: HttpRequest) -> bool:
    """Count one attempt; False once the window's limit is exceeded."""
    limit, window = settings.ACCOUNTS_RATE_LIMITS[scope]
    key = _key(scope, request)
    cache.add(key, 0, timeout=window)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)
        count = 1
    return count <= limit


def exceeded(scope: str, request: HttpRequest) -> bool:
    """Whether the limit is already used up (counts nothing)."""
    limit, _window = settings.ACCOUNTS_RATE_LIMITS[scope]
    return (cache.get(_key(scope, request)) or 0) >= limit
