"""The Redis cache backend of both caches: a cache that may be missing, never an outage.

Everything Atrium keeps in the cache can be read again from PostgreSQL (host routes,
workspace policies). So when Redis does not answer, a read is a miss and a write is
skipped, and the page is served from the database: a Redis outage costs queries, not
pages. Three things keep a dead Redis cheap:

* short socket timeouts (``CACHE_SOCKET_TIMEOUT``), and no client-side retries, so a
  Redis that hangs rather than refuses costs at most that long;
* after a failure the process does not try Redis again for ``CACHE_RETRY_AFTER``
  seconds (a circuit breaker): no per-request penalty during an outage;
* deletes that could not reach Redis (an invalidation, e.g. a suspended workspace's
  route) are remembered and replayed as soon as Redis answers again, so an entry written
  before the outage cannot outlive a change made during it (in this process; a process
  that ends meanwhile loses its list, and the entry's own timeout bounds the rest).

Counters are the exception: ``add``/``incr``/``decr`` (rate limits) raise
``CacheUnavailable``, since silently counting nothing would switch a limit off. The
breaker and the pending deletes are per process.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

_DOWN_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)
_PENDING_MAX = 10_000  # bound on remembered deletes (random hosts must not grow memory)


class CacheUnavailable(RedisConnectionError):
    """Redis did not answer (or did not, a moment ago): the cache is not there."""


class SharedClientRedisCacheClient(RedisCacheClient):
    """Django's Redis cache client, with one ``redis.Redis`` per connection pool.

    Django builds a new ``redis.Redis`` for every cache call; building one (its
    response-callback tables) took 118 µs here, twice a GET on loopback (61 µs), and a
    page makes several cache calls. redis-py's clients are thread-safe and hold no
    state of their own between commands (the pool holds the connections), so one per
    pool serves every call."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class ResilientRedisCache(RedisCache):
    """Django's RedisCache that treats an unreachable Redis as an empty cache.

    ``OPTIONS`` take, besides redis-py's connection options, ``RETRY_AFTER``: seconds
    without trying Redis after it failed (default 2).
    """

    def __init__(self, server, params) -> None:
        options = dict(params.get("OPTIONS") or {})
        self.retry_after = float(options.pop("RETRY_AFTER", 2.0))
        options.setdefault("socket_connect_timeout", 0.25)
        options.setdefault("socket_timeout", 0.5)
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        options.setdefault("retry", Retry(NoBackoff(), 0))
        super().__init__(server, {**params, "OPTIONS": options})
        self._class = SharedClientRedisCacheClient
        self._down_until = 0.0
        self._pending_deletes: set[str] = set()
        self._lock = threading.Lock()

    # -- the breaker --------------------------------------------------------------

    @property
    def is_down(self) -> bool:
        return time.monotonic() < self._down_until

    def _call(self, method, *args, **kwargs):
        if self.is_down:
            raise CacheUnavailable("cache marked down after a failure")
        try:
            if self._pending_deletes:
                self._replay_deletes()  # before any read: no entry outlives its invalidation
            result = method(*args, **kwargs)
        except _DOWN_ERRORS as exc:
            if not self._down_until:
                log.warning("cache unreachable, serving from the database: %s", exc)
            self._down_until = time.monotonic() + self.retry_after
            raise CacheUnavailable(str(exc)) from exc
        if self._down_until:
            self._down_until = 0.0
            log.warning("cache reachable again")
        return result

    def _replay_deletes(self) -> None:
        with self._lock:
            keys, self._pending_deletes = list(self._pending_deletes), set()
        try:
            self._cache.delete_many(keys)
        except BaseException:
            with self._lock:
                self._pending_deletes.update(keys)
            raise

    def _remember_delete(self, keys: list[str]) -> None:
        with self._lock:
            if len(self._pending_deletes) + len(keys) <= _PENDING_MAX:
                self._pending_deletes.update(keys)
            else:
                log.error("cache unreachable: too many invalidations to remember")

    # -- reads are misses, writes are skipped --------------------------------------

    def get(self, key, default=None, version=None):
        try:
            return self._call(super().get, key, default, version)
        except CacheUnavailable:
            return default

    def get_many(self, keys, version=None):
        try:
            return self._call(super().get_many, keys, version)
        except CacheUnavailable:
            return {}

    def has_key(self, key, version=None):
        try:
            return self._call(super().has_key, key, version)
        except CacheUnavailable:
            return False

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        with contextlib.suppress(CacheUnavailable):
            self._call(super().set, key, value, timeout, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return self._call(super().set_many, data, timeout, version)
        except CacheUnavailable:
            return list(data)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return self._call(super().touch, key, timeout, version)
        except CacheUnavailable:
            return False

    def delete(self, key, version=None):
        try:
            return self._call(super().delete, key, version)
        except CacheUnavailable:
            self._remember_delete([self.make_and_validate_key(key, version=version)])
            return False

    def delete_many(self, keys, version=None):
        try:
            return self._call(super().delete_many, keys, version)
        except CacheUnavailable:
            self._remember_delete([self.make_and_validate_key(k, version=version) for k in keys])

    # -- counters fail loudly ------------------------------------------------------

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call(super().add, key, value, timeout, version)

    def incr(self, key, delta=1, version=None):
        return self._call(super().incr, key, delta, version)

    def clear(self):
        return self._call(super().clear)
