"""A fixed-window counter in the shared cache (Redis): the building block of rate limits.

The default cache's key function prefixes every key with the current schema, so a
workspace's counters never limit another's (the public site has its own).
"""

import hashlib

from django.core.cache import cache


def hit(key: str, *, limit: int, window: int) -> bool:
    """Count one attempt under ``key``; False once more than ``limit`` fell in the window."""
    cache.add(key, 0, timeout=window)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)
        count = 1
    return count <= limit


def digest(value: str) -> str:
    """A value (an email address) as it may appear in a cache key: not readable."""
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]
