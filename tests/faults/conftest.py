"""Fixtures of the fault-injection tests: real components, broken on purpose."""

from __future__ import annotations

import pytest

from tests.faults.processes import RedisProcess
from tests.uploads.conftest import (  # noqa: F401 - the documents tests' fixtures
    _scanner_settings,
    fs_storage,
    s3_storage,
)


def pytest_collection_modifyitems(config, items) -> None:
    """Everything here is marked ``faults``: ``-m "not faults"`` skips the real-fault
    tests (about a minute, most of it real workers starting) when iterating elsewhere."""
    for item in items:
        if item.nodeid.startswith("tests/faults/"):
            item.add_marker(pytest.mark.faults)


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


@pytest.fixture
def app_on_broker(redis_server):
    """This process publishes tasks to ``redis_server`` for real (not eagerly)."""
    from config.celery import app

    saved = app.conf.broker_url, app.conf.task_always_eager

    def reset_pools() -> None:  # built again, for the current broker_url, on next use
        app._pool = None
        app.amqp._producer_pool = None
        app._broker_down_until = 0.0  # the publish breaker forgets this broker

    reset_pools()
    app.conf.broker_url, app.conf.task_always_eager = redis_server.url, False
    yield app
    reset_pools()
    app.conf.broker_url, app.conf.task_always_eager = saved
