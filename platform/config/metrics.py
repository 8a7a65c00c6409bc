"""Prometheus metrics, served at ``/metrics`` (see ``config.middleware``).

Two kinds:

- **Per process**, counted where they happen: HTTP requests by view (rate,
  latency). Under gunicorn, ``PROMETHEUS_MULTIPROC_DIR`` (set by
  ``deploy/gunicorn.conf.py``) makes prometheus-client keep them in files that
  every worker's ``/metrics`` adds up, so a scrape sees the whole pod.
- **Fleet-wide**, read at scrape time (``FleetCollector``): workspaces by state,
  spare pool, scan backlog, audit seal lag and verification, backup age, and
  Celery task outcomes (counted in Redis by every worker, see ``count_task``).
  They are the same whichever web pod is scraped: aggregate them with ``max``.
  The readings are shared through the ops cache for ``METRICS_FLEET_TTL``
  seconds, so many scrapers cost one set of queries.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.http import HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

logger = logging.getLogger(__name__)

HTTP_REQUESTS = Counter(
    "atrium_http_requests",
    "HTTP requests answered, by view, method and status class.",
    ["view", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "atrium_http_request_duration_seconds",
    "Time from the first middleware to the response, by view.",
    ["view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

TASKS_KEY = "celery:task_outcomes"
FLEET_KEY = "metrics:fleet"


def observe_request(*, view: str, method: str, status: int, seconds: float) -> None:
    method = method if method in {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"} else "OTHER"
    HTTP_REQUESTS.labels(view=view, method=method, status=f"{status // 100}xx").inc()
    HTTP_LATENCY.labels(view=view).observe(seconds)


def _redis():
    """The raw client of the ops cache (for a hash: one round trip per count)."""
    return caches["ops"]._cache.get_client(write=True)


def count_task(task: str, outcome: str) -> None:
    """Count one finished task (``success``, ``failure``, ``retry``...) fleet-wide."""
    try:
        _redis().hincrby(TASKS_KEY, f"{task}|{outcome}", 1)
    except Exception:  # counting must never fail a task
        logger.warning("could not count task outcome", exc_info=True)


def task_outcomes() -> dict[tuple[str, str], int]:
    raw = _redis().hgetall(TASKS_KEY)
    outcomes = {}
    for field, value in raw.items():
        task, _sep, outcome = field.decode().rpartition("|")
        outcomes[(task, outcome)] = int(value)
    return outcomes


def fleet_readings() -> dict:
    """The fleet-wide figures, read from the database and the ops cache."""
    from audit.selectors import last_verification, seal_lag_seconds
    from backups.selectors import last_drill_result
    from backups.selectors import summary as backup_summary
    from tenants.selectors import fleet_counts, schemas_holding_data, spare_pool_size
    from uploads.selectors import scan_backlog

    connection.set_schema_to_public()
    backlog, oldest = scan_backlog(schemas_holding_data())
    backups = backup_summary()
    return {
        "workspaces": fleet_counts(),
        "spare_pool": spare_pool_size(),
        "scan_backlog": backlog,
        "scan_oldest_seconds": oldest or 0.0,
        "seal_lag_seconds": seal_lag_seconds(),
        "verification": last_verification(),
        "backup_recorded": backups.any_recorded,
        "backup_oldest_seconds": backups.oldest_age_seconds,
        "backup_missing": backups.workspaces - backups.backed_up,
        "drill": last_drill_result(),
    }


def _cached_readings() -> dict:
    cache = caches["ops"]
    readings = cache.get(FLEET_KEY)
    if readings is None:
        readings = fleet_readings()
        cache.set(FLEET_KEY, readings, timeout=settings.METRICS_FLEET_TTL)
    return readings


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


class FleetCollector:
    """Fleet-wide metrics, collected at scrape time."""

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        try:
            r = _cached_readings()
            outcomes = task_outcomes()
        except Exception:
            logger.exception("fleet metrics could not be read")
            yield _gauge("atrium_fleet_metrics_up", "1 if the fleet figures could be read.", 0)
            return
        yield _gauge("atrium_fleet_metrics_up", "1 if the fleet figures could be read.", 1)
        states = GaugeMetricFamily("atrium_workspaces", "Workspaces by state.", labels=["state"])
        for state, n in sorted(r["workspaces"].items()):
            states.add_metric([state], n)
        yield states
        yield _gauge("atrium_spare_pool_size", "Spare schemas ready for signups.", r["spare_pool"])
        yield _gauge(
            "atrium_scan_backlog_documents",
            "Documents waiting for or in a virus scan.",
            r["scan_backlog"],
        )
        yield _gauge(
            "atrium_scan_oldest_waiting_seconds",
            "Age of the oldest document waiting for a scan (0 when none).",
            r["scan_oldest_seconds"],
        )
        yield _gauge(
            "atrium_audit_seal_lag_seconds",
            "Age of the oldest audit event not yet linked into its chain (0 when none).",
            r["seal_lag_seconds"],
        )
        verification = r["verification"]
        if verification is not None:
            yield _gauge(
                "atrium_audit_chains_broken",
                "Audit chains that failed the last daily verification.",
                verification["bad"],
            )
            from datetime import datetime

            yield _gauge(
                "atrium_audit_last_verification_timestamp_seconds",
                "When the last daily verification of the audit chains ran.",
                datetime.fromisoformat(verification["at"]).timestamp(),
            )
        yield _gauge(
            "atrium_backup_recorded",
            "1 once any active workspace has a recorded backup.",
            1 if r["backup_recorded"] else 0,
        )
        if r["backup_oldest_seconds"] is not None:
            yield _gauge(
                "atrium_backup_oldest_age_seconds",
                "Over active workspaces: age of the stalest last successful backup "
                "(never backed up: since creation).",
                r["backup_oldest_seconds"],
            )
        yield _gauge(
            "atrium_backup_workspaces_without_backup",
            "Active workspaces with no recorded backup.",
            r["backup_missing"],
        )
        drill = r.get("drill")
        if drill is not None:
            yield _gauge(
                "atrium_restore_drill_ok",
                "1 if the last restore drill restored, verified and dropped its backup.",
                1 if drill["ok"] else 0,
            )
            yield _gauge(
                "atrium_restore_drill_age_seconds",
                "Time since the last restore drill finished.",
                drill["age_seconds"],
            )
        tasks = CounterMetricFamily(
            "atrium_celery_tasks", "Finished Celery tasks by outcome.", labels=["task", "outcome"]
        )
        for (task, outcome), n in sorted(outcomes.items()):
            tasks.add_metric([task, outcome], n)
        yield tasks
        yield _gauge(
            "atrium_fleet_metrics_collect_seconds",
            "Time taken to read the fleet figures for this scrape.",
            time.perf_counter() - started,
        )


def render() -> bytes:
    """The exposition text: this process's (or, under gunicorn, every worker's) counts
    and the fleet figures."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        local = CollectorRegistry()
        MultiProcessCollector(local)
    else:
        local = REGISTRY
    fleet = CollectorRegistry(auto_describe=False)
    fleet.register(FleetCollector())
    return generate_latest(local) + generate_latest(fleet)


def metrics_view(request) -> HttpResponse:
    return HttpResponse(render(), content_type=CONTENT_TYPE_LATEST)
