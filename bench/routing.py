"""Benchmark: requests/s of the same one-query view with and without tenancy.

Four gunicorn servers, all running at once (sync workers, as many as
``deploy/gunicorn.conf.py`` starts in production: 2 per core + 1), serve
``_site.views.count_users`` (``User.objects.count()``) on loopback. Six loads:

* tenant: the production settings (django-tenants backend, ``TenantRoutingMiddleware``
  and the rest of the middleware stack), requests to a workspace host;
* tenant, mixed hosts: the same, each request to the next of ``BENCH_HOSTS`` workspaces
  (so nearly every request switches schema and sets the search_path);
* plain: the same settings without the tenant middleware, with Django's plain
  PostgreSQL backend, requests to the public host;
* stock: django-tenants' own ``TenantMainMiddleware`` with its default
  ``TENANT_LIMIT_SET_CALLS = False``, one workspace host;
* pooled, pooled mixed: tenant and mixed with ``DATABASE_POOLING=transaction``, through
  a pgbouncer in transaction mode on loopback (``tenants.pgbouncer_process``, as many
  server connections as gunicorn workers); compared with tenant and mixed, which
  connect directly in the default session mode.

wrk (16 connections, 2 threads) warms each load up, then the loads take turns for
``BENCH_ROUNDS`` rounds of ``BENCH_DURATION`` seconds each, the order rotated every
round; the median of the rounds is reported, and each ratio is the median of the
rounds' ratios. The servers that wait meanwhile are idle, so figures compared in a
round were taken seconds apart: this shared machine's req/s moves by half from one
minute to the next, and a server started afresh for each measurement (as until
2 Dec 2026) put minutes between them. Separately,
in-process, the statements one tenant request sends are counted at two
levels: Django's (what ``CaptureQueriesContext`` sees) and the driver's (every
statement psycopg sends; the test client skips Django's per-request connection
health check, which costs both variants the same under gunicorn), with the round
trips and transactions they make. The pooled mode's statements are counted the same
way in a process of its own (its settings differ), per request and per transaction.

Run: ``.venv/bin/python bench/routing.py`` (or ``make bench B=routing``; wrk and
pgbouncer come from Debian's ``wrk`` and ``pgbouncer`` packages). Env:
``BENCH_DURATION`` (seconds per measurement, default 4), ``BENCH_ROUNDS`` (default 8),
``BENCH_HOSTS`` (default 50), ``BENCH_WORKERS`` (gunicorn's workers per server, default
2 per core + 1). Last line: one JSON object.
"""

import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
from urllib.parse import urlsplit

import _common

from core.principal import SYSTEM
from tenants.pgbouncer_process import PgBouncerProcess, pgbouncer_binary

DB_NAME = "bench_routing"
DURATION = int(os.environ.get("BENCH_DURATION", "4"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "8"))
WARMUP = 3
CONNECTIONS = 16
# gunicorn's sync workers per server (and pgbouncer's server connections): as
# deploy/gunicorn.conf.py sets them in production. A sync worker idles while its
# query travels; with one per core the cores idle with it, and the figures measure
# loopback latency (each round trip through pgbouncer wakes one more process) more
# than the code. BENCH_WORKERS=2 shows that case (deploy/scaling.md).
WORKERS = int(os.environ.get("BENCH_WORKERS", str((os.cpu_count() or 1) * 2 + 1)))
SLUG = "acme"
HOSTS = int(os.environ.get("BENCH_HOSTS", "50"))


