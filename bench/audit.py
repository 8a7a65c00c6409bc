"""Benchmark of the audit log (issue 3). Run from the repo root with the local services up:

    .venv/bin/python bench/audit.py [--events 200000] [--keep]

Works in its own database ``bench_audit`` (dropped and re-created; never the dev
database) and Redis db 13. Measures, in one run:

- a request that changes one row and audits it vs the same request without the
  audit call (target ratio <= 1.10), and the INSERTs one event costs (must be 1);
- ``verify_chain`` throughput over ``--events`` events (target >= 100,000/s);
- streamed CSV and JSON Lines export throughput (target >= 50,000/s) and the
  growth of the process's RSS while exporting (flat memory).

Prints its figures, then one JSON line last. Every loop is bounded in count and time.
"""

import argparse
import json
import os
import statistics
import sys
import time
import types
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]

PGPORT = os.environ.get("PGPORT", "54329")
REDIS_PORT = os.environ.get("REDIS_PORT", "6390")
DB_NAME = "bench_audit"
ADMIN_DSN = f"postgresql://atrium@127.0.0.1:{PGPORT}/postgres"
os.environ["DATABASE_URL"] = f"postgres://atrium@127.0.0.1:{PGPORT}/{DB_NAME}"
os.environ["TEST_REDIS_URL"] = f"redis://127.0.0.1:{REDIS_PORT}/13"
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"

PASSWORD = "Bench-password-42"
DEADLINE_S = 240  # the whole run; each phase also has its own bound


def log(message: str) -> None:
    print(message, flush=True)


def recreate_database() -> None:
    import psycopg

    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")


def drop_database() -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def install_bench_urls() -> None:
    """Two views that change the same row; one also records the change."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.http import HttpResponse
    from django.urls import include, path
    from django.views.decorators.csrf import csrf_exempt

    import audit.services as audit

    user_model = get_user_model()

    def _rename(request, *, audited: bool) -> HttpResponse:
        name = request.POST.get("name", "x")
        with transaction.atomic():
            user_model.objects.filter(pk=request.user.pk).update(full_name=name)
            if audited:
                audit.record(
                    "staff.renamed",
                    target=("accounts.user", request.user.pk, request.user.email),
                    changes={"full_name": {"before": request.user.full_name, "after": name}},
                )
        return HttpResponse("ok")

    module = types.ModuleType("audit_bench_urls")
    module.urlpatterns = [
        path("plain/", csrf_exempt(lambda r: _rename(r, audited=False))),
        path("audited/", csrf_exempt(lambda r: _rename(r, audited=True))),
        path("audit/", include("audit.urls")),
    ]
    sys.modules["audit_bench_urls"] = module


def bench_requests(client, rounds: int, per_round: int, budget_s: float) -> dict:
    """Interleaved rounds of plain and audited requests; medians of per-round means."""
    for kind in ("plain", "audited"):  # warm-up: caches, connections, templates
        for i in range(100):
            client.post(f"/{kind}/", {"name": f"warm {i}"})
    times: dict[str, list[float]] = {"plain": [], "audited": []}
    stop = time.monotonic() + budget_s
    for round_no in range(rounds):
        order = ("plain", "audited") if round_no % 2 == 0 else ("audited", "plain")
        for kind in order:
            started = time.perf_counter()
            for i in range(per_round):
                response = client.post(f"/{kind}/", {"name": f"n{round_no}-{i}"})
                assert response.status_code == 200, response.status_code
            times[kind].append((time.perf_counter() - started) / per_round)
        if time.monotonic() > stop:
            break
    plain, audited = statistics.median(times["plain"]), statistics.median(times["audited"])
    return {
        "request_ms_plain": round(plain * 1000, 3),
        "request_ms_audited": round(audited * 1000, 3),
        "request_ratio": round(audited / plain, 3),
        "request_rounds": len(times["plain"]),
    }


def count_inserts(client) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from audit import services

    services._last_seal.clear()
    services._last_seal.update({k: time.monotonic() + 3600 for k in ("t_bench",)})
    with CaptureQueriesContext(connection) as plain_q:
        client.post("/plain/", {"name": "count plain"})
    with CaptureQueriesContext(connection) as audited_q:
        client.post("/audited/", {"name": "count audited"})
    services._last_seal.clear()

    def inserts(captured) -> int:
        return sum(1 for q in captured.captured_queries if q["sql"].lstrip().startswith("INSERT"))

    return {
        "inserts_per_event": inserts(audited_q) - inserts(plain_q),
        "statements_plain": len(plain_q.captured_queries),
        "statements_audited": len(audited_q.captured_queries),
    }


def generate_events(tenant, count: int, budget_s: float) -> int:
    """``count`` realistic events in ``tenant``'s chain, written with COPY (fast setup)."""
    from django.db import connection

    columns = (
        "chain", "occurred_at", "tenant_id", "actor_type", "actor_id", "actor_display",
        "impersonator_id", "impersonator_display", "action", "target_type", "target_id",
        "target_display", "ip", "user_agent", "request_id", "changes",
    )  # fmt: skip
    start = datetime.now(UTC) - timedelta(days=30)
    stop = time.monotonic() + budget_s
    written = 0
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        # The content hash is set by the table's BEFORE INSERT trigger, as for record().
        copy_sql = f"COPY audit_auditevent ({', '.join(columns)}) FROM STDIN"
        with cursor.copy(copy_sql) as copy:
            for i in range(count):
                values = (
                    tenant.schema_name, start + timedelta(milliseconds=10 * i), tenant.pk, "user",
                    str(i % 50), f"user{i % 50}@bench.test", "", "", "document.updated",
                    "uploads.document", str(i), f"Report {i}.pdf", "10.0.0.1",
                    "Mozilla/5.0 (X11; Linux x86_64) Bench/1.0", f"req{i:032x}",
                    {"title": {"before": f"Draft {i}", "after": f"Report {i}"}, "size": i},
                )  # fmt: skip
                copy.write_row((*values[:-1], json.dumps(values[-1])))
                written += 1
                if i % 10_000 == 0 and time.monotonic() > stop:
                    break
    connection.commit() if not connection.get_autocommit() else None
    return written


