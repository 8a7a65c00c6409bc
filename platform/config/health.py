"""Health endpoints, answered by ``config.middleware.OpsMiddleware`` before tenant routing
and host validation (so a probe by pod ip works):

- ``/healthz/live``: the process answers; nothing else is touched.
- ``/healthz/ready``: database, cache, object storage, migrations applied. Cheap: run
  in the request's thread on its persistent database connection (one ``SELECT 1``,
  one Redis ``PING``); the storage answer is reused for ``HEALTH_STORAGE_TTL``
  seconds and "migrations applied", once true, for the life of the process.
- ``/healthz/deep``: for monitoring only, not for probes: the ready checks plus
  clamd, the Celery broker and a worker answering, the spare-schema pool, the
  audit seal lag and last verification, and the age of the last backup.

The checks are django-health-check 4 ``HealthCheck`` classes. Its own view is not
used for ``ready``: it runs synchronous checks in an executor thread, where its
``Database`` check opens (and closes) a new database connection on every call
(``bench/health.py`` measures both). ``deep`` uses the library's concurrent runner.

Each endpoint answers JSON ``{"status": "ok"|"warning"|"fail", "checks": {name:
{"status", "detail"?, "ms"}}}``, 200 unless a check failed (503). A warning (e.g.
no backup system has recorded anything yet) does not fail.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import os
import threading
import time
from collections.abc import Iterable

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.cache import caches
from django.core.files.storage import storages
from django.db import DatabaseError, connection, connections
from django.http import JsonResponse
from health_check.base import HealthCheck, HealthCheckResult
from health_check.contrib.celery import Ping as CeleryPing
from health_check.exceptions import (
    HealthCheckException,
    ServiceReturnedUnexpectedResult,
    ServiceUnavailable,
    ServiceWarning,
)

UPLOAD_STORAGES = ("uploads_documents", "uploads_quarantine")


# --- Ready -------------------------------------------------------------------


@dataclasses.dataclass
class Database(HealthCheck):
    """``SELECT 1`` on the calling thread's own connection (persistent, per ``CONN_MAX_AGE``).

    Unlike django-health-check's ``Database`` (``temporary_connection``, in an
    executor thread), this opens no connection when the thread already has one.
    """

    def run(self) -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                row = cursor.fetchone()
        except DatabaseError as exc:
            raise ServiceUnavailable(type(exc).__name__) from exc
        if row != (1,):
            raise ServiceReturnedUnexpectedResult("SELECT 1 did not return 1")


@dataclasses.dataclass
class Cache(HealthCheck):
    """One Redis ``PING`` on the default cache's connection pool."""

    alias: str = "default"

    def run(self) -> None:
        try:
            client = caches[self.alias]._cache.get_client(write=True)
            if not client.ping():
                raise ServiceUnavailable("no PONG")
        except HealthCheckException:
            raise
        except Exception as exc:  # redis-py's errors do not share a builtin base
            raise ServiceUnavailable(type(exc).__name__) from exc


_storage_ok: dict[str, float] = {}
_storage_lock = threading.Lock()


def _probe_storage(alias: str) -> None:
    storage = storages[alias]
    bucket = getattr(storage, "bucket_name", None)
    if bucket:
        # One HEAD request: the bucket exists and our credentials reach it.
        storage.connection.meta.client.head_bucket(Bucket=bucket)
        return
    location = storage.location
    os.makedirs(location, exist_ok=True)
    if not os.access(location, os.W_OK):
        raise ServiceUnavailable(f"{alias}: not writable")


@dataclasses.dataclass
class ObjectStorage(HealthCheck):
    """The uploads storages answer (S3 ``HeadBucket`` or a writable folder). A success
    is reused for ``HEALTH_STORAGE_TTL`` seconds: a round trip to S3 costs more than
    the whole ready budget."""

    def run(self) -> None:
        ttl = settings.HEALTH_STORAGE_TTL
        now = time.monotonic()
        for alias in UPLOAD_STORAGES:
            if now - _storage_ok.get(alias, -1e9) < ttl:
                continue
            try:
                _probe_storage(alias)
            except HealthCheckException:
                raise
            except Exception as exc:
                raise ServiceUnavailable(f"{alias}: {type(exc).__name__}") from exc
            with _storage_lock:
                _storage_ok[alias] = now


_migrated = threading.Event()


def _expected_migrations() -> set[tuple[str, str]]:
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    return set(loader.graph.leaf_nodes())


@dataclasses.dataclass
class MigrationsApplied(HealthCheck):
    """Every migration this code knows is recorded in the public schema (the release
    job migrates public first, then the fleet). Once true it stays true for the
    process: migrations only move forward under running code."""

    def run(self) -> None:
        if _migrated.is_set():
            return
        expected = _expected_migrations()
        with connection.cursor() as cursor:
            cursor.execute("SELECT app, name FROM public.django_migrations")
            applied = set(cursor.fetchall())
        missing = sorted(expected - applied)
        if missing:
            shown = ", ".join(f"{app}.{name}" for app, name in missing[:3])
            raise ServiceUnavailable(f"{len(missing)} not applied: {shown}")
        _migrated.set()


READY_CHECKS: tuple[HealthCheck, ...] = (Database(), Cache(), ObjectStorage(), MigrationsApplied())


