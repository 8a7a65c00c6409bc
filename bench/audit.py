"""Benchmark of the audit log (issue 3). Run from the repo root with the local services up:

    .venv/bin/python bench/audit.py [--events 200000] [--rounds 15] [--keep]

Works in its own database ``bench_audit`` (dropped and re-created; never the dev
database) and Redis db 13 (flushed at the end). Measures, in one run:

- a real request that changes one row and audits it (POST /account/: the
  profile form, its service, one ``user.profile_updated`` event) against the same
  request with ``audit.services.record`` turned into a no-op. Two gunicorn
  servers (one sync worker each, ``bench/_audit_wsgi.py``) serve the same code
  over loopback through the full middleware stack; the driver interleaves A/B
  rounds (alternating which goes first) and reports the median of the per-round
  means (target ratio <= 1.10). The same comparison in-process (Django test
  client) is reported too, as a stricter figure; and the INSERTs one event
  costs (must be 1);
- ``verify_chain`` throughput over ``--events`` events (target >= 100,000/s);
- streamed CSV and JSON Lines export throughput (target >= 50,000/s) and the
  growth of the process's RSS while exporting (flat memory).

Prints its figures, then one JSON line last. Every loop is bounded in count and time.
"""

import argparse
import http.client
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import _common
from _common import ROOT, free_port

DB_NAME = "bench_audit"
# The test settings (fast password hashing), on the bench's own database and Redis db.
_common.use_environment(DB_NAME, "config.settings.test")
os.environ["TEST_REDIS_URL"] = _common.redis_url()

PASSWORD = "Bench-password-42"
DEADLINE_S = 240  # the whole run; each phase also has its own bound


def log(message: str) -> None:
    print(message, flush=True)


def drop_database() -> None:
    from django.db import connections

    connections.close_all()
    _common.drop_database(DB_NAME)


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


HOST = "bench.localhost"
FORM_PATH = "/account/"


def start_server(record: str) -> tuple[subprocess.Popen, int]:
    """gunicorn serving the real app on loopback; ``record`` is "on" or "off"."""
    port = free_port()
    env = {**os.environ, "AUDIT_BENCH_RECORD": record}  # PYTHONPATH from _common
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--worker-class", "sync", "--log-level", "warning", "bench._audit_wsgi:application"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("gunicorn did not start")


class FormPoster:
    """Posts the profile form as a signed-in owner, over a fresh loopback
    connection per request (gunicorn's sync workers close it after each)."""

    def __init__(self, port: int, session_key: str) -> None:
        self.port = port
        self.csrf = secrets.token_hex(16)  # a 32-character CSRF secret
        self.headers = {
            "Host": HOST,
            "Cookie": f"atrium_session={session_key}; atrium_csrf={self.csrf}",
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AuditBench/1.0",
        }

    def post(self, name: str) -> int:
        body = urlencode({"full_name": name, "language": "", "time_zone": "",
                          "csrfmiddlewaretoken": self.csrf})  # fmt: skip
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("POST", FORM_PATH, body=body, headers=self.headers)
            response = conn.getresponse()
            response.read()
            return response.status
        finally:
            conn.close()


def interleaved(run_one, rounds: int, per_round: int, budget_s: float) -> dict:
    """A/B rounds, alternating which kind goes first; medians of per-round means."""
    for kind in ("plain", "audited"):  # warm-up: connections, caches, templates
        for i in range(50):
            run_one(kind, f"Warm {kind} {i}")
    times: dict[str, list[float]] = {"plain": [], "audited": []}
    stop = time.monotonic() + budget_s
    for round_no in range(rounds):
        order = ("plain", "audited") if round_no % 2 == 0 else ("audited", "plain")
        for kind in order:
            started = time.perf_counter()
            for i in range(per_round):
                # A new name each time, so every request really changes the row.
                run_one(kind, f"Bench {kind} {round_no}-{i}")
            times[kind].append((time.perf_counter() - started) / per_round)
        if time.monotonic() > stop:
            break
    plain, audited = statistics.median(times["plain"]), statistics.median(times["audited"])
    paired = [a / p for p, a in zip(times["plain"], times["audited"], strict=True)]
    return {
        "ms_plain": round(plain * 1000, 3),
        "ms_audited": round(audited * 1000, 3),
        # The median of the per-round ratios: each round pairs A and B run back to
        # back, so the other sessions' load drifting between rounds cancels out.
        "ratio": round(statistics.median(paired), 3),
        "ratio_of_medians": round(audited / plain, 3),
        "rounds": len(times["plain"]),
        "round_ratios": [round(ratio, 3) for ratio in paired],
    }  # fmt: skip


def bench_gunicorn(sessions: dict[str, str], rounds: int, per_round: int) -> dict:
    servers = {"plain": start_server("off"), "audited": start_server("on")}
    try:
        posters = {kind: FormPoster(port, sessions[kind]) for kind, (_p, port) in servers.items()}

        def run_one(kind: str, name: str) -> None:
            status = posters[kind].post(name)
            assert status == 302, f"{kind}: HTTP {status}"

        return interleaved(run_one, rounds, per_round, budget_s=120)
    finally:
        for process, _port in servers.values():
            process.terminate()
        for process, _port in servers.values():
            process.wait(timeout=30)