def bench_export(client, fmt: str, budget_s: float) -> dict:
    rss_start = rss_mb()
    peak = rss_start
    lines = 0
    started = time.perf_counter()
    stop = time.monotonic() + budget_s
    response = client.get(f"/audit/export.{fmt}")
    assert response.status_code == 200, response.status_code
    for chunk in response.streaming_content:
        lines += chunk.count(b"\n")
        if lines % 20_000 < 600:
            peak = max(peak, rss_mb())
        if time.monotonic() > stop:
            break
    response.close()
    seconds = time.perf_counter() - started
    events = lines - (1 if fmt == "csv" else 0)
    return {
        f"export_{fmt}_events": events,
        f"export_{fmt}_events_per_s": round(events / seconds),
        f"export_{fmt}_rss_growth_mb": round(max(peak, rss_mb()) - rss_start, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--per-round", type=int, default=150)
    parser.add_argument("--keep", action="store_true", help="keep the bench_audit database")
    args = parser.parse_args()
    run_started = time.monotonic()

    recreate_database()
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from audit.chain import seal_chain, verify_chain
    from tenants.services import provision_tenant

    settings.TENANT_SPARE_POOL_SIZE = 0  # migrate the one workspace; no spare schemas
    settings.ROOT_URLCONF = "audit_bench_urls"
    settings.ALLOWED_HOSTS = ["localhost", ".localhost"]
    results: dict = {"bench": "audit"}
    try:
        log(f"== database {DB_NAME}: migrating")
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
        workspace = provision_tenant(
            slug="bench", name="Bench Ltd", owner_email="owner@bench.test",
            owner_password=PASSWORD, owner_name="Bench Owner",
        )  # fmt: skip
        tenant = workspace.tenant
        install_bench_urls()
        connection.set_tenant(tenant)
        from django.contrib.auth import get_user_model

        owner = get_user_model().objects.get(pk=workspace.owner_id)
        client = Client(HTTP_HOST=f"bench.{settings.BASE_DOMAIN}")
        client.force_login(owner)
        connection.set_schema_to_public()

        log("== request with one audited change vs the same request without auditing")
        results.update(bench_requests(client, args.rounds, args.per_round, budget_s=90))
        results.update(count_inserts(client))
        log(f"   plain {results['request_ms_plain']} ms, audited "
            f"{results['request_ms_audited']} ms, ratio {results['request_ratio']} "
            f"(target <= 1.10); INSERTs per event: {results['inserts_per_event']}")  # fmt: skip

        log(f"== writing {args.events} events (COPY) and sealing them")
        started = time.perf_counter()
        written = generate_events(tenant, args.events, budget_s=60)
        results["generated_events"] = written
        log(f"   written in {time.perf_counter() - started:.1f}s")
        started = time.perf_counter()
        sealed = seal_chain(chain=tenant.schema_name)
        seconds = time.perf_counter() - started
        results["seal_events_per_s"] = round(sealed / seconds)
        log(f"   sealed {sealed} in {seconds:.1f}s ({results['seal_events_per_s']}/s)")

        log("== verify_chain")
        result = verify_chain(chain=tenant.schema_name, seal=False)
        assert result.ok, result.first_bad
        results["verify_events"] = result.events
        results["verify_events_per_s"] = round(result.events / result.seconds)
        log(f"   {result.events} events in {result.seconds:.2f}s "
            f"({results['verify_events_per_s']}/s, target >= 100000)")  # fmt: skip

        for fmt in ("csv", "jsonl"):
            log(f"== export {fmt}")
            results.update(bench_export(client, fmt, budget_s=60))
            log(f"   {results[f'export_{fmt}_events']} events, "
                f"{results[f'export_{fmt}_events_per_s']}/s (target >= 50000), RSS growth "
                f"{results[f'export_{fmt}_rss_growth_mb']} MB")  # fmt: skip
    finally:
        if not args.keep:
            drop_database()
    results["ok"] = bool(
        results.get("request_ratio", 99) <= 1.10
        and results.get("inserts_per_event") == 1
        and results.get("verify_events_per_s", 0) >= 100_000
        and min(results.get("export_csv_events_per_s", 0),
                results.get("export_jsonl_events_per_s", 0)) >= 50_000
        and max(results.get("export_csv_rss_growth_mb", 99),
                results.get("export_jsonl_rss_growth_mb", 99)) < 50
    )  # fmt: skip
    results["seconds"] = round(time.monotonic() - run_started, 1)
    assert results["seconds"] < DEADLINE_S * 2
    print(json.dumps(results, sort_keys=True))


if __name__ == "__main__":
    main()
