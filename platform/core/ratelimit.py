"""A fixed-window counter in the shared cache (Redis): the building block of rate limits.

The default cache's key function prefixes every key with the current schema, so a
workspace's counters never limit another's (the public site has its own).
"""

import hashlib
import logging

from django.core.cache import cache
from redis.exceptions import ConnectionError as RedisConnectionError

log = logging.getLogger(__name__)


def hit(key: str, *, limit: int, window: int) -> bool:
    """Count one attempt under ``key``; False once more than ``limit`` fell in the window.

    With Redis unreachable nothing can be counted: the attempt is let through (logged),
    so a cache outage does not lock people out; what the limit protects (signed,
    single-use tokens, sign-in's lockout in PostgreSQL) still holds."""
    try:
        cache.add(key, 0, timeout=window)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=window)
            count = 1
    except RedisConnectionError:
        log.warning("rate limit %s not counted: the cache is unreachable", key.split(":")[0])
        return True
    return count <= limit


def digest(value: str) -> str:
    """A value (an email address) as it may appear in a cache key: not readable."""
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]
