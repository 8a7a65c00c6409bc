"""Per-grant rate limits from the plan, counted atomically in Redis, and the token
endpoint's limit per client address.

One ``INCR`` + ``EXPIRE NX`` in a MULTI/EXEC per request (no read-then-write race, unlike
DRF's throttles, which read a history list and write it back): a fixed one-minute window
per grant (app, and user when there is one), in the workspace's keys. The answer carries
``RateLimit-Limit``, ``RateLimit-Remaining`` and ``RateLimit-Reset``; past the limit a 429
with ``Retry-After``. With Redis unreachable the request is let through (logged): an
outage of the cache does not take the API down.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from django.core.cache import caches
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

WINDOW = 60
DEFAULT_PER_MINUTE = 600
# A workspace's plan limit, per process, for this many seconds (no SQL per request).
_PLAN_TTL = 30.0
_plan_limits: dict[int, tuple[float, int]] = {}


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # seconds until the window ends

    def headers(self) -> dict[str, str]:
        values = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
        }
        if not self.allowed:
            values["Retry-After"] = str(self.reset)
        return values


def redis_client():
    """The raw client of the default cache's Redis (its database, the tests' own)."""
    return caches["default"]._cache.get_client(None, write=True)


def per_minute(tenant_id: int | None, load) -> int:
    """The plan's ``api_requests_per_minute`` for ``tenant_id``; ``load()`` reads the
    plan when this process has no fresh copy."""
    now = time.monotonic()
    cached = _plan_limits.get(tenant_id or 0)
    if cached and cached[0] > now:
        return cached[1]
    plan = load()
    limit = int(getattr(plan, "api_requests_per_minute", DEFAULT_PER_MINUTE) or DEFAULT_PER_MINUTE)
    _plan_limits[tenant_id or 0] = (now + _PLAN_TTL, limit)
    return limit


def forget_plan_limits() -> None:
    _plan_limits.clear()


def last_use_key(schema: str) -> str:
    return f"api:used:{schema}"


def hit(
    key: str,
    *,
    limit: int,
    window: int = WINDOW,
    now: float | None = None,
    used: tuple[str, Any] | None = None,
) -> Verdict:
    """Count one request under ``key`` in the current window, atomically; with ``used``
    (schema, principal), note the app's (and the grant's) last use in the same round trip."""
    now = time.time() if now is None else now
    slot = int(now // window)
    reset = max(1, int((slot + 1) * window - now))
    full_key = f"api:rl:{key}:{slot}"
    try:
        with redis_client().pipeline(transaction=True) as pipe:
            pipe.incr(full_key)
            pipe.expire(full_key, window + 5, nx=True)
            if used is not None:
                schema, principal = used
                user = getattr(principal, "user", None)
                stamp = str(int(now))
                fields = {principal.app_id: stamp}
                if user is not None:
                    fields[f"{principal.app_id}:{user.pk}"] = stamp
                pipe.hset(last_use_key(schema), mapping=fields)
            count = int(pipe.execute()[0])
    except RedisError as exc:
        log.warning("api rate limit not counted: the cache is unreachable (%s)", type(exc).__name__)
        return Verdict(True, limit, limit, reset)
    return Verdict(count <= limit, limit, max(limit - count, 0), reset)