def main() -> None:
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: install Debian's wrk package (make bench does).")
    if not pgbouncer_binary():
        raise SystemExit("pgbouncer is missing: install Debian's pgbouncer (make bench does).")
    env = _common.use_environment(DB_NAME, "_site.settings_tenant")
    _common.recreate_database(DB_NAME)
    _common.flush_redis()
    _common.setup()
    from django.conf import settings

    from tenants import pool

    _common.migrate_public()
    pool.refill(1, actor=SYSTEM)
    from signup.services import workspace_create as create_workspace

    password_hash, _ = _common.password_hash_seconds(1)
    create_workspace(
        actor=SYSTEM,
        name="Acme", slug=SLUG, owner_email="owner@acme.test", owner_name="Acme Owner",
        owner_password_hash=password_hash,
    )  # fmt: skip
    recipe = _common.SchemaRecipe()
    recipe.make_spares(HOSTS - 1)
    mixed_hosts = [f"{SLUG}.{settings.BASE_DOMAIN}"]
    for n in range(1, HOSTS):
        create_workspace(
            actor=SYSTEM,
            name=f"Mixed {n}", slug=f"mixed{n}", owner_email=f"owner@mixed{n}.test",
            owner_name="Owner", owner_password_hash=password_hash,
        )  # fmt: skip
        mixed_hosts.append(f"mixed{n}.{settings.BASE_DOMAIN}")
    tenant_host = mixed_hosts[0]
    plain_host = settings.BASE_DOMAIN

    counts = count_statements([tenant_host])
    mixed_counts = count_statements(mixed_hosts)
    print("one workspace host:")
    for key, value in counts.items():
        print(f"  {key:<44} {value}")
    print(f"{len(mixed_hosts)} workspace hosts in turn:")
    for key, value in mixed_counts.items():
        print(f"  {key:<44} {value}")

    from django.db import connections

    connections.close_all()
    pooled_counts = count_pooled(env, [tenant_host])
    pooled_mixed_counts = count_pooled(env, mixed_hosts)
    print("transaction pooling, one workspace host:")
    for key, value in pooled_counts.items():
        print(f"  {key:<44} {value}")
    print(f"transaction pooling, {len(mixed_hosts)} workspace hosts in turn:")
    for key, value in pooled_mixed_counts.items():
        print(f"  {key:<44} {value}")

    server = urlsplit(_common.server_url())
    bouncer = PgBouncerProcess(
        server_host=server.hostname or "127.0.0.1", server_port=server.port or 5432,
        server_user=server.username or "atrium", pool_size=WORKERS,
    )  # fmt: skip
    bouncer.start()
    pooled_env = {
        "DATABASE_POOLING": "transaction",
        "DATABASE_URL": bouncer.url(DB_NAME, server.username or "atrium"),
    }
    servers = {
        "plain": ("_site.settings_plain", {}),
        "tenant": ("_site.settings_tenant", {}),
        "stock": ("_site.settings_stock", {}),
        "pooled": ("_site.settings_tenant", pooled_env),
    }
    # (server, hosts, the body its one-query view answers)
    loads = {
        "plain": ("plain", [plain_host], "0"),
        "tenant": ("tenant", [tenant_host], "1"),
        "mixed": ("tenant", mixed_hosts, "1"),
        "stock": ("stock", [tenant_host], "1"),
        "pooled": ("pooled", [tenant_host], "1"),
        "pooled_mixed": ("pooled", mixed_hosts, "1"),
    }
    try:
        rps = load_in_turn(env, servers, loads)
    finally:
        bouncer.close()
    names = list(loads)

    # The machine is shared: each round's ratio compares figures taken seconds apart (a
    # round is six loads of DURATION seconds), and the median of the rounds is reported.
    median = statistics.median
    figures = {name: median(values) for name, values in rps.items()}
    ratios = {
        name: median(v / p for v, p in zip(rps[name], rps["plain"], strict=True)) for name in names
    }
    tenant_rps, plain_rps, mixed_rps = figures["tenant"], figures["plain"], figures["mixed"]
    ratio = ratios["tenant"]
    print(f"\nmedian of {ROUNDS} rounds of {DURATION} s, {WORKERS} gunicorn workers per server:")
    for name in names:
        print(f"  {name:<12} {figures[name]:8.0f} req/s   ratio to plain {ratios[name]:.2f}")
    print(f"target ratio >= 0.9: {'met' if ratio >= 0.9 else 'NOT MET'}")
    # Through pgbouncer in transaction mode / direct in session mode, per round.
    pooled_ratio = median(p / d for p, d in zip(rps["pooled"], rps["tenant"], strict=True))
    pooled_mixed_ratio = median(
        p / d for p, d in zip(rps["pooled_mixed"], rps["mixed"], strict=True)
    )
    pooled_tenancy = max(
        pooled_counts["tenancy statements per transaction"],
        pooled_mixed_counts["tenancy statements per transaction"],
    )
    print(
        f"pooled / direct: one host {pooled_ratio:.2f}, hosts in turn {pooled_mixed_ratio:.2f}"
        f"; target >= 0.85: {'met' if min(pooled_ratio, pooled_mixed_ratio) >= 0.85 else 'NOT MET'}"
    )
    print(
        f"target <= 1 tenancy statement per transaction when pooled: "
        f"{'met' if pooled_tenancy <= 1 else 'NOT MET'} ({pooled_tenancy})"
    )
    tenancy = max(counts["tenancy statements per request"],
                  mixed_counts["tenancy statements per request"])  # fmt: skip
    lookups = max(counts["host lookup statements per request"],
                  mixed_counts["host lookup statements per request"])  # fmt: skip
    print(
        f"target <= 1 tenancy statement per request, 0 for the host on a cache hit: "
        f"{'met' if tenancy <= 1 and lookups == 0 else 'NOT MET'}"
    )
    if not os.environ.get("BENCH_KEEP_DB"):
        _common.drop_database(DB_NAME)
    _common.flush_redis()
    _common.emit(
        {
            "tenant_rps": round(tenant_rps),
            "plain_rps": round(plain_rps),
            "ratio": round(ratio, 3),
            "sql_per_request": counts["statements per request (Django)"],
            "tenancy_sql_per_request": counts["tenancy statements per request"],
            "host_lookup_sql_per_request": lookups,
            "mixed_hosts": len(mixed_hosts),
            "mixed_rps": round(mixed_rps),
            "mixed_ratio": round(ratios["mixed"], 3),
            "stock_rps": round(figures["stock"]),
            "stock_ratio": round(ratios["stock"], 3),
            "mixed_sql_per_request": mixed_counts["statements per request (Django)"],
            "mixed_tenancy_sql_per_request": mixed_counts["tenancy statements per request"],
            "workers": WORKERS,
            "pooled_rps": round(figures["pooled"]),
            "pooled_ratio": round(pooled_ratio, 3),
            "pooled_mixed_rps": round(figures["pooled_mixed"]),
            "pooled_mixed_ratio": round(pooled_mixed_ratio, 3),
            "pooled_sql_per_request": pooled_counts["statements per request (Django)"],
            "pooled_tenancy_sql_per_transaction": pooled_tenancy,
            "pooled_transactions_per_request": pooled_counts["transactions per request"],
            "round_trips_per_request": counts["round trips per request (driver)"],
            "pooled_round_trips_per_request": pooled_counts["round trips per request (driver)"],
        }
    )