def bench_in_process(client, rounds: int, per_round: int) -> dict:
    """The same A/B comparison in-process (Django test client): no HTTP, no gunicorn."""
    from audit import services

    real_record = services.record

    def run_one(kind: str, name: str) -> None:
        services.record = real_record if kind == "audited" else (lambda *a, **k: None)
        try:
            response = client.post(FORM_PATH, {"full_name": name, "language": "",
                                               "time_zone": ""})  # fmt: skip
        finally:
            services.record = real_record
        assert response.status_code == 302, response.status_code

    return interleaved(run_one, rounds, per_round, budget_s=60)


def count_inserts(client, chain: str) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from audit import services

    real_record = services.record
    services._last_seal[chain] = time.monotonic()  # no seal inside the measured requests
    services.record = lambda *a, **k: None
    try:
        with CaptureQueriesContext(connection) as plain_q:
            client.post(FORM_PATH, {"full_name": "Count plain", "language": "", "time_zone": ""})
    finally:
        services.record = real_record
    with CaptureQueriesContext(connection) as audited_q:
        client.post(FORM_PATH, {"full_name": "Count audited", "language": "", "time_zone": ""})
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

    from audit.hashing import EVENT_CONTENT_COLUMNS as columns

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
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--per-round", type=int, default=100)
    parser.add_argument("--keep", action="store_true", help="keep the bench_audit database")
    args = parser.parse_args()
    run_started = time.monotonic()

    _common.recreate_database(DB_NAME)
    _common.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from audit.models import AuditEvent
    from audit.services import seal_chain, verify_chain
    from core.principal import SYSTEM
    from signup.services import tenant_provision

    settings.TENANT_SPARE_POOL_SIZE = 0  # migrate the one workspace; no spare schemas
    results: dict = {"bench": "audit"}
    try:
        log(f"== database {DB_NAME}: migrating")
        _common.migrate_public()
        workspace = tenant_provision(
            actor=SYSTEM,
            slug="bench", name="Bench Ltd", owner_email="owner@bench.test",
            owner_password=PASSWORD, owner_name="Bench Owner",
        )  # fmt: skip
        tenant = workspace.tenant
        chain = tenant.schema_name
        connection.set_tenant(tenant)
        from django.contrib.auth import get_user_model

        owner = get_user_model().objects.get(pk=workspace.owner_id)
        sessions = {}
        for kind in ("plain", "audited"):
            session_client = Client(HTTP_HOST=HOST)
            session_client.force_login(owner)
            sessions[kind] = session_client.cookies[settings.SESSION_COOKIE_NAME].value
        client = Client(HTTP_HOST=HOST)
        client.force_login(owner)
        connection.set_schema_to_public()

        def profile_events() -> int:
            return AuditEvent.objects.filter(chain=chain, action="user.profile_updated").count()

        log("== POST /account/ with its audit event vs the same request without it")
        log("   gunicorn (1 sync worker each), over loopback, interleaved A/B rounds")
        before = profile_events()
        served = bench_gunicorn(sessions, args.rounds, args.per_round)
        audited_requests = 50 + served["rounds"] * args.per_round
        written = profile_events() - before
        # Like with like: every audited request wrote its event, the plain ones none.
        assert written == audited_requests, (written, audited_requests)
        results.update({f"request_{k}": v for k, v in served.items()})
        results["request_events_written"] = written
        log(f"   plain {served['ms_plain']} ms, audited {served['ms_audited']} ms, "
            f"ratio {served['ratio']} (target <= 1.10), {served['rounds']} rounds: "
            f"{served['round_ratios']}")  # fmt: skip
        log("   in-process (Django test client, no HTTP)")
        inproc = bench_in_process(client, args.rounds, args.per_round)
        results.update({f"inprocess_{k}": v for k, v in inproc.items() if k != "round_ratios"})
        log(f"   plain {inproc['ms_plain']} ms, audited {inproc['ms_audited']} ms, "
            f"ratio {inproc['ratio']}")  # fmt: skip
        results.update(count_inserts(client, chain))
        log(f"   INSERTs per event: {results['inserts_per_event']}")

        log(f"== writing {args.events} events (COPY) and sealing them")
        started = time.perf_counter()
        written = generate_events(tenant, args.events, budget_s=60)
        results["generated_events"] = written
        log(f"   written in {time.perf_counter() - started:.1f}s")
        started = time.perf_counter()
        sealed = seal_chain(chain=chain)
        seconds = time.perf_counter() - started
        results["seal_events_per_s"] = round(sealed / seconds)
        log(f"   sealed {sealed} in {seconds:.1f}s ({results['seal_events_per_s']}/s)")

        log("== verify_chain")
        result = verify_chain(chain=chain, seal=False)
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
        _common.flush_redis()  # queued seal tasks (TEST_REDIS_URL is the bench's db)
    results["ok"] = bool(
        results.get("request_ratio", 99) <= 1.10
        and results.get("inserts_per_event") == 1
        and results.get("verify_events_per_s", 0) >= 100_000
        and min(results.get("export_csv_events_per_s", 0),
                results.get("export_jsonl_events_per_s", 0)) >= 50_000
        and max(results.get("export_csv_rss_growth_mb", 99),
                results.get("export_jsonl_rss_growth_mb", 99)) < 50
    )  # fmt: skip
    results["load_average"] = round(os.getloadavg()[0], 2)
    results["seconds"] = round(time.monotonic() - run_started, 1)
    assert results["seconds"] < DEADLINE_S * 2
    print(json.dumps(results, sort_keys=True))


if __name__ == "__main__":
    main()
