"""Benchmark of /healthz/ready (issue 14). Run from the repo root with the local services up:

    .venv/bin/python bench/health.py [--calls 300]

Works in its own database ``bench_health`` (dropped and re-created) and Redis db 10.
Through the full middleware stack (Django's test client, in-process), it measures:

- ``/healthz/ready`` (database, cache, object storage, migrations applied): latency
  (target p50 <= 15 ms) and new database connections per call (target 0);
- the same three dependencies through django-health-check's own view
  (``HealthCheckView`` with its ``Database``, ``Cache`` and ``Storage`` checks), the
  library's default, for comparison: it opens a connection per call.

Prints its figures, then one JSON line last. Loops are bounded in count and time.
"""

import argparse
import time

import _common

DB_NAME = "bench_health"
_common.use_environment(DB_NAME)
DEADLINE_S = 120


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    _common.recreate_database(DB_NAME)
    _common.flush_redis()
    _common.setup()
    _common.migrate_public()

    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.test import Client
    from django.urls import path
    from health_check.views import HealthCheckView

    opened = []
    original_connect = BaseDatabaseWrapper.connect

    def counting_connect(self):
        opened.append(1)
        return original_connect(self)

    BaseDatabaseWrapper.connect = counting_connect

    library_view = HealthCheckView.as_view(
        checks=(
            "health_check.checks.Database",
            ("health_check.checks.Cache", {"alias": "default"}),
            ("health_check.checks.Storage", {"alias": "uploads_documents"}),
        )
    )

    # A URLConf for the library's view, served on the public host.
    import sys
    import types

    module = types.ModuleType("bench_health_urls")
    module.urlpatterns = [path("library-ready/", library_view)]
    sys.modules["bench_health_urls"] = module
    from django.conf import settings

    settings.PUBLIC_SCHEMA_URLCONF = "bench_health_urls"

    pod = Client(HTTP_HOST="10.0.0.1:8000")
    public = Client(HTTP_HOST=settings.BASE_DOMAIN, HTTP_ACCEPT="application/json")
    started = time.monotonic()

    def measure(label, call) -> tuple[dict, float]:
        for _ in range(10):  # warm: connection, migration graph, storage probe
            response = call()
            assert response.status_code == 200, response.content
        before = len(opened)
        samples = []
        for _ in range(args.calls):
            if time.monotonic() - started > DEADLINE_S:
                break
            t0 = time.perf_counter()
            response = call()
            samples.append(time.perf_counter() - t0)
            assert response.status_code == 200, response.content
        figures = _common.describe_ms(label, samples)
        per_call = (len(opened) - before) / len(samples)
        print(f"{'':<44} new database connections per call: {per_call:.2f}")
        return figures, per_call

    ours, ours_conn = measure("/healthz/ready (ours)", lambda: pod.get("/healthz/ready"))
    lib, lib_conn = measure("django-health-check's view", lambda: public.get("/library-ready/"))
    BaseDatabaseWrapper.connect = original_connect
    _common.emit(
        {
            "bench": "health",
            "ready_p50_ms": round(ours["p50"], 3),
            "ready_p90_ms": round(ours["p90"], 3),
            "ready_new_connections_per_call": ours_conn,
            "library_p50_ms": round(lib["p50"], 3),
            "library_p90_ms": round(lib["p90"], 3),
            "library_new_connections_per_call": lib_conn,
            "target_ready_p50_ms": 15,
            "ok": ours["p50"] <= 15 and ours_conn == 0,
        }
    )
    from django.db import connections

    connections.close_all()
    _common.drop_database(DB_NAME)


if __name__ == "__main__":
    main()
