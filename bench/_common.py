"""Shared helpers of the benchmarks (files starting with ``_`` are not benchmarks).

Each benchmark works in a database of its own (``bench_<name>``, dropped and
recreated at start) on the local PostgreSQL, and in Redis db 10 by default,
never in the development database ``atrium`` or Redis db 0. Import this module
before Django: ``use_environment()`` sets the environment, then ``setup()``
starts Django.
"""

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
for _path in (str(ROOT), str(ROOT / "platform"), str(BENCH)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

# One free_port for benches and tests; imported after the path setup above.
from uploads.clamd_process import free_port  # noqa: E402

BENCH_REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "10"))
# A hash made once with Django's default hasher stands for the owner's password.
BENCH_PASSWORD = "Bench-password-not-secret-42"


def wait_port(port: int, process, what: str, timeout: float = 60) -> None:
    """Wait until ``process`` listens on ``port`` (loopback); fail if it exits first."""
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited early")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not start")


def start_moto(port: int, env: dict, procs: list):
    """moto's S3 server on loopback ``port`` (appended to ``procs``), once it listens."""
    import subprocess

    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    procs.append(moto)
    wait_port(port, moto, "moto")
    return moto


def stop_processes(procs: list, timeout: float = 20) -> None:
    """Terminate ``procs`` (newest first), wait for each, kill any that hangs."""
    import subprocess

    for proc in reversed(procs):
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def gunicorn(*, workers: int, env: dict | None = None) -> Iterator[tuple[int, object]]:
    """gunicorn serving the app (``config.wsgi``, sync workers) on a free loopback port:
    yields ``(port, process)``; stopped on the way out."""
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "config.wsgi:application",
            "--workers", str(workers), "--worker-class", "sync", "--bind", f"127.0.0.1:{port}",
            "--log-level", "warning", "--chdir", str(ROOT),
        ],
        env=env,
    )  # fmt: skip
    try:
        yield port, server
    finally:
        stop_processes([server], timeout=30)


def server_url() -> str:
    """The PostgreSQL server the benchmarks use (``DATABASE_URL``'s server if set)."""
    default = f"postgres://atrium@127.0.0.1:{os.environ.get('PGPORT', '15432')}/atrium"
    return os.environ.get("DATABASE_URL", default)


def database_url(name: str) -> str:
    parts = urlsplit(server_url())
    return urlunsplit(parts._replace(path=f"/{name}"))


def redis_url() -> str:
    port = os.environ.get("REDIS_PORT", "6390")
    base = os.environ.get("REDIS_URL", f"redis://127.0.0.1:{port}/0")
    parts = urlsplit(base)
    if BENCH_REDIS_DB == 0:
        raise SystemExit("Benchmarks never use Redis db 0; set BENCH_REDIS_DB to another db.")
    return urlunsplit(parts._replace(path=f"/{BENCH_REDIS_DB}"))


def use_environment(db_name: str, settings_module: str = "config.settings.base") -> dict:
    """Point Django (and any subprocess given the returned env) at the bench's own stores."""
    if db_name in {"atrium", "postgres", "template0", "template1"}:
        raise SystemExit(f"refusing to use database {db_name!r} for a benchmark")
    env = {
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "bench",
        "AUDIT_HMAC_KEY": "bench-only-audit-key",
        "SECURE_SSL_REDIRECT": "0",
        "SITE_SCHEME": "http",
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
        "DATABASE_URL": database_url(db_name),
        "REDIS_URL": redis_url(),
        "CELERY_BROKER_URL": redis_url(),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "platform"), str(BENCH)]),
    }
    os.environ.update(env)
    return dict(os.environ)


def recreate_database(name: str) -> None:
    """Drop and create ``name`` on the server (the role needs CREATEDB)."""
    import psycopg

    drop_database(name)
    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(redis_url()).flushdb()


def setup() -> None:
    import django

    django.setup()


def migrate_public() -> None:
    from django.core.management import call_command

    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)


