"""Benchmark: Atrium on a 3-node Citus cluster against single PostgreSQL, same machine, same run.

For each target (the local PostgreSQL, then the Citus coordinator of ``make citus-up``)
a fresh database gets a fleet of ``BENCH_FLEET`` (200) tenants, each schema carrying
the throwaway tenant app of ``migrations.py``, and this is timed:

1. signup p50: ``create_workspace`` through the spare pool, as in ``provisioning.py``;
2. fleet migrations: ``manage.py migrate_schemas`` in a new process, no-op and one new
   column, as in ``migrations.py``;
3. Citus only: ``tenant_move`` of one tenant to the other worker, ``BENCH_MOVES`` (5)
   times, while a client on its own connection inserts a row into that tenant and reads
   it back in a loop. The write pause is the longest time one of those round trips took
   during a move (the client's normal round trip is printed beside it). After each move
   every row the client wrote must be there.

Each target runs in a process of its own (Django binds one database per process).
Run: ``make bench B=citus`` (starts the cluster as ``make citus-up`` does, and stops it
at the end if it was not running before). Env: ``BENCH_FLEET``,
``BENCH_SAMPLES`` (signups, default 30), ``BENCH_MOVES``, ``CITUS_PORT``. Last line:
one JSON object.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import _common

DB_NAME = "bench_citus"
FLEET = int(os.environ.get("BENCH_FLEET", "200"))
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "30"))
MOVES = int(os.environ.get("BENCH_MOVES", "5"))
CITUS = [str(_common.ROOT / "deploy/local/citus.sh")]


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--target":
        return measure(sys.argv[2])
    already_up = _coordinator_listens()
    subprocess.run([*CITUS, "up"], check=True)
    results = {}
    try:
        for target in ("single", "citus"):
            print(f"== {target}", flush=True)
            done = subprocess.run(
                [sys.executable, __file__, "--target", target],
                stdout=subprocess.PIPE, text=True, timeout=3600, check=False,
            )  # fmt: skip
            print(done.stdout.rsplit("\n", 2)[0], flush=True)
            if done.returncode:
                raise SystemExit(f"the {target} run failed")
            results[target] = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        if not already_up:  # a cluster the bench started, it stops, even after a failure
            subprocess.run([*CITUS, "down"], check=False)
    single, citus = results["single"], results["citus"]
    print()
    signup_ratio = citus["signup_p50_ms"] / single["signup_p50_ms"]
    noop_ratio = citus["migrate_noop_s"] / single["migrate_noop_s"]
    column_ratio = citus["migrate_one_column_s"] / single["migrate_one_column_s"]
    print(f"target signup p50 citus/single <= 2x:  {signup_ratio:.2f}x  {_met(signup_ratio <= 2)}")
    print(f"target no-op migration <= 3x:          {noop_ratio:.2f}x  {_met(noop_ratio <= 3)}")
    print(f"target one-column migration <= 3x:     {column_ratio:.2f}x  {_met(column_ratio <= 3)}")
    _common.emit(
        {
            "signup_p50_ms_citus": citus["signup_p50_ms"],
            "signup_p50_ms_single": single["signup_p50_ms"],
            "migrate_noop_s_citus": citus["migrate_noop_s"],
            "migrate_noop_s_single": single["migrate_noop_s"],
            "migrate_one_column_s_citus": citus["migrate_one_column_s"],
            "migrate_one_column_s_single": single["migrate_one_column_s"],
            "move_s": citus["move_s"],
            "move_write_pause_ms": citus["move_write_pause_ms"],
            "tenants": citus["tenants"],
        }
    )


def _coordinator_listens() -> bool:
    port = int(os.environ.get("CITUS_PORT", "15460"))
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def measure(target: str) -> None:
    if target == "citus":
        url = subprocess.run([*CITUS, "url", DB_NAME], capture_output=True, text=True, check=True)
        os.environ["DATABASE_URL"] = url.stdout.strip()
    with tempfile.TemporaryDirectory(prefix="bench-citus-") as tmp:
        import migrations as fleet_bench  # bench/migrations.py: its app and its checks

        package = Path(tmp) / "benchfleet_migrations"
        package.mkdir()
        (package / "__init__.py").write_text("")
        (package / "0001_initial.py").write_text(fleet_bench.INITIAL)
        os.environ["BENCH_MIGRATIONS_DIR"] = tmp
        env = _common.use_environment(DB_NAME, "_site.settings_fleet")
        if target == "citus":
            subprocess.run([*CITUS, "createdb", DB_NAME], check=True, stdout=subprocess.DEVNULL)
        else:
            _common.recreate_database(DB_NAME)
        _common.flush_redis()
        _common.setup()
        result = run(target, env, package, fleet_bench)
    if os.environ.get("BENCH_KEEP_DB"):
        pass
    elif target == "single":
        _common.drop_database(DB_NAME)
    else:
        subprocess.run([*CITUS, "dropdb", DB_NAME], check=True)
    _common.emit(result)


def run(target: str, env: dict, package: Path, fleet_bench) -> dict:
    from django.db import connection, connections, transaction

    from core.principal import SYSTEM
    from signup.services import workspace_create as create_workspace
    from tenants.models import SpareSchema, Tenant

    _common.migrate_public()
    start = time.perf_counter()
    recipe = _common.SchemaRecipe()
    recipe.check()
    recipe.make_spares(FLEET + SAMPLES + 12)
    password_hash, _ = _common.password_hash_seconds(1)
    counter = iter(range(1_000_000))

    def signup() -> float:
        n = next(counter)
        began = time.perf_counter()
        made = create_workspace(
            actor=SYSTEM,
            name=f"Fleet {n}", slug=f"f{n:05d}", owner_email=f"owner{n}@fleet.test",
            owner_name="Owner", owner_password_hash=password_hash,
        )  # fmt: skip
        assert made.path == "pool", made.path
        return time.perf_counter() - began

    for _ in range(FLEET):
        signup()
    print(f"fleet of {Tenant.objects.count()} tenants made in {time.perf_counter() - start:.1f} s")
    for _ in range(10):  # warm-up, rolled back: the spares return to the pool
        with transaction.atomic():
            signup()
            transaction.set_rollback(True)
    signups = _common.describe_ms(f"signup ({target})", [signup() for _ in range(SAMPLES)])
    tenants = list(Tenant.objects.values_list("schema_name", flat=True))
    spares = list(SpareSchema.objects.values_list("schema_name", flat=True))
    connections.close_all()

    noop_s, out = fleet_bench.migrate(env)
    assert "0 schema(s) migrated" in out, out
    print(f"migrate_schemas no-op ({target}):       {noop_s:7.2f} s")
    (package / f"{fleet_bench.NEW_MIGRATION}.py").write_text(fleet_bench.ONE_COLUMN)
    one_s, out = fleet_bench.migrate(env)
    fleet_bench.check(connection, tenants + spares)
    print(f"migrate_schemas one column ({target}):  {one_s:7.2f} s")

    result = {
        "signup_p50_ms": round(signups["p50"], 2),
        "migrate_noop_s": round(noop_s, 2),
        "migrate_one_column_s": round(one_s, 2),
        "tenants": len(tenants),
    }
    if target == "citus":
        result.update(moves(Tenant.objects.get(slug="f00000")))
    connections.close_all()
    return result


def moves(tenant) -> dict:
    """Move ``tenant`` back and forth under a writing client; the move times and pauses."""
    import psycopg
    from django.conf import settings

    from core.principal import SYSTEM
    from tenants import citus

    db = settings.DATABASES["default"]
    dsn = f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    move_s, pauses, normal = [], [], []
    for n in range(MOVES):
        stop = threading.Event()
        rounds: list[tuple[float, float, str]] = []  # (start, seconds, key)

        def client(n=n, stop=stop, rounds=rounds) -> None:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f"SET search_path TO {tenant.schema_name}")
                for i in range(200_000):
                    if stop.is_set():
                        return
                    key = f"bench{n}-{i}"
                    began = time.perf_counter()
                    conn.execute("INSERT INTO benchfleet_note (title) VALUES (%s)", [key])
                    conn.execute("SELECT 1 FROM benchfleet_note WHERE title = %s", [key])
                    rounds.append((began, time.perf_counter() - began, key))

        writer = threading.Thread(target=client, daemon=True)
        writer.start()
        time.sleep(1.0)
        began = time.perf_counter()
        moved = citus.tenant_move(actor=SYSTEM, tenant=tenant)
        ended = time.perf_counter()
        time.sleep(0.5)
        stop.set()
        writer.join(timeout=60)
        move_s.append(moved.seconds)
        during = [s for start, s, _ in rounds if began <= start <= ended]
        before = [s for start, s, _ in rounds if start < began]
        pauses.append(max(during) if during else float("nan"))
        normal += before
        written = {key for _, _, key in rounds}
        with psycopg.connect(dsn) as conn:
            stored = {
                row[0]
                for row in conn.execute(
                    f"SELECT title FROM {tenant.schema_name}.benchfleet_note WHERE title LIKE %s",
                    [f"bench{n}-%"],
                )
            }
        lost = len(written - stored)
        print(
            f"move {n + 1}: {moved.source} -> {moved.target} in {moved.seconds:.2f} s; "
            f"{len(during)} writes during it, longest {pauses[-1] * 1000:.0f} ms; lost {lost}"
        )
        if lost:
            raise SystemExit(f"{lost} rows written during the move are missing")
    moves_fig = _common.describe_ms("tenant move", move_s)
    pause_fig = _common.describe_ms("longest write round trip during a move", pauses)
    _common.describe_ms("write round trip, no move", normal)
    return {
        "move_s": round(moves_fig["p50"] / 1000, 2),
        "move_write_pause_ms": round(pause_fig["p50"], 1),
    }


def _met(ok: bool) -> str:
    return "met" if ok else "NOT MET"


if __name__ == "__main__":
    main()
