"""The webhook dispatcher's wake-up flag: one Redis key, set by the delivery that queues
a dispatch, cleared by that dispatch before it looks for stored deliveries.

While the flag is set, a dispatch is queued and has not started looking yet, so it will
see every delivery committed before then: such a delivery queues nothing (one
``SET NX`` instead of a Celery publish, which was a third of the intake's CPU,
bench/billing.py). A delivery committed after the dispatch cleared the flag sets it
again and queues the next dispatch. A flag whose dispatch was lost expires after
``TTL_S``; the beat's sweep (``billing-dispatch-webhooks``) catches the rest.

Kept in ``REDIS_URL`` (present in every deployment, unlike a Redis broker) with a
client of its own: Django's cache API would pickle, prefix and hide errors.
"""

from __future__ import annotations

import contextlib

import redis
from django.conf import settings

KEY = "atrium:billing:webhook-dispatch"
TTL_S = 60
# Short: an unreachable Redis makes the delivery queue a dispatch of its own instead.
TIMEOUT_S = 0.5

_client: redis.Redis | None = None


def _redis() -> redis.Redis:
    global _client
    if _client is None:  # redis-py's pool opens new connections after a fork
        _client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S
        )
    return _client


def claim() -> bool:
    """Set the flag. True when the caller must queue a dispatch: the flag was not set,
    or Redis cannot say (then every delivery queues one, as before the flag)."""
    try:
        return bool(_redis().set(KEY, "1", nx=True, ex=TTL_S))
    except redis.RedisError:
        return True


def release() -> None:
    """Clear the flag (a dispatch about to look, or a claim whose dispatch was not
    queued). An unreachable Redis leaves it to expire."""
    with contextlib.suppress(redis.RedisError):
        _redis().delete(KEY)