# -- figures ---------------------------------------------------------------------------


def percentile(values: Iterable[float], pct: float) -> float:
    """Nearest-rank percentile (``pct`` in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, round(pct / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def describe_ms(label: str, samples_s: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples_s]
    figures = {
        "n": len(ms),
        "p50": percentile(ms, 50),
        "p90": percentile(ms, 90),
        "mean": statistics.fmean(ms),
        "min": min(ms),
        "max": max(ms),
    }
    print(
        f"{label:<44} n={figures['n']:<4} p50={figures['p50']:8.2f} ms  "
        f"p90={figures['p90']:8.2f} ms  min={figures['min']:8.2f}  max={figures['max']:8.2f}"
    )
    return figures


def emit(result: dict) -> None:
    """The benchmark's machine-readable result: always the last line printed."""
    sys.stdout.flush()
    print(json.dumps(result), flush=True)


# -- fleets in bulk -----------------------------------------------------------------------


class SchemaRecipe:
    """The statements that migrating one empty schema ran, to replay into fresh ones.

    Made by migrating one spare schema with the standard (slow, always correct)
    path while recording every statement. Django's schema editor never names the
    schema (it relies on ``search_path``), so replaying the same statements
    under another schema's ``search_path`` builds the same tables, constraint
    and index names, content types, permissions and ``django_migrations`` rows.
    ``check()`` proves it on one copy by comparing catalogues before use. This
    is how the benchmarks make hundreds of schemas in seconds; it is not a
    signup path.
    """

    _SKIP = ("SET SEARCH_PATH", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")

    def __init__(self) -> None:
        from django.db import connection

        from tenants import pool

        self.statements: list[tuple[str, object]] = []

        def recorder(execute, sql, params, many, context):
            # Only what runs inside the new schema; not the pool's own bookkeeping.
            if context["connection"].schema_name != "public":
                self.statements.append((sql, params, many))
            return execute(sql, params, many, context)

        with connection.execute_wrapper(recorder):
            self.template = pool.make_spare()
        kept = []
        for sql, params, many in self.statements:
            head = sql.lstrip().upper()
            if head.startswith(self._SKIP):
                continue
            if self.template in sql or (params and self.template in repr(params)):
                # Introspection of the template's own name; read-only, not needed.
                if not head.startswith("SELECT"):
                    raise RuntimeError(f"statement names the template schema: {sql[:120]}")
                continue
            kept.append((sql, params, many))
        self.statements = kept

    def replay_into(self, schema_name: str) -> None:
        """Create ``schema_name`` and build it (call inside ``transaction.atomic()``)."""
        from django.db import connection

        from tenants import schemas

        schemas.create_schema(schema_name)
        connection.set_schema(schema_name)
        try:
            with connection.cursor() as cursor:
                for sql, params, many in self.statements:
                    if many:
                        cursor.executemany(sql, params)
                    else:
                        cursor.execute(sql, params)
        finally:
            connection.set_schema_to_public()

    def check(self) -> None:
        """Build one copy and compare its catalogue with the template's; raise if they differ."""
        from django.db import transaction

        name = f"spare_{uuid.uuid4().hex[:16]}"
        with transaction.atomic():
            self.replay_into(name)
            theirs, ours = catalogue(self.template), catalogue(name)
            transaction.set_rollback(True)
        if theirs != ours:
            raise RuntimeError("replayed schema differs from the migrated template")

    def make_spares(self, count: int) -> list[str]:
        """``count`` fresh spare schemas registered in the pool, a few per transaction."""
        from django.db import transaction

        from tenants import schemas
        from tenants.models import SpareSchema

        made: list[str] = []
        fingerprint = schemas.current_fingerprint()
        while len(made) < count:
            batch = [f"spare_{uuid.uuid4().hex[:16]}" for _ in range(min(25, count - len(made)))]
            with transaction.atomic():
                for name in batch:
                    self.replay_into(name)
                SpareSchema.objects.bulk_create(
                    SpareSchema(schema_name=name, fingerprint=fingerprint) for name in batch
                )
            made += batch
        return made


def catalogue(schema_name: str) -> dict[str, list]:
    """Tables, columns, constraints, indexes and migration rows of a schema, name-independent."""
    from django.db import connection

    from tenants import schemas

    queries = {
        "columns": "SELECT table_name, column_name, data_type, is_nullable, column_default "
        "FROM information_schema.columns WHERE table_schema = %s",
        "constraints": "SELECT conrelid::regclass::text, conname, contype, "
        "pg_get_constraintdef(c.oid) FROM pg_constraint c "
        "JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = %s",
        "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = %s",
    }
    result: dict[str, list] = {}
    with connection.cursor() as cursor:
        for key, sql in queries.items():
            cursor.execute(sql, [schema_name])
            rows = [
                tuple(str(v).replace(schema_name + ".", "").replace(schema_name, "S") for v in row)
                for row in cursor.fetchall()
            ]
            result[key] = sorted(rows)
        quoted = schemas.quote(schema_name)
        cursor.execute(f"SELECT app, name FROM {quoted}.django_migrations")
        result["migrations"] = sorted(cursor.fetchall())
        cursor.execute(f"SELECT app_label, model FROM {quoted}.django_content_type")
        result["content_types"] = sorted(cursor.fetchall())
        cursor.execute(f"SELECT count(*) FROM {quoted}.auth_permission")
        result["permissions"] = cursor.fetchall()
    return result


def password_hash_seconds(samples: int = 5) -> tuple[str, list[float]]:
    """One hash of the bench password with the configured hasher, and the time of a few."""
    from django.contrib.auth.hashers import make_password

    times = []
    encoded = ""
    for _ in range(samples):
        start = time.perf_counter()
        encoded = make_password(BENCH_PASSWORD)
        times.append(time.perf_counter() - start)
    return encoded, times


# --- Load with wrk (Debian's wrk package) -------------------------------------------

_ROTATE_HOSTS = """
local hosts = {%s}
local n = 0
request = function()
  n = n + 1
  wrk.headers["Host"] = hosts[(n %% #hosts) + 1]
  return wrk.format("GET", "/")
end
"""


def wrk(
    url: str,
    *,
    seconds: int,
    connections: int,
    hosts: list[str],
    headers: Iterable[str] = (),
    timeout_s: int | None = None,
) -> float:
    """Load ``url`` with wrk (2 threads) for ``seconds``; the requests/s. One host goes
    in the ``Host`` header; several take turns, request by request (a Lua script, which
    requests ``/`` of ``url``). Non-2xx answers or socket errors end the benchmark."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s"]
    if timeout_s is not None:
        command += ["--timeout", f"{timeout_s}s"]
    for header in headers:
        command += ["-H", header]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        if len(hosts) == 1:
            command += ["-H", f"Host: {hosts[0]}"]
        else:
            script.write(_ROTATE_HOSTS % ", ".join(f'"{h}"' for h in hosts))
            script.flush()
            command += ["-s", script.name]
        result = subprocess.run(
            [*command, url], capture_output=True, text=True, timeout=seconds + 30, check=True
        )
    if "Non-2xx" in result.stdout or "Socket errors" in result.stdout:
        raise SystemExit(f"wrk saw errors:\n{result.stdout}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    if not match:
        raise SystemExit(f"could not read wrk's output:\n{result.stdout}")
    return float(match.group(1))


def wait_until_serving(url: str, headers: dict[str, str], answered, timeout: float = 60) -> None:
    """Poll ``url`` (loopback) until it answers; ``answered(status, body)`` says whether
    the answer is the expected one (else the benchmark ends)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            # Loopback http only: callers build the url from 127.0.0.1 and a free port.
            request = urllib.request.Request(url, headers=headers)  # noqa: S310
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                status, body = response.status, response.read()
            if not answered(status, body):
                raise SystemExit(f"unexpected answer from {url}: {status} {body[:200]!r}")
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