# --- Deep (monitoring) -------------------------------------------------------


class _OwnConnection(HealthCheck):
    """A check run in an executor thread: it closes the thread's database connection."""

    def probe(self) -> None:
        raise NotImplementedError

    def run(self) -> None:
        try:
            connection.set_schema_to_public()
            self.probe()
        except DatabaseError as exc:
            raise ServiceUnavailable(type(exc).__name__) from exc
        finally:
            connections.close_all()


@dataclasses.dataclass
class DatabaseDeep(_OwnConnection):
    def probe(self) -> None:
        Database().run()


@dataclasses.dataclass
class Clamd(HealthCheck):
    """clamd answers ``PING``."""

    timeout: datetime.timedelta = dataclasses.field(
        default=datetime.timedelta(seconds=2), repr=False
    )

    def run(self) -> None:
        from uploads.scanning import get_scanner

        try:
            get_scanner().ping(timeout=self.timeout.total_seconds())
        except Exception as exc:
            raise ServiceUnavailable(f"clamd: {type(exc).__name__}") from exc


@dataclasses.dataclass
class SparePool(_OwnConnection):
    """At least one spare schema is ready (else signups migrate a schema: slow)."""

    def probe(self) -> None:
        from tenants.selectors import spare_pool_size

        if spare_pool_size() < 1:
            raise ServiceUnavailable("the spare-schema pool is empty")


@dataclasses.dataclass
class AuditSeal(_OwnConnection):
    """Committed audit events are linked into their chains within ``HEALTH_SEAL_LAG_MAX``,
    and the last daily verification found no broken chain."""

    def probe(self) -> None:
        from audit.selectors import last_verification, seal_lag_seconds

        lag = seal_lag_seconds()
        if lag > settings.HEALTH_SEAL_LAG_MAX:
            raise ServiceUnavailable(f"oldest unsealed event is {lag:.0f} s old")
        verification = last_verification()
        if verification and verification["bad"]:
            raise ServiceUnavailable(f"{verification['bad']} chain(s) failed verification")


@dataclasses.dataclass
class BackupAge(_OwnConnection):
    """Every active workspace was backed up within ``HEALTH_BACKUP_MAX_AGE`` seconds.
    Nothing recorded at all (no backup system yet) is a warning: "unknown"."""

    def probe(self) -> None:
        from backups.selectors import summary as backup_summary

        result = backup_summary()
        if result.workspaces and not result.any_recorded:
            raise ServiceWarning("unknown: no backup has been recorded")
        age = result.oldest_age_seconds or 0
        if age > settings.HEALTH_BACKUP_MAX_AGE:
            raise ServiceUnavailable(f"the stalest workspace backup is {age / 3600:.1f} h old")


@dataclasses.dataclass
class CeleryWorkers(CeleryPing):
    """The broker takes a ping and at least one worker answers, for every queue."""

    limit: int | None = dataclasses.field(default=None, repr=False)


def deep_checks() -> tuple[HealthCheck, ...]:
    return (
        DatabaseDeep(),
        Cache(),
        ObjectStorage(),
        Clamd(),
        CeleryWorkers(timeout=datetime.timedelta(seconds=settings.HEALTH_CELERY_TIMEOUT)),
        SparePool(),
        AuditSeal(),
        BackupAge(),
    )


# --- Running and answering ---------------------------------------------------


def _name(check: HealthCheck) -> str:
    return type(check).__name__


def run_inline(checks: Iterable[HealthCheck]) -> list[HealthCheckResult]:
    """Run synchronous checks one after the other in this thread."""
    results = []
    for check in checks:
        start = time.perf_counter()
        try:
            check.run()
        except HealthCheckException as exc:
            error = exc
        except Exception as exc:
            error = HealthCheckException(type(exc).__name__)
        else:
            error = None
        results.append(HealthCheckResult(check, error, time.perf_counter() - start))
    return results


async def _gather(checks: Iterable[HealthCheck]) -> list[HealthCheckResult]:
    return list(await asyncio.gather(*(check.get_result() for check in checks)))


def run_concurrently(checks: Iterable[HealthCheck]) -> list[HealthCheckResult]:
    """django-health-check's runner: each check with its timeout, all at once."""
    return async_to_sync(_gather)(checks)


def report(results: list[HealthCheckResult]) -> tuple[int, dict]:
    checks, worst = {}, "ok"
    for result in results:
        entry = {"status": "ok", "ms": round(result.time_taken * 1000, 2)}
        if result.error is not None:
            level = "warning" if isinstance(result.error, ServiceWarning) else "fail"
            entry.update(status=level, detail=result.error.message)
            if level == "fail" or worst == "ok":
                worst = level
        checks[_name(result.check)] = entry
    return (503 if worst == "fail" else 200), {"status": worst, "checks": checks}


def _answer(results: list[HealthCheckResult]) -> JsonResponse:
    status, body = report(results)
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    return response


def live(request) -> JsonResponse:
    response = JsonResponse({"status": "ok"})
    response["Cache-Control"] = "no-store"
    return response


def ready(request) -> JsonResponse:
    return _answer(run_inline(READY_CHECKS))


def deep(request) -> JsonResponse:
    return _answer(run_concurrently(deep_checks()))
