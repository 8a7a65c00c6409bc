"""Fixtures of the fault-injection tests: real components, broken on purpose."""

from __future__ import annotations

import pytest

from tests.faults.processes import RedisProcess


@pytest.fixture
def redis_server():
    """A throw-away redis-server (never the suite's own), stopped at the end."""
    server = RedisProcess()
    server.start()
    yield server
    server.close()


def point_caches_at(settings, url: str, **options) -> None:
    """Both caches on ``url`` (Django drops the cache handlers built before)."""
    caches = {}
    for alias, entry in settings.CACHES.items():
        caches[alias] = {**entry, "LOCATION": url,
                         "OPTIONS": {**entry.get("OPTIONS", {}), **options}}  # fmt: skip
    settings.CACHES = caches


@pytest.fixture
def cache_on_redis_server(settings, redis_server):
    point_caches_at(settings, redis_server.url, RETRY_AFTER=0.3)
    return redis_server