def count_pooled(env: dict, hosts: list[str]) -> dict[str, float]:
    """``count_statements`` in a process started with ``DATABASE_POOLING=transaction``
    (direct to PostgreSQL: what is counted is what the backend sends)."""
    result = subprocess.run(
        # Not run as a script: bench/ first on sys.path would shadow the uploads package.
        [sys.executable, "-c", "import sys, routing; routing.count_pooled_main(sys.argv[1:])",
         *hosts],
        env={**env, "DATABASE_POOLING": "transaction"}, cwd=_common.ROOT,
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    if result.returncode:
        raise SystemExit(f"counting in pooled mode failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def count_pooled_main(hosts: list[str]) -> None:
    _common.setup()
    from django.db import connection

    assert connection.transaction_pooling, "DATABASE_POOLING=transaction expected"
    print(json.dumps(count_statements(hosts)))


_PATH_STATEMENT = re.compile(r"SET search_path|set_config\('search_path'")


def count_statements(hosts: list[str], requests: int = 200) -> dict[str, float]:
    """Statements per tenant request (to ``hosts`` in turn) once routes are cached, the
    round trips to the database and the transactions they make: psycopg starts one
    whenever the connection is idle (a ``BEGIN`` of its own round trip outside
    autocommit, else the message is an implicit transaction). The tenancy statements
    (``SET search_path``, ``set_config``) are counted one by one, also those sent in one
    message with another statement."""
    import psycopg
    from django.db import connection, connections
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    idle = psycopg.pq.TransactionStatus.IDLE
    clients = [Client(HTTP_HOST=host) for host in hosts]
    for client in clients:
        assert client.get("/").content == b"1"
    wire: list[str] = []
    ends: list[str] = []
    begins = 0
    path_statements_per_transaction: list[int] = []
    original = psycopg.Cursor.execute
    backend = type(connections["default"])
    commit, rollback = backend._commit, backend._rollback

    def counting_execute(self, query, *args, **kwargs):
        nonlocal begins
        text = query if isinstance(query, str) else str(query)
        wire.append(text)
        if self.connection.info.transaction_status == idle or not path_statements_per_transaction:
            path_statements_per_transaction.append(0)
            begins += not self.connection.autocommit
        path_statements_per_transaction[-1] += len(_PATH_STATEMENT.findall(text))
        return original(self, query, *args, **kwargs)

    def counting_commit(self):
        ends.append("commit")
        return commit(self)

    def counting_rollback(self):
        ends.append("rollback")
        return rollback(self)

    psycopg.Cursor.execute = counting_execute
    backend._commit, backend._rollback = counting_commit, counting_rollback
    try:
        with CaptureQueriesContext(connection) as captured:
            for n in range(requests):
                response = clients[n % len(clients)].get("/")
                assert response.status_code == 200 and response.content == b"1"
    finally:
        psycopg.Cursor.execute = original
        backend._commit, backend._rollback = commit, rollback
    sql = [q["sql"] for q in captured.captured_queries]
    tenancy = sum(len(_PATH_STATEMENT.findall(s)) for s in sql)
    transactions = path_statements_per_transaction
    return {
        "statements per request (Django)": len(sql) / requests,
        "statements per request (driver)": len(wire) / requests,
        "round trips per request (driver)": (len(wire) + begins + len(ends)) / requests,
        "tenancy statements per request": tenancy / requests,
        "host lookup statements per request": sum("tenants_domain" in s for s in wire) / requests,
        "view statements per request": sum("accounts_user" in s for s in sql) / requests,
        "transactions per request": len(transactions) / requests,
        # The most any one transaction carried (the target's "at most one").
        "tenancy statements per transaction": max(transactions, default=0),
    }


def load_in_turn(
    env: dict, servers: dict[str, tuple[str, dict]], loads: dict[str, tuple[str, list[str], str]]
) -> dict[str, list[float]]:
    """Start every server at once (gunicorn with its settings module and environment),
    then load them in turn, ``ROUNDS`` rounds of ``DURATION`` seconds each, the order
    rotated every round: the req/s of each load, round by round. Idle sync workers cost
    nothing, and the ratios compare figures taken seconds apart rather than minutes."""
    with contextlib.ExitStack() as stack:
        urls = {}
        for name, (settings_module, extra_env) in servers.items():
            server_env = {**env, **extra_env, "DJANGO_SETTINGS_MODULE": settings_module}
            port, _ = stack.enter_context(_common.gunicorn(workers=WORKERS, env=server_env))
            urls[name] = f"http://127.0.0.1:{port}/"
            # Serving before the next one picks its port: free_port cannot hand it out twice.
            for server, hosts, body in loads.values():
                if server == name:
                    _common.wait_until_serving(
                        urls[server],
                        {"Host": hosts[0]},
                        lambda status, got, body=body: status == 200 and got == body.encode(),
                    )
        for server, hosts, _ in loads.values():
            _common.wrk(urls[server], seconds=WARMUP, connections=CONNECTIONS, hosts=hosts)
        names = list(loads)
        rps: dict[str, list[float]] = {name: [] for name in names}
        for round_no in range(ROUNDS):
            # Rotated each round so that no load always runs first or last.
            for name in names[round_no % len(names) :] + names[: round_no % len(names)]:
                server, hosts, _ = loads[name]
                figure = _common.wrk(
                    urls[server], seconds=DURATION, connections=CONNECTIONS, hosts=hosts
                )
                rps[name].append(figure)
                print(
                    f"round {round_no + 1}: {name:<12} {figure:8.0f} req/s  ({len(hosts)} host(s))"
                )
    return rps


if __name__ == "__main__":
    main()
